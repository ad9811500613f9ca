//! What a hook may ask of the ftrack server: `session.query`, `get`, `create`, `update`,
//! `delete` and `commit`, the same for every loader.
//!
//! The loaders (Rhai, native) never talk to a server themselves: the host hands them a
//! [`ServerApi`] (the command line builds one on the ftrack API client when it is signed in)
//! and each plugin gets an [`ApiSession`] over it, which keeps that plugin's writes until it
//! commits them, as `ftrack_api.Session` does: `create`, `update` and `delete` are queued
//! and `commit` sends them to the server as one batch, applied all or nothing.
//!
//! Every call blocks the calling thread until the server answered or the call timed out.
//! Handlers run on threads where blocking is allowed (the event queue, the endpoint's, the
//! loading thread, the server connection's own thread); the implementation runs the call
//! elsewhere and waits for it. The API key stays inside the [`ServerApi`]: nothing here sees
//! it.

use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

/// The server's JSON API, blocking. Implemented by the host on its API client.
pub trait ServerApi: Send + Sync {
    /// Sends one batch of ftrack API operations (`{"action": "create", ...}`); their results
    /// in order, or the error of the whole batch (the server applies all or nothing).
    fn call(&self, operations: Vec<Value>) -> Result<Vec<Value>, ServerApiError>;

    /// Every result of a query expression (`select name from Task where ...`), all pages.
    fn query(&self, expression: &str) -> Result<Vec<Value>, ServerApiError>;

    /// The server's URL.
    fn server_url(&self) -> &str;

    /// The signed-in user.
    fn api_user(&self) -> &str;
}

/// What a hook is told when it calls the server's API and the host has none.
pub const NOT_CONNECTED: &str =
    "this host is not connected to an ftrack server (sign in with `ftrack-connect login`)";

/// Why a call failed: the server's exception and message, or why the server was not reached.
/// Never contains the API key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ServerApiError(pub String);

/// One plugin's session with the server: reads go out at once, writes wait for
/// [`ApiSession::commit`]. Cheap to clone (clones share the pending writes).
#[derive(Clone)]
pub struct ApiSession {
    api: Arc<dyn ServerApi>,
    pending: Arc<Mutex<Vec<Value>>>,
}

impl fmt::Debug for ApiSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiSession")
            .field("server_url", &self.api.server_url())
            .field("api_user", &self.api.api_user())
            .finish_non_exhaustive()
    }
}

/// The most writes a session keeps before it must commit: a hook that creates in a loop
/// without committing fails with a clear message instead of growing without end.
pub const MAX_PENDING_WRITES: usize = 10_000;

impl ApiSession {
    /// A session with nothing pending.
    pub fn new(api: Arc<dyn ServerApi>) -> ApiSession {
        ApiSession {
            api,
            pending: Arc::default(),
        }
    }

    /// The server's URL.
    pub fn server_url(&self) -> &str {
        self.api.server_url()
    }

    /// The signed-in user.
    pub fn api_user(&self) -> &str {
        self.api.api_user()
    }

    /// Every entity the query expression selects, as maps (with `__entity_type__`).
    pub fn query(&self, expression: &str) -> Result<Vec<Value>, ServerApiError> {
        self.api.query(expression)
    }

    /// The entity of `entity_type` with `id`, or `None`.
    pub fn get(&self, entity_type: &str, id: &str) -> Result<Option<Value>, ServerApiError> {
        check_name(entity_type)?;
        let id = serde_json::to_string(id).expect("a string is JSON");
        let found = self.api.query(&format!("{entity_type} where id is {id}"))?;
        Ok(found.into_iter().next())
    }

    /// Queues the creation of an entity; returns it as it will be (its `id` made here when
    /// `data` has none, so that other writes can refer to it before the commit).
    pub fn create(&self, entity_type: &str, data: Value) -> Result<Value, ServerApiError> {
        check_name(entity_type)?;
        let Value::Object(mut data) = data else {
            return Err(ServerApiError(format!(
                "create {entity_type}: the data must be a map"
            )));
        };
        data.entry("id")
            .or_insert_with(|| Value::String(uuid::Uuid::new_v4().to_string()));
        let entity_data = references(&data);
        self.queue(json!({
            "action": "create",
            "entity_type": entity_type,
            "entity_data": entity_data,
        }))?;
        data.insert("__entity_type__".into(), Value::String(entity_type.into()));
        Ok(Value::Object(data))
    }

    /// Queues a change of the entity of `entity_type` with `id`.
    pub fn update(&self, entity_type: &str, id: &str, data: Value) -> Result<(), ServerApiError> {
        check_name(entity_type)?;
        let Value::Object(data) = data else {
            return Err(ServerApiError(format!(
                "update {entity_type}: the data must be a map"
            )));
        };
        self.queue(json!({
            "action": "update",
            "entity_type": entity_type,
            "entity_key": [id],
            "entity_data": references(&data),
        }))
    }

    /// Queues the deletion of the entity of `entity_type` with `id`.
    pub fn delete(&self, entity_type: &str, id: &str) -> Result<(), ServerApiError> {
        check_name(entity_type)?;
        self.queue(json!({
            "action": "delete",
            "entity_type": entity_type,
            "entity_key": [id],
        }))
    }

    /// Sends every queued write as one batch; the server's results, in order. Nothing is
    /// pending afterwards, whether the batch was applied or not (as `ftrack_api` drops a
    /// failed commit's operations only on `session.rollback()`, a hook would otherwise resend
    /// a refused batch forever; here the error says what was dropped). A refused batch wrote
    /// nothing (the server applies all or nothing); after a timeout or a broken connection
    /// the server may have applied it: the error says which happened.
    pub fn commit(&self) -> Result<Vec<Value>, ServerApiError> {
        let operations = std::mem::take(&mut *self.lock());
        if operations.is_empty() {
            return Ok(Vec::new());
        }
        let count = operations.len();
        self.api.call(operations).map_err(|err| {
            ServerApiError(format!(
                "commit of {count} change(s) failed, and the changes are no longer queued: {err}"
            ))
        })
    }

    /// How many writes wait for the commit.
    pub fn pending(&self) -> usize {
        self.lock().len()
    }

    fn queue(&self, operation: Value) -> Result<(), ServerApiError> {
        let mut pending = self.lock();
        if pending.len() >= MAX_PENDING_WRITES {
            return Err(ServerApiError(format!(
                "{MAX_PENDING_WRITES} changes wait for session.commit(): commit them first"
            )));
        }
        pending.push(operation);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Value>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Entity types are names: refusing anything else keeps a hook's argument from changing the
/// meaning of the query [`ApiSession::get`] builds.
fn check_name(entity_type: &str) -> Result<(), ServerApiError> {
    let valid = !entity_type.is_empty()
        && entity_type
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ServerApiError(format!(
            "{entity_type:?} is not an entity type name"
        )))
    }
}

/// Entity data as ftrack sends it: a value that is an entity (a map with `__entity_type__`,
/// as `query` and `create` return them) becomes a reference to it.
fn references(data: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (key, value) in data {
        if key == "__entity_type__" {
            continue;
        }
        let value = match value {
            Value::Object(entity) if entity.contains_key("__entity_type__") => json!({
                "__entity_type__": entity["__entity_type__"],
                "id": entity.get("id").cloned().unwrap_or(Value::Null),
            }),
            other => other.clone(),
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what it is sent and answers each operation with its own data.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<Vec<Value>>>);

    impl ServerApi for Recorder {
        fn call(&self, operations: Vec<Value>) -> Result<Vec<Value>, ServerApiError> {
            self.0.lock().unwrap().push(operations.clone());
            Ok(operations)
        }
        fn query(&self, expression: &str) -> Result<Vec<Value>, ServerApiError> {
            Err(ServerApiError(format!("no server here: {expression}")))
        }
        fn server_url(&self) -> &str {
            "http://127.0.0.1:1"
        }
        fn api_user(&self) -> &str {
            "alice"
        }
    }

    #[test]
    fn writes_wait_for_the_commit_and_go_as_one_batch_with_references() {
        let recorder = Arc::new(Recorder::default());
        let session = ApiSession::new(recorder.clone());
        let task = session.create("Task", json!({"name": "comp"})).unwrap();
        assert_eq!(task["__entity_type__"], "Task");
        let id = task["id"].as_str().unwrap().to_string();
        session
            .create("Note", json!({"content": "hi", "parent": task}))
            .unwrap();
        session
            .update("Task", &id, json!({"name": "comp2"}))
            .unwrap();
        assert!(recorder.0.lock().unwrap().is_empty());
        assert_eq!(session.pending(), 3);
        session.commit().unwrap();
        let batches = recorder.0.lock().unwrap().clone();
        assert_eq!(batches.len(), 1);
        assert_eq!(
            batches[0][1]["entity_data"]["parent"],
            json!({"__entity_type__": "Task", "id": id})
        );
        assert_eq!(batches[0][2]["entity_key"], json!([id]));
        assert_eq!(session.pending(), 0);
        assert_eq!(session.commit().unwrap(), Vec::<Value>::new());
    }

    #[test]
    fn a_type_that_is_not_a_name_is_refused_before_any_query() {
        let session = ApiSession::new(Arc::new(Recorder::default()));
        let err = session
            .get("Task where name like \"%\" or", "x")
            .unwrap_err();
        assert!(err.0.contains("not an entity type name"), "{err}");
        assert!(session
            .get("Task", "x")
            .unwrap_err()
            .0
            .contains("no server here"));
    }
}
