//! Pipeline plugins' side of ftrack's pipeline framework (ftrack-connect-pipeline 1.3.0): what
//! a plugin answers on `ftrack.pipeline.discover` and `ftrack.pipeline.run`, as the
//! framework's `BasePlugin` (`plugin/__init__.py`) answers. Only the protocol: no hub, no
//! I/O. Each way of writing a plugin (the host's own, Rhai's `session.pipeline.plugin`, the
//! native SDK's `Session::pipeline_plugin`) subscribes with [`PluginSpec::expression`] at
//! [`PLUGIN_PRIORITY`], answers discover with `true` and run with [`answer_run`].
//!
//! A pipeline plugin is a name and a plugin type (`publisher.collector`) for a host type
//! (`python`): a [`PluginSpec`]. Its subscriptions are the framework's, `topic=<topic> and
//! data.pipeline.host_type=<host type> and data.pipeline.category=plugin and
//! data.pipeline.plugin_type=<type> and data.pipeline.plugin_name=<name>`. On run it reads
//! the call ([`PluginCall`]: method, data, options, context data), runs the plugin's function
//! and answers the framework's reply ([`reply`]): `{plugin_name, plugin_type, method, status,
//! result: {<method>: value}, execution_time, message, user_data, plugin_id}`.
//!
//! What the framework's base classes do for every plugin is done here, so a plugin's function
//! only computes its value: validators and exporters get their step's collector results as
//! `data` ([`collected`]), and a `run` result is checked by the plugin's stage
//! ([`check_result`]: a context's map with its keys, a collector's or exporter's list, a
//! validator's `true`, a finalizer's map). A function that fails gives `EXCEPTION_STATUS`
//! with its message, one that refuses ([`PluginFailure::Refused`]) `ERROR_STATUS`; the
//! engine reports either to whoever ran the definition, naming the plugin.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The host runs one pipeline plugin (`PIPELINE_RUN_PLUGIN_TOPIC`).
pub const RUN_PLUGIN: &str = "ftrack.pipeline.run";

/// The host asks whether a pipeline plugin is registered (`PIPELINE_DISCOVER_PLUGIN_TOPIC`).
pub const DISCOVER_PLUGIN: &str = "ftrack.pipeline.discover";

/// A plugin ran well (`constants/status.py`).
pub const SUCCESS_STATUS: &str = "SUCCESS_STATUS";
/// A plugin refused, or a stage or step failed.
pub const ERROR_STATUS: &str = "ERROR_STATUS";
/// A plugin whose function failed.
pub const EXCEPTION_STATUS: &str = "EXCEPTION_STATUS";

/// The priority of a plugin's subscriptions, as the framework's.
pub const PLUGIN_PRIORITY: i64 = 100;

/// The engines a plugin type may name (`<engine>.<stage>`).
pub const ENGINES: [&str; 4] = ["publisher", "loader", "opener", "asset_manager"];

/// The host type of the framework's standalone host (`constants.HOST_TYPE`).
pub const STANDALONE_HOST_TYPE: &str = "python";

/// The keys a publisher's or loader's context plugin must return (`required_output`).
pub const CONTEXT_KEYS: [&str; 4] = ["context_id", "asset_name", "comment", "status_id"];

/// Which plugin: its name, its plugin type and the host type it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSpec {
    host_type: String,
    plugin_type: String,
    name: String,
}

/// A plugin type the framework has no engine for, or an empty name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSpecError {
    name: String,
    why: String,
}

impl std::fmt::Display for PluginSpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pipeline plugin {:?}: {}", self.name, self.why)
    }
}

impl std::error::Error for PluginSpecError {}

impl PluginSpec {
    /// The plugin `name` of `plugin_type` (`<engine>.<stage>`, e.g. `publisher.collector`)
    /// for `host_type`.
    pub fn new(host_type: &str, plugin_type: &str, name: &str) -> Result<Self, PluginSpecError> {
        let error = |why: String| PluginSpecError {
            name: name.into(),
            why,
        };
        if name.is_empty() || host_type.is_empty() {
            return Err(error("a plugin needs a name and a host type".into()));
        }
        if [name, host_type]
            .iter()
            .any(|text| text.contains(['"', '\\']))
        {
            return Err(error(
                "a plugin's name and host type have no quotes or backslashes".into(),
            ));
        }
        let (engine, stage) = plugin_type.split_once('.').ok_or_else(|| {
            error(format!(
                "the plugin type {plugin_type:?} is not <engine>.<stage> \
                 (publisher.collector, loader.importer, ...)"
            ))
        })?;
        if !ENGINES.contains(&engine) || stage.is_empty() || stage.contains('.') {
            return Err(error(format!(
                "the plugin type {plugin_type:?} is not <engine>.<stage> with an engine of \
                 publisher, loader, opener or asset_manager"
            )));
        }
        Ok(PluginSpec {
            host_type: host_type.into(),
            plugin_type: plugin_type.into(),
            name: name.into(),
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its plugin type (`publisher.collector`).
    pub fn plugin_type(&self) -> &str {
        &self.plugin_type
    }

    /// Its host type.
    pub fn host_type(&self) -> &str {
        &self.host_type
    }

    /// Its stage (`collector`): what its `run` result is checked for.
    pub fn stage(&self) -> &str {
        self.plugin_type
            .split_once('.')
            .map_or("", |(_, stage)| stage)
    }

    /// The expression of its subscription to `topic` (the framework's, see the module's
    /// documentation; values quoted).
    pub fn expression(&self, topic: &str) -> String {
        format!(
            "topic=\"{topic}\" and data.pipeline.host_type=\"{}\" and \
             data.pipeline.category=plugin and data.pipeline.plugin_type=\"{}\" and \
             data.pipeline.plugin_name=\"{}\"",
            self.host_type, self.plugin_type, self.name
        )
    }
}

/// What an `ftrack.pipeline.run` asks of a plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginCall {
    /// The method (`run`, or another such as a collector's `fetch`).
    pub method: String,
    /// For `run`: the steps so far, or for a validator or an exporter the values its step's
    /// collectors returned; for another method, the plugin's `plugin_data`.
    pub data: Value,
    /// The plugin's options in the definition.
    pub options: Value,
    /// The context plugins' merged results (`context_id`, `asset_name`, `comment`,
    /// `status_id`, `asset_type_name`), or null.
    pub context_data: Value,
    /// The definition's name, or null for a single plugin run.
    pub definition: Option<String>,
}

impl PluginCall {
    /// The call an `ftrack.pipeline.run` event's data makes of `spec`.
    pub fn from_event_data(spec: &PluginSpec, data: &Value) -> PluginCall {
        let settings = &data["settings"];
        let method = data["pipeline"]["method"]
            .as_str()
            .unwrap_or("run")
            .to_string();
        let mut call_data = settings["data"].clone();
        if method == "run" && matches!(spec.stage(), "validator" | "exporter") {
            call_data = collected(&call_data);
        }
        PluginCall {
            method,
            data: call_data,
            options: settings["options"].clone(),
            context_data: settings["context_data"].clone(),
            definition: data["pipeline"]["definition"].as_str().map(str::to_string),
        }
    }
}

/// What validators and exporters see as `data` (the framework's `_parse_run_event` of
/// both): the plugin entries of the current step's (the last of `steps`) collector stage,
/// `[{name, result, status, ...}]`, each collector's value in its `result`; `steps` itself
/// when the step has no collector stage.
pub fn collected(steps: &Value) -> Value {
    let current = steps.as_array().and_then(|steps| steps.last());
    current
        .and_then(|step| step["result"].as_array())
        .into_iter()
        .flatten()
        .find(|stage| stage["name"] == "collector")
        .map(|stage| stage["result"].clone())
        .filter(|entries| entries.as_array().is_some_and(|e| !e.is_empty()))
        .unwrap_or_else(|| steps.clone())
}

/// The values collected for a validator or an exporter ([`collected`]): every collector's
/// result, flattened (a collector's list of paths gives each path).
pub fn collected_values(data: &Value) -> Vec<Value> {
    let mut values = Vec::new();
    for entry in data.as_array().into_iter().flatten() {
        match &entry["result"] {
            Value::Array(items) => values.extend(items.iter().cloned()),
            Value::Null => {}
            other => values.push(other.clone()),
        }
    }
    values
}

/// Checks a `run` result as the framework's plugin base classes do (`return_type`,
/// `required_output`, `return_value`): the reason it is refused, if it is.
pub fn check_result(spec: &PluginSpec, value: &Value) -> Result<(), String> {
    let name = spec.name();
    let expected = match spec.stage() {
        "context" => "map",
        "collector" | "exporter" => "list",
        "validator" => "bool",
        "pre_finalizer" | "finalizer" | "post_finalizer" | "importer" | "post_importer" => "map",
        _ => return Ok(()),
    };
    let given = match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "text",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    };
    if given != expected {
        return Err(format!(
            "Return value of {name} is a {given}; a {} plugin returns a {expected}",
            spec.stage()
        ));
    }
    if spec.stage() == "validator" && value != &Value::Bool(true) {
        return Err(format!("Return value of {name} is not True"));
    }
    let needs_context_keys = spec.stage() == "context"
        && (spec.plugin_type.starts_with("publisher.") || spec.plugin_type.starts_with("loader."));
    if needs_context_keys {
        let missing: Vec<&str> = CONTEXT_KEYS
            .iter()
            .copied()
            .filter(|key| value.get(key).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "Return value of {name} lacks {}: a context plugin returns {}",
                missing.join(", "),
                CONTEXT_KEYS.join(", ")
            ));
        }
    }
    Ok(())
}

/// Why a plugin's function gave no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginFailure {
    /// It did its work and says no, with why (`ERROR_STATUS`, "Failed to run <name>: why",
    /// as the framework's `(False, {'message': why})`): a validator naming the missing file.
    Refused(String),
    /// It failed (`EXCEPTION_STATUS`, the message as it is): an error thrown, a server down.
    Failed(String),
}

impl From<String> for PluginFailure {
    fn from(message: String) -> Self {
        PluginFailure::Failed(message)
    }
}

/// The framework's reply for `spec` having run `call` in `elapsed`: `outcome` is the
/// function's value or its failure. A `run` value is checked ([`check_result`]).
pub fn reply(
    spec: &PluginSpec,
    call: &PluginCall,
    outcome: Result<Value, PluginFailure>,
    elapsed: Duration,
    plugin_id: &str,
) -> Value {
    let checked = outcome
        .map_err(|failure| match failure {
            PluginFailure::Refused(why) => (
                ERROR_STATUS,
                format!("Failed to run {}: {why}", spec.name()),
            ),
            PluginFailure::Failed(message) => (EXCEPTION_STATUS, message),
        })
        .and_then(|value| {
            if call.method == "run" {
                check_result(spec, &value).map_err(|why| (ERROR_STATUS, why))?;
            }
            Ok(value)
        });
    let (status, result, message) = match checked {
        Ok(value) => (
            SUCCESS_STATUS,
            json!({ call.method.as_str(): value }),
            format!("Successfully run :{}", spec.name()),
        ),
        Err((status, message)) => (status, Value::Null, message),
    };
    json!({
        "plugin_name": spec.name(),
        "plugin_type": spec.plugin_type(),
        "method": call.method,
        "status": status,
        "result": result,
        "execution_time": elapsed.as_secs_f64(),
        "message": message,
        "user_data": {},
        "plugin_id": plugin_id,
    })
}

/// Answers an `ftrack.pipeline.run` event for `spec` with `run`'s outcome, timed: the
/// framework's reply ([`reply`]). `plugin_id` is the plugin's (one per plugin, as the
/// framework's instances have: see [`new_plugin_id`]).
///
/// `user` is whom the plugin runs for (the host's user): an event another user published
/// (its `source.user.username`, which a server sets to the user it signed in) is refused
/// without running anything. A pipeline plugin reads and publishes the user's files with the
/// user's key, and any user of a server may publish events; the framework ran them all. An
/// empty `user` (no server, no other user) accepts every event.
pub fn answer_run(
    spec: &PluginSpec,
    event: &crate::Event,
    user: &str,
    plugin_id: &str,
    run: impl FnOnce(&PluginCall) -> Result<Value, PluginFailure>,
) -> Value {
    let call = PluginCall::from_event_data(spec, &event.data);
    let asked_by = asked_by(event);
    if !user.is_empty() && asked_by != user {
        let why = format!("it runs only for {user}, not for {asked_by:?}");
        return reply(
            spec,
            &call,
            Err(PluginFailure::Refused(why)),
            Duration::ZERO,
            plugin_id,
        );
    }
    let started = Instant::now();
    let outcome = run(&call);
    reply(spec, &call, outcome, started.elapsed(), plugin_id)
}

/// Who published `event`: its `source.user.username` (empty when it has none).
pub fn asked_by(event: &crate::Event) -> &str {
    event
        .source
        .get("user")
        .and_then(|user| user.get("username"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A plugin id as the framework's (a uuid4's 32 hex digits).
pub fn new_plugin_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collector() -> PluginSpec {
        PluginSpec::new("python", "publisher.collector", "paths").unwrap()
    }

    #[test]
    fn runs_are_answered_with_the_frameworks_reply() {
        let spec = collector();
        let event = run_event(&spec, "run", json!([]));
        let reply = answer_run(&spec, &event, "", "id-1", |call| {
            Ok(json!([call.options["path"]]))
        });
        assert_eq!(reply["status"], SUCCESS_STATUS);
        assert_eq!(reply["result"], json!({"run": ["/a.exr"]}));
        assert_eq!(reply["message"], "Successfully run :paths");
        assert_eq!(reply["plugin_id"], "id-1");
        let fetch = run_event(&spec, "fetch", json!(null));
        let reply = answer_run(&spec, &fetch, "", "id-1", |call| {
            Ok(call.options["path"].clone())
        });
        assert_eq!(reply["result"], json!({"fetch": "/a.exr"}));
        // Another user's event runs nothing; the user's own does.
        let mut theirs = event.clone();
        theirs
            .source
            .insert("user".into(), json!({"username": "mallory"}));
        let refused = answer_run(&spec, &theirs, "alice", "id-1", |_| panic!("not run"));
        assert_eq!(refused["status"], ERROR_STATUS);
        assert_eq!(
            refused["message"],
            "Failed to run paths: it runs only for alice, not for \"mallory\""
        );
        let mut ours = event.clone();
        ours.source
            .insert("user".into(), json!({"username": "alice"}));
        let ran = answer_run(&spec, &ours, "alice", "id-1", |_| Ok(json!([])));
        assert_eq!(ran["status"], SUCCESS_STATUS);
        assert_eq!(new_plugin_id().len(), 32);
        assert_eq!(
            spec.expression(RUN_PLUGIN),
            "topic=\"ftrack.pipeline.run\" and data.pipeline.host_type=\"python\" and \
             data.pipeline.category=plugin and data.pipeline.plugin_type=\"publisher.collector\" \
             and data.pipeline.plugin_name=\"paths\""
        );
    }

    fn run_event(spec: &PluginSpec, method: &str, data: Value) -> crate::Event {
        crate::Event::new(RUN_PLUGIN).with_data(json!({
            "pipeline": {
                "plugin_name": spec.name(), "plugin_type": spec.plugin_type(),
                "method": method, "category": "plugin", "host_type": spec.host_type(),
                "definition": "File Publisher",
            },
            "settings": {"data": data, "options": {"path": "/a.exr"}, "context_data": null},
        }))
    }

    #[test]
    fn plugin_types_are_engine_dot_stage() {
        assert!(PluginSpec::new("python", "publisher.collector", "c").is_ok());
        for bad in [
            "collector",
            "painter.collector",
            "publisher.",
            "publisher.a.b",
        ] {
            let err = PluginSpec::new("python", bad, "c").unwrap_err();
            assert!(err.to_string().contains("<engine>.<stage>"), "{err}");
        }
        assert!(PluginSpec::new("python", "publisher.collector", "").is_err());
        assert!(PluginSpec::new("python", "publisher.collector", "a\"b").is_err());
    }

    #[test]
    fn results_are_checked_by_stage_and_failures_have_a_status() {
        let call = |method: &str| PluginCall {
            method: method.into(),
            data: json!([]),
            options: json!({}),
            context_data: Value::Null,
            definition: None,
        };
        let validator = PluginSpec::new("python", "publisher.validator", "exists").unwrap();
        let refused = reply(
            &validator,
            &call("run"),
            Ok(json!(false)),
            Duration::ZERO,
            "",
        );
        assert_eq!(refused["status"], ERROR_STATUS);
        assert_eq!(refused["message"], "Return value of exists is not True");
        assert_eq!(refused["result"], Value::Null);
        let failed = reply(
            &validator,
            &call("run"),
            Err(PluginFailure::Failed("boom".into())),
            Duration::ZERO,
            "",
        );
        assert_eq!(failed["status"], EXCEPTION_STATUS);
        assert_eq!(failed["message"], "boom");
        let said_no = reply(
            &validator,
            &call("run"),
            Err(PluginFailure::Refused("/a.exr does not exist".into())),
            Duration::ZERO,
            "",
        );
        assert_eq!(said_no["status"], ERROR_STATUS);
        assert_eq!(
            said_no["message"],
            "Failed to run exists: /a.exr does not exist"
        );
        // Only `run` results are checked.
        let other = reply(&validator, &call("fetch"), Ok(json!(3)), Duration::ZERO, "");
        assert_eq!(other["status"], SUCCESS_STATUS);

        let context = PluginSpec::new("python", "publisher.context", "ctx").unwrap();
        let err = check_result(&context, &json!({"context_id": "t"})).unwrap_err();
        assert!(
            err.contains("lacks asset_name, comment, status_id"),
            "{err}"
        );
        let exporter = PluginSpec::new("python", "publisher.exporter", "out").unwrap();
        let err = check_result(&exporter, &json!({})).unwrap_err();
        assert_eq!(
            err,
            "Return value of out is a map; a exporter plugin returns a list"
        );
        let finalizer = PluginSpec::new("python", "publisher.finalizer", "fin").unwrap();
        assert!(check_result(&finalizer, &json!({})).is_ok());
    }

    #[test]
    fn validators_and_exporters_see_their_steps_collected_values() {
        let steps = json!([
            {"name": "context", "result": [], "type": "context"},
            {"name": "main", "type": "component", "result": [
                {"name": "collector", "type": "collector", "result": [
                    {"name": "a", "result": ["/a.exr"]},
                    {"name": "b", "result": ["/b.exr", "/c.exr"]},
                ]},
            ]},
        ]);
        let validator = PluginSpec::new("python", "publisher.validator", "v").unwrap();
        let call = PluginCall::from_event_data(
            &validator,
            &run_event(&validator, "run", steps.clone()).data,
        );
        assert_eq!(call.data, steps[1]["result"][0]["result"]);
        assert_eq!(
            collected_values(&call.data),
            vec![json!("/a.exr"), json!("/b.exr"), json!("/c.exr")]
        );
        // A collector sees the steps as they are.
        let collector = collector();
        let call = PluginCall::from_event_data(
            &collector,
            &run_event(&collector, "run", steps.clone()).data,
        );
        assert_eq!(call.data, steps);
        assert_eq!(call.definition.as_deref(), Some("File Publisher"));
    }
}
