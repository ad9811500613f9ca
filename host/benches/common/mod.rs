//! Shared by the benchmarks: native plugins built in release mode.

use std::path::{Path, PathBuf};

/// Builds workspace crate `name` (a native plugin) in release mode, in a target folder of its
/// own (the one running the benchmark is locked by cargo); returns its library.
pub fn release_library(name: &str) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
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
