//! Native plugins out of process (`run --isolate-native`, `FTRACK_CONNECT_ISOLATE_NATIVE=1`)
//! through the real binary: the `fixture-faulty` plugin answers as it does in process, and
//! when it aborts, segfaults, exits or hangs, the host says so in one line and goes on.

use std::process::Output;

use crate::kit::{eventually, Captured, Running, Sandbox};
use crate::native_plugins::install;
use serde_json::{json, Value};

/// `ftrack-connect ARGS` with native plugins isolated, handlers limited to `limit` seconds.
fn isolated(s: &Sandbox, args: &[&str], limit: &str) -> Captured {
    let output: Output = s
        .command()
        .env("FTRACK_CONNECT_ISOLATE_NATIVE", "1")
        .env("FTRACK_CONNECT_NATIVE_TIME_LIMIT", limit)
        .args(args)
        .output()
        .expect("binary runs");
    output.into()
}

/// `event publish TOPIC --standalone` with isolation; (results, stderr).
fn publish(s: &Sandbox, topic: &str, data: &str) -> (Vec<Value>, String) {
    let done = isolated(
        s,
        &["event", "publish", topic, "--data", data, "--standalone"],
        "2",
    )
    .success();
    let results: Value = serde_json::from_str(done.stdout.trim()).expect("results are JSON");
    (results.as_array().unwrap().clone(), done.stderr)
}

/// Lines at warning level or above.
fn loud_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect()
}

/// The child processes still running for this sandbox's plugins.
fn children_of(s: &Sandbox) -> usize {
    let marker = s.path().to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
        .filter(|cmdline| cmdline.contains("native-host") && cmdline.contains(&marker))
        .count()
}

/// The faulty plugin, and a Rhai hook answering every `native.*` topic after it.
fn faulty_with_a_neighbour(s: &Sandbox) {
    install(s, "faulty", "fixture-faulty");
    s.hook(
        "neighbour",
        "h.rhai",
        r#"fn register(session) {
            session.event_hub.subscribe("topic=native.*", |e| ["neighbour", e.data.native_saw ?? false], 200);
            session.event_hub.subscribe("topic=native.ok", |e| "first", 10);
            session.event_hub.subscribe("topic=native.stop", |e| "before the stop", 10);
        }"#,
    );
}

#[cfg(unix)]
#[test]
fn isolated_handlers_answer_as_in_process() {
    let s = Sandbox::new();
    faulty_with_a_neighbour(&s);
    // Priority across processes, and the data the native handler set seen by a later hook.
    let (results, _) = publish(&s, "native.ok", r#"{"value": 5}"#);
    assert_eq!(
        results,
        vec![json!("first"), json!(5), json!(["neighbour", true])]
    );
    // A stop in the plugin's process ends the dispatch in the host's: the neighbour's
    // `native.*` handler (priority 200) never runs, the one before the stop did.
    let (results, stderr) = publish(&s, "native.stop", "{}");
    assert_eq!(
        results,
        vec![json!("before the stop"), json!("stopped")],
        "{stderr}"
    );
    // A publish from inside the native handler goes through the host's hub and back.
    let (results, _) = publish(&s, "native.ask", "{}");
    assert_eq!(
        results[0],
        json!({"results": ["first", "asked", ["neighbour", true]], "data_after": {"value": "asked", "native_saw": true}, "user": "alice"})
    );
    // A malformed result is its handler's error in the plugin's process too.
    let (results, stderr) = publish(&s, "native.malformed", "{}");
    assert_eq!(results, vec![json!(["neighbour", false])], "{stderr}");
    assert!(
        stderr.contains("not a JSON value: node 2: a container has fewer members than it says"),
        "{stderr}"
    );
    // The plugin printing on stdout does not disturb the pipe to its process.
    let (results, _) = publish(&s, "native.print", "{}");
    assert_eq!(results[0], json!("printed"));
    // The nesting limit holds across the pipe: each level answers how many results the
    // level below gave (its own and the neighbour's), the deepest is refused.
    let (results, stderr) = publish(&s, "native.recurse", "{}");
    assert_eq!(results[0], json!(2), "{stderr}");
    assert!(stderr.contains("nested 32 deep"), "{stderr}");

    let listed = isolated(&s, &["plugins", "--json", "--standalone"], "2").success();
    let plugins: Value = serde_json::from_str(&listed.stdout).unwrap();
    let faulty = plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "faulty")
        .unwrap();
    assert_eq!(faulty["status"], "loaded");
    assert_eq!(faulty["version"], "0.1.0");
    assert_eq!(faulty["subscriptions"], 13);
    // A command's plugin processes end with it (their input closes).
    eventually("the plugin processes to end", || {
        (children_of(&s) == 0).then_some(())
    });
}

/// An event's `target` is matched in the host against the subscriber metadata of each
/// isolated plugin's subscriptions: aimed at one plugin's subscription, it reaches that
/// plugin's process alone. Resident, so that subscriber ids stay the same from one publish to
/// the next.
#[cfg(unix)]
#[test]
fn what_an_isolated_plugin_prints_is_logged_before_a_command_exits() {
    // The print reaches the host's log through the plugin's process's standard error, on a
    // thread of its own; the command prints its answer and exits, but not before that line.
    let s = Sandbox::new();
    install(&s, "faulty", "fixture-faulty");
    let done = isolated(
        &s,
        &[
            "-v",
            "info",
            "event",
            "publish",
            "native.print",
            "--data",
            "{}",
            "--standalone",
        ],
        "2",
    )
    .success();
    assert_eq!(done.stdout.trim(), r#"["printed"]"#);
    assert!(
        done.stderr
            .contains("[faulty] a line on stdout from the plugin"),
        "{}",
        done.stderr
    );
}

#[test]
fn an_events_target_reaches_only_the_matching_isolated_subscription() {
    let s = Sandbox::new();
    faulty_with_a_neighbour(&s);
    install(&s, "faulty-two", "fixture-faulty");
    let mut host = Running::start(&s, &["run", "--isolate-native"]);
    host.wait_for("is running");
    let (everyone, stderr) = s.publish_with("native.whoami", &[]);
    assert_eq!(everyone.len(), 3, "{everyone:?} {stderr}");
    assert_eq!(everyone[2], json!(["neighbour", false]));
    let (one, two) = (&everyone[0], &everyone[1]);
    // Two plugins, two processes, neither the host's.
    let host_pid = json!(host.child.id());
    assert!(
        one["pid"] != two["pid"] && one["pid"] != host_pid && two["pid"] != host_pid,
        "{everyone:?}, host {host_pid}"
    );
    for answer in [one, two] {
        let target = format!("id={}", answer["id"].as_str().unwrap());
        let (results, stderr) = s.publish_with("native.whoami", &["--target", &target]);
        assert_eq!(results, vec![answer.clone()], "{target}: {stderr}");
    }
    let (results, _) = s.publish_with("native.whoami", &["--target", "id=nobody"]);
    assert!(results.is_empty(), "{results:?}");

    host.signal(libc::SIGTERM);
    let (code, stderr) = host.finish();
    assert_eq!(code, Some(0), "{stderr}");
}

#[cfg(unix)]
#[test]
fn a_crash_or_a_hang_in_a_handler_is_one_warning_and_the_others_still_answer() {
    let s = Sandbox::new();
    faulty_with_a_neighbour(&s);
    for (topic, how) in [
        ("native.abort", "killed by signal 6, SIGABRT"),
        ("native.segfault", "killed by signal 11, SIGSEGV"),
        ("native.exit", "exited with status 3"),
        (
            "native.hang",
            "no answer within 2 s: its process was killed",
        ),
    ] {
        let (results, stderr) = publish(&s, topic, "{}");
        assert_eq!(
            results,
            vec![json!(["neighbour", false])],
            "{topic}: {stderr}"
        );
        let loud = loud_lines(&stderr);
        assert_eq!(loud.len(), 1, "{topic}: one line: {stderr}");
        assert!(
            loud[0].contains("plugin 'faulty'")
                && loud[0].contains(&format!("{topic:?}"))
                && loud[0].contains(how),
            "{topic}: {}",
            loud[0]
        );
    }
}

#[cfg(unix)]
#[test]
fn a_library_that_crashes_opening_or_registering_fails_alone() {
    let s = Sandbox::new();
    install(&s, "crasher", "fixture-constructor-abort");
    install(&s, "faulty", "fixture-faulty");
    let listed = isolated(&s, &["plugins", "--json", "--standalone"], "2").success();
    let plugins: Value = serde_json::from_str(&listed.stdout).unwrap();
    let named = |name: &str| {
        plugins
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()
            .clone()
    };
    let crasher = named("crasher");
    assert_eq!(crasher["status"], "failed");
    let error = crasher["error"].as_str().unwrap();
    assert!(
        error.contains("libfixture_constructor_abort")
            && error.contains("died opening the library (killed by signal 6, SIGABRT)"),
        "{error}"
    );
    assert_eq!(named("faulty")["status"], "loaded");

    let registering = s
        .command()
        .env("FTRACK_CONNECT_ISOLATE_NATIVE", "1")
        .env("FIXTURE_REGISTER", "abort")
        .args(["plugins", "--json", "--standalone"])
        .output()
        .unwrap();
    let plugins: Value = serde_json::from_slice(&registering.stdout).unwrap();
    let faulty = plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "faulty")
        .unwrap();
    assert_eq!(faulty["status"], "failed");
    assert_eq!(faulty["subscriptions"], 0);
    assert!(
        faulty["error"]
            .as_str()
            .unwrap()
            .contains("died in register (killed by signal 6, SIGABRT)"),
        "{faulty}"
    );
}

#[cfg(unix)]
#[test]
fn a_resident_host_restarts_a_crashed_plugin_and_gives_up_after_repeated_crashes() {
    let s = Sandbox::new();
    faulty_with_a_neighbour(&s);
    let mut host = Running::start(&s, &["run", "--isolate-native"]);
    host.wait_for("is running");
    let answers_again = || {
        eventually("the plugin to answer again", || {
            (s.publish("native.ok", r#"{"value": 1}"#)
                .contains(&json!(1)))
            .then_some(())
        })
    };
    for crash in 1..=3 {
        let results = s.publish("native.abort", "{}");
        assert_eq!(results, vec![json!(["neighbour", false])], "crash {crash}");
        let line = host.wait_for_any_order("handler for \"native.abort\" failed");
        assert!(line.contains("SIGABRT"), "{line}");
        if crash < 3 {
            host.wait_for_any_order(&format!("restarts in {} s", 1 << (crash - 1)));
            answers_again();
            assert_eq!(s.plugin("faulty")["status"], "loaded");
        }
    }
    let line = host.wait_for_any_order("plugin 'faulty' failed");
    assert!(line.contains("crashed 3 times"), "{line}");
    let faulty = s.plugin("faulty");
    assert_eq!(faulty["status"], "failed");
    assert_eq!(faulty["subscriptions"], 0);
    assert!(
        faulty["error"].as_str().unwrap().contains("not restarted"),
        "{faulty}"
    );
    // The host and its other plugins go on.
    assert_eq!(
        s.publish("native.ok", "{}"),
        vec![json!("first"), json!(["neighbour", false])]
    );

    host.signal(libc::SIGTERM);
    let (code, stderr) = host.finish();
    assert_eq!(code, Some(0), "{stderr}");
    eventually("the plugin processes to end with the host", || {
        (children_of(&s) == 0).then_some(())
    });
}
