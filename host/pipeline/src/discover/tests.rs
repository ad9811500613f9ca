//! Discovery against the fixtures, and against broken copies written at test time.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::json;

use super::*;
use crate::fixtures;

/// The python definitions of the fixtures, by type.
const PYTHON: [(&str, &str); 4] = [
    ("publisher", "File Publisher"),
    ("loader", "File Loader"),
    ("opener", "File Opener"),
    ("asset_manager", "default"),
];

#[test]
fn every_fixture_definition_and_schema_loads_with_its_own_schemas() {
    let discovery = discover(&[fixtures::definitions()], &Options::default());
    assert!(discovery.dropped.is_empty(), "{:#?}", discovery.dropped);
    assert_eq!(discovery.schemas.len(), 4);
    assert_eq!(discovery.definitions.len(), 69);
    for kind in DefinitionType::ALL {
        assert!(discovery.schema(kind).is_some(), "{kind}");
    }
    let counts: Vec<usize> = DefinitionType::ALL
        .iter()
        .map(|kind| discovery.of_kind(*kind).count())
        .collect();
    assert_eq!(counts, [21, 22, 21, 5]);
}

#[test]
fn every_fixture_definition_loads_with_the_pipeline_1_3_schemas_first_on_the_path() {
    let discovery = discover(
        &[fixtures::pipeline(), fixtures::definitions()],
        &Options::default(),
    );
    assert_eq!(discovery.definitions.len(), 69);
    // The 1.3.0 schemas are used: steps get `enabled`, which 1.2.0's do not declare.
    let publisher = discovery
        .definitions
        .iter()
        .find(|d| d.name() == "File Publisher")
        .unwrap();
    assert_eq!(publisher.value()["contexts"][0]["enabled"], true);
    // The definition folder's own schemas come second: reported, not used.
    assert_eq!(discovery.dropped.len(), 4, "{:#?}", discovery.dropped);
    for error in &discovery.dropped {
        assert!(error.file.starts_with("schema"), "{error}");
        assert!(
            matches!(error.problem, Problem::DuplicateSchema { .. }),
            "{error}"
        );
    }
}

#[test]
fn host_types_and_definition_types_filter() {
    let options = Options {
        host_types: Some(vec!["python".into()]),
        ..Options::default()
    };
    let discovery = discover(&[fixtures::definitions()], &options);
    let found: Vec<(String, String)> = discovery
        .definitions
        .iter()
        .map(|d| (d.kind().to_string(), d.name().to_string()))
        .collect();
    let expected: Vec<(String, String)> = PYTHON
        .iter()
        .map(|(kind, name)| (kind.to_string(), name.to_string()))
        .collect();
    assert_eq!(found, expected);
    let publisher = &discovery.definitions[0];
    assert_eq!(publisher.host_type(), "python");
    assert_eq!(publisher.engine_type(), "publisher");
    assert_eq!(
        publisher.file(),
        Path::new("publisher/python/file-python-publish.json")
    );

    let options = Options {
        host_types: Some(vec!["maya".into()]),
        kinds: Some(vec![DefinitionType::Loader]),
        ..Options::default()
    };
    let discovery = discover(&[fixtures::definitions()], &options);
    assert_eq!(discovery.definitions.len(), 6);
    assert!(discovery
        .definitions
        .iter()
        .all(|d| d.kind() == DefinitionType::Loader && d.host_type() == "maya"));
}

#[test]
fn a_definition_whose_asset_type_the_server_lacks_is_dropped_but_not_the_asset_manager() {
    let options = Options {
        host_types: Some(vec!["python".into()]),
        asset_types: Some(BTreeSet::from(["geo".to_string()])),
        ..Options::default()
    };
    let discovery = discover(&[fixtures::definitions()], &options);
    let kept: Vec<DefinitionType> = discovery.definitions.iter().map(|d| d.kind()).collect();
    assert_eq!(kept, [DefinitionType::AssetManager]);
    assert_eq!(discovery.dropped.len(), 3);
    assert_eq!(
        discovery.dropped[0].to_string(),
        "publisher/python/file-python-publish.json: /asset_type: \"scene\" is not an asset type of the server"
    );
}

#[test]
fn a_definition_with_a_plugin_nobody_registered_is_dropped_with_the_plugin() {
    let publisher = discover(
        &[fixtures::definitions()],
        &Options {
            host_types: Some(vec!["python".into()]),
            kinds: Some(vec![DefinitionType::Publisher]),
            ..Options::default()
        },
    );
    let mut names: BTreeSet<String> = publisher.definitions[0]
        .plugins()
        .iter()
        .map(|p| p.plugin.to_string())
        .collect();
    assert_eq!(names.len(), 7);
    // Every plugin there: kept.
    let options = Options {
        host_types: Some(vec!["python".into()]),
        kinds: Some(vec![DefinitionType::Publisher]),
        plugins: Some(&names),
        ..Options::default()
    };
    let discovery = discover(&[fixtures::definitions()], &options);
    assert_eq!(discovery.definitions.len(), 1, "{:?}", discovery.dropped);
    // The validator missing: dropped, with where it is used.
    names.remove("common_file_exists_publisher_validator");
    let options = Options {
        host_types: Some(vec!["python".into()]),
        kinds: Some(vec![DefinitionType::Publisher]),
        plugins: Some(&names),
        ..Options::default()
    };
    let discovery = discover(&[fixtures::definitions()], &options);
    assert!(discovery.definitions.is_empty());
    assert_eq!(
        discovery.dropped[0].to_string(),
        "publisher/python/file-python-publish.json: /components/0/stages/1/plugins/0: plugin \
         \"common_file_exists_publisher_validator\" (publisher.validator) not found for host \
         type python"
    );
    // A lookup by type and host type, as the host will answer it.
    let asked = std::sync::Mutex::new(Vec::new());
    let lookup = |query: &PluginQuery<'_>| {
        asked.lock().unwrap().push(query.plugin_type.clone());
        query.host_type == "python"
    };
    let options = Options {
        host_types: Some(vec!["python".into()]),
        kinds: Some(vec![DefinitionType::Publisher]),
        plugins: Some(&lookup),
        ..Options::default()
    };
    assert_eq!(
        discover(&[fixtures::definitions()], &options)
            .definitions
            .len(),
        1
    );
    assert_eq!(
        asked.lock().unwrap()[..3],
        [
            "publisher.context",
            "publisher.collector",
            "publisher.validator"
        ]
    );
}

/// A definition folder with the pipeline's schemas and the python definitions, copied.
fn python_folder(dir: &Path) {
    for (source, target) in [
        (fixtures::pipeline().join("schema"), dir.join("schema")),
        (
            fixtures::definitions().join("publisher/python"),
            dir.join("publisher/python"),
        ),
        (
            fixtures::definitions().join("loader/python"),
            dir.join("loader/python"),
        ),
    ] {
        std::fs::create_dir_all(&target).unwrap();
        for entry in std::fs::read_dir(source).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn broken_definitions_are_dropped_with_file_and_path_and_the_others_kept() {
    let dir = tempfile::tempdir().unwrap();
    python_folder(dir.path());
    let mut bad =
        fixtures::json("definition/resource/definitions/publisher/python/file-python-publish.json");
    bad["name"] = json!("Broken Publisher");
    bad["components"][0]["stages"][1]["plugins"][0]["options"] = json!("not an object");
    std::fs::write(
        dir.path().join("publisher/python/broken.json"),
        serde_json::to_string(&bad).unwrap(),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("publisher/nested/deeper")).unwrap();
    std::fs::write(
        dir.path().join("publisher/nested/deeper/truncated.json"),
        "{\"type\": \"publisher\",\n \"name\": ",
    )
    .unwrap();
    // Not JSON by name: not a definition.
    std::fs::write(dir.path().join("publisher/python/notes.txt"), "{").unwrap();

    let discovery = discover(&[dir.path().to_path_buf()], &Options::default());
    let names: Vec<&str> = discovery.definitions.iter().map(|d| d.name()).collect();
    assert_eq!(names, ["File Publisher", "File Loader"]);
    let dropped: Vec<String> = discovery.dropped.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        dropped,
        [
            "publisher/nested/deeper/truncated.json: line 2 column 9: not JSON: EOF while parsing a value",
            "publisher/python/broken.json: /components/0/stages/1/plugins/0/options: \"not an object\" is not of type \"object\"",
        ]
    );
    assert_eq!(
        discovery.dropped[1].path(),
        dir.path().join("publisher/python/broken.json")
    );
}

#[test]
fn a_definition_with_no_schema_of_its_type_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    python_folder(dir.path());
    std::fs::remove_file(dir.path().join("schema/loader-schema.json")).unwrap();
    std::fs::write(
        dir.path().join("schema/other.json"),
        r#"{"title": "Renderer"}"#,
    )
    .unwrap();
    let discovery = discover(&[dir.path().to_path_buf()], &Options::default());
    let names: Vec<&str> = discovery.definitions.iter().map(|d| d.name()).collect();
    assert_eq!(names, ["File Publisher"]);
    let dropped: Vec<String> = discovery.dropped.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        dropped,
        [
            "schema/other.json: /title: \"Renderer\" names no definition type (publisher, loader, opener, asset_manager)",
            "loader/python/file-python-loader.json: no loader schema found in any schema/ folder",
        ]
    );
}

#[test]
fn the_path_is_read_from_the_environment_as_path_is() {
    // No other test of this binary reads or writes the environment.
    let joined = std::env::join_paths(["/a/defs", "", "/b/defs"]).unwrap();
    std::env::set_var(DEFINITION_PATH_VARIABLE, &joined);
    let paths = definition_paths_from_env();
    std::env::remove_var(DEFINITION_PATH_VARIABLE);
    assert_eq!(
        paths,
        [std::path::PathBuf::from("/a/defs"), "/b/defs".into()]
    );
}
