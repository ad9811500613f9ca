//! The store through [`Database::transaction`], as `api` uses it: validation, the query
//! language's semantics on stored data, computed attributes, and all-or-nothing
//! transactions.

use serde_json::{json, Value};

use super::Database;
use crate::error::ApiError;

/// The URL computed attributes (`thumbnail_url`) start with.
const SERVER_URL: &str = "http://test";

fn database() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.prepare().unwrap();
    (dir, db)
}

/// Creates a `ty` from `data` in a transaction of its own: the entity as stored, or why not.
fn try_create(db: &Database, ty: &str, data: Value) -> Result<Value, ApiError> {
    db.transaction(SERVER_URL, |store| {
        store.create(ty, data.as_object().expect("entity data is an object"))
    })
}

fn create(db: &Database, ty: &str, data: Value) -> Value {
    try_create(db, ty, data).unwrap_or_else(|e| panic!("create {ty}: {e}"))
}

fn try_query(db: &Database, expression: &str) -> Result<Vec<Value>, ApiError> {
    let query = crate::query::parse(expression)
        .unwrap_or_else(|e| panic!("{expression} does not parse: {e}"));
    db.transaction(SERVER_URL, |store| Ok(store.query(&query)?.data))
}

fn query(db: &Database, expression: &str) -> Vec<Value> {
    try_query(db, expression).unwrap_or_else(|e| panic!("{expression}: {e}"))
}

fn names(found: &[Value]) -> Vec<&str> {
    found.iter().map(|e| e["name"].as_str().unwrap()).collect()
}

fn refer(ty: &str, entity: &Value) -> Value {
    json!({"__entity_type__": ty, "id": entity["id"]})
}

/// A project with a sequence, two shots, and tasks on each shot.
fn tree(db: &Database) -> (Value, Value, Vec<Value>) {
    let schema = query(db, "ProjectSchema")[0].clone();
    let project = create(
        db,
        "Project",
        json!({"name": "p", "full_name": "P", "project_schema": refer("ProjectSchema", &schema)}),
    );
    let sequence = create(
        db,
        "Sequence",
        json!({"name": "sq", "parent": refer("Project", &project)}),
    );
    let shots: Vec<Value> = ["a", "b"]
        .iter()
        .map(|name| {
            create(
                db,
                "Shot",
                json!({"name": name, "parent": refer("Sequence", &sequence), "description": null}),
            )
        })
        .collect();
    create(
        db,
        "Task",
        json!({"name": "comp", "parent": refer("Shot", &shots[0])}),
    );
    create(
        db,
        "Task",
        json!({"name": "anim", "parent": refer("Shot", &shots[0])}),
    );
    create(
        db,
        "Task",
        json!({"name": "comp", "parent": refer("Shot", &shots[1])}),
    );
    (project, sequence, shots)
}

#[test]
fn the_server_fills_in_what_ftrack_does() {
    let (_dir, db) = database();
    let (project, _, shots) = tree(&db);
    let task = &query(
        &db,
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
        &db,
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
    let (_dir, db) = database();
    let (project, sequence, _) = tree(&db);
    let pid = project["id"].as_str().unwrap();
    assert_eq!(
        query(&db, &format!("Task where project.id is {pid}")).len(),
        3
    );
    assert_eq!(
        names(&query(&db, "Task where parent.name is \"b\"")),
        ["comp"]
    );
    assert_eq!(
        names(&query(&db, "Task where not parent.name is \"b\"")),
        ["comp", "anim"]
    );
    assert_eq!(
        names(&query(&db, "Shot where children any (name is \"anim\")")),
        ["a"]
    );
    assert_eq!(
        names(&query(&db, "Shot where children.name is \"comp\"")),
        ["a", "b"]
    );
    assert_eq!(
        names(&query(&db, "Shot where not children any ()")),
        Vec::<&str>::new()
    );
    assert_eq!(
        names(&query(&db, "Task where parent has (name like \"%b\")")),
        ["comp"]
    );
    assert_eq!(
        names(&query(&db, "Task where name not_in (\"comp\")")),
        ["anim"]
    );
    assert_eq!(
        names(&query(
            &db,
            "Task where name is_not \"comp\" or parent.name is \"b\""
        )),
        ["anim", "comp"]
    );
    assert_eq!(
        names(&query(
            &db,
            "select name from Shot order by name descending"
        )),
        ["b", "a"]
    );
    assert_eq!(
        names(&query(&db, "Shot where description is none")),
        ["a", "b"]
    );
    // Subqueries, and polymorphism: a query on Context finds the project and every context.
    let under = format!(
        "Task where parent_id in (select id from Shot where parent_id is {})",
        sequence["id"].as_str().unwrap()
    );
    assert_eq!(query(&db, &under).len(), 3);
    let types: Vec<String> = query(&db, "Context")
        .iter()
        .map(|c| c["__entity_type__"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        types,
        ["Project", "Sequence", "Shot", "Shot", "Task", "Task", "Task"]
    );
    // Nested projections.
    let found = query(
        &db,
        "select name, parent.name, parent.parent.name from Task where name is anim",
    );
    assert_eq!(found[0]["parent"]["name"], json!("a"));
    assert_eq!(found[0]["parent"]["parent"]["name"], json!("sq"));
    assert_eq!(found[0]["parent"]["__entity_type__"], json!("Shot"));
}

#[test]
fn bad_writes_are_refused_naming_type_attribute_and_value() {
    let (_dir, db) = database();
    let (project, _, shots) = tree(&db);
    let refused = |ty: &str, data: Value| -> String {
        try_create(&db, ty, data.clone())
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
    let changed = db
        .transaction(SERVER_URL, |store| {
            let data = json!({"id": "other"});
            store.update("Shot", &[shots[0]["id"].clone()], data.as_object().unwrap())
        })
        .unwrap_err()
        .content;
    assert!(changed.contains("Shot.id cannot be changed"), "{changed}");
    // Nothing of a failing transaction is kept: the first create goes with the second's
    // failure.
    let kept = json!({"name": "kept?", "parent": refer("Project", &project)});
    let failing = db.transaction(SERVER_URL, |store| {
        store.create("Shot", kept.as_object().unwrap())?;
        store.create("Shot", json!({"name": 1}).as_object().unwrap())
    });
    assert!(failing.is_err());
    assert!(query(&db, "Shot where name is \"kept?\"").is_empty());
}

#[test]
fn paths_too_long_to_be_real_are_refused() {
    let (_dir, db) = database();
    let long = vec!["parent"; 100_000].join(".");
    for expression in [
        format!("select {long}.name from Task"),
        format!("Task where {long}.name is x"),
        format!("Task where id in (select id from Task where {long}.id is x)"),
        format!("Task order by {long}.name"),
    ] {
        let err = try_query(&db, &expression).expect_err("refused");
        assert!(
            err.content.contains("more than 32 attributes"),
            "{}",
            err.content
        );
    }
}

#[test]
fn deleting_takes_what_an_entity_owns() {
    let (_dir, db) = database();
    let (_, sequence, _) = tree(&db);
    db.transaction(SERVER_URL, |store| {
        store.delete("Sequence", &[sequence["id"].clone()])
    })
    .unwrap();
    assert!(
        query(&db, "TypedContext").is_empty(),
        "shots and tasks went with it"
    );
    assert_eq!(query(&db, "Project").len(), 1);
}

#[test]
fn sequence_members_point_at_their_sequence_as_their_container() {
    // As ftrack_api writes a sequence: the container and its members in one batch, each
    // member's `container` a SequenceComponent (a ContainerComponent, in ftrack's model).
    let (_dir, db) = database();
    let sequence = "5e0c7e4c-0000-4000-8000-000000000001";
    let member = "5e0c7e4c-0000-4000-8000-000000000002";
    db.transaction(SERVER_URL, |store| {
        let container = json!({"id": sequence, "name": "beauty", "padding": 4, "size": 10,
                               "file_type": ".exr"});
        store.create("SequenceComponent", container.as_object().unwrap())?;
        let file = json!({"id": member, "name": "0001", "size": 10, "file_type": ".exr",
                          "container": {"__entity_type__": "SequenceComponent", "id": sequence}});
        store.create("FileComponent", file.as_object().unwrap())
    })
    .unwrap();
    let found = query(
        &db,
        &format!("select container.name from FileComponent where id is {member}"),
    );
    assert_eq!(
        found[0]["container"]["__entity_type__"],
        "SequenceComponent"
    );
    assert_eq!(found[0]["container"]["name"], "beauty");
    let members = query(
        &db,
        &format!("select members from SequenceComponent where id is {sequence}"),
    );
    assert_eq!(
        members[0]["members"].as_array().unwrap().len(),
        1,
        "{members:?}"
    );
    // A container that does not exist is still refused.
    let refused = try_create(
        &db,
        "FileComponent",
        json!({"name": "x", "container": {"__entity_type__": "ContainerComponent", "id": "missing"}}),
    );
    assert!(refused.is_err());
}

#[test]
fn comparisons_order_numbers_dates_and_text_as_stored() {
    let (_dir, db) = database();
    let (_, _, shots) = tree(&db);
    // Bids 2, 9 and 10: compared as text, "10" would come before "9" and "2".
    for (name, bid, start) in [
        ("t1", json!(2), "2024-01-10T09:00:00"),
        ("t2", json!(9.5), "2024-02-10T09:00:00"),
        ("t3", json!(10), "2024-03-10T09:00:00"),
    ] {
        create(
            &db,
            "Task",
            json!({"name": name, "parent": refer("Shot", &shots[1]), "bid": bid,
                   "start_date": {"__type__": "datetime", "value": start}}),
        );
    }
    let found = |condition: &str| -> Vec<String> {
        let expression = format!("Task where name like \"t%\" and ({condition})");
        let mut found: Vec<String> = names(&query(&db, &expression))
            .into_iter()
            .map(str::to_string)
            .collect();
        found.sort();
        found
    };
    assert_eq!(found("bid < 9.5"), ["t1"]);
    assert_eq!(found("bid > 9"), ["t2", "t3"]);
    assert_eq!(found("bid <= 9.5"), ["t1", "t2"]);
    assert_eq!(found("bid >= 10"), ["t3"]);
    assert_eq!(found("bid != 9.5"), ["t1", "t3"]);
    assert_eq!(found("bid > 2 and bid < 10"), ["t2"]);
    assert_eq!(found("name != \"t1\""), ["t2", "t3"]);
    assert_eq!(found("name not_like \"%2\""), ["t1", "t3"]);
    assert_eq!(found("name not like \"t_\""), Vec::<String>::new());
    assert_eq!(found("start_date after \"2024-02-01\""), ["t2", "t3"]);
    assert_eq!(found("start_date before \"2024-02-01\""), ["t1"]);
    assert_eq!(
        found("start_date >= \"2024-02-10T09:00:00\" and start_date < \"2024-03-01\""),
        ["t2"]
    );
}

#[test]
fn queries_on_base_types_return_the_concrete_subtypes() {
    let (_dir, db) = database();
    tree(&db);
    let types = |found: &[Value]| -> Vec<String> {
        let mut types: Vec<String> = found
            .iter()
            .map(|e| e["__entity_type__"].as_str().unwrap().to_string())
            .collect();
        types.sort();
        types
    };
    let contexts = query(&db, "select name from TypedContext");
    assert_eq!(
        types(&contexts),
        ["Sequence", "Shot", "Shot", "Task", "Task", "Task"],
        "TypedContext: every context but the project, each as its own type"
    );
    let anim = query(
        &db,
        "select name, parent.name from TypedContext where name is anim",
    );
    assert_eq!(anim[0]["__entity_type__"], "Task");
    assert_eq!(anim[0]["parent"]["__entity_type__"], "Shot");

    for (ty, data) in [
        (
            "FileComponent",
            json!({"name": "main", "file_type": ".exr"}),
        ),
        ("SequenceComponent", json!({"name": "beauty", "padding": 4})),
        ("ContainerComponent", json!({"name": "bundle"})),
    ] {
        create(&db, ty, data);
    }
    let components = query(&db, "select name, system_type from Component");
    assert_eq!(
        types(&components),
        ["ContainerComponent", "FileComponent", "SequenceComponent"]
    );
    let kinds: Vec<(&str, &str)> = components
        .iter()
        .map(|c| {
            (
                c["__entity_type__"].as_str().unwrap(),
                c["system_type"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("SequenceComponent", "sequence")),
        "{kinds:?}"
    );
    let beauty = query(&db, "Component where name is beauty");
    assert_eq!(beauty.len(), 1, "{beauty:?}");
    assert_eq!(beauty[0]["__entity_type__"], "SequenceComponent");
    assert_eq!(beauty[0]["system_type"], "sequence", "{beauty:?}");
}

#[test]
fn thumbnail_url_points_at_the_servers_thumbnail_route() {
    let (_dir, db) = database();
    let (_, _, shots) = tree(&db);
    let thumbnail = create(
        &db,
        "FileComponent",
        json!({"name": "thumbnail", "file_type": ".jpg"}),
    );
    let id = thumbnail["id"].as_str().unwrap();
    db.transaction(SERVER_URL, |store| {
        let data = json!({"thumbnail": refer("FileComponent", &thumbnail)});
        store.update("Shot", &[shots[0]["id"].clone()], data.as_object().unwrap())
    })
    .unwrap();
    let found = query(&db, "select name, thumbnail_url from Shot order by name");
    assert_eq!(
        found[0]["thumbnail_url"],
        json!({"url": format!("{SERVER_URL}/component/thumbnail?id={id}"), "value": id}),
        "{found:?}"
    );
    assert_eq!(found[1]["thumbnail_url"], Value::Null, "shot b has none");
}
