//! Development mode: how long from saving a hook to the new handler answering, and how much
//! memory each native reload keeps. Runs the real `ftrack-connect run --watch` on temporary
//! plugin folders and asks it through its endpoint, as `event publish` does.
//!
//! Run: `cargo bench -p ftrack-connect --bench reload`
//! Goal: a saved edit answers in under 200 ms, debounce included.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ftrack_connect::endpoint::Client;
use serde_json::{json, Value};

mod common;

const EDITS: usize = 30;
const NATIVE_RELOADS: usize = 10;

struct Host {
    child: Child,
    data: std::path::PathBuf,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(root: &Path) -> Host {
    let data = root.join("data");
    let child = Command::new(env!("CARGO_BIN_EXE_ftrack-connect"))
        .args(["run", "--watch", "--allow-multiple", "--silent"])
        .env("XDG_DATA_HOME", &data)
        .env("HOME", root)
        .env("FTRACK_CONNECT_PLUGIN_PATH", root.join("plugins"))
        .env_remove("FTRACK_EVENT_PLUGIN_PATH")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("host starts");
    let data = data.join("ftrack-connect");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Client::find(&data).is_none() {
        assert!(Instant::now() < deadline, "the host did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    Host { child, data }
}

fn publish(client: &Client, topic: &str) -> Value {
    client
        .publish(connect_event::Event::new(topic))
        .map(Value::from)
        .unwrap_or(Value::Null)
}

/// Waits until `topic` answers `expected`; returns how long that took.
fn time_until(client: &Client, topic: &str, expected: &Value, since: Instant) -> Duration {
    loop {
        if &publish(client, topic) == expected {
            return since.elapsed();
        }
        assert!(since.elapsed() < Duration::from_secs(10), "no reload");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn hook(answer: usize) -> String {
    format!(
        r#"fn register(session) {{ session.event_hub.subscribe("topic=bench.reload", |e| {answer}); }}"#
    )
}

fn rhai_edit_to_answer(root: &Path) {
    let file = root.join("plugins/edited/hook/edited.rhai");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, hook(0)).unwrap();
    let host = start(root);
    let client = Client::find(&host.data).unwrap();
    let mut times = Vec::new();
    for edit in 1..=EDITS {
        // As editors save: a temporary file renamed over the hook.
        let temporary = file.with_extension("tmp");
        std::fs::write(&temporary, hook(edit)).unwrap();
        let saved = Instant::now();
        std::fs::rename(&temporary, &file).unwrap();
        times.push(time_until(&client, "bench.reload", &json!([edit]), saved));
        // Let the watcher settle so edits do not share a debounce window.
        std::thread::sleep(Duration::from_millis(150));
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "reload/rhai-edit-to-answer: median {:.1} ms, p90 {:.1} ms, max {:.1} ms (n={EDITS}, goal < 200 ms)",
        ms(times[EDITS / 2]),
        ms(times[EDITS * 9 / 10]),
        ms(times[EDITS - 1])
    );
}

fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The running host's `plugins` entry of the plugin named `native`.
fn native_report(client: &Client) -> Value {
    let plugins = client.plugins().unwrap();
    plugins
        .into_iter()
        .find(|p| p.name == "native")
        .map_or(Value::Null, |p| serde_json::to_value(p).unwrap())
}

fn native_reload_memory(root: &Path) {
    let builds = [
        common::release_library("fixture-faulty"),
        common::release_library("machine-info"),
    ];
    let hook = root.join("plugins/native/hook");
    std::fs::create_dir_all(&hook).unwrap();
    let installed = hook.join("libplugin.so");
    std::fs::copy(&builds[0], &installed).unwrap();
    let host = start(root);
    let client = Client::find(&host.data).unwrap();
    assert_eq!(publish(&client, "native.instance"), json!([1]));
    let before = resident_kib(host.child.id());
    let started = Instant::now();
    for reload in 1..=NATIVE_RELOADS {
        // As cargo replaces a library: remove, then put the new build in place.
        let build = &builds[reload % 2];
        std::fs::remove_file(&installed).unwrap();
        std::fs::copy(build, &installed).unwrap();
        let (topic, answered) = if reload % 2 == 0 {
            ("native.instance", json!([1]))
        } else {
            ("bench.none", json!([]))
        };
        loop {
            if native_report(&client)["reloads"] == json!(reload) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "no reload");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(publish(&client, topic), answered);
        std::thread::sleep(Duration::from_millis(150));
    }
    let after = resident_kib(host.child.id());
    let native = native_report(&client);
    println!(
        "reload/native-memory-per-reload: resident +{:.0} KiB per reload; {} retired libraries keep {} KiB mapped (n={NATIVE_RELOADS})",
        (after.saturating_sub(before)) as f64 / NATIVE_RELOADS as f64,
        native["retired_libraries"],
        native["retired_library_bytes"].as_u64().unwrap_or(0) / 1024,
    );
}

fn main() {
    // `cargo test --benches` runs benchmarks with `--test`: nothing to check here then.
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    rhai_edit_to_answer(&root.path().join("rhai"));
    native_reload_memory(&root.path().join("native"));
}
