//! The host against the recording of the real framework
//! (`pipeline_trace/standalone_publish_trace.json`, `host_discover_reply.json`): what it
//! publishes and subscribes to while registering, and its discover reply, key for key.

use std::path::Path;
use std::sync::{Arc, Mutex};

use connect_core::{EventHub, HubIdentity, SubscribeOptions, Uplink};
use connect_event::Event;
use serde_json::{json, Map, Value};

use super::*;
use crate::fixtures;

const TASK: &str = "aaaaaaaa-0000-0000-0000-00000000task";

/// The folder the recording ran with: the pipeline 1.3.0 schemas and the standalone
/// publisher, with the options the recording gave it.
pub(crate) fn recorded_folder(dir: &Path) {
    let schemas = dir.join("schema");
    std::fs::create_dir_all(&schemas).unwrap();
    for entry in std::fs::read_dir(fixtures::pipeline().join("schema")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), schemas.join(entry.file_name())).unwrap();
    }
    let mut definition =
        fixtures::json("definition/resource/definitions/publisher/python/file-python-publish.json");
    let context = &mut definition["contexts"][0]["stages"][0]["plugins"][0]["options"];
    context["context_id"] = json!(TASK);
    context["asset_name"] = json!("myAsset");
    definition["components"][0]["stages"][0]["plugins"][0]["options"]["path"] =
        json!("/tmp/WORK/render_v001.exr");
    definition["components"][1]["stages"][0]["plugins"][0]["options"]["path"] =
        json!("/tmp/WORK/thumb.png");
    let publisher = dir.join("publisher/python");
    std::fs::create_dir_all(&publisher).unwrap();
    std::fs::write(
        publisher.join("file-python-publish.json"),
        serde_json::to_string_pretty(&definition).unwrap(),
    )
    .unwrap();
}

/// Sees what the hub subscribes to (as a server would), and sends nothing out.
#[derive(Default)]
struct Subscriptions(Mutex<Vec<String>>);

impl Uplink for Subscriptions {
    fn subscribed(&self, expression: &str, _: &Map<String, Value>) {
        self.0.lock().unwrap().push(expression.to_string());
    }
    fn unsubscribed(&self, _: &str) {}
    fn forward(&self, _: &Event) -> bool {
        false
    }
}

/// The events dispatched on a hub, as (topic, data).
pub(super) type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// A hub recording every event dispatched on it.
pub(super) fn recording_hub() -> (Arc<EventHub>, Seen) {
    let hub = Arc::new(EventHub::new(HubIdentity::local("alice")));
    let seen: Seen = Arc::default();
    let log = seen.clone();
    hub.observe(Box::new(move |event| {
        log.lock()
            .unwrap()
            .push((event.topic.clone(), event.data.clone()));
        true
    }));
    (hub, seen)
}

/// The seven plugins of the standalone publisher, answering `ftrack.pipeline.discover` as
/// the framework's plugins do (`true`).
fn register_plugins(hub: &EventHub) {
    for name in [
        "common_passthrough_publisher_context",
        "common_path_publisher_collector",
        "common_file_exists_publisher_validator",
        "common_passthrough_publisher_exporter",
        "common_passthrough_publisher_pre_finalizer",
        "common_passthrough_publisher_finalizer",
        "common_passthrough_publisher_post_finalizer",
    ] {
        hub.subscribe(
            &format!("topic=ftrack.pipeline.discover and data.pipeline.plugin_name={name}"),
            Arc::new(|_: &mut Event| Ok(json!(true))),
            SubscribeOptions::default(),
        )
        .unwrap();
    }
}

/// The recorded standalone publish: every event, in order.
pub(super) fn trace() -> Vec<Value> {
    fixtures::json("pipeline_trace/standalone_publish_trace.json")["trace"]
        .as_array()
        .unwrap()
        .clone()
}

fn config() -> HostConfig {
    HostConfig {
        host_types: vec!["python".into()],
        context_id: Some(TASK.into()),
        asset_types: None,
        check_plugins: true,
        log_path: None,
    }
}

#[test]
fn registering_publishes_and_subscribes_what_the_framework_did() {
    let dir = tempfile::tempdir().unwrap();
    recorded_folder(dir.path());
    let (hub, seen) = recording_hub();
    serve_definition_paths(
        &hub,
        vec![dir.path().join("definitions-not-here"), dir.path().into()],
    )
    .unwrap();
    register_plugins(&hub);
    let subscriptions = Arc::new(Subscriptions::default());
    hub.set_uplink(subscriptions.clone());
    subscriptions.0.lock().unwrap().clear();

    let logged = HostConfig {
        log_path: Some(dir.path().join("logs.sqlite")),
        ..config()
    };
    let host = PipelineHost::start(&hub, logged).unwrap();
    assert_eq!(host.definition_count(), 1, "{:#?}", host.dropped());

    // Every event published from the host's `register()` to its last subscription.
    let trace = trace();
    let start = trace
        .iter()
        .position(|e| e["kind"] == "publish" && e["topic"] == topics::REGISTER)
        .unwrap();
    let recorded: Vec<(String, Value)> = trace[start..]
        .iter()
        .take_while(|e| e["kind"] != "subscribe")
        .filter(|e| e["kind"] == "publish")
        .map(|e| (e["topic"].as_str().unwrap().to_string(), e["data"].clone()))
        .collect();
    assert_eq!(recorded.len(), 21, "register, then 10 × (discover, ready)");
    let ours = seen.lock().unwrap().clone();
    assert_eq!(ours, recorded);

    // Then what it subscribes to, in order (the notification log third).
    let recorded: Vec<String> = trace[start..]
        .iter()
        .skip_while(|e| e["kind"] != "subscribe")
        .take_while(|e| e["kind"] == "subscribe")
        .map(|e| e["subscription"].as_str().unwrap().to_string())
        .map(|s| s.replace("python-<HOSTID>", host.id()))
        .collect();
    assert_eq!(*subscriptions.0.lock().unwrap(), recorded);
}

#[test]
fn the_register_answer_is_the_definition_plugins() {
    let (hub, _) = recording_hub();
    serve_definition_paths(&hub, vec!["/tmp/WORK/definitions".into()]).unwrap();
    let mut ask = Event::new(topics::REGISTER)
        .with_data(json!({"pipeline": {"type": "definition", "host_types": ["python"]}}));
    let recorded = trace()
        .into_iter()
        .find(|e| e["kind"] == "result" && e["topic"] == topics::REGISTER)
        .unwrap();
    assert_eq!(Value::Array(hub.publish(&mut ask)), recorded["result"]);
}

/// Whether `ours` is `recorded`, where the recording wrote a resolved reference as
/// `"<JsonRef >"` (ours must then be what it named: an object, no `$ref` left).
fn same_schema(ours: &Value, recorded: &Value, at: &str) {
    match (ours, recorded) {
        (_, Value::String(s)) if s == "<JsonRef >" => {
            assert!(
                ours.is_object() && ours.get("$ref").is_none(),
                "{at}: {ours}"
            );
        }
        (Value::Object(a), Value::Object(b)) => {
            let keys = |m: &Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(a), keys(b), "{at}");
            for (key, value) in b {
                same_schema(&a[key], value, &format!("{at}/{key}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{at}");
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                same_schema(x, y, &format!("{at}/{index}"));
            }
        }
        _ => assert_eq!(ours, recorded, "{at}"),
    }
}

#[test]
fn the_discover_reply_is_the_recorded_one() {
    let dir = tempfile::tempdir().unwrap();
    recorded_folder(dir.path());
    let (hub, _) = recording_hub();
    serve_definition_paths(&hub, vec![dir.path().into()]).unwrap();
    register_plugins(&hub);
    let host = PipelineHost::start(&hub, config()).unwrap();

    let mut discover = Event::new(topics::HOST_DISCOVER);
    let replies = hub.publish(&mut discover);
    assert_eq!(replies.len(), 1);
    let reply = &replies[0];
    let recorded = fixtures::json("pipeline_trace/host_discover_reply.json");

    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(reply), keys(&recorded));
    assert_eq!(keys(&reply["definition"]), keys(&recorded["definition"]));
    let id = reply["host_id"].as_str().unwrap();
    assert_eq!(id, host.id());
    let hex = id.strip_prefix("python-").unwrap();
    assert!(hex.len() == 32 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
    assert_eq!(host_types_of(id), ["python"]);
    assert_eq!(
        reply["host_name"],
        format!("python-{}", hub.identity().hostname).as_str()
    );
    assert_eq!(reply["context_id"], recorded["context_id"]);
    for kind in ["publisher", "loader", "opener", "asset_manager"] {
        assert_eq!(
            reply["definition"][kind], recorded["definition"][kind],
            "{kind}"
        );
    }
    // The schemas, references resolved; the recording's order was its file system's.
    let ours = reply["definition"]["schema"].as_array().unwrap();
    let theirs = recorded["definition"]["schema"].as_array().unwrap();
    assert_eq!(ours.len(), theirs.len());
    for schema in theirs {
        let title = &schema["title"];
        let mine = ours.iter().find(|s| &s["title"] == title).unwrap();
        same_schema(mine, schema, title.as_str().unwrap());
    }
    assert!(!serde_json::to_string(reply).unwrap().contains("$ref"));
}

#[test]
fn a_client_changes_the_context_and_the_host_says_so() {
    let (hub, seen) = recording_hub();
    let host = PipelineHost::start(&hub, config()).unwrap();
    assert_eq!(
        host.definition_count(),
        0,
        "nobody answered the register event"
    );
    seen.lock().unwrap().clear();

    let change = |host_id: &str, context: Value| {
        let mut event = Event::new(topics::CLIENT_CONTEXT_CHANGE)
            .with_data(json!({"pipeline": {"host_id": host_id, "context_id": context}}));
        let results = hub.publish(&mut event);
        hub.drain();
        results
    };
    // Another host's change, and the same context again: nothing happens.
    change("python-0123", json!("other"));
    change(host.id(), json!(TASK));
    let topics_seen = |seen: &Mutex<Vec<(String, Value)>>| {
        seen.lock()
            .unwrap()
            .iter()
            .map(|(topic, _)| topic.clone())
            .collect::<Vec<_>>()
    };
    assert!(!topics_seen(&seen).contains(&topics::HOST_CONTEXT_CHANGE.to_string()));
    assert_eq!(host.context_id().as_deref(), Some(TASK));

    // The framework's handler returns None: a null result, which sends no reply.
    assert_eq!(change(host.id(), json!("shot-1")), [Value::Null]);
    assert_eq!(host.context_id().as_deref(), Some("shot-1"));
    let said: Vec<Value> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(topic, _)| topic == topics::HOST_CONTEXT_CHANGE)
        .map(|(_, data)| data.clone())
        .collect();
    assert_eq!(
        said,
        [json!({"pipeline": {"host_id": host.id(), "context_id": "shot-1"}})]
    );
    let mut discover = Event::new(topics::HOST_DISCOVER);
    assert_eq!(hub.publish(&mut discover)[0]["context_id"], "shot-1");

    // Dropped, the host is gone from the hub.
    drop(host);
    let mut discover = Event::new(topics::HOST_DISCOVER);
    assert_eq!(hub.publish(&mut discover), Vec::<Value>::new());
}

#[test]
fn a_definition_whose_plugins_nobody_answers_for_is_not_served() {
    let dir = tempfile::tempdir().unwrap();
    recorded_folder(dir.path());
    let (hub, _) = recording_hub();
    serve_definition_paths(&hub, vec![dir.path().into()]).unwrap();
    let host = PipelineHost::start(&hub, config()).unwrap();
    assert_eq!(host.definition_count(), 0);
    assert_eq!(host.dropped().len(), 1);
    assert_eq!(host.registry()["publisher"], json!([]));
    assert_eq!(host.registry()["schema"].as_array().unwrap().len(), 4);
    drop(host);

    let unchecked = HostConfig {
        check_plugins: false,
        log_path: None,
        ..config()
    };
    let host = PipelineHost::start(&hub, unchecked).unwrap();
    assert_eq!(host.definition_count(), 1);
}

#[test]
fn ids_and_contexts_are_made_as_the_framework_makes_them() {
    let id = new_host_id(&["maya".into(), "python".into()]);
    assert!(id.starts_with("maya.python-"), "{id}");
    assert_eq!(id.len(), "maya.python-".len() + 32);
    assert_eq!(host_types_of(&id), ["maya", "python"]);
    assert_ne!(
        new_host_id(&["python".into()]),
        new_host_id(&["python".into()])
    );
}

#[test]
fn references_are_resolved_and_loops_left_alone() {
    let schema = json!({
        "definitions": {
            "A": {"type": "object", "properties": {"b": {"$ref": "#/definitions/B"}}},
            "B": {"type": "string"},
            "Loop": {"items": {"$ref": "#/definitions/Loop"}}
        },
        "properties": {"a": {"$ref": "#/definitions/A", "description": "dropped"}}
    });
    let resolved = resolve_refs(&schema);
    assert_eq!(
        resolved["properties"]["a"],
        json!({"type": "object", "properties": {"b": {"type": "string"}}})
    );
    assert!(serde_json::to_string(&resolved["definitions"]["Loop"])
        .unwrap()
        .contains("$ref"));
}
