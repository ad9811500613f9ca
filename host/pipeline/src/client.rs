//! The client's side of the framework (the seed's `Client` and `HostConnection`), without a
//! transport: what a client sends to pipeline hosts and makes of their answers. The command
//! line's `pipeline run` and the window carry these events through the server's event hub
//! (or the host's own hub); the logic is here so both do the same.
//!
//! * [`discover_hosts_event`] asks every host for itself; each reply is a
//!   [`HostConnection`]: its id, name, host types, context and definitions.
//! * [`HostConnection::definition`] finds a definition by name; [`set_option`] sets an option
//!   on the plugins of one stage of one step ([`OptionPath`], the `--set
//!   STEP_TYPE.STEP.STAGE.OPTION=VALUE` of `pipeline run`) and [`set_context`] the context
//!   plugins' `context_id`, as a client's widgets would before running it.
//! * [`HostConnection::run_definition_event`] / [`HostConnection::run_plugin_event`] are the
//!   framework's `ftrack.pipeline.host.run`; [`RunOutcome::from_reply`] reads its answer: the
//!   finalizers' results, or (where the framework's host raised and said nothing) the failure
//!   with the plugin's name and message.
//! * [`HostConnection::change_context_event`] is `ftrack.pipeline.client.context.change`.

use std::str::FromStr;

use connect_event::Event;
use serde_json::{json, Value};

use crate::definition::DefinitionType;
use crate::engine::{ERROR_STATUS, STEP_GROUPS};
use crate::host::host_types_of;
use crate::topics;

/// `ftrack.pipeline.host.discover` (data `{}`): every host replies with itself.
pub fn discover_hosts_event() -> Event {
    Event::new(topics::HOST_DISCOVER).with_data(json!({}))
}

/// A host as its discover reply describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostConnection {
    reply: Value,
}

impl HostConnection {
    /// The host a discover reply describes; `None` when the reply has no `host_id`.
    pub fn from_discover_reply(reply: Value) -> Option<HostConnection> {
        reply["host_id"].as_str()?;
        Some(HostConnection { reply })
    }

    /// Its id (`python-3f0c…`).
    pub fn id(&self) -> &str {
        self.reply["host_id"].as_str().unwrap_or_default()
    }

    /// Its name (`python-<machine>`).
    pub fn name(&self) -> &str {
        self.reply["host_name"].as_str().unwrap_or_default()
    }

    /// Its host types, read from its id as the framework's clients do.
    pub fn host_types(&self) -> Vec<String> {
        host_types_of(self.id())
    }

    /// Its context, if it has one.
    pub fn context_id(&self) -> Option<&str> {
        self.reply["context_id"].as_str()
    }

    /// Its definitions of `kind` (every kind when `None`), augmented as it serves them.
    pub fn definitions(&self, kind: Option<DefinitionType>) -> Vec<&Value> {
        let kinds: Vec<&str> = match kind {
            Some(kind) => vec![kind.as_str()],
            None => ["publisher", "loader", "opener", "asset_manager"].to_vec(),
        };
        kinds
            .into_iter()
            .filter_map(|kind| self.reply["definition"][kind].as_array())
            .flatten()
            .collect()
    }

    /// Its definition named `name` (the first, by type order), if it serves one.
    pub fn definition(&self, name: &str) -> Option<&Value> {
        self.definitions(None)
            .into_iter()
            .find(|definition| definition["name"] == name)
    }

    /// The discover reply itself.
    pub fn reply(&self) -> &Value {
        &self.reply
    }

    /// `ftrack.pipeline.host.run` for a whole definition (the client's `run_definition`):
    /// `{pipeline: {host_id, data: definition, engine_type: definition.type}}`.
    pub fn run_definition_event(&self, definition: &Value) -> Event {
        Event::new(topics::HOST_RUN).with_data(json!({
            "pipeline": {
                "host_id": self.id(),
                "data": definition,
                "engine_type": definition["type"],
            },
        }))
    }

    /// `ftrack.pipeline.host.run` for one plugin (the client's `run_plugin`).
    pub fn run_plugin_event(
        &self,
        plugin: &Value,
        plugin_type: &str,
        method: &str,
        engine_type: DefinitionType,
    ) -> Event {
        Event::new(topics::HOST_RUN).with_data(json!({
            "pipeline": {
                "host_id": self.id(),
                "data": {"plugin": plugin, "plugin_type": plugin_type, "method": method},
                "engine_type": engine_type.as_str(),
            },
        }))
    }

    /// `ftrack.pipeline.client.context.change` asking the host to take `context_id`.
    pub fn change_context_event(&self, context_id: &str) -> Event {
        Event::new(topics::CLIENT_CONTEXT_CHANGE).with_data(json!({
            "pipeline": {"host_id": self.id(), "context_id": context_id},
        }))
    }
}

/// Where an option is set: `STEP_TYPE.STEP.STAGE.OPTION`, e.g. `components.main.collector.path`
/// (STEP_TYPE is `contexts`, `components` or `finalizers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionPath {
    /// `contexts`, `components` or `finalizers`.
    pub group: String,
    /// The step's name.
    pub step: String,
    /// The stage's name.
    pub stage: String,
    /// The option.
    pub option: String,
}

impl FromStr for OptionPath {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.splitn(4, '.').collect();
        let [group, step, stage, option] = parts.as_slice() else {
            return Err(format!(
                "{text:?} is not STEP_TYPE.STEP.STAGE.OPTION (e.g. components.main.collector.path)"
            ));
        };
        if !STEP_GROUPS.contains(group) {
            return Err(format!(
                "{text:?}: the step type is {group:?}, not one of {}",
                STEP_GROUPS.join(", ")
            ));
        }
        if [step, stage, option].iter().any(|part| part.is_empty()) {
            return Err(format!(
                "{text:?}: a step, a stage and an option are needed"
            ));
        }
        Ok(OptionPath {
            group: group.to_string(),
            step: step.to_string(),
            stage: stage.to_string(),
            option: option.to_string(),
        })
    }
}

impl std::fmt::Display for OptionPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{}.{}.{}",
            self.group, self.step, self.stage, self.option
        )
    }
}

/// Sets `options[path.option] = value` on every plugin of the stage `path.stage` of the
/// step `path.step` in `definition[path.group]`; how many plugins. An error names what does
/// not exist and what does.
pub fn set_option(
    definition: &mut Value,
    path: &OptionPath,
    value: Value,
) -> Result<usize, String> {
    let steps = definition[&path.group]
        .as_array_mut()
        .ok_or_else(|| format!("the definition has no {}", path.group))?;
    let names = |items: &[Value]| -> String {
        items
            .iter()
            .filter_map(|item| item["name"].as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let known_steps = names(steps);
    let step = steps
        .iter_mut()
        .find(|step| step["name"] == path.step.as_str())
        .ok_or_else(|| {
            format!(
                "{path}: the definition's {} have no step {:?} (it has: {known_steps})",
                path.group, path.step
            )
        })?;
    let stages = step["stages"]
        .as_array_mut()
        .ok_or_else(|| format!("{path}: the step {:?} has no stages", path.step))?;
    let known_stages = names(stages);
    let stage = stages
        .iter_mut()
        .find(|stage| stage["name"] == path.stage.as_str())
        .ok_or_else(|| {
            format!(
                "{path}: the step {:?} has no stage {:?} (it has: {known_stages})",
                path.step, path.stage
            )
        })?;
    let plugins = stage["plugins"]
        .as_array_mut()
        .ok_or_else(|| format!("{path}: the stage {:?} has no plugins", path.stage))?;
    for plugin in plugins.iter_mut() {
        if !plugin["options"].is_object() {
            plugin["options"] = json!({});
        }
        plugin["options"][&path.option] = value.clone();
    }
    Ok(plugins.len())
}

/// Sets `context_id` on every context plugin (every plugin of the `contexts` steps' stages);
/// how many.
pub fn set_context(definition: &mut Value, context_id: &str) -> usize {
    let mut count = 0;
    let stages = definition["contexts"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .filter_map(|step| step["stages"].as_array_mut())
        .flatten();
    for stage in stages {
        for plugin in stage["plugins"].as_array_mut().into_iter().flatten() {
            if !plugin["options"].is_object() {
                plugin["options"] = json!({});
            }
            plugin["options"]["context_id"] = json!(context_id);
            count += 1;
        }
    }
    count
}

/// What a host's answer to a definition run says.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// Every stage succeeded: the finalizers' group results (the framework's return value).
    Done(Value),
    /// A plugin failed, or the host refused: the host's error reply (`message`, and for a
    /// plugin `plugin_name`, `plugin_type`, `plugin_status`, `plugin_message`, `group`,
    /// `step`, `stage`).
    Failed(Value),
}

impl RunOutcome {
    /// Reads the host's reply to `ftrack.pipeline.host.run` for a definition.
    pub fn from_reply(reply: Value) -> RunOutcome {
        if reply.is_array() {
            return RunOutcome::Done(reply);
        }
        if reply["status"] == ERROR_STATUS || !reply.is_object() {
            return RunOutcome::Failed(reply);
        }
        RunOutcome::Done(reply)
    }

    /// The finalizer plugins' results of a run that was done (`{asset_version_id, ...}` for
    /// a publish), in order.
    pub fn finalizer_results(&self) -> Vec<&Value> {
        let RunOutcome::Done(steps) = self else {
            return Vec::new();
        };
        steps
            .as_array()
            .into_iter()
            .flatten()
            .filter(|step| step["type"] == "finalizer")
            .filter_map(|step| step["result"].as_array())
            .flatten()
            .filter(|stage| stage["type"] == "finalizer" || stage["name"] == "finalizer")
            .filter_map(|stage| stage["result"].as_array())
            .flatten()
            .map(|plugin| &plugin["result"])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn publisher() -> Value {
        fixtures::json("pipeline_trace/augmented_file_publisher_definition.json")
    }

    #[test]
    fn options_are_set_on_the_stage_named_and_mistakes_say_what_exists() {
        let mut definition = publisher();
        let path: OptionPath = "components.main.collector.path".parse().unwrap();
        assert_eq!(set_option(&mut definition, &path, json!("/r/a.exr")), Ok(1));
        let plugin = &definition["components"][0]["stages"][0]["plugins"][0];
        assert_eq!(plugin["options"]["path"], "/r/a.exr");
        // The thumbnail step's collector is another.
        assert_ne!(
            definition["components"][1]["stages"][0]["plugins"][0]["options"]["path"],
            "/r/a.exr"
        );

        let wrong: OptionPath = "components.render.collector.path".parse().unwrap();
        let err = set_option(&mut definition, &wrong, json!(1)).unwrap_err();
        assert!(
            err.contains("no step \"render\" (it has: main, thumbnail)"),
            "{err}"
        );
        let wrong: OptionPath = "components.main.gather.path".parse().unwrap();
        let err = set_option(&mut definition, &wrong, json!(1)).unwrap_err();
        assert!(
            err.contains("(it has: collector, validator, exporter)"),
            "{err}"
        );
        for bad in [
            "components.main.path",
            "parts.main.collector.path",
            "contexts..c.x",
        ] {
            assert!(bad.parse::<OptionPath>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_context_reaches_every_context_plugin() {
        let mut definition = publisher();
        assert_eq!(set_context(&mut definition, "task-1"), 1);
        let plugin = &definition["contexts"][0]["stages"][0]["plugins"][0];
        assert_eq!(plugin["options"]["context_id"], "task-1");
    }

    #[test]
    fn a_host_connection_finds_definitions_and_builds_the_frameworks_events() {
        let reply = fixtures::json("pipeline_trace/host_discover_reply.json");
        let host = HostConnection::from_discover_reply(reply).unwrap();
        assert_eq!(host.host_types(), vec!["python"]);
        let definition = host.definition("File Publisher").unwrap().clone();
        assert_eq!(host.definitions(Some(DefinitionType::Publisher)).len(), 1);
        assert!(host.definition("Nope").is_none());
        let event = host.run_definition_event(&definition);
        assert_eq!(event.topic, topics::HOST_RUN);
        assert_eq!(event.data["pipeline"]["engine_type"], "publisher");
        assert_eq!(event.data["pipeline"]["host_id"], host.id());
        assert!(HostConnection::from_discover_reply(json!({"x": 1})).is_none());
    }

    #[test]
    fn run_outcomes_tell_a_failure_from_the_results() {
        let done = RunOutcome::from_reply(json!([
            {"name": "main", "type": "finalizer", "result": [
                {"name": "finalizer", "type": "finalizer", "result": [
                    {"name": "fin", "result": {"asset_version_id": "v1"}}]}]}]));
        assert_eq!(
            done.finalizer_results(),
            vec![&json!({"asset_version_id": "v1"})]
        );
        let failed = RunOutcome::from_reply(json!({"status": "ERROR_STATUS", "message": "no"}));
        assert!(matches!(failed, RunOutcome::Failed(_)));
        assert!(failed.finalizer_results().is_empty());
    }
}
