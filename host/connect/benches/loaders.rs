//! Loading plugins: discovering and registering 200 Rhai plugin folders (what `event publish
//! --standalone` and `run` do at start-up; native loading is timed by the `reload` bench). The
//! start-up workload of `scripts/bench-vs-python.sh` times the whole process; this
//! isolates the host's part of it.
//!
//! Run: `cargo bench -p ftrack-connect --bench loaders`

use std::path::Path;

use connect_core::Identity;
use connect_plugins::discovery::{self, SearchPaths};
use criterion::{criterion_group, criterion_main, Criterion};
use ftrack_connect::host::{Host, HostOptions};

/// Writes `count` plugin folders like `python_reference.py make-plugins`, with Rhai hooks.
fn write_rhai_plugins(root: &Path, count: usize) {
    for i in 1..=count {
        let hook = root.join(format!("plugin_{i}")).join("hook");
        std::fs::create_dir_all(&hook).unwrap();
        std::fs::write(
            hook.join("hook.rhai"),
            format!(
                "fn discover(event) {{\n    #{{ items: [#{{ label: \"App {i}\", actionIdentifier: \"app-{i}\", variant: \"1.{i}\" }}] }}\n}}\n\
                 fn register(session) {{\n    session.event_hub.subscribe(\"topic=ftrack.action.discover\", Fn(\"discover\"));\n}}\n"
            ),
        )
        .unwrap();
    }
}

fn loading(c: &mut Criterion) {
    let temp = tempfile::tempdir().unwrap();
    let plugins = temp.path().join("plugins");
    write_rhai_plugins(&plugins, 200);
    let options = HostOptions {
        search_paths: SearchPaths {
            plugin_roots: vec![plugins],
            hook_dirs: Vec::new(),
        },
        native_copy_dir: temp.path().join("native-copies"),
        launcher_config_paths: Vec::new(),
        isolate_native: None,
        python: ftrack_connect::host::PythonOptions::from_environment(""),
        change_tracking: ftrack_connect::host::ChangeTracking::On,
    };
    let identity = Identity {
        api_user: "alice".into(),
        server_url: String::new(),
        api_key: None,
        signed_in: false,
    };
    let mut group = c.benchmark_group("load");
    group.sample_size(20);
    group.bench_function("discover-200-plugin-folders", |b| {
        b.iter(|| discovery::discover(&options.search_paths).plugins.len())
    });
    group.bench_function("host-200-rhai-plugins", |b| {
        b.iter(|| Host::load(&identity, &options))
    });
    group.finish();
}

criterion_group!(benches, loading);
criterion_main!(benches);
