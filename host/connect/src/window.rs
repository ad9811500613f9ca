//! The host as the window sees it ([`connect_window::WindowHost`]): what `status` and
//! `plugins --json` print, a reload as `run --watch` does after a change, the server's API
//! for the entity browser, actions as `ftrack-connect actions` discovers and launches them,
//! what About shows, the log file the Logs tab follows, and the plugins' tabs with what they
//! may do in the hub.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use connect_core::{EventHub, PluginTag, SubscribeOptions};
use connect_event::payloads::{ActionItem, ActionItems, ActionLaunch, ActionReply};
use connect_event::{topics, Event};
use connect_plugins::install::{self, InstallError};
use connect_plugins::PluginStatus;
use connect_window::{Handover, Refusal, Widget};
use serde_json::{json, Map, Value};

use crate::action_groups::group_actions;
use crate::host::{Host, HostOptions};
use crate::publishing::{drop_zone, HubWebPlayable};
use crate::{credentials, desktop, locations, logging};
use connect_core::ApiKey;
use connect_ftrack_api::{quoted, Client};
use connect_pipeline::client::{
    discoverable, set_context, Client as PipelineClient, LogViewerClient, QueuedHubTransport,
    RunOutcome,
};
use connect_pipeline::log::LogQuery;
use connect_pipeline::DefinitionType;
use connect_publisher::{ComponentSource, Context, DiskLocation, Publisher, Request};

/// The running host, for its window.
pub struct HostWindow {
    /// The host.
    pub host: Arc<Host>,
    /// Where it was told to look for plugins and launcher configs (About shows them).
    pub options: HostOptions,
    /// The user data folder.
    pub data_dir: PathBuf,
    /// Where asynchronous work (publishes, trying a key) runs.
    pub runtime: tokio::runtime::Handle,
    /// What publishing needs, when the host is signed in to a server.
    pub publishing: Option<Publishing>,
    /// Asks `run` to restart the host in this process (after a sign-in or sign-out).
    pub restart: Box<dyn Fn(Handover) + Send + Sync>,
}

/// What the Publish tab's publishes need: the server's API and the disk locations the
/// plugins declared at start-up.
pub struct Publishing {
    /// The signed-in server's API.
    pub client: Arc<Client>,
    /// What the `configure-location` hooks declared.
    pub locations: Vec<DiskLocation>,
}

impl HostWindow {
    /// Publishes `event` as the window's and returns its answers, as the endpoint does for
    /// `actions`: the asynchronous events it causes are the resident host's event queue's to
    /// dispatch, so a long chain of them never holds up the page.
    fn answers(&self, mut event: Event) -> Vec<Value> {
        self.host.hub().publish(&mut event)
    }
}

/// How long the window looks for pipeline hosts.
const PIPELINE_DISCOVERY: Duration = Duration::from_secs(2);

/// How long a pipeline run started from the window may take.
const PIPELINE_RUN_TIME_OUT: Duration = Duration::from_secs(3600);

impl HostWindow {
    /// A pipeline client of every host linked to this host's hub (through the server when
    /// signed in to one).
    fn pipeline_client(&self) -> PipelineClient {
        PipelineClient::new(Arc::new(QueuedHubTransport::new(self.host.hub())))
    }

    /// What a context is called, lower-cased, as the framework matches definitions'
    /// `discoverable` against it: its entity type, its type's name, its name.
    fn context_identifiers(&self, id: &str) -> Result<Vec<String>, String> {
        let found = connect_window::WindowHost::query(
            self,
            &format!(
                "select name, type.name from TypedContext where id is {}",
                quoted(id)
            ),
        )?;
        let context = found
            .first()
            .ok_or_else(|| format!("there is no context with id {id}"))?;
        Ok([
            &context["__entity_type__"],
            &context["type"]["name"],
            &context["name"],
        ]
        .into_iter()
        .filter_map(Value::as_str)
        .map(str::to_lowercase)
        .collect())
    }
}

impl connect_window::WindowHost for HostWindow {
    fn status(&self) -> Value {
        self.host.status()
    }

    fn plugins(&self) -> Value {
        json!({ "plugins": self.host.plugin_reports() })
    }

    fn reload_plugins(&self) {
        self.host.registry().refresh();
    }

    fn query(&self, expression: &str) -> Result<Vec<Value>, String> {
        let api = self.host.server_api().ok_or(
            "this host is not signed in to an ftrack server (`ftrack-connect login`)".to_string(),
        )?;
        api.query(expression).map_err(|err| err.to_string())
    }

    fn actions(&self, selection: &[Value]) -> Value {
        let event =
            Event::new(topics::ACTION_DISCOVER).with_data(json!({ "selection": selection }));
        let items = ActionItems::collect(&self.answers(event));
        let groups: Vec<Value> = group_actions(&items)
            .into_iter()
            .map(|group| json!({ "label": group.label, "items": group.items }))
            .collect();
        Value::Array(groups)
    }

    fn launch(&self, item: Value, selection: Vec<Value>) -> Value {
        let item: ActionItem = match serde_json::from_value(item) {
            Ok(item) => item,
            Err(err) => return json!([{ "success": false, "message": err.to_string() }]),
        };
        let data = ActionLaunch {
            item,
            selection: serde_json::from_value(Value::Array(selection)).unwrap_or_default(),
        };
        let event = Event::new(topics::ACTION_LAUNCH)
            .with_data(serde_json::to_value(data).expect("launch data is JSON"));
        let replies: Vec<Value> = self
            .answers(event)
            .iter()
            .filter_map(ActionReply::from_answer)
            .map(|reply| json!({ "success": reply.success, "message": reply.message_text() }))
            .collect();
        Value::Array(replies)
    }

    fn about(&self) -> Value {
        let answers = self.answers(Event::new(topics::CONNECT_PLUGIN_DEBUG_INFORMATION));
        // Each answer is one plugin's entry or a list of them (the host's own answer).
        let debug_information: Vec<Value> = answers
            .into_iter()
            .flat_map(|answer| match answer {
                Value::Array(entries) => entries,
                Value::Null => Vec::new(),
                entry => vec![entry],
            })
            .collect();
        let paths = &self.options.search_paths;
        let mut variables: Vec<(String, String)> = std::env::vars_os()
            .map(|(name, value)| {
                (
                    name.to_string_lossy().into_owned(),
                    value.to_string_lossy().into_owned(),
                )
            })
            .collect();
        variables.sort();
        let environment: Map<String, Value> = variables
            .into_iter()
            .map(|(name, value)| (name, Value::String(value)))
            .collect();
        json!({
            "debug_information": debug_information,
            "versions": {
                "ftrack-connect": env!("CARGO_PKG_VERSION"),
                "os": std::env::consts::OS,
                "arch": std::env::consts::ARCH,
            },
            "paths": {
                "data": self.data_dir,
                "log file": logging::log_file(&self.data_dir),
                "plugin folders": paths.plugin_roots,
                "hook folders": paths.hook_dirs,
                "launcher configs": self.options.launcher_config_paths,
            },
            "environment": environment,
        })
    }

    fn log_file(&self) -> PathBuf {
        logging::log_file(&self.data_dir)
    }

    fn widgets(&self) -> Vec<Widget> {
        self.host
            .plugin_reports()
            .into_iter()
            .filter(|report| report.status == PluginStatus::Loaded)
            .flat_map(|report| widgets_in(&report.name, Path::new(&report.path)))
            .collect()
    }

    fn publish_as(&self, plugin: &str, event: Value) -> Result<Vec<Value>, String> {
        let mut event: Event = serde_json::from_value(event)
            .map_err(|err| format!("not an event ({{topic, data, target}}): {err}"))?;
        let mut source = Map::new();
        source.insert("id".into(), json!(plugin));
        source.insert("applicationId".into(), json!(WIDGET_APPLICATION_ID));
        event.source = source.into();
        event.in_reply_to_event = None;
        Ok(self.answers(event))
    }

    fn subscribe_as(
        &self,
        plugin: &str,
        expression: &str,
        deliver: Box<dyn Fn(Value) + Send + Sync>,
    ) -> Result<Box<dyn Send>, String> {
        let handler = move |event: &mut Event| {
            deliver(serde_json::to_value(&*event).unwrap_or(Value::Null));
            Ok(Value::Null)
        };
        let mut subscriber = Map::new();
        subscriber.insert("applicationId".into(), json!(WIDGET_APPLICATION_ID));
        subscriber.insert("plugin".into(), json!(plugin));
        let options = SubscribeOptions {
            subscriber,
            // Its own tag: reloading the plugin must not remove a tab's subscription, which
            // lasts as long as the tab listens.
            plugin: Some(PluginTag::new(&format!("{plugin} (tab)"))),
            ..SubscribeOptions::default()
        };
        let hub = self.host.hub();
        let id = hub
            .subscribe(expression, Arc::new(handler), options)
            .map_err(|err| err.to_string())?;
        Ok(Box::new(TabSubscription {
            hub: Arc::downgrade(hub),
            id,
        }))
    }

    fn install_plugin(&self, archive: &str, bytes: &[u8], replace: bool) -> Result<Value, Refusal> {
        let plugin_dir = self.plugin_dir();
        let folder = install::install_zip(bytes, archive, &plugin_dir, replace).map_err(refusal)?;
        tracing::info!(
            "window: installed {archive} as {}{}",
            folder.display(),
            if replace {
                " (replacing the folder)"
            } else {
                ""
            }
        );
        let mut answer = self.refreshed();
        answer["folder"] = json!(folder);
        Ok(answer)
    }

    fn remove_plugin(&self, name: &str) -> Result<Value, Refusal> {
        let plugin_dir = self.plugin_dir();
        let reports = self.host.plugin_reports();
        let report = reports
            .iter()
            .find(|report| report.name == name)
            .ok_or_else(|| Refusal::Invalid(format!("there is no plugin {name:?}")))?;
        install::remove_plugin(Path::new(&report.path), &plugin_dir).map_err(refusal)?;
        tracing::info!("window: removed plugin {name} ({})", report.path);
        Ok(self.refreshed())
    }

    fn group_files(&self, names: &[String]) -> Result<Vec<Value>, String> {
        let groups = drop_zone(names)?;
        Ok(groups
            .into_iter()
            .map(|dropped| {
                json!({
                    "name": connect_publisher::default_name(&dropped.identifier),
                    "kind": if dropped.sequence { "sequence" } else { "file" },
                    "members": dropped.files.len(),
                    "identifier": dropped.identifier,
                    "files": dropped.files,
                })
            })
            .collect())
    }

    fn publish_files(
        &self,
        request: Value,
        folder: &Path,
        progress: Box<dyn Fn(Value) + Send + Sync>,
    ) -> Result<Value, String> {
        let publishing = self.publishing.as_ref().ok_or(
            "this host is not signed in to an ftrack server (`ftrack-connect login`)".to_string(),
        )?;
        let request = publish_request(&request, folder)?;
        let progress = WindowProgress::new(progress);
        let user = publishing.client.api_user().to_string();
        let hook = HubWebPlayable {
            host: &self.host,
            user,
        };
        let publisher = Publisher::new(
            &publishing.client,
            &self.data_dir.join("publish"),
            &progress,
        )
        .with_disk_locations(publishing.locations.clone())
        .with_web_playable(&hook);
        let published = self
            .runtime
            .block_on(publisher.publish(&request))
            .map_err(|err| err.to_string())?;
        let mut answer = serde_json::to_value(&published).map_err(|err| err.to_string())?;
        answer["url"] = json!(format!(
            "{}/#entityId={}&entityType=assetversion",
            publishing.client.server_url().trim_end_matches('/'),
            published.version_id
        ));
        Ok(answer)
    }

    fn pipeline_hosts(&self, context: Option<&str>) -> Result<Vec<Value>, String> {
        let client = self.pipeline_client();
        let hosts = client
            .discover_hosts(PIPELINE_DISCOVERY)
            .map_err(|err| err.to_string())?;
        let identifiers = match context {
            Some(id) => Some(self.context_identifiers(id)?),
            None => None,
        };
        Ok(hosts
            .into_iter()
            .map(|host| {
                let mut reply = host.reply().clone();
                if let Some(identifiers) = &identifiers {
                    for kind in DefinitionType::ALL {
                        if let Some(list) = reply["definition"][kind.as_str()].as_array_mut() {
                            list.retain(|definition| discoverable(definition, identifiers));
                        }
                    }
                }
                reply
            })
            .collect())
    }

    fn pipeline_run(
        &self,
        host_id: &str,
        mut definition: Value,
        context: Option<&str>,
        progress: Box<dyn Fn(Value) + Send + Sync>,
    ) -> Result<Value, Value> {
        let failed = |message: String| json!({ "error": message });
        let client = self.pipeline_client();
        let hosts = client
            .discover_hosts(PIPELINE_DISCOVERY)
            .map_err(|err| failed(err.to_string()))?;
        let host = hosts
            .into_iter()
            .find(|host| host.id() == host_id)
            .ok_or_else(|| failed(format!("the pipeline host {host_id} did not answer")))?;
        client
            .change_host(host)
            .map_err(|err| failed(err.to_string()))?;
        if let Some(context) = context {
            set_context(&mut definition, context);
        }
        client
            .change_definition(definition)
            .map_err(|err| failed(err.to_string()))?;
        client.on_notification(move |event| {
            let mut shown = event.data["pipeline"].clone();
            if let Value::Object(fields) = &mut shown {
                fields.insert("topic".into(), json!(event.topic));
            }
            progress(shown);
        });
        match client.run_definition(PIPELINE_RUN_TIME_OUT) {
            Ok(RunOutcome::Done(results)) => Ok(results),
            Ok(RunOutcome::Failed(reply)) => Err(reply),
            Err(err) => Err(failed(err.to_string())),
        }
    }

    fn pipeline_logs(&self, host_id: Option<&str>, limit: usize) -> Result<Vec<Value>, String> {
        let path = locations::pipeline_log_file(&self.data_dir);
        if !path.is_file() {
            return Ok(Vec::new());
        }
        let query = LogQuery {
            host_id: host_id.map(str::to_string),
            limit: Some(limit),
            ..Default::default()
        };
        let entries = LogViewerClient::open(&path)
            .and_then(|viewer| viewer.logs(&query))
            .map_err(|err| err.to_string())?;
        entries
            .into_iter()
            .map(|entry| serde_json::to_value(entry).map_err(|err| err.to_string()))
            .collect()
    }

    fn site_url(&self, server: &str) -> String {
        credentials::site_url(server)
    }

    fn sign_in(&self, server: &str, user: &str, key: &str) -> Result<String, String> {
        if std::env::var_os("FTRACK_SERVER").is_some()
            && std::env::var_os("FTRACK_API_KEY").is_some()
        {
            return Err(
                "this host is signed in by its environment (FTRACK_SERVER and \
                        FTRACK_API_KEY), which wins over a sign-in here: unset them first"
                    .into(),
            );
        }
        let server = credentials::site_url(server.trim());
        let key = ApiKey::new(key.trim());
        let user = user.trim();
        self.runtime
            .block_on(credentials::try_key(&server, user, &key))?;
        credentials::store(&self.data_dir, &server, user, &key)
            .map_err(|err| format!("cannot keep the sign-in: {err}"))?;
        tracing::info!("window: signed in to {server} as {user}; restarting to use it");
        Ok(server)
    }

    fn sign_out_of_server(&self) -> Result<(), String> {
        match credentials::remove(&self.data_dir) {
            Ok(Some((server, user))) => {
                tracing::info!("window: signed out of {server} ({user}); restarting");
                Ok(())
            }
            Ok(None) => Err("nobody is signed in here (the local server needs no sign-in)".into()),
            Err(err) => Err(format!("cannot sign out: {err}")),
        }
    }

    fn restart(&self, handover: Handover) {
        (self.restart)(handover);
    }

    fn open_plugin_folder(&self) -> (PathBuf, Result<(), String>) {
        let plugin_dir = self.plugin_dir();
        let opened = std::fs::create_dir_all(&plugin_dir)
            .map_err(|err| err.to_string())
            .and_then(|()| desktop::open_folder(&plugin_dir));
        (plugin_dir, opened)
    }
}

impl HostWindow {
    /// Where plugins are installed: the default plugin directory when the host searches it,
    /// else the first folder it searches (`FTRACK_CONNECT_PLUGIN_PATH` replaces the default).
    fn plugin_dir(&self) -> PathBuf {
        let default_dir = locations::default_plugin_dir();
        let roots = &self.options.search_paths.plugin_roots;
        if roots.contains(&default_dir) {
            return default_dir;
        }
        roots.first().cloned().unwrap_or(default_dir)
    }

    /// The plugins as the window lists them, after a refresh picked up a change on disk.
    fn refreshed(&self) -> Value {
        self.host.registry().refresh();
        json!({ "plugins": self.host.plugin_reports() })
    }
}

/// An install or removal error as the window's refusal.
fn refusal(err: InstallError) -> Refusal {
    match err {
        InstallError::Exists { .. } => Refusal::Conflict(err.to_string()),
        _ => Refusal::Invalid(err.to_string()),
    }
}

/// `source.applicationId` of what plugin tabs publish, and their subscriptions'.
const WIDGET_APPLICATION_ID: &str = "ftrack.connect.widget";

/// A plugin tab's subscription, removed when the tab stops listening.
struct TabSubscription {
    hub: Weak<EventHub>,
    id: String,
}

impl Drop for TabSubscription {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            let _ = hub.unsubscribe(&self.id);
        }
    }
}

/// The tabs the plugin folder `folder` ships: `resource/widget/<name>/index.html`.
fn widgets_in(plugin: &str, folder: &Path) -> Vec<Widget> {
    let Ok(entries) = std::fs::read_dir(folder.join("resource").join("widget")) else {
        return Vec::new();
    };
    let mut widgets: Vec<Widget> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|tab| tab.join("index.html").is_file())
        .filter_map(|tab| {
            Some(Widget {
                plugin: plugin.to_string(),
                name: tab.file_name()?.to_str()?.to_string(),
                folder: tab,
            })
        })
        .collect();
    widgets.sort_by(|a, b| a.name.cmp(&b.name));
    widgets
}

/// The window's publish request as the publisher's, its files in `folder`.
fn publish_request(request: &Value, folder: &Path) -> Result<Request, String> {
    let text = |key: &str| request[key].as_str().filter(|t| !t.is_empty());
    let in_folder = |name: &str| -> Result<String, String> {
        if name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(format!("not a file of this publish: {name:?}"));
        }
        Ok(folder.join(name).display().to_string())
    };
    let (Some(entity_type), Some(id)) = (
        request["context"]["type"].as_str(),
        request["context"]["id"].as_str(),
    ) else {
        return Err("pick what to publish against (a task, usually)".into());
    };
    let mut components = Vec::new();
    for component in request["components"].as_array().into_iter().flatten() {
        let (Some(name), Some(identifier)) =
            (component["name"].as_str(), component["identifier"].as_str())
        else {
            return Err("a component needs a name and its files".into());
        };
        let source = ComponentSource::read(&in_folder(identifier)?, Some(name))
            .map_err(|err| err.to_string())?;
        components.push(source);
    }
    if components.is_empty() {
        return Err("nothing to publish: drop files first".into());
    }
    Ok(Request {
        context: Context::Entity {
            entity_type: entity_type.to_string(),
            id: id.to_string(),
        },
        asset_name: text("asset_name").map(str::to_string),
        asset_type: text("asset_type").map(str::to_string),
        description: text("description").unwrap_or_default().to_string(),
        thumbnail: text("thumbnail")
            .map(in_folder)
            .transpose()?
            .map(PathBuf::from),
        web_playable: text("web_playable").map(str::to_string),
        location: None,
        components,
    })
}

/// The publisher's progress, told to the window as `{files, files_done, bytes, bytes_done,
/// current}`.
struct WindowProgress {
    tell: Box<dyn Fn(Value) + Send + Sync>,
    counts: std::sync::Mutex<(u64, u64, u64, u64, String)>,
}

impl WindowProgress {
    fn new(tell: Box<dyn Fn(Value) + Send + Sync>) -> WindowProgress {
        WindowProgress {
            tell,
            counts: std::sync::Mutex::new((0, 0, 0, 0, String::new())),
        }
    }

    fn change(&self, change: impl FnOnce(&mut (u64, u64, u64, u64, String))) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut counts);
        let (files, files_done, bytes, bytes_done, current) = &*counts;
        (self.tell)(json!({
            "files": files, "files_done": files_done, "bytes": bytes,
            "bytes_done": bytes_done, "current": current,
        }));
    }
}

impl connect_publisher::Progress for WindowProgress {
    fn start(&self, files: u64, bytes: u64) {
        self.change(|c| {
            c.0 = files;
            c.2 = bytes;
        });
    }

    fn file(&self, name: &str) {
        let short = name.rsplit(['/', '\\']).next().unwrap_or(name).to_string();
        self.change(|c| {
            c.1 = (c.1 + 1).min(c.0.max(1));
            c.4 = short;
        });
    }

    fn advance(&self, bytes: u64) {
        self.change(|c| c.3 += bytes);
    }

    fn say(&self, message: &str) {
        let message = message.to_string();
        self.change(|c| c.4 = message);
    }
}
