//! The Rust side of `scripts/bench-vs-python.sh`: the in-process workloads of
//! `python_reference.py`, run on this host's real parts, printed as `NAME: rust <us> us`.
//!
//! - `dispatch`, `dispatch-10k`: one synchronous publish reaching one native handler (the
//!   `fixture-bench` plugin loaded through `native_hook::load`) among 101 / 10,001
//!   subscriptions; `dispatch-rhai`: the same with a Rhai handler;
//! - `discover-fanout`: `ftrack.action.discover` answered by the Rhai hooks of every plugin
//!   folder in `--rhai-plugins` (200 in the script), each compiled and registered as the host
//!   does it; `discover-fanout-native`: answered by 200 native handlers.
//!
//! Also, for context: `dispatch-host` (a Rust handler inside the host: the hub's own floor),
//! `discover-fanout-rhai-floor` (the same hooks' functions called by Rhai alone, see
//! [`rhai_alone`])
//! and `discover-fanout[-native]-as-json` (every result converted to a `serde_json::Value`;
//! the workloads proper take results as the handlers made them, as the host's own readers do,
//! see `connect_core::reply`).
//!
//! Each figure is the median of five rounds of about 0.2 s each, per published event, with
//! the event built in the loop as the Python side does.
//!
//! Run through the script, or:
//! `cargo run --release -p ftrack-connect --example bench_vs_python -- --native-library LIB --rhai-plugins DIR`

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connect_core::{EventForms, EventHub, Handler, HandlerCall, PluginTag, Reply};
use connect_event::Event;
use connect_native as native_hook;
use connect_plugins::SessionInfo;
use connect_rhai::{plugin_engine, CompiledHook, PluginFolders};
use serde_json::json;

/// The allocator the `ftrack-connect` binary uses, so the figures are the host's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    native_library: PathBuf,
    rhai_plugins: PathBuf,
    only: Option<String>,
}

#[path = "../benches/common/mod.rs"]
mod common;

fn options() -> Options {
    let mut native_library = None;
    let mut rhai_plugins = None;
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--native-library" => native_library = args.next().map(PathBuf::from),
            "--rhai-plugins" => rhai_plugins = args.next().map(PathBuf::from),
            "--only" => only = args.next(),
            other => panic!("unknown argument {other:?}"),
        }
    }
    Options {
        native_library: native_library.expect("--native-library LIB"),
        rhai_plugins: rhai_plugins.expect("--rhai-plugins DIR"),
        only,
    }
}

fn session_info() -> SessionInfo {
    SessionInfo {
        api_user: "alice".into(),
        server_url: String::new(),
        api: None,
    }
}

fn load_native(hub: &Arc<EventHub>, library: &Path, copies: &Path, fanout: usize) {
    if fanout == 0 {
        std::env::remove_var("FIXTURE_BENCH_FANOUT");
    } else {
        std::env::set_var("FIXTURE_BENCH_FANOUT", fanout.to_string());
    }
    let module = native_hook::load(library, copies).expect("the bench fixture loads");
    module
        .register(hub, &PluginTag::new("fixture-bench"), &session_info())
        .expect("the bench fixture registers");
}

fn load_rhai_source(hub: &Arc<EventHub>, name: &str, file: &str, source: &str) {
    let tag = PluginTag::new(name);
    let folders = PluginFolders {
        root: std::env::temp_dir(),
        library_dirs: Vec::new(),
    };
    let engine = Arc::new(plugin_engine(&tag, &folders));
    let hook = Arc::new(CompiledHook::compile_source(engine, tag, file, source).unwrap());
    hook.register(hub, &session_info()).unwrap();
}

/// Loads `DIR/*/hook/*.rhai` as the host loads plugin folders: one engine per plugin.
fn load_rhai_plugins(hub: &Arc<EventHub>, root: &Path) -> usize {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("the Rhai plugin folder exists")
        .map(|entry| entry.unwrap().path())
        .collect();
    folders.sort();
    for folder in &folders {
        let name = folder.file_name().unwrap().to_string_lossy().into_owned();
        let tag = PluginTag::new(&name);
        let plugin_folders = PluginFolders {
            root: folder.clone(),
            library_dirs: Vec::new(),
        };
        let engine = Arc::new(plugin_engine(&tag, &plugin_folders));
        let hook_path = folder.join("hook").join("hook.rhai");
        let hook = Arc::new(CompiledHook::compile(engine, tag, &hook_path).unwrap());
        hook.register(hub, &session_info()).unwrap();
    }
    folders.len()
}

/// Rhai's own floor for `discover-fanout`: microseconds for the `discover` function of every
/// hook in `DIR/*/hook/hook.rhai`, compiled on its plugin's engine and called from Rust through
/// Rhai's entry point (`Engine::call_fn_with_options`) with no event, results kept until the
/// round ends: nothing of the host around it.
fn rhai_alone(root: &Path) -> f64 {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("the Rhai plugin folder exists")
        .map(|entry| entry.unwrap().path())
        .collect();
    folders.sort();
    let hooks: Vec<(rhai::Engine, rhai::AST)> = folders
        .iter()
        .map(|folder| {
            let name = folder.file_name().unwrap().to_string_lossy().into_owned();
            let plugin_folders = PluginFolders {
                root: folder.clone(),
                library_dirs: Vec::new(),
            };
            let engine = plugin_engine(&PluginTag::new(&name), &plugin_folders);
            let ast = engine
                .compile_file(folder.join("hook").join("hook.rhai"))
                .expect("the hook compiles");
            (engine, ast)
        })
        .collect();
    let call_all = || {
        hooks
            .iter()
            .map(|(engine, ast)| {
                engine
                    .call_fn_with_options::<rhai::Dynamic>(
                        rhai::CallFnOptions::new().eval_ast(false),
                        &mut rhai::Scope::new(),
                        ast,
                        "discover",
                        (rhai::Dynamic::UNIT,),
                    )
                    .expect("the hook answers")
            })
            .collect::<Vec<_>>()
    };
    assert!(call_all().iter().all(|result| result.is_map()));
    median_micros(|| {
        call_all();
    })
}

/// How a workload's publisher takes the results.
#[derive(Clone, Copy)]
enum Results {
    /// As the handlers made them ([`EventHub::publish_replies`]): what the endpoint, `event
    /// publish` and publishing hooks take, each converting once to the form it needs.
    AsMade,
    /// Every result converted to a `serde_json::Value` ([`EventHub::publish`]).
    AsJson,
}

fn publish(hub: &EventHub, topic: &str, results: Results) -> usize {
    let mut event = Event::new(topic).with_data(json!({"kind": "x", "selection": []}));
    match results {
        Results::AsMade => hub.publish_replies(&mut event).len(),
        Results::AsJson => hub.publish(&mut event).len(),
    }
}

/// Microseconds per published event: the median of five rounds of about 0.2 s.
fn per_event(hub: &EventHub, topic: &str, expected_results: usize) -> f64 {
    per_event_taking(hub, topic, expected_results, Results::AsMade)
}

/// A fan-out's floor: microseconds for the handlers `topic` reaches, called directly in a
/// loop on one event (as the loader wraps each, results kept until the round ends), without
/// the hub: no publish, no event made, no subscription looked up.
fn floor(hub: &EventHub, topic: &str) -> f64 {
    let handlers = hub.handlers_on(topic);
    let mut event = Event::new(topic).with_data(json!({"kind": "x", "selection": []}));
    let mut call_all = || {
        let mut forms = EventForms::default();
        let replies: Vec<Reply> = handlers
            .iter()
            .map(|handler| {
                let mut call = HandlerCall::new(&mut event, &mut forms);
                handler.handle(&mut call).expect("the handler answers")
            })
            .collect();
        replies.len()
    };
    assert_eq!(call_all(), handlers.len());
    median_micros(|| {
        call_all();
    })
}

fn per_event_taking(hub: &EventHub, topic: &str, expected_results: usize, results: Results) -> f64 {
    assert_eq!(
        publish(hub, topic, results),
        expected_results,
        "results of {topic}"
    );
    median_micros(|| {
        publish(hub, topic, results);
    })
}

/// Microseconds per run of `work`: the median of five rounds of about 0.2 s.
fn median_micros(mut work: impl FnMut()) -> f64 {
    let mut batch = 1usize;
    loop {
        let start = Instant::now();
        for _ in 0..batch {
            work();
        }
        if start.elapsed() >= Duration::from_millis(20) {
            break;
        }
        batch *= 2;
    }
    let iterations = batch * 10;
    let mut rounds: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                work();
            }
            start.elapsed().as_secs_f64() * 1e6 / iterations as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[2]
}

/// The lines each fan-out prints: the workload, its floor, and with every result as JSON.
const FANOUT_VARIANTS: [&str; 3] = ["", "-floor", "-as-json"];

/// Reports the variants of fan-out `name` that are wanted, `handlers` answering on `hub`.
fn report_fanout(hub: &EventHub, name: &str, handlers: usize, wanted: impl Fn(&str) -> bool) {
    let topic = "ftrack.action.discover";
    for variant in FANOUT_VARIANTS {
        let line = format!("{name}{variant}");
        if !wanted(&line) {
            continue;
        }
        let micros = match variant {
            "" => per_event(hub, topic, handlers),
            "-floor" => floor(hub, topic),
            _ => per_event_taking(hub, topic, handlers, Results::AsJson),
        };
        report(&line, micros);
    }
}

fn report(name: &str, micros: f64) {
    println!("{name}: rust {micros:.3} us");
}

fn main() {
    let options = options();
    let copies =
        std::env::temp_dir().join(format!("connect-bench-vs-python-{}", std::process::id()));
    let wanted = |name: &str| match options.only.as_deref() {
        Some(only) => only == name,
        None => true,
    };

    if wanted("dispatch") {
        let hub = common::hub_with_others(100);
        load_native(&hub, &options.native_library, &copies, 0);
        report("dispatch", per_event(&hub, "bench.target", 1));
    }
    if wanted("dispatch-host") {
        // Not a workload of the issue: the hub's own floor, a Rust handler inside the host.
        let hub = common::hub_with_others(100);
        let handler: Arc<dyn Handler> = Arc::new(|_: &mut Event| Ok(json!({"ok": true})));
        hub.subscribe(
            "topic=bench.target and data.kind=x",
            handler,
            Default::default(),
        )
        .unwrap();
        report("dispatch-host", per_event(&hub, "bench.target", 1));
    }
    if wanted("dispatch-rhai") {
        let hub = common::hub_with_others(100);
        load_rhai_source(
            &hub,
            "bench-rhai",
            "bench.rhai",
            r#"fn register(session) {
                session.event_hub.subscribe("topic=bench.target and data.kind=x", |e| #{ ok: true });
            }"#,
        );
        report("dispatch-rhai", per_event(&hub, "bench.target", 1));
    }
    if wanted("dispatch-10k") {
        let hub = common::hub_with_others(10_000);
        load_native(&hub, &options.native_library, &copies, 0);
        report("dispatch-10k", per_event(&hub, "bench.target", 1));
    }
    if FANOUT_VARIANTS
        .iter()
        .any(|variant| wanted(&format!("discover-fanout{variant}")))
    {
        let hub = common::hub_with_others(0);
        let hooks = load_rhai_plugins(&hub, &options.rhai_plugins);
        report_fanout(&hub, "discover-fanout", hooks, wanted);
    }
    if wanted("discover-fanout-rhai-floor") {
        report(
            "discover-fanout-rhai-floor",
            rhai_alone(&options.rhai_plugins),
        );
    }
    if wanted("discover-fanout-host") {
        // Not a workload of the issue: the hub's own cost of a fan-out, 200 Rust handlers
        // inside the host answering null.
        let hub = common::hub_with_others(0);
        let handler: Arc<dyn Handler> = Arc::new(|_: &mut Event| Ok(serde_json::Value::Null));
        for _ in 0..200 {
            hub.subscribe(
                "topic=ftrack.action.discover",
                handler.clone(),
                Default::default(),
            )
            .unwrap();
        }
        report(
            "discover-fanout-host",
            per_event(&hub, "ftrack.action.discover", 200),
        );
    }
    if FANOUT_VARIANTS
        .iter()
        .any(|variant| wanted(&format!("discover-fanout-native{variant}")))
    {
        let hub = common::hub_with_others(0);
        load_native(&hub, &options.native_library, &copies, 200);
        report_fanout(&hub, "discover-fanout-native", 200, wanted);
    }
    let _ = std::fs::remove_dir_all(copies);
}
