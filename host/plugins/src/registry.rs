//! The host: loads the shipped and discovered plugins into one hub and runs Connect's start-up.
//!
//! Loading a plugin is all or nothing: every hook file of a plugin is compiled first, then each
//! `register(session)` runs; if any of that fails, whatever the plugin had subscribed is removed
//! and the plugin is reported as failed. Other plugins load regardless. The result of loading is
//! kept as a list of [`PluginReport`]s, which `ftrack-connect plugins` prints and
//! `ftrack.connect.plugin.debug-information` answers with.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use connect_event::Event;
use include_dir::{include_dir, Dir};
use serde::Serialize;
use serde_json::{json, Value};

use crate::credentials::Identity;
use crate::discovery::{self, DiscoveredPlugin, HookKind, PluginLayout, SearchPaths};
use crate::expression::Expression;
use crate::hub::{EventHub, HubIdentity, PluginTag, SubscribeOptions};
use crate::launcher;
use crate::native_hook::{self, NativeModule};
use crate::rhai_hook::{plugin_engine, CompiledHook, PluginFolders, SessionInfo};

/// The default hooks shipped with the host (the workspace's `hook/` folder), loaded before
/// any user plugin.
static DEFAULT_HOOKS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../hook");

/// Shown for the default hooks, which have no file on disk.
pub const DEFAULT_HOOKS_PATH: &str = "<built-in>/hook";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginStatus {
    Loaded,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    Rhai,
    Native,
    /// A plugin folder holding both Rhai and native hooks.
    Mixed,
}

/// One hook of a plugin, ready to register.
enum LoadedHook {
    Rhai(Arc<CompiledHook>),
    Native(NativeModule),
}

fn plugin_kind(plugin: &DiscoveredPlugin) -> PluginKind {
    let native = plugin
        .hooks
        .iter()
        .filter(|h| h.kind == HookKind::Native)
        .count();
    match native {
        0 => PluginKind::Rhai,
        n if n == plugin.hooks.len() => PluginKind::Native,
        _ => PluginKind::Mixed,
    }
}

/// What the host knows about one plugin, as `ftrack-connect plugins --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct PluginReport {
    pub name: String,
    pub version: Option<String>,
    pub kind: PluginKind,
    pub path: String,
    pub status: PluginStatus,
    /// Why loading failed: one line, with file, line and column for script errors.
    pub error: Option<String>,
    /// Why the plugin was skipped.
    pub reason: Option<String>,
    pub subscriptions: usize,
    /// Problems that did not stop the plugin: unreadable folders, files without `register`.
    pub warnings: Vec<String>,
    /// How many times `run --watch` reloaded the plugin after a change (tried, failed or not).
    pub reloads: u32,
    /// Native libraries of earlier versions that stay mapped (code may still point into
    /// them), and their size in bytes.
    pub retired_libraries: usize,
    pub retired_library_bytes: u64,
    #[serde(skip)]
    tag: Option<PluginTag>,
    /// Which plugin this is across reloads; `None` for the built-in hooks and skipped entries.
    #[serde(skip)]
    key: Option<String>,
    /// The state of its files when it was (re)loaded.
    #[serde(skip)]
    fingerprint: Fingerprint,
    /// Native libraries this version mapped: how many, and their size.
    #[serde(skip)]
    libraries: (usize, u64),
    /// The part of `warnings` about this plugin's launcher configs (replaced when re-read).
    #[serde(skip)]
    launch_warnings: Vec<String>,
}

impl PluginReport {
    /// Replaces the warnings about this plugin's launcher configs.
    fn set_launch_warnings(&mut self, warnings: Vec<String>) {
        let previous = std::mem::take(&mut self.launch_warnings);
        self.warnings.retain(|w| !previous.contains(w));
        self.warnings.extend(warnings.iter().cloned());
        self.launch_warnings = warnings;
    }
}

/// What a plugin's files looked like: path, modification time and size of every file that
/// makes it up (hooks, importable modules, launcher configs). A change to any of them is a
/// reason to reload.
type Fingerprint = Vec<(PathBuf, Option<std::time::SystemTime>, u64)>;

fn fingerprint(plugin: &DiscoveredPlugin) -> Fingerprint {
    let hooks = plugin.hooks.iter().map(|h| h.path.clone());
    let launch =
        (plugin.layout == PluginLayout::Folder).then(|| plugin.path.join(launcher::LAUNCH_FOLDER));
    let modules = plugin.library_dirs.iter().chain(&launch).flat_map(|dir| {
        walkdir::WalkDir::new(dir)
            .follow_links(true)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
    });
    std::iter::once(plugin.path.clone())
        .chain(hooks)
        .chain(modules)
        .map(|path| {
            let meta = std::fs::metadata(&path).ok();
            let modified = meta.as_ref().and_then(|m| m.modified().ok());
            let size = meta.map_or(0, |m| m.len());
            (path, modified, size)
        })
        .collect()
}

/// Identifies a plugin across reloads: a folder by its name (so a newer `name-x.y.z` replaces
/// it), a bare hook file by its path.
fn plugin_key(plugin: &DiscoveredPlugin) -> String {
    match plugin.layout {
        PluginLayout::Folder => format!("folder:{}", plugin.name),
        PluginLayout::HookFile => format!("file:{}", plugin.path.display()),
    }
}

/// Options for [`Host::load`].
#[derive(Debug, Clone)]
pub struct HostOptions {
    pub search_paths: SearchPaths,
    /// A private folder where native libraries are copied to be loaded (see [`native_hook`]).
    pub native_copy_dir: PathBuf,
    /// Folders of launcher configs read besides plugins' `launch/` folders (see [`launcher`]).
    pub launcher_config_paths: Vec<PathBuf>,
}

/// A loaded host: the hub with every plugin registered.
pub struct Host {
    hub: Arc<EventHub>,
    identity: Identity,
    launcher_config_paths: Vec<PathBuf>,
    search_paths: SearchPaths,
    native_copy_dir: PathBuf,
    session: SessionInfo,
    plugins: Arc<RwLock<Vec<PluginReport>>>,
    /// One refresh at a time.
    refreshing: Mutex<()>,
}

impl Host {
    /// Discovers and registers every plugin, and subscribes the host's own answers.
    pub fn load(identity: &Identity, options: &HostOptions) -> Host {
        let hub = Arc::new(EventHub::new(HubIdentity::local(&identity.api_user)));
        let session = SessionInfo {
            api_user: identity.api_user.clone(),
            server_url: identity.server_url.clone(),
        };
        let host = Host {
            hub,
            identity: identity.clone(),
            launcher_config_paths: options.launcher_config_paths.clone(),
            search_paths: options.search_paths.clone(),
            native_copy_dir: options.native_copy_dir.clone(),
            session,
            plugins: Arc::default(),
            refreshing: Mutex::new(()),
        };
        host.subscribe_own_answers();
        let mut reports = Vec::new();
        reports.extend(host.load_default_hooks());
        let found = discovery::discover(&options.search_paths);
        for problem in &found.problems {
            tracing::warn!("plugin discovery: {problem}");
        }
        let (launcher_report, mut launch_warnings) = host.load_application_launcher(&found.plugins);
        reports.push(launcher_report);
        for plugin in &found.plugins {
            let mut report = host.load_plugin(plugin, fingerprint(plugin));
            report.set_launch_warnings(launch_warnings.remove(&plugin.path).unwrap_or_default());
            reports.push(report);
        }
        let loaded = reports
            .iter()
            .filter(|r| r.status == PluginStatus::Loaded)
            .count();
        let failed = reports
            .iter()
            .filter(|r| r.status == PluginStatus::Failed)
            .count();
        tracing::info!(
            "{loaded} plugins loaded, {failed} failed, {} skipped",
            reports.len() - loaded - failed
        );
        *host.plugins.write().unwrap_or_else(|e| e.into_inner()) = reports;
        host
    }

    pub fn hub(&self) -> &Arc<EventHub> {
        &self.hub
    }

    /// Every folder plugins are discovered in (what `run --watch` watches).
    pub fn search_paths(&self) -> &SearchPaths {
        &self.search_paths
    }

    /// Discovers again and brings the loaded plugins in line: loads new ones, unloads removed
    /// ones, and reloads those whose files changed. A reload that fails (compile, load or
    /// `register`) keeps the last good version subscribed and reports the error on it.
    pub fn refresh(&self) {
        let _one_at_a_time = self.refreshing.lock().unwrap_or_else(|e| e.into_inner());
        let found = discovery::discover(&self.search_paths);
        let previous = self
            .plugins
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut by_key: HashMap<String, PluginReport> = HashMap::new();
        let mut next = Vec::new();
        let mut changed = false;
        for report in previous {
            match report.key.clone() {
                Some(key) => {
                    by_key.insert(key, report);
                }
                // Built into the binary: nothing on disk to change.
                None if report.path.starts_with(DEFAULT_HOOKS_PATH)
                    || report.path == launcher::BUILTIN_PATH =>
                {
                    next.push(report)
                }
                None => {}
            }
        }
        for plugin in &found.plugins {
            if plugin.skipped.is_some() {
                next.push(self.load_plugin(plugin, Fingerprint::new()));
                continue;
            }
            let current = fingerprint(plugin);
            next.push(match by_key.remove(&plugin_key(plugin)) {
                Some(old) if old.fingerprint == current => old,
                Some(old) => {
                    changed = true;
                    self.reload(old, plugin, current)
                }
                None => {
                    changed = true;
                    tracing::info!("new plugin '{}' at {}", plugin.name, plugin.path.display());
                    self.load_plugin(plugin, current)
                }
            });
        }
        for (_, gone) in by_key {
            changed = true;
            if let Some(tag) = &gone.tag {
                self.hub.unsubscribe_plugin(tag);
            }
            tracing::info!("plugin '{}' removed ({}): unloaded", gone.name, gone.path);
        }
        if changed {
            self.reload_application_launcher(&found.plugins, &mut next);
        }
        *self.plugins.write().unwrap_or_else(|e| e.into_inner()) = next;
    }

    /// Reads the launcher configs again (the set of plugins, or their `launch/` folders,
    /// changed) and re-subscribes the launcher in place of its previous registration.
    fn reload_application_launcher(
        &self,
        plugins: &[DiscoveredPlugin],
        reports: &mut [PluginReport],
    ) {
        let Some(at) = reports
            .iter()
            .position(|r| r.path == launcher::BUILTIN_PATH)
        else {
            return;
        };
        if let Some(tag) = &reports[at].tag {
            self.hub.unsubscribe_plugin(tag);
        }
        let (launcher_report, mut launch_warnings) = self.load_application_launcher(plugins);
        reports[at] = launcher_report;
        for report in reports.iter_mut() {
            let warnings = launch_warnings
                .remove(Path::new(&report.path))
                .unwrap_or_default();
            report.set_launch_warnings(warnings);
        }
    }

    /// Loads the changed `plugin` in place of `old`, or keeps `old` if the new one fails.
    fn reload(
        &self,
        old: PluginReport,
        plugin: &DiscoveredPlugin,
        current: Fingerprint,
    ) -> PluginReport {
        let mut new = self.load_plugin(plugin, current);
        new.reloads = old.reloads + 1;
        let keep_old = new.status == PluginStatus::Failed && old.status == PluginStatus::Loaded;
        // The version that goes keeps its libraries mapped: handlers may point into them.
        let (retired, retired_bytes) = if keep_old {
            new.libraries
        } else {
            old.libraries
        };
        let retired_libraries = old.retired_libraries + retired;
        let retired_library_bytes = old.retired_library_bytes + retired_bytes;
        if keep_old {
            let error = new.error.unwrap_or_default();
            tracing::error!(
                "plugin '{}': the changed version failed, the last good version stays loaded: {error}",
                old.name
            );
            return PluginReport {
                error: Some(format!("{error} (the last good version is still loaded)")),
                reloads: new.reloads,
                fingerprint: new.fingerprint,
                retired_libraries,
                retired_library_bytes,
                ..old
            };
        }
        if let Some(tag) = &old.tag {
            self.hub.unsubscribe_plugin(tag);
        }
        tracing::info!(
            "plugin '{}' reloaded from {}: {:?}",
            new.name,
            new.path,
            new.status
        );
        PluginReport {
            retired_libraries,
            retired_library_bytes,
            ..new
        }
    }

    /// Every plugin with its current subscription count.
    pub fn plugin_reports(&self) -> Vec<PluginReport> {
        current_reports(&self.hub, &self.plugins)
    }

    /// The session start-up ftrack's API runs after discovery:
    /// `ftrack.api.session.configure-location`, then `ftrack.api.session.ready`.
    pub fn start_session(&self) {
        for topic in [
            "ftrack.api.session.configure-location",
            "ftrack.api.session.ready",
        ] {
            let mut event = Event::new(topic).with_data(json!({"session": self.session_json()}));
            self.hub.publish(&mut event);
        }
        self.hub.drain();
    }

    /// Connect's start-up check: returns the warnings hooks answered with (and logs them).
    pub fn verify_startup(&self) -> Vec<String> {
        let mut event = Event::new("ftrack.connect.verify-startup");
        let warnings: Vec<String> = self
            .hub
            .publish(&mut event)
            .into_iter()
            .filter_map(|r| match r {
                Value::String(text) if !text.trim().is_empty() => Some(text),
                _ => None,
            })
            .collect();
        for warning in &warnings {
            tracing::warn!("start-up check: {warning}");
        }
        warnings
    }

    fn session_json(&self) -> Value {
        json!({"api_user": self.session.api_user, "server_url": self.session.server_url})
    }

    fn subscribe_own_answers(&self) {
        let tag = Some(PluginTag::new("ftrack-connect"));
        let discover = Expression::All(vec![
            Expression::equals("topic", "ftrack.connect.discover"),
            Expression::equals("source.user.username", &self.session.api_user),
        ]);
        self.subscribe_own(
            discover,
            tag.clone(),
            Arc::new(|_: &mut Event| Ok(json!(true))),
        );

        let hub = Arc::downgrade(&self.hub);
        let plugins = self.plugins.clone();
        let debug = Expression::equals("topic", "ftrack.connect.plugin.debug-information");
        self.subscribe_own(
            debug,
            tag,
            Arc::new(move |_: &mut Event| {
                let Some(hub) = hub.upgrade() else {
                    return Ok(Value::Null);
                };
                Ok(debug_information(&current_reports(&hub, &plugins)))
            }),
        );
    }

    fn subscribe_own(
        &self,
        expression: Expression,
        plugin: Option<PluginTag>,
        handler: Arc<dyn crate::hub::Handler>,
    ) {
        let options = SubscribeOptions {
            plugin,
            ..Default::default()
        };
        self.hub
            .subscribe_expression(expression, handler, options)
            .expect("a fresh subscriber id is unique");
    }

    fn load_default_hooks(&self) -> Vec<PluginReport> {
        let mut files: Vec<_> = DEFAULT_HOOKS
            .files()
            .filter(|f| f.path().extension().is_some_and(|e| e == "rhai"))
            .collect();
        files.sort_by_key(|f| f.path());
        files
            .into_iter()
            .map(|file| {
                let name = file
                    .path()
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let label = format!("{DEFAULT_HOOKS_PATH}/{}", file.path().display());
                let mut report = new_report(&name, Some(env!("CARGO_PKG_VERSION")), &label);
                let tag = PluginTag::new(&name);
                let folders = PluginFolders {
                    root: PathBuf::new(),
                    library_dirs: Vec::new(),
                };
                let engine = Arc::new(plugin_engine(&tag, &folders));
                let text = file.contents_utf8().unwrap_or_default();
                let outcome = CompiledHook::compile_source(engine, tag.clone(), &label, text)
                    .map_err(|err| err.to_string())
                    .and_then(|hook| self.register_all(&[LoadedHook::Rhai(Arc::new(hook))], &tag));
                self.settle(&mut report, tag, outcome);
                report
            })
            .collect()
    }

    /// The built-in application launcher, reading the `launch/` folders of `plugins` and the
    /// launcher config paths. Returns its report (with the problems of configs from the config
    /// paths) and the problems of configs in each plugin's `launch/`, by plugin path, for that
    /// plugin's report.
    fn load_application_launcher(
        &self,
        plugins: &[DiscoveredPlugin],
    ) -> (PluginReport, HashMap<PathBuf, Vec<String>>) {
        let tag = PluginTag::new(launcher::NAME);
        let version = Some(env!("CARGO_PKG_VERSION"));
        let mut report = new_report(launcher::NAME, version, launcher::BUILTIN_PATH);
        report.kind = PluginKind::Native;
        let dirs = launcher::config_dirs(plugins, &self.launcher_config_paths);
        let mut by_plugin: HashMap<PathBuf, Vec<String>> = HashMap::new();
        for problem in launcher::register(&self.hub, &tag, &dirs, &self.identity) {
            match problem.plugin {
                Some(plugin) => by_plugin.entry(plugin).or_default().push(problem.message),
                None => report.warnings.push(problem.message),
            }
        }
        self.settle(&mut report, tag, Ok(()));
        (report, by_plugin)
    }

    /// Loads `plugin`; `fingerprint` is the state of its files the caller just read.
    fn load_plugin(&self, plugin: &DiscoveredPlugin, fingerprint: Fingerprint) -> PluginReport {
        let mut report = new_report(
            &plugin.name,
            plugin.version.as_deref(),
            &plugin.path.display().to_string(),
        );
        report.kind = plugin_kind(plugin);
        report.warnings = plugin.problems.clone();
        if plugin.skipped.is_none() {
            report.key = Some(plugin_key(plugin));
            report.fingerprint = fingerprint;
        }
        for problem in &plugin.problems {
            tracing::warn!("plugin '{}': {problem}", plugin.name);
        }
        if let Some(reason) = &plugin.skipped {
            tracing::info!("plugin '{}' skipped: {reason}", plugin.name);
            report.status = PluginStatus::Skipped;
            report.reason = Some(reason.clone());
            return report;
        }

        let tag = PluginTag::new(&plugin.name);
        let mut hooks = Vec::new();
        let mut outcome = Ok(());
        let mut engine = None;
        for hook in &plugin.hooks {
            let loaded = match hook.kind {
                HookKind::Rhai => {
                    let engine = engine.get_or_insert_with(|| {
                        let folders = PluginFolders {
                            root: plugin.root.clone(),
                            library_dirs: plugin.library_dirs.clone(),
                        };
                        Arc::new(plugin_engine(&tag, &folders))
                    });
                    CompiledHook::compile(engine.clone(), tag.clone(), &hook.path)
                        .map(|compiled| {
                            compiled
                                .defines_register()
                                .then(|| LoadedHook::Rhai(Arc::new(compiled)))
                        })
                        .map_err(|err| err.to_string())
                }
                HookKind::Native => native_hook::load(&hook.path, &self.native_copy_dir)
                    .map(|module| Some(LoadedHook::Native(module))),
            };
            match loaded {
                Ok(Some(hook)) => hooks.push(hook),
                Ok(None) => {
                    let warning = format!(
                        "{}: defines no `fn register(session)`, not loaded as a hook",
                        hook.path.display()
                    );
                    tracing::warn!("plugin '{}': {warning}", plugin.name);
                    report.warnings.push(warning);
                }
                Err(err) => {
                    outcome = Err(err);
                    break;
                }
            }
        }
        if outcome.is_ok() && hooks.is_empty() {
            report.status = PluginStatus::Skipped;
            report.reason = Some("no hook file defines `fn register(session)`".into());
            return report;
        }
        report.libraries = hooks.iter().fold((0, 0), |(n, bytes), hook| match hook {
            LoadedHook::Native(module) => (n + 1, bytes + module.size()),
            LoadedHook::Rhai(_) => (n, bytes),
        });
        if report.version.is_none() {
            // A bare native hook file has no folder version: take the one it declares.
            report.version = hooks.iter().find_map(|hook| match hook {
                LoadedHook::Native(module) => Some(module.declared().1),
                LoadedHook::Rhai(_) => None,
            });
        }
        let outcome = outcome.and_then(|()| self.register_all(&hooks, &tag));
        self.settle(&mut report, tag, outcome);
        report
    }

    fn register_all(&self, hooks: &[LoadedHook], tag: &PluginTag) -> Result<(), String> {
        hooks.iter().try_for_each(|hook| match hook {
            LoadedHook::Rhai(hook) => hook
                .register(&self.hub, &self.session)
                .map_err(|err| err.to_string()),
            LoadedHook::Native(module) => module.register(&self.hub, tag, &self.session),
        })
    }

    /// Records the outcome of loading; a failed plugin loses all its subscriptions.
    fn settle(&self, report: &mut PluginReport, tag: PluginTag, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => {
                report.status = PluginStatus::Loaded;
                tracing::debug!("plugin '{}' loaded from {}", report.name, report.path);
            }
            Err(err) => {
                let removed = self.hub.unsubscribe_plugin(&tag);
                tracing::error!(
                    "plugin '{}' failed to load ({}), {removed} subscriptions removed: {err}",
                    report.name,
                    report.path
                );
                report.status = PluginStatus::Failed;
                report.error = Some(err.to_string());
            }
        }
        report.tag = Some(tag);
    }
}

fn new_report(name: &str, version: Option<&str>, path: &str) -> PluginReport {
    PluginReport {
        name: name.to_string(),
        version: version.map(str::to_string),
        kind: PluginKind::Rhai,
        path: path.to_string(),
        status: PluginStatus::Skipped,
        error: None,
        reason: None,
        subscriptions: 0,
        warnings: Vec::new(),
        reloads: 0,
        retired_libraries: 0,
        retired_library_bytes: 0,
        tag: None,
        key: None,
        fingerprint: Vec::new(),
        libraries: (0, 0),
        launch_warnings: Vec::new(),
    }
}

fn current_reports(hub: &EventHub, plugins: &RwLock<Vec<PluginReport>>) -> Vec<PluginReport> {
    let mut reports = plugins.read().unwrap_or_else(|e| e.into_inner()).clone();
    for report in &mut reports {
        report.subscriptions = report
            .tag
            .as_ref()
            .map_or(0, |tag| hub.subscription_count(tag));
    }
    reports
}

/// The answer to `ftrack.connect.plugin.debug-information`: the host itself, then each plugin.
fn debug_information(reports: &[PluginReport]) -> Value {
    let mut entries = vec![json!({
        "name": "ftrack-connect",
        "version": env!("CARGO_PKG_VERSION"),
        "core": true,
        "debug_information": {
            "implementation": "Rust host",
            "os": std::env::consts::OS,
            "arch": std::env::consts::ARCH,
        },
    })];
    entries.extend(reports.iter().map(|r| {
        json!({
            "name": r.name,
            "version": r.version,
            "kind": r.kind,
            "path": r.path,
            "status": r.status,
        })
    }));
    Value::Array(entries)
}
