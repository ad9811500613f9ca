//! The store through `Api::run`, as a batch from a client arrives: validation, the query
//! language's semantics on stored data, and all-or-nothing batches.

use serde_json::{json, Value};

use crate::api::Api;
use crate::db::Database;
use crate::error::ApiError;

fn api() -> (tempfile::TempDir, Api) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let api = Api::new(db, dir.path().to_path_buf(), "http://test".into()).unwrap();
    (dir, api)
}

fn run(api: &Api, operations: Value) -> Result<Vec<Value>, ApiError> {
    let Value::Array(operations) = operations else {
        panic!("a list")
    };
    api.run("alice", operations)
}

fn create(api: &Api, ty: &str, data: Value) -> Value {
    let mut results = run(
        api,
        json!([{"action": "create", "entity_type": ty, "entity_data": data}]),
    )
    .unwrap_or_else(|e| panic!("create {ty}: {e}"));
    results.remove(0)["data"].take()
}

fn query(api: &Api, expression: &str) -> Vec<Value> {
    let mut results = run(api, json!([{"action": "query", "expression": expression}]))
        .unwrap_or_else(|e| panic!("{expression}: {e}"));
    match results.remove(0)["data"].take() {
        Value::Array(found) => found,
        other => panic!("{other}"),
    }
}

fn names(found: &[Value]) -> Vec<&str> {
    found.iter().map(|e| e["name"].as_str().unwrap()).collect()
}

fn refer(ty: &str, entity: &Value) -> Value {
    json!({"__entity_type__": ty, "id": entity["id"]})
}

/// A project with a sequence, two shots, and tasks on each shot.
fn tree(api: &Api) -> (Value, Value, Vec<Value>) {
    let schema = query(api, "ProjectSchema")[0].clone();
    let project = create(
        api,
        "Project",
        json!({"name": "p", "full_name": "P", "project_schema": refer("ProjectSchema", &schema)}),
    );
    let sequence = create(
        api,
        "Sequence",
        json!({"name": "sq", "parent": refer("Project", &project)}),
    );
    let shots: Vec<Value> = ["a", "b"]
        .iter()
        .map(|name| {
            create(
                api,
                "Shot",
                json!({"name": name, "parent": refer("Sequence", &sequence), "description": null}),
            )
        })
        .collect();
    create(
        api,
        "Task",
        json!({"name": "comp", "parent": refer("Shot", &shots[0])}),
    );
    create(
        api,
        "Task",
        json!({"name": "anim", "parent": refer("Shot", &shots[0])}),
    );
    create(
        api,
        "Task",
        json!({"name": "comp", "parent": refer("Shot", &shots[1])}),
    );
    (project, sequence, shots)
}

#[test]
fn the_server_fills_in_what_ftrack_does() {
    let (_dir, api) = api();
    let (project, _, shots) = tree(&api);
    let task = &query(
        &api,
        "select project_id, status_id, bid, context_type from Task",
    )[0];
    assert_eq!(
        task["project_id"], project["id"],
        "the project, from the parent"
    );
    assert!(task["status_id"].is_string(), "a default status");
    assert_eq!(task["bid"], json!(0));
    assert_eq!(task["context_type"], json!("task"));
    let link = &query(
        &api,
        &format!(
            "select link from Shot where id is {}",
            shots[0]["id"].as_str().unwrap()
        ),
    )[0]["link"];
    let link: Vec<&str> = link
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(link, ["p", "sq", "a"]);
}

#[test]
fn the_query_language_on_stored_data() {
    let (_dir, api) = api();
    let (project, sequence, _) = tree(&api);
    let pid = project["id"].as_str().unwrap();
    assert_eq!(
        query(&api, &format!("Task where project.id is {pid}")).len(),
        3
    );
    assert_eq!(
        names(&query(&api, "Task where parent.name is \"b\"")),
        ["comp"]
    );
    assert_eq!(
        names(&query(&api, "Task where not parent.name is \"b\"")),
        ["comp", "anim"]
    );
    assert_eq!(
        names(&query(&api, "Shot where children any (name is \"anim\")")),
        ["a"]
    );
    assert_eq!(
        names(&query(&api, "Shot where children.name is \"comp\"")),
        ["a", "b"]
    );
    assert_eq!(
        names(&query(&api, "Shot where not children any ()")),
        Vec::<&str>::new()
    );
    assert_eq!(
        names(&query(&api, "Task where parent has (name like \"%b\")")),
        ["comp"]
    );
    assert_eq!(
        names(&query(&api, "Task where name not_in (\"comp\")")),
        ["anim"]
    );
    assert_eq!(
        names(&query(
            &api,
            "Task where name is_not \"comp\" or parent.name is \"b\""
        )),
        ["anim", "comp"]
    );
    assert_eq!(
        names(&query(
            &api,
            "select name from Shot order by name descending"
        )),
        ["b", "a"]
    );
    assert_eq!(
        names(&query(&api, "Shot where description is none")),
        ["a", "b"]
    );
    // Subqueries, and polymorphism: a query on Context finds the project and every context.
    let under = format!(
        "Task where parent_id in (select id from Shot where parent_id is {})",
        sequence["id"].as_str().unwrap()
    );
    assert_eq!(query(&api, &under).len(), 3);
    let types: Vec<String> = query(&api, "Context")
        .iter()
        .map(|c| c["__entity_type__"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        types,
        ["Project", "Sequence", "Shot", "Shot", "Task", "Task", "Task"]
    );
    // Nested projections.
    let found = query(
        &api,
        "select name, parent.name, parent.parent.name from Task where name is anim",
    );
    assert_eq!(found[0]["parent"]["name"], json!("a"));
    assert_eq!(found[0]["parent"]["parent"]["name"], json!("sq"));
    assert_eq!(found[0]["parent"]["__entity_type__"], json!("Shot"));
}

#[test]
fn bad_writes_are_refused_naming_type_attribute_and_value() {
    let (_dir, api) = api();
    let (project, _, shots) = tree(&api);
    let refused = |ty: &str, data: Value| -> String {
        run(
            &api,
            json!([{"action": "create", "entity_type": ty, "entity_data": data}]),
        )
        .err()
        .unwrap_or_else(|| panic!("{ty} {data} must be refused"))
        .content
    };
    let err = refused("Nope", json!({}));
    assert!(err.contains("unknown entity type \"Nope\""), "{err}");
    let err = refused("Shot", json!({"name": "x", "colour": "red"}));
    assert!(err.contains("Shot has no attribute \"colour\""), "{err}");
    let err = refused("Shot", json!({"name": 5}));
    assert!(err.contains("Shot.name must be text, not 5"), "{err}");
    let err = refused(
        "Shot",
        json!({"name": "x", "parent": {"__entity_type__": "Shot", "id": "missing"}}),
    );
    assert!(
        err.contains("Shot.parent: there is no Context with id \"missing\""),
        "{err}"
    );
    let err = refused("TypedContext", json!({"name": "x"}));
    assert!(err.contains("cannot be created itself"), "{err}");
    let err = refused("Project", json!({"name": "q", "full_name": "Q"}));
    assert!(
        err.contains("Project.project_schema_id is required"),
        "{err}"
    );
    let id = shots[0]["id"].clone();
    let changed = run(
        &api,
        json!([{"action": "update", "entity_type": "Shot", "entity_key": [id], "entity_data": {"id": "other"}}]),
    )
    .err()
    .unwrap()
    .content;
    assert!(changed.contains("Shot.id cannot be changed"), "{changed}");
    // Nothing of a failing batch is kept: the first create goes with the second's failure.
    let batch = run(
        &api,
        json!([
            {"action": "create", "entity_type": "Shot", "entity_data": {"name": "kept?", "parent": refer("Project", &project)}},
            {"action": "create", "entity_type": "Shot", "entity_data": {"name": 1}},
        ]),
    );
    assert!(batch.err().unwrap().content.starts_with("operation 2: "));
    assert!(query(&api, "Shot where name is \"kept?\"").is_empty());
}

#[test]
fn paths_too_long_to_be_real_are_refused() {
    let (_dir, api) = api();
    let long = vec!["parent"; 100_000].join(".");
    for expression in [
        format!("select {long}.name from Task"),
        format!("Task where {long}.name is x"),
        format!("Task where id in (select id from Task where {long}.id is x)"),
        format!("Task order by {long}.name"),
    ] {
        let err =
            run(&api, json!([{"action": "query", "expression": expression}])).expect_err("refused");
        assert!(
            err.content.contains("more than 32 attributes"),
            "{}",
            err.content
        );
    }
}

#[test]
fn deleting_takes_what_an_entity_owns() {
    let (_dir, api) = api();
    let (_, sequence, _) = tree(&api);
    run(
        &api,
        json!([{"action": "delete", "entity_type": "Sequence", "entity_key": [sequence["id"]]}]),
    )
    .unwrap();
    assert!(
        query(&api, "TypedContext").is_empty(),
        "shots and tasks went with it"
    );
    assert_eq!(query(&api, "Project").len(), 1);
}

#[test]
fn sequence_members_point_at_their_sequence_as_their_container() {
    // As ftrack_api writes a sequence: the container and its members in one batch, each
    // member's `container` a SequenceComponent (a ContainerComponent, in ftrack's model).
    let (_dir, api) = api();
    let sequence = "5e0c7e4c-0000-4000-8000-000000000001";
    let member = "5e0c7e4c-0000-4000-8000-000000000002";
    run(
        &api,
        json!([
            {"action": "create", "entity_type": "SequenceComponent", "entity_key": [sequence],
             "entity_data": {"id": sequence, "name": "beauty", "padding": 4, "size": 10,
                             "file_type": ".exr"}},
            {"action": "create", "entity_type": "FileComponent", "entity_key": [member],
             "entity_data": {"id": member, "name": "0001", "size": 10, "file_type": ".exr",
                             "container": {"__entity_type__": "SequenceComponent", "id": sequence}}},
        ]),
    )
    .unwrap();
    let found = query(
        &api,
        &format!("select container.name from FileComponent where id is {member}"),
    );
    assert_eq!(
        found[0]["container"]["__entity_type__"],
        "SequenceComponent"
    );
    assert_eq!(found[0]["container"]["name"], "beauty");
    let members = query(
        &api,
        &format!("select members from SequenceComponent where id is {sequence}"),
    );
    assert_eq!(
        members[0]["members"].as_array().unwrap().len(),
        1,
        "{members:?}"
    );
    // A container that does not exist is still refused.
    let refused = run(
        &api,
        json!([{"action": "create", "entity_type": "FileComponent",
                "entity_data": {"name": "x", "container": {"__entity_type__": "ContainerComponent", "id": "missing"}}}]),
    );
    assert!(refused.is_err());
}
