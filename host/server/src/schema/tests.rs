//! The schema set against ftrack's real schemas (read from the shared fixture, never copied),
//! Python's `json.dumps` reproduced, the hash, and errors in data files.

use md5::{Digest, Md5};
use serde_json::{json, Value};

use super::python_json::python_float_repr;
use super::{python_json_dumps_sorted, PropertyKind, SchemaSet, TypeAlias};

/// ftrack's own schemas (Apache-2.0, from ftrack's JavaScript API's test fixtures), read where
/// the project's shared material is: `$FTRACK_SHARED_DIR`, else `../shared` next to the
/// workspace, else `/work/shared` (where CI's clean clones of the project find it).
fn fixture_path() -> std::path::PathBuf {
    let relative = "fixtures/ftrack-javascript/query_schemas.json";
    let candidates = [
        std::env::var_os("FTRACK_SHARED_DIR").map(std::path::PathBuf::from),
        Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")),
        Some(std::path::PathBuf::from("/work/shared")),
    ];
    candidates
        .into_iter()
        .flatten()
        .map(|dir| dir.join(relative))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "ftrack's schema fixture ({relative}) is not in ../shared or /work/shared: \
                 set FTRACK_SHARED_DIR to the folder that has fixtures/"
            )
        })
}

/// The `schema_hash` in the same fixture set's `query_server_information.json`.
const FIXTURE_HASH: &str = "23a1157b8b1730fd91c76f63dcd67a8f";

/// The types the server must cover at least.
const REQUIRED_TYPES: &[&str] = &[
    "Location",
    "Project",
    "Context",
    "TypedContext",
    "Task",
    "Shot",
    "Sequence",
    "Folder",
    "Episode",
    "AssetBuild",
    "Milestone",
    "ObjectType",
    "Asset",
    "AssetType",
    "AssetVersion",
    "Component",
    "FileComponent",
    "SequenceComponent",
    "ContainerComponent",
    "ComponentLocation",
    "User",
    "Status",
    "Type",
    "Priority",
    "ProjectSchema",
    "ProjectSchemaObjectType",
    "SchemaStatus",
    "SchemaType",
    "Schema",
    "TaskTypeSchema",
    "TaskTypeSchemaType",
    "WorkflowSchema",
    "WorkflowSchemaStatus",
    "Note",
    "NoteComponent",
    "NoteCategory",
    "NoteLabel",
    "NoteLabelLink",
    "Job",
    "JobComponent",
    "Metadata",
    "Setting",
    "CustomAttributeConfiguration",
    "CustomAttributeType",
    "CustomAttributeGroup",
    "CustomAttributeValue",
    "ContextCustomAttributeValue",
    "AssetCustomAttributeValue",
    "AssetVersionCustomAttributeValue",
    "UserCustomAttributeValue",
    "ListCustomAttributeValue",
    "Timer",
    "Timelog",
    "Appointment",
    "Resource",
    "Group",
    "Membership",
    "Manager",
    "ManagerType",
    "Scope",
    "State",
    "Disk",
    "StatusChange",
    "TypedContextLink",
    "AssetVersionLink",
    "List",
    "TypedContextList",
    "AssetVersionList",
    "ListCategory",
    "ListObject",
    "Event",
    "Recipient",
    "Message",
    "Feed",
];

fn fixture() -> Vec<Value> {
    let path = fixture_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the shared fixture {}: {e}", path.display()));
    match serde_json::from_str(&text).expect("the fixture is JSON") {
        Value::Array(types) => types,
        other => panic!("the fixture is not a list: {other}"),
    }
}

fn fixture_type<'a>(fixture: &'a [Value], name: &str) -> &'a Value {
    fixture
        .iter()
        .find(|t| t["id"] == name)
        .unwrap_or_else(|| panic!("{name} is not in the fixture"))
}

fn md5_hex(text: &str) -> String {
    format!("{:x}", Md5::digest(text.as_bytes()))
}

/// The entity type a fixture property leads to (`$ref` or `items.$ref`).
fn fixture_target(property: &Value) -> Option<&str> {
    property["$ref"]
        .as_str()
        .or_else(|| property["items"]["$ref"].as_str())
}

#[test]
fn python_dumps_of_the_fixture_hashes_to_the_real_servers_schema_hash() {
    let text = python_json_dumps_sorted(&Value::Array(fixture()));
    assert_eq!(md5_hex(&text), FIXTURE_HASH);
}

#[test]
fn python_dumps_separators_sorting_and_literals() {
    let value = json!({"b": [1, -2, true, false, null], "a": {"z": {}, "y": []}, "B": "x"});
    assert_eq!(
        python_json_dumps_sorted(&value),
        r#"{"B": "x", "a": {"y": [], "z": {}}, "b": [1, -2, true, false, null]}"#
    );
    // Code point order: uppercase < underscore < lowercase < non-ASCII; prefixes first.
    let keys = json!({"é": 1, "a_b": 2, "ab": 3, "a": 4, "Z": 5, "_": 6, "\u{1F600}": 7, "ÿ": 8});
    assert_eq!(
        python_json_dumps_sorted(&keys),
        r#"{"Z": 5, "_": 6, "a": 4, "a_b": 2, "ab": 3, "\u00e9": 1, "\u00ff": 8, "\ud83d\ude00": 7}"#
    );
    assert_eq!(
        python_json_dumps_sorted(&json!(u64::MAX)),
        "18446744073709551615"
    );
    assert_eq!(
        python_json_dumps_sorted(&json!(i64::MIN)),
        "-9223372036854775808"
    );
}

#[test]
fn python_dumps_escapes_like_ensure_ascii() {
    let text = "q\"b\\s/n\nr\rt\tb\u{8}f\u{c}nul\u{0}us\u{1f}del\u{7f}é€\u{10000}\u{10FFFF}~ ";
    assert_eq!(
        python_json_dumps_sorted(&json!(text)),
        r#""q\"b\\s/n\nr\rt\tb\bf\fnul\u0000us\u001fdel\u007f\u00e9\u20ac\ud800\udc00\udbff\udfff~ ""#
    );
    assert_eq!(python_json_dumps_sorted(&json!("")), r#""""#);
}

#[test]
// The tie cases are written exactly (…841.25): the point is that their shortest forms tie.
#[allow(clippy::excessive_precision)]
fn python_float_repr_matches_python() {
    let cases: &[(f64, &str)] = &[
        (1.0, "1.0"),
        (-1.0, "-1.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (0.5, "0.5"),
        (0.1, "0.1"),
        (1.0 / 3.0, "0.3333333333333333"),
        (2.0 / 3.0, "0.6666666666666666"),
        (100.0, "100.0"),
        (12345.678, "12345.678"),
        (0.0001, "0.0001"),
        (0.00012345, "0.00012345"),
        (1e-5, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (1e15, "1000000000000000.0"),
        (1234567890123456.0, "1234567890123456.0"),
        (1e16, "1e+16"),
        (1.2345678901234568e17, "1.2345678901234568e+17"),
        (1e22, "1e+22"),
        (1.5e300, "1.5e+300"),
        (f64::MAX, "1.7976931348623157e+308"),
        (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
        (5e-324, "5e-324"),
        (-2.5e-10, "-2.5e-10"),
        (9007199254740993.0, "9007199254740992.0"),
        // Ties between two shortest candidates (both read back as the float): Python takes
        // the even last digit, where Rust's own `{}` may not.
        (-704385350340841.25, "-704385350340841.2"),
        (704385350340841.75, "704385350340841.8"),
        (1.5e-323, "1.5e-323"),
        (1e23, "1e+23"),
    ];
    for &(value, expected) in cases {
        assert_eq!(python_float_repr(value), expected, "repr({value:e})");
    }
    assert_eq!(
        python_json_dumps_sorted(&json!([1.0, 1e-5, 1e16, 0.25])),
        "[1.0, 1e-05, 1e+16, 0.25]"
    );
    // What serde_json reads as a float is printed as Python prints the float it would read.
    let parsed: Value = serde_json::from_str("[1.0, 1E2, 2.50, 1e-7]").unwrap();
    assert_eq!(
        python_json_dumps_sorted(&parsed),
        "[1.0, 100.0, 2.5, 1e-07]"
    );
}

#[test]
fn every_required_type_is_covered_and_names_are_unique() {
    let set = SchemaSet::builtin();
    for name in REQUIRED_TYPES {
        assert!(set.get(name).is_some(), "{name} is missing");
    }
    let mut names: Vec<&str> = set.types().iter().map(|t| t.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), set.types().len());
    assert_eq!(set.to_json().as_array().unwrap().len(), set.types().len());
}

/// Type by type: the type-level keys equal the fixture's, every property we send equals the
/// fixture's, and every fixture property we leave out refers to a type the set does not have.
#[test]
fn every_type_matches_ftracks_schema() {
    let fixture = fixture();
    let set = SchemaSet::builtin();
    let mut problems = Vec::new();
    for ty in set.types() {
        let ours = ty.to_json();
        let theirs = fixture_type(&fixture, ty.name());
        for key in [
            "id",
            "type",
            "primary_key",
            "required",
            "immutable",
            "default_projections",
            "system_projections",
            "computed",
            "alias_for",
        ] {
            if ours.get(key) != theirs.get(key) {
                problems.push(format!(
                    "{}: {key} is {:?}, ftrack has {:?}",
                    ty.name(),
                    ours.get(key),
                    theirs.get(key)
                ));
            }
        }
        let keys: Vec<&String> = ours.as_object().unwrap().keys().collect();
        for key in keys {
            if theirs.get(key).is_none() {
                problems.push(format!("{}: key {key} is not in ftrack's form", ty.name()));
            }
        }
        let our_properties = ours["properties"].as_object().unwrap();
        let their_properties = theirs["properties"].as_object().unwrap();
        for (name, property) in our_properties {
            match their_properties.get(name) {
                Some(theirs) if theirs == property => {}
                Some(theirs) => problems.push(format!(
                    "{}.{name}: we send {property}, ftrack has {theirs}",
                    ty.name()
                )),
                None => problems.push(format!("{}.{name}: not in ftrack's schema", ty.name())),
            }
        }
        for (name, property) in their_properties {
            if our_properties.contains_key(name) {
                continue;
            }
            match fixture_target(property) {
                Some(target) if set.get(target).is_none() => {}
                _ => problems.push(format!(
                    "{}.{name} is left out, but refers to no missing type: {property}",
                    ty.name()
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_hash_is_the_python_md5_of_to_json_and_is_stable() {
    let set = SchemaSet::builtin();
    let text = python_json_dumps_sorted(&set.to_json());
    assert_eq!(set.hash(), md5_hex(&text));
    assert_eq!(set.hash().len(), 32);
    assert!(set
        .hash()
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    // A second reading of the same files gives the same text, hence the same hash.
    let again = SchemaSet::from_sources(super::BUILTIN).unwrap();
    assert_eq!(python_json_dumps_sorted(&again.to_json()), text);
    assert_eq!(again.hash(), set.hash());
    // The hash covers exactly what is sent: the type order matters, as in Python.
    let names: Vec<&str> = set.types().iter().map(|t| t.name()).collect();
    assert_eq!(names[..3], ["Context", "Project", "TypedContext"]);
}

#[test]
fn concrete_types_of_context_typed_context_and_component() {
    let set = SchemaSet::builtin();
    let names = |name: &str| -> Vec<&str> {
        set.concrete_types_of(name)
            .into_iter()
            .map(|t| t.name())
            .collect()
    };
    let typed = [
        "Task",
        "Shot",
        "Sequence",
        "Folder",
        "Episode",
        "AssetBuild",
        "Milestone",
    ];
    assert_eq!(names("TypedContext"), typed);
    let mut context = vec!["Project"];
    context.extend(typed);
    assert_eq!(names("Context"), context);
    assert_eq!(
        names("Component"),
        ["FileComponent", "SequenceComponent", "ContainerComponent"]
    );
    assert_eq!(names("List"), ["TypedContextList", "AssetVersionList"]);
    assert_eq!(names("Resource"), ["User", "Group"]);
    assert_eq!(names("Task"), ["Task"]);
    assert_eq!(names("Asset"), ["Asset"]);
    assert!(names("NoSuchType").is_empty());

    let supertypes: Vec<&str> = set
        .supertypes_of("Task")
        .into_iter()
        .map(|t| t.name())
        .collect();
    assert_eq!(supertypes, ["TypedContext", "Context"]);
    assert!(set.is_a("Shot", "Context"));
    assert!(set.is_a("Project", "Project"));
    assert!(!set.is_a("Project", "TypedContext"));
    assert!(!set.is_a("NoSuchType", "NoSuchType"));
    let subtypes: Vec<&str> = set
        .subtypes_of("Context")
        .into_iter()
        .map(|t| t.name())
        .collect();
    assert_eq!(subtypes, ["Project", "TypedContext"]);
}

#[test]
fn discriminators_tell_subtypes_apart() {
    let set = SchemaSet::builtin();
    let pairs =
        |name: &str| -> Vec<(String, String)> { set.get(name).unwrap().discriminator().to_vec() };
    let pair = |p: &str, v: &str| vec![(p.to_string(), v.to_string())];
    assert_eq!(pairs("Project"), pair("context_type", "show"));
    assert_eq!(pairs("TypedContext"), pair("context_type", "task"));
    assert_eq!(
        pairs("Task"),
        pair("object_type_id", "11c137c0-ee7e-4f9c-91c5-8c77cec22b2c")
    );
    assert_eq!(pairs("FileComponent"), pair("system_type", "file"));
    assert_eq!(pairs("SequenceComponent"), pair("system_type", "sequence"));
    assert_eq!(
        pairs("ContainerComponent"),
        pair("system_type", "container")
    );
    assert_eq!(pairs("TypedContextList"), pair("system_type", "task"));
    assert_eq!(
        pairs("AssetVersionList"),
        pair("system_type", "assetversion")
    );
    assert_eq!(pairs("User"), pair("resource_type", "user"));
    assert!(pairs("Context").is_empty());
    // Each TypedContext subtype's discriminator is its own object_type_id default.
    for ty in set.concrete_types_of("TypedContext") {
        let default = ty.property("object_type_id").unwrap().default().unwrap();
        assert_eq!(ty.discriminator()[0].1, default.as_str().unwrap(), "{ty}");
        match ty.alias_for() {
            Some(TypeAlias::Classified { id, .. }) => assert_eq!(id, "Task"),
            other => panic!("{ty}: alias_for {other:?}"),
        }
    }
}

#[test]
fn entity_type_accessors() {
    let set = SchemaSet::builtin();
    let task = set.get("Task").unwrap();
    assert_eq!(task.primary_key(), ["id"]);
    assert_eq!(task.default_projections(), ["context_type", "id", "name"]);
    assert_eq!(task.system_projections(), ["showid", "context_type"]);
    assert!(task.is_immutable("object_type_id"));
    assert!(!task.is_immutable("name"));
    assert!(task.is_required("priority_id"));
    assert!(task.is_computed("time_logged"));
    assert_eq!(
        task.property_for_alias("showid").unwrap().name(),
        "project_id"
    );
    assert_eq!(
        task.property_for_alias("context_type").unwrap().name(),
        "context_type"
    );
    assert!(task.property_for_alias("_casted_value").is_none());
    let id = task.property("id").unwrap();
    assert!(id.default_is_uid());
    assert_eq!(
        id.kind(),
        &PropertyKind::Scalar {
            ty: Some(super::ScalarType::String),
            format: None
        }
    );
    let metadata = task.property("metadata").unwrap();
    match metadata.kind() {
        PropertyKind::MappedCollection { target, key_value } => {
            assert_eq!(target, "Metadata");
            let kv = key_value.as_ref().unwrap();
            assert_eq!((kv.key.as_str(), kv.value.as_str()), ("key", "value"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(metadata.alias_for(), Some("meta"));
    let status = set.get("Job").unwrap().property("status").unwrap();
    assert_eq!(
        status.enum_values().unwrap(),
        ["queued", "running", "done", "failed"]
    );
    let parent_type = set.get("Note").unwrap().property("parent_type").unwrap();
    assert_eq!(
        parent_type.transform().unwrap(),
        [
            ("client".to_string(), "{schema_id}".to_string()),
            ("server".to_string(), "{table_name}".to_string())
        ]
    );
    let untyped = set.get("User").unwrap().property("user_type_id").unwrap();
    assert_eq!(
        untyped.kind(),
        &PropertyKind::Scalar {
            ty: None,
            format: Some(super::Format::ForeignKey)
        }
    );
    assert_eq!(
        set.get("Project").unwrap().alias_for(),
        Some(&TypeAlias::Name("Show".into()))
    );
    assert!(set.get("Location").unwrap().system_projections().is_empty());
    assert_eq!(set.get("Task").unwrap().to_string(), "Task");
}

proptest::proptest! {
    /// Any string, as key or value, comes out as ASCII-only JSON that reads back the same.
    #[test]
    fn dumps_is_ascii_json_that_reads_back(key in ".*", text in "\\PC*|[\\x00-\\x7f]*") {
        let value = json!({ key.clone(): [text.clone(), {"k": text}], "z": null });
        let dumped = python_json_dumps_sorted(&value);
        proptest::prop_assert!(dumped.is_ascii());
        let back: Value = serde_json::from_str(&dumped).unwrap();
        proptest::prop_assert_eq!(back, value);
    }

    /// Every finite float's repr reads back as the same float (Rust's parser is exact).
    #[test]
    fn float_repr_reads_back(bits in proptest::prelude::any::<u64>()) {
        let value = f64::from_bits(bits);
        proptest::prop_assume!(value.is_finite());
        let repr = python_float_repr(value);
        let back: f64 = repr.parse().unwrap();
        proptest::prop_assert_eq!(back.to_bits(), value.to_bits(), "{}", repr);
    }
}
