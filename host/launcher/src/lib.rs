//! The application launcher: offers "launch Maya 2024 for this task" as actions and starts
//! the program with the task's context.
//!
//! It is the host's Rust counterpart of ftrack's `ftrack-application-launcher` plugin, built
//! in because it must walk folders and start processes, which sandboxed Rhai hooks may not.
//! It reads the launcher configs ([`config`], ftrack's format) in every loaded plugin's
//! `launch/` folder and in the folders of `FTRACK_APPLICATION_LAUNCHER_CONFIG_PATHS`. Configs
//! sharing an `identifier` form one action, which subscribes two handlers:
//!
//! - `ftrack.action.discover` (from this host's user): when the selection suits the config's
//!   `context`, one item per installed version, newest first. Installed versions are found
//!   ([`search`]) the first time they are asked for and then kept for the life of the host, so
//!   a discover with many configs costs no file system access; a program installed later is
//!   seen after a restart, as in Connect. Configs with `integrations` are offered only when
//!   every integration of each group answers `ftrack.connect.application.discover`, as ftrack
//!   does.
//! - `ftrack.action.launch` with its `actionIdentifier`: finds the chosen version again from
//!   the item's `applicationIdentifier` (and `version`), publishes
//!   `ftrack.connect.application.launch` so that hooks can change the command and the
//!   environment, and starts the program detached ([`spawn`]). The reply is
//!   `{success, message}`; the event is stopped, as ftrack's launcher stops it.
//!
//! A config that cannot be read or checked is reported (with its file) and skipped; the others
//! work regardless.
#![deny(missing_docs)]

pub mod config;
pub mod environment;
mod launch;
pub mod search;
pub mod spawn;

pub use config::platform;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, Weak};

use connect_event::Event;
use serde_json::{json, Map, Value};

use config::{Format, LauncherConfig, SearchPath, LAST_PRIORITY};
use connect_core::{
    EventHub, Expression, Handler, HandlerCall, HandlerError, Identity, PluginTag, Reply,
    SubscribeOptions,
};
use connect_event::topics;
use search::{find_installations, Installation};

/// The launcher's name in `ftrack-connect plugins`.
pub const NAME: &str = "application-launcher";
/// Shown as the launcher's path in `ftrack-connect plugins`: it has no file on disk.
pub const BUILTIN_PATH: &str = "<built-in>/application-launcher";
/// Folders of launcher configs (OS path list), as ftrack's application launcher reads them.
pub const CONFIG_PATHS_VAR: &str = "FTRACK_APPLICATION_LAUNCHER_CONFIG_PATHS";
/// The folder of a plugin that holds its launcher configs (Connect 26).
pub const LAUNCH_FOLDER: &str = "launch";
/// Published before a program starts; handlers may change the command and environment.
pub const APPLICATION_LAUNCH_TOPIC: &str = topics::APPLICATION_LAUNCH;
/// Published to find which integrations are available for a program.
pub const APPLICATION_DISCOVER_TOPIC: &str = topics::APPLICATION_DISCOVER;

/// A folder that may hold launcher configs, and whose problems they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigDir {
    /// The folder.
    pub path: PathBuf,
    /// The plugin folder whose `launch/` this is; None for a folder of
    /// `FTRACK_APPLICATION_LAUNCHER_CONFIG_PATHS` (the launcher's own).
    pub plugin: Option<PathBuf>,
}

/// A config that was skipped, and why. `plugin` as in [`ConfigDir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The plugin folder the config belongs to.
    pub plugin: Option<PathBuf>,
    /// What is wrong, naming the file.
    pub message: String,
}

/// Reads and checks every config in `dirs` (files ending in `.json`, `.yaml` or `.yml`, sorted
/// by name; sub-folders are not walked, as in ftrack). A file reached twice is read once.
pub fn read_configs(
    dirs: &[ConfigDir],
    platform: &str,
) -> (Vec<LauncherConfig>, Vec<ConfigProblem>) {
    let mut configs = Vec::new();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for dir in dirs {
        let mut report = |message: String| {
            problems.push(ConfigProblem {
                plugin: dir.plugin.clone(),
                message,
            })
        };
        let entries = match std::fs::read_dir(&dir.path) {
            Ok(entries) => entries,
            // A plugin without launch/ is the usual case; a configured folder that is missing
            // is worth saying, as ftrack's launcher does.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                if dir.plugin.is_none() {
                    report(format!(
                        "launcher config folder {} (from {CONFIG_PATHS_VAR}) does not exist",
                        dir.path.display()
                    ));
                }
                continue;
            }
            Err(err) => {
                report(format!(
                    "cannot read launcher config folder {}: {err}",
                    dir.path.display()
                ));
                continue;
            }
        };
        let mut files: Vec<(PathBuf, Format)> = entries
            .filter_map(Result::ok)
            .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|entry| {
                let path = entry.path();
                Format::of(&path).map(|format| (path, format))
            })
            .filter(|(path, _)| path.is_file())
            .collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        for (file, format) in files {
            if !seen.insert(std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone())) {
                continue;
            }
            let text = match std::fs::read_to_string(&file) {
                Ok(text) => text,
                Err(err) => {
                    report(format!(
                        "launcher config {}: cannot read: {err}",
                        file.display()
                    ));
                    continue;
                }
            };
            match config::parse(&file, format, &text, platform) {
                Ok(config) => configs.push(config),
                Err(err) => report(format!("launcher config {err}")),
            }
        }
    }
    (configs, problems)
}

/// Reads the configs in `dirs` and subscribes the launcher's handlers to `hub`, tagged with
/// `plugin`. Returns the configs that were skipped (each also logged as a warning).
pub fn register(
    hub: &Arc<EventHub>,
    plugin: &PluginTag,
    dirs: &[ConfigDir],
    identity: &Identity,
) -> Vec<ConfigProblem> {
    let shared = Arc::new(Shared {
        hub: Arc::downgrade(hub),
        identity: identity.clone(),
        hostname: hub.identity().hostname.clone(),
        platform: platform(),
    });
    let (configs, problems) = read_configs(dirs, shared.platform);
    for problem in &problems {
        tracing::warn!("{}", problem.message);
    }
    let mut actions: Vec<Action> = Vec::new();
    for config in configs {
        let application = Application {
            config,
            offers: OnceLock::new(),
        };
        match actions
            .iter_mut()
            .find(|action| action.identifier == application.config.identifier)
        {
            Some(action) => action.applications.push(application),
            None => actions.push(Action {
                identifier: application.config.identifier.clone(),
                applications: vec![application],
                shared: shared.clone(),
            }),
        }
    }
    tracing::debug!("application launcher: {} actions", actions.len());
    for action in actions {
        let action = Arc::new(action);
        // Configs sharing an identifier share handlers; the most urgent priority among them.
        let priority = action
            .applications
            .iter()
            .map(|application| application.config.priority)
            .min()
            .unwrap_or(LAST_PRIORITY);
        let from_user = Expression::equals("source.user.username", &identity.api_user);
        let discover = Expression::All(vec![
            Expression::equals("topic", topics::ACTION_DISCOVER),
            from_user.clone(),
        ]);
        let launch = Expression::All(vec![
            Expression::equals("topic", topics::ACTION_LAUNCH),
            Expression::equals("data.actionIdentifier", &action.identifier),
            from_user,
        ]);
        let handlers: [(Expression, Arc<dyn Handler>); 2] = [
            (discover, Arc::new(DiscoverHandler(action.clone()))),
            (launch, Arc::new(LaunchHandler(action.clone()))),
        ];
        for (expression, handler) in handlers {
            let options = SubscribeOptions {
                priority,
                plugin: Some(plugin.clone()),
                ..Default::default()
            };
            hub.subscribe_expression(expression, handler, options)
                .expect("a fresh subscriber id is unique");
        }
    }
    problems
}

/// What every action of the launcher needs.
struct Shared {
    /// Weak: the hub owns the handlers that own this.
    hub: Weak<EventHub>,
    identity: Identity,
    /// This machine: items carry it, and a launch for another machine is left alone.
    hostname: String,
    platform: &'static str,
}

/// The configs sharing one `identifier`.
struct Action {
    identifier: String,
    applications: Vec<Application>,
    shared: Arc<Shared>,
}

/// One config and, once asked for, its installed versions.
struct Application {
    config: LauncherConfig,
    offers: OnceLock<Vec<Offer>>,
}

/// One installed version, ready to be offered and launched.
struct Offer {
    path: PathBuf,
    version: String,
    label: String,
    variant: String,
    application_identifier: String,
    /// The `ftrack.action.discover` item.
    item: Value,
    /// `data.application` of the launcher's events, shaped as ftrack's.
    application: Value,
}

impl Application {
    /// The installed versions, newest first: searched for on the first call, then kept.
    fn offers(&self, shared: &Shared) -> &[Offer] {
        self.offers.get_or_init(|| {
            let Some(search) = &self.config.search_path else {
                return Vec::new();
            };
            let installations = find_installations(search);
            tracing::debug!(
                "launcher config {}: {} installed versions",
                self.config.file.display(),
                installations.len()
            );
            installations
                .into_iter()
                .map(|installation| self.offer(installation, search, shared))
                .collect()
        })
    }

    fn offer(&self, installation: Installation, search: &SearchPath, shared: &Shared) -> Offer {
        let config = &self.config;
        let version = installation.version;
        let mut variant = fill(&config.variant, &version, "");
        if !config.integrations.is_empty() {
            // ftrack marks variants that come with integrations: `2024 [pipeline]`.
            let groups: Vec<&str> = config
                .integrations
                .iter()
                .map(|(g, _)| g.as_str())
                .collect();
            variant = format!("{variant} [{}]", groups.join(":"))
                .trim()
                .to_string();
        }
        let label = fill(&config.label, &version, &variant);
        let application_identifier = fill(&config.application_identifier, &version, &variant);
        let description = config
            .description
            .as_deref()
            .map(|text| fill(text, &version, &variant));
        let icon = icon_url(&config.icon, &shared.identity.server_url);
        let integrations: Map<String, Value> = config
            .integrations
            .iter()
            .map(|(group, names)| (group.clone(), json!(names)))
            .collect();
        let mut item = Map::new();
        item.insert("label".into(), json!(label));
        if !variant.is_empty() {
            item.insert("variant".into(), json!(variant));
        }
        item.insert("actionIdentifier".into(), json!(config.identifier));
        if let Some(description) = &description {
            item.insert("description".into(), json!(description));
        }
        item.insert("icon".into(), json!(icon));
        item.insert(
            "applicationIdentifier".into(),
            json!(application_identifier),
        );
        item.insert("version".into(), json!(version));
        if !integrations.is_empty() {
            item.insert("integrations".into(), Value::Object(integrations.clone()));
        }
        item.insert("host".into(), json!(shared.hostname));
        let application = json!({
            "identifier": application_identifier,
            "path": installation.path.to_string_lossy(),
            "launchArguments": search.launch_arguments,
            "version": version,
            "label": label,
            "icon": icon,
            "variant": variant,
            "description": description,
            "integrations": integrations,
        });
        Offer {
            path: installation.path,
            version,
            label,
            variant,
            application_identifier,
            item: Value::Object(item),
            application,
        }
    }
}

impl Offer {
    /// `Maya 2024`, for messages.
    fn display_name(&self) -> String {
        if self.variant.is_empty() {
            self.label.clone()
        } else {
            format!("{} {}", self.label, self.variant)
        }
    }
}

/// `data.selection` of an action event; empty when missing or not a list.
fn selection(data: &Value) -> &[Value] {
    data.get("selection")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The context ftrack's launcher hands to hooks and to the program: the action event's data
/// with its `source`.
fn launch_context(event: &Event) -> Value {
    let mut context = match &event.data {
        Value::Object(data) => data.clone(),
        _ => Map::new(),
    };
    context.insert(
        "source".into(),
        Value::Object(event.source.clone().into_map()),
    );
    Value::Object(context)
}

impl Action {
    fn discover(&self, event: &Event) -> Value {
        let selection = selection(&event.data);
        let mut context = None;
        let mut offers: Vec<&Offer> = Vec::new();
        for application in &self.applications {
            if !application.config.context.accepts(selection) {
                continue;
            }
            for offer in application.offers(&self.shared) {
                if !application.config.integrations.is_empty() {
                    let context = context.get_or_insert_with(|| launch_context(event));
                    if !self.integrations_available(application, offer, context) {
                        continue;
                    }
                }
                offers.push(offer);
            }
        }
        if offers.is_empty() {
            return Value::Null;
        }
        if self.applications.len() > 1 {
            // Versions from several configs of one action, merged newest first.
            offers.sort_by(|a, b| search::newest_first(&a.version, &b.version));
        }
        json!({"items": offers.iter().map(|offer| offer.item.clone()).collect::<Vec<_>>()})
    }

    /// Whether every integration group the config names is complete: each of its
    /// integrations answers `ftrack.connect.application.discover` (and does not disable
    /// itself).
    fn integrations_available(
        &self,
        application: &Application,
        offer: &Offer,
        context: &Value,
    ) -> bool {
        let Some(hub) = self.shared.hub.upgrade() else {
            return false;
        };
        let mut event = Event::new(APPLICATION_DISCOVER_TOPIC).with_data(json!({
            "application": offer.application,
            "context": context,
            "platform": self.shared.platform,
        }));
        let results = hub.publish(&mut event);
        let available: HashSet<&str> = results
            .iter()
            .filter_map(|result| result.get("integration"))
            .filter(|integration| integration.get("disable") != Some(&Value::Bool(true)))
            .filter_map(|integration| integration.get("name")?.as_str())
            .collect();
        let missing: Vec<&str> = application
            .config
            .integrations
            .iter()
            .flat_map(|(_, names)| names)
            .map(String::as_str)
            .filter(|name| !available.contains(name))
            .collect();
        if !missing.is_empty() {
            tracing::debug!(
                "{} not offered: integrations {missing:?} did not answer {APPLICATION_DISCOVER_TOPIC}",
                offer.display_name()
            );
        }
        missing.is_empty()
    }

    /// The version a launch event asks for: by `applicationIdentifier` (a trailing `*`
    /// matches a prefix, as in ftrack), preferring the one with the event's `version`.
    fn find(&self, requested: &str, version: Option<&str>) -> Option<(&Application, &Offer)> {
        let matches = |offer: &Offer| match requested.strip_suffix('*') {
            Some(prefix) => offer.application_identifier.starts_with(prefix),
            None => offer.application_identifier == requested,
        };
        let candidates = || {
            self.applications.iter().flat_map(|application| {
                application
                    .offers(&self.shared)
                    .iter()
                    .filter(|offer| matches(offer))
                    .map(move |offer| (application, offer))
            })
        };
        version
            .and_then(|version| candidates().find(|(_, offer)| offer.version == version))
            .or_else(|| candidates().next())
    }

    fn launch(&self, event: &Event) -> Value {
        let failure = |message: String| {
            tracing::warn!("{message}");
            json!({"success": false, "message": message})
        };
        let requested = event
            .data
            .get("applicationIdentifier")
            .and_then(Value::as_str);
        let version = event.data.get("version").and_then(Value::as_str);
        let Some((application, offer)) = requested.and_then(|r| self.find(r, version)) else {
            let known: Vec<&str> = self
                .applications
                .iter()
                .flat_map(|application| application.offers(&self.shared))
                .map(|offer| offer.application_identifier.as_str())
                .collect();
            let known = if known.is_empty() {
                "none is installed".to_string()
            } else {
                format!("installed: {}", known.join(", "))
            };
            return failure(match requested {
                Some(requested) => format!(
                    "{requested} application not found for action {} ({known})",
                    self.identifier
                ),
                None => format!(
                    "action {}: the launch names no applicationIdentifier ({known})",
                    self.identifier
                ),
            });
        };
        if !application.config.context.accepts(selection(&event.data)) {
            return failure(format!(
                "{} is not offered for this selection (it needs {})",
                offer.display_name(),
                application.config.context.describe()
            ));
        }
        match launch::start(
            &self.shared,
            &application.config,
            offer,
            launch_context(event),
        ) {
            Ok(pid) => {
                tracing::info!(
                    "{} started from {} (pid {pid})",
                    offer.display_name(),
                    offer.path.display()
                );
                json!({
                    "success": true,
                    "message": format!("{} application started.", offer.display_name()),
                })
            }
            Err(reason) => failure(format!(
                "{} application could not be started: {reason}",
                offer.display_name()
            )),
        }
    }
}

struct DiscoverHandler(Arc<Action>);

/// Reads the event only: the dispatch's shared event forms stay valid for the handlers after.
impl Handler for DiscoverHandler {
    fn handle(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        Ok(Reply::Json(self.0.discover(call.event())))
    }
}

struct LaunchHandler(Arc<Action>);

impl Handler for LaunchHandler {
    fn handle(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        // An item discovered on another machine (the web UI asks every Connect of the user)
        // is that machine's to launch.
        if let Some(host) = call.event().data.get("host").and_then(Value::as_str) {
            if host != self.0.shared.hostname {
                return Ok(Reply::Json(Value::Null));
            }
        }
        call.stop();
        Ok(Reply::Json(self.0.launch(call.event())))
    }
}

/// Fills a config template as ftrack's Python `str.format` does with the keys it passes:
/// `{version}` and `{variant}` are replaced, `{{` and `}}` are braces, anything else stays.
fn fill(template: &str, version: &str, variant: &str) -> String {
    let mut filled = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find(['{', '}']) {
        filled.push_str(&rest[..at]);
        let tail = &rest[at..];
        let (text, used) = [
            ("{{", "{"),
            ("}}", "}"),
            ("{version}", version),
            ("{variant}", variant),
        ]
        .into_iter()
        .find(|(pattern, _)| tail.starts_with(pattern))
        .map_or((&tail[..1], 1), |(pattern, value)| (value, pattern.len()));
        filled.push_str(text);
        rest = &tail[used..];
    }
    filled.push_str(rest);
    filled
}

/// The icons ftrack's server hosts under `/application_icons/`, by the names configs use.
const SERVER_ICONS: &[(&str, &str)] = &[
    ("hiero", "hiero.png"),
    ("hieroplayer", "hieroplayer.png"),
    ("nukex", "nukex.png"),
    ("nuke", "nuke.png"),
    ("nuke_studio", "nuke_studio.png"),
    ("premiere", "premiere.png"),
    ("maya", "maya.png"),
    ("cinesync", "cinesync.png"),
    ("photoshop", "photoshop.png"),
    ("prelude", "prelude.png"),
    ("after_effects", "after_effects.png"),
    ("3ds_max", "3ds_max.png"),
    ("cinema_4d", "cinema_4d.png"),
    ("indesign", "indesign.png"),
    ("illustrator", "illustrator.png"),
    ("houdini", "houdini.png"),
    ("unreal-engine", "unreal_engine.png"),
    ("unity", "unity.png"),
    ("rv", "rv.png"),
    ("harmony", "harmony.png"),
];

/// A known icon name becomes its URL on the server (when a server is known), as ftrack's
/// launcher does; anything else (a URL, `default`) is passed on as written.
fn icon_url(icon: &str, server_url: &str) -> String {
    match SERVER_ICONS.iter().find(|(name, _)| *name == icon) {
        Some((_, file)) if !server_url.is_empty() => format!(
            "{}/application_icons/{file}",
            server_url.trim_end_matches('/')
        ),
        _ => icon.to_string(),
    }
}

/// Whether `path` is a folder (a macOS `.app` bundle is launched with `open`).
fn is_bundle(path: &Path) -> bool {
    path.is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_as_python_format() {
        assert_eq!(fill("maya_{variant}", "2024", "2024"), "maya_2024");
        assert_eq!(fill("{{v}} {version}{x}", "1", ""), "{v} 1{x}");
        assert_eq!(fill("Nuke {version", "15", ""), "Nuke {version");
    }

    #[test]
    fn known_icons_point_to_the_server() {
        assert_eq!(
            icon_url("maya", "https://s.ftrackapp.com/"),
            "https://s.ftrackapp.com/application_icons/maya.png"
        );
        assert_eq!(icon_url("maya", ""), "maya");
        assert_eq!(icon_url("https://x/i.png", "https://s"), "https://x/i.png");
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Versions are searched for on the first discover, not at load, and then kept.
    #[test]
    fn scans_lazily_and_caches() {
        let tmp = tempfile::tempdir().unwrap();
        let apps = tmp.path().join("apps");
        std::fs::create_dir_all(&apps).unwrap();
        let config = json!({
            "identifier": "launch-tool", "label": "Tool", "variant": "{version}",
            "applicationIdentifier": "tool_{variant}", "context": null,
            "search_path": {platform(): {"prefix": [apps], "expression": ["tool\\d+"]}},
        });
        write(&tmp.path().join("configs/tool.json"), &config.to_string());
        let hub = Arc::new(EventHub::new(connect_core::HubIdentity::local("alice")));
        let identity = Identity {
            api_user: "alice".into(),
            server_url: String::new(),
            api_key: None,
            signed_in: false,
        };
        let dirs = [ConfigDir {
            path: tmp.path().join("configs"),
            plugin: None,
        }];
        let problems = register(&hub, &PluginTag::new(NAME), &dirs, &identity);
        assert!(problems.is_empty(), "{problems:?}");
        // Installed after loading, before the first discover: found.
        write(&apps.join("tool1"), "");
        let versions = || {
            let results = hub.publish(&mut Event::new(topics::ACTION_DISCOVER));
            results[0]["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| item["version"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(versions(), ["1"]);
        // Installed after the first discover: not seen until the host restarts.
        write(&apps.join("tool2"), "");
        assert_eq!(versions(), ["1"]);
    }
}
