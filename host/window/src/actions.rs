//! The Actions tab's data: what the plugins offer for the picked context, and launching one.
//!
//! - `POST /api/actions/discover` with `{"selection": [{entityType, entityId}]}`: publishes
//!   `ftrack.action.discover` in the host, as the ftrack web page does through the server, and
//!   answers `{"groups": [{label, items: [...]}]}`, grouped as Connect groups them (one entry
//!   per label; its items are the variants);
//! - `POST /api/actions/launch` with `{"item": {...}, "selection": [...]}`: publishes
//!   `ftrack.action.launch` with the item's every field and the selection, and answers
//!   `{"replies": [{success, message}]}`.
//!
//! The grouping and the events are the host's ([`WindowHost::actions`],
//! [`WindowHost::launch`]), so the window and `ftrack-connect actions` cannot disagree.

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{blocking_result, Failure};
use crate::App;

/// How many entities a selection may hold.
const SELECTION_LIMIT: usize = 100;

/// A selection as the page sends it: checked for shape, so a hook never sees a malformed one.
fn checked_selection(selection: &[Value]) -> Result<Vec<Value>, Failure> {
    if selection.len() > SELECTION_LIMIT {
        return Err(Failure::bad_request("too many selected entities"));
    }
    selection
        .iter()
        .map(|entry| {
            let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_string);
            match (text("entityType"), text("entityId")) {
                (Some(kind), Some(id)) if !kind.is_empty() && !id.is_empty() => {
                    Ok(json!({ "entityType": kind, "entityId": id }))
                }
                _ => Err(Failure::bad_request(
                    "a selected entity needs an entityType and an entityId",
                )),
            }
        })
        .collect()
}

/// `POST /api/actions/discover`'s body.
#[derive(Debug, Deserialize)]
pub(crate) struct Discover {
    #[serde(default)]
    selection: Vec<Value>,
}

pub(crate) async fn discover(State(app): State<App>, Json(asked): Json<Discover>) -> Response {
    blocking_result(app.host.clone(), move |host| {
        let selection = checked_selection(&asked.selection)?;
        Ok(json!({ "groups": host.actions(&selection) }))
    })
    .await
}

/// `POST /api/actions/launch`'s body.
#[derive(Debug, Deserialize)]
pub(crate) struct Launch {
    item: Value,
    #[serde(default)]
    selection: Vec<Value>,
}

pub(crate) async fn launch(State(app): State<App>, Json(asked): Json<Launch>) -> Response {
    blocking_result(app.host.clone(), move |host| {
        let selection = checked_selection(&asked.selection)?;
        let identifier = asked.item.get("actionIdentifier").and_then(Value::as_str);
        if !asked.item.is_object() || identifier.is_none_or(str::is_empty) {
            return Err(Failure::bad_request("an action needs its actionIdentifier"));
        }
        tracing::info!(
            "window: launching {:?} for {} selected",
            identifier.unwrap_or_default(),
            selection.len()
        );
        Ok(json!({ "replies": host.launch(asked.item, selection) }))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_keeps_only_what_hooks_read() {
        let checked = checked_selection(&[json!({
            "entityType": "task", "entityId": "t1", "cookie": "x"
        })])
        .unwrap();
        assert_eq!(checked, [json!({"entityType": "task", "entityId": "t1"})]);
        assert!(checked_selection(&[json!({"entityType": "task"})]).is_err());
        assert!(checked_selection(&[json!("task:t1")]).is_err());
    }
}
