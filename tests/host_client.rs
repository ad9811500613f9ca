//! The host as an ftrack client (`run` signed in to a server), against the project's local
//! server in a process of its own, driven from the real Python client
//! (`tests/python/host_client.py`): actions asked for through the server's hub and answered by
//! the host's hooks, hooks that read and write through the API, a server killed and restarted
//! under the running host, a refused key, and the embedded local server when nobody signed in.

use std::path::Path;

use serde_json::Value;

use crate::kit::{library, Running, Sandbox};
use crate::server_api::{passed, RunningServer};

/// The studio's hooks: an action (discover and launch), and hooks that use the server's API.
const STUDIO_HOOK: &str = r#"
fn register(session) {
    let hub = session.event_hub;
    hub.subscribe("topic=ftrack.api.session.ready", |event| {
        print(`session ready: ${event.data.session.api_user} at ${event.data.session.server_url}`);
    });
    hub.subscribe("topic=ftrack.action.discover", |event| {
        let task = event.data.selection[0].entityId;
        #{ items: [#{ label: `Hello ${task}`, actionIdentifier: "studio-hello" }] }
    });
    hub.subscribe("topic=ftrack.action.launch and data.actionIdentifier=studio-hello", |event| {
        #{ success: true, message: `hello from the host to ${event.data.selection[0].entityId}` }
    });
    hub.subscribe("topic=studio.task.name", |event| {
        let found = session.query(`select name from Task where id is "${event.data.task_id}"`);
        found[0].name
    });
    hub.subscribe("topic=studio.folder.make", |event| {
        let project = session.get("Project", event.data.project_id);
        session.create("Folder", #{ name: event.data.name, parent: project });
        session.commit();
        #{ committed: true }
    });
}
"#;

fn studio(s: &Sandbox) {
    s.hook("studio-tools", "studio.rhai", STUDIO_HOOK);
    let native = s.plugins().join("server-api/hook");
    std::fs::create_dir_all(&native).unwrap();
    let lib = library("fixture-server-api");
    std::fs::copy(&lib, native.join(lib.file_name().unwrap())).unwrap();
}

fn host_signed_in(s: &Sandbox, server: &RunningServer, key: &str) -> Running {
    Running::start_with(
        s,
        &["run"],
        &[
            ("FTRACK_SERVER", &server.url),
            ("FTRACK_API_USER", "alice"),
            ("FTRACK_API_KEY", key),
        ],
    )
}

/// Waits until the host runs (its endpoint up) and its event hub is connected (which may come
/// first: the connection is made while the plugins load).
fn ready(host: &mut Running) {
    host.wait_for_any_order("is running");
    host.wait_for_any_order(": connected");
}

fn step(s: &Sandbox, server: &RunningServer, args: &[&str]) -> String {
    let run = server.script(s, "host_client.py", args, &[]);
    passed(&format!("host_client.py {}", args.join(" ")), run).stdout
}

#[cfg(unix)]
#[test]
fn python_asks_the_hosts_hooks_through_the_server_and_they_use_its_api() {
    let s = Sandbox::new();
    studio(&s);
    let data = s.path().join("server-data");
    let server = RunningServer::start(&s, &data, None);
    let key = server.key.clone();
    let mut host = host_signed_in(&s, &server, &key);
    ready(&mut host);
    // The start-up topics carry the real sign-in.
    host.wait_for_any_order(&format!("session ready: alice at {}", server.url));

    let ids: Value = serde_json::from_str(step(&s, &server, &["setup"]).trim()).unwrap();
    let (task, project) = (
        ids["task_id"].as_str().unwrap().to_string(),
        ids["project_id"].as_str().unwrap().to_string(),
    );
    step(&s, &server, &["actions", &task]);
    step(&s, &server, &["own"]);
    step(&s, &server, &["api", &task, &project]);

    let status = s.capture(&["status", "--json"]).success().stdout;
    assert!(!status.contains(&key), "the API key is in the status");
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["server"]["url"], server.url.as_str());
    assert_eq!(status["server"]["sign_in"], "environment");
    assert_eq!(status["server"]["event_hub"], "connected");

    // The server dies and comes back on the same address: the host reconnects by itself,
    // registers its subscriptions again, and answers as before.
    let server = server.restart(&s);
    host.wait_for(": connected");
    step(&s, &server, &["actions", &task]);

    host.signal(libc::SIGTERM);
    let (code, stderr) = host.finish();
    assert_eq!(code, Some(0), "{stderr}");
    let log = std::fs::read_to_string(s.user_data_dir().join("log/ftrack_connect.log")).unwrap();
    for text in [&stderr, &log] {
        assert!(!text.contains(&key), "the API key reached a log");
    }
    // Said once while the server was away, not once per attempt.
    let away = log.matches("reconnecting").count();
    assert!((1..=2).contains(&away), "{stderr}");
}

#[cfg(unix)]
#[test]
fn a_refused_key_is_said_once_and_the_host_runs_locally() {
    let s = Sandbox::new();
    studio(&s);
    let server = RunningServer::start(&s, &s.path().join("server-data"), None);
    let mut host = host_signed_in(&s, &server, "not-the-key");
    let refused = host.wait_for_any_order("refused the sign-in of alice");
    host.wait_for_any_order("is running");
    assert!(refused.contains("ftrack-connect login"), "{refused}");
    assert!(!refused.contains("not-the-key"), "{refused}");
    // Locally, the hooks still answer.
    let results = s.publish(
        "ftrack.action.discover",
        r#"{"selection": [{"entityId": "t1"}]}"#,
    );
    assert!(
        results.iter().any(|r| r["items"][0]["label"] == "Hello t1"),
        "{results:?}"
    );
    let status = s.capture(&["status"]).success().stdout;
    assert!(status.contains("sign-in refused"), "{status}");
    host.signal(libc::SIGTERM);
    assert_eq!(host.finish().0, Some(0));
}

#[cfg(unix)]
#[test]
fn nobody_signed_in_serves_the_local_server_and_scripts_reach_the_hooks_through_it() {
    use std::os::unix::fs::PermissionsExt;

    let s = Sandbox::new();
    studio(&s);
    let mut host = Running::start(&s, &["run"]);
    let line = host.wait_for("nobody signed in: serving the local ftrack server at ");
    let url = line
        .split("server at ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    ready(&mut host);
    host.wait_for_any_order(&format!("session ready: alice at {url}"));
    let status = s.capture(&["status"]).success().stdout;
    assert!(
        status.contains("the local server this host serves"),
        "{status}"
    );
    assert!(status.contains("event hub: connected"), "{status}");
    let plugins = s.capture(&["plugins"]).success().stdout;
    assert!(
        plugins.contains(&format!("server {url}: event hub connected")),
        "{plugins}"
    );
    let server_data = s.user_data_dir().join("server");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&server_data.join("host-key")), 0o600);

    // The same round trip from the command line, as the web page asks.
    let asked = s
        .capture(&[
            "event",
            "publish",
            "ftrack.action.discover",
            "--via-server",
            "--wait",
            "1",
            "--data",
            r#"{"selection": [{"entityId": "t9"}]}"#,
        ])
        .success()
        .stdout;
    let replies: Value = serde_json::from_str(&asked).unwrap();
    assert!(
        replies
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["items"][0]["label"] == "Hello t9"),
        "{asked}"
    );

    // A pipeline script on this machine, with a user of its own on the local server.
    let data = server_data.display().to_string();
    let added = s
        .capture(&["server", "user", "add", "pipeline", "--data", &data])
        .success();
    let key = added.stdout.split_whitespace().last().unwrap().to_string();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/host_client.py");
    let run = std::process::Command::new(crate::server_api::python())
        .arg(script)
        .args(["actions", "t-local"])
        .env("HOME", s.home())
        .env("FTRACK_SERVER", &url)
        .env("FTRACK_API_USER", "pipeline")
        .env("FTRACK_API_KEY", &key)
        .output()
        .unwrap();
    passed("actions through the local server", run.into());

    // The host stops its link before the server it serves: nobody sees a connection break.
    host.signal(libc::SIGTERM);
    let (code, stderr) = host.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("reconnecting"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn an_unreachable_server_is_said_once_and_the_host_runs_locally() {
    let s = Sandbox::new();
    studio(&s);
    // A port nobody listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut host = Running::start_with(
        &s,
        &["run"],
        &[
            ("FTRACK_SERVER", &url),
            ("FTRACK_API_USER", "alice"),
            ("FTRACK_API_KEY", "k"),
        ],
    );
    host.wait_for_any_order("is running");
    host.wait_for_any_order("reconnecting");
    let results = s.publish(
        "ftrack.action.discover",
        r#"{"selection": [{"entityId": "t2"}]}"#,
    );
    assert!(
        results.iter().any(|r| r["items"][0]["label"] == "Hello t2"),
        "{results:?}"
    );
    let status = s.capture(&["status"]).success().stdout;
    assert!(
        status.contains("event hub: disconnected: handshake"),
        "{status}"
    );
    // Several attempts later (0.5 s, 1 s, 2 s apart), still said once.
    std::thread::sleep(std::time::Duration::from_secs(4));
    host.signal(libc::SIGTERM);
    let (code, stderr) = host.finish();
    assert_eq!(code, Some(0), "{stderr}");
    let log = std::fs::read_to_string(s.user_data_dir().join("log/ftrack_connect.log")).unwrap();
    assert_eq!(log.matches("reconnecting").count(), 1, "{log}");
}
