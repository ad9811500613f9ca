//! The resident host (`ftrack-connect run`): the start-up lifecycle, the single-instance lock,
//! clean shutdown on SIGTERM and Ctrl-C, the log file, and the host's own answers.

use std::time::{Duration, Instant};

use crate::kit::{Captured, Running, Sandbox};
use serde_json::json;

const LIFECYCLE_HOOK: &str = r#"
fn register(session) {
    let hub = session.event_hub;
    hub.subscribe("topic=ftrack.api.session.configure-location", |e| { print(`step configure-location ${e.data.session.api_user}`); });
    hub.subscribe("topic=ftrack.api.session.ready", |e| { print("step ready"); });
    hub.subscribe("topic=ftrack.connect.verify-startup", |e| { print("step verify"); "studio share is not mounted" });
    hub.subscribe("topic=ftrack.connect.verify-startup", |e| ());
}
"#;

#[cfg(unix)]
#[test]
fn lifecycle_then_clean_shutdown_on_sigterm() {
    let s = Sandbox::new();
    s.hook("life", "life.rhai", LIFECYCLE_HOOK);
    let mut host = Running::start(&s, &["run"]);
    // Nobody signed in: the host serves the local server, so the default start-up check
    // finds a server and says nothing.
    host.wait_for("nobody signed in: serving the local ftrack server at http://127.0.0.1:");
    host.wait_for("step configure-location alice");
    host.wait_for("step ready");
    host.wait_for("step verify");
    let warning = host.wait_for("studio share is not mounted");
    assert!(warning.contains("WARN"), "{warning}");
    host.wait_for("is running");
    let lock = s.user_data_dir().join("ftrack-connect.lock");
    assert!(lock.exists());

    host.signal(libc::SIGTERM);
    let (code, stderr) = host.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("terminated: shutting down"), "{stderr}");
    assert!(!lock.exists(), "lock file removed on shutdown");
    let log = std::fs::read_to_string(s.user_data_dir().join("log/ftrack_connect.log")).unwrap();
    assert!(log.contains("studio share is not mounted"), "{log}");
    assert!(!log.contains("No ftrack server is configured"), "{log}");
}

#[cfg(unix)]
#[test]
fn second_instance_is_refused_unless_allowed() {
    let s = Sandbox::new();
    let mut first = Running::start(&s, &["run"]);
    first.wait_for("is running");

    let Captured { code, stderr, .. } = s.capture(&["run"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--allow-multiple"), "{stderr}");
    assert!(
        stderr.contains(&first.child.id().to_string()),
        "names the running pid: {stderr}"
    );

    // No `run`: it is the default command, and takes its options without the word.
    let mut allowed = Running::start(&s, &["--allow-multiple"]);
    allowed.wait_for("is running");
    allowed.signal(libc::SIGINT);
    assert_eq!(allowed.finish().0, Some(0));

    first.signal(libc::SIGINT);
    let (code, stderr) = first.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("interrupted: shutting down"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn a_stale_lock_from_a_dead_process_does_not_block() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.user_data_dir()).unwrap();
    // A host that was killed leaves its file behind, but no process holds the lock.
    std::fs::write(s.user_data_dir().join("ftrack-connect.lock"), "4194000").unwrap();
    let mut host = Running::start(&s, &["run", "--silent"]);
    // Silent: only errors on stderr, so wait for the log file instead.
    let log = s.user_data_dir().join("log/ftrack_connect.log");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("is running")) {
        assert!(Instant::now() < deadline, "host did not start");
        assert!(host.child.try_wait().unwrap().is_none(), "host exited");
        std::thread::sleep(Duration::from_millis(100));
    }
    host.signal(libc::SIGTERM);
    let (code, stderr) = host.finish();
    assert_eq!(code, Some(0));
    assert!(
        !stderr.contains("is running"),
        "silent keeps stderr quiet: {stderr}"
    );
}

#[test]
fn host_answers_connect_discover_for_its_user_only() {
    let s = Sandbox::new();
    assert_eq!(
        s.publish("ftrack.connect.discover", "{}"),
        vec![json!(true)]
    );
    let (results, _) = s.publish_with(
        "ftrack.connect.discover",
        &["--source", r#"{"user": {"username": "bob"}}"#],
    );
    assert!(results.is_empty());
}

#[test]
fn debug_information_lists_host_and_plugins() {
    let s = Sandbox::new();
    s.hook("tools-2.0.1", "h.rhai", "fn register(session) {}");
    s.hook("broken", "h.rhai", "fn register(session) { throw \"no\"; }");
    let results = s.publish("ftrack.connect.plugin.debug-information", "{}");
    assert_eq!(results.len(), 1, "{results:?}");
    let entries = results[0].as_array().unwrap();
    assert_eq!(entries[0]["name"], "ftrack-connect");
    assert_eq!(entries[0]["core"], true);
    let tools = entries.iter().find(|e| e["name"] == "tools").unwrap();
    assert_eq!(tools["version"], "2.0.1");
    assert_eq!(tools["kind"], "rhai");
    assert_eq!(tools["status"], "loaded");
    assert!(tools["path"].as_str().unwrap().ends_with("tools-2.0.1"));
    let broken = entries.iter().find(|e| e["name"] == "broken").unwrap();
    assert_eq!(broken["status"], "failed");
}

#[test]
fn signed_in_user_comes_from_credentials_and_the_key_never_reaches_the_log() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.user_data_dir()).unwrap();
    std::fs::write(
        s.user_data_dir().join("credentials.json"),
        r#"{"accounts": [{"server_url": "https://studio.ftrackapp.com", "api_user": "jane", "api_key": "KEY-0123456789"}]}"#,
    )
    .unwrap();
    s.hook(
        "who",
        "h.rhai",
        r#"fn register(session) {
            let who = [session.api_user, session.server_url];
            session.event_hub.subscribe("topic=who", |e| who);
        }"#,
    );
    let Captured { stdout, stderr, .. } = s.capture(&["-v", "debug", "event", "publish", "who"]);
    assert_eq!(
        stdout.trim(),
        r#"[["jane","https://studio.ftrackapp.com"]]"#
    );
    let log = std::fs::read_to_string(s.user_data_dir().join("log/ftrack_connect.log")).unwrap();
    assert!(!stderr.contains("KEY-0123456789") && !log.contains("KEY-0123456789"));
}

#[test]
fn bad_cli_input_is_a_clear_error() {
    let s = Sandbox::new();
    for (args, expected) in [
        (
            vec!["event", "publish", "t", "--data", "{oops"],
            "--data is not valid JSON",
        ),
        (
            vec!["event", "publish", "t", "--data", "[1]"],
            "--data must be a JSON object",
        ),
        (
            vec!["event", "publish", "t", "--source", "1"],
            "--source must be a JSON object",
        ),
        (
            vec!["event", "publish", "t", "--target", "a=b)"],
            "--target: column 4",
        ),
    ] {
        let Captured { code, stderr, .. } = s.capture(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn without_sign_in_or_ftrack_api_user_the_user_is_the_os_account() {
    let s = Sandbox::new();
    let whoami = Captured::from(std::process::Command::new("whoami").output().unwrap());
    let os_user = whoami.stdout.trim().to_string();
    let Captured { stdout, .. } = s
        .command()
        .env_remove("FTRACK_API_USER")
        .args(["event", "publish", "ftrack.connect.discover"])
        .args([
            "--source",
            &format!(r#"{{"user": {{"username": "{os_user}"}}}}"#),
        ])
        .output()
        .unwrap()
        .into();
    assert_eq!(stdout.trim(), "[true]");
    let s2 = Sandbox::new();
    s2.hook(
        "who",
        "h.rhai",
        r#"fn register(session) { let u = session.api_user; session.event_hub.subscribe("topic=who", |e| [u, e.source.user.username]); }"#,
    );
    let Captured { stdout, .. } = s2
        .command()
        .env_remove("FTRACK_API_USER")
        .args(["event", "publish", "who"])
        .output()
        .unwrap()
        .into();
    let results: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(results, json!([[os_user, os_user]]));
}

/// Every command that loads plugins runs the session start-up first (`plugins` as much as
/// `event publish`), so a hook that subscribes on `ftrack.api.session.ready` shows those
/// subscriptions wherever the plugins are listed or asked.
#[test]
fn commands_that_load_plugins_run_the_session_start_up() {
    let s = Sandbox::new();
    s.hook(
        "ready-tools",
        "ready.rhai",
        r#"fn register(session) {
            let hub = session.event_hub;
            session.event_hub.subscribe("topic=ftrack.api.session.ready", |event| {
                hub.subscribe("topic=ready.question", |event| "ready");
            });
        }"#,
    );
    let plugin = s.plugin("ready-tools");
    assert_eq!(plugin["subscriptions"], 2, "{plugin}");
    assert_eq!(s.publish("ready.question", "{}"), vec![json!("ready")]);
}

/// The log holds hook output and event traffic: its folder and file are the user's alone,
/// and a log left readable by an older version is made so.
#[cfg(unix)]
#[test]
fn the_log_and_the_data_folder_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let s = Sandbox::new();
    let log_dir = s.user_data_dir().join("log");
    std::fs::create_dir_all(&log_dir).unwrap();
    let log = log_dir.join("ftrack_connect.log");
    std::fs::write(&log, "an older host's line\n").unwrap();
    for path in [&s.user_data_dir(), &log_dir] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
    s.capture(&["plugins"]).success();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&s.user_data_dir()), 0o700);
    assert_eq!(mode(&log_dir), 0o700);
    assert_eq!(mode(&log), 0o600);
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .starts_with("an older host's line"));
}
