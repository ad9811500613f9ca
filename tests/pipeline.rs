//! `ftrack-connect pipeline definitions` through the real binary: FTRACK_DEFINITION_PATH read
//! directly (no host runs), against ftrack's own schemas and definitions
//! (`../shared/fixtures/ftrack-connect-pipeline`, read in place) and broken copies written
//! to a temporary folder.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::kit::{Captured, Sandbox};

/// ftrack's fixtures, next to the workspace.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/ftrack-connect-pipeline")
}

/// The definition repository's folder: its 1.2.0 schemas and its 69 definitions.
fn definition_folder() -> PathBuf {
    fixtures().join("definition/resource/definitions")
}

/// A fixture file, parsed.
fn fixture(relative: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join(relative)).unwrap()).unwrap()
}

/// `pipeline definitions ARGS` with FTRACK_DEFINITION_PATH set to `paths`.
fn definitions(s: &Sandbox, paths: &[PathBuf], args: &[&str]) -> Captured {
    s.command()
        .env(
            "FTRACK_DEFINITION_PATH",
            std::env::join_paths(paths).unwrap(),
        )
        .args(["pipeline", "definitions"])
        .args(args)
        .output()
        .expect("binary runs")
        .into()
}

/// The listing's lines as (name, type, host type).
fn listed(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .map(|line| {
            let columns: Vec<&str> = line
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            assert_eq!(columns.len(), 3, "{line:?}");
            (columns[0].into(), columns[1].into(), columns[2].into())
        })
        .collect()
}

/// Copies the python definitions and the pipeline 1.3.0 schemas into `dir`.
fn python_folder(dir: &Path) {
    let copies = [
        (
            fixtures().join("pipeline/resource/definitions/schema"),
            "schema",
        ),
        (
            definition_folder().join("publisher/python"),
            "publisher/python",
        ),
        (definition_folder().join("loader/python"), "loader/python"),
        (definition_folder().join("opener/python"), "opener/python"),
    ];
    for (source, target) in copies {
        let target = dir.join(target);
        std::fs::create_dir_all(&target).unwrap();
        for entry in std::fs::read_dir(source).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn pipeline_definitions_lists_every_real_definition() {
    let s = Sandbox::new();
    let out = definitions(&s, &[definition_folder()], &[]).success();
    assert_eq!(out.stderr, "", "nothing dropped");
    let all = listed(&out.stdout);
    assert_eq!(all.len(), 69, "{}", out.stdout);
    assert!(all.contains(&("File Publisher".into(), "publisher".into(), "python".into())));
    // Publishers first, then loaders, openers and asset managers, as the host serves them.
    let kinds: Vec<&str> = all.iter().map(|(_, kind, _)| kind.as_str()).collect();
    let mut sorted = kinds.clone();
    let order = ["publisher", "loader", "opener", "asset_manager"];
    sorted.sort_by_key(|kind| order.iter().position(|o| o == kind));
    assert_eq!(kinds, sorted);

    let out = definitions(&s, &[definition_folder()], &["--host-type", "python"]).success();
    assert_eq!(
        listed(&out.stdout),
        [
            ("File Publisher", "publisher", "python"),
            ("File Loader", "loader", "python"),
            ("File Opener", "opener", "python"),
            ("default", "asset_manager", "python"),
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );

    let out = definitions(
        &s,
        &[definition_folder()],
        &["--type", "loader", "--host-type", "maya"],
    )
    .success();
    let loaders = listed(&out.stdout);
    assert_eq!(loaders.len(), 6, "{}", out.stdout);
    assert!(loaders
        .iter()
        .all(|(_, kind, host)| kind == "loader" && host == "maya"));

    let out = definitions(&s, &[definition_folder()], &["--type", "renderer"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}

#[test]
fn pipeline_definitions_drops_a_broken_definition_with_file_and_json_path() {
    let s = Sandbox::new();
    let dir = s.path().join("definitions");
    python_folder(&dir);
    let mut broken =
        fixture("definition/resource/definitions/publisher/python/file-python-publish.json");
    broken["name"] = json!("Broken Publisher");
    broken["components"][0]["stages"][1]["plugins"][0]["options"] = json!(["not", "an", "object"]);
    std::fs::write(
        dir.join("publisher/python/broken-python-publish.json"),
        serde_json::to_string_pretty(&broken).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("loader/python/half.json"),
        "{\"type\": \"loader\",",
    )
    .unwrap();

    let out = definitions(&s, std::slice::from_ref(&dir), &[]).success();
    assert_eq!(
        listed(&out.stdout),
        [
            ("File Publisher", "publisher", "python"),
            ("File Loader", "loader", "python"),
            ("File Opener", "opener", "python"),
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(
        lines[0].starts_with(
            "dropped publisher/python/broken-python-publish.json: \
             /components/0/stages/1/plugins/0/options: "
        ),
        "{}",
        out.stderr
    );
    assert!(
        lines[0].contains("is not of type \"object\""),
        "{}",
        out.stderr
    );
    assert!(
        lines[0].ends_with(&format!("(in {})", dir.display())),
        "{}",
        out.stderr
    );
    assert!(
        lines[1].starts_with("dropped loader/python/half.json: line 1 column 18: not JSON"),
        "{}",
        out.stderr
    );
}

#[test]
fn pipeline_definitions_json_is_the_augmented_form_the_framework_sends() {
    let s = Sandbox::new();
    // The recording's definition: the fixture's, with its context and files.
    let dir = s.path().join("definitions");
    std::fs::create_dir_all(dir.join("publisher/python")).unwrap();
    let mut definition =
        fixture("definition/resource/definitions/publisher/python/file-python-publish.json");
    let context = &mut definition["contexts"][0]["stages"][0]["plugins"][0]["options"];
    context["context_id"] = json!("aaaaaaaa-0000-0000-0000-00000000task");
    context["asset_name"] = json!("myAsset");
    definition["components"][0]["stages"][0]["plugins"][0]["options"]["path"] =
        json!("/tmp/WORK/render_v001.exr");
    definition["components"][1]["stages"][0]["plugins"][0]["options"]["path"] =
        json!("/tmp/WORK/thumb.png");
    std::fs::write(
        dir.join("publisher/python/file-python-publish.json"),
        serde_json::to_string(&definition).unwrap(),
    )
    .unwrap();
    // The pipeline 1.3.0 schemas (which the recording used) first on the path, this folder
    // next: it has no schema/ of its own.
    let paths = [fixtures().join("pipeline/resource/definitions"), dir];
    let out = definitions(&s, &paths, &["--json", "--type", "publisher"]).success();
    assert_eq!(out.stderr, "");
    let printed: Value = serde_json::from_str(&out.stdout).unwrap();
    let recorded = fixture("pipeline_trace/augmented_file_publisher_definition.json");
    assert_eq!(printed, json!([recorded]));
    // Written in the framework's key order too.
    assert_eq!(
        out.stdout.trim_end(),
        serde_json::to_string_pretty(&json!([recorded])).unwrap()
    );
}

#[test]
fn pipeline_definitions_needs_the_definition_path() {
    let s = Sandbox::new();
    let out = s.capture(&["pipeline", "definitions"]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("FTRACK_DEFINITION_PATH is not set"),
        "{}",
        out.stderr
    );
}
