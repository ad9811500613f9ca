//! `connect-ftrack-api`: ftrack's JSON API as a Rust client, for the host and its hooks.
//!
//! Everything an ftrack client does goes through `POST {server}/api` with a batch of
//! operations, authenticated by the `ftrack-user` and `ftrack-api-key` headers; the server
//! answers a list of results in the same order, or one error object for the whole batch
//! (`{"exception", "content"}`, which [`ClientError::Server`] carries). On top of that:
//! [`Client::query`] pages through results (500 at a time, as `ftrack_api` does), writes are
//! single operations or a [`Batch`] committed at once (all or nothing on the server),
//! [`Client::schemas`] keeps the schemas on disk keyed by the server's hash, and entity
//! references and dates are written as ftrack encodes them ([`reference`], [`datetime`]).
//!
//! Requests time out ([`DEFAULT_TIMEOUT`]); a batch that only reads is tried again, with a
//! growing pause, when the connection fails or the server answers 5xx; a batch that writes
//! never is (the server may have applied it).
//!
//! ```no_run
//! use connect_ftrack_api::{reference, Client};
//! use connect_core::ApiKey;
//!
//! # async fn demo() -> Result<(), connect_ftrack_api::ClientError> {
//! let client = Client::new("http://127.0.0.1:8431", "alice", ApiKey::new("..."))?;
//! let schema = &client.query("select id from ProjectSchema").await?[0];
//! let project = client
//!     .create("Project", serde_json::json!({
//!         "name": "demo", "full_name": "Demo",
//!         "project_schema": reference("ProjectSchema", schema["id"].as_str().unwrap()),
//!     }))
//!     .await?;
//! let tasks = client
//!     .query(&format!("select name from Task where project.id is \"{}\"", project["id"].as_str().unwrap()))
//!     .await?;
//! println!("{} tasks", tasks.len());
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::Duration;

use connect_core::ApiKey;
use serde_json::{json, Value};

/// How long one request may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Results per page of [`Client::query`] (what `ftrack_api` asks for).
pub const PAGE_SIZE: u64 = 500;

/// Tries of a batch that only reads.
const READ_ATTEMPTS: u32 = 3;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server refused the batch: its exception name and message, as it sent them.
    #[error("the ftrack server refused: {exception}: {content}")]
    Server {
        /// ftrack's exception name (`ServerError`, `InvalidCredentialsError`, ...).
        exception: String,
        /// Its message.
        content: String,
    },
    /// An answer that is not ftrack's (a proxy's error page, a different service).
    #[error(
        "the server at {url} answered {status} with something other than ftrack's API: {body}"
    )]
    NotFtrack {
        /// The URL called.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The server could not be reached, or the request timed out.
    #[error("cannot reach the ftrack server at {url}: {reason}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The client was given a URL it cannot use.
    #[error("{0:?} is not a server URL (give http://host:port or https://host)")]
    BadUrl(String),
    /// The schema cache could not be written.
    #[error("schema cache {}: {source}", path.display())]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// An entity reference as ftrack writes one in `entity_data`.
pub fn reference(entity_type: &str, id: &str) -> Value {
    json!({"__entity_type__": entity_type, "id": id})
}

/// A value in ftrack's query language, quoted (its backslashes and quotes escaped), for
/// queries made from text that is not the caller's own: `Task where id is {quoted(id)}`.
pub fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A date and time as ftrack encodes it (`iso`: `2026-12-04T10:00:00`).
pub fn datetime(iso: &str) -> Value {
    json!({"__type__": "datetime", "value": iso})
}

/// Whether `server_url` is an ftrack server, as Connect checks before signing in: `GET /`
/// answers 200 with an `FTRACK_VERSION` header; the version.
pub async fn server_version(server_url: &str) -> Result<String, ClientError> {
    let url = server_url.trim_end_matches('/').to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ClientError::BadUrl(url));
    }
    let response = reqwest::Client::builder()
        .timeout(DEFAULT_TIMEOUT)
        .build()
        .map(|client| client.get(&url))
        .map_err(|e| ClientError::Unreachable {
            url: url.clone(),
            reason: e.to_string(),
        })?
        .send()
        .await
        .map_err(|e| ClientError::Unreachable {
            url: url.clone(),
            reason: e.to_string(),
        })?;
    let status = response.status().as_u16();
    match response
        .headers()
        .get("ftrack_version")
        .and_then(|v| v.to_str().ok())
    {
        Some(version) if status == 200 => Ok(version.to_string()),
        _ => Err(ClientError::NotFtrack {
            url,
            status,
            body: "no FTRACK_VERSION header".into(),
        }),
    }
}

/// A signed-in connection to one ftrack server.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    api: String,
    server_url: String,
    user: String,
    key: ApiKey,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server_url", &self.server_url)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the server at `server_url` (its root: `/api` is added), signed in as
    /// `user` with `key`.
    pub fn new(server_url: &str, user: &str, key: ApiKey) -> Result<Client, ClientError> {
        Self::with_timeout(server_url, user, key, DEFAULT_TIMEOUT)
    }

    /// As [`Client::new`], with requests limited to `timeout`.
    pub fn with_timeout(
        server_url: &str,
        user: &str,
        key: ApiKey,
        timeout: Duration,
    ) -> Result<Client, ClientError> {
        let server_url = server_url.trim_end_matches('/').to_string();
        if !(server_url.starts_with("http://") || server_url.starts_with("https://")) {
            return Err(ClientError::BadUrl(server_url));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| ClientError::Unreachable {
                url: server_url.clone(),
                reason: e.to_string(),
            })?;
        Ok(Client {
            http,
            api: format!("{server_url}/api"),
            server_url,
            user: user.to_string(),
            key,
        })
    }

    /// The server's URL.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// The signed-in user.
    pub fn api_user(&self) -> &str {
        &self.user
    }

    /// Sends one batch of operations; their results, in order.
    pub async fn call(&self, operations: Vec<Value>) -> Result<Vec<Value>, ClientError> {
        let reads_only = operations.iter().all(|op| {
            matches!(
                op.get("action").and_then(Value::as_str),
                Some("query" | "query_server_information" | "query_schemas")
            )
        });
        let attempts = if reads_only { READ_ATTEMPTS } else { 1 };
        let mut pause = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match self.send(&operations).await {
                Err(
                    err @ (ClientError::Unreachable { .. }
                    | ClientError::NotFtrack { status: 500.., .. }),
                ) if attempt < attempts => {
                    tracing::debug!("ftrack API call failed ({err}); trying again in {pause:?}");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn send(&self, operations: &[Value]) -> Result<Vec<Value>, ClientError> {
        let unreachable = |e: reqwest::Error| ClientError::Unreachable {
            url: self.api.clone(),
            reason: e.to_string(),
        };
        let response = self
            .http
            .post(&self.api)
            .header("ftrack-user", &self.user)
            .header("ftrack-api-key", self.key.expose())
            .header("ftrack-strict-api", "false")
            .json(&operations)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(unreachable)?;
        match serde_json::from_str::<Value>(&body) {
            Ok(Value::Array(results)) if status < 400 => Ok(results),
            Ok(Value::Object(error)) if error.contains_key("exception") => {
                let text = |key: &str| {
                    error
                        .get(key)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                Err(ClientError::Server {
                    exception: text("exception"),
                    content: text("content"),
                })
            }
            _ => Err(ClientError::NotFtrack {
                url: self.api.clone(),
                status,
                body: body.chars().take(200).collect(),
            }),
        }
    }

    /// Sends one operation; its result.
    async fn one(&self, operation: Value) -> Result<Value, ClientError> {
        self.call(vec![operation])
            .await?
            .pop()
            .ok_or_else(|| ClientError::NotFtrack {
                url: self.api.clone(),
                status: 200,
                body: "an empty list of results".into(),
            })
    }

    /// `query_server_information`: the server's version, schema hash, storage scenario.
    pub async fn server_information(&self) -> Result<Value, ClientError> {
        self.one(json!({"action": "query_server_information"}))
            .await
    }

    /// The server's entity schemas. With `cache_dir`, they are kept there in a file named
    /// after the server's schema hash and read from it while the hash stays the same.
    pub async fn schemas(&self, cache_dir: Option<&Path>) -> Result<Vec<Value>, ClientError> {
        let cache = match cache_dir {
            Some(dir) => {
                let hash = self.server_information().await?["schema_hash"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                (!hash.is_empty() && hash.chars().all(|c| c.is_ascii_hexdigit()))
                    .then(|| dir.join(format!("ftrack_api_schemas_{hash}.json")))
                    .map(|path| (path, hash))
            }
            None => None,
        };
        if let Some((path, _)) = &cache {
            // The file is named after the hash, so a changed set is a different file; one that
            // does not read as a list (torn, edited) is fetched again.
            let cached = std::fs::read_to_string(path)
                .ok()
                .and_then(|text| serde_json::from_str::<Vec<Value>>(&text).ok());
            if let Some(schemas) = cached {
                return Ok(schemas);
            }
        }
        let schemas = match self.one(json!({"action": "query_schemas"})).await? {
            Value::Array(schemas) => schemas,
            other => {
                return Err(ClientError::NotFtrack {
                    url: self.api.clone(),
                    status: 200,
                    body: format!(
                        "schemas that are not a list: {}",
                        other.to_string().chars().take(100).collect::<String>()
                    ),
                })
            }
        };
        if let Some((path, _)) = cache {
            write_atomically(&path, &Value::Array(schemas.clone()).to_string())
                .map_err(|source| ClientError::Cache { path, source })?;
        }
        Ok(schemas)
    }

    /// Every entity `expression` finds: pages of [`PAGE_SIZE`] fetched until the last, unless
    /// the expression pages itself (`offset` or `limit`), which is then sent as it is.
    pub async fn query(&self, expression: &str) -> Result<Vec<Value>, ClientError> {
        let lower = expression.to_ascii_lowercase();
        let pages_itself = lower.contains(" limit ") || lower.contains(" offset ");
        let mut found = Vec::new();
        let mut offset = 0u64;
        loop {
            let text = if pages_itself {
                expression.to_string()
            } else {
                format!("{expression} offset {offset} limit {PAGE_SIZE}")
            };
            let page = self
                .one(json!({"action": "query", "expression": text}))
                .await?;
            if let Some(Value::Array(data)) = page.get("data") {
                found.extend(data.iter().cloned());
            }
            match page
                .pointer("/metadata/next/offset")
                .and_then(Value::as_u64)
            {
                Some(next) if !pages_itself && next > offset => offset = next,
                _ => return Ok(found),
            }
        }
    }

    /// Creates an entity; it as the server stored it.
    pub async fn create(&self, entity_type: &str, data: Value) -> Result<Value, ClientError> {
        let mut batch = self.batch();
        batch.create(entity_type, data);
        Ok(batch.commit().await?.pop().unwrap_or(Value::Null))
    }

    /// Changes an entity (by its primary key values); it as the server stored it.
    pub async fn update(
        &self,
        entity_type: &str,
        key: Vec<Value>,
        data: Value,
    ) -> Result<Value, ClientError> {
        let mut batch = self.batch();
        batch.update(entity_type, key, data);
        Ok(batch.commit().await?.pop().unwrap_or(Value::Null))
    }

    /// Deletes an entity (and, on the server, what it owns).
    pub async fn delete(&self, entity_type: &str, key: Vec<Value>) -> Result<(), ClientError> {
        let mut batch = self.batch();
        batch.delete(entity_type, key);
        batch.commit().await.map(|_| ())
    }

    /// An empty batch of writes, committed together with [`Batch::commit`].
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            client: self,
            operations: Vec::new(),
        }
    }
}

/// Writes sent together: the server keeps all of them or none.
pub struct Batch<'c> {
    client: &'c Client,
    operations: Vec<Value>,
}

impl Batch<'_> {
    /// Adds the creation of an entity (give it an `id` to refer to it later in the batch).
    pub fn create(&mut self, entity_type: &str, mut data: Value) -> &mut Self {
        if let Value::Object(fields) = &mut data {
            fields.insert("__entity_type__".into(), Value::from(entity_type));
        }
        let key = data
            .get("id")
            .map(|id| vec![id.clone()])
            .unwrap_or_default();
        self.operations.push(json!({"action": "create", "entity_type": entity_type, "entity_key": key, "entity_data": data}));
        self
    }

    /// Adds a change of the entity with primary key `key`.
    pub fn update(&mut self, entity_type: &str, key: Vec<Value>, mut data: Value) -> &mut Self {
        if let Value::Object(fields) = &mut data {
            fields.insert("__entity_type__".into(), Value::from(entity_type));
        }
        self.operations.push(json!({"action": "update", "entity_type": entity_type, "entity_key": key, "entity_data": data}));
        self
    }

    /// Adds the deletion of the entity with primary key `key`.
    pub fn delete(&mut self, entity_type: &str, key: Vec<Value>) -> &mut Self {
        self.operations
            .push(json!({"action": "delete", "entity_type": entity_type, "entity_key": key}));
        self
    }

    /// Sends the batch; each operation's `data` (the entity as stored; `true` for a delete).
    pub async fn commit(self) -> Result<Vec<Value>, ClientError> {
        if self.operations.is_empty() {
            return Ok(Vec::new());
        }
        let results = self.client.call(self.operations).await?;
        Ok(results
            .into_iter()
            .map(|mut result| {
                result
                    .get_mut("data")
                    .map(Value::take)
                    .unwrap_or(Value::Null)
            })
            .collect())
    }
}

/// Writes `text` to `path` through a temporary file and a rename: a reader never sees half.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}
