//! Cost of one synchronous publish reaching one matching handler, with 10 and with 10,000
//! subscriptions on other topics (the index must make these about equal): a Rust handler in
//! the host, a Rhai handler, and a native plugin's handler across the stable ABI (the
//! `fixture-faulty` plugin, built in release mode first). Mirrors
//! `shared/anchors/python_reference.py dispatch[-10k]`.
//!
//! Also `ftrack.action.discover` answered by 200 Rhai hooks, and by 200 native handlers; and
//! subscribing 50,000 and 200,000 handlers to one topic (`subscribe/*`).
//!
//! Run: `cargo bench -p ftrack-connect --bench dispatch`

use std::sync::Arc;

use connect_core::{EventHub, PluginTag};
use connect_event::Event;
use connect_native as native_hook;
use connect_plugins::SessionInfo;
use connect_rhai::{plugin_engine, CompiledHook, PluginFolders};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

mod common;
use serde_json::json;

fn publish_once(hub: &EventHub) -> usize {
    let mut event = Event::new("bench.target").with_data(json!({"kind": "x", "selection": []}));
    hub.publish(&mut event).len()
}

fn one_matching_handler(c: &mut Criterion) {
    let mut group = c.benchmark_group("dispatch");
    for others in [10usize, 10_000] {
        let hub = common::hub_with_others(others);
        hub.subscribe(
            "topic=bench.target and data.kind=x",
            Arc::new(|_: &mut Event| Ok(json!({"ok": true}))),
            Default::default(),
        )
        .unwrap();
        assert_eq!(publish_once(&hub), 1);
        group.bench_with_input(BenchmarkId::new("rust-handler", others), &hub, |b, hub| {
            b.iter(|| publish_once(hub))
        });
    }
    for others in [10usize, 10_000] {
        let hub = common::hub_with_others(others);
        let tag = connect_core::PluginTag::new("bench");
        let folders = PluginFolders {
            root: std::env::temp_dir(),
            library_dirs: Vec::new(),
        };
        let engine = Arc::new(plugin_engine(&tag, &folders));
        let hook = Arc::new(
            CompiledHook::compile_source(
                engine,
                tag,
                "bench.rhai",
                r#"fn register(session) {
                    session.event_hub.subscribe("topic=bench.target and data.kind=x", |e| #{ ok: true });
                }"#,
            )
            .unwrap(),
        );
        let info = SessionInfo {
            api_user: "alice".into(),
            server_url: String::new(),
            api: None,
        };
        hook.register(&hub, &info).unwrap();
        assert_eq!(publish_once(&hub), 1);
        group.bench_with_input(BenchmarkId::new("rhai-handler", others), &hub, |b, hub| {
            b.iter(|| publish_once(hub))
        });
    }
    let library = common::release_library("fixture-faulty");
    let copies = std::env::temp_dir().join(format!("connect-bench-{}", std::process::id()));
    for others in [10usize, 10_000] {
        let hub = common::hub_with_others(others);
        let module = native_hook::load(&library, &copies).expect("fixture loads");
        let info = SessionInfo {
            api_user: "alice".into(),
            server_url: String::new(),
            api: None,
        };
        module
            .register(&hub, &PluginTag::new("native"), &info)
            .unwrap();
        let mut event = Event::new("native.instance");
        assert_eq!(hub.publish(&mut event), vec![json!(1)]);
        group.bench_with_input(
            BenchmarkId::new("native-handler", others),
            &hub,
            |b, hub| {
                b.iter(|| {
                    let mut event = Event::new("native.instance")
                        .with_data(json!({"kind": "x", "selection": []}));
                    hub.publish(&mut event).len()
                })
            },
        );
    }
    let _ = std::fs::remove_dir_all(copies);
    group.finish();
}

/// `ftrack.action.discover` answered by 200 handlers, each returning one action item: Rhai
/// hooks (one plugin, engine and compiled hook each, as the host loads plugin folders) and a
/// native plugin's handlers. Mirrors `python_reference.py discover-fanout`.
fn discover_fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("discover-fanout");
    let hub = common::hub_with_others(0);
    let info = SessionInfo {
        api_user: "alice".into(),
        server_url: String::new(),
        api: None,
    };
    for i in 0..200 {
        let tag = PluginTag::new(&format!("plugin_{i}"));
        let folders = PluginFolders {
            root: std::env::temp_dir(),
            library_dirs: Vec::new(),
        };
        let engine = Arc::new(plugin_engine(&tag, &folders));
        let source = format!(
            "fn discover(event) {{ #{{ items: [#{{ label: \"App {i}\", actionIdentifier: \"app-{i}\", variant: \"1.{i}\" }}] }} }}\n\
             fn register(session) {{ session.event_hub.subscribe(\"topic=ftrack.action.discover\", Fn(\"discover\")); }}"
        );
        let hook =
            Arc::new(CompiledHook::compile_source(engine, tag, "hook.rhai", &source).unwrap());
        hook.register(&hub, &info).unwrap();
    }
    // Results as the handlers made them (what the host's readers take), and as JSON values.
    let discover = |hub: &EventHub| {
        let mut event =
            Event::new("ftrack.action.discover").with_data(json!({"kind": "x", "selection": []}));
        hub.publish_replies(&mut event).len()
    };
    let discover_as_json = |hub: &EventHub| {
        let mut event =
            Event::new("ftrack.action.discover").with_data(json!({"kind": "x", "selection": []}));
        hub.publish(&mut event).len()
    };
    assert_eq!(discover(&hub), 200);
    group.bench_function("rhai-200", |b| b.iter(|| discover(&hub)));
    group.bench_function("rhai-200-as-json", |b| b.iter(|| discover_as_json(&hub)));

    let library = common::release_library("fixture-bench");
    let copies = std::env::temp_dir().join(format!("connect-bench-fanout-{}", std::process::id()));
    let hub = common::hub_with_others(0);
    std::env::set_var("FIXTURE_BENCH_FANOUT", "200");
    let module = native_hook::load(&library, &copies).expect("fixture loads");
    module
        .register(&hub, &PluginTag::new("fixture-bench"), &info)
        .unwrap();
    std::env::remove_var("FIXTURE_BENCH_FANOUT");
    assert_eq!(discover(&hub), 200);
    group.bench_function("native-200", |b| b.iter(|| discover(&hub)));
    group.bench_function("native-200-as-json", |b| b.iter(|| discover_as_json(&hub)));
    let _ = std::fs::remove_dir_all(copies);
    group.finish();
}

/// Subscribing N handlers to one topic from one plugin into an empty hub (what one `register`
/// with many subscriptions costs): linear in N, where a sorted vector per topic made it
/// quadratic (200,000 took 24 s).
fn subscribe_many(c: &mut Criterion) {
    let mut group = c.benchmark_group("subscribe");
    group.sample_size(10);
    for count in [50_000usize, 200_000] {
        group.bench_with_input(BenchmarkId::from_parameter(count), &count, |b, &count| {
            b.iter(|| {
                let hub = EventHub::new(connect_core::HubIdentity::local("alice"));
                let tag = PluginTag::new("many");
                let idle: Arc<dyn connect_core::Handler> =
                    Arc::new(|_: &mut Event| Ok(serde_json::Value::Null));
                for i in 0..count {
                    let options = connect_core::SubscribeOptions {
                        priority: (i % 7) as i64,
                        plugin: Some(tag.clone()),
                        ..Default::default()
                    };
                    hub.subscribe("topic=bench.many", idle.clone(), options)
                        .unwrap();
                }
                hub
            })
        });
    }
}

criterion_group!(
    benches,
    one_matching_handler,
    discover_fanout,
    subscribe_many
);
criterion_main!(benches);
