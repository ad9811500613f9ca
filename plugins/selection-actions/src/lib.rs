//! A native plugin offering an action, the template for action plugins.
//!
//! On `ftrack.action.discover` it offers "Summarise selection" when something is selected; on
//! `ftrack.action.launch` for its identifier it answers `{success, message}` with a count of
//! the selected entities by type (what a pipeline TD checks before a batch operation).
//!
//! Results are written with `value!` (`json!`'s syntax): the form they cross to the host in,
//! string literals borrowed from the library rather than copied.

use std::collections::BTreeMap;

use connect_plugin_api::author::{Error, IncomingEvent, Session, Value};
use connect_plugin_api::value::FlatValue;
use connect_plugin_api::{value, Event};
use serde::Deserialize;

const IDENTIFIER: &str = "native-summarise-selection";

/// One entry of `data.selection`, as ftrack UIs send it.
#[derive(Deserialize)]
struct Selected {
    #[serde(rename = "entityType")]
    entity_type: String,
}

fn selection(event: &Event) -> Result<Vec<Selected>, Error> {
    match event.data.get("selection") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(value) => Ok(Vec::<Selected>::deserialize(value)?),
    }
}

fn discover(event: &mut IncomingEvent) -> Result<FlatValue, Error> {
    if selection(event)?.is_empty() {
        return Ok(value!(null));
    }
    Ok(value!({"items": [{
        "label": "Summarise selection",
        "actionIdentifier": IDENTIFIER,
        "description": "Counts the selected entities by type",
        "icon": "default",
    }]}))
}

fn launch(event: &mut IncomingEvent) -> Result<FlatValue, Error> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for entity in selection(event)? {
        *counts.entry(entity.entity_type).or_default() += 1;
    }
    if counts.is_empty() {
        return Ok(value!({"success": false, "message": "Nothing is selected."}));
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect();
    Ok(value!({"success": true, "message": format!("Selected: {}", parts.join(", "))}))
}

fn register(session: &Session) -> Result<(), Error> {
    session.subscribe("topic=ftrack.action.discover", discover)?;
    session.subscribe(
        &format!("topic=ftrack.action.launch and data.actionIdentifier={IDENTIFIER}"),
        launch,
    )?;
    Ok(())
}

connect_plugin_api::export_plugin!(register);
