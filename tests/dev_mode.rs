//! Development mode through the real binary: `run --watch` against real plugin folders, driven
//! with `event publish` and `plugins` (which reach the running host through its endpoint),
//! `event watch`, the endpoint's token check, and `plugin new`/`plugin dir`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Stdio;

use crate::kit::{eventually, library, Captured, KillOnDrop, Running, Sandbox};
use serde_json::{json, Value};

/// A hook answering `topic=t` with `answer` and how many times it answered in this process.
fn counting_hook(answer: &str) -> String {
    format!(
        r#"fn register(session) {{
            let calls = [];
            session.event_hub.subscribe("topic=t", |e| {{ calls.push(1); ["{answer}", calls.len()] }});
        }}"#
    )
}

/// Saves like an editor does: write a temporary file, then rename it over the original.
fn save(path: &Path, text: &str) {
    let temporary = path.with_extension("rhai.tmp~");
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

fn start_watching(s: &Sandbox) -> Running {
    let mut host = Running::start(s, &["run", "--watch", "-v", "debug"]);
    host.wait_for("is running");
    host
}

fn answer(s: &Sandbox, topic: &str) -> Vec<Value> {
    s.publish(topic, "{}")
}

/// `plugin new NAME [EXTRA...] --dir <plugins>`.
fn plugin_new(s: &Sandbox, name: &str, extra: &[&str]) -> Captured {
    let dir = s.plugins().display().to_string();
    let mut args = vec!["plugin", "new", name];
    args.extend_from_slice(extra);
    args.extend(["--dir", dir.as_str()]);
    s.capture(&args)
}

#[cfg(unix)]
#[test]
fn an_edit_goes_live_a_broken_edit_keeps_the_last_good_version() {
    let s = Sandbox::new();
    let hook = s.hook("live", "live.rhai", &counting_hook("v1"));
    let host = start_watching(&s);

    // Through the running host: its state lives on between publishes.
    assert_eq!(answer(&s, "t"), vec![json!(["v1", 1])]);
    assert_eq!(answer(&s, "t"), vec![json!(["v1", 2])]);
    let (standalone, _) = s.publish_with("t", &["--standalone"]);
    assert_eq!(standalone, vec![json!(["v1", 1])]);

    save(&hook, &counting_hook("v2"));
    eventually("the edit to answer", || {
        (answer(&s, "t") == vec![json!(["v2", 1])]).then_some(())
    });
    // One save through a temporary file and a rename: exactly one reload.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let live = s.plugin("live");
    assert_eq!(live["reloads"], 1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let when = live["last_reload"].as_u64().expect("when it was reloaded");
    assert!(now - when < 120, "reloaded just now: {when} vs {now}");

    save(&hook, "fn register(session) {\n    let broken = ;\n}\n");
    let plugin = eventually("the broken edit to be reported", || {
        let plugin = s.plugin("live");
        plugin["error"].is_string().then_some(plugin)
    });
    let error = plugin["error"].as_str().unwrap();
    assert!(error.contains("live.rhai:2:"), "{error}");
    assert!(
        error.contains("last good version is still loaded"),
        "{error}"
    );
    assert_eq!(plugin["status"], "loaded");
    assert_eq!(plugin["subscriptions"], 1);
    assert_eq!(
        answer(&s, "t"),
        vec![json!(["v2", 2])],
        "the last good version answers"
    );

    save(&hook, &counting_hook("v3"));
    eventually("the next good save to replace it", || {
        (answer(&s, "t") == vec![json!(["v3", 1])]).then_some(())
    });
    assert_eq!(s.plugin("live")["error"], Value::Null);

    host.signal(libc::SIGTERM);
    let (code, stderr) = host.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("plugin 'live' reloaded"), "{stderr}");
    // The broken save is one ERROR line, and it says the last good version stays.
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("the changed version failed, the last good version stays loaded"),
        "{}",
        errors[0]
    );
}

#[cfg(unix)]
#[test]
fn added_removed_and_newer_versions_are_followed() {
    let s = Sandbox::new();
    s.hook(
        "stays",
        "h.rhai",
        r#"fn register(session) { session.event_hub.subscribe("topic=who", |e| "stays"); }"#,
    );
    let host = start_watching(&s);
    assert_eq!(answer(&s, "who"), vec![json!("stays")]);

    let who = |name: &str| {
        format!(
            r#"fn register(session) {{ session.event_hub.subscribe("topic=who", |e| "{name}", 50); }}"#
        )
    };
    s.hook("added", "h.rhai", &who("added"));
    eventually("the new plugin", || {
        (answer(&s, "who") == vec![json!("added"), json!("stays")]).then_some(())
    });

    s.hook("tools-1.0.0", "h.rhai", &who("tools 1.0.0"));
    eventually("tools 1.0.0", || {
        answer(&s, "who")
            .contains(&json!("tools 1.0.0"))
            .then_some(())
    });
    s.hook("tools-1.1.0", "h.rhai", &who("tools 1.1.0"));
    eventually("the switch to tools 1.1.0", || {
        let results = answer(&s, "who");
        (results.contains(&json!("tools 1.1.0")) && !results.contains(&json!("tools 1.0.0")))
            .then_some(())
    });

    std::fs::remove_dir_all(s.plugins().join("added")).unwrap();
    eventually("the removed plugin to go", || {
        (!answer(&s, "who").contains(&json!("added"))).then_some(())
    });
    let (plugins, _) = s.plugins_json();
    assert!(!plugins.iter().any(|p| p["name"] == "added"));
    let tools: Vec<_> = plugins.iter().filter(|p| p["name"] == "tools").collect();
    assert_eq!(tools.len(), 2);
    assert!(tools
        .iter()
        .any(|p| p["version"] == "1.1.0" && p["status"] == "loaded"));
    host.signal(libc::SIGTERM);
    assert_eq!(host.finish().0, Some(0));
}

#[cfg(unix)]
#[test]
fn a_rebuilt_native_library_is_picked_up_once_and_the_old_copy_accounted() {
    let s = Sandbox::new();
    let hook = s.plugins().join("native/hook");
    std::fs::create_dir_all(&hook).unwrap();
    let installed = hook.join(library("fixture-faulty").file_name().unwrap());
    std::fs::copy(library("fixture-faulty"), &installed).unwrap();
    let host = start_watching(&s);
    assert_eq!(answer(&s, "native.instance"), vec![json!(1)]);

    // As cargo replaces a library: remove it, then link the new build in its place.
    std::fs::remove_file(&installed).unwrap();
    std::fs::hard_link(library("machine-info"), &installed)
        .or_else(|_| std::fs::copy(library("machine-info"), &installed).map(|_| ()))
        .unwrap();
    let about = eventually("the rebuilt library to answer", || {
        let about = answer(&s, "ftrack.connect.plugin.debug-information");
        about
            .iter()
            .any(|r| r["name"] == "machine-info")
            .then_some(about)
    });
    assert!(!about.is_empty());
    assert!(
        answer(&s, "native.instance").is_empty(),
        "the old build is unsubscribed"
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let plugin = s.plugin("native");
    assert_eq!(plugin["reloads"], 1, "{plugin}");
    assert_eq!(plugin["retired_libraries"], 1, "{plugin}");
    // What the old library keeps mapped: more than nothing, less than its file (which also
    // holds debug information that is never mapped), give or take page rounding.
    let size = std::fs::metadata(library("fixture-faulty")).unwrap().len();
    let held = plugin["retired_library_bytes"].as_u64().unwrap();
    assert!(
        held > 0 && held < size + 64 * 1024,
        "{held} of {size}: {plugin}"
    );
    host.signal(libc::SIGTERM);
    assert_eq!(host.finish().0, Some(0));
}

#[cfg(unix)]
#[test]
fn the_endpoint_is_loopback_only_private_and_checks_the_token() {
    use std::os::unix::fs::PermissionsExt;
    let s = Sandbox::new();
    let host = start_watching(&s);
    let file = s.user_data_dir().join("endpoint.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let endpoint: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let address = endpoint["address"].as_str().unwrap().to_string();
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    let token = endpoint["token"].as_str().unwrap().to_string();

    // A request is two lines: the hello (token and protocol version), then the request.
    let ask = |hello: Value, request: Value| -> Value {
        let mut stream = TcpStream::connect(&address).unwrap();
        // (The host may refuse after the first line and stop reading: a failed write of the
        // second is no error of the host's; its answer is what counts.)
        let _ = stream.write_all(format!("{hello}\n{request}\n").as_bytes());
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    };
    let publish = json!({"request": "publish", "event": {"topic": "ftrack.connect.discover"}});
    let wrong = json!({"protocol": 2, "token": format!("{}x", &token[..token.len() - 1])});
    let refused = ask(wrong, publish.clone());
    assert_eq!(refused["ok"], false);
    assert!(refused["error"].as_str().unwrap().contains("token"));
    let no_token = ask(json!({"protocol": 2}), publish.clone());
    assert_eq!(no_token["ok"], false, "no token, no answer");
    let right = json!({"protocol": 2, "token": token});
    assert_eq!(
        ask(right.clone(), publish.clone()),
        json!({"ok": true, "protocol": 2, "results": [true]})
    );

    // A client of another protocol version (or one from before versions, sending none) is
    // told which versions met and what to do, whatever it asked.
    for version in [None, Some(1)] {
        let mut other = right.clone();
        match version {
            Some(version) => other["protocol"] = json!(version),
            None => drop(other.as_object_mut().unwrap().remove("protocol")),
        }
        let answer = ask(other, publish.clone());
        assert_eq!(answer["ok"], false, "{version:?}");
        assert_eq!(answer["protocol"], 2);
        let error = answer["error"].as_str().unwrap();
        assert!(
            error.contains("protocol version 2") && error.contains("run the same ftrack-connect"),
            "{error}"
        );
    }
    // And a host of another version is refused by this client: an answer without a version
    // (a host from before versions) reads as one.
    let old_host = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let old_address = old_host.local_addr().unwrap();
    std::thread::spawn(move || {
        // The client first checks that someone listens, then asks.
        for stream in old_host.incoming().flatten() {
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut line).unwrap_or(0) > 0 {
                let _ = writeln!(&stream, r#"{{"ok": true, "results": [true]}}"#);
            }
        }
    });
    let other_dir = s.path().join("other-host");
    std::fs::create_dir_all(other_dir.join("ftrack-connect")).unwrap();
    std::fs::write(
        other_dir.join("ftrack-connect/endpoint.json"),
        json!({"address": old_address.to_string(), "token": "t", "pid": 1}).to_string(),
    )
    .unwrap();
    let Captured { code, stderr, .. } = s
        .command()
        .env("XDG_DATA_HOME", &other_dir)
        .args(["event", "publish", "ftrack.connect.discover"])
        .output()
        .unwrap()
        .into();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("an unversioned one") && stderr.contains("this command version 2"),
        "{stderr}"
    );

    host.signal(libc::SIGTERM);
    let (_, stderr) = host.finish();
    assert!(
        stderr.contains("refused a request without the right token"),
        "{stderr}"
    );
    assert!(!file.exists(), "the endpoint file goes with the host");
}

#[cfg(unix)]
#[test]
fn event_watch_prints_matching_events_and_replies() {
    let s = Sandbox::new();
    s.hook(
        "asker",
        "h.rhai",
        r#"fn register(session) {
            let hub = session.event_hub;
            session.event_hub.subscribe("topic=watch.question", |e| "an answer");
            session.event_hub.subscribe("topic=watch.ask", |e| { hub.publish(#{ topic: "watch.question" }, |reply| ()); "asked" });
        }"#,
    );
    let host = start_watching(&s);
    let mut watch = KillOnDrop(
        s.command()
            .args(["event", "watch", "topic=watch* or topic=ftrack.meta.reply"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(watch.0.stdout.take().unwrap()).lines();
    // The watcher is registered once the host has answered it; publish until it sees events.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.by_ref().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen: Vec<Value> = Vec::new();
    eventually("the watched events", || {
        answer(&s, "unrelated.topic");
        answer(&s, "watch.ask");
        while let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            seen.push(serde_json::from_str(&line).expect("each line is an event"));
        }
        let topics: Vec<&str> = seen.iter().filter_map(|e| e["topic"].as_str()).collect();
        (topics.contains(&"watch.ask")
            && topics.contains(&"watch.question")
            && topics.contains(&"ftrack.meta.reply"))
        .then_some(())
    });
    assert!(!seen.iter().any(|e| e["topic"] == "unrelated.topic"));
    let reply = seen
        .iter()
        .find(|e| e["topic"] == "ftrack.meta.reply")
        .unwrap();
    assert_eq!(reply["data"], "an answer");
    assert!(reply["inReplyToEvent"].is_string());
    drop(watch);
    host.signal(libc::SIGTERM);
    assert_eq!(host.finish().0, Some(0));
}

#[test]
fn watch_without_a_running_host_says_so() {
    let s = Sandbox::new();
    let Captured { code, stderr, .. } = s.capture(&["event", "watch"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no ftrack-connect host is running"));
}

#[test]
fn plugin_dir_and_a_new_rhai_plugin_that_works() {
    let s = Sandbox::new();
    let stdout = s.capture(&["plugin", "dir"]).success().stdout;
    let dir = stdout.trim();
    assert_eq!(Path::new(&dir), s.default_plugin_dir());
    assert!(s.default_plugin_dir().is_dir());

    plugin_new(&s, "shot-tools", &[]).success();
    let plugin = s.plugin("shot-tools");
    assert_eq!(plugin["status"], "loaded", "{plugin}");
    let items = s.publish(
        "ftrack.action.discover",
        r#"{"selection": [{"entityId": "1", "entityType": "Task"}]}"#,
    );
    assert_eq!(items[0]["items"][0]["actionIdentifier"], "shot-tools");
    let launched = s.publish(
        "ftrack.action.launch",
        r#"{"actionIdentifier": "shot-tools"}"#,
    );
    assert_eq!(
        launched,
        vec![json!({"success": true, "message": "shot-tools ran"})]
    );

    let again = plugin_new(&s, "shot-tools", &[]);
    assert_eq!(again.code, Some(1));
    assert!(again.stderr.contains("already exists"));
    let bad = s.capture(&["plugin", "new", "../escape"]);
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.contains("invalid plugin name"));

    // Their help offers what they take: a described NAME, and no --plugin-path (they load
    // no plugins).
    let help = s.capture(&["plugin", "new", "--help"]).success().stdout;
    assert!(help.contains("The plugin's name"), "{help}");
    for command in [
        &["plugin", "new", "--help"][..],
        &["plugin", "dir", "--help"],
    ] {
        let help = s.capture(command).success().stdout;
        assert!(!help.contains("--plugin-path"), "{help}");
    }
    let help = s.capture(&["event", "publish", "--help"]).success().stdout;
    assert!(
        help.contains("--plugin-path") && help.contains("The event's topic"),
        "{help}"
    );
}

#[test]
fn a_new_native_plugin_builds_and_loads() {
    let s = Sandbox::new();
    plugin_new(&s, "native-tools", &["--native"]).success();
    let folder = s.plugins().join("native-tools");
    // Share the native test builds' target folder: the dependencies are already built there.
    let target = crate::kit::built().parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = std::process::Command::new(cargo)
        .args(["build", "--quiet", "--offline", "--manifest-path"])
        .arg(folder.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target)
        .status()
        .unwrap();
    assert!(status.success(), "the generated crate builds");
    let name = format!(
        "{}native_tools{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    std::fs::copy(
        target.join("debug").join(&name),
        folder.join("hook").join(&name),
    )
    .unwrap();
    let plugin = s.plugin("native-tools");
    assert_eq!(plugin["kind"], "native", "{plugin}");
    assert_eq!(plugin["status"], "loaded", "{plugin}");
    let launched = s.publish(
        "ftrack.action.launch",
        r#"{"actionIdentifier": "native-tools"}"#,
    );
    assert_eq!(
        launched,
        vec![json!({"success": true, "message": "native-tools ran"})]
    );
}

#[cfg(unix)]
#[test]
fn launcher_configs_added_while_watching_are_offered() {
    let s = Sandbox::new();
    s.hook("studio-apps", "noop.rhai", "fn register(session) {}");
    s.fake_program("apps/painter7/bin/painter");
    let host = start_watching(&s);
    let discover = || {
        s.publish("ftrack.action.discover", r#"{"selection": []}"#)
            .iter()
            .flat_map(|r| r["items"].as_array().cloned().unwrap_or_default())
            .filter_map(|item| item["actionIdentifier"].as_str().map(str::to_string))
            .collect::<Vec<_>>()
    };
    assert!(!discover().contains(&"studio-painter".to_string()));
    let config = json!({
        "identifier": "studio-painter",
        "applicationIdentifier": "painter_{variant}",
        "label": "Painter",
        "variant": "{version}",
        "context": null,
        "search_path": {crate::kit::os_key(): {
            "prefix": [s.path().join("apps"), "painter\\d+"],
            "expression": ["bin", "painter$"]
        }}
    });
    s.write(
        "plugins/studio-apps/launch/painter.json",
        &config.to_string(),
    );
    eventually("the new launcher config to be offered", || {
        discover()
            .contains(&"studio-painter".to_string())
            .then_some(())
    });
    // A broken config added later is reported on its plugin, the good one keeps working.
    s.write("plugins/studio-apps/launch/broken.json", "{ not json");
    let plugin = eventually("the broken config to be reported", || {
        let plugin = s.plugin("studio-apps");
        let warnings = plugin["warnings"].as_array().cloned().unwrap_or_default();
        warnings
            .iter()
            .any(|w| w.as_str().unwrap_or("").contains("broken.json"))
            .then_some(plugin)
    });
    assert_eq!(plugin["warnings"].as_array().unwrap().len(), 1, "{plugin}");
    assert!(discover().contains(&"studio-painter".to_string()));
    host.signal(libc::SIGTERM);
    assert_eq!(host.finish().0, Some(0));
}

#[cfg(unix)]
#[test]
fn without_watch_a_hook_is_compiled_once_and_an_edit_waits_for_a_restart() {
    let s = Sandbox::new();
    let hook = s.hook("once", "once.rhai", &counting_hook("compiled"));
    let mut host = Running::start(&s, &["run"]);
    host.wait_for("is running");
    assert_eq!(answer(&s, "t"), vec![json!(["compiled", 1])]);
    // The file is not read again per call: the running host keeps what it compiled.
    save(&hook, "fn register(session) { this does not even parse }");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(answer(&s, "t"), vec![json!(["compiled", 2])]);
    assert_eq!(s.plugin("once")["error"], Value::Null);
    host.signal(libc::SIGTERM);
    assert_eq!(host.finish().0, Some(0));
}

/// The host's thread count, from /proc.
#[cfg(target_os = "linux")]
fn threads_of(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Without the token, nobody makes the host read more than the hello's few KB, hold a
/// connection past the request deadline, or keep more than a bounded number of threads.
#[cfg(target_os = "linux")]
#[test]
fn the_endpoint_bounds_what_it_reads_and_holds_before_the_token() {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let s = Sandbox::new();
    let host = start_watching(&s);
    let endpoint: Value =
        serde_json::from_slice(&std::fs::read(s.user_data_dir().join("endpoint.json")).unwrap())
            .unwrap();
    let address = endpoint["address"].as_str().unwrap().to_string();

    // A hello of 4 KiB without its newline is refused at once, not read on to 16 MiB.
    let mut stream = TcpStream::connect(&address).unwrap();
    stream.write_all(&[b' '; 4096]).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer).unwrap();
    assert!(
        answer.contains("the hello line is longer than 4096 bytes"),
        "{answer}"
    );

    // A byte now and then does not keep a connection beyond the request deadline (10 s).
    let started = Instant::now();
    let mut slow = TcpStream::connect(&address).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let closed = loop {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "a trickling client kept its connection"
        );
        let _ = slow.write_all(b" ");
        let mut byte = [0u8; 1];
        match slow.read(&mut byte) {
            Ok(0) => break started.elapsed(),
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(err) if err.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break started.elapsed(),
        }
    };
    assert!(closed >= Duration::from_secs(9), "closed after {closed:?}");

    // Idle connections get at most MAX_CONNECTIONS (32) threads; the rest are closed.
    let pid = host.child.id();
    let before = threads_of(pid);
    let idle: Vec<TcpStream> = (0..80)
        .map(|_| TcpStream::connect(&address).unwrap())
        .collect();
    // (Nearly all 32: a thread counted in `before` may have ended since, the trickling
    // client's.)
    let grown = crate::kit::eventually("the host to take the connections", || {
        let grown = threads_of(pid).saturating_sub(before);
        (grown >= 28).then_some(grown)
    });
    std::thread::sleep(Duration::from_millis(300));
    let grown = grown.max(threads_of(pid).saturating_sub(before));
    assert!(grown <= 32, "{grown} threads for 80 idle connections");
    drop(idle);
    // Once they are gone, the host answers as before.
    crate::kit::eventually("the host to answer again", || {
        let captured = s.capture(&["event", "publish", "ftrack.connect.discover"]);
        (captured.code == Some(0)).then_some(())
    });
    assert_eq!(
        s.publish("ftrack.connect.discover", "{}"),
        vec![json!(true)]
    );
}

/// A hook that is a symlink to a file outside the plugin folders (a shared checkout): editing
/// the file it points to reloads the plugin, as editing the hook would.
#[cfg(unix)]
#[test]
fn editing_the_target_of_a_symlinked_hook_reloads_it() {
    let s = Sandbox::new();
    let shared = s.write("checkout/linked.rhai", &counting_hook("v1"));
    std::fs::create_dir_all(s.plugins().join("linked/hook")).unwrap();
    std::os::unix::fs::symlink(&shared, s.plugins().join("linked/hook/linked.rhai")).unwrap();
    let mut host = start_watching(&s);
    assert_eq!(answer(&s, "t"), vec![json!(["v1", 1])]);
    save(&shared, &counting_hook("v2"));
    // Waiting on the host's own word: a failure shows everything it logged.
    host.wait_for("plugin 'linked' reloaded");
    assert_eq!(answer(&s, "t"), vec![json!(["v2", 1])]);
}
