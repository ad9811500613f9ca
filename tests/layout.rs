//! The workspace's layout rules (README, "Project layout"), checked: which crate may depend on
//! which, no source file over 1,000 lines, and every library crate documented.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Each crate of the host and the plugin API, with the workspace crates it may depend on and
/// the outside crates it must not.
const RULES: &[(&str, &[&str], &[&str])] = &[
    ("connect-event", &[], &["abi_stable", "rhai", "tokio"]),
    ("connect-plugin-abi", &[], &["rhai", "tokio"]),
    (
        "connect-plugin-api",
        &["connect-event", "connect-plugin-abi"],
        &["rhai", "tokio"],
    ),
    (
        "connect-core",
        &["connect-event"],
        &[
            "rhai",
            "abi_stable",
            "tokio",
            "reqwest",
            "axum",
            "tokio-tungstenite",
        ],
    ),
    (
        "connect-plugins",
        &["connect-core", "connect-event"],
        &["rhai", "abi_stable", "tokio"],
    ),
    (
        "connect-rhai",
        &["connect-core", "connect-event", "connect-plugins"],
        &["abi_stable", "tokio"],
    ),
    (
        "connect-native",
        &[
            "connect-core",
            "connect-event",
            "connect-plugins",
            "connect-plugin-abi",
        ],
        &["rhai", "tokio"],
    ),
    ("connect-pipe", &[], &["rhai", "abi_stable", "tokio"]),
    (
        "connect-sequence",
        &[],
        &["rhai", "abi_stable", "tokio", "serde"],
    ),
    (
        "connect-isolate",
        &[
            "connect-core",
            "connect-event",
            "connect-plugins",
            "connect-plugin-abi",
            "connect-native",
            "connect-pipe",
        ],
        &["rhai", "tokio"],
    ),
    (
        "connect-python",
        &[
            "connect-core",
            "connect-event",
            "connect-plugins",
            "connect-pipe",
        ],
        &["rhai", "abi_stable", "tokio"],
    ),
    (
        "connect-publisher",
        &["connect-core", "connect-ftrack-api", "connect-sequence"],
        &["rhai", "abi_stable", "axum", "rusqlite"],
    ),
    (
        "connect-ftrack-api",
        &["connect-core"],
        &["rhai", "abi_stable", "axum", "rusqlite"],
    ),
    (
        "connect-hub-client",
        &["connect-core", "connect-event"],
        &["rhai", "abi_stable", "axum", "rusqlite"],
    ),
    (
        "connect-remote",
        &[
            "connect-core",
            "connect-event",
            "connect-plugins",
            "connect-ftrack-api",
            "connect-hub-client",
        ],
        &["rhai", "abi_stable", "axum", "rusqlite"],
    ),
    (
        "connect-server",
        &["connect-core", "connect-event"],
        &["rhai", "abi_stable"],
    ),
    ("connect-window", &[], &["rhai", "abi_stable", "rusqlite"]),
    (
        "connect-launcher",
        &["connect-core", "connect-event"],
        &["rhai", "abi_stable", "tokio"],
    ),
    (
        "ftrack-connect",
        &[
            "connect-core",
            "connect-event",
            "connect-plugins",
            "connect-rhai",
            "connect-native",
            "connect-isolate",
            "connect-python",
            "connect-sequence",
            "connect-publisher",
            "connect-launcher",
            "connect-server",
            "connect-ftrack-api",
            "connect-hub-client",
            "connect-remote",
            "connect-window",
        ],
        &[],
    ),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every workspace package with its normal (not dev, not build) dependencies.
fn packages() -> BTreeMap<String, Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .current_dir(workspace())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| {
            let dependencies = package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            (package["name"].as_str().unwrap().to_string(), dependencies)
        })
        .collect()
}

#[test]
fn crates_depend_only_on_what_the_layout_allows() {
    let packages = packages();
    let workspace_crates: Vec<&String> = packages.keys().collect();
    let mut broken = Vec::new();
    for (name, dependencies) in &packages {
        let rule = RULES.iter().find(|(crate_name, _, _)| crate_name == name);
        for dependency in dependencies {
            let allowed = match rule {
                Some((_, allowed, forbidden)) => {
                    if forbidden.contains(&dependency.as_str()) {
                        false
                    } else {
                        !workspace_crates.contains(&dependency)
                            || allowed.contains(&dependency.as_str())
                    }
                }
                // Native plugins (examples, fixtures) build against the SDK alone: nothing in
                // the host may force them to be rebuilt.
                None => {
                    !workspace_crates.contains(&dependency) || dependency == "connect-plugin-api"
                }
            };
            if !allowed {
                broken.push(format!("{name} depends on {dependency}"));
            }
        }
    }
    assert!(broken.is_empty(), "against the layout rules: {broken:?}");
    for (name, _, _) in RULES {
        assert!(
            packages.contains_key(*name),
            "no crate {name} in the workspace"
        );
    }
}

/// Every Rust source file of the workspace but the build output.
fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && !name.to_string_lossy().starts_with('.') {
                sources(&path, found);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_source_file_is_over_a_thousand_lines_and_library_crates_are_documented() {
    let root = workspace();
    let mut files = Vec::new();
    for top in ["host", "plugin-api", "plugins", "tests"] {
        sources(&root.join(top), &mut files);
    }
    assert!(files.len() > 50, "found only {} files", files.len());
    let long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).unwrap().lines().count();
            (lines > 1000).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these: {long:?}");

    let libraries = [
        "plugin-api/event",
        "plugin-api/abi",
        "plugin-api/sdk",
        "host/core",
        "host/plugins",
        "host/rhai",
        "host/native",
        "host/launcher",
        "host/connect",
    ];
    for library in libraries {
        let lib = std::fs::read_to_string(root.join(library).join("src/lib.rs")).unwrap();
        assert!(lib.starts_with("//!"), "{library}: no crate doc");
        assert!(
            lib.contains("#![deny(missing_docs)]"),
            "{library}: missing docs allowed"
        );
    }
}
