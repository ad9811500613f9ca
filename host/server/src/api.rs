//! A batch of operations, as `POST /api` carries it: each operation's `action` names what to
//! do; results come back in order. A batch that writes is one transaction: any failing
//! operation leaves nothing of the batch behind.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::db::{Database, DbError};
use crate::error::ApiError;
use crate::http::FTRACK_VERSION;

/// What serves `/api`.
pub struct Api {
    db: Database,
    #[allow(dead_code)]
    data: PathBuf,
}

impl Api {
    /// The API over `db`, with component files under `data`.
    pub fn new(db: Database, data: PathBuf) -> Result<Api, DbError> {
        Ok(Api { db, data })
    }

    /// The database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Runs a batch for `user`.
    pub fn run(&self, _user: &str, operations: Vec<Value>) -> Result<Vec<Value>, ApiError> {
        operations
            .iter()
            .map(|operation| {
                let action = operation.get("action").and_then(Value::as_str);
                match action {
                    Some("query_server_information") => Ok(json!({
                        "version": FTRACK_VERSION,
                        "storage_scenario": {"scenario": "ftrack.automatic", "data": {}},
                        "is_timezone_support_enabled": true,
                    })),
                    Some(other) => Err(ApiError::bad_request(format!(
                        "Invalid action {other:?}"
                    ))),
                    None => Err(ApiError::bad_request(
                        "an operation without an \"action\"".to_string(),
                    )),
                }
            })
            .collect()
    }
}
