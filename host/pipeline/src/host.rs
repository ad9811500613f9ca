//! The pipeline host: what makes an application (or the resident `ftrack-connect run`, as
//! the framework's standalone `python` host) discoverable by the framework's clients, on an
//! [`EventHub`] it is given, as ftrack-connect-pipeline 1.3.0's `Host` does
//! (`host/__init__.py`), event for event:
//!
//! 1. its id is `<host types joined by '.'>-<uuid4 hex>` (`python-3f0c…`), its name
//!    `<host types>-<machine name>`, its context the first of `FTRACK_CONTEXTID`,
//!    `FTRACK_TASKID` and `FTRACK_SHOTID` set ([`context_id_from_env`]);
//! 2. it publishes `ftrack.pipeline.register` `{pipeline: {type: "definition", host_types}}`
//!    synchronously and reads the folders from the first reply's `definition_paths`: the
//!    definition plugin's answer ([`serve_definition_paths`] is ours, for
//!    `FTRACK_DEFINITION_PATH`);
//! 3. it finds, validates and augments the definitions there for its host types
//!    ([`crate::discover`]); with [`HostConfig::check_plugins`], it asks for each plugin of a
//!    publisher, loader or opener with a synchronous `ftrack.pipeline.discover` (and, for each
//!    found, the framework's "Plugin Ready" event), dropping definitions with a plugin nobody
//!    answers for;
//! 4. it subscribes, in the framework's order, to `ftrack.pipeline.host.discover` (answered
//!    with [`PipelineHost::discover_reply`]: `{host_id, host_name, context_id, definition:
//!    {schema, publisher, loader, opener, asset_manager}}`, the schemas with their `$ref`s
//!    resolved) and to `ftrack.pipeline.client.context.change and data.pipeline.host_id=<id>`
//!    (a client changing the host's context: the host takes it and publishes
//!    `ftrack.pipeline.host.context.change {pipeline: {host_id, context_id}}`).
//!
//! 5. it subscribes to `ftrack.pipeline.host.run and data.pipeline.host_id=<id>` (between
//!    the two above, as the framework does) and runs what it is asked with the
//!    [`crate::engine`] of `engine_type`: a whole definition (checked against its schema
//!    first), one plugin, or an asset manager method. Only the host's user may ask (the
//!    framework ran anyone's); a run that came through the server runs on the host's run
//!    thread, one at a time.
//!
//! With [`HostConfig::log_path`], it also subscribes (third, as the framework) to its own
//! `ftrack.pipeline.client.notification`s and keeps each in the notification log
//! ([`crate::log`]).
//!
//! Deliberate differences: the discover reply carries the host's current context (the
//! framework's froze the one it had when it registered), an empty context variable counts
//! as unset, the context is kept by the host rather than written to the process'
//! environment, and a host whose register event nobody answers still subscribes, with no
//! definitions (the framework's never became discoverable).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, Weak};

use connect_core::{
    EventHub, Expression, Handler, HandlerCall, HandlerError, PluginTag, Reply, SubscribeError,
    SubscribeOptions,
};
use connect_event::pipeline::asked_by;
use connect_event::Event;
use serde_json::{json, Map, Value};

use crate::definition::DefinitionType;
use crate::discover::{discover, Discovery, Options, PluginLookup, PluginQuery};
use crate::engine::{Engine, RunError, ERROR_STATUS, SUCCESS_STATUS};
use crate::error::DefinitionError;
use crate::log::LogDb;
use crate::schema::Schema;
use crate::topics;

/// The framework's standalone host type (`constants.HOST_TYPE`): the host `ftrack-connect
/// run` starts.
pub use connect_event::pipeline::STANDALONE_HOST_TYPE;

/// The variables a host's context comes from, the first set winning.
pub const CONTEXT_VARIABLES: [&str; 3] = ["FTRACK_CONTEXTID", "FTRACK_TASKID", "FTRACK_SHOTID"];

/// The most `$ref`s followed one inside another when a schema's references are resolved
/// for the discover reply (a reference loop stays a `$ref` below that).
const MAX_REF_DEPTH: usize = 16;

/// The context from the environment: the first of [`CONTEXT_VARIABLES`] set, not empty.
pub fn context_id_from_env() -> Option<String> {
    CONTEXT_VARIABLES
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.is_empty())
}

/// A host id as the framework makes it: the host types joined by `.`, a dash, 32 hex digits.
pub fn new_host_id(host_types: &[String]) -> String {
    format!("{}-{}", host_types.join("."), uuid::Uuid::new_v4().simple())
}

/// The host types an id names, as the framework's clients read them
/// (`host_id.split('-')[0].split('.')`).
pub fn host_types_of(host_id: &str) -> Vec<String> {
    let types = host_id.split('-').next().unwrap_or_default();
    types.split('.').map(str::to_string).collect()
}

/// The framework's definition plugin (`resource/definitions/register.py`): answers
/// `ftrack.pipeline.register` events of `type` `definition` with
/// `{host_types, definition_paths}` (the asking host's types, and `paths`). Returns the
/// subscriber id.
pub fn serve_definition_paths(
    hub: &EventHub,
    paths: Vec<PathBuf>,
) -> Result<String, SubscribeError> {
    let paths: Vec<String> = paths
        .iter()
        .map(|path| path.to_string_lossy().into_owned())
        .collect();
    let answer = move |event: &mut Event| {
        Ok(json!({
            "host_types": event.data["pipeline"]["host_types"].clone(),
            "definition_paths": paths,
        }))
    };
    hub.subscribe(
        &format!(
            "topic={} and data.pipeline.type=definition",
            topics::REGISTER
        ),
        Arc::new(answer),
        SubscribeOptions {
            plugin: Some(PluginTag::new("ftrack-connect-pipeline definitions")),
            ..Default::default()
        },
    )
}

/// How a [`PipelineHost`] starts.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Its host types (`["python"]`, `["maya"]`, …): the definitions it serves are theirs.
    pub host_types: Vec<String>,
    /// Its context at start (see [`context_id_from_env`]).
    pub context_id: Option<String>,
    /// The server's asset type short names, when known: definitions of another asset type
    /// are dropped.
    pub asset_types: Option<BTreeSet<String>>,
    /// Whether to drop the definitions whose pipeline plugins do not answer
    /// `ftrack.pipeline.discover`, as the framework does.
    pub check_plugins: bool,
    /// The notification log ([`crate::log`]) the host writes its notifications to; none
    /// kept when `None`.
    pub log_path: Option<PathBuf>,
}

impl HostConfig {
    /// A host of `host_types`, its context from the environment, checking its plugins.
    pub fn new(host_types: &[&str]) -> HostConfig {
        HostConfig {
            host_types: host_types.iter().map(|t| t.to_string()).collect(),
            context_id: context_id_from_env(),
            asset_types: None,
            check_plugins: true,
            log_path: None,
        }
    }
}

/// What the host's handlers share.
struct Shared {
    id: String,
    host_types: Vec<String>,
    host_name: String,
    context_id: Mutex<Option<String>>,
    /// `{schema, publisher, loader, opener, asset_manager}`, as the discover reply sends it.
    registry: Value,
    /// The schemas, to check the definitions clients send to run.
    schemas: Vec<Schema>,
    hub: Weak<EventHub>,
    /// Where runs asked through a server wait for the host's run thread (see
    /// [`Shared::answer_run`]); `None` once the host is dropped, which ends the thread.
    runs: Mutex<Option<SyncSender<Event>>>,
}

/// How many runs asked through a server may wait while one runs; beyond it a run is refused
/// at once, with the reason.
pub const MAX_WAITING_RUNS: usize = 8;

impl Shared {
    fn context_id(&self) -> Option<String> {
        self.context_id
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn discover_reply(&self) -> Value {
        json!({
            "host_id": self.id,
            "host_name": self.host_name,
            "context_id": self.context_id(),
            "definition": self.registry,
        })
    }

    /// Answers a client's `ftrack.pipeline.host.run`. A run published synchronously in this
    /// process runs now, in the handler, and its result is the reply. A run that came
    /// through the server (from another client, or this process' own asynchronous publish)
    /// is queued for the host's run thread, which replies when it is done
    /// ([`EventHub::reply_later`]): a publish takes seconds, and the server's connection
    /// must go on carrying the run's notifications (and heartbeats) meanwhile.
    fn answer_run(&self, event: &Event, queued: bool) -> Result<Value, HandlerError> {
        if event.data["pipeline"]["host_id"] != self.id.as_str() {
            return Ok(Value::Null);
        }
        let Some(hub) = self.hub.upgrade() else {
            return Ok(Value::Null);
        };
        // Only the host's user may run its plugins (which read and publish the user's files
        // with the user's key): any user of a server can publish events. The server sets
        // `source.user.username` to whom it signed in.
        let user = &hub.identity().username;
        let asked_by = asked_by(event);
        if !user.is_empty() && asked_by != user {
            tracing::warn!(
                "pipeline host {}: refused a run asked by {asked_by:?} (it runs {user}'s only)",
                self.id
            );
            return Ok(json!({
                "status": ERROR_STATUS,
                "message": format!(
                    "pipeline host {} runs only {user}'s requests, not {asked_by:?}'s",
                    self.id
                ),
            }));
        }
        // Synchronous, or no server in between (the caller waits on this hub's queue): now.
        if !(queued && hub.is_linked()) {
            return self.execute(&event.data);
        }
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let Some(queue) = runs.as_ref() else {
            return Ok(Value::Null);
        };
        let refusal = match queue.try_send(event.clone()) {
            Ok(()) => return Ok(Value::Null),
            Err(TrySendError::Full(_)) => format!(
                "pipeline host {} is busy: {MAX_WAITING_RUNS} runs already wait for it",
                self.id
            ),
            Err(TrySendError::Disconnected(_)) => {
                format!("pipeline host {} no longer runs anything", self.id)
            }
        };
        Ok(json!({"status": ERROR_STATUS, "message": refusal}))
    }

    /// The host's run thread: runs the queued runs one at a time, replying to each.
    fn run_queued(&self, queue: Receiver<Event>) {
        let source = Map::from_iter([("id".to_string(), json!(self.id))]);
        while let Ok(event) = queue.recv() {
            // A plugin that panics fails its run, not the thread (and every later run).
            let executed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.execute(&event.data)
            }));
            let answer = match executed {
                Ok(Ok(answer)) => answer,
                Ok(Err(HandlerError(message))) => {
                    json!({"status": ERROR_STATUS, "message": message})
                }
                Err(_) => json!({
                    "status": ERROR_STATUS,
                    "message": format!("pipeline host {}: the run failed unexpectedly (see its log)", self.id),
                }),
            };
            let Some(hub) = self.hub.upgrade() else {
                return;
            };
            if !hub.reply_later(&event, &source, answer) {
                tracing::warn!("pipeline host {}: a run's reply was dropped", self.id);
            }
        }
    }

    /// Runs what a `ftrack.pipeline.host.run` asks (`Host.run`): with no `plugin` in
    /// `data.pipeline.data`, the whole definition there; otherwise that one plugin. A failed
    /// definition run replies [`crate::engine::RunError::to_reply`].
    fn execute(&self, data: &Value) -> Result<Value, HandlerError> {
        let pipeline = &data["pipeline"];
        let engine_type = pipeline["engine_type"].as_str().unwrap_or_default();
        let kind: DefinitionType = engine_type.parse().map_err(|_| {
            HandlerError(format!(
                "{}: no engine of type {:?}",
                topics::HOST_RUN,
                pipeline["engine_type"]
            ))
        })?;
        let Some(hub) = self.hub.upgrade() else {
            return Ok(Value::Null);
        };
        let run = &pipeline["data"];
        let asset_type = run.get("asset_type").and_then(Value::as_str);
        let engine = Engine::new(&hub, &self.id, &self.host_types, kind)
            .with_asset_type(asset_type.map(str::to_string));
        if kind == DefinitionType::AssetManager {
            if let Some(method) = run.get("method").and_then(Value::as_str) {
                return Ok(self.asset_manager_method(&engine, method, run));
            }
        }
        let plugin = run.get("plugin");
        match plugin {
            None if kind.has_steps() => match self
                .checked(kind, run)
                .and_then(|run| engine.run_definition(&run))
            {
                Ok(results) => Ok(results),
                Err(error) => {
                    tracing::warn!("pipeline host {}: {error}", self.id);
                    Ok(error.to_reply())
                }
            },
            Some(plugin) if plugin.is_object() => {
                let plugin_type = run["plugin_type"].as_str().unwrap_or_default();
                let method = run["method"].as_str().unwrap_or("run");
                Ok(engine.run_plugin(plugin, plugin_type, method))
            }
            _ => Err(HandlerError(format!(
                "{}: the {kind} engine does not run {} yet",
                topics::HOST_RUN,
                run.get("method")
                    .map_or("definitions".into(), |m| m.to_string())
            ))),
        }
    }

    /// The definition a client sent to run, checked against the schema of its type and
    /// filled in as the host's own are: a client is not trusted to send a valid one (the
    /// framework only logged a failed check and ran it anyway).
    fn checked(&self, kind: DefinitionType, run: &Value) -> Result<Value, Box<RunError>> {
        let Some(schema) = self.schemas.iter().find(|schema| schema.kind() == kind) else {
            return Err(Box::new(RunError::definition(format!(
                "the host has no {kind} schema to check the definition against"
            ))));
        };
        schema.augmenter().augment(run).map_err(|violations| {
            let listed: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
            Box::new(RunError::definition(format!(
                "the {kind} definition sent is not valid: {}",
                listed.join("; ")
            )))
        })
    }

    /// Runs an asset manager method (the framework's `AssetManagerEngine`, which dispatches
    /// on `data.method`) with the plugin the client gave: `resolve_dependencies` gives the
    /// resolver plugin the context (`{context_id}`); `discover_assets` runs the discover
    /// plugin; the others (`load_assets`, `update_assets`, `change_version`...) give an
    /// action plugin the assets. This host has no application scene, so a method with no
    /// plugin finds no assets (`discover_assets`) or is refused with the reason.
    fn asset_manager_method(&self, engine: &Engine<'_>, method: &str, run: &Value) -> Value {
        let options = run.get("options").cloned().unwrap_or(json!({}));
        let plugin = run.get("plugin").filter(|p| p.is_object());
        let (plugin_type, data) = match method {
            "resolve_dependencies" => (
                "asset_manager.resolver",
                json!({"context_id": run.get("context_id")}),
            ),
            "discover_assets" => ("asset_manager.discover", Value::Null),
            _ => (
                "asset_manager.action",
                run.get("assets").cloned().unwrap_or(Value::Null),
            ),
        };
        let plugin_type = run
            .get("plugin_type")
            .and_then(Value::as_str)
            .unwrap_or(plugin_type);
        match plugin {
            Some(plugin) => engine.run_plugin_with(plugin, plugin_type, "run", data, &options),
            None if method == "discover_assets" => json!({
                "method": method,
                "status": SUCCESS_STATUS,
                "result": {method: []},
                "message": format!("the {} host has no scene: no assets", self.host_types.join(".")),
            }),
            None => json!({
                "method": method,
                "status": ERROR_STATUS,
                "result": null,
                "message": format!(
                    "the {} host has no scene: {method} needs an action plugin",
                    self.host_types.join(".")
                ),
            }),
        }
    }

    /// Takes `context_id`; when it is a change, says so to the clients.
    fn change_context(&self, context_id: &str) -> bool {
        {
            let mut current = self.context_id.lock().unwrap_or_else(|e| e.into_inner());
            if current.as_deref() == Some(context_id) {
                return false;
            }
            *current = Some(context_id.to_string());
        }
        tracing::info!("pipeline host {}: context is now {context_id}", self.id);
        if let Some(hub) = self.hub.upgrade() {
            let event = Event::new(topics::HOST_CONTEXT_CHANGE).with_data(json!({
                "pipeline": {"host_id": self.id, "context_id": context_id},
            }));
            hub.publish_async(event, None);
        }
        true
    }
}

/// The host's `ftrack.pipeline.host.run` handler: it needs to know how the run was
/// published ([`HandlerCall::is_queued`]).
struct RunHandler(Arc<Shared>);

impl Handler for RunHandler {
    fn handle(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        let queued = call.is_queued();
        self.0.answer_run(call.event(), queued).map(Reply::Json)
    }
}

/// A pipeline host on an event hub: discoverable while it lives (dropping it unsubscribes).
pub struct PipelineHost {
    shared: Arc<Shared>,
    dropped: Vec<DefinitionError>,
    definition_count: usize,
    hub: Weak<EventHub>,
    subscriptions: Vec<String>,
}

impl PipelineHost {
    /// Registers a host on `hub` as the framework's `Host` does (see the module's
    /// documentation): asks for its definition folders, loads its definitions, subscribes.
    pub fn start(hub: &Arc<EventHub>, config: HostConfig) -> Result<PipelineHost, SubscribeError> {
        let id = new_host_id(&config.host_types);
        let host_name = format!(
            "{}-{}",
            config.host_types.join("."),
            hub.identity().hostname
        );
        let paths = ask_definition_paths(hub, &config.host_types);
        let lookup = HubPlugins { hub };
        let options = Options {
            host_types: Some(config.host_types.clone()),
            kinds: None,
            asset_types: config.asset_types.clone(),
            plugins: config.check_plugins.then_some(&lookup as &dyn PluginLookup),
        };
        let mut discovery = discover(&paths, &options);
        let registry = registry(&discovery);
        let schemas = std::mem::take(&mut discovery.schemas);
        let shared = Arc::new(Shared {
            id: id.clone(),
            host_types: config.host_types,
            host_name,
            context_id: Mutex::new(config.context_id),
            registry,
            schemas,
            hub: Arc::downgrade(hub),
            runs: Mutex::new(None),
        });
        start_run_thread(&shared);
        let mut host = PipelineHost {
            shared: shared.clone(),
            definition_count: discovery.definitions.len(),
            dropped: discovery.dropped,
            hub: Arc::downgrade(hub),
            subscriptions: Vec::new(),
        };
        let tag = PluginTag::new(&format!("pipeline host {id}"));
        let options = || SubscribeOptions {
            plugin: Some(tag.clone()),
            ..Default::default()
        };
        let discover_shared = shared.clone();
        host.subscriptions.push(hub.subscribe_expression(
            Expression::equals("topic", topics::HOST_DISCOVER),
            Arc::new(move |_: &mut Event| Ok(discover_shared.discover_reply())),
            options(),
        )?);
        host.subscriptions.push(hub.subscribe_expression(
            Expression::All(vec![
                Expression::equals("topic", topics::HOST_RUN),
                Expression::equals("data.pipeline.host_id", &id),
            ]),
            Arc::new(RunHandler(shared.clone())),
            options(),
        )?);
        if let Some(log) = config.log_path.as_deref().and_then(open_log) {
            let log = Arc::new(log);
            let user = hub.identity().username.clone();
            host.subscriptions.push(hub.subscribe_expression(
                Expression::All(vec![
                    Expression::equals("topic", topics::CLIENT_NOTIFICATION),
                    Expression::equals("data.pipeline.host_id", &id),
                ]),
                Arc::new(move |event: &mut Event| {
                    // The host's own notifications: another user cannot write its log.
                    if !user.is_empty() && asked_by(event) != user {
                        return Ok(Value::Null);
                    }
                    log.add(&event.data["pipeline"])
                        .map(|()| Value::Null)
                        .map_err(|err| HandlerError(err.to_string()))
                }),
                options(),
            )?);
        }
        let context_shared = shared;
        host.subscriptions.push(hub.subscribe_expression(
            Expression::All(vec![
                Expression::equals("topic", topics::CLIENT_CONTEXT_CHANGE),
                Expression::equals("data.pipeline.host_id", &id),
            ]),
            Arc::new(move |event: &mut Event| {
                let pipeline = &event.data["pipeline"];
                if pipeline["host_id"] != context_shared.id.as_str() {
                    return Ok(Value::Null);
                }
                match pipeline["context_id"].as_str() {
                    Some(context_id) => {
                        context_shared.change_context(context_id);
                        Ok(Value::Null)
                    }
                    None => Err(HandlerError(format!(
                        "{}: data.pipeline.context_id must be text, not {}",
                        topics::CLIENT_CONTEXT_CHANGE,
                        pipeline["context_id"]
                    ))),
                }
            }),
            options(),
        )?);
        Ok(host)
    }

    /// Its id: `<host types joined by '.'>-<32 hex digits>`.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// Its host types.
    pub fn host_types(&self) -> &[String] {
        &self.shared.host_types
    }

    /// Its name: `<host types>-<machine name>`.
    pub fn host_name(&self) -> &str {
        &self.shared.host_name
    }

    /// Its context now.
    pub fn context_id(&self) -> Option<String> {
        self.shared.context_id()
    }

    /// Changes its context (as a client's `ftrack.pipeline.client.context.change` does):
    /// when it is a change, `ftrack.pipeline.host.context.change` is published. Returns
    /// whether it was one.
    pub fn set_context_id(&self, context_id: &str) -> bool {
        self.shared.change_context(context_id)
    }

    /// How many definitions it serves.
    pub fn definition_count(&self) -> usize {
        self.definition_count
    }

    /// The definition files it found and did not keep, and why.
    pub fn dropped(&self) -> &[DefinitionError] {
        &self.dropped
    }

    /// Its schemas and definitions: `{schema, publisher, loader, opener, asset_manager}`.
    pub fn registry(&self) -> &Value {
        &self.shared.registry
    }

    /// What it answers `ftrack.pipeline.host.discover` with.
    pub fn discover_reply(&self) -> Value {
        self.shared.discover_reply()
    }
}

impl Drop for PipelineHost {
    fn drop(&mut self) {
        // Ends the run thread once the run it is on (if any) is done.
        *self.shared.runs.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if let Some(hub) = self.hub.upgrade() {
            for id in &self.subscriptions {
                let _ = hub.unsubscribe(id);
            }
        }
    }
}

/// Starts the host's run thread (see [`Shared::answer_run`]). Without it (the system
/// refused a thread, said once) the runs asked through a server get no answer.
fn start_run_thread(shared: &Arc<Shared>) {
    let (queue, waiting) = sync_channel(MAX_WAITING_RUNS);
    let runner = shared.clone();
    let started = std::thread::Builder::new()
        .name("pipeline-runs".into())
        .spawn(move || runner.run_queued(waiting));
    match started {
        Ok(_) => *shared.runs.lock().unwrap_or_else(|e| e.into_inner()) = Some(queue),
        Err(err) => tracing::error!(
            "pipeline host {}: no run thread ({err}): runs asked through the server are not answered",
            shared.id
        ),
    }
}

/// The notification log at `path`; `None` (said once) when it cannot be opened: the host
/// runs without it.
fn open_log(path: &std::path::Path) -> Option<LogDb> {
    if let Some(folder) = path.parent() {
        let _ = std::fs::create_dir_all(folder);
    }
    LogDb::open(path)
        .inspect_err(|err| tracing::error!("pipeline host: no notification log: {err}"))
        .ok()
}

/// The definition folders, from the first answer to the host's `ftrack.pipeline.register`
/// (none when nobody answers).
fn ask_definition_paths(hub: &EventHub, host_types: &[String]) -> Vec<PathBuf> {
    let mut event = Event::new(topics::REGISTER).with_data(json!({
        "pipeline": {"type": "definition", "host_types": host_types},
    }));
    let results = hub.publish(&mut event);
    let Some(first) = results.first() else {
        tracing::warn!(
            "nobody answered {} (no definition folders): the pipeline host serves no definitions",
            topics::REGISTER
        );
        return Vec::new();
    };
    first["definition_paths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// The pipeline plugins, asked through the hub as the framework asks
/// (`host/validation.py`): the first result decides.
struct HubPlugins<'a> {
    hub: &'a EventHub,
}

impl PluginLookup for HubPlugins<'_> {
    fn has_plugin(&self, query: &PluginQuery<'_>) -> bool {
        let mut ask = Event::new(topics::DISCOVER_PLUGIN).with_data(json!({
            "pipeline": {
                "plugin_name": query.plugin_name,
                "plugin_type": query.plugin_type,
                "category": "plugin",
                "host_type": query.host_type,
            },
        }));
        let found = self.hub.publish(&mut ask).first().is_some_and(truthy);
        if found {
            // Sent by the framework with no `pipeline` key: nobody matches it.
            let mut ready = Event::new(topics::DISCOVER_PLUGIN).with_data(json!({
                "plugin_name": query.plugin_name,
                "plugin_type": query.plugin_type,
                "status": "PAUSE_STATUS",
                "result": null,
                "execution_time": 0,
                "message": "Plugin Ready",
            }));
            self.hub.publish(&mut ready);
        }
        found
    }
}

/// Python's truth of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// The registry the discover reply sends: the schemas (references resolved, as `jsonref`
/// did), then the definitions of each type.
fn registry(discovery: &Discovery) -> Value {
    let mut registry = Map::new();
    let schemas = discovery
        .schemas
        .iter()
        .map(|schema| resolve_refs(schema.value()))
        .collect();
    registry.insert("schema".into(), Value::Array(schemas));
    for kind in DefinitionType::ALL {
        let definitions = discovery
            .of_kind(kind)
            .map(|definition| definition.value().clone())
            .collect();
        registry.insert(kind.as_str().into(), Value::Array(definitions));
    }
    Value::Object(registry)
}

/// `schema` with every local `$ref` (`#/definitions/...`) replaced by what it names, as
/// `jsonref.JsonRef.replace_refs` does (a `$ref`'s sibling keys are dropped).
pub fn resolve_refs(schema: &Value) -> Value {
    inline(schema, schema, 0)
}

fn inline(node: &Value, root: &Value, depth: usize) -> Value {
    match node {
        Value::Object(map) => {
            let target = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|reference| reference.strip_prefix('#'))
                .and_then(|pointer| root.pointer(pointer));
            match target {
                Some(target) if depth < MAX_REF_DEPTH => inline(target, root, depth + 1),
                _ => Value::Object(
                    map.iter()
                        .map(|(key, value)| (key.clone(), inline(value, root, depth)))
                        .collect(),
                ),
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| inline(v, root, depth)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
pub(crate) mod tests;

/// Runs through the host, replaying the recorded ones (the engine seen from a client).
#[cfg(test)]
mod run_tests;
