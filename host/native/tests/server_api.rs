//! A real native plugin (`plugins/fixture-server-api`) calling the ftrack server through its
//! session, in process, against a fake server (the `ServerApi` the host hands its loaders):
//! reads answer at once, writes wait for the commit and go as one batch, the plugin's
//! libraries share its session, and errors reach the plugin's handler with the server's
//! message.

use std::sync::Arc;

use connect_core::{EventHub, HubIdentity, PluginTag};
use connect_event::Event;
use connect_native::{NativeLoader, NO_SERVER};
use connect_plugins::discovery::{discover, SearchPaths};
use connect_plugins::{Loader, ServerApi, SessionInfo};
use serde_json::{json, Value};

mod shared;
use shared::{fixture, reads_and_a_create, FakeServer, REFUSED};

/// The fixture loaded as plugin `probe` (with `copies` copies of its library in `hook/`) into
/// a new hub, by the in-process loader, with `api` as the host's server.
struct Loaded {
    hub: Arc<EventHub>,
    _dir: tempfile::TempDir,
}

fn load(copies: usize, api: Option<Arc<dyn ServerApi>>) -> Loaded {
    let dir = tempfile::tempdir().unwrap();
    let hook = dir.path().join("plugins/probe/hook");
    std::fs::create_dir_all(&hook).unwrap();
    let name = fixture()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    for copy in 0..copies {
        std::fs::copy(fixture(), hook.join(format!("{copy}-{name}"))).unwrap();
    }
    let found = discover(&SearchPaths {
        plugin_roots: vec![dir.path().join("plugins")],
        hook_dirs: Vec::new(),
    });
    let plugin = &found.plugins[0];
    assert_eq!(plugin.hooks.len(), copies, "{plugin:?}");
    let loader = NativeLoader::new(dir.path().join("copies"));
    let tag = PluginTag::new(&plugin.name);
    let mut load = loader.begin(plugin, &tag);
    let prepared: Vec<_> = plugin
        .hooks
        .iter()
        .map(|hook| load.prepare(&hook.path).unwrap().unwrap())
        .collect();
    let hub = Arc::new(EventHub::new(HubIdentity::local("alice")));
    let info = SessionInfo {
        api_user: "alice".into(),
        server_url: "https://studio.ftrackapp.com".into(),
        api,
    };
    for hook in &prepared {
        hook.register(&hub, &info).unwrap();
    }
    Loaded { hub, _dir: dir }
}

impl Loaded {
    /// What the plugin's handlers answer for `topic` with `data`.
    fn publish(&self, topic: &str, data: Value) -> Vec<Value> {
        self.hub.publish(&mut Event::new(topic).with_data(data))
    }
}

#[test]
fn query_get_and_writes_reach_the_server_through_the_plugins_session() {
    let server = Arc::new(FakeServer::default());
    let plugin = load(1, Some(server.clone()));

    let id = reads_and_a_create(&server, &|topic, data| plugin.publish(topic, data));

    // Staged writes wait for the commit, and go as one batch.
    for content in ["a", "b"] {
        let data = json!({"entity_type": "Note", "data": {"content": content}});
        plugin.publish("fixture.api.stage", data);
    }
    assert_eq!(server.batches.lock().unwrap().len(), 1);
    let update = json!({"entity_type": "Note", "id": id, "data": {"content": "ho"}});
    let updated = plugin.publish("fixture.api.update", update);
    assert_eq!(
        updated[0]["result"].as_array().unwrap().len(),
        3,
        "{updated:?}"
    );
    let deleted = plugin.publish(
        "fixture.api.delete",
        json!({"entity_type": "Note", "id": id}),
    );
    assert_eq!(deleted[0]["result"][0]["action"], "delete", "{deleted:?}");
    let batches = server.batches.lock().unwrap().clone();
    let actions: Vec<Vec<&str>> = batches
        .iter()
        .map(|batch| {
            batch
                .iter()
                .map(|op| op["action"].as_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(
        actions,
        [
            vec!["create"],
            vec!["create", "create", "update"],
            vec!["delete"]
        ]
    );
    assert_eq!(
        plugin.publish("fixture.api.commit", json!({})),
        vec![json!({"result": []})]
    );
}

#[test]
fn the_plugins_libraries_share_one_session() {
    let server = Arc::new(FakeServer::default());
    let plugin = load(2, Some(server.clone()));
    // Both libraries stage one note; the first commit sends both, the second finds none.
    let staged = plugin.publish(
        "fixture.api.stage",
        json!({"entity_type": "Note", "data": {"content": "x"}}),
    );
    assert_eq!(staged.len(), 2);
    let committed = plugin.publish("fixture.api.commit", json!({}));
    let sizes: Vec<usize> = committed
        .iter()
        .map(|c| c["result"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [2, 0], "{committed:?}");
    assert_eq!(server.batches.lock().unwrap().len(), 1);
}

#[test]
fn without_a_server_the_handler_is_told_how_to_sign_in() {
    let plugin = load(1, None);
    for (topic, data) in [
        ("fixture.api.query", json!({"expression": "Task"})),
        ("fixture.api.stage", json!({"entity_type": "Note"})),
        ("fixture.api.commit", json!({})),
    ] {
        let answered = plugin.publish(topic, data);
        assert_eq!(
            answered,
            vec![json!({"error": format!("plugin 'probe': {NO_SERVER}")})],
            "{topic}"
        );
    }
    assert!(NO_SERVER.contains("sign in with `ftrack-connect login`"));
}

#[test]
fn server_errors_reach_the_handler_with_the_servers_message() {
    let server = Arc::new(FakeServer::default());
    let plugin = load(1, Some(server.clone()));
    let refused = plugin.publish("fixture.api.query", json!({"expression": "Nope"}));
    assert_eq!(
        refused,
        vec![json!({"error": format!("plugin 'probe': {REFUSED}")})]
    );
    let refused = plugin.publish(
        "fixture.api.create",
        json!({"entity_type": "Nope", "data": {}}),
    );
    let error = refused[0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("plugin 'probe': commit of 1 change(s) failed"),
        "{error}"
    );
    assert!(error.ends_with(REFUSED), "{error}");
    // The refused batch was dropped: the next commit has nothing to send.
    assert_eq!(
        plugin.publish("fixture.api.commit", json!({})),
        vec![json!({"result": []})]
    );
}
