//! The framework's clients (the seed's `ftrack_connect_pipeline.client`), in Rust: what finds
//! pipeline hosts, picks one and a definition, runs it or one plugin, and follows its
//! notifications and context. The command line's `pipeline run` and the window are clients.
//!
//! * [`Client`] is the framework's `Client`: [`Client::discover_hosts`] (with a time-out),
//!   [`Client::on_ready`], [`Client::change_host`], [`Client::change_definition`],
//!   [`Client::run_definition`], [`Client::run_plugin`], the context
//!   ([`Client::change_context`], [`Client::context_id`], [`Client::on_context_changed`])
//!   and the notifications heard from its host ([`Client::on_notification`],
//!   [`Client::logs`]). [`Client::publisher`], [`Client::loader`], [`Client::opener`] and
//!   [`Client::asset_manager`] are the framework's typed clients (its `definition_filters`).
//! * [`AssetManagerClient`] adds the asset manager's methods; [`LogViewerClient`] reads the
//!   hosts' notification log ([`crate::log`]).
//! * [`HostConnection`] is a host as its discover reply describes it, with the framework's
//!   events a client sends it; [`set_option`] / [`set_context`] change a definition before it
//!   runs; [`RunOutcome`] reads a run's answer.
//! * A [`Transport`] carries the events: [`HubTransport`] in this process, the server's event
//!   hub from another.
//!
//! Unlike the framework's (its host connection is a class attribute, one per process), each
//! `Client` has its own host; and a run's answer comes back to the caller (the framework's
//! `run_definition` returned nothing, the result reaching a callback).

mod connection;
mod edit;
mod outcome;
mod transport;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connect_core::Expression;
use connect_event::Event;
use serde_json::{json, Value};

pub use connection::{discover_hosts_event, discoverable, HostConnection};
pub use edit::{set_context, set_option, OptionPath};
pub use outcome::RunOutcome;
pub use transport::{
    HubTransport, OnEvent, OnReply, QueuedHubTransport, Transport, TransportError,
};

use crate::definition::DefinitionType;
use crate::log::{LogDb, LogEntry, LogError, LogQuery};
use crate::topics;

/// How often [`Client::discover_hosts`] asks again while no host has answered (the
/// framework re-publishes in a loop too: a host that starts late is found).
const DISCOVER_AGAIN: Duration = Duration::from_millis(250);

/// The reply window of an event no answer is expected to.
const NO_ANSWER: Duration = Duration::ZERO;

/// How long more replies are awaited once a first host answered.
const MORE_HOSTS: Duration = Duration::from_millis(150);

/// Why a client could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No host was chosen yet ([`Client::change_host`]).
    #[error("no pipeline host is chosen (discover the hosts, then change_host)")]
    NoHost,
    /// No definition was chosen yet ([`Client::change_definition`]).
    #[error("no definition is chosen (change_definition)")]
    NoDefinition,
    /// The definition is not one this client runs.
    #[error("{0}")]
    WrongDefinition(String),
    /// The host did not answer in time.
    #[error("the pipeline host {host} did not answer within {seconds:.0} s")]
    NoAnswer {
        /// The host asked.
        host: String,
        /// How long it was waited for.
        seconds: f64,
    },
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// What a client keeps between calls.
#[derive(Default)]
struct ClientState {
    hosts: Vec<HostConnection>,
    host: Option<HostConnection>,
    definition: Option<Value>,
    context_id: Option<String>,
    /// The subscriptions to the chosen host's events, removed when it changes (and when the
    /// last clone of the client goes).
    subscriptions: Option<HostSubscriptions>,
    /// The notifications heard from the chosen host (`data.pipeline` of each).
    logs: VecDeque<Value>,
    on_notification: Vec<OnEvent>,
    on_context_changed: Vec<OnContext>,
}

/// Hears the host's new context.
type OnContext = Arc<dyn Fn(&str) + Send + Sync>;

/// A client's subscriptions to its host's events: removed when dropped.
struct HostSubscriptions {
    transport: Arc<dyn Transport>,
    ids: Vec<String>,
}

impl HostSubscriptions {
    fn add(&mut self, expression: &str, on_event: OnEvent) -> Result<(), TransportError> {
        let id = self.transport.subscribe(expression, on_event)?;
        self.ids.push(id);
        Ok(())
    }
}

impl Drop for HostSubscriptions {
    fn drop(&mut self) {
        for id in &self.ids {
            self.transport.unsubscribe(id);
        }
    }
}

/// The most notifications a client keeps ([`Client::logs`]); the oldest go first.
const MAX_LOGS: usize = 10_000;

/// A client of pipeline hosts (see the module's documentation). Cheap to clone: clones share
/// the host, definition and subscriptions.
#[derive(Clone)]
pub struct Client {
    transport: Arc<dyn Transport>,
    kind: Option<DefinitionType>,
    state: Arc<Mutex<ClientState>>,
}

impl Client {
    /// A client of every definition type over `transport`.
    pub fn new(transport: Arc<dyn Transport>) -> Client {
        Client {
            transport,
            kind: None,
            state: Arc::default(),
        }
    }

    /// The framework's `PublisherClient`: publisher definitions only.
    pub fn publisher(transport: Arc<dyn Transport>) -> Client {
        Client::of(transport, DefinitionType::Publisher)
    }

    /// The framework's `LoaderClient`.
    pub fn loader(transport: Arc<dyn Transport>) -> Client {
        Client::of(transport, DefinitionType::Loader)
    }

    /// The framework's `OpenerClient`.
    pub fn opener(transport: Arc<dyn Transport>) -> Client {
        Client::of(transport, DefinitionType::Opener)
    }

    /// The framework's `AssetManagerClient`.
    pub fn asset_manager(transport: Arc<dyn Transport>) -> AssetManagerClient {
        AssetManagerClient(Client::of(transport, DefinitionType::AssetManager))
    }

    fn of(transport: Arc<dyn Transport>, kind: DefinitionType) -> Client {
        Client {
            kind: Some(kind),
            ..Client::new(transport)
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ClientState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks for the hosts until one answers or `time_out` passes, then takes every reply
    /// that comes shortly after; the hosts found (also kept: [`Client::host_connections`]).
    pub fn discover_hosts(&self, time_out: Duration) -> Result<Vec<HostConnection>, ClientError> {
        let (heard, hearing) = channel::<Value>();
        let until = Instant::now() + time_out;
        let mut found: Vec<HostConnection> = Vec::new();
        let mut first_at: Option<Instant> = None;
        loop {
            let heard = heard.clone();
            self.transport.publish(
                discover_hosts_event(),
                Box::new(move |reply| {
                    let _ = heard.send(reply);
                }),
                time_out,
            )?;
            let round = Instant::now() + DISCOVER_AGAIN;
            loop {
                let deadline = match first_at {
                    Some(at) => at + MORE_HOSTS,
                    None => round.min(until),
                };
                let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                    break;
                };
                match hearing.recv_timeout(left) {
                    Ok(reply) => {
                        if let Some(host) = HostConnection::from_discover_reply(reply) {
                            if !found.iter().any(|h| h.id() == host.id()) {
                                found.push(host);
                            }
                            first_at.get_or_insert_with(Instant::now);
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            if first_at.is_some() || Instant::now() >= until {
                break;
            }
        }
        self.state().hosts = found.clone();
        Ok(found)
    }

    /// Discovers the hosts (within `time_out`) and calls `callback` with them (the
    /// framework's `on_ready`).
    pub fn on_ready(
        &self,
        time_out: Duration,
        callback: impl FnOnce(&[HostConnection]),
    ) -> Result<(), ClientError> {
        let hosts = self.discover_hosts(time_out)?;
        callback(&hosts);
        Ok(())
    }

    /// The hosts found by the last discovery.
    pub fn host_connections(&self) -> Vec<HostConnection> {
        self.state().hosts.clone()
    }

    /// The chosen host.
    pub fn host_connection(&self) -> Option<HostConnection> {
        self.state().host.clone()
    }

    /// Whether a host is chosen (the framework's `connected`).
    pub fn connected(&self) -> bool {
        self.state().host.is_some()
    }

    /// Chooses `host`: hears its notifications and its context changes from now on (the
    /// previous host's no more), takes its context, and forgets the definition.
    pub fn change_host(&self, host: HostConnection) -> Result<(), ClientError> {
        let state = Arc::downgrade(&self.state);
        let notified = move |event: &Event| {
            let Some(state) = state.upgrade() else { return };
            let callbacks = {
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                if event.topic == topics::CLIENT_NOTIFICATION {
                    if state.logs.len() >= MAX_LOGS {
                        state.logs.pop_front();
                    }
                    state.logs.push_back(event.data["pipeline"].clone());
                }
                state.on_notification.clone()
            };
            for callback in callbacks {
                callback(event);
            }
        };
        let state = Arc::downgrade(&self.state);
        let context_changed = move |event: &Event| {
            let Some(state) = state.upgrade() else { return };
            let Some(context_id) = event.data["pipeline"]["context_id"].as_str() else {
                return;
            };
            let callbacks = {
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                state.context_id = Some(context_id.to_string());
                state.on_context_changed.clone()
            };
            for callback in callbacks {
                callback(context_id);
            }
        };
        let for_host = |topic: &str| {
            Expression::All(vec![
                Expression::equals("topic", topic),
                Expression::equals("data.pipeline.host_id", host.id()),
            ])
            .to_string()
        };
        let notified: OnEvent = Arc::new(notified);
        // Made one by one; a failure drops (unsubscribes) those already made.
        let mut subscriptions = HostSubscriptions {
            transport: self.transport.clone(),
            ids: Vec::new(),
        };
        subscriptions.add(&for_host(topics::CLIENT_NOTIFICATION), notified.clone())?;
        subscriptions.add(&for_host(topics::CLIENT_PROGRESS_NOTIFICATION), notified)?;
        subscriptions.add(
            &for_host(topics::HOST_CONTEXT_CHANGE),
            Arc::new(context_changed),
        )?;
        let previous = {
            let mut state = self.state();
            state.context_id = host.context_id().map(str::to_string);
            state.definition = None;
            state.logs.clear();
            state.host = Some(host);
            state.subscriptions.replace(subscriptions)
        };
        // The previous host's, removed outside the lock: its callbacks take it.
        drop(previous);
        Ok(())
    }

    /// The chosen host's definitions this client runs (of its type, or all).
    pub fn definitions(&self) -> Vec<Value> {
        let state = self.state();
        let Some(host) = &state.host else {
            return Vec::new();
        };
        host.definitions(self.kind).into_iter().cloned().collect()
    }

    /// The chosen definition.
    pub fn definition(&self) -> Option<Value> {
        self.state().definition.clone()
    }

    /// The chosen definition's engine type (its `type`).
    pub fn engine_type(&self) -> Option<DefinitionType> {
        let state = self.state();
        state.definition.as_ref()?["type"].as_str()?.parse().ok()
    }

    /// Chooses `definition` (changed as the caller likes, e.g. with [`set_option`]); it must
    /// be of a type this client runs.
    pub fn change_definition(&self, definition: Value) -> Result<(), ClientError> {
        let kind: Option<DefinitionType> = definition["type"].as_str().and_then(|t| t.parse().ok());
        let Some(kind) = kind else {
            return Err(ClientError::WrongDefinition(format!(
                "the definition's type is {}, not publisher, loader, opener or asset_manager",
                definition["type"]
            )));
        };
        if self.kind.is_some_and(|mine| mine != kind) {
            return Err(ClientError::WrongDefinition(format!(
                "a {} client does not run {kind} definitions",
                self.kind.map_or("", |k| k.as_str())
            )));
        }
        self.state().definition = Some(definition);
        Ok(())
    }

    /// The context now: the host's, or the last change heard or made.
    pub fn context_id(&self) -> Option<String> {
        self.state().context_id.clone()
    }

    /// Asks the host to take `context_id` (it says so back, see
    /// [`Client::on_context_changed`]).
    pub fn change_context(&self, context_id: &str) -> Result<(), ClientError> {
        let host = self.host_connection().ok_or(ClientError::NoHost)?;
        self.transport.publish(
            host.change_context_event(context_id),
            Box::new(|_| {}),
            NO_ANSWER,
        )?;
        Ok(())
    }

    /// Asks the chosen host's application to open the client `name` (the framework's
    /// `launch_client`: a DCC's host opens that window).
    pub fn launch_client(&self, name: &str, source: Option<&str>) -> Result<(), ClientError> {
        let host = self.host_connection().ok_or(ClientError::NoHost)?;
        self.transport.publish(
            host.launch_client_event(name, source),
            Box::new(|_| {}),
            NO_ANSWER,
        )?;
        Ok(())
    }

    /// Calls `callback` with each notification of the chosen host (client and progress
    /// notifications), as it comes.
    pub fn on_notification(&self, callback: impl Fn(&Event) + Send + Sync + 'static) {
        self.state().on_notification.push(Arc::new(callback));
    }

    /// Calls `callback` with the host's new context each time it changes.
    pub fn on_context_changed(&self, callback: impl Fn(&str) + Send + Sync + 'static) {
        self.state().on_context_changed.push(Arc::new(callback));
    }

    /// The chosen host's plugin notifications heard since it was chosen (`data.pipeline` of
    /// each; the framework's `logs`).
    pub fn logs(&self) -> Vec<Value> {
        self.state().logs.iter().cloned().collect()
    }

    /// Runs the chosen definition on the chosen host, waiting at most `time_out` for its
    /// answer.
    pub fn run_definition(&self, time_out: Duration) -> Result<RunOutcome, ClientError> {
        let host = self.host_connection().ok_or(ClientError::NoHost)?;
        let definition = self.definition().ok_or(ClientError::NoDefinition)?;
        let answer = self.ask(&host, host.run_definition_event(&definition), time_out)?;
        Ok(RunOutcome::from_reply(answer))
    }

    /// Runs one plugin of a definition (its entry in a stage, `plugin_type` such as
    /// `publisher.collector`) with `method`; the plugin's reply.
    pub fn run_plugin(
        &self,
        plugin: &Value,
        plugin_type: &str,
        method: &str,
        time_out: Duration,
    ) -> Result<Value, ClientError> {
        let host = self.host_connection().ok_or(ClientError::NoHost)?;
        let engine = plugin_type
            .split('.')
            .next()
            .and_then(|engine| engine.parse::<DefinitionType>().ok())
            .ok_or_else(|| {
                ClientError::WrongDefinition(format!(
                    "the plugin type {plugin_type:?} is not <engine>.<stage>"
                ))
            })?;
        let event = host.run_plugin_event(plugin, plugin_type, method, engine);
        self.ask(&host, event, time_out)
    }

    /// Publishes `event` to `host` and waits for its first answer.
    fn ask(
        &self,
        host: &HostConnection,
        event: Event,
        time_out: Duration,
    ) -> Result<Value, ClientError> {
        let (answered, answer) = channel();
        self.transport.publish(
            event,
            Box::new(move |reply| {
                let _ = answered.send(reply);
            }),
            time_out,
        )?;
        answer
            .recv_timeout(time_out)
            .map_err(|_| ClientError::NoAnswer {
                host: host.id().to_string(),
                seconds: time_out.as_secs_f64(),
            })
    }
}

/// The framework's `AssetManagerClient`: a [`Client`] of asset manager definitions, and the
/// asset manager's methods, each run by the host's asset manager engine with the plugin
/// given (from the definition's `actions`, `discover` or `resolvers`).
#[derive(Clone)]
pub struct AssetManagerClient(pub Client);

impl std::ops::Deref for AssetManagerClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.0
    }
}

impl AssetManagerClient {
    /// The asset versions `context_id` depends on, by the resolver `plugin`
    /// (`resolve_dependencies`, plugin type `asset_manager.resolver`).
    pub fn resolve_dependencies(
        &self,
        context_id: &str,
        plugin: &Value,
        options: Value,
        time_out: Duration,
    ) -> Result<Value, ClientError> {
        self.method(
            json!({
                "method": "resolve_dependencies",
                "plugin": plugin,
                "context_id": context_id,
                "plugin_type": "asset_manager.resolver",
                "options": options,
            }),
            time_out,
        )
    }

    /// The assets the host's application has (`discover_assets`).
    pub fn discover_assets(
        &self,
        plugin: Option<&Value>,
        time_out: Duration,
    ) -> Result<Value, ClientError> {
        self.method(
            json!({
                "method": "discover_assets",
                "plugin": plugin,
                "plugin_type": "asset_manager.discover",
            }),
            time_out,
        )
    }

    /// Runs `method` (`load_assets`, `select_assets`, `update_assets`, `unload_assets`,
    /// `remove_assets`) on `assets` (the framework's asset infos), with the action `plugin`.
    pub fn assets_method(
        &self,
        method: &str,
        assets: Value,
        plugin: Option<&Value>,
        time_out: Duration,
    ) -> Result<Value, ClientError> {
        self.method(
            json!({"method": method, "plugin": plugin, "assets": assets}),
            time_out,
        )
    }

    /// Changes an asset to another version (`change_version`; an application's host does it
    /// in its scene: the standalone host, which has none, refuses it).
    pub fn change_version(
        &self,
        asset: Value,
        new_version_id: &str,
        time_out: Duration,
    ) -> Result<Value, ClientError> {
        self.method(
            json!({
                "method": "change_version",
                "plugin": null,
                "assets": asset,
                "options": {"new_version_id": new_version_id},
            }),
            time_out,
        )
    }

    fn method(&self, data: Value, time_out: Duration) -> Result<Value, ClientError> {
        let host = self.host_connection().ok_or(ClientError::NoHost)?;
        let event = Event::new(topics::HOST_RUN).with_data(json!({
            "pipeline": {
                "host_id": host.id(),
                "data": data,
                "engine_type": DefinitionType::AssetManager.as_str(),
            },
        }));
        self.ask(&host, event, time_out)
    }
}

/// The framework's `LogViewerClient`: the hosts' notification log, read from its file (it
/// needs no host running).
pub struct LogViewerClient {
    log: LogDb,
}

impl LogViewerClient {
    /// The log viewer of the log at `path`.
    pub fn open(path: &Path) -> Result<LogViewerClient, LogError> {
        Ok(LogViewerClient {
            log: LogDb::open(path)?,
        })
    }

    /// The entries `query` asks for, oldest first.
    pub fn logs(&self, query: &LogQuery) -> Result<Vec<LogEntry>, LogError> {
        self.log.entries(query)
    }
}

#[cfg(test)]
mod tests;
