//! A real native plugin (`plugins/fixture-server-api`) calling the ftrack server through its
//! session while isolated, against a fake server: the child forwards each call to the host,
//! which runs it on the plugin's session (the API key never leaves the host) and answers.
//!
//! This binary is also the plugin's child process: started as `native-host --library L
//! --copy-dir D`, as the host's binary is, it serves the plugin instead of running the tests
//! (hence no test harness: `main` below runs them).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use connect_core::{EventHub, HubIdentity, PluginTag};
use connect_event::Event;
use connect_isolate::{IsolatedLoader, IsolationOptions};
use connect_plugins::discovery::{discover, SearchPaths};
use connect_plugins::{Loader, ServerApi, SessionInfo};
use serde_json::{json, Value};

#[path = "../../native/tests/shared/mod.rs"]
mod shared;
use shared::{fixture, reads_and_a_create, FakeServer, REFUSED};

/// What the host says when it has no server.
const NO_SERVER: &str =
    "this host is not connected to an ftrack server (sign in with `ftrack-connect login`)";

/// The fixture loaded isolated as plugin `probe` into a new hub, with `api` as the host's
/// server. The hook is kept: dropping it ends the plugin's process.
struct Loaded {
    hub: Arc<EventHub>,
    _hook: Box<dyn connect_plugins::PreparedHook>,
    _dir: tempfile::TempDir,
}

fn load(api: Option<Arc<dyn ServerApi>>) -> Loaded {
    let dir = tempfile::tempdir().unwrap();
    let hook = dir.path().join("plugins/probe/hook");
    std::fs::create_dir_all(&hook).unwrap();
    std::fs::copy(fixture(), hook.join(fixture().file_name().unwrap())).unwrap();
    let found = discover(&SearchPaths {
        plugin_roots: vec![dir.path().join("plugins")],
        hook_dirs: Vec::new(),
    });
    let plugin = &found.plugins[0];
    let loader = IsolatedLoader::new(IsolationOptions {
        program: std::env::current_exe().unwrap(),
        copy_dir: dir.path().join("copies"),
        time_limit: Duration::from_secs(30),
    });
    let tag = PluginTag::new(&plugin.name);
    let prepared = loader
        .begin(plugin, &tag)
        .prepare(&plugin.hooks[0].path)
        .unwrap()
        .unwrap();
    let hub = Arc::new(EventHub::new(HubIdentity::local("alice")));
    let info = SessionInfo {
        api_user: "alice".into(),
        server_url: "https://studio.ftrackapp.com".into(),
        api,
    };
    prepared.register(&hub, &info).unwrap();
    Loaded {
        hub,
        _hook: prepared,
        _dir: dir,
    }
}

impl Loaded {
    /// What the plugin's handlers answer for `topic` with `data`.
    fn publish(&self, topic: &str, data: Value) -> Vec<Value> {
        self.hub.publish(&mut Event::new(topic).with_data(data))
    }
}

fn query_get_and_writes_reach_the_server_through_the_host() {
    let server = Arc::new(FakeServer::default());
    let plugin = load(Some(server.clone()));

    let id = reads_and_a_create(&server, &|topic, data| plugin.publish(topic, data));

    // Staged writes wait in the host for the commit, and go as one batch.
    for content in ["a", "b"] {
        let data = json!({"entity_type": "Note", "data": {"content": content}});
        plugin.publish("fixture.api.stage", data);
    }
    assert_eq!(server.batches.lock().unwrap().len(), 1);
    let committed = plugin.publish("fixture.api.commit", json!({}));
    assert_eq!(committed[0]["result"].as_array().unwrap().len(), 2);
    let deleted = plugin.publish(
        "fixture.api.delete",
        json!({"entity_type": "Note", "id": id}),
    );
    assert_eq!(deleted[0]["result"][0]["action"], "delete", "{deleted:?}");
    assert_eq!(server.batches.lock().unwrap().len(), 3);
}

fn without_a_server_the_isolated_handler_is_told_how_to_sign_in() {
    let plugin = load(None);
    for (topic, data) in [
        ("fixture.api.query", json!({"expression": "Task"})),
        ("fixture.api.commit", json!({})),
    ] {
        let answered = plugin.publish(topic, data);
        assert_eq!(
            answered,
            vec![json!({"error": format!("plugin 'probe': {NO_SERVER}")})],
            "{topic}"
        );
    }
}

fn server_errors_reach_the_isolated_handler_with_the_servers_message() {
    let server = Arc::new(FakeServer::default());
    let plugin = load(Some(server.clone()));
    let refused = plugin.publish("fixture.api.query", json!({"expression": "Nope"}));
    assert_eq!(
        refused,
        vec![json!({"error": format!("plugin 'probe': {REFUSED}")})]
    );
    let refused = plugin.publish(
        "fixture.api.create",
        json!({"entity_type": "Nope", "data": {}}),
    );
    let error = refused[0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("plugin 'probe': commit of 1 change(s) failed"),
        "{error}"
    );
    assert!(error.ends_with(REFUSED), "{error}");
}

const TESTS: &[(&str, fn())] = &[
    (
        "query_get_and_writes_reach_the_server_through_the_host",
        query_get_and_writes_reach_the_server_through_the_host,
    ),
    (
        "without_a_server_the_isolated_handler_is_told_how_to_sign_in",
        without_a_server_the_isolated_handler_is_told_how_to_sign_in,
    ),
    (
        "server_errors_reach_the_isolated_handler_with_the_servers_message",
        server_errors_reach_the_isolated_handler_with_the_servers_message,
    ),
];

/// The child (`native-host --library L --copy-dir D`), or the tests: those whose name
/// contains the first argument that is not an option (all without one); `--list` lists them.
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("native-host") {
        let value = |name: &str| {
            let at = args.iter().position(|a| a == name).expect(name);
            PathBuf::from(&args[at + 1])
        };
        return ExitCode::from(connect_isolate::serve(
            &value("--library"),
            &value("--copy-dir"),
        ));
    }
    // libtest's options that take a value, which is then no filter.
    const WITH_VALUE: &[&str] = &[
        "--test-threads",
        "--skip",
        "--logfile",
        "--color",
        "--format",
    ];
    let filter = args
        .iter()
        .enumerate()
        .find(|(at, a)| {
            !a.starts_with('-') && (*at == 0 || !WITH_VALUE.contains(&args[at - 1].as_str()))
        })
        .map(|(_, a)| a);
    let chosen: Vec<_> = TESTS
        .iter()
        .filter(|(name, _)| filter.is_none_or(|f| name.contains(f.as_str())))
        .collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in &chosen {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    println!("\nrunning {} tests", chosen.len());
    let mut failed = Vec::new();
    for (name, test) in &chosen {
        let outcome = std::panic::catch_unwind(test);
        println!(
            "test {name} ... {}",
            if outcome.is_ok() { "ok" } else { "FAILED" }
        );
        if outcome.is_err() {
            failed.push(*name);
        }
    }
    let passed = chosen.len() - failed.len();
    println!(
        "\ntest result: {}. {passed} passed; {} failed\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        failed.len()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
