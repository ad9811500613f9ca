//! Shared by the benchmarks and `examples/bench_vs_python.rs`: native plugins built in
//! release mode, and hubs shaped like `python_reference.py`'s. Each user needs only part.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use connect_core::{EventHub, Handler, HubIdentity};
use connect_event::Event;
use serde_json::Value;

/// A hub with `others` idle subscriptions on other topics, as `python_reference.py` makes.
pub fn hub_with_others(others: usize) -> Arc<EventHub> {
    let hub = Arc::new(EventHub::new(HubIdentity::local("alice")));
    let idle: Arc<dyn Handler> = Arc::new(|_: &mut Event| Ok(Value::Null));
    for i in 0..others {
        hub.subscribe(
            &format!("topic=bench.other.{i} and data.kind=x"),
            idle.clone(),
            Default::default(),
        )
        .unwrap();
    }
    hub
}

/// Builds workspace crate `name` (a native plugin) in release mode, in a target folder of its
/// own (the one running the benchmark is locked by cargo); returns its library.
pub fn release_library(name: &str) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = workspace.join("target").join("native-bench-builds");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = std::process::Command::new(cargo)
        .current_dir(workspace)
        .args(["build", "--quiet", "--release", "--locked", "-p", name])
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {name} failed");
    target.join("release").join(format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        name.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    ))
}
