//! The ftrack server's API on the `session` scripts see: `query`, `get`, `create`, `update`,
//! `delete` and `commit`, over the plugin's [`ApiSession`] (reads go out at once, writes wait
//! for the commit). Values cross as JSON (`convert.rs`); a call that fails is a runtime error
//! of the script, which Rhai places at the call (file, line and column in the host's log).

use super::*;

/// A plugin's session with the server, shared by its hook files: made by the first hook
/// that registers, from the `SessionInfo` it is given; `None` inside when the host is not
/// signed in.
#[derive(Clone, Default)]
pub(crate) struct PluginApi(Arc<OnceLock<Option<ApiSession>>>);

impl PluginApi {
    /// The plugin's session with the server of `info`, made on the first call.
    pub(crate) fn session(&self, info: &SessionInfo) -> Option<ApiSession> {
        self.0
            .get_or_init(|| info.api.clone().map(ApiSession::new))
            .clone()
    }
}

/// Why a server call fails when the host has no server to call.
pub(crate) use connect_plugins::NOT_CONNECTED;

/// The error of the server call `call` (`session.query`): the server's message.
fn server_error<T>(call: &str, err: ServerApiError) -> RhaiResult<T> {
    runtime_error(format!("{call}: {err}"))
}

/// The data a script passes to `create` or `update`, as JSON.
fn data_to_json(call: &str, data: RhaiMap) -> RhaiResult<Value> {
    to_json(&Dynamic::from_map(data)).or_else(|e| {
        runtime_error(format!(
            "{call}: the data is not JSON: {}",
            e.describe("data")
        ))
    })
}

/// The entity type and id of an entity as `query`, `get` and `create` return it.
fn entity_key(call: &str, entity: &RhaiMap) -> RhaiResult<(String, String)> {
    let text = |key: &str| {
        entity
            .get(key)
            .and_then(|value| value.clone().into_immutable_string().ok())
    };
    match (text("__entity_type__"), text("id")) {
        (Some(entity_type), Some(id)) => Ok((entity_type.to_string(), id.to_string())),
        _ => runtime_error(format!(
            "{call}: the entity must be a map with the text keys __entity_type__ and id, as \
             session.query, session.get and session.create return them"
        )),
    }
}

impl ScriptSession {
    /// The plugin's session with the server, or the error of `call` without one.
    fn server(&self, call: &str) -> RhaiResult<&ApiSession> {
        match &self.api {
            Some(api) => Ok(api),
            None => runtime_error(format!("{call}: {NOT_CONNECTED}")),
        }
    }

    /// `session.query(expression)`: every entity selected, as maps.
    pub(crate) fn query(&self, expression: &str) -> RhaiResult<Array> {
        const CALL: &str = "session.query";
        match self.server(CALL)?.query(expression) {
            Ok(found) => Ok(found.iter().map(to_dynamic).collect()),
            Err(err) => server_error(CALL, err),
        }
    }

    /// `session.get(type, id)`: the entity as a map, or `()` when there is none.
    pub(crate) fn get(&self, entity_type: &str, id: &str) -> RhaiResult<Dynamic> {
        const CALL: &str = "session.get";
        match self.server(CALL)?.get(entity_type, id) {
            Ok(found) => Ok(found.as_ref().map_or(Dynamic::UNIT, to_dynamic)),
            Err(err) => server_error(CALL, err),
        }
    }

    /// `session.create(type, data)`: queues the creation; the entity as it will be, id
    /// included.
    pub(crate) fn create(&self, entity_type: &str, data: RhaiMap) -> RhaiResult<Dynamic> {
        const CALL: &str = "session.create";
        let api = self.server(CALL)?;
        let data = data_to_json(CALL, data)?;
        match api.create(entity_type, data) {
            Ok(entity) => Ok(to_dynamic(&entity)),
            Err(err) => server_error(CALL, err),
        }
    }

    /// `session.update(type, id, data)`: queues the change.
    pub(crate) fn update(&self, entity_type: &str, id: &str, data: RhaiMap) -> RhaiResult<()> {
        const CALL: &str = "session.update";
        let api = self.server(CALL)?;
        let data = data_to_json(CALL, data)?;
        api.update(entity_type, id, data)
            .or_else(|err| server_error(CALL, err))
    }

    /// `session.update(entity, data)`: queues the change of an entity the script got.
    pub(crate) fn update_entity(&self, entity: &RhaiMap, data: RhaiMap) -> RhaiResult<()> {
        self.server("session.update")?;
        let (entity_type, id) = entity_key("session.update", entity)?;
        self.update(&entity_type, &id, data)
    }

    /// `session.delete(type, id)`: queues the deletion.
    pub(crate) fn delete(&self, entity_type: &str, id: &str) -> RhaiResult<()> {
        const CALL: &str = "session.delete";
        self.server(CALL)?
            .delete(entity_type, id)
            .or_else(|err| server_error(CALL, err))
    }

    /// `session.delete(entity)`: queues the deletion of an entity the script got.
    pub(crate) fn delete_entity(&self, entity: &RhaiMap) -> RhaiResult<()> {
        self.server("session.delete")?;
        let (entity_type, id) = entity_key("session.delete", entity)?;
        self.delete(&entity_type, &id)
    }

    /// `session.commit()`: sends the queued writes as one batch; the server's results.
    pub(crate) fn commit(&self) -> RhaiResult<Array> {
        const CALL: &str = "session.commit";
        match self.server(CALL)?.commit() {
            Ok(results) => Ok(results.iter().map(to_dynamic).collect()),
            Err(err) => server_error(CALL, err),
        }
    }
}

/// Registers the server calls on the `Session` type. The session is taken by value, as the
/// hub is (`engine.rs`): a handler's closure usually captures the very `session` it calls,
/// and a call that waits for the server must not hold the captured variable locked meanwhile
/// (another thread may be running the same closure).
pub(crate) fn register_server_api(engine: &mut ApiModule<'_>) {
    engine
        .register_fn("query", |s: ScriptSession, expression: &str| {
            s.query(expression)
        })
        .register_fn("get", |s: ScriptSession, entity_type: &str, id: &str| {
            s.get(entity_type, id)
        })
        .register_fn(
            "create",
            |s: ScriptSession, entity_type: &str, data: RhaiMap| s.create(entity_type, data),
        )
        .register_fn(
            "update",
            |s: ScriptSession, entity_type: &str, id: &str, data: RhaiMap| {
                s.update(entity_type, id, data)
            },
        )
        .register_fn(
            "update",
            |s: ScriptSession, entity: RhaiMap, data: RhaiMap| s.update_entity(&entity, data),
        )
        .register_fn("delete", |s: ScriptSession, entity_type: &str, id: &str| {
            s.delete(entity_type, id)
        })
        .register_fn("delete", |s: ScriptSession, entity: RhaiMap| {
            s.delete_entity(&entity)
        })
        .register_fn("commit", |s: ScriptSession| s.commit());
}
