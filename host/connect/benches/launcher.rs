//! Latency of one `ftrack.action.discover` (for a task) answered by the application launcher
//! with 50 launcher configs, each finding 2 installed versions of a fake application in a
//! temporary folder: 100 items. It goes through the whole host (`Host::load` with the configs
//! in a folder of `FTRACK_APPLICATION_LAUNCHER_CONFIG_PATHS`, then a synchronous publish on its
//! hub), warm: the installed versions were found by a first discover and are cached.
//!
//! Run: `cargo bench -p ftrack-connect --bench launcher`

use std::path::Path;

use connect_core::Identity;
use connect_event::Event;
use connect_launcher::platform;
use connect_plugins::discovery::SearchPaths;
use criterion::{criterion_group, criterion_main, Criterion};
use ftrack_connect::host::{Host, HostOptions};
use serde_json::json;

const CONFIGS: usize = 50;
const VERSIONS: [&str; 2] = ["2023.2", "2024.1"];

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// 50 configs, each with two installed versions of its application.
fn installation(root: &Path) {
    for i in 0..CONFIGS {
        for version in VERSIONS {
            write(
                &root.join(format!("apps/app{i}/app{i}-{version}/bin/app")),
                "",
            );
        }
        let config = json!({
            "identifier": format!("studio-launch-app{i}"),
            "applicationIdentifier": format!("app{i}_{{variant}}"),
            "label": format!("App {i}"),
            "icon": "default",
            "variant": "{version}",
            "context": ["Task"],
            "search_path": {
                platform(): {
                    "prefix": [root.join(format!("apps/app{i}")), format!("app{i}-.+")],
                    "expression": ["bin", "app$"],
                    "version_expression": "-(?P<version>\\d+(\\.\\d+)*)"
                }
            }
        });
        write(
            &root.join(format!("configs/app{i}.json")),
            &config.to_string(),
        );
    }
}

fn discover(host: &Host) -> usize {
    let mut event = Event::new("ftrack.action.discover").with_data(json!({
        "selection": [{"entityType": "Task", "entityId": "4c1e0c5a"}]
    }));
    host.hub()
        .publish(&mut event)
        .iter()
        .filter_map(|reply| reply.get("items")?.as_array())
        .map(Vec::len)
        .sum()
}

fn action_discover(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    installation(tmp.path());
    let identity = Identity {
        api_user: "alice".into(),
        server_url: "https://studio.example.com".into(),
        api_key: None,
        signed_in: false,
    };
    let options = HostOptions {
        search_paths: SearchPaths::default(),
        native_copy_dir: tmp.path().join("native"),
        launcher_config_paths: vec![tmp.path().join("configs")],
        isolate_native: None,
        python: ftrack_connect::host::PythonOptions::from_environment(""),
        change_tracking: ftrack_connect::host::ChangeTracking::On,
    };
    let host = Host::load(&identity, &options);
    // The first discover finds the installed versions; the measured ones use the cache.
    assert_eq!(discover(&host), CONFIGS * VERSIONS.len());
    c.bench_function("launcher/discover-50-configs-warm", |b| {
        b.iter(|| discover(&host))
    });
}

criterion_group!(benches, action_discover);
criterion_main!(benches);
