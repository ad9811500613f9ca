//! The Plugins tab's changes to the plugin directory:
//!
//! - `POST /api/plugins/install?archive=NAME.zip[&replace=true]` with the archive as the body:
//!   unpacked safely into the plugin directory (see the host's `connect_plugins::install`) and
//!   loaded at once; answers `{"folder": ..., "plugins": [...]}`, 409 with `{"error",
//!   "exists": true}` when a plugin folder of that name is there (the page asks before
//!   sending `replace=true`), 400 for an archive that cannot be installed;
//! - `POST /api/plugins/remove` with `{"name": ...}`: deletes that plugin's folder, if it is
//!   in the plugin directory, and unloads it;
//! - `POST /api/plugins/open-folder`: opens the plugin directory in the desktop's file
//!   manager; answers `{"path": ..., "opened": bool, "error"?: ...}` (the page shows the path
//!   either way: on a machine without a desktop it is all one can do).

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::api::{blocking_result, Failure};
use crate::{App, Refusal};

/// The largest archive accepted (a plugin with native libraries for several platforms).
pub(crate) const MAX_ARCHIVE_BYTES: usize = 256 << 20;

/// `POST /api/plugins/install`'s parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct Install {
    archive: String,
    #[serde(default)]
    replace: bool,
}

pub(crate) async fn install(
    State(app): State<App>,
    Query(asked): Query<Install>,
    body: Bytes,
) -> Response {
    let host = app.host.clone();
    let done = tokio::task::spawn_blocking(move || {
        host.install_plugin(&asked.archive, &body, asked.replace)
    })
    .await;
    match done {
        Ok(Ok(installed)) => Json(installed).into_response(),
        Ok(Err(Refusal::Conflict(why))) => (
            StatusCode::CONFLICT,
            Json(json!({ "error": why, "exists": true })),
        )
            .into_response(),
        Ok(Err(Refusal::Invalid(why))) => Failure::bad_request(&why).into_response(),
        Err(_) => Failure::host("the host failed to answer".into()).into_response(),
    }
}

/// `POST /api/plugins/remove`'s body.
#[derive(Debug, Deserialize)]
pub(crate) struct Remove {
    name: String,
}

pub(crate) async fn remove(State(app): State<App>, Json(asked): Json<Remove>) -> Response {
    blocking_result(app.host.clone(), move |host| {
        host.remove_plugin(&asked.name)
            .map_err(|refusal| match refusal {
                Refusal::Conflict(why) | Refusal::Invalid(why) => Failure::bad_request(&why),
            })
    })
    .await
}

pub(crate) async fn open_folder(State(app): State<App>) -> Response {
    blocking_result(app.host.clone(), |host| {
        let (path, opened) = host.open_plugin_folder();
        Ok(match opened {
            Ok(()) => json!({ "path": path, "opened": true }),
            Err(why) => json!({ "path": path, "opened": false, "error": why }),
        })
    })
    .await
}
