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
//! work regardless. Entries of a config's `environment_variables` that cannot be applied (see
//! [`environment`]) are reported the same way and left out; the config is used without them.
//!
//! The program acts for the signed-in user: launcher configs and launch hooks may not change
//! `FTRACK_SERVER`, `FTRACK_API_USER`, `FTRACK_API_KEY` (or any `FTRACK_API_*`), unless the
//! host runs with [`environment::ALLOW_CREDENTIALS_VAR`]`=1` ([`Credentials`]).
//!
//! ```
//! use connect_launcher::{platform, read_configs, ConfigDir, Credentials};
//!
//! let dir = std::env::temp_dir().join(format!("connect-launcher-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("painter.yaml"), r#"
//! identifier: studio-launch-painter
//! applicationIdentifier: painter_{variant}
//! label: Painter
//! search_path:
//!   linux: {prefix: [/opt], expression: [painter.*]}
//!   windows: {prefix: ["C:\\"], expression: [Painter.*]}
//!   darwin: {prefix: [/Applications], expression: [Painter.*]}
//! "#).unwrap();
//! std::fs::write(dir.join("broken.json"), "{").unwrap();
//! let folders = [ConfigDir { path: dir.clone(), plugin: None }];
//! let (configs, problems) = read_configs(&folders, platform(), Credentials::Protected);
//! assert_eq!(configs[0].identifier, "studio-launch-painter");
//! assert!(problems[0].message.contains("broken.json"), "{}", problems[0].message);
//! std::fs::remove_dir_all(dir).unwrap();
//! ```

#![deny(missing_docs)]

mod action;
pub mod config;
pub mod environment;
mod launch;
pub use launch::LaunchError;
pub mod search;
pub mod spawn;

pub use config::platform;
pub use environment::Credentials;

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, Weak};

use connect_event::Event;
use serde_json::{json, Map, Value};

use action::*;
use config::{Format, LauncherConfig, SearchPath, LAST_PRIORITY};
use connect_core::{
    EventHub, Expression, Handler, HandlerCall, HandlerError, Identity, PluginTag, Reply,
    SubscribeOptions,
};
use connect_event::payloads::{ActionItem, ActionItems, ActionReply};
use connect_event::topics;
use search::{find_installations, Installation};

/// The launcher's name in `ftrack-connect plugins`.
pub const NAME: &str = "application-launcher";
/// Shown as the launcher's path in `ftrack-connect plugins`: it has no file on disk.
pub const BUILTIN_PATH: &str = "<built-in>/application-launcher";
/// Folders of launcher configs (OS path list), as ftrack's application launcher reads them.
pub const CONFIG_PATHS_VAR: &str = "FTRACK_APPLICATION_LAUNCHER_CONFIG_PATHS";

/// A folder that may hold launcher configs, and whose problems they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigDir {
    /// The folder.
    pub path: PathBuf,
    /// The plugin folder whose `launch/` this is; None for a folder of
    /// `FTRACK_APPLICATION_LAUNCHER_CONFIG_PATHS` (the launcher's own).
    pub plugin: Option<PathBuf>,
}

/// A config that was skipped, or the part of one that was left out, and why. `plugin` as in
/// [`ConfigDir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The plugin folder the config belongs to.
    pub plugin: Option<PathBuf>,
    /// What is wrong, naming the file.
    pub message: String,
}

/// Reads and checks every config in `dirs` (files ending in `.json`, `.yaml` or `.yml`, sorted
/// by name; sub-folders are not walked, as in ftrack). A file reached twice is read once.
/// Entries of `environment_variables` that set credentials are left out (and reported) unless
/// `credentials` allows them.
pub fn read_configs(
    dirs: &[ConfigDir],
    platform: &str,
    credentials: Credentials,
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
            // No more than parse reads: a huge file in a config folder is refused, not loaded.
            let limit = config::MAX_CONFIG_BYTES as u64 + 1;
            let mut text = String::new();
            let read = std::fs::File::open(&file)
                .and_then(|opened| opened.take(limit).read_to_string(&mut text));
            let text = match read {
                Ok(_) => text,
                Err(err) => {
                    report(format!(
                        "launcher config {}: cannot read: {err}",
                        file.display()
                    ));
                    continue;
                }
            };
            match config::parse(&file, format, &text, platform) {
                Ok(mut config) => {
                    let withheld = config.withhold_credentials(credentials);
                    for warning in config.warnings.iter().chain(&withheld) {
                        report(format!("launcher config {}: {warning}", file.display()));
                    }
                    configs.push(config);
                }
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
        credentials: Credentials::from_host_environment(),
    });
    if shared.credentials == Credentials::Overridable {
        tracing::info!(
            "{}=1: launcher configs and launch hooks may change the signed-in credentials",
            environment::ALLOW_CREDENTIALS_VAR
        );
    }
    let (configs, problems) = read_configs(dirs, shared.platform, shared.credentials);
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
pub(crate) struct Shared {
    /// Weak: the hub owns the handlers that own this.
    pub(crate) hub: Weak<EventHub>,
    pub(crate) identity: Identity,
    /// This machine: items carry it, and a launch for another machine is left alone.
    pub(crate) hostname: String,
    pub(crate) platform: &'static str,
    /// Whether configs and hooks may change the credentials, read once when the host loads.
    pub(crate) credentials: Credentials,
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
