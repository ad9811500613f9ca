//! `ftrack-connect login` and `logout` against the local server: a script's sign-in with the
//! key on standard input, a person's through the browser sign-in page (driven here over plain
//! HTTP as a browser would), refusals, and Connect's `credentials.json`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;

use serde_json::Value;

use crate::kit::Sandbox;
use crate::server_api::RunningServer;
use crate::server_hub::{get, post_form, token};

fn credentials(s: &Sandbox) -> Value {
    let path = s.user_data_dir().join("credentials.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_script_signs_in_with_the_key_on_stdin_and_a_wrong_key_is_not_stored() {
    let s = Sandbox::new();
    let server = RunningServer::start(&s, &s.path().join("server"), None);
    let login = |key: &str| {
        let mut child = s
            .command()
            .args(["login", &server.url, "--api-user", "alice"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{key}").unwrap();
        child.wait_with_output().unwrap()
    };
    let refused = login("not-the-key");
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("InvalidCredentialsError"), "{said}");
    assert!(
        !s.user_data_dir().join("credentials.json").exists(),
        "nothing stored"
    );

    let signed = login(&server.key);
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let stored = credentials(&s);
    assert_eq!(stored["accounts"][0]["api_user"], "alice");
    assert_eq!(stored["accounts"][0]["server_url"], server.url.as_str());
    assert!(stored["id"].is_string());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.user_data_dir().join("credentials.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Not an ftrack server: refused before any key is tried.
    let nowhere = s.capture(&["login", "http://127.0.0.1:9", "--api-user", "alice"]);
    assert_eq!(nowhere.code, Some(1));
    assert!(
        nowhere.stderr.contains("not an ftrack server"),
        "{}",
        nowhere.stderr
    );

    let out = s.capture(&["logout"]).success();
    assert!(out.stdout.contains("signed out of"), "{}", out.stdout);
    assert_eq!(credentials(&s)["accounts"], serde_json::json!([]));
}

#[test]
fn a_person_signs_in_through_the_browser_page() {
    let s = Sandbox::new();
    let server = RunningServer::start(&s, &s.path().join("server"), None);
    let mut child = s
        .command()
        .args(["login", &server.url])
        .env("PATH", "/nonexistent") // no browser opens during the test
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let page = line
        .trim()
        .strip_prefix("sign in in your browser: ")
        .unwrap_or_else(|| panic!("{line}"));
    let path = page.strip_prefix(&server.url).unwrap();
    // The browser: the page, then its confirmation, then the redirect back to the command.
    let (status, html) = get(&server, path);
    assert_eq!(status, 200, "{html}");
    let form = format!("token={}&username=alice", token(&html));
    let (status, response) = post_form(&server, "/user/api_credentials", Some(&server.url), &form);
    assert_eq!(status, 303, "{response}");
    let location = response
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap()
        .trim()
        .to_string();
    let back = location.strip_prefix("http://localhost:").unwrap();
    let (port, query) = back
        .split_once('?')
        .unwrap_or((back.trim_end_matches('/'), ""));
    let port = port.trim_end_matches('/');
    let mut browser = TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
    write!(
        browser,
        "GET /?{query} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    browser.read_to_string(&mut answer).unwrap();
    assert!(answer.contains("Signed in"), "{answer}");
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{rest}");
    assert!(rest.contains("as alice"), "{rest}");
    let stored = credentials(&s);
    assert_eq!(stored["accounts"][0]["api_user"], "alice");
    assert_ne!(
        stored["accounts"][0]["api_key"],
        server.key.as_str(),
        "a key of its own"
    );
}
