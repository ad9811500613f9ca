//! The local server's event hub and browser sign-in, through the real binary: ftrack's Python
//! client (`tests/python/hub_acceptance.py`) exchanges events through the hub, and the
//! sign-in page is driven over plain HTTP as a browser would.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::kit::Sandbox;
use crate::server_api::{passed, RunningServer};

/// A plain HTTP/1.1 exchange with the server: (status, headers and body as text).
pub(crate) fn http(server: &RunningServer, request: &str) -> (u16, String) {
    let address = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

pub(crate) fn get(server: &RunningServer, path: &str) -> (u16, String) {
    http(
        server,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
}

pub(crate) fn post_form(
    server: &RunningServer,
    path: &str,
    origin: Option<&str>,
    body: &str,
) -> (u16, String) {
    let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
    http(
        server,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\n{origin}Content-Type: \
             application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: \
             close\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// `name="token" value="..."` from the sign-in page.
pub(crate) fn token(page: &str) -> String {
    let after = page
        .split("name=\"token\" value=\"")
        .nth(1)
        .expect("a token");
    after.split('"').next().unwrap().to_string()
}

#[test]
fn browser_sign_in_hands_a_loopback_redirect_a_new_key_and_nothing_else() {
    let s = Sandbox::new();
    let server = RunningServer::start(&s, &s.path().join("server"), None);
    let page = "/user/api_credentials?identifier=ftrack-connect-alice%40box&redirect_url=http%3A%2F%2Flocalhost%3A51234%2F";
    let (status, html) = get(&server, page);
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("ftrack-connect-alice@box"), "{html}");

    // Not from the server's own page: refused.
    let form = format!("token={}&username=alice", token(&html));
    let (status, _) = post_form(
        &server,
        "/user/api_credentials",
        Some("http://evil.example"),
        &form,
    );
    assert_eq!(status, 403);
    let (status, _) = post_form(&server, "/user/api_credentials", None, &form);
    assert_eq!(status, 403);

    // From it: a redirect to the client with the user and a new key that works.
    let (_, html) = get(&server, page);
    let form = format!("token={}&username=alice", token(&html));
    let (status, response) = post_form(&server, "/user/api_credentials", Some(&server.url), &form);
    assert_eq!(status, 303, "{response}");
    let location = response
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .expect("a location");
    assert!(
        location.starts_with("http://localhost:51234/?api_user=alice&api_key="),
        "{location}"
    );
    let key = location.rsplit('=').next().unwrap().trim();
    assert_ne!(key, server.key, "a new key");
    let body = r#"[{"action":"query_server_information"}]"#;
    let check = format!(
        "POST /api HTTP/1.1\r\nHost: x\r\nftrack-user: alice\r\nftrack-api-key: {key}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (_, answer) = http(&server, &check);
    assert!(
        answer.contains("schema_hash"),
        "the new key works: {answer}"
    );
    // A token is good once.
    let (status, _) = post_form(&server, "/user/api_credentials", Some(&server.url), &form);
    assert_eq!(status, 403);

    // Keys go to loopback addresses only.
    for elsewhere in [
        "http%3A%2F%2Fexample.com%2F",
        "https%3A%2F%2Flocalhost%3A1%2F",
        "http%3A%2F%2Flocalhost%40evil.com%2F",
    ] {
        let (status, _) = get(
            &server,
            &format!("/user/api_credentials?identifier=x&redirect_url={elsewhere}"),
        );
        assert_eq!(status, 400, "{elsewhere}");
    }
}

#[test]
fn status_shows_the_hub_to_signed_in_users_only() {
    let s = Sandbox::new();
    let server = RunningServer::start(&s, &s.path().join("server"), None);
    let (status, _) = get(&server, "/status");
    assert_eq!(status, 401);
    let (status, body) = get(
        &server,
        &format!("/status?api_user=alice&api_key={}", server.key),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"connections\":0"), "{body}");
}

/// Runs a step of the hub acceptance script with alice and a second user, bob: its output
/// and the server's log.
fn hub_step_logged(step: &[&str]) -> (String, Vec<String>) {
    let s = Sandbox::new();
    let server = RunningServer::start(&s, &s.path().join("server"), None);
    let bob = server.add_user(&s, "bob");
    let run = server.script(
        &s,
        "hub_acceptance.py",
        step,
        &[("FTRACK_OTHER_USER", "bob"), ("FTRACK_OTHER_KEY", &bob)],
    );
    let stdout = passed(step[0], run).stdout;
    (stdout, server.log())
}

fn hub_step(step: &[&str]) -> String {
    hub_step_logged(step).0
}

#[test]
fn two_sessions_exchange_events_and_replies_and_targets_hold() {
    hub_step(&["exchange"]);
}

#[test]
fn two_hundred_events_in_a_row_arrive_once_each_in_order() {
    hub_step(&["order"]);
}

#[test]
fn subscriptions_on_data_and_on_the_publishing_user_route_right() {
    let out = hub_step(&["routing"]);
    assert!(
        out.contains("the publisher's own connection received its own matching event once"),
        "{out}"
    );
}

#[test]
fn the_clients_own_duplicate_subscribes_are_accepted_quietly() {
    hub_step(&["duplicates"]);
}

#[test]
fn malformed_oversized_and_unread_connections_disturb_no_one() {
    let (out, log) = hub_step_logged(&["robustness"]);
    assert!(
        out.contains("the 20 MiB message: the server closed that connection"),
        "over the 8 MiB limit, the connection is closed: {out}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("WARN") && l.contains("over the 8 MiB limit")),
        "the oversized message is logged as a warning:\n{}",
        log.join("\n")
    );
}

#[test]
fn a_connection_idle_past_the_clients_timeout_still_answers() {
    hub_step(&["idle", "70"]);
}

#[test]
fn a_handshake_by_query_parameters_connects_and_a_wrong_key_is_refused() {
    hub_step(&["handshake"]);
}

#[test]
fn status_counts_subscribers_and_routed_events_and_shows_a_stalled_queue() {
    let out = hub_step(&["status"]);
    assert!(
        out.contains("the non-reading connection's queue shows"),
        "{out}"
    );
}
