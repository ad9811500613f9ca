//! The augmentation against what the framework produced, and what it says of bad values.

use serde_json::{json, Value};

use super::Augmenter;
use crate::fixtures;

/// The pipeline 1.3.0 schema of `name` (`publisher`), the one the recording was made with.
fn schema(name: &str) -> Augmenter {
    Augmenter::new(fixtures::json(&format!(
        "pipeline/resource/definitions/schema/{name}-schema.json"
    )))
    .unwrap()
}

fn file_publisher() -> Value {
    fixtures::json("definition/resource/definitions/publisher/python/file-python-publish.json")
}

/// The standalone publisher definition with the options the recording ran it with (a real
/// Task, an asset name, real files): the only values the recording changed.
fn file_publisher_as_recorded() -> Value {
    let mut definition = file_publisher();
    let context = &mut definition["contexts"][0]["stages"][0]["plugins"][0]["options"];
    context["context_id"] = json!("aaaaaaaa-0000-0000-0000-00000000task");
    context["asset_name"] = json!("myAsset");
    definition["components"][0]["stages"][0]["plugins"][0]["options"]["path"] =
        json!("/tmp/WORK/render_v001.exr");
    definition["components"][1]["stages"][0]["plugins"][0]["options"]["path"] =
        json!("/tmp/WORK/thumb.png");
    definition
}

#[test]
fn the_standalone_publisher_augments_to_exactly_what_the_framework_sent() {
    let recorded = fixtures::json("pipeline_trace/augmented_file_publisher_definition.json");
    let augmented = schema("publisher")
        .augment(&file_publisher_as_recorded())
        .unwrap();
    assert_eq!(augmented, recorded);
    // Key order too: serialize() writes the schema's order, and so do we.
    assert_eq!(
        serde_json::to_string_pretty(&augmented).unwrap(),
        serde_json::to_string_pretty(&recorded).unwrap()
    );
}

#[test]
fn bad_values_are_reported_at_their_json_path() {
    let mut bad = file_publisher();
    bad["components"][0]["stages"][0]["plugins"][0]["plugin"] = json!(5);
    bad["components"][1]["stages"][1]["name"] = json!("validater");
    bad["finalizers"][0]["stages"][0]["plugins"][0]
        .as_object_mut()
        .unwrap()
        .remove("plugin");
    bad["discoverable"] = json!("Task");
    let violations = schema("publisher").augment(&bad).unwrap_err();
    let pointers: Vec<&str> = violations.iter().map(|v| v.pointer.as_str()).collect();
    assert!(pointers.contains(&"/discoverable"), "{violations:?}");
    assert!(
        pointers.contains(&"/components/0/stages/0/plugins/0/plugin"),
        "{violations:?}"
    );
    assert!(
        pointers.contains(&"/components/1/stages/1/name"),
        "{violations:?}"
    );
    let missing = violations
        .iter()
        .find(|v| v.pointer == "/finalizers/0/stages/0/plugins/0")
        .unwrap_or_else(|| panic!("{violations:?}"));
    assert!(missing.message.contains("\"plugin\""), "{missing}");
    let typed = violations
        .iter()
        .find(|v| v.pointer == "/components/0/stages/0/plugins/0/plugin")
        .unwrap();
    assert_eq!(
        typed.to_string(),
        "/components/0/stages/0/plugins/0/plugin: 5 is not of type \"string\""
    );
}

#[test]
fn a_step_group_of_the_wrong_size_is_reported_on_the_group() {
    let mut bad = file_publisher();
    let context = bad["contexts"][0].clone();
    bad["contexts"].as_array_mut().unwrap().push(context);
    let violations = schema("publisher").augment(&bad).unwrap_err();
    assert!(
        violations.iter().any(|v| v.pointer == "/contexts"),
        "{violations:?}"
    );
}

#[test]
fn null_defaults_are_not_filled_and_null_values_are_left_out() {
    let mut definition = file_publisher();
    let map = definition.as_object_mut().unwrap();
    map.remove("task_type");
    definition["contexts"][0]["stages"][0]["plugins"][0]["widget"] = Value::Null;
    definition["contexts"][0]["stages"][0]["plugins"][0]["options"]["comment"] = Value::Null;
    let augmented = schema("publisher").augment(&definition).unwrap();
    // `task_type` defaults to null: the library sets no default then.
    assert_eq!(augmented.get("task_type"), None);
    let plugin = &augmented["contexts"][0]["stages"][0]["plugins"][0];
    assert_eq!(plugin.get("widget"), None);
    assert_eq!(plugin["options"].get("comment"), None);
    assert_eq!(plugin["options"]["asset_name"], "testFromPythonConsole");
}

#[test]
fn undeclared_keys_of_a_subclass_are_kept_first_as_the_framework_writes_them() {
    // The 1.2.0 definitions' `selected` on a step: not in the 1.3.0 `Step`, whose
    // `additionalProperties: false` the framework does not apply to `ComponentStep`.
    let mut definition = file_publisher();
    definition["components"][0]["selected"] = json!(true);
    let augmented = schema("publisher").augment(&definition).unwrap();
    let keys: Vec<&String> = augmented["components"][0]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        keys,
        [
            "selected",
            "category",
            "type",
            "name",
            "optional",
            "enabled",
            "stages",
            "stage_order"
        ]
    );
    // At the top level `additionalProperties: false` is the class's own: it holds.
    definition["colour"] = json!("red");
    let violations = schema("publisher").augment(&definition).unwrap_err();
    assert_eq!(violations[0].pointer, "", "{violations:?}");
    assert!(violations[0].message.contains("colour"), "{violations:?}");
}

#[test]
fn the_asset_manager_gets_its_subclasses_defaults() {
    let definition = fixtures::json(
        "definition/resource/definitions/asset_manager/python/asset_manager_python.json",
    );
    let augmented = schema("asset-manager").augment(&definition).unwrap();
    let action = &augmented["actions"]["update"][0];
    assert_eq!(action["type"], "action");
    assert_eq!(action["ui_callback"], "ctx_update");
    assert_eq!(action["category"], "plugin");
    assert_eq!(action["default_method"], "run");
    assert_eq!(action["options"], json!({"clear_selection": false}));
    assert_eq!(
        augmented["resolvers"]["resolve_dependencies"][0]["type"],
        "resolver"
    );
    assert_eq!(
        augmented["_config"],
        json!({"type": "config", "engine_type": "asset_manager"})
    );
    // The schema declares `ui_type` with a null default: given here, kept.
    assert_eq!(augmented["ui_type"], "qt");
    // Nothing inside `options` is touched.
    assert_eq!(
        augmented["resolvers"]["resolve_dependencies"][0]["options"],
        definition["resolvers"]["resolve_dependencies"][0]["options"]
    );
}

#[test]
fn the_loader_fills_its_steps_and_keeps_file_formats() {
    let definition =
        fixtures::json("definition/resource/definitions/loader/python/file-python-loader.json");
    let augmented = schema("loader").augment(&definition).unwrap();
    let step = &augmented["components"][0];
    assert_eq!(step["file_formats"], json!([".zip"]));
    assert_eq!(
        step["stage_order"],
        json!(["collector", "importer", "post_importer"])
    );
    assert_eq!(step["stages"][1]["type"], "importer");
    assert_eq!(step["stages"][1]["plugins"][0]["type"], "importer");
    assert_eq!(augmented["finalizers"][0]["visible"], false);
    assert_eq!(augmented["discoverable"], json!(["Task"]));
}
