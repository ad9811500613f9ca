//! `connect-publisher`: publishing as Connect's publisher does, complete or not at all.
//!
//! Artists drop renders, a movie and a thumbnail, pick a task and publish a version. This
//! crate does what Connect's publisher and `ftrack_api` do for that, against any ftrack
//! server (the local one in tests): components from files and clique sequences
//! ([`ComponentSource`]), the asset found or created under the task's parent, a version
//! numbered by the server, each component's files put in a location (`ftrack.server`:
//! uploaded; `ftrack.unmanaged`: left where they are; a disk location a plugin declares:
//! copied under ftrack's standard structure, [`structure`]), the thumbnail, and
//! `ftrack.connect.publish.make-web-playable`. What `ftrack_api` reads back is what it
//! would have written itself (the same entities, attributes and resource identifiers).
//!
//! **Nothing half-published.** The version is created unpublished and marked published
//! last; every entity and file is written in a journal before it is made, and any failure
//! or a cancel (Ctrl-C) removes them again, journal first (`journal`). A publish killed
//! outright is rolled back by the next one.
//!
//! ```no_run
//! use connect_core::ApiKey;
//! use connect_ftrack_api::Client;
//! use connect_publisher::{ComponentSource, Context, Publisher, Quiet, Request};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::new("https://studio.ftrackapp.com", "jane", ApiKey::new("key"))?;
//! let request = Request {
//!     context: Context::Path("big-buck-bunny/sq010/sh010/compositing".into()),
//!     asset_name: None,
//!     asset_type: Some("upload".into()),
//!     description: "first pass".into(),
//!     thumbnail: None,
//!     web_playable: None,
//!     location: None, // the plugins' disk location, else ftrack.server
//!     components: vec![ComponentSource::read("/r/sh010.%04d.exr [1001-1100]", None)?],
//! };
//! let publisher = Publisher::new(&client, "/tmp/publish-journal".as_ref(), &Quiet);
//! let published = publisher.publish(&request).await?; // all of it, or nothing left behind
//! println!("published {} v{}", published.asset, published.version);
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod component;
mod journal;
mod publish;
pub mod structure;
mod transfer;

use std::path::Path;

use connect_ftrack_api::{reference, Client, ClientError};
use serde_json::{json, Value};

pub use component::{check_names, default_name, ComponentSource, Member, SourceKind};
pub use publish::{
    Context, DiskLocation, Published, PublishedComponent, Publisher, Request, WebPlayableHook,
    SERVER_LOCATION, UNMANAGED_LOCATION,
};
pub use transfer::Cancel;

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Something in the request: a missing file, a duplicate name, an unknown context.
    #[error("{0}")]
    Input(String),
    /// The server refused or failed.
    #[error("{0}")]
    Server(String),
    /// Moving bytes failed (reading, uploading, copying).
    #[error("{0}")]
    Transfer(String),
    /// The publish was cancelled.
    #[error("the publish was interrupted")]
    Cancelled,
    /// It failed, and what it had made was removed.
    #[error("{0}; nothing was left behind")]
    RolledBack(Box<PublishError>),
    /// It failed, and some of what it made could not be removed now: the next publish to
    /// this server removes it.
    #[error("{error}; what it made could not all be removed now ({}): the next publish removes it", left.join("; "))]
    NotRolledBack {
        /// Why it failed.
        error: Box<PublishError>,
        /// What is left.
        left: Vec<String>,
    },
}

impl PublishError {
    /// Whether the publish was cancelled (the caller exits as interrupted).
    pub fn was_cancelled(&self) -> bool {
        match self {
            PublishError::Cancelled => true,
            PublishError::RolledBack(inner) | PublishError::NotRolledBack { error: inner, .. } => {
                inner.was_cancelled()
            }
            _ => false,
        }
    }
}

impl From<ClientError> for PublishError {
    fn from(error: ClientError) -> PublishError {
        PublishError::Server(error.to_string())
    }
}

/// Hears how a publish goes (the command line draws a progress bar).
pub trait Progress: Send + Sync {
    /// The publish moves `files` files of `bytes` bytes in all.
    fn start(&self, _files: u64, _bytes: u64) {}
    /// It starts on the file `name`.
    fn file(&self, _name: &str) {}
    /// `bytes` more are moved.
    fn advance(&self, _bytes: u64) {}
    /// Something worth saying.
    fn say(&self, _message: &str) {}
    /// Every file is moved.
    fn finish(&self) {}
}

/// A progress that hears nothing.
pub struct Quiet;

impl Progress for Quiet {}

/// What `ftrack_api`'s `version.encode_media(path)` does, for the default
/// make-web-playable hook: `path` uploaded as a component of the version in
/// `ftrack.server`, and the server asked to encode it. Returns the encoding job's id.
pub async fn encode_media(
    client: &Client,
    version_id: &str,
    path: &Path,
) -> Result<String, PublishError> {
    if !path.is_file() {
        return Err(PublishError::Input(format!(
            "{} is not a file: nothing to encode",
            path.display()
        )));
    }
    let source = ComponentSource::read(&path.display().to_string(), None)?;
    let server = client
        .query("select id from Location where name is \"ftrack.server\"")
        .await?;
    let server = server
        .first()
        .and_then(|l| l["id"].as_str())
        .ok_or_else(|| PublishError::Server("the server has no ftrack.server location".into()))?
        .to_string();
    let id = uuid::Uuid::new_v4().to_string();
    let file_name = format!("main{}", source.file_type);
    transfer::upload(
        client,
        &reqwest::Client::new(),
        &id,
        &file_name,
        path,
        &Quiet,
        &Cancel::default(),
    )
    .await?;
    // Not the version's own component: the server encodes it into the version's
    // reviewables, and drops it (`keep_original` false, as `ftrack_api` sends for a path).
    let mut batch = client.batch();
    batch
        .create(
            "FileComponent",
            json!({"id": id, "size": source.size, "file_type": source.file_type}),
        )
        .create(
            "ComponentLocation",
            json!({"component": reference("FileComponent", &id),
                   "location": reference("Location", &server), "resource_identifier": id}),
        );
    batch.commit().await?;
    let answer = client
        .call(vec![json!({
            "action": "encode_media",
            "component_id": id,
            "version_id": version_id,
            "keep_original": false,
        })])
        .await?;
    answer
        .first()
        .and_then(|a| a["job_id"].as_str())
        .map(str::to_string)
        .ok_or_else(|| PublishError::Server(format!("encode_media answered {answer:?}")))
}

/// The result the default make-web-playable hook answers with: the job to await.
pub fn encoding_started(job_id: &str) -> Value {
    json!({ "job_id": job_id })
}

/// One component for [`add_components`] (Connect's `publish-components` hook).
#[derive(Debug, Clone)]
pub struct AddComponent {
    /// Its file or sequence.
    pub source: ComponentSource,
    /// `ftrack.server` or `ftrack.unmanaged`.
    pub location: String,
    /// The version it belongs to, if any.
    pub version_id: Option<String>,
}

/// What Connect's `ftrack.connect.publish-components` hook does: each component created,
/// its files put in its location, and everything committed at once. Returns the
/// components' ids.
pub async fn add_components(
    client: &Client,
    components: &[AddComponent],
) -> Result<Vec<String>, PublishError> {
    let http = reqwest::Client::new();
    let mut locations = std::collections::HashMap::new();
    let mut batch = client.batch();
    let mut ids = Vec::new();
    for component in components {
        let location = component.location.as_str();
        if location != SERVER_LOCATION && location != UNMANAGED_LOCATION {
            return Err(PublishError::Input(format!(
                "location {location:?}: components are published here to {SERVER_LOCATION} or \
                 {UNMANAGED_LOCATION}"
            )));
        }
        if !locations.contains_key(location) {
            let found = client
                .query(&format!(
                    "select id from Location where name is \"{location}\""
                ))
                .await?;
            let id = found
                .first()
                .and_then(|l| l["id"].as_str())
                .ok_or_else(|| PublishError::Server(format!("the server has no {location}")))?
                .to_string();
            locations.insert(location.to_string(), id);
        }
        let location_id = &locations[location];
        let source = &component.source;
        let id = uuid::Uuid::new_v4().to_string();
        let mut data = json!({"id": id, "name": source.name, "size": source.size,
                              "file_type": source.file_type});
        if let Some(version) = &component.version_id {
            data["version"] = reference("AssetVersion", version);
        }
        let mut placed = Vec::new();
        match &source.kind {
            SourceKind::File { path } => {
                batch.create("FileComponent", data);
                placed.push((id.clone(), path.clone()));
            }
            SourceKind::Sequence {
                padding,
                members,
                pattern,
            } => {
                data["padding"] = json!(padding);
                batch.create("SequenceComponent", data);
                for member in members {
                    let member_id = uuid::Uuid::new_v4().to_string();
                    batch.create(
                        "FileComponent",
                        json!({"id": member_id, "name": member.name, "size": member.size,
                               "file_type": source.file_type,
                               "container": reference("SequenceComponent", &id)}),
                    );
                    placed.push((member_id, member.path.clone()));
                }
                let container = if location == SERVER_LOCATION {
                    id.clone()
                } else {
                    pattern.clone()
                };
                batch.create(
                    "ComponentLocation",
                    json!({"component": reference("Component", &id),
                           "location": reference("Location", location_id),
                           "resource_identifier": container}),
                );
            }
        }
        for (file_id, path) in placed {
            let resource = if location == SERVER_LOCATION {
                let file_name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                transfer::upload(
                    client,
                    &http,
                    &file_id,
                    &file_name,
                    &path,
                    &Quiet,
                    &Cancel::default(),
                )
                .await?;
                file_id.clone()
            } else {
                std::path::absolute(&path)
                    .unwrap_or(path)
                    .display()
                    .to_string()
            };
            batch.create(
                "ComponentLocation",
                json!({"component": reference("Component", &file_id),
                       "location": reference("Location", location_id),
                       "resource_identifier": resource}),
            );
        }
        ids.push(id);
    }
    batch.commit().await?;
    Ok(ids)
}
