//! One publish, step by step as Connect's publisher takes them, all or nothing:
//!
//! 1. Everything local is checked first (files, names, the thumbnail, the web-playable
//!    component): a mistake costs nothing on the server.
//! 2. The context is found (a task publishes under its parent, with the task on the
//!    version), the location picked, the asset found under the parent by name and type or
//!    created, and a version created **unpublished** (`is_published` false: the server
//!    numbers it, nobody sees it as published yet).
//! 3. Each component's files go to the location (uploaded, copied, or left where they are),
//!    then its entities and where it is (`ComponentLocation`) are committed together.
//! 4. The thumbnail is uploaded to `ftrack.server` and set on the version, as
//!    `create_thumbnail` does; `ftrack.connect.publish.make-web-playable` is published
//!    (the default hook encodes the component on the server; its job is awaited).
//! 5. The version is marked published.
//!
//! Every entity and file is written in the journal before it is made; any failure, or a
//! cancel, rolls the journal back (see `journal`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use connect_ftrack_api::{quoted, reference, Client};
use serde::Serialize;
use serde_json::{json, Value};

use crate::component::{check_names, ComponentSource, SourceKind};
use crate::journal::{self, Entry, Journal};
use crate::structure::VersionPlace;
use crate::transfer::{copy, job_outcome, upload, Cancel};
use crate::{Progress, PublishError};

/// The location `ftrack_api` keeps files on the server in.
pub const SERVER_LOCATION: &str = "ftrack.server";

/// The location whose files stay where they are.
pub const UNMANAGED_LOCATION: &str = "ftrack.unmanaged";

/// The thumbnail sizes and kinds the server takes (Connect's limits).
const THUMBNAIL_TYPES: [&str; 7] = ["bmp", "gif", "jpeg", "jpg", "png", "tif", "tiff"];
const THUMBNAIL_MAX_BYTES: u64 = 10 << 20;

/// How long the web-playable encoding is awaited before the publish ends without it.
const ENCODE_WAIT: Duration = Duration::from_secs(300);

/// What to publish against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context {
    /// An entity by type and id (`Task:3f2a...`).
    Entity {
        /// Its type.
        entity_type: String,
        /// Its id.
        id: String,
    },
    /// Names from the project down (`show/sq010/sh010/comp`).
    Path(String),
}

/// A disk location a plugin declared (on `ftrack.api.session.configure-location`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskLocation {
    /// The location's name.
    pub name: String,
    /// Where its files are.
    pub prefix: PathBuf,
    /// Lower is picked first, as `ftrack_api`'s `pick_location`.
    pub priority: i64,
}

/// Runs `ftrack.connect.publish.make-web-playable` (synchronously, through the host's
/// hub): the results its handlers returned.
pub trait WebPlayableHook: Send + Sync {
    /// Publishes the event with data `{versionId, path}`.
    fn publish(&self, version_id: &str, path: &Path) -> Vec<Value>;
}

/// A publish to make.
#[derive(Debug, Clone)]
pub struct Request {
    /// What it is published against.
    pub context: Context,
    /// The asset's name; the asset type's name when `None`, as in Connect.
    pub asset_name: Option<String>,
    /// The asset type's short name (`upload` when `None`).
    pub asset_type: Option<String>,
    /// The version's comment.
    pub description: String,
    /// A picture for the version.
    pub thumbnail: Option<PathBuf>,
    /// The name of the component to encode for review.
    pub web_playable: Option<String>,
    /// The location's name; else the declared disk location with the lowest priority,
    /// else `ftrack.server`.
    pub location: Option<String>,
    /// The components.
    pub components: Vec<ComponentSource>,
}

/// What a publish made.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    /// The version's id.
    pub version_id: String,
    /// Its number, as the server gave it.
    pub version: u64,
    /// The asset's id.
    pub asset_id: String,
    /// The asset's name.
    pub asset: String,
    /// Whether the asset was created by this publish.
    pub asset_created: bool,
    /// The location the components went to.
    pub location: String,
    /// The components.
    pub components: Vec<PublishedComponent>,
    /// The thumbnail component's id.
    pub thumbnail_id: Option<String>,
    /// What became of the web-playable encoding (`done`, `failed: why`, ...).
    pub web_playable: Option<String>,
    /// What went wrong without failing the publish.
    pub warnings: Vec<String>,
}

/// One published component.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedComponent {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `FileComponent` or `SequenceComponent`.
    pub kind: &'static str,
    /// Its size in bytes.
    pub size: u64,
    /// Where the location keeps it (a path, a pattern, an id).
    pub resource_identifier: String,
    /// A sequence's members.
    pub members: usize,
}

/// Where the publish puts components.
enum Target {
    Server,
    Unmanaged,
    Disk(PathBuf),
}

/// A publisher for one signed-in client.
pub struct Publisher<'a> {
    client: &'a Client,
    http: reqwest::Client,
    journal_dir: PathBuf,
    progress: &'a dyn Progress,
    cancel: Cancel,
    disk_locations: Vec<DiskLocation>,
    web_playable: Option<&'a dyn WebPlayableHook>,
}

impl<'a> Publisher<'a> {
    /// A publisher publishing with `client`, keeping journals in `journal_dir`.
    pub fn new(client: &'a Client, journal_dir: &Path, progress: &'a dyn Progress) -> Self {
        Publisher {
            client,
            http: reqwest::Client::new(),
            journal_dir: journal_dir.to_path_buf(),
            progress,
            cancel: Cancel::default(),
            disk_locations: Vec::new(),
            web_playable: None,
        }
    }

    /// The disk locations plugins declared.
    pub fn with_disk_locations(mut self, locations: Vec<DiskLocation>) -> Self {
        self.disk_locations = locations;
        self
    }

    /// What publishes `ftrack.connect.publish.make-web-playable`.
    pub fn with_web_playable(mut self, hook: &'a dyn WebPlayableHook) -> Self {
        self.web_playable = Some(hook);
        self
    }

    /// Stops the publish when cancelled (it then removes what it made).
    pub fn with_cancel(mut self, cancel: Cancel) -> Self {
        self.cancel = cancel;
        self
    }

    /// Publishes `request`: the version, complete, or an error and nothing left behind.
    pub async fn publish(&self, request: &Request) -> Result<Published, PublishError> {
        for said in journal::recover(&self.journal_dir, self.client).await {
            tracing::warn!("{said}");
        }
        check_names(&request.components)?;
        let web_playable = web_playable_path(request)?;
        if let Some(thumbnail) = &request.thumbnail {
            check_thumbnail(thumbnail)?;
        }
        let (location_name, target) = self.pick_location(request.location.as_deref())?;
        let location_id = self.location_id(&location_name, &target).await?;
        let context = self.context(&request.context).await?;
        let asset_type = self.asset_type(request.asset_type.as_deref()).await?;
        let asset_name = request
            .asset_name
            .clone()
            .unwrap_or_else(|| asset_type.1.clone());
        let existing = self
            .existing_asset(&context.parent_id, &asset_name, &asset_type.0)
            .await?;

        let mut journal = Journal::begin(&self.journal_dir, self.client)?;
        let made = self
            .make(
                request,
                &mut journal,
                Plan {
                    context: &context,
                    asset_type_id: &asset_type.0,
                    asset_name: &asset_name,
                    existing,
                    location_name: &location_name,
                    location_id: &location_id,
                    target: &target,
                    web_playable,
                },
            )
            .await;
        match made {
            Ok(published) => {
                journal.finish();
                Ok(published)
            }
            Err(error) => {
                let left = journal.roll_back(self.client).await;
                Err(if left.is_empty() {
                    PublishError::RolledBack(Box::new(error))
                } else {
                    PublishError::NotRolledBack {
                        error: Box::new(error),
                        left,
                    }
                })
            }
        }
    }

    fn pick_location(&self, asked: Option<&str>) -> Result<(String, Target), PublishError> {
        let disk = |location: &DiskLocation| {
            (location.name.clone(), Target::Disk(location.prefix.clone()))
        };
        match asked {
            Some(SERVER_LOCATION) => Ok((SERVER_LOCATION.into(), Target::Server)),
            Some(UNMANAGED_LOCATION) => Ok((UNMANAGED_LOCATION.into(), Target::Unmanaged)),
            Some(name) => self
                .disk_locations
                .iter()
                .find(|l| l.name == name)
                .map(disk)
                .ok_or_else(|| {
                    let mut known = vec![SERVER_LOCATION.to_string(), UNMANAGED_LOCATION.into()];
                    known.extend(self.disk_locations.iter().map(|l| l.name.clone()));
                    PublishError::Input(format!(
                        "no location {name:?} here: {} (a plugin declares others on \
                         ftrack.api.session.configure-location)",
                        known.join(", ")
                    ))
                }),
            None => Ok(self
                .disk_locations
                .iter()
                .min_by_key(|l| l.priority)
                .map(disk)
                .unwrap_or((SERVER_LOCATION.into(), Target::Server))),
        }
    }

    /// The location's id on the server; a declared disk location is created there if it is
    /// not yet (as `session.ensure` does).
    async fn location_id(&self, name: &str, target: &Target) -> Result<String, PublishError> {
        let found = self
            .client
            .query(&format!(
                "select id from Location where name is {}",
                quoted(name)
            ))
            .await?;
        if let Some(id) = found.first().and_then(|l| l["id"].as_str()) {
            return Ok(id.to_string());
        }
        match target {
            Target::Disk(_) => {
                let made = self
                    .client
                    .create("Location", json!({"name": name}))
                    .await?;
                Ok(made["id"].as_str().unwrap_or_default().to_string())
            }
            _ => Err(PublishError::Server(format!(
                "the server has no location {name:?}"
            ))),
        }
    }

    async fn context(&self, context: &Context) -> Result<Resolved, PublishError> {
        let entity = match context {
            Context::Entity { entity_type, id } => {
                let found = self
                    .client
                    .query(&format!(
                        "select id, name, link, parent_id from {entity_type} where id is {}",
                        quoted(id)
                    ))
                    .await?;
                found.into_iter().next().ok_or_else(|| {
                    PublishError::Input(format!("there is no {entity_type} with id {id}"))
                })?
            }
            Context::Path(path) => self.context_by_path(path).await?,
        };
        let entity_type = entity["__entity_type__"].as_str().unwrap_or("").to_string();
        if entity_type == "Project" {
            return Err(PublishError::Input(
                "publish against a task or another context inside the project, not the project \
                 itself (as in Connect)"
                    .into(),
            ));
        }
        let id = entity["id"].as_str().unwrap_or_default().to_string();
        let (task_id, parent_id) = if entity_type == "Task" {
            // "ftrack does not support having Tasks as parent for Assets".
            let parent = entity["parent_id"].as_str().unwrap_or_default().to_string();
            (Some(id), parent)
        } else {
            (None, id)
        };
        let parent = self
            .client
            .query(&format!(
                "select link from Context where id is {}",
                quoted(&parent_id)
            ))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| PublishError::Server(format!("the context {parent_id} vanished")))?;
        let items = parent["link"].as_array().cloned().unwrap_or_default();
        let name = |item: &Value| item["name"].as_str().unwrap_or("").to_string();
        let link: Vec<String> = items.iter().map(name).collect();
        // The structure names the project by its `name` (a link may show another).
        let project_id = items
            .first()
            .and_then(|i| i["id"].as_str())
            .unwrap_or_default();
        let project = self
            .client
            .query(&format!(
                "select name from Project where id is {}",
                quoted(project_id)
            ))
            .await?
            .first()
            .map(name)
            .unwrap_or_else(|| link.first().cloned().unwrap_or_default());
        Ok(Resolved {
            task_id,
            parent_id,
            project,
            parents: link.into_iter().skip(1).collect(),
        })
    }

    async fn context_by_path(&self, path: &str) -> Result<Value, PublishError> {
        let names: Vec<&str> = path.split('/').filter(|n| !n.is_empty()).collect();
        let Some((project, rest)) = names.split_first() else {
            return Err(PublishError::Input(format!("{path:?} names no context")));
        };
        let mut at = self
            .client
            .query(&format!(
                "select id, name, link, parent_id from Project where name is {}",
                quoted(project)
            ))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| PublishError::Input(format!("there is no project {project:?}")))?;
        for (depth, name) in rest.iter().enumerate() {
            let parent = at["id"].as_str().unwrap_or_default().to_string();
            at = self
                .client
                .query(&format!(
                    "select id, name, link, parent_id from TypedContext where parent_id is {} \
                     and name is {}",
                    quoted(&parent),
                    quoted(name)
                ))
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    PublishError::Input(format!(
                        "there is no {name:?} in {:?}",
                        names[..depth + 1].join("/")
                    ))
                })?;
        }
        Ok(at)
    }

    /// The asset type's (id, name).
    async fn asset_type(&self, short: Option<&str>) -> Result<(String, String), PublishError> {
        let short = short.unwrap_or("upload");
        let found = self
            .client
            .query(&format!(
                "select id, name from AssetType where short is {}",
                quoted(short)
            ))
            .await?;
        let found = found.first().ok_or_else(|| {
            PublishError::Input(format!("there is no asset type {short:?} on the server"))
        })?;
        Ok((
            found["id"].as_str().unwrap_or_default().to_string(),
            found["name"].as_str().unwrap_or_default().to_string(),
        ))
    }

    /// The asset of `name` and type under `parent_id`, compared without case as Connect
    /// does.
    async fn existing_asset(
        &self,
        parent_id: &str,
        name: &str,
        type_id: &str,
    ) -> Result<Option<(String, String)>, PublishError> {
        let assets = self
            .client
            .query(&format!(
                "select id, name from Asset where parent.id is {} and type.id is {}",
                quoted(parent_id),
                quoted(type_id)
            ))
            .await?;
        Ok(assets
            .iter()
            .find(|a| {
                a["name"]
                    .as_str()
                    .is_some_and(|n| n.to_lowercase() == name.to_lowercase())
            })
            .map(|a| {
                (
                    a["id"].as_str().unwrap_or_default().to_string(),
                    a["name"].as_str().unwrap_or_default().to_string(),
                )
            }))
    }

    async fn make(
        &self,
        request: &Request,
        journal: &mut Journal,
        plan: Plan<'_>,
    ) -> Result<Published, PublishError> {
        let files: u64 = request
            .components
            .iter()
            .map(|c| c.files().len() as u64)
            .sum::<u64>()
            + u64::from(request.thumbnail.is_some());
        let bytes: u64 = request.components.iter().map(|c| c.size).sum::<u64>()
            + request
                .thumbnail
                .as_ref()
                .and_then(|t| std::fs::metadata(t).ok())
                .map_or(0, |m| m.len());
        self.progress.start(files, bytes);

        let (asset_id, asset_name, asset_created) = match &plan.existing {
            Some((id, name)) => (id.clone(), name.clone(), false),
            None => {
                let id = new_id();
                journal.record(&[Entry::Entity("Asset", id.clone())])?;
                self.client
                    .create(
                        "Asset",
                        json!({
                            "id": id,
                            "name": plan.asset_name,
                            "type": reference("AssetType", plan.asset_type_id),
                            "parent": reference("Context", &plan.context.parent_id),
                        }),
                    )
                    .await?;
                (id, plan.asset_name.to_string(), true)
            }
        };
        let version_id = new_id();
        journal.record(&[Entry::Entity("AssetVersion", version_id.clone())])?;
        let mut version = json!({
            "id": version_id,
            "asset": reference("Asset", &asset_id),
            "comment": request.description,
            "is_published": false,
        });
        if let Some(task) = &plan.context.task_id {
            version["task"] = reference("Task", task);
        }
        self.client.create("AssetVersion", version).await?;
        let number = self
            .client
            .query(&format!(
                "select version from AssetVersion where id is {version_id}"
            ))
            .await?
            .first()
            .and_then(|v| v["version"].as_u64())
            .unwrap_or(0);
        let place = VersionPlace {
            project: plan.context.project.clone(),
            parents: plan.context.parents.clone(),
            asset: asset_name.clone(),
            version: number,
        };

        let mut components = Vec::new();
        for source in &request.components {
            self.cancel.check()?;
            components.push(
                self.component(source, &version_id, &plan, &place, journal)
                    .await?,
            );
        }
        let thumbnail_id = match &request.thumbnail {
            Some(path) => Some(self.thumbnail(path, &version_id, journal).await?),
            None => None,
        };
        let mut warnings = Vec::new();
        let web_playable = match (plan.web_playable, self.web_playable) {
            (Some(path), Some(hook)) => Some(
                self.make_web_playable(hook, &version_id, &path, &mut warnings)
                    .await,
            ),
            (Some(_), None) => {
                warnings.push("no make-web-playable hook here: nothing was encoded".into());
                None
            }
            (None, _) => None,
        };
        self.cancel.check()?;
        self.client
            .update(
                "AssetVersion",
                vec![Value::String(version_id.clone())],
                json!({"is_published": true}),
            )
            .await?;
        self.progress.finish();
        Ok(Published {
            version_id,
            version: number,
            asset_id,
            asset: asset_name,
            asset_created,
            location: plan.location_name.to_string(),
            components,
            thumbnail_id,
            web_playable,
            warnings,
        })
    }

    /// One component: what it will make written in the journal at once, its files to the
    /// location, then its entities, in one commit.
    async fn component(
        &self,
        source: &ComponentSource,
        version_id: &str,
        plan: &Plan<'_>,
        place: &VersionPlace,
        journal: &mut Journal,
    ) -> Result<PublishedComponent, PublishError> {
        let id = new_id();
        let mut batch = self.client.batch();
        let mut entries = vec![Entry::Entity(source_type(source), id.clone())];
        // Each file: its component's id, its path, where the structure puts it, its name.
        let mut files: Vec<(String, &Path, String, String)> = Vec::new();
        let (kind, container, members) = match &source.kind {
            SourceKind::File { path } => {
                batch.create(
                    "FileComponent",
                    json!({"id": id, "name": source.name, "size": source.size,
                           "file_type": source.file_type, "version": reference("AssetVersion", version_id)}),
                );
                let structured = place.file(&source.name, &source.file_type);
                let file_name = format!("{}{}", source.name, source.file_type);
                files.push((id.clone(), path, structured, file_name));
                ("FileComponent", None, 0)
            }
            SourceKind::Sequence {
                pattern,
                padding,
                members,
            } => {
                batch.create(
                    "SequenceComponent",
                    json!({"id": id, "name": source.name, "size": source.size, "padding": padding,
                           "file_type": source.file_type, "version": reference("AssetVersion", version_id)}),
                );
                for member in members {
                    let member_id = new_id();
                    entries.push(Entry::Entity("FileComponent", member_id.clone()));
                    batch.create(
                        "FileComponent",
                        json!({"id": member_id, "name": member.name, "size": member.size,
                               "file_type": source.file_type,
                               "container": reference("SequenceComponent", &id)}),
                    );
                    let structured = place.member(&source.name, &member.name, &source.file_type);
                    let file_name = format!("{}{}", member.name, source.file_type);
                    files.push((member_id, &member.path, structured, file_name));
                }
                let container = match plan.target {
                    Target::Server => id.clone(),
                    Target::Unmanaged => pattern.clone(),
                    Target::Disk(_) => place.sequence(&source.name, *padding, &source.file_type),
                };
                ("SequenceComponent", Some(container), members.len())
            }
        };
        if let Target::Disk(prefix) = plan.target {
            for (_, _, structured, _) in &files {
                let destination = prefix.join(structured);
                if destination.exists() {
                    return Err(PublishError::Transfer(format!(
                        "{} is already there: a publish never overwrites",
                        destination.display()
                    )));
                }
                entries.push(Entry::File(destination));
            }
        }
        let mut placed: Vec<(String, String)> = files
            .iter()
            .map(|(file_id, _, _, _)| (file_id.clone(), String::new()))
            .collect();
        if let Some(container) = &container {
            placed.push((id.clone(), container.clone()));
        }
        let location_entries: Vec<String> = placed.iter().map(|_| new_id()).collect();
        entries.extend(
            location_entries
                .iter()
                .map(|entry| Entry::Entity("ComponentLocation", entry.clone())),
        );
        // Once, before anything is made: a sequence of thousands costs one write.
        journal.record(&entries)?;

        for (at, (file_id, path, structured, file_name)) in files.iter().enumerate() {
            self.cancel.check()?;
            placed[at].1 = self
                .put_file(plan.target, file_id, path, structured, file_name)
                .await?;
        }
        for ((component_id, resource), entry) in placed.iter().zip(&location_entries) {
            batch.create(
                "ComponentLocation",
                json!({"id": entry,
                       "component": reference("Component", component_id),
                       "location": reference("Location", plan.location_id),
                       "resource_identifier": resource}),
            );
        }
        batch.commit().await?;
        let resource_identifier = container.unwrap_or_else(|| placed[0].1.clone());
        Ok(PublishedComponent {
            id,
            name: source.name.clone(),
            kind,
            size: source.size,
            resource_identifier,
            members,
        })
    }

    /// Puts one file of component `id` where the location keeps it; returns its resource
    /// identifier there. (The journal already lists where it goes.)
    async fn put_file(
        &self,
        target: &Target,
        id: &str,
        path: &Path,
        structured: &str,
        file_name: &str,
    ) -> Result<String, PublishError> {
        self.progress.file(&path.display().to_string());
        match target {
            Target::Server => {
                upload(
                    self.client,
                    &self.http,
                    id,
                    file_name,
                    path,
                    self.progress,
                    &self.cancel,
                )
                .await?;
                Ok(id.to_string())
            }
            Target::Unmanaged => {
                let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                self.progress.advance(size);
                Ok(absolute(path))
            }
            Target::Disk(prefix) => {
                let destination = prefix.join(structured);
                let (source, progress, cancel) =
                    (path.to_path_buf(), self.progress, self.cancel.clone());
                // Copies block: on this thread, which the caller's runtime lets block.
                tokio::task::block_in_place(|| copy(&source, &destination, progress, &cancel))?;
                Ok(structured.to_string())
            }
        }
    }

    /// The thumbnail, as `create_thumbnail` makes it: a component `thumbnail` in
    /// `ftrack.server`, set as the version's thumbnail.
    async fn thumbnail(
        &self,
        path: &Path,
        version_id: &str,
        journal: &mut Journal,
    ) -> Result<String, PublishError> {
        let id = new_id();
        let file_type = path
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let size = std::fs::metadata(path)
            .map_err(|e| PublishError::Input(format!("{}: {e}", path.display())))?
            .len();
        let server = self.location_id(SERVER_LOCATION, &Target::Server).await?;
        self.progress.file(&path.display().to_string());
        let location_entry = new_id();
        journal.record(&[
            Entry::Entity("FileComponent", id.clone()),
            Entry::Entity("ComponentLocation", location_entry.clone()),
        ])?;
        upload(
            self.client,
            &self.http,
            &id,
            &format!("thumbnail{file_type}"),
            path,
            self.progress,
            &self.cancel,
        )
        .await?;
        let mut batch = self.client.batch();
        batch
            .create(
                "FileComponent",
                json!({"id": id, "name": "thumbnail", "size": size, "file_type": file_type}),
            )
            .create(
                "ComponentLocation",
                json!({"id": location_entry, "component": reference("FileComponent", &id),
                       "location": reference("Location", &server), "resource_identifier": id}),
            )
            .update(
                "AssetVersion",
                vec![Value::String(version_id.to_string())],
                json!({"thumbnail_id": id}),
            );
        batch.commit().await?;
        Ok(id)
    }

    /// Publishes `make-web-playable` and awaits the encoding jobs its handlers started.
    async fn make_web_playable(
        &self,
        hook: &dyn WebPlayableHook,
        version_id: &str,
        path: &Path,
        warnings: &mut Vec<String>,
    ) -> String {
        self.progress
            .say("encoding the web-playable component on the server");
        let results = tokio::task::block_in_place(|| hook.publish(version_id, path));
        let jobs: Vec<String> = results
            .iter()
            .filter_map(|r| r["job_id"].as_str().map(str::to_string))
            .collect();
        let Some(job) = jobs.first() else {
            let said = "no hook encoded it (a make-web-playable hook that starts an encoding \
                        answers {\"job_id\": ...})";
            warnings.push(format!("web-playable: {said}"));
            return "not encoded".into();
        };
        let started = Instant::now();
        loop {
            let found = self
                .client
                .query(&format!("select status, data from Job where id is {job}"))
                .await;
            let (status, message) = match found {
                Ok(found) => found.first().map(job_outcome).unwrap_or_default(),
                Err(e) => ("unknown".into(), e.to_string()),
            };
            match status.as_str() {
                "done" => return "done".into(),
                "failed" => {
                    warnings.push(format!(
                        "web-playable: the server could not encode {}: {message} (the version \
                         is published without a reviewable)",
                        path.display()
                    ));
                    return format!("failed: {message}");
                }
                _ if started.elapsed() > ENCODE_WAIT || self.cancel.is_cancelled() => {
                    warnings.push(format!(
                        "web-playable: still encoding after {} s (job {job}); it goes on on the \
                         server",
                        ENCODE_WAIT.as_secs()
                    ));
                    return format!("running: job {job}");
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
}

/// What the publish needs besides the request.
struct Plan<'p> {
    context: &'p Resolved,
    asset_type_id: &'p str,
    asset_name: &'p str,
    existing: Option<(String, String)>,
    location_name: &'p str,
    location_id: &'p str,
    target: &'p Target,
    web_playable: Option<PathBuf>,
}

/// The context found.
struct Resolved {
    task_id: Option<String>,
    /// Where the asset goes.
    parent_id: String,
    project: String,
    /// Names below the project down to the asset's parent.
    parents: Vec<String>,
}

/// The file of the component named for review: a single file (a sequence cannot be
/// encoded; Connect passed it on and the hook failed).
fn web_playable_path(request: &Request) -> Result<Option<PathBuf>, PublishError> {
    let Some(name) = &request.web_playable else {
        return Ok(None);
    };
    let component = request
        .components
        .iter()
        .find(|c| &c.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = request.components.iter().map(|c| c.name.as_str()).collect();
            PublishError::Input(format!(
                "--web-playable {name:?} names no component (they are: {})",
                names.join(", ")
            ))
        })?;
    match &component.kind {
        SourceKind::File { path } => Ok(Some(path.clone())),
        SourceKind::Sequence { .. } => Err(PublishError::Input(format!(
            "--web-playable {name:?} is a sequence: name a movie or a single image"
        ))),
    }
}

fn check_thumbnail(path: &Path) -> Result<(), PublishError> {
    let kind = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if !THUMBNAIL_TYPES.contains(&kind.as_str()) {
        return Err(PublishError::Input(format!(
            "thumbnail {}: a {} picture is needed",
            path.display(),
            THUMBNAIL_TYPES.join(", ")
        )));
    }
    let size = std::fs::metadata(path)
        .map_err(|e| PublishError::Input(format!("thumbnail {}: {e}", path.display())))?
        .len();
    if size > THUMBNAIL_MAX_BYTES {
        return Err(PublishError::Input(format!(
            "thumbnail {}: {size} bytes, over the server's 10 MiB",
            path.display()
        )));
    }
    Ok(())
}

/// The entity type of a component made from `source`.
fn source_type(source: &ComponentSource) -> &'static str {
    match source.kind {
        SourceKind::File { .. } => "FileComponent",
        SourceKind::Sequence { .. } => "SequenceComponent",
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}
