//! The Publish tab's data: files dropped in the browser, published as Connect's publisher
//! publishes them.
//!
//! A browser hands the page a dropped file's bytes, never its path, so the files are
//! uploaded to the host first, into a *batch* folder of the window's own (loopback, so about
//! as fast as a copy), and published from there; the batch is deleted when the publish ends,
//! whatever its outcome. The steps:
//!
//! - `POST /api/publish/group` with `{"names": [...]}`: the components the names make, as the
//!   publisher's drop zone groups them (`[{identifier, name, kind, members, files}]`: a
//!   sequence is one component), before anything is uploaded;
//! - `GET /api/publish/assets?context=ID` (`{"assets": [{id, name, type}]}`, for a task
//!   those of its parent, where its versions' assets go) and
//!   `GET /api/publish/asset-types` (`{"types": [{short, name}]}`): the asset choices;
//! - `POST /api/publish/batches`: a new batch, `{"batch": ID}`;
//! - `POST /api/publish/batches/{batch}/files?name=NAME` with the file as the body, streamed
//!   to disk (no size limit but the disk's);
//! - `POST /api/publish/batches/{batch}/publish` with the request (see
//!   [`WindowHost::publish_files`]): starts it, `{"job": ID}`;
//! - `GET /api/publish/jobs/{job}`: server-sent `progress` events (`{files, files_done,
//!   bytes, bytes_done, current}`), then one `done` (what was published, with `url`, the
//!   version on the server) or `failed` (`{error}`: a publish is complete or leaves nothing
//!   behind, so the user can fix the cause and publish again).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::api::{blocking_result, Failure};
use crate::jobs::{Job, Jobs};
use crate::App;

/// Batches being filled or published at once.
const MAX_BATCHES: usize = 8;

/// The batches and jobs of this window.
pub(crate) struct Publishes {
    /// The folder batches live in.
    uploads: PathBuf,
    /// Batches by id: when each was made, and whether it is being published.
    batches: Mutex<HashMap<String, (std::time::Instant, bool)>>,
    jobs: Jobs,
}

impl Publishes {
    /// Batches in `state_dir/uploads`, which is emptied first: what a host that stopped
    /// mid-publish left there is of no use to anyone.
    pub(crate) fn new(state_dir: &Path) -> Publishes {
        let uploads = state_dir.join("uploads");
        let _ = std::fs::remove_dir_all(&uploads);
        Publishes {
            uploads,
            batches: Mutex::default(),
            jobs: Jobs::default(),
        }
    }

    fn folder(&self, batch: &str) -> Option<PathBuf> {
        let known = self
            .batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(batch);
        known.then(|| self.uploads.join(batch))
    }

    /// Whether `batch` is being published.
    fn is_publishing(&self, batch: &str) -> bool {
        self.batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(batch)
            .is_some_and(|(_, publishing)| *publishing)
    }

    /// Whether any batch is being published (a restart would cut it short).
    pub(crate) fn any_publishing(&self) -> bool {
        self.batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .any(|(_, publishing)| *publishing)
    }

    fn forget(&self, batch: &str) {
        self.batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(batch);
        let _ = std::fs::remove_dir_all(self.uploads.join(batch));
    }
}

/// Whether `name` can be a file of a batch as it is: a plain file name.
fn is_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0', ':'])
}

/// `POST /api/publish/group`'s body.
#[derive(Debug, Deserialize)]
pub(crate) struct Names {
    names: Vec<String>,
}

pub(crate) async fn group(State(app): State<App>, Json(asked): Json<Names>) -> Response {
    blocking_result(app.host.clone(), move |host| {
        if let Some(bad) = asked.names.iter().find(|name| !is_file_name(name)) {
            return Err(Failure::bad_request(&format!("not a file name: {bad:?}")));
        }
        let components = host.group_files(&asked.names).map_err(Failure::host)?;
        Ok(json!({ "components": components }))
    })
    .await
}

/// `GET /api/publish/assets`'s parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct OfContext {
    context: String,
}

pub(crate) async fn assets(State(app): State<App>, Query(asked): Query<OfContext>) -> Response {
    blocking_result(app.host.clone(), move |host| {
        let id = crate::contexts::checked_id(&asked.context)?;
        // A version published against a task goes under an asset of the task's parent (as
        // Connect's publisher makes it), so those are the task's assets to choose from.
        let parent = host
            .query(&format!("select parent_id from Task where id is \"{id}\""))
            .map_err(Failure::host)?;
        let owner = parent
            .first()
            .and_then(|task| task["parent_id"].as_str())
            .map(str::to_string);
        let id = match &owner {
            Some(parent) => crate::contexts::checked_id(parent)?,
            None => id,
        };
        let found = host
            .query(&format!(
                "select id, name, type.short from Asset where parent.id is \"{id}\" order by name"
            ))
            .map_err(Failure::host)?;
        let assets: Vec<Value> = found
            .iter()
            .map(|asset| json!({ "id": asset["id"], "name": asset["name"], "type": asset["type"]["short"] }))
            .collect();
        Ok(json!({ "assets": assets }))
    })
    .await
}

pub(crate) async fn asset_types(State(app): State<App>) -> Response {
    blocking_result(app.host.clone(), |host| {
        let found = host
            .query("select name, short from AssetType order by name")
            .map_err(Failure::host)?;
        let types: Vec<Value> = found
            .iter()
            .map(|t| json!({ "short": t["short"], "name": t["name"] }))
            .collect();
        Ok(json!({ "types": types }))
    })
    .await
}

pub(crate) async fn new_batch(State(app): State<App>) -> Response {
    let publishes = app.publishes.clone();
    let mut batches = publishes.batches.lock().unwrap_or_else(|e| e.into_inner());
    if batches.len() >= MAX_BATCHES {
        // A page that went away mid-upload leaves its batch: the oldest one not being
        // published makes room.
        let oldest = batches
            .iter()
            .filter(|(_, (_, publishing))| !publishing)
            .min_by_key(|(_, (made, _))| *made)
            .map(|(id, _)| id.clone());
        match oldest {
            Some(oldest) => {
                batches.remove(&oldest);
                let _ = std::fs::remove_dir_all(publishes.uploads.join(&oldest));
            }
            None => {
                return Failure::bad_request("too many publishes at once: wait for one to finish")
                    .into_response()
            }
        }
    }
    let batch = uuid::Uuid::new_v4().simple().to_string();
    if let Err(err) = std::fs::create_dir_all(publishes.uploads.join(&batch)) {
        return Failure::host(format!("cannot make a folder for the files: {err}")).into_response();
    }
    batches.insert(batch.clone(), (std::time::Instant::now(), false));
    Json(json!({ "batch": batch })).into_response()
}

/// `POST /api/publish/batches/{batch}/files`'s parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct FileName {
    name: String,
}

pub(crate) async fn upload(
    State(app): State<App>,
    UrlPath(batch): UrlPath<String>,
    Query(file): Query<FileName>,
    body: Body,
) -> Response {
    let Some(folder) = app.publishes.folder(&batch) else {
        return Failure::not_found("no such batch").into_response();
    };
    if app.publishes.is_publishing(&batch) {
        return Failure::bad_request("this batch is being published: no more files")
            .into_response();
    }
    if !is_file_name(&file.name) {
        return Failure::bad_request(&format!("not a file name: {:?}", file.name)).into_response();
    }
    // Written aside and renamed when complete: a broken upload never passes for a file.
    let partial = folder.join(format!(".{}.part", file.name));
    let written = async {
        let mut out = tokio::fs::File::create(&partial).await?;
        let mut stream = body.into_data_stream();
        let mut size: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(std::io::Error::other)?;
            size += chunk.len() as u64;
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        tokio::fs::rename(&partial, folder.join(&file.name)).await?;
        Ok::<u64, std::io::Error>(size)
    }
    .await;
    match written {
        Ok(size) => Json(json!({ "name": file.name, "size": size })).into_response(),
        Err(err) => {
            let _ = tokio::fs::remove_file(&partial).await;
            Failure::host(format!("the upload of {} failed: {err}", file.name)).into_response()
        }
    }
}

pub(crate) async fn start(
    State(app): State<App>,
    UrlPath(batch): UrlPath<String>,
    Json(request): Json<Value>,
) -> Response {
    let Some(folder) = app.publishes.folder(&batch) else {
        return Failure::not_found("no such batch").into_response();
    };
    match app
        .publishes
        .batches
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_mut(&batch)
    {
        Some((_, true)) => {
            return Failure::bad_request("this batch is being published already").into_response()
        }
        Some(entry) => entry.1 = true,
        None => return Failure::not_found("no such batch").into_response(),
    }
    tracing::info!("window: publishing batch {batch}");
    let host = app.host.clone();
    let publishes = app.publishes.clone();
    let nothing_yet =
        json!({"files": 0, "files_done": 0, "bytes": 0, "bytes_done": 0, "current": ""});
    let job = app
        .publishes
        .jobs
        .start("publish", nothing_yet, move |report| {
            let outcome = match host.publish_files(request, &folder, report) {
                Ok(published) => Job::Done(published),
                Err(why) => Job::Failed(Value::String(why)),
            };
            publishes.forget(&batch);
            outcome
        });
    Json(json!({ "job": job })).into_response()
}

pub(crate) async fn job(State(app): State<App>, UrlPath(job): UrlPath<String>) -> Response {
    app.publishes.jobs.follow(&job, "publish")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_file_names_make_a_batch() {
        assert!(is_file_name("render.1001.exr"));
        assert!(is_file_name("take 2 (final).mov"));
        for name in ["", ".hidden", "../x", "a/b", "a\\b", "a\0b", "C:x"] {
            assert!(!is_file_name(name), "{name:?}");
        }
    }
}
