//! A pipeline host as a client knows it ([`HostConnection`], from its discover reply), and
//! the framework's events a client sends it.

use connect_event::Event;
use serde_json::{json, Value};

use crate::definition::DefinitionType;
use crate::host::host_types_of;
use crate::topics;

/// `ftrack.pipeline.host.discover` (data `{}`): every host replies with itself.
pub fn discover_hosts_event() -> Event {
    Event::new(topics::HOST_DISCOVER).with_data(json!({}))
}

/// Whether `definition` is offered in a context whose identifiers are `context` (the
/// framework's `HostConnection.definitions`): the context's entity type, its type's name and
/// its name, lower-cased (`["task", "compositing", "comp"]`). A definition without
/// `discoverable` is offered everywhere; otherwise one of its entries, lower-cased, must be
/// among the identifiers.
pub fn discoverable(definition: &Value, context: &[String]) -> bool {
    match definition["discoverable"].as_array() {
        None => true,
        Some(entries) if entries.is_empty() => true,
        Some(entries) => entries
            .iter()
            .filter_map(Value::as_str)
            .any(|entry| context.iter().any(|id| *id == entry.to_lowercase())),
    }
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
        let kinds: Vec<DefinitionType> = match kind {
            Some(kind) => vec![kind],
            None => DefinitionType::ALL.to_vec(),
        };
        kinds
            .into_iter()
            .filter_map(|kind| self.reply["definition"][kind.as_str()].as_array())
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

    /// `ftrack.pipeline.client.launch` asking the host's application to open the client
    /// `name` (`publisher`, `loader`...), from `source` (who asks), as the framework's
    /// `HostConnection.launch_client`.
    pub fn launch_client_event(&self, name: &str, source: Option<&str>) -> Event {
        Event::new(topics::CLIENT_LAUNCH).with_data(json!({
            "pipeline": {"host_id": self.id(), "name": name, "source": source},
        }))
    }

    /// `ftrack.pipeline.client.context.change` asking the host to take `context_id`.
    pub fn change_context_event(&self, context_id: &str) -> Event {
        Event::new(topics::CLIENT_CONTEXT_CHANGE).with_data(json!({
            "pipeline": {"host_id": self.id(), "context_id": context_id},
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

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
    fn definitions_are_offered_where_they_are_discoverable() {
        let context = ["task".to_string(), "compositing".into(), "comp".into()];
        assert!(discoverable(&json!({"name": "any"}), &context));
        assert!(discoverable(&json!({"discoverable": []}), &context));
        assert!(discoverable(
            &json!({"discoverable": ["Compositing"]}),
            &context
        ));
        assert!(!discoverable(
            &json!({"discoverable": ["animation"]}),
            &context
        ));
    }
}
