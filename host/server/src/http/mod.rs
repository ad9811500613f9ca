//! The server's HTTP surface: which routes there are, who is calling, and how big a request
//! may be. What a batch of operations does is `api`'s business.
//!
//! Routes (as ftrack's clients use them, see `ftrack-server-protocol.md`):
//! - `GET /`: 200 with the `FTRACK_VERSION` header, which Connect checks before signing in;
//! - `POST /api`: a JSON list of operations, authenticated by the `ftrack-user` and
//!   `ftrack-api-key` headers, answered with a list of results in the same order;
//! - `PUT /component/upload/{token}`: a file, to the URL `get_upload_metadata` handed out;
//! - `GET /component/get`, `/component/thumbnail`, `/component/remove`: a component's file in
//!   `ftrack.server`, served or removed for a signed-in user (the Python client's location);
//! - `GET /socket.io/1/` and its websocket: the event hub (`hub`);
//! - `GET /status`: the hub's figures; `/user/api_credentials`: browser sign-in (`signin`).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;

use crate::api::{Api, FTRACK_VERSION};
use crate::error::ApiError;
use crate::hub::{self, MAX_MESSAGE_BYTES};
use crate::users;

mod signin;

/// The largest request body `/api` reads (a batch of operations; files go through uploads).
pub const MAX_API_BODY: usize = 32 << 20;

/// The routes, on `api`.
pub(crate) fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/api", post(batch))
        .route("/component/upload/{token}", put(upload))
        .route("/component/get", get(download))
        .route("/component/thumbnail", get(download))
        .route("/component/remove", get(remove))
        .route("/socket.io/1/", get(handshake))
        .route("/socket.io/1/websocket/{sid}", get(websocket))
        .route("/status", get(status))
        .route(
            "/user/api_credentials",
            get(signin::page).post(signin::confirm),
        )
        .with_state(api)
}

async fn root() -> Response {
    let mut response = "ftrack-connect local server\n".into_response();
    response
        .headers_mut()
        .insert("FTRACK_VERSION", HeaderValue::from_static(FTRACK_VERSION));
    response
}

/// `POST /api`.
async fn batch(State(api): State<Arc<Api>>, headers: HeaderMap, body: Body) -> Response {
    let strict = header(&headers, "ftrack-strict-api").is_some_and(|v| v == "true");
    let started = Instant::now();
    let outcome = run_batch(api, &headers, body).await;
    let elapsed = started.elapsed();
    match outcome {
        Ok((user, actions, results)) => {
            tracing::info!(
                user = user.as_str(),
                micros = elapsed.as_micros() as u64,
                "api {actions}"
            );
            Json(Value::Array(results)).into_response()
        }
        Err(err) => {
            tracing::warn!(micros = elapsed.as_micros() as u64, "api refused: {err}");
            let status = if strict { err.status } else { StatusCode::OK };
            (status, Json(err.body())).into_response()
        }
    }
}

/// Authenticates, reads and runs one batch; the user, the actions (for the log) and the
/// results.
async fn run_batch(
    api: Arc<Api>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, String, Vec<Value>), ApiError> {
    let user = header(headers, "ftrack-user")
        .unwrap_or_default()
        .to_string();
    let key = header(headers, "ftrack-api-key")
        .unwrap_or_default()
        .to_string();
    let bytes = axum::body::to_bytes(body, MAX_API_BODY)
        .await
        .map_err(|_| ApiError::too_large(MAX_API_BODY))?;
    tokio::task::spawn_blocking(move || {
        let known =
            users::verify(api.db(), &user, &key).map_err(|e| ApiError::internal(e.to_string()))?;
        if !known {
            return Err(ApiError::credentials());
        }
        let operations: Vec<Value> = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(format!("the body is not a JSON list of operations: {e}"))
        })?;
        let actions = operations
            .iter()
            .map(|op| op.get("action").and_then(Value::as_str).unwrap_or("?"))
            .collect::<Vec<_>>()
            .join(",");
        let results = api.run(&user, operations)?;
        Ok((user, actions, results))
    })
    .await
    .map_err(|e| ApiError::internal(format!("the request failed: {e}")))?
}

/// `PUT /component/upload/{token}`: the URL is the permission (see `files`).
async fn upload(State(api): State<Arc<Api>>, Path(token): Path<String>, body: Body) -> Response {
    match api.files().receive(&token, body).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err((status, message)) => {
            tracing::warn!("upload refused: {message}");
            (status, message).into_response()
        }
    }
}

/// `GET /component/get?id=...&username=...&apiKey=...` (the Python client's form; the
/// headers work too): the file of a component in `ftrack.server`.
async fn download(
    State(api): State<Arc<Api>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if caller(&api, &headers, &query).await.is_none() {
        return refused();
    }
    let id = query.get("id").map(String::as_str).unwrap_or_default();
    let Some(path) = api.files().path_of(id) else {
        return (StatusCode::BAD_REQUEST, "not a component id").into_response();
    };
    match tokio::fs::File::open(&path).await {
        Ok(file) => {
            let stream = tokio_util::io::ReaderStream::new(file);
            (
                [("content-type", "application/octet-stream")],
                Body::from_stream(stream),
            )
                .into_response()
        }
        Err(_) => (StatusCode::NOT_FOUND, "no such component file").into_response(),
    }
}

/// `GET /component/remove?id=...&username=...&apiKey=...`: removes the file of a component
/// from `ftrack.server`, as `Location.remove_component` asks before it deletes the
/// `ComponentLocation`. A component without a file (a sequence's container) is answered 200
/// too: there is nothing left to remove.
async fn remove(
    State(api): State<Arc<Api>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(user) = caller(&api, &headers, &query).await else {
        return refused();
    };
    let id = query.get("id").map(String::as_str).unwrap_or_default();
    match api.files().remove(id).await {
        Ok(removed) => {
            if removed {
                tracing::info!("component {id} removed by {user}");
            }
            StatusCode::OK.into_response()
        }
        Err((status, message)) => {
            tracing::warn!("removing component {id:?} failed: {message}");
            (status, message).into_response()
        }
    }
}

/// Who is calling, by the `ftrack-user`/`ftrack-api-key` headers or (as the JavaScript
/// client and downloads do) the `api_user`/`api_key` or `username`/`apiKey` query; `None`
/// unless the key is theirs.
async fn caller(
    api: &Arc<Api>,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Option<String> {
    let from_query =
        |names: [&str; 2]| names.iter().find_map(|n| query.get(*n)).map(String::as_str);
    let user = header(headers, "ftrack-user")
        .or_else(|| from_query(["api_user", "username"]))?
        .to_string();
    let key = header(headers, "ftrack-api-key")
        .or_else(|| from_query(["api_key", "apiKey"]))?
        .to_string();
    let checking = api.clone();
    let (user, known) = tokio::task::spawn_blocking(move || {
        let known = users::verify(checking.db(), &user, &key).unwrap_or(false);
        (user, known)
    })
    .await
    .ok()?;
    known.then_some(user)
}

fn refused() -> Response {
    let err = ApiError::credentials();
    (err.status, Json(err.body())).into_response()
}

/// `GET /socket.io/1/`: a session id for the websocket, `sid:heartbeat:close:transports`.
async fn handshake(
    State(api): State<Arc<Api>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(user) = caller(&api, &headers, &query).await else {
        return refused();
    };
    match api.hub().handshake(&user) {
        Some(sid) => format!("{sid}:60:60:websocket").into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many handshakes are waiting",
        )
            .into_response(),
    }
}

/// `GET /socket.io/1/websocket/{sid}`: the websocket of a handshake's session.
async fn websocket(
    State(api): State<Arc<Api>>,
    Path(sid): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(user) = api.hub().take_handshake(&sid) else {
        return (
            StatusCode::FORBIDDEN,
            "unknown or expired session id: shake hands again",
        )
            .into_response();
    };
    let hub = api.hub().clone();
    // Small buffers: most connections idle (128 KiB each by default made an idle connection
    // cost 146 KiB); they grow for the odd large message.
    upgrade
        .read_buffer_size(8 << 10)
        .write_buffer_size(8 << 10)
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| hub::serve(hub, socket, user))
}

/// `GET /status`: the hub's connections, subscribers and queues, for a signed-in user.
async fn status(
    State(api): State<Arc<Api>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if caller(&api, &headers, &query).await.is_none() {
        return refused();
    }
    Json(json!({"hub": api.hub().status()})).into_response()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
