//! Component files of the `ftrack.server` location: uploads through signed URLs, downloads
//! and removals for authenticated users.
//!
//! ftrack's Python client uploads in two steps: `get_upload_metadata` (through `/api`, with the
//! user's key) answers a URL and headers, then a plain `PUT` of the file to that URL, without
//! the user's key. So the URL itself is the permission: it carries a random token, good for
//! one upload of that one component within [`UPLOAD_VALIDITY`]. The body is streamed to a
//! temporary file, its MD5 checked against the `Content-MD5` the client declared, and only
//! then renamed into place: a broken or tampered upload leaves nothing behind.
//!
//! Files live in `components/<first two characters of the id>/<component id>` under the data
//! folder; the resource identifier of a component in `ftrack.server` is its id.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::StatusCode;
use futures_util::StreamExt;
use md5::{Digest, Md5};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::error::ApiError;

/// How long an upload URL stays good.
pub const UPLOAD_VALIDITY: Duration = Duration::from_secs(3600);

/// Upload URLs handed out and not used yet, at most (older ones go first).
const MAX_PENDING_UPLOADS: usize = 10_000;

/// The component files of the server.
pub(crate) struct Files {
    root: PathBuf,
    pending: Mutex<HashMap<String, Upload>>,
}

/// An upload URL's promise: which component, declared how.
struct Upload {
    component_id: String,
    checksum: Option<String>,
    size: Option<u64>,
    expires: Instant,
}

/// Why an upload or download was refused: status and message.
pub(crate) type Refusal = (StatusCode, String);

impl Files {
    /// The files under `data/components` (made private if new).
    pub(crate) fn new(data: &Path) -> std::io::Result<Files> {
        let root = data.join("components");
        std::fs::create_dir_all(root.join("incoming"))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(Files {
            root,
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// `get_upload_metadata`: the URL and headers to `PUT` the file of `component_id` with.
    pub(crate) fn upload_metadata(
        &self,
        server_url: &str,
        component_id: &str,
        checksum: Option<&str>,
        size: Option<u64>,
    ) -> Result<Value, ApiError> {
        if !valid_id(component_id) {
            return Err(ApiError::bad_request(format!(
                "{component_id:?} is not a component id"
            )));
        }
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        pending.retain(|_, upload| upload.expires > now);
        if pending.len() >= MAX_PENDING_UPLOADS {
            return Err(ApiError::bad_request(
                "too many uploads are waiting: use the URLs already handed out",
            ));
        }
        pending.insert(
            token.clone(),
            Upload {
                component_id: component_id.to_string(),
                checksum: checksum.map(str::to_string),
                size,
                expires: now + UPLOAD_VALIDITY,
            },
        );
        let mut headers = json!({"Content-Type": "application/octet-stream"});
        if let Some(checksum) = checksum {
            headers["Content-MD5"] = Value::String(checksum.to_string());
        }
        Ok(json!({
            "url": format!("{server_url}/component/upload/{token}"),
            "headers": headers,
            "component_id": component_id,
        }))
    }

    /// `PUT /component/upload/{token}`: streams `body` into place if the token is good and
    /// the content is what was declared.
    pub(crate) async fn receive(&self, token: &str, body: Body) -> Result<(), Refusal> {
        let upload = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token)
            .filter(|upload| upload.expires > Instant::now())
            .ok_or((
                StatusCode::FORBIDDEN,
                "this upload URL is unknown, used or expired: ask for a new one".to_string(),
            ))?;
        let incoming = self.root.join("incoming").join(token);
        let outcome = self.stream_into(&incoming, &upload, body).await;
        if outcome.is_err() {
            let _ = tokio::fs::remove_file(&incoming).await;
        }
        outcome
    }

    async fn stream_into(
        &self,
        incoming: &Path,
        upload: &Upload,
        body: Body,
    ) -> Result<(), Refusal> {
        let failed = |err: std::io::Error| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot store the file: {err}"),
            )
        };
        let mut file = tokio::fs::File::create(incoming).await.map_err(failed)?;
        let mut digest = Md5::new();
        let mut written: u64 = 0;
        let mut chunks = body.into_data_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| {
                (
                    StatusCode::BAD_REQUEST,
                    format!("the upload broke off: {e}"),
                )
            })?;
            written += chunk.len() as u64;
            if upload.size.is_some_and(|size| written > size) {
                return Err((
                    StatusCode::BAD_REQUEST,
                    format!(
                        "the file is larger than the {} bytes declared",
                        upload.size.unwrap_or(0)
                    ),
                ));
            }
            digest.update(&chunk);
            file.write_all(&chunk).await.map_err(failed)?;
        }
        file.sync_all().await.map_err(failed)?;
        drop(file);
        if let Some(size) = upload.size.filter(|size| *size != written) {
            return Err((
                StatusCode::BAD_REQUEST,
                format!("{written} bytes arrived, {size} were declared"),
            ));
        }
        let sum = base64(&digest.finalize());
        if let Some(expected) = upload.checksum.as_deref().filter(|c| *c != sum) {
            return Err((
                StatusCode::BAD_REQUEST,
                format!("the content's MD5 is {sum}, not the {expected} declared"),
            ));
        }
        let path = self
            .path_of(&upload.component_id)
            .ok_or((StatusCode::BAD_REQUEST, "not a component id".to_string()))?;
        if let Some(folder) = path.parent() {
            tokio::fs::create_dir_all(folder).await.map_err(failed)?;
        }
        tokio::fs::rename(incoming, &path).await.map_err(failed)?;
        tracing::info!("component {} stored ({written} bytes)", upload.component_id);
        Ok(())
    }

    /// Removes the file of `component_id`; whether there was one.
    pub(crate) async fn remove(&self, component_id: &str) -> Result<bool, Refusal> {
        let path = self
            .path_of(component_id)
            .ok_or((StatusCode::BAD_REQUEST, "not a component id".to_string()))?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot remove the file: {err}"),
            )),
        }
    }

    /// The folder where files are put together before they are moved into place.
    pub(crate) fn incoming(&self) -> PathBuf {
        self.root.join("incoming")
    }

    /// Where the file of `component_id` is kept (`None` for a malformed id).
    pub(crate) fn path_of(&self, component_id: &str) -> Option<PathBuf> {
        valid_id(component_id).then(|| self.root.join(&component_id[..2]).join(component_id))
    }
}

/// Ids are uuids (with or without dashes); nothing else may name a file.
fn valid_id(id: &str) -> bool {
    (2..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Standard base64 with padding (what `Content-MD5` holds).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(&Md5::digest(b"")), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn an_expired_upload_url_is_refused_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::new(dir.path()).unwrap();
        let id = "3a372bde-0000-4000-8000-000000000001";
        let metadata = files
            .upload_metadata("http://test", id, None, Some(3))
            .unwrap();
        let url = metadata["url"].as_str().unwrap();
        let token = url.rsplit('/').next().unwrap().to_string();
        // As if UPLOAD_VALIDITY had passed since the URL was handed out.
        files
            .pending
            .lock()
            .unwrap()
            .get_mut(&token)
            .expect("the URL's token is pending")
            .expires = Instant::now();
        let (status, message) = files.receive(&token, Body::from("abc")).await.unwrap_err();
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(message.contains("expired"), "{message}");
        assert!(!files.path_of(id).unwrap().exists(), "no file was stored");
        let incoming = std::fs::read_dir(files.incoming()).unwrap().count();
        assert_eq!(incoming, 0, "nothing was left half-written");
    }

    #[test]
    fn only_ids_name_files() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::new(dir.path()).unwrap();
        assert!(files.path_of("../../etc/passwd").is_none());
        assert!(files.path_of("a/b").is_none());
        assert!(files
            .path_of("3a372bde-05bc-11e4-8908-20c9d081909b")
            .unwrap()
            .ends_with("3a/3a372bde-05bc-11e4-8908-20c9d081909b"));
    }
}
