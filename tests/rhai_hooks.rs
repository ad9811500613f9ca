//! Rhai hooks through the real binary: callbacks, imports confined to the plugin folder,
//! script errors with positions, the limits (operations, call depth, sizes of strings, arrays
//! and maps) that stop a runaway hook without taking the host down, results JSON cannot hold,
//! print/debug in the log, and a failing `register` that takes its subscriptions with it while
//! other plugins load.

use std::process::Command;

use crate::kit::{Captured, Running, Sandbox};
use connect_rhai::{MAX_ARRAY_SIZE, MAX_CALL_LEVELS, MAX_MAP_SIZE, MAX_STRING_SIZE};
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
fn endless_loops_and_recursion_are_stopped_where_they_run() {
    let s = Sandbox::new();
    s.hook(
        "spin",
        "spin.rhai",
        r#"fn spin(event) {
    let n = 0;
    loop { n += 1; }
}
fn deeper(n) {
    deeper(n + 1)
}
fn register(session) {
    session.event_hub.subscribe("topic=t", Fn("spin"), 1);
    session.event_hub.subscribe("topic=t", |event| {
        let n = 0;
        while true { n += 1; }
    }, 2);
    session.event_hub.subscribe("topic=t", |event| deeper(0), 3);
    session.event_hub.subscribe("topic=t", |event| "after", 4);
}
"#,
    );
    s.hook(
        "spin-register",
        "h.rhai",
        "fn register(session) {\n    let n = 0;\n    while true { n += 1; }\n}",
    );
    s.hook(
        "deep-register",
        "h.rhai",
        "fn deeper(n) { deeper(n + 1) }\nfn register(session) {\n    deeper(0);\n}",
    );
    s.hook(
        "big-register",
        "h.rhai",
        "fn register(session) {\n    let s = \"xxxxxxxx\";\n    for i in 0..36 { s += s; }\n}",
    );
    let (results, stderr) = s.publish_with("t", &[]);
    assert_eq!(results, vec![json!("after")]);
    // Where the script was when it was stopped: in the loop; for the recursion, the call in
    // the handler that never came back.
    let calls = MAX_CALL_LEVELS.to_string();
    assert_failures(
        &stderr,
        "spin",
        &[
            (
                "spin.rhai:3:",
                &["stopped after", "operations", "in function 'spin'"],
            ),
            (
                "spin.rhai:12:",
                &["stopped after", "operations", "in a closure"],
            ),
            ("spin.rhai:14:", &["stack overflow", &calls, "in a closure"]),
        ],
    );
    // `register` stopped by a limit: where too.
    for (plugin, at, what) in [
        ("spin-register", "h.rhai:3:", "operations"),
        ("deep-register", "h.rhai:3:5:", "stack overflow"),
        ("big-register", "h.rhai:3:", "text too large"),
    ] {
        let failed = s.plugin(plugin);
        assert_eq!(failed["status"], "failed");
        let error = failed["error"].as_str().unwrap();
        assert!(
            error.contains(at) && error.contains(what) && error.contains("in function 'register'"),
            "{plugin}: {error}"
        );
    }
}

#[test]
fn a_callback_that_runs_again_while_running_is_told_where_and_why() {
    let s = Sandbox::new();
    s.hook(
        "again",
        "h.rhai",
        r#"fn register(session) {
    let hub = session.event_hub;
    let count = 0;
    session.event_hub.subscribe("topic=again", |event| {
        count += 1;
        hub.publish(#{ topic: "again" }, true);
        count
    });
}"#,
    );
    // The outer call answers; the one its publish led to is refused, at the closure.
    let (results, stderr) = s.publish_with("again", &[]);
    assert_eq!(results, vec![json!(1)]);
    assert_failures(
        &stderr,
        "again",
        &[("h.rhai:4:", &["a value a callback captured is in use"])],
    );
    assert!(!stderr.contains("anon$"), "{stderr}");
}

#[test]
fn functions_and_closures_read_the_scripts_global_constants() {
    let s = Sandbox::new();
    s.hook(
        "constants",
        "h.rhai",
        r#"const GREETING = "hello";
fn answer(event) { global::GREETING + " from a function" }
fn register(session) {
    let greeting = global::GREETING;
    session.event_hub.subscribe("topic=t", |event| global::GREETING + " from a closure");
    session.event_hub.subscribe("topic=t", Fn("answer"));
    session.event_hub.subscribe("topic=t", |event| greeting + " from register");
}"#,
    );
    assert_eq!(
        s.publish("t", "{}"),
        vec![
            json!("hello from a closure"),
            json!("hello from a function"),
            json!("hello from register")
        ]
    );
}

#[test]
fn a_constant_of_register_is_not_a_global_one_in_a_script_of_functions_only() {
    // As in a Rhai call: `register`'s constant is its own, even though the script has no top
    // level (which the host then does not run) and `register` runs first.
    let s = Sandbox::new();
    s.hook(
        "functions-only",
        "h.rhai",
        r#"fn answer(event) { global::X }
fn register(session) {
    const X = 1;
    session.event_hub.subscribe("topic=t", Fn("answer"));
}"#,
    );
    let (results, stderr) = s.publish_with("t", &[]);
    assert!(results.is_empty(), "{results:?}\n{stderr}");
    assert_failures(
        &stderr,
        "functions-only",
        &[("h.rhai:1:", &["Variable not found: global::X"])],
    );
}

/// Asserts that `stderr` holds exactly one line per failed handler of `plugin`, in order, each
/// with the expected `file:line:` and texts.
#[track_caller]
fn assert_failures(stderr: &str, plugin: &str, expected: &[(&str, &[&str])]) {
    let tag = format!("plugin '{plugin}': handler for");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains(&tag)).collect();
    assert_eq!(
        lines.len(),
        expected.len(),
        "one line per failed handler:\n{stderr}"
    );
    for (line, (at, texts)) in lines.iter().zip(expected) {
        let position = line
            .split_once(at)
            .map(|(_, rest)| rest.split(':').next().unwrap_or(""));
        assert!(
            position.is_some_and(|column| column.parse::<usize>().is_ok()),
            "{at}COLUMN expected: {line}"
        );
        for text in *texts {
            assert!(line.contains(text), "{text:?} expected: {line}");
        }
    }
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

/// A command ends its process itself once done (`cli::exit_at_once`): whatever it logged
/// must be in the log file by then. The log file here is a pipe read slowly, so that the
/// file's writer thread falls behind and lines are still queued when the command is done.
#[cfg(unix)]
#[test]
fn every_line_a_command_logged_is_in_the_log_file_when_it_exits() {
    use std::io::Read;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    use std::process::Stdio;

    let s = Sandbox::new();
    s.hook(
        "chatty",
        "h.rhai",
        r#"fn register(session) {
            session.event_hub.subscribe("topic=t", |e| {
                for i in 0..3000 { print(`line ${i}`); }
                1
            });
        }"#,
    );
    let log_dir = s.user_data_dir().join("log");
    std::fs::create_dir_all(&log_dir).unwrap();
    let log_file = log_dir.join("ftrack_connect.log");
    let path = std::ffi::CString::new(log_file.as_os_str().as_bytes()).unwrap();
    // SAFETY: `path` is a valid NUL-terminated string for the length of the call.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    // Opened to read and write: neither side's open waits for the other, and reading an
    // empty pipe says so instead of waiting or ending.
    let mut pipe = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&log_file)
        .unwrap();
    let mut command = s
        .command()
        .args(["event", "publish", "t"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (mut log, mut chunk) = (Vec::new(), [0u8; 1024]);
    let status = loop {
        let exited = command.try_wait().unwrap();
        match pipe.read(&mut chunk) {
            Ok(read) => log.extend_from_slice(&chunk[..read]),
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = exited {
                    break status;
                }
            }
            Err(err) => panic!("reading the log: {err}"),
        }
        // About ten lines a millisecond: slower than the handler logs them.
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    assert!(status.success());
    let log = String::from_utf8(log).unwrap();
    assert_eq!(log.matches("[chatty] line ").count(), 3000);
    let last = log
        .lines()
        .rfind(|line| line.contains("[chatty] line "))
        .unwrap();
    assert!(last.contains("[chatty] line 2999"), "{last}");
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

/// Three handlers that grow a string, an array and a map without bound (each doubling is one
/// operation, so the operations limit alone does not stop them), and one that answers.
const GROWTH_HOOK: &str = r#"fn strings(event) {
    let s = "xxxxxxxx";
    for i in 0..36 { s += s; }
    s.len()
}
fn arrays(event) {
    let a = [1, 2, 3, 4, 5, 6, 7, 8];
    for i in 0..36 { a += a; }
    a.len()
}
fn maps(event) {
    let m = #{ leaf: 1 };
    for i in 0..64 { m = #{ left: m, right: m }; }
    m.len()
}
fn register(session) {
    session.event_hub.subscribe("topic=t.bigstr", Fn("strings"), 1);
    session.event_hub.subscribe("topic=t.bigstr", Fn("arrays"), 2);
    session.event_hub.subscribe("topic=t.bigstr", Fn("maps"), 3);
    session.event_hub.subscribe("topic=t.bigstr", |event| "still here", 4);
}
"#;

/// What the growth hook's failures say, `times` over.
#[track_caller]
fn assert_growth_reported(stderr: &str, times: usize) {
    let (text, items, entries) = (
        MAX_STRING_SIZE.to_string(),
        MAX_ARRAY_SIZE.to_string(),
        MAX_MAP_SIZE.to_string(),
    );
    let once: [(&str, &[&str]); 3] = [
        (
            "grow.rhai:3:",
            &["text too large", &text, "in function 'strings'"],
        ),
        (
            "grow.rhai:8:",
            &["array too large", &items, "in function 'arrays'"],
        ),
        (
            "grow.rhai:13:",
            &["map too large", &entries, "in function 'maps'"],
        ),
    ];
    assert_failures(stderr, "grow", &once.repeat(times));
}

/// The growth tests cap the memory of the host they start (Linux: `RLIMIT_DATA`), far above
/// what the size limits let a script reach and far below what a runaway script takes, so that
/// a regression fails the test with an allocation failure instead of exhausting the machine.
#[cfg(target_os = "linux")]
const MEMORY_CAP: libc::rlimit = libc::rlimit {
    rlim_cur: 2 << 30,
    rlim_max: 2 << 30,
};

/// Caps the memory of the process `command` starts (see [`MEMORY_CAP`]).
fn cap_memory(command: &mut Command) -> &mut Command {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: between fork and exec the closure only calls setrlimit, which is
        // async-signal-safe, and allocates nothing.
        unsafe {
            command.pre_exec(|| match libc::setrlimit(libc::RLIMIT_DATA, &MEMORY_CAP) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            });
        }
    }
    command
}

/// Caps the memory of the running process `pid` (see [`MEMORY_CAP`]).
#[cfg(unix)]
fn cap_memory_of(pid: u32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prlimit reads the limit given and writes nothing (no old limit asked for).
        let done = unsafe {
            libc::prlimit(
                pid as libc::pid_t,
                libc::RLIMIT_DATA,
                &MEMORY_CAP,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(done, 0, "prlimit: {}", std::io::Error::last_os_error());
    }
    let _ = pid;
}

#[test]
fn runaway_growth_is_stopped_by_the_size_limits() {
    let s = Sandbox::new();
    s.hook("grow", "grow.rhai", GROWTH_HOOK);
    let mut command = s.command();
    command.args(["event", "publish", "t.bigstr"]);
    let output = cap_memory(&mut command).output().expect("binary runs");
    let Captured { stdout, stderr, .. } = Captured::from(output).success();
    let results: Value = serde_json::from_str(stdout.trim()).expect("results are JSON");
    assert_eq!(results, json!(["still here"]), "{stderr}");
    assert_growth_reported(&stderr, 1);
}

#[cfg(unix)]
#[test]
fn a_resident_host_survives_runaway_growth() {
    let s = Sandbox::new();
    s.hook("grow", "grow.rhai", GROWTH_HOOK);
    let mut host = Running::start(&s, &["run"]);
    cap_memory_of(host.child.id());
    host.wait_for("is running");
    // Twice: the host that stopped the first run still answers.
    for _ in 0..2 {
        assert_eq!(s.publish("t.bigstr", "{}"), vec![json!("still here")]);
    }
    host.signal(libc::SIGTERM);
    let (code, stderr) = host.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert_growth_reported(&stderr, 2);
}

#[cfg(unix)]
#[test]
fn a_resident_host_survives_calls_nested_too_deeply_for_its_stack() {
    let s = Sandbox::new();
    // Each call of `deep` sits inside 60 calls of `wrap`: the native stack it takes runs out
    // long before the call depth limit (handlers run on threads of 2 MiB).
    let wrapped = format!("{}deep(n + 1){}", "wrap(".repeat(60), ")".repeat(60));
    s.hook(
        "deep",
        "deep.rhai",
        &format!(
            "fn wrap(x) {{ x }}\nfn deep(n) {{ {wrapped} }}\nfn register(session) {{\n    \
             session.event_hub.subscribe(\"topic=t\", |event| deep(0), 1);\n    \
             session.event_hub.subscribe(\"topic=t\", |event| \"after\", 2);\n}}\n"
        ),
    );
    let mut host = Running::start(&s, &["run"]);
    host.wait_for("is running");
    for _ in 0..2 {
        assert_eq!(s.publish("t", "{}"), vec![json!("after")]);
    }
    host.signal(libc::SIGTERM);
    let (code, stderr) = host.finish();
    assert_eq!(code, Some(0), "{stderr}");
    let stopped: (&str, &[&str]) = ("deep.rhai:4:", &["nested too deeply", "native stack"]);
    assert_failures(&stderr, "deep", &[stopped, stopped]);
}

#[test]
fn event_data_of_a_few_megabytes_is_within_the_size_limits() {
    let s = Sandbox::new();
    // 4 MiB of text, 200,000 array items and 100,000 map entries, built by one plugin and
    // read and changed by a handler of another. (Built without `push`: Rhai checks the sizes of
    // an array after each method that may change it, so pushing n items costs n²/2 steps.)
    s.hook(
        "big-sender",
        "send.rhai",
        r#"fn register(session) {
    let hub = session.event_hub;
    session.event_hub.subscribe("topic=t.big", |event| {
        let text = "0123456789abcdef";
        for i in 0..18 { text += text; }
        let items = [];
        items.pad(200000, 0);
        for i in 0..200000 { items[i] = i; }
        let entries = #{};
        for i in 0..100000 { entries[`k${i}`] = i; }
        let data = #{ text: text, items: items, entries: entries };
        hub.publish(#{ topic: "t.big.inner", data: data }, true)
    });
}"#,
    );
    s.hook(
        "big-receiver",
        "receive.rhai",
        r#"fn receive(event) {
    event.data.seen = true;
    [event.data.text.len(), event.data.items.len(), event.data.entries.len(), event.data.seen]
}
fn register(session) { session.event_hub.subscribe("topic=t.big.inner", Fn("receive")); }"#,
    );
    let (results, stderr) = s.publish_with("t.big", &[]);
    assert_eq!(
        results,
        vec![json!([[4 << 20, 200_000, 100_000, true]])],
        "{stderr}"
    );
}

#[test]
fn infinity_and_nan_are_refused_as_json() {
    let s = Sandbox::new();
    s.hook(
        "ratios",
        "ratios.rhai",
        r#"fn infinite(event) { 1.0 / 0.0 }
fn register(session) {
    session.event_hub.subscribe("topic=t", Fn("infinite"), 1);
    session.event_hub.subscribe("topic=t", |event| #{ ratio: [0.0 / 0.0] }, 2);
    session.event_hub.subscribe("topic=t", |event| { event.data.ratio = -1.0 / 0.0; "changed" }, 3);
    session.event_hub.subscribe("topic=t", |event| event.data, 4);
}
"#,
    );
    let (results, stderr) = s.publish_with("t", &["--data", r#"{"ratio": 1.5}"#]);
    // The failed handler's change to `event.data` is not kept.
    assert_eq!(results, vec![json!({"ratio": 1.5})], "{stderr}");
    let no_infinity = "JSON has no infinity or NaN";
    assert_failures(
        &stderr,
        "ratios",
        &[
            (
                "ratios.rhai:1:",
                &[no_infinity, "inf", "in function 'infinite'"],
            ),
            (
                "ratios.rhai:4:",
                &[no_infinity, "NaN", "ratio[0]", "in a closure"],
            ),
            (
                "ratios.rhai:5:",
                &[no_infinity, "-inf", "event.data.ratio", "in a closure"],
            ),
        ],
    );
}

#[test]
fn a_function_called_on_unit_hints_at_a_missing_key() {
    let s = Sandbox::new();
    s.hook(
        "unit",
        "unit.rhai",
        r#"fn count(event) {
    event.data.selection.len()
}
fn register(session) {
    session.event_hub.subscribe("topic=t", Fn("count"), 1);
    session.event_hub.subscribe("topic=t", |event| event.data.selection[0], 2);
    session.event_hub.subscribe("topic=t", |event| event.data.selection.entityId, 3);
    session.event_hub.subscribe("topic=t", |event| "text".no_such_function(), 4);
}
"#,
    );
    let (results, stderr) = s.publish_with("t", &["--data", "{}"]);
    assert!(results.is_empty(), "{results:?}");
    let hint = "a value is () — a map key that is missing, or a function that returned nothing?";
    assert_failures(
        &stderr,
        "unit",
        &[
            (
                "unit.rhai:2:",
                &["Function not found: len (())", hint, "in function 'count'"],
            ),
            ("unit.rhai:6:", &["Indexer unavailable: ()", hint]),
            ("unit.rhai:7:", &["property 'entityId'", hint]),
            ("unit.rhai:8:", &["Function not found: no_such_function"]),
        ],
    );
    let unrelated = stderr
        .lines()
        .find(|l| l.contains("no_such_function"))
        .unwrap();
    assert!(!unrelated.contains(hint), "no () involved: {unrelated}");
}

/// Data nested thousands of levels deep is dropped and checked by Rhai recursively, below any
/// script limit: the threads that run handlers have the stack for it (a command's own thread
/// has the same stack as the resident host's).
#[test]
fn a_resident_host_survives_deeply_nested_script_data() {
    let s = Sandbox::new();
    s.hook(
        "deep",
        "deep.rhai",
        r#"fn register(session) {
            session.event_hub.subscribe("topic=deep", |event| {
                let m = #{};
                for i in 0..5000 { m = #{ a: m }; }
                "survived"
            });
            session.event_hub.subscribe("topic=alive", |event| "alive");
        }"#,
    );
    let mut host = crate::kit::Running::start(&s, &["run"]);
    host.wait_for("is running");
    assert_eq!(s.publish("deep", "{}"), vec![json!("survived")]);
    assert_eq!(s.publish("alive", "{}"), vec![json!("alive")]);
}
