//! Native plugins through the real binary: the example plugins and the fixtures are built
//! (once per run, into their own target folder), copied into real plugin folders next to Rhai
//! hooks, and the host is driven with `event publish` and `plugins --json`.

use std::path::PathBuf;

use crate::kit::{library, Captured, Sandbox};
use serde_json::{json, Value};

/// Copies crate `name`'s library into `plugins/<folder>/hook/`.
pub(crate) fn install(s: &Sandbox, folder: &str, name: &str) -> PathBuf {
    let hook = s.plugins().join(folder).join("hook");
    std::fs::create_dir_all(&hook).unwrap();
    let to = hook.join(library(name).file_name().unwrap());
    std::fs::copy(library(name), &to).unwrap();
    to
}

#[test]
fn examples_load_and_answer_mixed_with_rhai_in_priority_order() {
    let s = Sandbox::new();
    install(&s, "machine-info", "machine-info");
    install(&s, "selection-actions-1.0.0", "selection-actions");
    s.hook(
        "rhai-actions",
        "actions.rhai",
        r#"fn register(session) {
            let hub = session.event_hub;
            session.event_hub.subscribe("topic=ftrack.action.discover", |e| #{ items: [#{ label: "early" }] }, 10);
            session.event_hub.subscribe("topic=ftrack.action.discover", |e| #{ items: [#{ label: "late" }] }, 500);
            session.event_hub.subscribe("topic=labels", |e| hub.publish(#{ topic: "ftrack.action.discover", data: e.data }, true).map(|r| r.items[0].label));
        }"#,
    );
    let plugin = s.plugin("selection-actions");
    assert_eq!(plugin["kind"], "native");
    assert_eq!(plugin["status"], "loaded");
    assert_eq!(plugin["version"], "1.0.0");
    assert_eq!(plugin["subscriptions"], 2);

    let selection = r#"{"selection": [{"entityId": "1", "entityType": "Task"}, {"entityId": "2", "entityType": "Shot"}, {"entityId": "3", "entityType": "Task"}]}"#;
    let results = s.publish("ftrack.action.discover", selection);
    let labels: Vec<&str> = results
        .iter()
        .map(|r| r["items"][0]["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, vec!["early", "Summarise selection", "late"]);
    // A hook that publishes gets the native plugin's answer as Rhai values too.
    assert_eq!(
        s.publish("labels", selection),
        vec![json!(["early", "Summarise selection", "late"])]
    );

    let launch = selection.replace(
        "{\"selection\"",
        "{\"actionIdentifier\": \"native-summarise-selection\", \"selection\"",
    );
    assert_eq!(
        s.publish("ftrack.action.launch", &launch),
        vec![json!({"success": true, "message": "Selected: 1 Shot, 2 Task"})]
    );

    let about = s.publish("ftrack.connect.plugin.debug-information", "{}");
    let machine = about
        .iter()
        .find(|r| r["name"] == "machine-info")
        .expect("machine-info answers");
    assert_eq!(machine["debug_information"]["user"], "alice");
    assert_eq!(machine["debug_information"]["os"], std::env::consts::OS);
    assert!(machine["debug_information"]["cpus"].as_u64().unwrap() >= 1);
    let host_list = about.iter().find(|r| r.is_array()).unwrap();
    let listed = host_list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "machine-info")
        .unwrap();
    assert_eq!(listed["kind"], "native");
}

#[test]
fn native_handlers_change_data_for_later_rhai_handlers_and_publish_back() {
    let s = Sandbox::new();
    install(&s, "faulty", "fixture-faulty");
    s.hook(
        "reader",
        "r.rhai",
        r#"fn register(session) {
            session.event_hub.subscribe("topic=native.ok", |e| `rhai saw ${e.data.native_saw}`, 60);
            session.event_hub.subscribe("topic=native.ok", |e| { e.data.value = "changed by rhai"; () }, 40);
        }"#,
    );
    assert_eq!(
        s.publish("native.ok", r#"{"value": "v"}"#),
        vec![
            json!(null),
            json!("changed by rhai"),
            json!("rhai saw true")
        ]
    );
    assert_eq!(
        s.publish("native.ask", "{}"),
        vec![json!({
            "results": [null, "changed by rhai", "rhai saw true"],
            "data_after": {"value": "changed by rhai", "native_saw": true},
            "user": "alice"
        })]
    );
}

/// Publishes `topic` to the faulty fixture, with a Rhai hook answering after it; that the
/// hook still answered, and the stderr of the run, which names the faulty plugin.
fn faulty_then_rhai(topic: &str) -> String {
    let s = Sandbox::new();
    install(&s, "faulty", "fixture-faulty");
    s.hook(
        "after",
        "a.rhai",
        &format!(
            r#"fn register(session) {{ session.event_hub.subscribe("topic={topic}", |e| "still here", 200); }}"#
        ),
    );
    let (results, stderr) = s.publish_with(topic, &[]);
    assert_eq!(results, vec![json!("still here")]);
    assert!(stderr.contains("plugin 'faulty'"), "{stderr}");
    stderr
}

#[test]
fn a_panicking_handler_is_contained() {
    let stderr = faulty_then_rhai("native.panic");
    assert!(
        stderr.contains("handler panicked: fixture handler panics on purpose"),
        "{stderr}"
    );
}

#[test]
fn a_malformed_result_is_the_handlers_error_named_with_its_node() {
    let stderr = faulty_then_rhai("native.malformed");
    assert!(
        stderr.contains(
            "the handler's result is not a JSON value: node 2: a container has fewer members than it says"
        ),
        "{stderr}"
    );
}

#[test]
fn register_that_panics_or_fails_is_reported_and_its_subscriptions_removed() {
    for (mode, expected) in [
        (
            "panic",
            "register panicked: fixture register panics on purpose",
        ),
        ("error", "fixture register fails on purpose"),
    ] {
        let s = Sandbox::new();
        install(&s, "faulty", "fixture-faulty");
        s.hook("fine", "f.rhai", r#"fn register(session) { session.event_hub.subscribe("topic=native.ok", |e| "rhai"); }"#);
        let Captured { stdout, .. } = s
            .command()
            .env("FIXTURE_REGISTER", mode)
            .args(["plugins", "--json"])
            .output()
            .unwrap()
            .into();
        let plugins: Vec<Value> = serde_json::from_str(&stdout).unwrap();
        let faulty = plugins.iter().find(|p| p["name"] == "faulty").unwrap();
        assert_eq!(faulty["status"], "failed", "{mode}");
        assert_eq!(faulty["kind"], "native");
        assert_eq!(faulty["subscriptions"], 0, "{mode}");
        let error = faulty["error"].as_str().unwrap();
        assert!(error.contains(expected), "{mode}: {error}");
        assert!(!error.contains('\n'), "one line: {error}");

        let output: Captured = s
            .command()
            .env("FIXTURE_REGISTER", mode)
            .args(["event", "publish", "native.ok"])
            .output()
            .unwrap()
            .into();
        let results: Vec<Value> = serde_json::from_str(&output.success().stdout).unwrap();
        assert_eq!(results, vec![json!("rhai")], "{mode}");
    }
}

#[test]
fn incompatible_libraries_are_refused_with_one_line_each() {
    let s = Sandbox::new();
    install(&s, "version", "fixture-incompatible-version");
    install(&s, "layout", "fixture-incompatible-layout");
    install(&s, "no-root", "fixture-no-root-module");
    // A real plugin patched to say it was built for another machine (aarch64 or x86_64).
    let foreign = install(&s, "foreign", "machine-info");
    let mut bytes = std::fs::read(&foreign).unwrap();
    let other_machine: u16 = if std::env::consts::ARCH == "aarch64" {
        0x3e
    } else {
        0xb7
    };
    bytes[18..20].copy_from_slice(&other_machine.to_le_bytes());
    std::fs::write(&foreign, bytes).unwrap();
    install(&s, "working", "machine-info");

    let (plugins, listing_stderr) = s.plugins_json();
    let error = |name: &str| {
        let plugin = plugins.iter().find(|p| p["name"] == name).unwrap();
        assert_eq!(plugin["status"], "failed", "{plugin}");
        assert_eq!(plugin["kind"], "native");
        let error = plugin["error"].as_str().unwrap().to_string();
        assert!(!error.contains('\n'), "one line: {error}");
        error
    };
    assert!(error("version").contains("built against connect-plugin-api 99.0.0"));
    let layout = error("layout");
    assert!(
        layout.contains("does not match this host's plugin interface"),
        "{layout}"
    );
    assert!(layout.contains("Error:"), "{layout}");
    assert!(error("no-root").contains("exports no root module"));
    let foreign = error("foreign");
    assert!(
        foreign.contains("is not a library this host can load"),
        "{foreign}"
    );
    assert!(foreign.contains("it is an ELF library for"), "{foreign}");
    // The whole layout report is in the log file, and not on every command's stderr.
    let log = std::fs::read_to_string(s.user_data_dir().join("log/ftrack_connect.log")).unwrap();
    assert!(log.contains("abi_stable's layout report"), "{log}");
    assert!(log.lines().count() > 50);
    let published = s
        .capture(&["event", "publish", "ftrack.connect.discover"])
        .success();
    assert!(
        !published.stderr.contains("layout report") && published.stderr.lines().count() < 10,
        "{}",
        published.stderr
    );
    assert!(
        !listing_stderr.contains("layout report"),
        "{listing_stderr}"
    );
    let working = plugins.iter().find(|p| p["name"] == "working").unwrap();
    assert_eq!(working["status"], "loaded");
}

#[test]
fn each_plugin_is_its_own_library_even_when_built_from_the_same_crate() {
    // Two folders with the same library: each must be loaded on its own (abi_stable's
    // load_from_* would hand the first module back twice, sharing its statics).
    let s = Sandbox::new();
    install(&s, "one", "fixture-faulty");
    install(&s, "two", "fixture-faulty");
    assert_eq!(s.publish("native.instance", "{}"), vec![json!(1), json!(1)]);
    let copies = s.user_data_dir().join("native");
    let left: Vec<_> = std::fs::read_dir(&copies).unwrap().collect();
    assert!(left.is_empty(), "loaded copies are removed: {left:?}");
}

#[test]
fn a_handler_publishing_its_own_topic_is_stopped_not_the_host() {
    let s = Sandbox::new();
    install(&s, "faulty", "fixture-faulty");
    let (results, stderr) = s.publish_with("native.recurse", &[]);
    // Each level answers with how many results the level below gave: the deepest got none.
    assert_eq!(results, vec![json!(1)]);
    assert!(stderr.contains("nested 32 deep"), "{stderr}");
    assert_eq!(
        s.publish("native.instance", "{}"),
        vec![json!(1)],
        "the host is fine"
    );
}

/// A library whose code runs as it is opened (a constructor) and aborts takes an in-process
/// host with it; the next command says which library that was.
#[cfg(target_os = "linux")]
#[test]
fn a_library_that_crashes_as_it_opens_is_named_by_the_next_command() {
    let s = Sandbox::new();
    install(&s, "crasher", "fixture-constructor-abort");
    let crashed = s.capture(&["plugins", "--standalone"]);
    assert_eq!(crashed.code, None, "killed by SIGABRT: {}", crashed.stderr);
    std::fs::remove_dir_all(s.plugins().join("crasher")).unwrap();
    let next = s
        .capture(&["event", "publish", "ftrack.connect.discover"])
        .success();
    assert!(
        next.stderr
            .contains("died while opening the native library")
            && next.stderr.contains("crasher"),
        "{}",
        next.stderr
    );
    // Said once: the command after that is quiet.
    let quiet = s
        .capture(&["event", "publish", "ftrack.connect.discover"])
        .success();
    assert!(
        !quiet.stderr.contains("died while opening"),
        "{}",
        quiet.stderr
    );
}
