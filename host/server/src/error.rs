//! Errors as ftrack's clients expect them: a JSON object `{"exception", "content",
//! "error_code"}`. With `ftrack-strict-api: true` (the JavaScript client's default) it comes
//! with an HTTP error status; without it (the Python client's default), with 200, and the
//! client raises it from the body.

use axum::http::StatusCode;
use serde_json::{json, Value};

/// An error answered for a whole request (the batch it was in is not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// ftrack's exception name (`ServerError`, `InvalidCredentialsError`, ...).
    pub exception: &'static str,
    /// What went wrong, for a person: what and where.
    pub content: String,
    /// The status in strict mode.
    pub status: StatusCode,
}

impl ApiError {
    /// A request the server cannot serve as sent (bad JSON, bad query, unknown type).
    pub fn bad_request(content: impl Into<String>) -> ApiError {
        ApiError {
            exception: "ServerError",
            content: content.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    /// Unknown user, or a key that is not theirs.
    pub fn credentials() -> ApiError {
        ApiError {
            exception: "InvalidCredentialsError",
            content: "The supplied API key is not valid for this user (check ftrack-user and \
                      ftrack-api-key)."
                .into(),
            status: StatusCode::UNAUTHORIZED,
        }
    }

    /// Something failed on the server's side.
    pub fn internal(content: impl Into<String>) -> ApiError {
        ApiError {
            exception: "ServerError",
            content: content.into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A body over the size limit.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError {
            exception: "ServerError",
            content: format!("the request body is larger than {} MiB", limit >> 20),
            status: StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    /// The body ftrack's clients read.
    pub fn body(&self) -> Value {
        json!({"exception": self.exception, "content": self.content, "error_code": null})
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.exception, self.content)
    }
}

impl std::error::Error for ApiError {}
