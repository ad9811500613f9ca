//! The Connect window served by `run`, over plain HTTP: `open` hands the browser a one-time
//! sign-in link, nothing works without the session it starts, requests for another host name
//! or from another origin are refused, and the API and its live stream show the plugins.
//! (The API of each tab is tested in `window_api.rs`, the page in a real browser in
//! `window_browser.rs`.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::kit::{wait_for_record, Running, Sandbox};
use serde_json::{json, Value};

/// An answer: status, headers (lower-case names), body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request to `address` (`127.0.0.1:PORT`), `Host` given or the address itself.
pub(crate) fn request(address: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    request_with(address, method, path, headers, b"")
}

/// As [`request`], with a JSON `body` (for a POST).
pub(crate) fn request_with(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut text = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        text.push_str(&format!("Host: {address}\r\n"));
    }
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if method == "POST" {
        text.push_str(&format!("Content-Length: {}\r\n", body.len()));
        if !body.is_empty() {
            text.push_str("Content-Type: application/json\r\n");
        }
    }
    text.push_str("\r\n");
    stream.write_all(text.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

/// A host running with a good and a broken Rhai plugin, and its window's address.
pub(crate) fn host_with_window(s: &Sandbox) -> (Running, String) {
    host_with_window_env(s, &[])
}

/// As [`host_with_window`], with `env` set for the host.
pub(crate) fn host_with_window_env(s: &Sandbox, env: &[(&str, &str)]) -> (Running, String) {
    s.hook(
        "good-1.0.0",
        "good.rhai",
        r#"fn register(session) {
            session.event_hub.subscribe("topic=window.test", |event| #{ ok: true });
        }"#,
    );
    s.hook(
        "broken",
        "broken.rhai",
        "fn register(session) { let x = ; }",
    );
    let mut host = Running::start_with(s, &["run"], env);
    let line = host.wait_for("window on http://");
    let address = line
        .split("window on http://")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let endpoint: Value = crate::kit::eventually("endpoint.json", || {
        let text = std::fs::read_to_string(s.user_data_dir().join("endpoint.json")).ok()?;
        serde_json::from_str(&text).ok()
    });
    assert_eq!(
        endpoint["window"], address,
        "endpoint.json names the window"
    );
    (host, address)
}

/// `ftrack-connect open` with a fake browser: the link it was given.
fn open_link(s: &Sandbox) -> String {
    let browser = s.fake_program(&format!("browser-{}", uuid_like()));
    let run = s
        .command()
        .arg("open")
        .env("BROWSER", format!("{} --new-window %s", browser.display()))
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let record = wait_for_record(&browser);
    assert_eq!(record.args[0], "--new-window");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        !stderr.contains(&record.args[1]),
        "the link is not logged: {stderr}"
    );
    record.args[1].clone()
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[cfg(unix)]
#[test]
fn the_window_opens_signed_in_once_and_refuses_everyone_else() {
    let s = Sandbox::new();
    let (host, address) = host_with_window(&s);

    // Nothing without a session: the API, the page.
    assert_eq!(request(&address, "GET", "/api/plugins", &[]).status, 401);
    assert_eq!(request(&address, "GET", "/api/status", &[]).status, 401);
    let page = request(&address, "GET", "/", &[]);
    assert_eq!(page.status, 401);
    assert!(page.body.contains("ftrack-connect open"), "{}", page.body);
    let made_up = request(&address, "GET", "/signin/0123456789abcdef", &[]);
    assert_eq!(made_up.status, 403);
    assert!(made_up.header("set-cookie").is_none());

    // The link works once, for this host's name only.
    let link = open_link(&s);
    let path = link
        .strip_prefix(&format!("http://{address}"))
        .unwrap_or_else(|| panic!("{link} is not on {address}"));
    let rebound = request(&address, "GET", path, &[("Host", "evil.example:80")]);
    assert_eq!(rebound.status, 403, "another host name is refused");
    let signed_in = request(&address, "GET", path, &[]);
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(signed_in.header("location"), Some("/"));
    let cookie_header = signed_in.header("set-cookie").unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie_header.contains(attribute), "{cookie_header}");
    }
    let cookie = cookie_header.split(';').next().unwrap().to_string();
    assert_eq!(
        request(&address, "GET", path, &[]).status,
        403,
        "used twice"
    );

    // With the session: the page, and the plugins as `plugins --json` lists them.
    let with = |method: &str, path: &str, extra: &[(&str, &str)]| {
        let mut headers = vec![("Cookie", cookie.as_str())];
        headers.extend_from_slice(extra);
        request(&address, method, path, &headers)
    };
    let page = with("GET", "/", &[]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/static/app.js"));
    let policy = page.header("content-security-policy").unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert_eq!(page.header("access-control-allow-origin"), None, "no CORS");
    assert_eq!(
        page.header("x-frame-options"),
        Some("SAMEORIGIN"),
        "no other site frames it"
    );
    let listed: Value = serde_json::from_str(&with("GET", "/api/plugins", &[]).body).unwrap();
    let (cli, _) = s.plugins_json();
    let names = |plugins: &[Value]| -> Vec<(String, String)> {
        plugins
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().into(),
                    p["status"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    assert_eq!(names(listed["plugins"].as_array().unwrap()), names(&cli));
    let broken = listed["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "broken")
        .unwrap();
    assert!(
        broken["error"].as_str().unwrap().contains("broken.rhai"),
        "{broken}"
    );
    let status: Value = serde_json::from_str(&with("GET", "/api/status", &[]).body).unwrap();
    assert_eq!(status["plugins"]["failed"], 1, "{status}");
    assert_eq!(
        with("GET", "/api/plugins", &[("Host", "evil.example:1234")]).status,
        403,
        "DNS rebinding: the session is no key for another host name"
    );

    // A state-changing request needs this app's Origin.
    assert_eq!(with("POST", "/api/plugins/reload", &[]).status, 403);
    let other_site = with(
        "POST",
        "/api/plugins/reload",
        &[("Origin", "http://evil.example")],
    );
    assert_eq!(other_site.status, 403);
    assert_eq!(other_site.header("access-control-allow-origin"), None);
    let origin = format!("http://{address}");
    let ours = [("Origin", origin.as_str())];

    // Live: the plugins as they are, then as they change after a reload.
    let mut live = TcpStream::connect(&address).unwrap();
    live.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        live,
        "GET /api/live HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\n\r\n"
    )
    .unwrap();
    let mut live = BufReader::new(live);
    let mut next_event = |name: &str| -> Value {
        loop {
            let mut line = String::new();
            assert!(live.read_line(&mut line).unwrap() > 0, "the stream ended");
            if line.trim() == format!("event: {name}") {
                let mut data = String::new();
                live.read_line(&mut data).unwrap();
                return serde_json::from_str(data.trim().strip_prefix("data:").unwrap().trim())
                    .unwrap();
            }
        }
    };
    assert_eq!(
        next_event("status")["plugins"]["loaded"],
        status["plugins"]["loaded"]
    );
    assert!(next_event("plugins")["plugins"].as_array().unwrap().len() >= 2);
    s.hook(
        "added",
        "added.rhai",
        r#"fn register(session) { session.event_hub.subscribe("topic=x", |e| 1); }"#,
    );
    let reloaded = with("POST", "/api/plugins/reload", &ours);
    assert_eq!(reloaded.status, 200, "{}", reloaded.body);
    assert!(reloaded.body.contains("\"added\""), "{}", reloaded.body);
    let changed = next_event("plugins");
    assert!(
        changed["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "added" && p["status"] == "loaded"),
        "{changed}"
    );
    // The resident host tracks its plugins' files: those that did not change stay loaded as
    // they were.
    let unchanged: Vec<_> = changed["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] != "added" && p["status"] == "loaded")
        .collect();
    assert!(!unchanged.is_empty(), "{changed}");
    assert!(unchanged.iter().all(|p| p["reloads"] == 0), "{changed}");

    // Signed out: the session is gone.
    assert_eq!(with("POST", "/api/signout", &ours).status, 204);
    assert_eq!(with("GET", "/api/plugins", &[]).status, 401);

    // `open --print` prints a fresh link, which works.
    let printed = s.capture(&["open", "--print"]).success();
    let fresh = printed.stdout.trim().to_string();
    assert_ne!(fresh, link);
    let path = fresh.strip_prefix(&format!("http://{address}")).unwrap();
    assert_eq!(request(&address, "GET", path, &[]).status, 303);
    host.signal(libc::SIGTERM);
    let (_, log) = host.finish();
    let code = link.rsplit('/').next().unwrap();
    assert!(!log.contains(code), "the link is not logged");
    assert!(log.contains("signed in with a link"), "{log}");
}

#[cfg(unix)]
#[test]
fn open_without_a_browser_prints_the_link_and_without_a_host_says_so() {
    let s = Sandbox::new();
    let missing = s.capture(&["open"]);
    assert_eq!(missing.code, Some(1));
    assert!(
        missing.stderr.contains("ftrack-connect run"),
        "{}",
        missing.stderr
    );
    let (host, address) = host_with_window(&s);
    let run = s
        .command()
        .arg("open")
        .env("BROWSER", "false")
        .env("PATH", s.path().join("no-such-folder"))
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let link = String::from_utf8(run.stdout).unwrap().trim().to_string();
    assert!(
        link.starts_with(&format!("http://{address}/signin/")),
        "{link}"
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("open the link above"), "{stderr}");
    host.signal(libc::SIGTERM);
    host.finish();
}

/// Follows a fresh sign-in link of the host at `address`; the session cookie (`name=value`).
pub(crate) fn signed_in(s: &Sandbox, address: &str) -> String {
    let link = s.capture(&["open", "--print"]).success().stdout;
    let path = link
        .trim()
        .strip_prefix(&format!("http://{address}"))
        .unwrap()
        .to_string();
    let answer = request(address, "GET", &path, &[]);
    assert_eq!(answer.status, 303);
    answer
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

#[cfg(unix)]
#[test]
fn the_window_signs_the_host_in_to_a_server_and_out_again() {
    use crate::server_api::RunningServer;
    let s = Sandbox::new();
    let studio = RunningServer::start(&s, &s.path().join("studio-server"), None);
    let (mut host, address) = host_with_window(&s);
    let cookie = signed_in(&s, &address);
    let origin = format!("http://{address}");
    let session = [("Cookie", cookie.as_str()), ("Origin", origin.as_str())];
    let post = |path: &str, body: Value| -> (u16, Value) {
        let answer = request_with(
            &address,
            "POST",
            path,
            &session,
            body.to_string().as_bytes(),
        );
        (
            answer.status,
            serde_json::from_str(&answer.body).unwrap_or(Value::Null),
        )
    };
    let status_with = |cookie: &str| -> Value {
        serde_json::from_str(&request(&address, "GET", "/api/status", &[("Cookie", cookie)]).body)
            .unwrap()
    };
    assert_eq!(status_with(&cookie)["server"]["sign_in"], "local server");

    // A wrong key is refused, and nothing changes.
    let (code, refused) = post(
        "/api/server/signin",
        json!({"server": studio.url, "api_user": "alice", "api_key": "wrong"}),
    );
    assert_eq!(code, 400, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("failed"),
        "{refused}"
    );

    // The right one: kept, and the host restarts linked to that server, the window on the
    // same address, and the page's link back in works once.
    let (code, signed) = post(
        "/api/server/signin",
        json!({"server": studio.url, "api_user": "alice", "api_key": studio.key}),
    );
    assert_eq!(code, 200, "{signed}");
    assert_eq!(signed["restarting"], true);
    host.wait_for("restarting for the new sign-in");
    // The port was never free for anyone else to take: the socket itself was kept.
    host.wait_for("the socket was kept across the restart");
    host.wait_for(&format!("window on http://{address}/"));
    let reopen = signed["reopen"].as_str().unwrap();
    let back = request(&address, "GET", reopen, &[]);
    assert_eq!(back.status, 303, "{}", back.body);
    let cookie = back
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let status = crate::kit::eventually("linked to the studio's server", || {
        let status = status_with(&cookie);
        (status["server"]["event_hub"] == "connected").then_some(status)
    });
    assert_eq!(status["server"]["url"], json!(studio.url));
    assert_eq!(status["server"]["sign_in"], "credentials.json");
    let stored = std::fs::read_to_string(s.user_data_dir().join("credentials.json")).unwrap();
    assert!(stored.contains(&studio.url), "kept as `login` keeps it");
    assert_eq!(
        request(&address, "GET", reopen, &[]).status,
        403,
        "the link works once"
    );

    // The server's own sign-in page: its address, and a return that was never asked for.
    let origin = format!("http://{address}");
    let session = [("Cookie", cookie.as_str()), ("Origin", origin.as_str())];
    let asked = json!({"server": studio.url}).to_string();
    let browser = request_with(
        &address,
        "POST",
        "/api/server/browser",
        &session,
        asked.as_bytes(),
    );
    let url: Value = serde_json::from_str(&browser.body).unwrap();
    let url = url["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/user/api_credentials?identifier=", studio.url)),
        "{url}"
    );
    assert!(url.contains("redirect_url=http%3A%2F%2F127.0.0.1"), "{url}");
    let forged = request(
        &address,
        "GET",
        "/server-signin/0123?api_user=mallory&api_key=x",
        &[],
    );
    assert_eq!(forged.status, 403);

    // Signed out: back on the local server.
    let out = request_with(&address, "POST", "/api/server/signout", &session, b"");
    assert_eq!(out.status, 200, "{}", out.body);
    let reopen: Value = serde_json::from_str(&out.body).unwrap();
    host.wait_for("restarting for the new sign-in");
    host.wait_for(&format!("window on http://{address}/"));
    let back = request(&address, "GET", reopen["reopen"].as_str().unwrap(), &[]);
    let cookie = back
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(status_with(&cookie)["server"]["sign_in"], "local server");
    assert!(
        !s.user_data_dir().join("credentials.json").exists()
            || !std::fs::read_to_string(s.user_data_dir().join("credentials.json"))
                .unwrap()
                .contains(&studio.url)
    );
    host.signal(libc::SIGTERM);
    host.finish();
}
