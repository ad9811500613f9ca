//! The engines: what a pipeline host runs when a client publishes `ftrack.pipeline.host.run`,
//! as ftrack-connect-pipeline 1.3.0's `BaseEngine` does (`host/engine/__init__.py`), event for
//! event (see `pipeline_trace/standalone_publish_trace.json`).
//!
//! * [`Engine::run_definition`] runs a whole definition: its step groups in the framework's
//!   order (`contexts`, `components`, `finalizers`), each enabled step's enabled, non-empty
//!   stages in `stage_order`, each enabled plugin of a stage by publishing
//!   `ftrack.pipeline.run` synchronously (for each host type, last first: the first reply
//!   wins). Around each plugin it publishes `ftrack.pipeline.client.notification` (RUNNING,
//!   then the plugin's reply) and `ftrack.pipeline.client.progress.notification` (RUNNING
//!   before each plugin, the stage's status after it, and `stage_name: null` when a step
//!   ends well), with the framework's shapes.
//! * Outputs flow as in the framework: a plugin gets `settings.data`, the step results of its
//!   group so far plus its own step's stages so far; the merged results of the last context
//!   stage are every later plugin's `context_data` (with `asset_type_name`); the finalizers'
//!   group starts with the component steps, cut down to their exporter / importer /
//!   post_importer stages. The run's result is the finalizers' group results.
//! * [`Engine::run_plugin`] runs one plugin (a client's `run_plugin`): `definition` null,
//!   `context_data` null, `data` the plugin's `plugin_data`; its result is the notified reply.
//!
//! The publisher, loader and opener engines differ only by their plugin types'
//! prefix (`publisher.collector`, `loader.importer`, ...): one [`Engine`] of the definition's
//! [`DefinitionType`] runs them. The asset manager's own methods (`discover_assets`,
//! `load_assets`, ...) are not run here yet; its plugins can be run one by one.
//!
//! Deliberate difference: a plugin whose status is not `SUCCESS_STATUS` stops its stage, its
//! step and the run as in the framework, but the run's result then says so ([`RunError`]:
//! the group, step, stage, plugin, status and message), where the framework raised inside the
//! hub's handler and the caller got nothing.

use connect_core::EventHub;
use connect_event::Event;
use serde_json::{json, Map, Value};

use crate::definition::DefinitionType;
use crate::topics;

pub use connect_event::pipeline::{ERROR_STATUS, SUCCESS_STATUS};
/// A plugin is running.
pub const RUNNING_STATUS: &str = "RUNNING_STATUS";
/// Nobody answered for the plugin.
pub const UNKNOWN_STATUS: &str = "UNKNOWN_STATUS";

/// The framework's step groups, in the order it runs them (`STEP_GROUPS`).
pub const STEP_GROUPS: [&str; 3] = ["contexts", "components", "finalizers"];

/// The stage types whose results reach the finalizers.
const OUTPUT_STAGES: [&str; 3] = ["exporter", "importer", "post_importer"];

/// Why a definition run stopped: a plugin whose status was not `SUCCESS_STATUS`, or a
/// definition the engine cannot read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("An error occurred during the execution of the {group} (step {step}, stage {stage}): {plugin_name} ({plugin_type}) {status}: {message}")]
pub struct RunError {
    /// The step group: `contexts`, `components` or `finalizers` (empty for a bad definition).
    pub group: String,
    /// The step's name.
    pub step: String,
    /// The stage's name.
    pub stage: String,
    /// The failing plugin's name (its `plugin` key).
    pub plugin_name: String,
    /// Its plugin type (`publisher.validator`).
    pub plugin_type: String,
    /// Its status (`ERROR_STATUS`, `EXCEPTION_STATUS`, `UNKNOWN_STATUS`...).
    pub status: String,
    /// Its message.
    pub message: String,
    /// The failing step's stage results, as its last progress notification sent them.
    pub results: Value,
}

impl RunError {
    /// A run refused before any plugin ran: the definition is at fault.
    pub(crate) fn definition(message: String) -> RunError {
        RunError {
            group: String::new(),
            step: String::new(),
            stage: String::new(),
            plugin_name: String::new(),
            plugin_type: String::new(),
            status: ERROR_STATUS.into(),
            message,
            results: Value::Null,
        }
    }

    /// The host's reply for a failed run: `{status, message, group, step, stage, plugin_name,
    /// plugin_type, plugin_status, plugin_message, results}`.
    pub fn to_reply(&self) -> Value {
        json!({
            "status": ERROR_STATUS,
            "message": self.to_string(),
            "group": self.group,
            "step": self.step,
            "stage": self.stage,
            "plugin_name": self.plugin_name,
            "plugin_type": self.plugin_type,
            "plugin_status": self.status,
            "plugin_message": self.message,
            "results": self.results,
        })
    }
}

/// An engine: runs definitions of one type and their plugins for a host, on its hub.
pub struct Engine<'a> {
    hub: &'a EventHub,
    host_id: &'a str,
    host_types: &'a [String],
    kind: DefinitionType,
    /// The definition's `asset_type`, given to context plugins' results.
    asset_type_name: Option<String>,
}

impl<'a> Engine<'a> {
    /// An engine of `kind` for the host `host_id` of `host_types`.
    pub fn new(
        hub: &'a EventHub,
        host_id: &'a str,
        host_types: &'a [String],
        kind: DefinitionType,
    ) -> Engine<'a> {
        Engine {
            hub,
            host_id,
            host_types,
            kind,
            asset_type_name: None,
        }
    }

    /// Sets the asset type context plugins' results get as `asset_type_name` (the
    /// definition's `asset_type`, as `Host.run` reads it).
    pub fn with_asset_type(mut self, asset_type: Option<String>) -> Engine<'a> {
        self.asset_type_name = asset_type;
        self
    }

    /// Runs one plugin of `plugin_type` with `method` (a client's `run_plugin`): the
    /// framework's `_run_plugin` with `data` the plugin's `plugin_data`, no context data and
    /// no definition. Returns the plugin's reply as notified (whatever its status).
    pub fn run_plugin(&self, plugin: &Value, plugin_type: &str, method: &str) -> Value {
        let options = plugin.get("options").cloned().unwrap_or(Value::Null);
        let data = plugin.get("plugin_data").cloned().unwrap_or(Value::Null);
        self.call_plugin(
            plugin,
            plugin_type,
            method,
            data,
            options,
            Value::Null,
            None,
        )
    }

    /// As [`Engine::run_plugin`], with the plugin's `data` and `options` given (the asset
    /// manager's methods: the context or the assets, the caller's options over the plugin's).
    pub fn run_plugin_with(
        &self,
        plugin: &Value,
        plugin_type: &str,
        method: &str,
        data: Value,
        options: &Value,
    ) -> Value {
        let mut merged = plugin.get("options").cloned().unwrap_or(json!({}));
        if let (Value::Object(merged), Value::Object(options)) = (&mut merged, options) {
            merged.extend(options.clone());
        }
        self.call_plugin(plugin, plugin_type, method, data, merged, Value::Null, None)
    }

    /// Runs a whole definition (the framework's `run_definition`): see the module's
    /// documentation. Returns the finalizers' group results.
    pub fn run_definition(&self, definition: &Value) -> Result<Value, Box<RunError>> {
        let name = definition.get("name").and_then(Value::as_str);
        let mut context_data = Value::Null;
        let mut components_output: Vec<Value> = Vec::new();
        let mut group_results: Vec<Value> = Vec::new();
        for group in STEP_GROUPS {
            let steps = definition
                .get(group)
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    Box::new(RunError::definition(format!(
                        "the definition has no {group}"
                    )))
                })?;
            group_results = if group == "finalizers" {
                std::mem::take(&mut components_output)
            } else {
                Vec::new()
            };
            for step in steps {
                if !enabled(step) {
                    continue;
                }
                let step_name = text(step, "name");
                let step_type = text(step, "type");
                let mut step_options = Map::new();
                if group == "components" {
                    if let Some(formats) = step.get("file_formats") {
                        step_options.insert("file_formats".into(), formats.clone());
                    }
                }
                let results = self
                    .run_step(
                        step,
                        group_results.clone(),
                        &context_data,
                        &step_options,
                        name,
                    )
                    .map_err(|mut error| {
                        error.group = group.into();
                        error
                    })?;
                group_results.push(json!({
                    "name": step_name,
                    "result": results,
                    "status": true,
                    "category": "step",
                    "type": step_type,
                }));
            }
            match group {
                "contexts" => context_data = merged_context(&group_results),
                "components" => components_output = outputs(&group_results),
                _ => {}
            }
        }
        Ok(Value::Array(group_results))
    }

    /// Runs a step's stages in `stage_order` (the framework's `run_step`); returns its stage
    /// results.
    fn run_step(
        &self,
        step: &Value,
        mut data: Vec<Value>,
        context_data: &Value,
        step_options: &Map<String, Value>,
        definition: Option<&str>,
    ) -> Result<Vec<Value>, Box<RunError>> {
        let step_name = text(step, "name");
        let step_type = text(step, "type");
        let stages = step
            .get("stages")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let order: Vec<&str> = step
            .get("stage_order")
            .and_then(Value::as_array)
            .map(|order| order.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        data.push(json!({"name": step_name, "result": [], "type": step_type}));
        let current = data.len() - 1;
        let mut results: Vec<Value> = Vec::new();
        for stage_name in order {
            for stage in stages.iter().filter(|s| text(s, "name") == stage_name) {
                let plugins = stage.get("plugins").and_then(Value::as_array);
                if !enabled(stage) || plugins.is_none_or(Vec::is_empty) {
                    continue;
                }
                data[current]["result"] = Value::Array(results.clone());
                let outcome =
                    self.run_stage(step, stage, &data, context_data, step_options, definition);
                let (entry, failure) = outcome;
                results.push(entry);
                let status = if failure.is_some() {
                    ERROR_STATUS
                } else {
                    SUCCESS_STATUS
                };
                self.progress(step, Some(stage_name), None, status, json!(results));
                if let Some(failure) = failure {
                    return Err(Box::new(RunError {
                        group: String::new(),
                        step: step_name.into(),
                        stage: stage_name.into(),
                        plugin_name: text(&failure, "name").into(),
                        plugin_type: text(&failure, "plugin_type").into(),
                        status: text(&failure, "plugin_status").into(),
                        message: failure["message"].as_str().unwrap_or_default().into(),
                        results: Value::Array(results),
                    }));
                }
            }
        }
        self.progress(step, None, None, SUCCESS_STATUS, json!(results));
        Ok(results)
    }

    /// Runs a stage's enabled plugins (the framework's `run_stage`): its entry
    /// `{name, result, status, category, type}`, and the failing plugin's result if one
    /// failed (its status text added as `plugin_status`).
    fn run_stage(
        &self,
        step: &Value,
        stage: &Value,
        data: &[Value],
        context_data: &Value,
        step_options: &Map<String, Value>,
        definition: Option<&str>,
    ) -> (Value, Option<Value>) {
        let stage_name = text(stage, "name");
        let plugin_type = format!("{}.{}", self.kind.as_str(), stage_name);
        let plugins = stage
            .get("plugins")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let total = plugins.len();
        let mut entries = Vec::new();
        let mut failure = None;
        for (index, plugin) in plugins.iter().enumerate() {
            if !enabled(plugin) {
                continue;
            }
            self.progress(
                step,
                Some(stage_name),
                Some((total, index + 1)),
                RUNNING_STATUS,
                Value::Null,
            );
            let mut options = plugin.get("options").cloned().unwrap_or(json!({}));
            if let Value::Object(options) = &mut options {
                for (key, value) in step_options {
                    options.insert(key.clone(), value.clone());
                }
            }
            let method = plugin
                .get("default_method")
                .and_then(Value::as_str)
                .unwrap_or("run");
            let reply = self.call_plugin(
                plugin,
                &plugin_type,
                method,
                Value::Array(data.to_vec()),
                options.clone(),
                context_data.clone(),
                definition,
            );
            let status = reply["status"].as_str().unwrap_or(UNKNOWN_STATUS);
            let ok = status == SUCCESS_STATUS;
            let mut result = if ok {
                reply["result"].get(method).cloned().unwrap_or(Value::Null)
            } else {
                Value::Null
            };
            if ok && text(stage, "type") == "context" {
                if let Value::Object(map) = &mut result {
                    map.insert("asset_type_name".into(), json!(self.asset_type_name));
                }
            }
            let entry = json!({
                "name": text(plugin, "plugin"),
                "options": options,
                "result": result,
                "status": ok,
                "category": plugin.get("category").cloned().unwrap_or(json!("plugin")),
                "type": plugin.get("type").cloned().unwrap_or(Value::Null),
                "plugin_type": plugin_type,
                "method": method,
                "user_data": reply.get("user_data").cloned().unwrap_or(json!({})),
                "message": reply.get("message").cloned().unwrap_or(Value::Null),
                "widget_ref": reply.get("widget_ref").cloned().unwrap_or(Value::Null),
                "host_id": self.host_id,
                "plugin_id": reply.get("plugin_id").cloned().unwrap_or(Value::Null),
            });
            if !ok {
                let mut failed = entry.clone();
                failed["plugin_status"] = json!(status);
                entries.push(entry);
                failure = Some(failed);
                break;
            }
            entries.push(entry);
        }
        let entry = json!({
            "name": stage_name,
            "result": entries,
            "status": failure.is_none(),
            "category": "stage",
            "type": stage.get("type").cloned().unwrap_or(Value::Null),
        });
        (entry, failure)
    }

    /// Publishes `ftrack.pipeline.run` for one plugin (the framework's `_run_plugin`), with
    /// its client notifications before and after; returns the notified reply.
    #[allow(clippy::too_many_arguments)]
    fn call_plugin(
        &self,
        plugin: &Value,
        plugin_type: &str,
        method: &str,
        data: Value,
        options: Value,
        context_data: Value,
        definition: Option<&str>,
    ) -> Value {
        let plugin_name = text(plugin, "plugin");
        let start = json!({
            "plugin_name": plugin_name,
            "plugin_type": plugin_type,
            "method": method,
            "status": RUNNING_STATUS,
            "result": null,
            "execution_time": 0,
            "message": null,
        });
        self.notify(plugin, start);
        let mut reply = None;
        for host_type in self.host_types.iter().rev() {
            let mut event = Event::new(topics::RUN_PLUGIN).with_data(json!({
                "pipeline": {
                    "plugin_name": plugin_name,
                    "plugin_type": plugin_type,
                    "method": method,
                    "category": "plugin",
                    "host_type": host_type,
                    "definition": definition,
                },
                "settings": {
                    "data": data,
                    "options": options,
                    "context_data": context_data,
                },
            }));
            let first = self.hub.publish(&mut event).into_iter().next();
            if let Some(first) = first.filter(|r| !r.is_null()) {
                reply = Some(first);
                break;
            }
        }
        let reply = match reply {
            Some(Value::Object(reply)) => Value::Object(reply),
            Some(other) => json!({
                "plugin_name": plugin_name,
                "plugin_type": plugin_type,
                "method": method,
                "status": ERROR_STATUS,
                "result": null,
                "execution_time": 0,
                "message": format!("plugin {plugin_name} ({plugin_type}) replied {other}, not an object"),
                "user_data": {},
            }),
            None => json!({
                "plugin_name": plugin_name,
                "plugin_type": plugin_type,
                "method": method,
                "status": UNKNOWN_STATUS,
                "result": null,
                "execution_time": 0,
                "message": format!(
                    "no plugin {plugin_name} of type {plugin_type} answered for host types {:?}",
                    self.host_types
                ),
                "user_data": {},
            }),
        };
        self.notify(plugin, reply)
    }

    /// Publishes `ftrack.pipeline.client.notification` for `plugin` (the framework's
    /// `_notify_client`: `host_id`, the plugin's `widget_ref` and `plugin_id` added to
    /// `data`); returns what it sent.
    fn notify(&self, plugin: &Value, data: Value) -> Value {
        let mut data = match data {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        data.insert("host_id".into(), json!(self.host_id));
        data.insert("widget_ref".into(), field(plugin, "widget_ref"));
        data.insert("plugin_id".into(), field(plugin, "plugin_id"));
        let data = Value::Object(data);
        self.tell_clients(
            Event::new(topics::CLIENT_NOTIFICATION).with_data(json!({"pipeline": data.clone()})),
        );
        data
    }

    /// Publishes `ftrack.pipeline.client.progress.notification` for a step (and stage).
    fn progress(
        &self,
        step: &Value,
        stage_name: Option<&str>,
        plugins: Option<(usize, usize)>,
        status: &str,
        results: Value,
    ) {
        let (total, current) = match plugins {
            Some((total, current)) => (json!(total), json!(current)),
            None => (Value::Null, Value::Null),
        };
        self.tell_clients(
            Event::new(topics::CLIENT_PROGRESS_NOTIFICATION).with_data(json!({
                "pipeline": {
                    "host_id": self.host_id,
                    "step_type": text(step, "type"),
                    "step_name": text(step, "name"),
                    "stage_name": stage_name,
                    "total_plugins": total,
                    "current_plugin_index": current,
                    "status": status,
                    "results": results,
                },
            })),
        );
    }

    /// Publishes a notification as the framework's event manager does in its mode: through
    /// the server when the hub is linked to one (remote mode: the clients may be in other
    /// processes), else synchronously here (local mode).
    fn tell_clients(&self, mut event: Event) {
        if self.hub.is_linked() {
            self.hub.publish_async(event, None);
        } else {
            self.hub.publish(&mut event);
        }
    }
}

/// `value[key]` as text, or empty.
fn text<'v>(value: &'v Value, key: &str) -> &'v str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// `value[key]`, or null.
fn field(value: &Value, key: &str) -> Value {
    value.get(key).cloned().unwrap_or(Value::Null)
}

/// Whether a step, stage or plugin is enabled (`enabled` defaults to true).
fn enabled(value: &Value) -> bool {
    value
        .get("enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

/// The context data: the plugin results of the last context step's last stage, merged.
fn merged_context(group_results: &[Value]) -> Value {
    let mut merged = Map::new();
    let last_stage = group_results
        .last()
        .and_then(|step| step["result"].as_array())
        .and_then(|stages| stages.last());
    for plugin in last_stage
        .and_then(|stage| stage["result"].as_array())
        .into_iter()
        .flatten()
    {
        if let Value::Object(result) = &plugin["result"] {
            merged.extend(result.clone());
        }
    }
    Value::Object(merged)
}

/// The component steps cut down to their exporter / importer / post_importer stages: what
/// the finalizers start with.
fn outputs(group_results: &[Value]) -> Vec<Value> {
    group_results
        .iter()
        .map(|step| {
            let mut step = step.clone();
            if let Some(stages) = step["result"].as_array_mut() {
                stages.retain(|stage| OUTPUT_STAGES.contains(&text(stage, "type")));
            }
            step
        })
        .collect()
}
