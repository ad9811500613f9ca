//! The server's HTTP surface: which routes there are, who is calling, and how big a request
//! may be. What a batch of operations does is `api`'s business.
//!
//! Routes (as ftrack's clients use them, see `ftrack-server-protocol.md`):
//! - `GET /`: 200 with the `FTRACK_VERSION` header, which Connect checks before signing in;
//! - `POST /api`: a JSON list of operations, authenticated by the `ftrack-user` and
//!   `ftrack-api-key` headers, answered with a list of results in the same order.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use crate::api::Api;
use crate::error::ApiError;
use crate::users;

/// The largest request body `/api` reads (a batch of operations; files go through uploads).
pub const MAX_API_BODY: usize = 32 << 20;

/// The version this server reports (`FTRACK_VERSION`, `query_server_information`): a real
/// ftrack server version the clients accept, so no client takes it for an old server.
pub const FTRACK_VERSION: &str = "4.13.0";

/// The routes, on `api`.
pub(crate) fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/api", post(batch))
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
    let user = header(headers, "ftrack-user").unwrap_or_default().to_string();
    let key = header(headers, "ftrack-api-key")
        .unwrap_or_default()
        .to_string();
    let bytes = axum::body::to_bytes(body, MAX_API_BODY)
        .await
        .map_err(|_| ApiError::too_large(MAX_API_BODY))?;
    tokio::task::spawn_blocking(move || {
        let known = users::verify(api.db(), &user, &key)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        if !known {
            return Err(ApiError::credentials());
        }
        let operations: Vec<Value> = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(format!(
                "the body is not a JSON list of operations: {e}"
            ))
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

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
