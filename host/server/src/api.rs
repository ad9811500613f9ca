//! A batch of operations, as `POST /api` carries it: each operation's `action` names what to
//! do; results come back in order. A batch is one transaction: if any operation fails, none
//! of the batch is kept, and the client gets that operation's error.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

use crate::encode::{EncodeJob, Encoder};
use crate::error::ApiError;
use crate::files::Files;
use crate::hub::Hub;
use crate::signin::SignIns;
use crate::store::{self, Database, DbError, Store};

/// The version this server reports (`FTRACK_VERSION` on `GET /`, `query_server_information`):
/// a real ftrack server version the clients accept, so no client takes it for an old server.
pub const FTRACK_VERSION: &str = "4.13.0";

/// What serves `/api`.
pub struct Api {
    db: Arc<Database>,
    /// The component files of the `ftrack.server` location.
    files: Arc<Files>,
    /// Makes media web-playable (`encode_media`).
    encoder: Encoder,
    /// The event hub.
    hub: Arc<Hub>,
    /// Browser sign-in pages waiting for their confirmation.
    sign_ins: SignIns,
    /// The address the server listens on.
    address: String,
    /// The server's URL as clients reach it, for URLs it hands out.
    url: String,
    /// API users known to have their `User` entity.
    users_with_entity: Mutex<HashSet<String>>,
}

impl Api {
    /// The API over `db`, with component files under `data`, reached by clients at `url`:
    /// makes the indexes the schema set needs, and seeds a new database with what a fresh
    /// ftrack site has.
    pub fn new(db: Database, data: PathBuf, url: String) -> Result<Api, DbError> {
        db.prepare()?;
        let files = Files::new(&data).map_err(|source| DbError::Folder { path: data, source })?;
        let (db, files) = (Arc::new(db), Arc::new(files));
        let encoder = Encoder::start(db.clone(), files.clone(), url.clone());
        Ok(Api {
            db,
            files,
            encoder,
            hub: Arc::new(Hub::new()),
            sign_ins: SignIns::default(),
            address: url.trim_start_matches("http://").to_string(),
            url,
            users_with_entity: Mutex::new(HashSet::new()),
        })
    }

    /// Browser sign-ins in progress.
    pub(crate) fn sign_ins(&self) -> &SignIns {
        &self.sign_ins
    }

    /// `HOST:PORT` the server listens on.
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// The event hub.
    pub(crate) fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The component files.
    pub(crate) fn files(&self) -> &Files {
        &self.files
    }

    /// The database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Runs a batch for `user`, all or nothing.
    pub fn run(&self, user: &str, operations: Vec<Value>) -> Result<Vec<Value>, ApiError> {
        self.ensure_user_entity(user)?;
        self.db.transaction(&self.url, |store| {
            operations
                .into_iter()
                .enumerate()
                .map(|(number, operation)| {
                    self.operation(store, user, operation).map_err(|mut err| {
                        if number > 0 {
                            err.content = format!("operation {}: {}", number + 1, err.content);
                        }
                        err
                    })
                })
                .collect()
        })
    }

    /// Gives the API user `username` a `User` entity (clients look themselves up by user
    /// name), the first time they call.
    fn ensure_user_entity(&self, username: &str) -> Result<(), ApiError> {
        let mut known = self
            .users_with_entity
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if known.contains(username) {
            return Ok(());
        }
        let quoted = serde_json::to_string(username).unwrap_or_default();
        let query = crate::query::parse(&format!("select id from User where username is {quoted}"))
            .map_err(|e| ApiError::internal(e.to_string()))?;
        self.db.transaction(&self.url, |store| {
            if store.query(&query)?.data.is_empty() {
                let user = json!({"username": username, "first_name": username, "is_active": true});
                store.create("User", user.as_object().expect("an object"))?;
            }
            Ok::<_, ApiError>(())
        })?;
        known.insert(username.to_string());
        Ok(())
    }

    fn operation(
        &self,
        store: &Store<'_>,
        _user: &str,
        operation: Value,
    ) -> Result<Value, ApiError> {
        let Value::Object(operation) = operation else {
            return Err(ApiError::bad_request(format!(
                "an operation must be a JSON object, not {operation}"
            )));
        };
        let action = operation
            .get("action")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request("an operation without an \"action\""))?;
        match action {
            "query_server_information" => Ok(json!({
                "version": FTRACK_VERSION,
                "schema_hash": store::schemas().hash(),
                "storage_scenario": {"scenario": "ftrack.automatic", "data": {}},
                "is_timezone_support_enabled": true,
            })),
            "query_schemas" => Ok(store::schemas().to_json()),
            "query" => {
                let expression = text(&operation, "expression")?;
                let query = crate::query::parse(expression).map_err(|err| {
                    ApiError::bad_request(format!("cannot parse the query {expression:?}: {err}"))
                })?;
                let page = store.query(&query)?;
                Ok(json!({
                    "action": "query",
                    "data": page.data,
                    "metadata": {"next": {"offset": page.next}},
                }))
            }
            "create" => {
                let entity_type = text(&operation, "entity_type")?;
                let data = store.create(entity_type, object(&operation, "entity_data")?)?;
                Ok(json!({"action": "create", "data": data}))
            }
            "update" => {
                let entity_type = text(&operation, "entity_type")?;
                let key = entity_key(&operation)?;
                let data = store.update(entity_type, key, object(&operation, "entity_data")?)?;
                Ok(json!({"action": "update", "data": data}))
            }
            "delete" => {
                let entity_type = text(&operation, "entity_type")?;
                store.delete(entity_type, entity_key(&operation)?)?;
                Ok(json!({"action": "delete", "data": true}))
            }
            "get_upload_metadata" => {
                let component = text(&operation, "component_id")?;
                let checksum = operation.get("checksum").and_then(Value::as_str);
                let size = operation.get("file_size").and_then(Value::as_u64);
                self.files
                    .upload_metadata(&self.url, component, checksum, size)
            }
            "encode_media" => {
                let component = text(&operation, "component_id")?;
                let version = operation.get("version_id").and_then(Value::as_str);
                if !self.files.path_of(component).is_some_and(|p| p.is_file()) {
                    return Err(ApiError::bad_request(format!(
                        "component {component:?} has no file in ftrack.server: upload it first"
                    )));
                }
                let data = json!({
                    "source_component_id": component,
                    "keep_original": operation.get("keep_original").cloned().unwrap_or(Value::Null),
                    "output": [],
                });
                let job = json!({"status": "queued", "data": data.to_string()});
                let job = store.create("Job", job.as_object().expect("an object"))?;
                let job_id = job["id"].as_str().unwrap_or_default().to_string();
                // The encoder waits for this batch to commit: it needs the database too.
                self.encoder.queue(EncodeJob {
                    job_id: job_id.clone(),
                    source_component_id: component.to_string(),
                    version_id: version.map(str::to_string),
                    // ftrack's client sends true or false ("auto" is settled before).
                    keep_original: operation.get("keep_original") != Some(&Value::Bool(false)),
                })?;
                Ok(json!({"job_id": job_id}))
            }
            other => Err(ApiError::bad_request(format!(
                "Invalid action {other:?}: this server knows query_server_information, \
                 query_schemas, query, create, update, delete, get_upload_metadata, encode_media"
            ))),
        }
    }
}

fn text<'a>(operation: &'a Map<String, Value>, key: &str) -> Result<&'a str, ApiError> {
    operation
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request(format!("the operation has no text {key:?}")))
}

fn object<'a>(
    operation: &'a Map<String, Value>,
    key: &str,
) -> Result<&'a Map<String, Value>, ApiError> {
    operation
        .get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request(format!("the operation has no object {key:?}")))
}

fn entity_key(operation: &Map<String, Value>) -> Result<&[Value], ApiError> {
    operation
        .get("entity_key")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| ApiError::bad_request("the operation has no \"entity_key\" list"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> (tempfile::TempDir, Api) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let api = Api::new(db, dir.path().to_path_buf(), "http://test".into()).unwrap();
        (dir, api)
    }

    fn operations(list: Value) -> Vec<Value> {
        match list {
            Value::Array(operations) => operations,
            other => panic!("not a list: {other}"),
        }
    }

    #[test]
    fn a_batch_is_kept_whole_or_not_at_all_and_its_error_names_the_operation() {
        let (_dir, api) = api();
        let found = api
            .run(
                "alice",
                operations(json!([{"action": "query", "expression": "ProjectSchema"}])),
            )
            .unwrap();
        let schema = &found[0]["data"][0];
        let project = json!({"name": "kept?", "full_name": "K",
                             "project_schema": {"__entity_type__": "ProjectSchema", "id": schema["id"]}});
        let err = api
            .run(
                "alice",
                operations(json!([
                    {"action": "create", "entity_type": "Project", "entity_data": project},
                    {"action": "create", "entity_type": "Shot", "entity_data": {"name": 1}},
                ])),
            )
            .unwrap_err();
        assert!(err.content.starts_with("operation 2: "), "{}", err.content);
        let left = api
            .run(
                "alice",
                operations(json!([
                    {"action": "query", "expression": "Project where name is \"kept?\""},
                    {"action": "query", "expression": "select username from User"},
                ])),
            )
            .unwrap();
        assert_eq!(left[0]["data"], json!([]), "the first create went too");
        assert_eq!(
            left[1]["data"][0]["username"], "alice",
            "the caller got a User entity"
        );
        let unknown = api
            .run("alice", operations(json!([{"action": "frobnicate"}])))
            .unwrap_err();
        assert!(
            unknown.content.contains("frobnicate"),
            "{}",
            unknown.content
        );
    }
}
