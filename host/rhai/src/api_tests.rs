//! The session's server calls against a fake server (the `ServerApi` boundary): reads in
//! `register` and in handlers, writes queued until one commit, entities as maps, the
//! plugin's session shared by its hook files, and errors with where the script called.

use super::*;
use connect_core::HubIdentity;
use connect_plugins::ServerApi;
use serde_json::json;

/// A fake server: records what it is sent and answers queries from its tasks.
#[derive(Default)]
struct FakeServer {
    /// Each batch `call` was sent.
    batches: Mutex<Vec<Vec<Value>>>,
    /// Each query expression.
    queries: Mutex<Vec<String>>,
}

/// What the fake server says of a query that names no known entity type.
const REFUSED: &str = "Server reported error: ValueError(Unknown entity type 'Nope')";

impl ServerApi for FakeServer {
    fn call(&self, operations: Vec<Value>) -> Result<Vec<Value>, ServerApiError> {
        self.batches.lock().unwrap().push(operations.clone());
        if operations.iter().any(|op| op["entity_type"] == "Nope") {
            return Err(ServerApiError(REFUSED.into()));
        }
        Ok(operations
            .iter()
            .map(|op| json!({"action": op["action"], "data": op["entity_data"]}))
            .collect())
    }

    fn query(&self, expression: &str) -> Result<Vec<Value>, ServerApiError> {
        self.queries.lock().unwrap().push(expression.to_string());
        let tasks = [("t1", "comp"), ("t2", "light")]
            .map(|(id, name)| json!({"__entity_type__": "Task", "id": id, "name": name}));
        if expression.starts_with("Nope") {
            return Err(ServerApiError(REFUSED.into()));
        }
        Ok(tasks
            .into_iter()
            .filter(|task| {
                let id = task["id"].as_str().unwrap();
                !expression.contains("where id is") || expression.contains(&format!("\"{id}\""))
            })
            .collect())
    }

    fn server_url(&self) -> &str {
        "https://studio.ftrackapp.com"
    }

    fn api_user(&self) -> &str {
        "alice"
    }
}

impl FakeServer {
    fn batches(&self) -> Vec<Vec<Value>> {
        self.batches.lock().unwrap().clone()
    }
}

/// The session a host signed in to `server` gives its plugins.
fn signed_in(server: &Arc<FakeServer>) -> SessionInfo {
    SessionInfo {
        api_user: "someone else".into(),
        server_url: "http://elsewhere".into(),
        api: Some(server.clone()),
    }
}

fn engine() -> Arc<Engine> {
    let folders = PluginFolders {
        root: PathBuf::from("/nowhere"),
        library_dirs: Vec::new(),
    };
    Arc::new(plugin_engine(&PluginTag::new("test"), &folders))
}

/// Registers the hook `source` (as `hook.rhai`) with `info` on a new hub.
fn register(source: &str, info: &SessionInfo) -> (Arc<EventHub>, Result<(), String>) {
    let hook = CompiledHook::compile_source(engine(), PluginTag::new("test"), "hook.rhai", source);
    let hook = Arc::new(hook.unwrap());
    let hub = Arc::new(EventHub::new(HubIdentity::local("alice")));
    let outcome = hook.register(&hub, info).map_err(|e| e.to_string());
    (hub, outcome)
}

/// What the handlers of `t` answer for `data`.
fn publish(hub: &EventHub, data: Value) -> Vec<Value> {
    hub.publish(&mut Event::new("t").with_data(data))
}

/// Runs the hook's `fn name(session, event)` as a handler, the session curried as
/// `Fn(name).curry(session)` does; its answer or the error the host logs.
fn handle(source: &str, info: &SessionInfo, name: &str) -> Result<Value, String> {
    let hook = CompiledHook::compile_source(engine(), PluginTag::new("test"), "hook.rhai", source);
    let hook = Arc::new(hook.unwrap());
    let hub = Arc::new(EventHub::new(HubIdentity::local("alice")));
    hook.register(&hub, info).unwrap();
    let event_hub = ScriptHub {
        hub: Arc::downgrade(&hub),
        hook: Arc::downgrade(&hook),
    };
    let session = ScriptSession::new(event_hub, info, hook.api.session(info));
    let mut callback = FnPtr::new(name).unwrap();
    callback.add_curry(Dynamic::from(session));
    let handler = ScriptHandler::new(hook, callback);
    call_once(&handler, &mut Event::new("t"))
        .map(Reply::into_json)
        .map_err(|e| e.0)
}

#[test]
fn query_and_get_answer_maps_in_register_and_in_handlers() {
    let server = Arc::new(FakeServer::default());
    let (hub, outcome) = register(
        r#"
        fn on_named(session, event) { session.get("Task", event.data.id) }
        fn register(session) {
            let names = session.query("select name from Task").map(|task| task.name);
            let hub = session.event_hub;
            hub.subscribe("topic=t", |event| {
                let found = session.query(`Task where id is "${event.data.id}"`);
                [names, found.len(), found[0].name, found[0].__entity_type__]
            });
            session.event_hub.subscribe("topic=t", Fn("on_named").curry(session));
            hub.subscribe("topic=t", |event| session.get("Task", "missing") == ());
        }"#,
        &signed_in(&server),
    );
    outcome.unwrap();
    assert_eq!(
        publish(&hub, json!({"id": "t2"})),
        vec![
            json!([["comp", "light"], 1, "light", "Task"]),
            json!({"__entity_type__": "Task", "id": "t2", "name": "light"}),
            json!(true),
        ]
    );
    assert_eq!(
        server.queries.lock().unwrap()[..3],
        [
            "select name from Task",
            "Task where id is \"t2\"",
            "Task where id is \"t2\""
        ]
    );
    assert!(server.batches().is_empty(), "reads send no batch");
}

#[test]
fn creates_wait_for_the_commit_and_go_as_one_batch() {
    let server = Arc::new(FakeServer::default());
    let (hub, outcome) = register(
        r#"
        fn register(session) {
            let hub = session.event_hub;
            hub.subscribe("topic=t", |event| {
                let task = session.create("Task", #{ name: event.data.name });
                let note = session.create("Note", #{ content: "hi", parent: task });
                let results = session.commit();
                [task.__entity_type__, type_of(task.id), note.parent.id == task.id, results,
                 session.commit()]
            });
        }"#,
        &signed_in(&server),
    );
    outcome.unwrap();
    let answer = publish(&hub, json!({"name": "comp"})).remove(0);
    let batches = server.batches();
    assert_eq!(batches.len(), 1, "one batch: {batches:?}");
    let [task, note] = &batches[0][..] else {
        panic!("two creates: {batches:?}");
    };
    assert_eq!(task["action"], "create");
    assert_eq!(task["entity_type"], "Task");
    assert_eq!(task["entity_data"]["name"], "comp");
    let id = task["entity_data"]["id"].clone();
    assert_eq!(
        note["entity_data"]["parent"],
        json!({"__entity_type__": "Task", "id": id})
    );
    assert_eq!(
        answer,
        json!(["Task", "string", true, [
            {"action": "create", "data": task["entity_data"]},
            {"action": "create", "data": note["entity_data"]},
        ], []])
    );
}

#[test]
fn update_and_delete_take_an_entity_or_a_type_and_id() {
    let server = Arc::new(FakeServer::default());
    let (_, outcome) = register(
        r#"
        fn register(session) {
            let task = session.query("Task")[0];
            session.update(task, #{ name: "renamed" });
            session.delete(task);
            session.update("Task", "t2", #{ status: session.get("Task", "t2") });
            session.delete("Note", "n1");
            let made = session.create("Task", #{ name: "new" });
            session.delete(made);
            session.commit();
        }"#,
        &signed_in(&server),
    );
    outcome.unwrap();
    let batches = server.batches();
    assert_eq!(batches.len(), 1);
    let operations: Vec<_> = batches[0]
        .iter()
        .map(|op| {
            (
                op["action"].clone(),
                op["entity_type"].clone(),
                op["entity_key"].clone(),
            )
        })
        .collect();
    let made = batches[0][4]["entity_data"]["id"].clone();
    assert_eq!(
        operations,
        [
            (json!("update"), json!("Task"), json!(["t1"])),
            (json!("delete"), json!("Task"), json!(["t1"])),
            (json!("update"), json!("Task"), json!(["t2"])),
            (json!("delete"), json!("Note"), json!(["n1"])),
            (json!("create"), json!("Task"), Value::Null),
            (json!("delete"), json!("Task"), json!([made])),
        ]
    );
    assert_eq!(batches[0][0]["entity_data"], json!({"name": "renamed"}));
    // An entity in the data is sent as a reference to it.
    assert_eq!(
        batches[0][2]["entity_data"],
        json!({"status": {"__entity_type__": "Task", "id": "t2"}})
    );
}

#[test]
fn server_errors_are_script_errors_where_the_script_called() {
    let server = Arc::new(FakeServer::default());
    let info = signed_in(&server);
    let (_, outcome) = register(
        "fn register(session) {\n    let tasks = session.query(\"Nope\");\n}",
        &info,
    );
    assert_eq!(
        outcome.unwrap_err(),
        format!("hook.rhai:2:25: session.query: {REFUSED} (in function 'register')")
    );

    let source = "fn register(session) {}\n\
                  fn on_event(session, event) {\n    \
                      session.create(\"Nope\", #{});\n    \
                      session.commit()\n}";
    let error = handle(source, &info, "on_event").unwrap_err();
    assert_eq!(
        error,
        format!(
            "hook.rhai:4:13: session.commit: commit of 1 change(s) failed, and the changes \
             are no longer queued: {REFUSED} (in function 'on_event')"
        )
    );
    // A script may catch the error: it is the message.
    let source = "fn register(session) {}\n\
                  fn on_event(session, event) {\n    \
                      let caught = ();\n    \
                      try { session.query(\"Nope\"); } catch (err) { caught = err; }\n    \
                      caught\n}";
    assert_eq!(
        handle(source, &info, "on_event").unwrap(),
        json!(format!("session.query: {REFUSED}"))
    );
    // In a closure: where in the closure, and the calls it was raised through.
    let source = "fn register(session) {}\n\
                  fn on_event(session, event) {\n    \
                      let find = |what| session.query(what);\n    \
                      find.call(\"Nope\")\n}";
    let error = handle(source, &info, "on_event").unwrap_err();
    assert_eq!(
        error,
        format!("hook.rhai:3:31: session.query: {REFUSED} (in a closure, in function 'on_event')")
    );
}

#[test]
fn without_a_server_every_call_says_the_host_is_not_connected() {
    let info = SessionInfo {
        api_user: "bob".into(),
        server_url: "https://nowhere.ftrackapp.com".into(),
        api: None,
    };
    let calls = [
        ("session.query(\"Task\")", "query"),
        ("session.get(\"Task\", \"t1\")", "get"),
        ("session.create(\"Task\", #{})", "create"),
        ("session.update(\"Task\", \"t1\", #{})", "update"),
        (
            "session.update(#{ __entity_type__: \"Task\", id: \"t1\" }, #{})",
            "update",
        ),
        ("session.delete(\"Task\", \"t1\")", "delete"),
        ("session.delete(#{})", "delete"),
        ("session.commit()", "commit"),
    ];
    for (call, name) in calls {
        let source = format!("fn register(session) {{\n    {call};\n}}");
        let (_, outcome) = register(&source, &info);
        assert_eq!(
            outcome.unwrap_err(),
            format!("hook.rhai:2:13: session.{name}: {NOT_CONNECTED} (in function 'register')"),
        );
    }
    let source = "fn register(session) {}\n\
                  fn on_event(session, event) {\n    \
                      [session.api_user, session.server_url, session.query(\"Task\")]\n}";
    let error = handle(source, &info, "on_event").unwrap_err();
    assert_eq!(
        error,
        format!("hook.rhai:3:52: session.query: {NOT_CONNECTED} (in function 'on_event')")
    );
    let source = "fn register(session) {}\n\
                  fn on_event(session, event) { [session.api_user, session.server_url] }";
    assert_eq!(
        handle(source, &info, "on_event").unwrap(),
        json!(["bob", "https://nowhere.ftrackapp.com"])
    );
}

#[test]
fn what_is_not_json_or_not_an_entity_is_refused() {
    let server = Arc::new(FakeServer::default());
    let info = signed_in(&server);
    let refused = |call: &str| {
        let source = format!("fn register(session) {{\n    {call};\n}}");
        register(&source, &info).1.unwrap_err()
    };
    assert_eq!(
        refused("session.create(\"Task\", #{ ratio: [1.0 / 0.0] })"),
        "hook.rhai:2:13: session.create: the data is not JSON: JSON has no infinity or NaN \
         (inf) at data.ratio[0] (in function 'register')"
    );
    let error = refused("session.update(#{ id: \"t1\" }, #{})");
    assert!(
        error.starts_with("hook.rhai:2:13: session.update: the entity must be a map"),
        "{error}"
    );
    let error = refused("session.delete(#{ __entity_type__: \"Task\", id: 5 })");
    assert!(
        error.contains("session.delete: the entity must be a map"),
        "{error}"
    );
    let error = refused("session.get(\"Task where name\", \"x\")");
    assert!(error.contains("not an entity type name"), "{error}");
    assert!(server.batches().is_empty() && server.queries.lock().unwrap().is_empty());
}

#[test]
fn the_hooks_of_a_plugin_share_its_session() {
    let server = Arc::new(FakeServer::default());
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let first = write(
        "a.rhai",
        r#"fn register(session) { session.create("Task", #{ name: "from a" }); }"#,
    );
    let second = write(
        "b.rhai",
        r#"fn register(session) {
            if session.api_user != "alice" || !session.server_url.starts_with("https://studio") {
                throw "the user and server are the API's";
            }
            session.create("Task", #{ name: "from b" });
            session.commit();
        }"#,
    );
    let mut load = RhaiPluginLoad {
        folders: PluginFolders {
            root: dir.path().to_path_buf(),
            library_dirs: Vec::new(),
        },
        tag: PluginTag::new("shared"),
        engine: None,
        api: PluginApi::default(),
    };
    let hooks = [first, second].map(|path| load.prepare(&path).unwrap().unwrap());
    let hub = Arc::new(EventHub::new(HubIdentity::local("alice")));
    let info = signed_in(&server);
    for hook in &hooks {
        hook.register(&hub, &info).unwrap();
    }
    let batches = server.batches();
    assert_eq!(batches.len(), 1);
    let names: Vec<_> = batches[0]
        .iter()
        .map(|op| op["entity_data"]["name"].clone())
        .collect();
    assert_eq!(names, [json!("from a"), json!("from b")]);

    // Another plugin has a session of its own: nothing of this one's is pending in it.
    let (_, outcome) = register(
        r#"fn register(session) { if session.commit().len() != 0 { throw "shared"; } }"#,
        &info,
    );
    outcome.unwrap();
    assert_eq!(server.batches().len(), 1);
}
