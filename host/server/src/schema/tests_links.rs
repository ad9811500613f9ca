//! How references and collections are stored, and what a malformed data file gives.

use super::{CollectionLink, PropertyKind, ReferenceLink, SchemaSet};

fn set() -> &'static SchemaSet {
    SchemaSet::builtin()
}

fn fk(ty: &str, reference: &str) -> Option<&'static str> {
    set().get(ty).unwrap().foreign_key_for(reference)
}

fn back(ty: &str, collection: &str) -> Option<&'static str> {
    set().get(ty).unwrap().back_reference_for(collection)
}

#[test]
fn references_map_to_their_foreign_keys() {
    assert_eq!(fk("Task", "parent"), Some("parent_id"));
    assert_eq!(fk("Task", "project"), Some("project_id"));
    assert_eq!(fk("Project", "project_schema"), Some("project_schema_id"));
    assert_eq!(fk("Asset", "parent"), Some("context_id"));
    assert_eq!(fk("Asset", "type"), Some("type_id"));
    assert_eq!(fk("AssetVersion", "asset"), Some("asset_id"));
    assert_eq!(fk("Component", "version"), Some("version_id"));
    assert_eq!(fk("Component", "container"), Some("container_id"));
    assert_eq!(fk("ComponentLocation", "location"), Some("location_id"));
    // By alias: `owner` is stored as `user`, its key as `userid`.
    assert_eq!(fk("List", "owner"), Some("user_id"));
    assert_eq!(fk("Note", "author"), Some("user_id"));
    assert_eq!(fk("SchemaStatus", "task_status"), Some("status_id"));
    assert_eq!(
        fk("ProjectSchema", "_task_workflow"),
        Some("task_workflow_schema_id")
    );
    assert_eq!(
        fk("ProjectSchema", "_version_workflow"),
        Some("asset_version_workflow_schema_id")
    );
    // Written in the data files.
    assert_eq!(fk("Recipient", "recipient"), Some("resource_id"));
    assert_eq!(fk("Recipient", "user"), Some("resource_id"));
    assert_eq!(fk("Feed", "event"), Some("social_id"));
    // Not stored in a property.
    let asset = set().get("Asset").unwrap();
    assert_eq!(
        asset.reference_link("latest_version"),
        Some(&ReferenceLink::Computed)
    );
    assert_eq!(fk("Asset", "latest_version"), None);
    let status = set().get("Status").unwrap();
    assert_eq!(
        status.reference_link("state"),
        Some(&ReferenceLink::Private)
    );
    // Not references.
    assert_eq!(fk("Task", "parent_id"), None);
    assert_eq!(fk("Task", "children"), None);
    assert_eq!(fk("Task", "no_such_property"), None);
}

#[test]
fn collections_map_to_the_key_pointing_back() {
    assert_eq!(back("Context", "children"), Some("parent_id"));
    assert_eq!(back("Project", "children"), Some("parent_id"));
    assert_eq!(back("Task", "children"), Some("parent_id"));
    assert_eq!(back("Asset", "versions"), Some("asset_id"));
    assert_eq!(back("AssetVersion", "components"), Some("version_id"));
    assert_eq!(
        back("Component", "component_locations"),
        Some("component_id")
    );
    assert_eq!(
        back("FileComponent", "component_locations"),
        Some("component_id")
    );
    assert_eq!(back("ContainerComponent", "members"), Some("container_id"));
    assert_eq!(back("SequenceComponent", "members"), Some("container_id"));
    assert_eq!(back("Context", "assets"), Some("context_id"));
    assert_eq!(back("Project", "descendants"), Some("project_id"));
    assert_eq!(back("Location", "location_components"), Some("location_id"));
    assert_eq!(back("User", "memberships"), Some("user_id"));
    assert_eq!(back("User", "timelogs"), Some("user_id"));
    assert_eq!(back("Task", "timelogs"), Some("context_id"));
    assert_eq!(back("Note", "replies"), Some("in_reply_to_id"));
    assert_eq!(back("Schema", "statuses"), Some("schema_id"));
    assert_eq!(back("ProjectSchema", "_schemas"), Some("project_schema_id"));
    assert_eq!(back("Event", "feeds"), Some("social_id"));
    // Mapped collections and polymorphic parents.
    assert_eq!(back("Task", "metadata"), Some("parent_id"));
    assert_eq!(back("Task", "notes"), Some("parent_id"));
    assert_eq!(back("AssetVersion", "status_changes"), Some("parent_id"));
    assert_eq!(back("Task", "custom_attributes"), Some("entity_id"));
    assert_eq!(back("Asset", "custom_attributes"), Some("entity_id"));

    let task = set().get("Task").unwrap();
    assert_eq!(
        task.collection_link("assignments"),
        Some(&CollectionLink::BackReference {
            foreign_key: "context_id".into(),
            filter: vec![("type".into(), "assignment".into())],
        })
    );
    assert_eq!(
        task.collection_link("appointments"),
        Some(&CollectionLink::BackReference {
            foreign_key: "context_id".into(),
            filter: Vec::new(),
        })
    );
    assert_eq!(
        task.collection_link("ancestors"),
        Some(&CollectionLink::Computed)
    );
    assert_eq!(
        task.collection_link("descendants"),
        Some(&CollectionLink::Computed)
    );
    assert_eq!(back("Task", "incoming_links"), Some("to_id"));
    assert_eq!(back("Task", "outgoing_links"), Some("from_id"));
    assert_eq!(
        task.collection_link("lists"),
        Some(&CollectionLink::Through {
            link_type: "ListObject".into(),
            owner_key: "entity_id".into(),
            member_key: "list_id".into(),
        })
    );
    assert_eq!(
        task.collection_link("scopes"),
        Some(&CollectionLink::Private)
    );
    assert_eq!(back("Task", "lists"), None);
    assert_eq!(back("Task", "parent"), None);
    let list = set().get("TypedContextList").unwrap();
    assert_eq!(
        list.collection_link("items"),
        Some(&CollectionLink::Through {
            link_type: "ListObject".into(),
            owner_key: "list_id".into(),
            member_key: "entity_id".into(),
        })
    );
}

#[test]
fn set_level_helpers_for_storage() {
    let set = set();
    assert_eq!(set.back_reference("Asset", "versions"), Some("asset_id"));
    assert_eq!(set.back_reference("Context", "children"), Some("parent_id"));
    assert_eq!(set.back_reference("Task", "lists"), None);
    assert_eq!(set.back_reference("NoSuchType", "children"), None);
    let keys: std::collections::BTreeSet<&str> = set.foreign_keys().collect();
    for key in [
        "parent_id",
        "context_id",
        "asset_id",
        "version_id",
        "component_id",
        "container_id",
        "list_id",
        "entity_id",
        "type",
    ] {
        assert!(keys.contains(key), "{key}");
    }
    assert!(!keys.contains("name"));
}

/// Every reference and collection of the set has a link, and every foreign key named is a
/// scalar property of the right type.
#[test]
fn every_reference_and_collection_is_resolved() {
    let set = set();
    for ty in set.types() {
        for property in ty.properties() {
            let name = property.name();
            match property.kind() {
                PropertyKind::Scalar { .. } => {
                    assert!(ty.reference_link(name).is_none());
                    assert!(ty.collection_link(name).is_none());
                }
                PropertyKind::Reference { .. } => match ty.reference_link(name) {
                    Some(ReferenceLink::ForeignKey(key)) => {
                        assert!(
                            matches!(
                                ty.property(key).map(|p| p.kind()),
                                Some(PropertyKind::Scalar { .. })
                            ),
                            "{ty}.{name} → {key}"
                        );
                    }
                    Some(_) => {}
                    None => panic!("{ty}.{name} has no link"),
                },
                PropertyKind::Collection { target }
                | PropertyKind::MappedCollection { target, .. } => {
                    let target = set.get(target).unwrap();
                    match ty.collection_link(name) {
                        Some(CollectionLink::BackReference {
                            foreign_key,
                            filter,
                        }) => {
                            for key in
                                std::iter::once(foreign_key).chain(filter.iter().map(|f| &f.0))
                            {
                                assert!(target.property(key).is_some(), "{ty}.{name} → {key}");
                            }
                        }
                        Some(CollectionLink::Through {
                            link_type,
                            owner_key,
                            member_key,
                        }) => {
                            let link = set.get(link_type).unwrap();
                            assert!(link.property(owner_key).is_some());
                            assert!(link.property(member_key).is_some());
                        }
                        Some(_) => {}
                        None => panic!("{ty}.{name} has no link"),
                    }
                }
            }
        }
    }
}

const GOOD: &str = "\
type Thing
    primary_key id
    id:     string = \"{uid}\"
    name:   string
    parent: -> Thing
    parent_id: string/foreign_key
    children: [Thing]
";

fn error_of(text: &str) -> String {
    SchemaSet::from_sources(&[("schema/good.schema", GOOD), ("schema/bad.schema", text)])
        .map(|_| ())
        .expect_err("the data is malformed")
        .to_string()
}

#[test]
fn a_small_set_loads_and_links() {
    let set = SchemaSet::from_sources(&[("schema/good.schema", GOOD)]).unwrap();
    let thing = set.get("Thing").unwrap();
    assert_eq!(thing.foreign_key_for("parent"), Some("parent_id"));
    assert_eq!(thing.back_reference_for("children"), Some("parent_id"));
    assert_eq!(
        set.to_json()[0]["properties"]["id"],
        serde_json::json!({"type": "string", "default": "{uid}"})
    );
}

#[test]
fn malformed_data_names_file_and_line() {
    let cases: &[(&str, &str)] = &[
        (
            "type Other\n    primary_key id\n    id: strin\n",
            "schema/bad.schema:3: unknown kind `strin`",
        ),
        (
            "# comment\n\nname: string\n",
            "schema/bad.schema:3: `name:` outside a type block",
        ),
        (
            "type Other\n    primary_key id\n    id: string\n    bogus line\n",
            "schema/bad.schema:4: unknown line `bogus`",
        ),
        (
            "type Other\n    primary_key id\n    id: string \"unclosed\n",
            "schema/bad.schema:3: a string without its closing",
        ),
        (
            "type Other\n    primary_key id\n    id: string = nope\n",
            "schema/bad.schema:3: default `nope` is not a JSON value",
        ),
        (
            "type Other\n    primary_key id\n    id: string\n    x: -> Missing\n",
            "schema/bad.schema:4: Other.x refers to Missing",
        ),
        (
            "type Other\n    id: string\n",
            "schema/bad.schema:1: type Other has no primary_key",
        ),
        (
            "type Thing\n    primary_key id\n    id: string\n",
            "schema/bad.schema:1: type Thing is already defined at schema/good.schema:1",
        ),
        (
            "type Other\n    like Missing\n",
            "schema/bad.schema:2: `like Missing`",
        ),
        (
            "type Other\n    primary_key id\n    id: string\n    id: string\n",
            "schema/bad.schema:4: property id is written twice",
        ),
        (
            "type Other\n    primary_key id\n    id: string\n    t: -> Thing\n",
            "schema/bad.schema:4: cannot tell which property of Other stores reference t",
        ),
        (
            "type Other\n    primary_key id\n    id: string\n    ts: [Thing]\n",
            "schema/bad.schema:4: cannot tell how the members of Other.ts are found",
        ),
        (
            "type Other\n    primary_key id\n    id: string\n    via nothing computed\n",
            "schema/bad.schema:4: via nothing: Other has no such property",
        ),
        (
            "type Other\n    primary_key id\n    subtype_of Thing kind=x\n    id: string\n",
            "schema/bad.schema:3: subtype_of: Other has no property kind",
        ),
        (
            "type Other\n    primary_key key\n    id: string\n",
            "schema/bad.schema:1: primary key key of Other is not a scalar property",
        ),
    ];
    for (text, expected) in cases {
        let error = error_of(text);
        assert!(
            error.starts_with(expected),
            "got {error:?}, expected {expected:?}"
        );
    }
}

#[test]
#[should_panic(
    expected = "invalid entity schema data: schema/bad.schema:2: expected a type name after `->`"
)]
fn loading_malformed_data_panics_with_file_and_line() {
    SchemaSet::load(&[("schema/bad.schema", "type Bad\n    id: -> \n")]);
}
