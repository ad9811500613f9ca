//! Serde types for the `data` of ftrack's topics and for the answers to them.
//!
//! Each type reads what ftrack's own clients send and writes what they expect back, with
//! ftrack's field names (`actionIdentifier`, `entityType`). Fields a type does not name are kept
//! in its `extra` map and written back unchanged: hooks add their own fields to action items
//! (`applicationIdentifier`, `host`, ...) and those must reach the launch untouched.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One selected entity, an entry of an action event's `data.selection`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectionEntry {
    /// The entity's type as ftrack names it (`Task`, `Shot`, `AssetVersion`; any case).
    #[serde(rename = "entityType")]
    pub entity_type: String,
    /// The entity's id.
    #[serde(rename = "entityId")]
    pub entity_id: String,
}

/// The `data` of an `ftrack.action.discover` event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionDiscover {
    /// What the user selected; empty for no selection.
    #[serde(default)]
    pub selection: Vec<SelectionEntry>,
}

/// One action a subscriber offers ("Maya 2024" for the selected task).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionItem {
    /// What the user sees; items with the same label are one action with several variants.
    #[serde(default)]
    pub label: String,
    /// Which action this is: `ftrack.action.launch` carries it back.
    #[serde(rename = "actionIdentifier", default)]
    pub action_identifier: String,
    /// Which variant of the action (an application's version), if it has several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// A sentence about the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Every other field, as the subscriber wrote it.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ActionItem {
    /// The variant, or `""` when the item has none.
    pub fn variant(&self) -> &str {
        self.variant.as_deref().unwrap_or("")
    }
}

/// The answer to `ftrack.action.discover`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionItems {
    /// The actions offered, in the order the subscriber wants them shown.
    pub items: Vec<ActionItem>,
}

impl ActionItems {
    /// The items of every answer that has any, in answer order; answers of another shape
    /// (`null`, a hook's other result) are skipped, as Connect skips them.
    pub fn collect<'a>(answers: impl IntoIterator<Item = &'a Value>) -> Vec<ActionItem> {
        answers
            .into_iter()
            .filter_map(|answer| answer.get("items")?.as_array())
            .flatten()
            .filter_map(|item| serde_json::from_value(item.clone()).ok())
            .collect()
    }
}

/// The `data` of an `ftrack.action.launch` event: the chosen item's fields and the selection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionLaunch {
    /// The item the user chose, every field of it.
    #[serde(flatten)]
    pub item: ActionItem,
    /// What the user selected.
    #[serde(default)]
    pub selection: Vec<SelectionEntry>,
}

/// The answer to `ftrack.action.launch`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionReply {
    /// Whether the action ran.
    #[serde(default)]
    pub success: bool,
    /// What to tell the user; usually text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Value>,
}

impl ActionReply {
    /// A reply with a text message.
    pub fn new(success: bool, message: impl Into<String>) -> Self {
        ActionReply {
            success,
            message: Some(Value::String(message.into())),
        }
    }

    /// The message as text (a non-text message as its JSON).
    pub fn message_text(&self) -> Option<String> {
        self.message.as_ref().map(|message| match message {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
    }

    /// Reads `answer` as a reply, when it is one (an object).
    pub fn from_answer(answer: &Value) -> Option<ActionReply> {
        answer
            .is_object()
            .then(|| serde_json::from_value(answer.clone()).ok())
            .flatten()
    }
}

/// How to start an application: `data.command` and `data.options` of
/// `ftrack.connect.application.launch`, which hooks change in place.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchOptions {
    /// The environment, variable name to text.
    #[serde(default)]
    pub env: Map<String, Value>,
    /// The working folder.
    #[serde(default)]
    pub cwd: Option<String>,
}

/// The `data` of `ftrack.connect.application.launch`, as the launcher publishes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationLaunch {
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Its environment and working folder.
    pub options: LaunchOptions,
    /// The application: identifier, path, version, label, variant, ...
    pub application: Value,
    /// The action event's data with its `source`.
    pub context: Value,
    /// The integration being launched (ftrack fills it for integration launches).
    pub integration: IntegrationChanges,
    /// `linux`, `windows` or `darwin`.
    pub platform: String,
}

/// What an integration adds to a launch: a hook's answer to
/// `ftrack.connect.application.launch` is `{"integration": IntegrationChanges}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntegrationChanges {
    /// The integration's name, for messages.
    #[serde(default)]
    pub name: Option<Value>,
    /// Its version.
    #[serde(default)]
    pub version: Option<Value>,
    /// Environment edits: `NAME.append` (the default), `.prepend`, `.set`, `.unset`, `.pop`.
    #[serde(default)]
    pub env: Map<String, Value>,
    /// Arguments appended to the command.
    #[serde(default)]
    pub launch_arguments: Vec<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_keep_the_fields_they_do_not_name() {
        let answer = json!({"items": [{
            "label": "Maya", "actionIdentifier": "launch-maya", "variant": "2024",
            "applicationIdentifier": "maya_2024", "host": "ws1"
        }]});
        let items = ActionItems::collect([&answer, &Value::Null, &json!("text")]);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].variant(), "2024");
        assert_eq!(items[0].extra["applicationIdentifier"], "maya_2024");
        let launch = ActionLaunch {
            item: items[0].clone(),
            selection: vec![SelectionEntry {
                entity_type: "Task".into(),
                entity_id: "1".into(),
            }],
        };
        assert_eq!(
            serde_json::to_value(&launch).unwrap(),
            json!({"label": "Maya", "actionIdentifier": "launch-maya", "variant": "2024",
                   "applicationIdentifier": "maya_2024", "host": "ws1",
                   "selection": [{"entityType": "Task", "entityId": "1"}]})
        );
    }

    #[test]
    fn replies_read_what_hooks_answer() {
        let reply = ActionReply::from_answer(&json!({"success": true, "message": "ok"})).unwrap();
        assert!(reply.success);
        assert_eq!(reply.message_text().as_deref(), Some("ok"));
        let odd = ActionReply::from_answer(&json!({"message": {"n": 1}})).unwrap();
        assert!(!odd.success);
        assert_eq!(odd.message_text().as_deref(), Some(r#"{"n":1}"#));
        assert_eq!(ActionReply::from_answer(&json!(true)), None);
    }
}
