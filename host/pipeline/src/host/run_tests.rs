//! The engines against the recording of the real framework
//! (`pipeline_trace/standalone_publish_trace.json`): a client's `ftrack.pipeline.host.run`
//! of the standalone publisher (`publisher/python/file-python-publish.json`, augmented),
//! its failing second run and a single plugin run, with plain Rust handlers standing in for
//! the framework's python plugins, subscribed as they subscribe. Every event the host
//! publishes must be the recorded one, key for key and in order (but the host id and the
//! execution times).

use std::sync::{Arc, Mutex};

use connect_core::{EventHub, SubscribeOptions};
use connect_event::Event;
use serde_json::{json, Map, Value};

use crate::definition::DefinitionType;
use crate::engine::*;
use crate::fixtures;
use crate::host::tests::recorded_folder;
use crate::host::tests::{recording_hub, trace};
use crate::host::{serve_definition_paths, HostConfig, PipelineHost, MAX_WAITING_RUNS};
use crate::log::{LogDb, LogQuery};
use crate::topics;

const RECORDED_HOST: &str = "python-<HOSTID>";

/// Events as (topic, data); a plugin's calls as (plugin name, settings).
type Events = Vec<(String, Value)>;

/// The collector stage's plugin results of the step being run (`data[-1]`), as the
/// framework's validators and exporters read them.
fn collected(settings: &Value) -> Vec<Value> {
    let step = settings["data"].as_array().unwrap().last().unwrap();
    step["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|stage| stage["name"] == "collector")
        .flat_map(|stage| stage["result"].as_array().unwrap().clone())
        .flat_map(|plugin| plugin["result"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// What a stand-in plugin's `method` returns: `Ok(value)`, or `Err(message)`.
type Behaviour = fn(&str, &Value) -> Result<Value, String>;

/// The standalone publisher's plugins: (name, type, class, behaviour), as P 1.3.0's python
/// plugins behave on the recording's files.
fn plugins() -> Vec<(&'static str, &'static str, &'static str, Behaviour)> {
    vec![
        (
            "common_passthrough_publisher_context",
            "publisher.context",
            "CommonPassthroughPublisherContextPlugin",
            |_, settings| Ok(settings["options"].clone()),
        ),
        (
            "common_path_publisher_collector",
            "publisher.collector",
            "CommonPathPublisherCollectorPlugin",
            |method, settings| match method {
                "fetch" => Ok(json!("example/path/to/your/file.txt")),
                _ => Ok(json!([settings["options"]["path"]])),
            },
        ),
        (
            "common_file_exists_publisher_validator",
            "publisher.validator",
            "CommonFileExistsPublisherValidatorPlugin",
            |_, settings| {
                let paths = collected(settings);
                if paths
                    .iter()
                    .all(|p| !p.as_str().unwrap().contains("missing"))
                {
                    Ok(json!(true))
                } else {
                    Err("Return value of common_file_exists_publisher_validator is not True".into())
                }
            },
        ),
        (
            "common_passthrough_publisher_exporter",
            "publisher.exporter",
            "CommonPassthroughPublisherExporterPlugin",
            |_, settings| Ok(Value::Array(collected(settings))),
        ),
        (
            "common_passthrough_publisher_pre_finalizer",
            "publisher.pre_finalizer",
            "CommonDefaultPublisherPreFinalizerPlugin",
            |_, _| Ok(json!({})),
        ),
        (
            "common_passthrough_publisher_finalizer",
            "publisher.finalizer",
            "CommonPassthroughPublisherFinalizerPlugin",
            |_, settings| {
                let components: Vec<Value> = settings["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|step| step["type"] == "component")
                    .map(|step| step["name"].clone())
                    .collect();
                Ok(json!({
                    "asset_version_id": "assetversion-id",
                    "asset_id": "asset-id",
                    "component_names": components,
                }))
            },
        ),
        (
            "common_passthrough_publisher_post_finalizer",
            "publisher.post_finalizer",
            "CommonPassthroughPublisherPostFinalizerPlugin",
            |_, _| Ok(json!({})),
        ),
    ]
}

/// Subscribes the stand-in plugins to `ftrack.pipeline.run` with the framework's
/// expression; each call's `settings` is kept in `calls` as (plugin name, settings).
fn register_plugins(hub: &EventHub) -> Arc<Mutex<Vec<(String, Value)>>> {
    let calls: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    for (name, plugin_type, class, behaviour) in plugins() {
        let calls = calls.clone();
        let handler = move |event: &mut Event| {
            let pipeline = &event.data["pipeline"];
            let method = pipeline["method"].as_str().unwrap().to_string();
            let settings = event.data["settings"].clone();
            calls
                .lock()
                .unwrap()
                .push((name.to_string(), settings.clone()));
            let (status, result, message) = match behaviour(&method, &settings) {
                Ok(value) => (
                    "SUCCESS_STATUS",
                    json!({ method.clone(): value }),
                    format!("Successfully run :{class}"),
                ),
                Err(message) => ("ERROR_STATUS", Value::Null, message),
            };
            Ok(json!({
                "plugin_name": name,
                "plugin_type": plugin_type,
                "method": method,
                "status": status,
                "result": result,
                "execution_time": 1.0e-5,
                "message": message,
                "user_data": {},
                "plugin_id": uuid::Uuid::new_v4().simple().to_string(),
            }))
        };
        hub.subscribe(
            &format!(
                "topic=ftrack.pipeline.run and data.pipeline.host_type=python and \
                 data.pipeline.category=plugin and data.pipeline.plugin_type={plugin_type} and \
                 data.pipeline.plugin_name={name}"
            ),
            Arc::new(handler),
            SubscribeOptions::default(),
        )
        .unwrap();
    }
    calls
}

/// The `n`th recorded `ftrack.pipeline.host.run`: its data, the events published while it
/// ran (topic, data), and its result.
fn recorded_run(n: usize) -> (Value, Vec<(String, Value)>, Value) {
    let trace = trace();
    let start = trace
        .iter()
        .enumerate()
        .filter(|(_, e)| e["kind"] == "publish" && e["topic"] == topics::HOST_RUN)
        .nth(n)
        .unwrap()
        .0;
    let seq = trace[start]["seq"].clone();
    let end = trace
        .iter()
        .position(|e| e["kind"] == "result" && e["of"] == seq)
        .unwrap();
    let nested = trace[start + 1..end]
        .iter()
        .filter(|e| e["kind"] == "publish")
        .map(|e| (e["topic"].as_str().unwrap().to_string(), e["data"].clone()))
        .collect();
    (
        trace[start]["data"].clone(),
        nested,
        trace[end]["result"].clone(),
    )
}

/// `value` with every `from` text replaced by `to`.
fn replace_text(value: &Value, from: &str, to: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace(from, to)),
        Value::Array(items) => items.iter().map(|v| replace_text(v, from, to)).collect(),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), replace_text(v, from, to)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Whether `ours` is `recorded` key for key, in the same key order, but `execution_time`
/// (any number).
fn same(ours: &Value, recorded: &Value, at: &str) {
    match (ours, recorded) {
        (Value::Object(a), Value::Object(b)) => {
            let keys = |m: &Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(a), keys(b), "{at}");
            for (key, value) in b {
                let here = format!("{at}/{key}");
                if key == "execution_time" {
                    assert!(a[key].is_number() && value.is_number(), "{here}");
                } else {
                    same(&a[key], value, &here);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{at}: {ours} vs {recorded}");
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                same(x, y, &format!("{at}/{index}"));
            }
        }
        _ => assert_eq!(ours, recorded, "{at}"),
    }
}

/// A host of the recording's host type on `hub`, serving the recorded folder (whose
/// schemas check what clients send it), its notifications logged at `log_path`; the folder.
fn serving_host(
    hub: &Arc<EventHub>,
    log_path: Option<std::path::PathBuf>,
) -> (PipelineHost, tempfile::TempDir) {
    let folder = tempfile::tempdir().unwrap();
    recorded_folder(folder.path());
    serve_definition_paths(hub, vec![folder.path().into()]).unwrap();
    let config = HostConfig {
        host_types: vec!["python".into()],
        context_id: None,
        asset_types: None,
        check_plugins: false,
        log_path,
    };
    (PipelineHost::start(hub, config).unwrap(), folder)
}

/// A host for the recording's host type, its plugins, and a client's run of the `n`th
/// recorded request: returns (the events it published, the run's result, the plugin calls).
fn replay(n: usize) -> (Events, Vec<Value>, Events) {
    let (hub, seen) = recording_hub();
    let calls = register_plugins(&hub);
    let (host, _folder) = serving_host(&hub, None);
    seen.lock().unwrap().clear();
    let (data, _, _) = recorded_run(n);
    let mut run =
        Event::new(topics::HOST_RUN).with_data(replace_text(&data, RECORDED_HOST, host.id()));
    let results = hub.publish(&mut run);
    let published = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(topic, _)| topic != topics::HOST_RUN)
        .map(|(topic, data)| (topic.clone(), replace_text(data, host.id(), RECORDED_HOST)))
        .collect();
    let results = results
        .iter()
        .map(|r| replace_text(r, host.id(), RECORDED_HOST))
        .collect();
    let calls = calls.lock().unwrap().clone();
    (published, results, calls)
}

fn compare_events(ours: &[(String, Value)], recorded: &[(String, Value)]) {
    let topics =
        |events: &[(String, Value)]| events.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
    assert_eq!(topics(ours), topics(recorded));
    for (index, ((topic, a), (_, b))) in ours.iter().zip(recorded).enumerate() {
        same(a, b, &format!("event {index} ({topic})"));
    }
}

#[test]
fn a_publisher_run_publishes_what_the_framework_did() {
    let (published, results, calls) = replay(0);
    let (_, recorded, recorded_result) = recorded_run(0);
    assert_eq!(recorded.len(), 54, "10 plugins × 5 events, 4 step ends");
    compare_events(&published, &recorded);
    // The reply: the finalizers' group results (the components' exporters, the finalizer).
    same(&Value::Array(results), &recorded_result, "result");

    // The framework's order, each plugin once.
    let order: Vec<&str> = calls.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        order,
        [
            "common_passthrough_publisher_context",
            "common_path_publisher_collector",
            "common_file_exists_publisher_validator",
            "common_passthrough_publisher_exporter",
            "common_path_publisher_collector",
            "common_file_exists_publisher_validator",
            "common_passthrough_publisher_exporter",
            "common_passthrough_publisher_pre_finalizer",
            "common_passthrough_publisher_finalizer",
            "common_passthrough_publisher_post_finalizer",
        ]
    );
}

#[test]
fn outputs_flow_between_stages_steps_and_groups() {
    let (_, results, calls) = replay(0);
    let settings = |index: usize| calls[index].1.clone();
    // The context plugin sees no context; everyone after sees its result, with the asset type.
    assert_eq!(settings(0)["context_data"], Value::Null);
    let context = json!({
        "context_id": "aaaaaaaa-0000-0000-0000-00000000task",
        "asset_name": "myAsset",
        "comment": "Nothing to comment",
        "status_id": "44dd9fb2-4164-11df-9218-0019bb4983d8",
        "asset_type_name": "scene",
    });
    for (name, settings) in &calls[1..] {
        assert_eq!(settings["context_data"], context, "{name}");
    }
    // The exporter gets what the collector collected, through the validator's stage.
    assert_eq!(
        collected(&settings(3)),
        [json!("/tmp/WORK/render_v001.exr")]
    );
    let stages = |s: &Value, step: usize| -> Vec<Value> {
        s["data"][step]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|stage| stage["name"].clone())
            .collect()
    };
    assert_eq!(stages(&settings(3), 0), ["collector", "validator"]);
    // The thumbnail's collector sees the main component before it.
    assert_eq!(
        stages(&settings(4), 0),
        ["collector", "validator", "exporter"]
    );
    // The finalizers see only the components' exporters, then their own stages so far.
    let finalizer = settings(8);
    assert_eq!(stages(&finalizer, 0), ["exporter"]);
    assert_eq!(stages(&finalizer, 1), ["exporter"]);
    assert_eq!(stages(&finalizer, 2), ["pre_finalizer"]);
    let finalized = &results[0][2]["result"][1]["result"][0]["result"];
    assert_eq!(finalized["component_names"], json!(["main", "thumbnail"]));
}

#[test]
fn a_failing_validator_stops_the_run_and_says_who_and_why() {
    let (published, results, calls) = replay(1);
    let (_, recorded, recorded_result) = recorded_run(1);
    compare_events(&published, &recorded);
    // The framework raised (no result); ours says what failed.
    assert_eq!(recorded_result, json!([]));
    assert_eq!(results.len(), 1);
    let error = &results[0];
    assert_eq!(error["status"], "ERROR_STATUS");
    assert_eq!(error["group"], "components");
    assert_eq!(error["step"], "main");
    assert_eq!(error["stage"], "validator");
    assert_eq!(
        error["plugin_name"],
        "common_file_exists_publisher_validator"
    );
    assert_eq!(error["plugin_type"], "publisher.validator");
    assert_eq!(error["plugin_status"], "ERROR_STATUS");
    assert_eq!(
        error["plugin_message"],
        "Return value of common_file_exists_publisher_validator is not True"
    );
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("common_file_exists_publisher_validator")
            && message.contains("is not True"),
        "{message}"
    );
    // Nothing ran after the validator.
    assert_eq!(calls.len(), 3);
    let (_, last) = published.last().unwrap();
    same(&error["results"], &last["pipeline"]["results"], "results");
}

#[test]
fn a_single_plugin_run_is_the_frameworks() {
    let (published, results, _) = replay(2);
    let (data, recorded, recorded_result) = recorded_run(2);
    assert_eq!(data["pipeline"]["data"]["method"], "fetch");
    compare_events(&published, &recorded);
    same(&Value::Array(results), &recorded_result, "result");
}

#[test]
fn a_plugin_nobody_answers_for_fails_its_stage() {
    let (hub, _) = recording_hub();
    let host_types = vec!["python".to_string()];
    let engine = Engine::new(&hub, "python-0", &host_types, DefinitionType::Publisher);
    let definition = fixtures::json("pipeline_trace/augmented_file_publisher_definition.json");
    let error = engine.run_definition(&definition).unwrap_err();
    assert_eq!(error.group, "contexts");
    assert_eq!(error.plugin_name, "common_passthrough_publisher_context");
    assert_eq!(error.status, UNKNOWN_STATUS);
    // The loader and opener engines differ by their plugin types only.
    let loader = Engine::new(&hub, "python-0", &host_types, DefinitionType::Loader);
    let error = loader.run_definition(&definition).unwrap_err();
    assert_eq!(error.plugin_type, "loader.context");

    // A disabled plugin is skipped; a stage left with no plugin too.
    let mut definition = definition;
    definition["contexts"][0]["stages"][0]["plugins"][0]["enabled"] = json!(false);
    definition["contexts"][0]["enabled"] = json!(false);
    for step in definition["components"].as_array_mut().unwrap() {
        step["enabled"] = json!(false);
    }
    for stage in definition["finalizers"][0]["stages"]
        .as_array_mut()
        .unwrap()
    {
        stage["enabled"] = json!(false);
    }
    assert_eq!(
        engine.run_definition(&definition).unwrap(),
        json!([{"name": "main", "result": [], "status": true, "category": "step", "type": "finalizer"}])
    );
}

#[test]
fn the_host_runs_only_its_own_requests_of_a_known_engine() {
    let (hub, _) = recording_hub();
    register_plugins(&hub);
    let (host, _folder) = serving_host(&hub, None);
    let (data, _, _) = recorded_run(2);
    let mut request = replace_text(&data, RECORDED_HOST, host.id());
    let run =
        |request: &Value| hub.publish(&mut Event::new(topics::HOST_RUN).with_data(request.clone()));
    assert_eq!(run(&request).len(), 1);
    // Another host's request is not ours; an unknown engine is refused (no result).
    let other = replace_text(&data, RECORDED_HOST, "python-0123");
    assert_eq!(run(&other), Vec::<Value>::new());
    request["pipeline"]["engine_type"] = json!("nope");
    assert_eq!(run(&request), Vec::<Value>::new());
}

#[test]
fn the_host_keeps_each_notification_of_a_run_in_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline/logs.sqlite");
    let (hub, seen) = recording_hub();
    register_plugins(&hub);
    let (host, _folder) = serving_host(&hub, Some(path.clone()));
    let (data, _, _) = recorded_run(0);
    hub.publish(&mut Event::new(topics::HOST_RUN).with_data(replace_text(
        &data,
        RECORDED_HOST,
        host.id(),
    )));
    let notified: Vec<Value> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(topic, _)| topic == topics::CLIENT_NOTIFICATION)
        .map(|(_, data)| data["pipeline"].clone())
        .collect();
    assert_eq!(
        notified.len(),
        20,
        "RUNNING, then the reply, for 10 plugins"
    );
    let query = LogQuery {
        host_id: Some(host.id().into()),
        ..Default::default()
    };
    let kept = LogDb::open(&path).unwrap().entries(&query).unwrap();
    assert_eq!(kept.len(), notified.len());
    for (kept, notified) in kept.iter().zip(&notified) {
        assert_eq!(kept.plugin_name, notified["plugin_name"]);
        assert_eq!(kept.plugin_type, notified["plugin_type"]);
        assert_eq!(kept.status, notified["status"]);
        assert_eq!(kept.result, notified["result"]);
        assert_eq!(Some(kept.duration), notified["execution_time"].as_f64());
    }
}

#[test]
fn a_definition_sent_to_run_is_checked_against_its_schema_and_filled_in() {
    let (hub, seen) = recording_hub();
    register_plugins(&hub);
    let (host, _folder) = serving_host(&hub, None);
    let (data, _, _) = recorded_run(0);
    let request = replace_text(&data, RECORDED_HOST, host.id());
    let run = |request: &Value| {
        hub.publish(&mut Event::new(topics::HOST_RUN).with_data(request.clone()))
            .remove(0)
    };

    let mut broken = request.clone();
    broken["pipeline"]["data"]["components"][0]["stages"] = json!("nope");
    seen.lock().unwrap().clear();
    let refused = run(&broken);
    assert_eq!(refused["status"], ERROR_STATUS);
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("the publisher definition sent is not valid: /components/0/stages"),
        "{message}"
    );
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|(topic, _)| topic == topics::HOST_RUN),
        "no plugin ran"
    );

    // The definition as written (not augmented) runs as the augmented one does.
    let mut written =
        fixtures::json("definition/resource/definitions/publisher/python/file-python-publish.json");
    written["components"][0]["stages"][0]["plugins"][0]["options"]["path"] =
        json!("/tmp/WORK/render_v001.exr");
    written["components"][1]["stages"][0]["plugins"][0]["options"]["path"] =
        json!("/tmp/WORK/thumb.png");
    let mut plain = request.clone();
    plain["pipeline"]["data"] = written;
    let answer = run(&plain);
    assert!(answer.is_array(), "{answer}");
    assert_eq!(answer.as_array().unwrap().len(), 3);
}

/// A server link that keeps what the hub sends out (its replies among them).
#[derive(Default)]
struct Outbox(Mutex<Vec<Event>>);

impl connect_core::Uplink for Outbox {
    fn subscribed(&self, _: &str, _: &Map<String, Value>) {}
    fn unsubscribed(&self, _: &str) {}
    fn forward(&self, event: &Event) -> bool {
        self.0.lock().unwrap().push(event.clone());
        true
    }
}

impl Outbox {
    /// The data of the replies sent out so far.
    fn replies(&self) -> Vec<Value> {
        let sent = self.0.lock().unwrap();
        sent.iter()
            .filter(|e| e.topic == connect_event::topics::META_REPLY)
            .map(|e| e.data.clone())
            .collect()
    }
}

/// A host serving requests from the server (its replies in `outbox`), whose collector
/// plugin answers with `collector`: the one plugin the second recorded request runs.
/// Fields drop in order: the host before its folder and its hub.
struct ServedRuns {
    _host: PipelineHost,
    outbox: Arc<Outbox>,
    _folder: tempfile::TempDir,
    /// The recorded request, addressed to this host.
    request: Value,
    hub: Arc<EventHub>,
}

impl ServedRuns {
    fn new(collector: impl Fn() -> Value + Send + Sync + 'static) -> ServedRuns {
        let hub = Arc::new(EventHub::new(connect_core::HubIdentity::local("alice")));
        hub.subscribe(
            "topic=ftrack.pipeline.run and data.pipeline.plugin_name=common_path_publisher_collector",
            Arc::new(move |_: &mut Event| Ok(collector())),
            SubscribeOptions::default(),
        )
        .unwrap();
        let (host, _folder) = serving_host(&hub, None);
        let outbox = Arc::new(Outbox::default());
        hub.set_uplink(outbox.clone());
        let (data, _, _) = recorded_run(2);
        let request = replace_text(&data, RECORDED_HOST, host.id());
        ServedRuns {
            _host: host,
            outbox,
            _folder,
            request,
            hub,
        }
    }

    /// The web page asks, as `user`, for the recorded run.
    fn ask(&self, user: &str) {
        let mut event = Event::new(topics::HOST_RUN).with_data(self.request.clone());
        event.source = json!({"id": "web-page", "user": {"username": user}})
            .as_object()
            .unwrap()
            .clone()
            .into();
        self.hub.receive(event);
        self.hub.drain();
    }

    /// The replies, once there are at least `count` (waiting up to 30 s).
    fn replies(&self, count: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.outbox.replies().len() < count {
            assert!(
                std::time::Instant::now() < deadline,
                "{:?}",
                self.outbox.replies()
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        self.outbox.replies()
    }
}

/// What the collector answers when it runs well.
fn collected_fetch() -> Value {
    json!({"status": SUCCESS_STATUS, "result": {"fetch": "x"}})
}

#[test]
fn runs_through_the_server_wait_their_turn_and_a_full_queue_is_said() {
    // The one plugin of the run holds it until told to go on.
    let (started, has_started) = std::sync::mpsc::channel();
    let (go_on, may_go_on) = std::sync::mpsc::channel::<()>();
    let (started, may_go_on) = (Mutex::new(started), Mutex::new(may_go_on));
    let runs = ServedRuns::new(move || {
        let _ = started.lock().unwrap().send(());
        let _ = may_go_on.lock().unwrap().recv();
        collected_fetch()
    });
    // Another user is refused at once; the host's own user's first run starts.
    runs.ask("mallory");
    assert!(runs.replies(1)[0]["message"]
        .as_str()
        .unwrap()
        .contains("runs only alice's requests"));
    runs.ask("alice");
    has_started.recv().unwrap();
    // Eight wait; the ninth is told the host is busy.
    for _ in 0..9 {
        runs.ask("alice");
    }
    let replies = runs.outbox.replies();
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert!(replies[1]["message"]
        .as_str()
        .unwrap()
        .contains(&format!("is busy: {MAX_WAITING_RUNS} runs already wait")));
    // Let them all run: each gets its answer.
    for _ in 0..MAX_WAITING_RUNS + 1 {
        go_on.send(()).unwrap();
    }
    assert!(runs.replies(MAX_WAITING_RUNS + 3)[2..]
        .iter()
        .all(|reply| reply["status"] == SUCCESS_STATUS));
}

#[test]
fn only_the_hosts_own_notifications_reach_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs.sqlite");
    let hub = Arc::new(EventHub::new(connect_core::HubIdentity::local("alice")));
    let (host, _folder) = serving_host(&hub, Some(path.clone()));
    for user in ["mallory", "alice"] {
        let mut event = Event::new(topics::CLIENT_NOTIFICATION).with_data(json!({
            "pipeline": {"host_id": host.id(), "plugin_name": user, "status": SUCCESS_STATUS},
        }));
        event.source = json!({"user": {"username": user}})
            .as_object()
            .unwrap()
            .clone()
            .into();
        hub.publish(&mut event);
    }
    let kept = LogDb::open(&path)
        .unwrap()
        .entries(&LogQuery::default())
        .unwrap();
    let names: Vec<&str> = kept.iter().map(|e| e.plugin_name.as_str()).collect();
    assert_eq!(names, ["alice"]);
}

#[test]
fn a_plugin_that_panics_fails_its_run_and_the_host_runs_the_next() {
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let runs = ServedRuns::new(move || {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            panic!("a plugin's bug");
        }
        collected_fetch()
    });
    runs.ask("alice");
    runs.ask("alice");
    let replies = runs.replies(2);
    assert!(
        replies[0]["message"]
            .as_str()
            .unwrap()
            .contains("the run failed unexpectedly"),
        "{replies:?}"
    );
    assert_eq!(replies[1]["status"], SUCCESS_STATUS, "{replies:?}");
}
