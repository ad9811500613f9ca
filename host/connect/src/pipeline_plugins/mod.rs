//! The pipeline plugins shipped with the host, for the standalone host type (`python`): the
//! seven a standalone publish needs, under the names the framework's
//! `publisher/python/file-python-publish.json` uses, and the two of its
//! `asset_manager/python` definition. `run` subscribes them before its pipeline host starts, so
//! the host keeps the definitions made of them (it drops a definition whose plugin nobody
//! answers for).
//!
//! | plugin | type | what it does |
//! |---|---|---|
//! | `common_passthrough_publisher_context` | context | its options (`context_id`, `asset_name`, `comment`, `status_id`) |
//! | `common_path_publisher_collector` | collector | `[options.path]`; `fetch`: `options.path` |
//! | `common_file_exists_publisher_validator` | validator | every collected path is a file, else refused naming it |
//! | `common_passthrough_publisher_exporter` | exporter | the collected paths |
//! | `common_passthrough_publisher_pre_finalizer` | pre_finalizer | `{}` |
//! | `common_passthrough_publisher_finalizer` | finalizer | publishes (below) |
//! | `common_passthrough_publisher_post_finalizer` | post_finalizer | `{}` |
//! | `common_default_am_resolver` | asset_manager.resolver | what a task depends on ([`asset_manager`]) |
//! | `common_update_latest_am_action` | asset_manager.action | the latest versions of assets |
//!
//! The finalizer publishes as the framework's `PublisherFinalizerPlugin` does, through this
//! project's publisher ([`connect_publisher`], complete or nothing left behind): against the
//! context's `context_id`, the asset `asset_name` of the definition's asset type (found under
//! the context's parent, or created), a version with the `comment`, then for each component
//! step its exported file as a component named for the step, the `thumbnail` step's as the
//! version's thumbnail; the version gets the `status_id`. Its result is the framework's
//! `{asset_version_id, asset_id, component_names}`, with the version's number and link.
//!
//! Deliberate differences: the framework deleted the thumbnail's file once uploaded; files
//! are never deleted here. A step that exported several files is refused with the reason
//! (give one file, or a sequence as `/r/a.%04d.exr [1001-1100]`), where the framework made
//! several components of one name. Without a server (not signed in), the finalizer refuses
//! with the reason and the host still serves its definitions.

pub mod asset_manager;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use connect_core::{EventHub, PluginTag, SubscribeError};
use connect_event::Event;
use connect_ftrack_api::{quoted, Client};
use connect_pipeline::plugin::{self, collected_values, PluginCall, PluginFailure, PluginFn};
use connect_pipeline::{PluginSpec, STANDALONE_HOST_TYPE};
use connect_publisher::{ComponentSource, Context, DiskLocation, Publisher, Quiet, Request};
use serde_json::{json, Map, Value};

/// The name the shipped plugins' subscriptions are tagged with, in logs and `plugins`.
pub const PLUGIN_NAME: &str = "ftrack-connect-pipeline plugins";

/// The component step whose file is the version's thumbnail (the framework's).
const THUMBNAIL_STEP: &str = "thumbnail";

/// What the finalizer publishes with: the signed-in server's API and where the host keeps
/// its publish journal.
pub struct PublishWith {
    /// The server's API.
    pub client: Arc<Client>,
    /// The disk locations the plugins declared.
    pub locations: Vec<DiskLocation>,
    /// The runtime the plugins' server calls and publishes run on (never blocked on: see
    /// `wait_for`).
    pub runtime: tokio::runtime::Handle,
    /// The publish journal's folder.
    pub journal_dir: PathBuf,
}

impl PublishWith {
    /// Waits for `work` on the publishing runtime, from whatever thread the plugin runs on:
    /// spawned there and waited for here, since the thread may be inside a runtime of its
    /// own (the server connection's, which dispatches the server's events), where
    /// `Handle::block_on` would panic.
    fn wait_for<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, PluginFailure> {
        let (done, result) = std::sync::mpsc::channel();
        self.runtime.spawn(async move {
            let _ = done.send(work.await);
        });
        result
            .recv()
            .map_err(|_| PluginFailure::Failed("the host is stopping".into()))
    }

    /// Every result of an ftrack query on the server.
    fn query(&self, expression: String) -> Result<Vec<Value>, PluginFailure> {
        let client = self.client.clone();
        self.wait_for(async move { client.query(&expression).await })?
            .map_err(|err| PluginFailure::Failed(err.to_string()))
    }
}

/// Subscribes the plugins on `hub`; `publish` is `None` when the host is not signed
/// in. Returns how many were subscribed.
pub fn subscribe(hub: &EventHub, publish: Option<PublishWith>) -> Result<usize, SubscribeError> {
    let tag = PluginTag::new(PLUGIN_NAME);
    let publish = publish.map(Arc::new);
    // A plugin that needs the server: refused with the reason on a host not signed in.
    let with_server = |run: fn(&PublishWith, &PluginCall) -> Result<Value, PluginFailure>| {
        let publish = publish.clone();
        let plugin: PluginFn = Arc::new(move |call: &PluginCall, _: &Event| match &publish {
            Some(with) => run(with, call),
            None => Err(PluginFailure::Failed(
                "this host is not signed in to an ftrack server (`ftrack-connect login`, \
                 or `ftrack-connect run` with its local server)"
                    .into(),
            )),
        });
        plugin
    };
    let finalizer = with_server(finalize);
    let plugins: [(&str, &str, PluginFn); 9] = [
        (
            "publisher.context",
            "common_passthrough_publisher_context",
            Arc::new(|call: &PluginCall, _: &Event| Ok(passthrough_context(&call.options))),
        ),
        (
            "publisher.collector",
            "common_path_publisher_collector",
            Arc::new(|call: &PluginCall, _: &Event| {
                let path = call.options.get("path").cloned().unwrap_or(Value::Null);
                Ok(match call.method.as_str() {
                    "run" => json!([path]),
                    _ => path,
                })
            }),
        ),
        (
            "publisher.validator",
            "common_file_exists_publisher_validator",
            Arc::new(|call: &PluginCall, _: &Event| files_exist(&call.data)),
        ),
        (
            "publisher.exporter",
            "common_passthrough_publisher_exporter",
            Arc::new(|call: &PluginCall, _: &Event| Ok(Value::Array(collected_values(&call.data)))),
        ),
        (
            "publisher.pre_finalizer",
            "common_passthrough_publisher_pre_finalizer",
            Arc::new(|_: &PluginCall, _: &Event| Ok(json!({}))),
        ),
        (
            "publisher.finalizer",
            "common_passthrough_publisher_finalizer",
            finalizer,
        ),
        (
            "publisher.post_finalizer",
            "common_passthrough_publisher_post_finalizer",
            Arc::new(|_: &PluginCall, _: &Event| Ok(json!({}))),
        ),
        (
            "asset_manager.resolver",
            "common_default_am_resolver",
            with_server(asset_manager::resolve),
        ),
        (
            "asset_manager.action",
            "common_update_latest_am_action",
            with_server(asset_manager::latest),
        ),
    ];
    let count = plugins.len();
    for (plugin_type, name, run) in plugins {
        let spec = PluginSpec::new(STANDALONE_HOST_TYPE, plugin_type, name)
            .expect("the shipped plugins' types are the framework's");
        plugin::subscribe(hub, spec, Some(tag.clone()), run)?;
    }
    Ok(count)
}

/// The context plugin's value: its options, with the keys a context must have (null when
/// not set).
fn passthrough_context(options: &Value) -> Value {
    let mut context: Map<String, Value> = plugin::CONTEXT_KEYS
        .iter()
        .map(|key| (key.to_string(), Value::Null))
        .collect();
    if let Value::Object(options) = options {
        context.extend(options.clone());
    }
    Value::Object(context)
}

/// The validator: `true` when every collected path is a file; refused naming the first that
/// is not, or when nothing was collected.
fn files_exist(data: &Value) -> Result<Value, PluginFailure> {
    let paths = collected_values(data);
    if paths.is_empty() {
        return Err(PluginFailure::Refused("no file was collected".into()));
    }
    for path in &paths {
        match path.as_str() {
            Some(text) if Path::new(text).is_file() => {}
            Some(text) => {
                return Err(PluginFailure::Refused(format!(
                    "{text} does not exist or is not a file"
                )))
            }
            None => {
                return Err(PluginFailure::Refused(format!(
                    "a collected path is {path}, not text"
                )))
            }
        }
    }
    Ok(Value::Bool(true))
}

/// Text of `value[key]`, when it is non-empty text.
fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The finalizer's publish (see the module's documentation).
fn finalize(with: &PublishWith, call: &PluginCall) -> Result<Value, PluginFailure> {
    let context = &call.context_data;
    let refuse = |why: String| Err(PluginFailure::Refused(why));
    let Some(context_id) = text(context, "context_id") else {
        return refuse("the context has no context_id (set the context plugin's option)".into());
    };
    let mut components = Vec::new();
    let mut thumbnail = None;
    for step in call.data.as_array().into_iter().flatten() {
        if step["type"] != "component" {
            continue;
        }
        let name = text(step, "name").unwrap_or("main");
        let files: Vec<String> = step["result"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|stage| collected_values(&stage["result"]))
            .filter_map(|path| path.as_str().map(str::to_string))
            .collect();
        let file = match files.as_slice() {
            [] => continue,
            [file] => file,
            more => {
                return refuse(format!(
                    "the {name} step exported {} files: a component is one file, or a \
                     sequence given as one path such as `/r/a.%04d.exr [1001-1100]`",
                    more.len()
                ))
            }
        };
        if name == THUMBNAIL_STEP {
            thumbnail = Some(PathBuf::from(file));
        } else {
            components.push(ComponentSource::read(file, Some(name)).map_err(|e| e.to_string())?);
        }
    }
    if components.is_empty() {
        return refuse("no component step exported a file".into());
    }
    let status_id = text(context, "status_id");
    if let Some(status_id) = status_id {
        let found = with.query(format!(
            "select id from Status where id is {}",
            quoted(status_id)
        ))?;
        if found.is_empty() {
            return refuse(format!("there is no status with id {status_id}"));
        }
    }
    let component_names: Vec<String> = components
        .iter()
        .map(|c| c.name.clone())
        .chain(thumbnail.as_ref().map(|_| THUMBNAIL_STEP.to_string()))
        .collect();
    let request = Request {
        context: Context::Entity {
            entity_type: "TypedContext".into(),
            id: context_id.into(),
        },
        asset_name: text(context, "asset_name").map(str::to_string),
        asset_type: text(context, "asset_type_name").map(str::to_string),
        description: text(context, "comment").unwrap_or_default().to_string(),
        thumbnail,
        web_playable: None,
        location: None,
        components,
    };
    let (client, journal, locations) = (
        with.client.clone(),
        with.journal_dir.clone(),
        with.locations.clone(),
    );
    let published = with
        .wait_for(async move {
            let publisher =
                Publisher::new(&client, &journal, &Quiet).with_disk_locations(locations);
            publisher.publish(&request).await
        })?
        .map_err(|err| err.to_string())?;
    let mut warnings = published.warnings.clone();
    if let Some(status_id) = status_id {
        let client = with.client.clone();
        let (version, status) = (json!(published.version_id), json!({"status_id": status_id}));
        let set = with
            .wait_for(async move { client.update("AssetVersion", vec![version], status).await })?;
        if let Err(err) = set {
            warnings.push(format!("the version's status was not set: {err}"));
        }
    }
    Ok(json!({
        "asset_version_id": published.version_id,
        "asset_id": published.asset_id,
        "component_names": component_names,
        "version": published.version,
        "url": format!(
            "{}/#entityId={}&entityType=assetversion",
            with.client.server_url().trim_end_matches('/'),
            published.version_id
        ),
        "warnings": warnings,
    }))
}
