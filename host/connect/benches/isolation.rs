//! What running a native plugin out of process (`run --isolate-native`) costs one dispatch:
//! `native.instance` answered by the `fixture-faulty` plugin (built in release mode) loaded
//! by the host in process, and isolated in a child process of the `ftrack-connect` binary.
//! Also a handler that publishes back through the host (`native.ask`: two crossings each
//! way), and what loading the plugin costs each way.
//!
//! Run: `cargo bench -p ftrack-connect --bench isolation`

use std::time::Duration;

use connect_core::Identity;
use connect_event::Event;
use connect_isolate::{IsolationOptions, DEFAULT_TIME_LIMIT};
use connect_plugins::discovery::SearchPaths;
use criterion::{criterion_group, criterion_main, Criterion};
use ftrack_connect::host::{Host, HostOptions};
use serde_json::json;

mod common;

fn options(root: &std::path::Path, isolated: bool) -> HostOptions {
    let copies = root.join("native-copies");
    HostOptions {
        search_paths: SearchPaths {
            plugin_roots: vec![root.join("plugins")],
            hook_dirs: Vec::new(),
        },
        native_copy_dir: copies.clone(),
        launcher_config_paths: Vec::new(),
        isolate_native: isolated.then(|| IsolationOptions {
            program: env!("CARGO_BIN_EXE_ftrack-connect").into(),
            copy_dir: copies,
            time_limit: DEFAULT_TIME_LIMIT,
        }),
        python: ftrack_connect::host::PythonOptions::from_environment(""),
        change_tracking: ftrack_connect::host::ChangeTracking::On,
    }
}

fn isolation(c: &mut Criterion) {
    let temp = tempfile::tempdir().unwrap();
    let library = common::release_library("fixture-faulty");
    let hook = temp.path().join("plugins/faulty/hook");
    std::fs::create_dir_all(&hook).unwrap();
    std::fs::copy(&library, hook.join(library.file_name().unwrap())).unwrap();
    let identity = Identity {
        api_user: "alice".into(),
        server_url: String::new(),
        api_key: None,
        signed_in: false,
    };
    let mut group = c.benchmark_group("isolation");
    for (name, isolated) in [("in-process", false), ("isolated", true)] {
        let host = Host::load(&identity, &options(temp.path(), isolated));
        let publish = |topic: &str| {
            let mut event = Event::new(topic).with_data(json!({"kind": "x", "selection": []}));
            host.hub().publish(&mut event)
        };
        assert_eq!(publish("native.instance"), vec![json!(1)], "{name}");
        group.bench_function(format!("dispatch/{name}"), |b| {
            b.iter(|| publish("native.instance").len())
        });
        assert_eq!(publish("native.ask")[0]["results"], json!(["asked"]));
        group.bench_function(format!("publish-back/{name}"), |b| {
            b.iter(|| publish("native.ask").len())
        });
    }
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for (name, isolated) in [("in-process", false), ("isolated", true)] {
        let options = options(temp.path(), isolated);
        group.bench_function(format!("load/{name}"), |b| {
            b.iter(|| Host::load(&identity, &options))
        });
    }
    group.finish();
}

criterion_group!(benches, isolation);
criterion_main!(benches);
