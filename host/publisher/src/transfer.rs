//! Moving a file's bytes where its location keeps them: streamed, counted for the progress
//! bar, stopped when the publish is cancelled, and complete or gone.
//!
//! * To `ftrack.server` ([`upload`]): the file's MD5 first (the server checks it), then
//!   `get_upload_metadata` for a one-use URL, then a streamed `PUT`, as `ftrack_api`'s
//!   server accessor does.
//! * To a disk location ([`copy`]): into `<target>.part`, then renamed over the target
//!   once every byte is written and the size checked; a copy that fails leaves nothing.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use connect_ftrack_api::Client;
use futures_util::StreamExt;
use md5::{Digest, Md5};
use serde_json::{json, Value};

use crate::{Progress, PublishError};

/// The size of the pieces files are read in.
const CHUNK: usize = 1 << 20;

/// How much of a file a disk copy copies between checks for Ctrl-C and progress.
const COPY_PIECE: u64 = 16 << 20;

/// Whether the publish was asked to stop (Ctrl-C): checked between pieces.
#[derive(Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Asks the publish to stop; it removes what it made.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether it was asked to.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub(crate) fn check(&self) -> Result<(), PublishError> {
        if self.is_cancelled() {
            Err(PublishError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Uploads `path` as the file of component `component_id` in `ftrack.server`.
pub(crate) async fn upload(
    client: &Client,
    http: &reqwest::Client,
    component_id: &str,
    file_name: &str,
    path: &Path,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<(), PublishError> {
    let (checksum, size) = {
        let (owned, cancel) = (path.to_path_buf(), cancel.clone());
        tokio::task::spawn_blocking(move || md5_of(&owned, &cancel))
            .await
            .map_err(|e| PublishError::Transfer(format!("{}: {e}", path.display())))??
    };
    let metadata = client
        .call(vec![json!({
            "action": "get_upload_metadata",
            "component_id": component_id,
            "file_name": file_name,
            "file_size": size,
            "checksum": checksum,
        })])
        .await?
        .remove(0);
    let url = metadata["url"]
        .as_str()
        .ok_or_else(|| PublishError::Transfer(format!("no upload URL in {metadata}")))?;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| PublishError::Transfer(format!("{}: {e}", path.display())))?;
    // The stream counts what it hands to the connection; this side reports it.
    let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let counted = tokio_util::io::ReaderStream::with_capacity(file, CHUNK).map({
        let cancel = cancel.clone();
        move |chunk| {
            if cancel.is_cancelled() {
                return Err(std::io::Error::other("the publish was cancelled"));
            }
            if let Ok(bytes) = &chunk {
                let _ = sent_tx.send(bytes.len() as u64);
            }
            chunk
        }
    });
    let mut request = http
        .put(url)
        .header("Content-Length", size)
        .body(reqwest::Body::wrap_stream(counted));
    if let Some(headers) = metadata["headers"].as_object() {
        for (name, value) in headers {
            if let Some(value) = value.as_str() {
                request = request.header(name.as_str(), value);
            }
        }
    }
    let sending = request.send();
    tokio::pin!(sending);
    let response = loop {
        tokio::select! {
            response = &mut sending => break response,
            Some(bytes) = sent_rx.recv() => progress.advance(bytes),
        }
    };
    while let Ok(bytes) = sent_rx.try_recv() {
        progress.advance(bytes);
    }
    cancel.check()?;
    let response = response
        .map_err(|e| PublishError::Transfer(format!("uploading {}: {e}", path.display())))?;
    if !response.status().is_success() {
        let status = response.status();
        let said = response.text().await.unwrap_or_default();
        return Err(PublishError::Transfer(format!(
            "uploading {}: the server answered {status}: {said}",
            path.display()
        )));
    }
    Ok(())
}

/// The MD5 of `path` as `ftrack_api` sends it (base64), and its size.
fn md5_of(path: &Path, cancel: &Cancel) -> Result<(String, u64), PublishError> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| PublishError::Transfer(format!("{}: {e}", path.display())))?;
    let mut hasher = Md5::new();
    let mut buffer = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        cancel.check()?;
        let read = file
            .read(&mut buffer)
            .map_err(|e| PublishError::Transfer(format!("{}: {e}", path.display())))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
    let digest = hasher.finalize();
    Ok((
        base64::engine::general_purpose::STANDARD.encode(digest),
        size,
    ))
}

/// Copies `source` to `target` (folders made as needed): complete, or nothing at `target`.
pub(crate) fn copy(
    source: &Path,
    target: &Path,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<(), PublishError> {
    let failed = |what: &str, e: std::io::Error| {
        PublishError::Transfer(format!("{what} {}: {e}", target.display()))
    };
    if let Some(folder) = target.parent() {
        std::fs::create_dir_all(folder).map_err(|e| failed("cannot make the folder of", e))?;
    }
    let partial = partial_of(target);
    let outcome = (|| {
        let mut from = std::fs::File::open(source)
            .map_err(|e| PublishError::Transfer(format!("{}: {e}", source.display())))?;
        let expected = from
            .metadata()
            .map_err(|e| PublishError::Transfer(format!("{}: {e}", source.display())))?
            .len();
        let mut to = std::fs::File::create(&partial).map_err(|e| failed("cannot write", e))?;
        // `io::copy` between two files is done by the kernel (copy_file_range, as cp does),
        // without passing the bytes through here; a piece at a time, for progress and Ctrl-C.
        let mut written = 0u64;
        loop {
            cancel.check()?;
            let copied =
                std::io::copy(&mut (&mut from).take(COPY_PIECE), &mut to).map_err(|e| {
                    PublishError::Transfer(format!(
                        "cannot copy {} to {}: {e}",
                        source.display(),
                        target.display()
                    ))
                })?;
            if copied == 0 {
                break;
            }
            written += copied;
            progress.advance(copied);
        }
        to.flush().map_err(|e| failed("cannot write", e))?;
        let on_disk = to.metadata().map_err(|e| failed("cannot check", e))?.len();
        if on_disk != written || written != expected {
            return Err(PublishError::Transfer(format!(
                "{} changed while it was copied, or {} was cut short ({written} of {expected} \
                 bytes)",
                source.display(),
                target.display()
            )));
        }
        std::fs::rename(&partial, target).map_err(|e| failed("cannot finish", e))
    })();
    if outcome.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    outcome
}

/// Where a copy to `target` is written until it is complete.
pub(crate) fn partial_of(target: &Path) -> std::path::PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    target.with_file_name(name)
}

/// A Job's status and message, for the web-playable encoding.
pub(crate) fn job_outcome(job: &Value) -> (String, String) {
    let status = job["status"].as_str().unwrap_or("").to_string();
    let data: Value = job["data"]
        .as_str()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null);
    let message = data["message"].as_str().unwrap_or("").to_string();
    (status, message)
}
