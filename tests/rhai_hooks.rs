//! Rhai hooks through the real binary: callbacks, imports confined to the plugin folder,
//! script errors with positions, the operations limit, print/debug in the log, and a failing
//! `register` that takes its subscriptions with it while other plugins load.

use crate::kit::{Captured, Sandbox};
use serde_json::{json, Value};

#[test]
fn named_function_and_closure_callbacks() {
    let s = Sandbox::new();
    s.hook(
        "cb",
        "cb.rhai",
        r#"
        fn named(event) { `named ${event.topic}` }
        fn register(session) {
            let prefix = "closure";
            session.event_hub.subscribe("topic=t", Fn("named"));
            session.event_hub.subscribe("topic=t", |event| `${prefix} ${event.topic}`);
        }"#,
    );
    assert_eq!(
        s.publish("t", "{}"),
        vec![json!("named t"), json!("closure t")]
    );
}

#[test]
fn imports_resolve_in_resource_and_dependencies() {
    let s = Sandbox::new();
    s.write(
        "plugins/lib/resource/greet.rhai",
        r#"fn hello(n) { `hello ${n}` }"#,
    );
    s.write(
        "plugins/lib/dependencies/util/math.rhai",
        "fn twice(x) { x * 2 }",
    );
    s.hook(
        "lib",
        "h.rhai",
        r#"
        fn answer(event) {
            import "greet" as greet;
            import "util/math" as math;
            [greet::hello(event.data.name), math::twice(21)]
        }
        fn register(session) { session.event_hub.subscribe("topic=t", Fn("answer")); }"#,
    );
    assert_eq!(
        s.publish("t", r#"{"name": "bob"}"#),
        vec![json!(["hello bob", 42])]
    );
}

#[test]
fn imports_cannot_leave_the_plugin_folder() {
    let s = Sandbox::new();
    s.write("secret.rhai", r#"fn key() { "s3cr3t" }"#);
    s.write("plugins/escape/resource/placeholder.rhai", "");
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        s.path().join("secret.rhai"),
        s.plugins().join("escape/resource/link.rhai"),
    )
    .unwrap();
    let attempt = |name: &str| {
        format!(
            r#"fn answer(event) {{ import "{name}" as m; m::key() }}
               fn register(session) {{ session.event_hub.subscribe("topic=t", Fn("answer")); }}"#
        )
    };
    let absolute = s.path().join("secret").display().to_string();
    for name in ["../../secret", absolute.as_str(), "link"] {
        if name == "link" && cfg!(not(unix)) {
            continue;
        }
        s.hook("escape", "h.rhai", &attempt(name));
        let (results, stderr) = s.publish_with("t", &[]);
        assert_eq!(results, Vec::<Value>::new(), "import {name} must fail");
        assert!(!stderr.contains("s3cr3t"));
        assert!(
            stderr.contains("outside the plugin folder")
                || stderr.contains("must be a path inside"),
            "import {name}: {stderr}"
        );
    }
}

#[test]
fn syntax_errors_carry_file_line_and_column() {
    let s = Sandbox::new();
    s.hook(
        "broken",
        "broken.rhai",
        "fn register(session) {\n    let x = ;\n}\n",
    );
    s.hook(
        "fine",
        "fine.rhai",
        r#"fn register(session) { session.event_hub.subscribe("topic=t", |e| 1); }"#,
    );
    let broken = s.plugin("broken");
    assert_eq!(broken["status"], "failed");
    let error = broken["error"].as_str().unwrap();
    assert!(error.contains("broken.rhai:2:13:"), "{error}");
    assert_eq!(s.plugin("fine")["status"], "loaded");
    assert_eq!(s.publish("t", "{}"), vec![json!(1)]);
}

#[test]
fn failing_register_removes_everything_the_plugin_subscribed() {
    let s = Sandbox::new();
    // Two hook files: the first registers fine, the second subscribes and then fails.
    s.hook(
        "half",
        "a.rhai",
        r#"fn register(session) { session.event_hub.subscribe("topic=t", |e| "a"); }"#,
    );
    s.hook(
        "half",
        "b.rhai",
        "fn register(session) {\n  session.event_hub.subscribe(\"topic=t\", |e| \"b\");\n  let n = 1 / 0;\n}\n",
    );
    s.hook(
        "other",
        "o.rhai",
        r#"fn register(session) { session.event_hub.subscribe("topic=t", |e| "other"); }"#,
    );
    let half = s.plugin("half");
    assert_eq!(half["status"], "failed");
    assert_eq!(half["subscriptions"], 0);
    let error = half["error"].as_str().unwrap();
    assert!(error.contains("b.rhai:3:"), "{error}");
    assert!(error.to_lowercase().contains("division by zero"), "{error}");
    let (results, stderr) = s.publish_with("t", &[]);
    assert_eq!(results, vec![json!("other")]);
    assert!(stderr.contains("plugin 'half' failed"), "{stderr}");
}

#[test]
fn endless_loops_are_stopped_by_the_operations_limit() {
    let s = Sandbox::new();
    s.hook(
        "spin",
        "spin.rhai",
        r#"fn register(session) {
            session.event_hub.subscribe("topic=t", |e| { loop { } }, 1);
            session.event_hub.subscribe("topic=t", |e| "after", 2);
        }"#,
    );
    s.hook(
        "spin-register",
        "h.rhai",
        "fn register(session) { while true { } }",
    );
    let (results, stderr) = s.publish_with("t", &[]);
    assert_eq!(results, vec![json!("after")]);
    assert!(stderr.contains("plugin 'spin'"), "{stderr}");
    assert!(stderr.contains("operations"), "{stderr}");
    let failed = s.plugin("spin-register");
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"].as_str().unwrap().contains("operations"),
        "{failed}"
    );
}

#[test]
fn print_and_debug_go_to_the_log_with_the_plugin_name() {
    let s = Sandbox::new();
    s.hook(
        "chatty",
        "h.rhai",
        r#"fn register(session) {
            print("hello from print");
            debug("hello from debug");
            session.event_hub.subscribe("topic=t", |e| { print(`handling ${e.topic}`); 1 });
        }"#,
    );
    let Captured { stdout, stderr, .. } = s.capture(&["-v", "debug", "event", "publish", "t"]);
    assert_eq!(stdout.trim(), "[1]", "print must not reach stdout");
    assert!(stderr.contains("[chatty] hello from print"), "{stderr}");
    assert!(stderr.contains("[chatty] \"hello from debug\""), "{stderr}");
    assert!(stderr.contains("[chatty] handling t"), "{stderr}");
    let log = std::fs::read_to_string(s.user_data_dir().join("log/ftrack_connect.log")).unwrap();
    assert!(log.contains("[chatty] handling t"), "{log}");
}

#[test]
fn a_handler_runtime_error_names_file_and_line() {
    let s = Sandbox::new();
    s.hook(
        "oops",
        "oops.rhai",
        "fn handle(event) {\n    event.data.missing.field + 1\n}\nfn register(session) { session.event_hub.subscribe(\"topic=t\", Fn(\"handle\")); }\n",
    );
    let (results, stderr) = s.publish_with("t", &[]);
    assert!(results.is_empty());
    assert!(stderr.contains("oops.rhai:2:"), "{stderr}");
    assert!(stderr.contains("in function 'handle'"), "{stderr}");
}
