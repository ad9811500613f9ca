//! The client against a real pipeline host on an event hub of this process, with the
//! standalone publisher's definition (as recorded) and plugins written here.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use connect_core::{EventHub, HubIdentity};
use connect_event::Event;
use serde_json::{json, Value};

use super::*;
use crate::fixtures;
use crate::host::tests::recorded_folder;
use crate::host::{serve_definition_paths, HostConfig, PipelineHost};
use crate::plugin::{self, PluginCall, PluginFailure, PluginFn, PluginSpec};

const WAIT: Duration = Duration::from_secs(5);

/// The standalone publisher's plugins (the collector's value its `path` option, the
/// validator refusing a path with "missing"), and an asset manager resolver answering
/// with what it was given.
fn plugins(hub: &EventHub) {
    let value = |f: fn(&PluginCall) -> Result<Value, PluginFailure>| -> PluginFn {
        Arc::new(move |call: &PluginCall, _: &Event| f(call))
    };
    let all: [(&str, &str, PluginFn); 8] = [
        (
            "publisher.context",
            "common_passthrough_publisher_context",
            value(|c| Ok(c.options.clone())),
        ),
        (
            "publisher.collector",
            "common_path_publisher_collector",
            value(|c| Ok(json!([c.options["path"]]))),
        ),
        (
            "publisher.validator",
            "common_file_exists_publisher_validator",
            value(|c| match c.data.to_string().contains("missing") {
                true => Err(PluginFailure::Refused("a file is missing".into())),
                false => Ok(json!(true)),
            }),
        ),
        (
            "publisher.exporter",
            "common_passthrough_publisher_exporter",
            value(|c| Ok(json!(plugin::collected_values(&c.data)))),
        ),
        (
            "publisher.pre_finalizer",
            "common_passthrough_publisher_pre_finalizer",
            value(|_| Ok(json!({}))),
        ),
        (
            "publisher.finalizer",
            "common_passthrough_publisher_finalizer",
            value(|c| Ok(json!({"asset_version_id": "v1", "comment": c.context_data["comment"]}))),
        ),
        (
            "publisher.post_finalizer",
            "common_passthrough_publisher_post_finalizer",
            value(|_| Ok(json!({}))),
        ),
        (
            "asset_manager.resolver",
            "common_default_am_resolver",
            value(|c| Ok(json!({"asked": c.data, "options": c.options}))),
        ),
    ];
    for (plugin_type, name, run) in all {
        let spec = PluginSpec::new("python", plugin_type, name).unwrap();
        plugin::subscribe(hub, spec, None, run).unwrap();
    }
}

/// A hub with the host and its plugins, and the folder it serves.
fn host() -> (Arc<EventHub>, PipelineHost, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    recorded_folder(dir.path());
    let manager = dir.path().join("asset_manager/python");
    std::fs::create_dir_all(&manager).unwrap();
    std::fs::copy(
        fixtures::definitions().join("asset_manager/python/asset_manager_python.json"),
        manager.join("asset_manager_python.json"),
    )
    .unwrap();
    let hub = Arc::new(EventHub::new(HubIdentity::local("alice")));
    serve_definition_paths(&hub, vec![dir.path().into()]).unwrap();
    plugins(&hub);
    let config = HostConfig {
        host_types: vec!["python".into()],
        context_id: Some("task-1".into()),
        asset_types: None,
        check_plugins: true,
        log_path: None,
    };
    let host = PipelineHost::start(&hub, config).unwrap();
    (hub, host, dir)
}

#[test]
fn a_publisher_client_finds_the_host_runs_its_definition_and_hears_each_plugin() {
    let (hub, host, _dir) = host();
    let client = Client::publisher(Arc::new(HubTransport::new(&hub)));
    assert!(!client.connected());
    let mut ready = Vec::new();
    client
        .on_ready(WAIT, |hosts| {
            ready.extend(hosts.iter().map(|h| h.id().to_string()))
        })
        .unwrap();
    assert_eq!(ready, [host.id()]);
    let found = client.host_connections().remove(0);
    client.change_host(found).unwrap();
    assert_eq!(client.context_id().as_deref(), Some("task-1"));
    // A publisher client sees the publishers only.
    let definitions = client.definitions();
    assert_eq!(definitions.len(), 1);
    assert!(matches!(
        client.run_definition(WAIT),
        Err(ClientError::NoDefinition)
    ));

    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = heard.clone();
    client.on_notification(move |event| sink.lock().unwrap().push(event.topic.clone()));
    let mut definition = definitions[0].clone();
    let comment: OptionPath = "contexts.main.context.comment".parse().unwrap();
    set_option(&mut definition, &comment, json!("from the client")).unwrap();
    client.change_definition(definition.clone()).unwrap();
    assert_eq!(client.engine_type(), Some(DefinitionType::Publisher));
    let outcome = client.run_definition(WAIT).unwrap();
    assert_eq!(
        outcome.finalizer_results(),
        vec![&json!({"asset_version_id": "v1", "comment": "from the client"})]
    );
    // RUNNING and the reply for each of 10 plugins; the progress of each stage besides.
    let logs = client.logs();
    assert_eq!(logs.len(), 20);
    assert_eq!(
        logs[19]["plugin_name"],
        "common_passthrough_publisher_post_finalizer"
    );
    let heard = heard.lock().unwrap().clone();
    assert_eq!(
        heard
            .iter()
            .filter(|t| *t == topics::CLIENT_NOTIFICATION)
            .count(),
        20
    );
    assert!(heard
        .iter()
        .any(|t| t == topics::CLIENT_PROGRESS_NOTIFICATION));

    // A failure comes back as one, naming the plugin.
    let path: OptionPath = "components.main.collector.path".parse().unwrap();
    set_option(&mut definition, &path, json!("/renders/missing.exr")).unwrap();
    client.change_definition(definition).unwrap();
    let RunOutcome::Failed(failure) = client.run_definition(WAIT).unwrap() else {
        panic!("the run should fail");
    };
    assert_eq!(
        failure["plugin_name"],
        "common_file_exists_publisher_validator"
    );
    assert_eq!(
        failure["plugin_message"],
        "Failed to run common_file_exists_publisher_validator: a file is missing"
    );

    // One plugin, with another method.
    let collector = &definitions[0]["components"][0]["stages"][0]["plugins"][0];
    let reply = client
        .run_plugin(collector, "publisher.collector", "fetch", WAIT)
        .unwrap();
    assert_eq!(reply["status"], "SUCCESS_STATUS");

    // A loader client does not run a publisher.
    let loader = Client::loader(Arc::new(HubTransport::new(&hub)));
    assert!(matches!(
        loader.change_definition(definitions[0].clone()),
        Err(ClientError::WrongDefinition(_))
    ));
}

#[test]
fn the_client_follows_the_hosts_context() {
    let (hub, host, _dir) = host();
    let client = Client::new(Arc::new(HubTransport::new(&hub)));
    assert!(matches!(
        client.change_context("x"),
        Err(ClientError::NoHost)
    ));
    let found = client.discover_hosts(WAIT).unwrap();
    client.change_host(found[0].clone()).unwrap();
    let changes = Arc::new(Mutex::new(Vec::new()));
    let sink = changes.clone();
    client.on_context_changed(move |id| sink.lock().unwrap().push(id.to_string()));
    client.change_context("task-2").unwrap();
    hub.drain();
    assert_eq!(host.context_id().as_deref(), Some("task-2"));
    assert_eq!(*changes.lock().unwrap(), ["task-2"]);
    assert_eq!(client.context_id().as_deref(), Some("task-2"));
    // Asking the host's application for a client's window.
    let launched = Arc::new(Mutex::new(Vec::new()));
    let sink = launched.clone();
    hub.subscribe(
        "topic=ftrack.pipeline.client.launch",
        Arc::new(move |event: &mut Event| {
            sink.lock().unwrap().push(event.data["pipeline"].clone());
            Ok(Value::Null)
        }),
        connect_core::SubscribeOptions::default(),
    )
    .unwrap();
    client.launch_client("publisher", Some("a test")).unwrap();
    assert_eq!(
        *launched.lock().unwrap(),
        [json!({"host_id": host.id(), "name": "publisher", "source": "a test"})]
    );

    // Another host chosen: the first one's changes are no longer heard.
    let mut other = found[0].reply().clone();
    other["host_id"] = json!("python-ffff");
    client
        .change_host(HostConnection::from_discover_reply(other).unwrap())
        .unwrap();
    host.set_context_id("task-3");
    hub.drain();
    assert_eq!(changes.lock().unwrap().len(), 1);
}

#[test]
fn discovering_with_no_host_waits_its_time_out_and_finds_none() {
    let hub = Arc::new(EventHub::new(HubIdentity::local("alice")));
    let client = Client::new(Arc::new(HubTransport::new(&hub)));
    assert!(client
        .discover_hosts(Duration::from_millis(300))
        .unwrap()
        .is_empty());
    assert!(matches!(
        client.run_definition(WAIT),
        Err(ClientError::NoHost)
    ));
}

#[test]
fn the_asset_manager_client_runs_the_resolver_and_says_what_this_host_cannot_do() {
    let (hub, _host, _dir) = host();
    let client = Client::asset_manager(Arc::new(HubTransport::new(&hub)));
    let found = client.discover_hosts(WAIT).unwrap();
    client.change_host(found[0].clone()).unwrap();
    let definitions = client.definitions();
    assert_eq!(definitions.len(), 1);
    let resolver = &definitions[0]["resolvers"]["resolve_dependencies"][0];
    let reply = client
        .resolve_dependencies("task-1", resolver, json!({"extra": 1}), WAIT)
        .unwrap();
    assert_eq!(reply["status"], "SUCCESS_STATUS", "{reply}");
    let result = &reply["result"]["run"];
    assert_eq!(result["asked"], json!({"context_id": "task-1"}));
    assert_eq!(result["options"]["extra"], 1);
    assert!(result["options"]["task_types"].is_object());

    let assets = client.discover_assets(None, WAIT).unwrap();
    assert_eq!(assets["result"]["discover_assets"], json!([]));
    let refused = client
        .assets_method("load_assets", json!([]), None, WAIT)
        .unwrap();
    assert_eq!(refused["status"], "ERROR_STATUS");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("has no scene"),
        "{refused}"
    );
}

#[test]
fn the_log_viewer_reads_the_hosts_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs.sqlite");
    let log = LogDb::open(&path).unwrap();
    log.add(&json!({"host_id": "python-1", "plugin_name": "p", "status": "SUCCESS_STATUS"}))
        .unwrap();
    let viewer = LogViewerClient::open(&path).unwrap();
    let entries = viewer.logs(&LogQuery::default()).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].plugin_name, "p");
}

#[test]
fn a_client_on_the_hubs_queue_runs_as_one_through_the_server_would() {
    let (hub, host, _dir) = host();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let queue = {
        let (hub, stop) = (hub.clone(), stop.clone());
        std::thread::spawn(move || {
            hub.run_queue(&|| stop.load(std::sync::atomic::Ordering::SeqCst))
        })
    };
    let client = Client::publisher(Arc::new(QueuedHubTransport::new(&hub)));
    let found = client.discover_hosts(WAIT).unwrap();
    assert_eq!(found.len(), 1);
    client.change_host(found[0].clone()).unwrap();
    assert_eq!(client.host_connection().unwrap().id(), host.id());
    client
        .change_definition(client.definitions()[0].clone())
        .unwrap();
    let outcome = client.run_definition(WAIT).unwrap();
    assert_eq!(outcome.finalizer_results().len(), 1, "{outcome:?}");
    assert_eq!(client.logs().len(), 20);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    queue.join().unwrap();
}

/// A transport that keeps count of the subscriptions it holds.
struct Counting {
    inner: HubTransport,
    live: Mutex<Vec<String>>,
}

impl Transport for Counting {
    fn publish(
        &self,
        event: Event,
        on_reply: OnReply,
        window: Duration,
    ) -> Result<(), TransportError> {
        self.inner.publish(event, on_reply, window)
    }
    fn subscribe(&self, expression: &str, on_event: OnEvent) -> Result<String, TransportError> {
        let id = self.inner.subscribe(expression, on_event)?;
        self.live.lock().unwrap().push(id.clone());
        Ok(id)
    }
    fn unsubscribe(&self, id: &str) {
        self.inner.unsubscribe(id);
        self.live.lock().unwrap().retain(|live| live != id);
    }
}

#[test]
fn a_clients_subscriptions_go_with_its_host_and_with_the_client() {
    let (hub, _host, _dir) = host();
    let transport = Arc::new(Counting {
        inner: HubTransport::new(&hub),
        live: Mutex::new(Vec::new()),
    });
    let client = Client::new(transport.clone());
    let found = client.discover_hosts(WAIT).unwrap();
    client.change_host(found[0].clone()).unwrap();
    assert_eq!(transport.live.lock().unwrap().len(), 3);
    // Another host: its three replace the first's.
    client.change_host(found[0].clone()).unwrap();
    assert_eq!(transport.live.lock().unwrap().len(), 3);
    let clone = client.clone();
    drop(client);
    assert_eq!(
        transport.live.lock().unwrap().len(),
        3,
        "a clone still uses them"
    );
    drop(clone);
    assert!(transport.live.lock().unwrap().is_empty());
}
