//! Fixture: a native plugin that calls the ftrack server through its session, for the
//! host's tests (in process and isolated, against a fake server or the real one).
//!
//! Every handler answers `{"result": ...}` when its calls succeeded, or `{"error": "..."}`
//! with the error the session gave it (the server's message, or that the host has no
//! server), so that a test sees the error the plugin got:
//!
//! - `fixture.api.query`, data `{"expression": "select name from Task"}`: `session.query`;
//!   the result is the list of entities;
//! - `fixture.api.get`, data `{"entity_type": "Task", "id": "..."}`: `session.get`; the
//!   entity, or `null`;
//! - `fixture.api.create`, data `{"entity_type": "Note", "data": {...}}`: `session.create`
//!   then `session.commit`; the result is `{"created": entity, "committed": [results]}`;
//! - `fixture.api.update`, data `{"entity_type": "Task", "id": "...", "data": {...}}`:
//!   `session.update` then `session.commit`; the commit's results;
//! - `fixture.api.delete`, data `{"entity_type": "Task", "id": "..."}`: `session.delete` then
//!   `session.commit`; the commit's results;
//! - `fixture.api.stage`, data `{"entity_type": "Note", "data": {...}}`: `session.create`
//!   alone (nothing reaches the server); the entity as it will be;
//! - `fixture.api.commit`: `session.commit`; its results (`[]` when nothing was staged).

use connect_plugin_api::author::{json, Error, IncomingEvent, Session, Value};

/// The string at `key` of the event's data.
fn text(event: &IncomingEvent, key: &str) -> Result<String, String> {
    event.data[key]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("data.{key} must be a string"))
}

/// The value at `key` of the event's data (`{}` when missing).
fn map(event: &IncomingEvent, key: &str) -> Value {
    match &event.data[key] {
        Value::Null => json!({}),
        value => value.clone(),
    }
}

/// Subscribes `topic` to `call`, answering `{"result": ...}` or `{"error": ...}`.
fn answer<F>(session: &Session, topic: &str, call: F) -> Result<(), Error>
where
    F: Fn(&Session, &IncomingEvent) -> Result<Value, String> + Send + Sync + 'static,
{
    let keep = session.clone();
    session.subscribe(&format!("topic={topic}"), move |event| {
        Ok(match call(&keep, event) {
            Ok(result) => json!({"result": result}),
            Err(error) => json!({"error": error}),
        })
    })?;
    Ok(())
}

fn register(session: &Session) -> Result<(), Error> {
    answer(session, "fixture.api.query", |session, event| {
        Ok(Value::Array(session.query(&text(event, "expression")?)?))
    })?;
    answer(session, "fixture.api.get", |session, event| {
        let found = session.get(&text(event, "entity_type")?, &text(event, "id")?)?;
        Ok(found.unwrap_or(Value::Null))
    })?;
    answer(session, "fixture.api.create", |session, event| {
        let created = session.create(&text(event, "entity_type")?, map(event, "data"))?;
        let committed = session.commit()?;
        Ok(json!({"created": created, "committed": committed}))
    })?;
    answer(session, "fixture.api.update", |session, event| {
        let entity_type = text(event, "entity_type")?;
        session.update(&entity_type, &text(event, "id")?, map(event, "data"))?;
        Ok(Value::Array(session.commit()?))
    })?;
    answer(session, "fixture.api.delete", |session, event| {
        session.delete(&text(event, "entity_type")?, &text(event, "id")?)?;
        Ok(Value::Array(session.commit()?))
    })?;
    answer(session, "fixture.api.stage", |session, event| {
        session.create(&text(event, "entity_type")?, map(event, "data"))
    })?;
    answer(session, "fixture.api.commit", |session, _event| {
        Ok(Value::Array(session.commit()?))
    })?;
    Ok(())
}

connect_plugin_api::export_plugin!(register);
