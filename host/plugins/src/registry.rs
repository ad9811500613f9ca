//! The plugin registry: every plugin the host knows, loaded into one hub and kept in line with
//! the files as they change.
//!
//! Loading a plugin is all or nothing: every hook file of a plugin is prepared first (by the
//! [`Loader`] for its kind), then each `register(session)` runs; if any of that fails,
//! whatever the plugin had subscribed is removed and the plugin is reported as failed. Other
//! plugins load regardless. [`PluginRegistry::refresh`] discovers again and reloads what
//! changed; a reload that fails keeps the last good version subscribed.
//!
//! Plugins come from two sources: the ones [`discover`] finds on disk, identified across
//! reloads by [`PluginId`], and the host's [`BuiltinPlugin`]s (shipped in the binary: the
//! default hooks, the application launcher), which the command line hands in. A built-in
//! plugin that reads the discovered plugins (the launcher reads their `launch/` folders) is
//! loaded again whenever the set of plugins changes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use connect_core::{EventHub, PluginTag};

use crate::cores::on_every_core_in_order;
use crate::discovery::{discover, DiscoveredPlugin, HookFile, HookKind, PluginLayout, SearchPaths};
use crate::loader::{LoadError, Loader, PluginLoad, PreparedHook, SessionInfo};
use crate::report::{PluginKind, PluginReport, PluginStatus};

/// Which plugin an entry is, across reloads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PluginId {
    /// Shipped in the binary, by name.
    BuiltIn(String),
    /// A plugin folder, by name: a newer `name-x.y.z` folder replaces the older one.
    Folder(String),
    /// A bare hook file of a hook directory, by path.
    HookFile(PathBuf),
}

impl PluginId {
    /// The identity of a discovered plugin.
    pub fn of(plugin: &DiscoveredPlugin) -> PluginId {
        match plugin.layout {
            PluginLayout::Folder => PluginId::Folder(plugin.name.clone()),
            PluginLayout::HookFile => PluginId::HookFile(plugin.path.clone()),
        }
    }
}

/// A plugin shipped in the binary rather than found on disk.
pub trait BuiltinPlugin: Send + Sync {
    /// Its name, as `plugins` lists it.
    fn name(&self) -> &str;
    /// What `plugins` shows as its path: `<built-in>/...`.
    fn label(&self) -> String;
    /// What it is made of.
    fn kind(&self) -> PluginKind;
    /// Subscribes its handlers to `hub` under `tag`. `plugins` are the plugins discovery
    /// found, for a built-in plugin that reads their files.
    fn load(
        &self,
        hub: &Arc<EventHub>,
        tag: &PluginTag,
        session: &SessionInfo,
        plugins: &[DiscoveredPlugin],
    ) -> BuiltinLoad;
    /// Whether [`BuiltinPlugin::load`] reads `plugins`, and so must run again when they
    /// change.
    fn follows_plugins(&self) -> bool {
        false
    }
}

/// What loading a built-in plugin gave.
#[derive(Debug, Default)]
pub struct BuiltinLoad {
    /// Why it failed to load, if it did.
    pub error: Option<LoadError>,
    /// Problems of its own that did not stop it.
    pub warnings: Vec<String>,
    /// Problems with files of discovered plugins (a bad launcher config in a plugin's
    /// `launch/`), by that plugin's path: shown as that plugin's warnings.
    pub plugin_warnings: HashMap<PathBuf, Vec<String>>,
}

/// What a plugin's files looked like: path, modification time and size of every file that
/// makes it up (hooks, importable modules, launcher configs). A change to any of them is a
/// reason to reload.
type Fingerprint = Vec<(PathBuf, Option<SystemTime>, u64)>;

/// Whether a registry records each plugin's [`Fingerprint`] as it loads it, for
/// [`PluginRegistry::refresh`] to find the plugins whose files changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeTracking {
    /// Recorded: a refresh reloads only the plugins whose files changed. For a host that
    /// stays (`run`, its watcher and its window).
    On,
    /// Not recorded, for a command that loads plugins, asks them and exits: two `stat` calls a
    /// plugin fewer (0.4 ms of a 200-plugin start). A refresh, should one come, reloads every
    /// plugin once, and [`PluginRegistry::plugin_files`] is empty until then.
    Off,
}

fn fingerprint(plugin: &DiscoveredPlugin) -> Fingerprint {
    let hooks = plugin.hooks.iter().map(|h| h.path.clone());
    // A `launch/` folder made later changes what discovery finds, and so the fingerprint.
    let modules = plugin
        .library_dirs
        .iter()
        .chain(&plugin.launch_dir)
        .flat_map(|dir| {
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

/// A plugin's hook files, prepared: the hooks ready to register, until the first that failed
/// (`outcome`), and the files that turned out not to be hooks (said once the plugin's turn
/// comes, so that warnings keep the load order whichever thread prepared it).
struct PreparedHooks {
    hooks: Vec<Box<dyn PreparedHook>>,
    outcome: Result<(), LoadError>,
    not_hooks: Vec<String>,
}

/// The registry's own record of a plugin; [`PluginReport`] is what it shows of it.
#[derive(Clone)]
struct Entry {
    /// `None` for a skipped plugin, which is discovered anew on each refresh.
    id: Option<PluginId>,
    report: PluginReport,
    tag: Option<PluginTag>,
    /// The state of its files when it was (re)loaded.
    fingerprint: Fingerprint,
    /// Native libraries this version mapped: how many, and their size.
    libraries: (usize, u64),
    /// The hooks it registered, kept for as long as it is loaded (an isolated plugin's
    /// process lives as long as its hook).
    hooks: Vec<Arc<dyn PreparedHook>>,
    /// The part of `report.warnings` that built-in plugins said about this plugin's files.
    foreign_warnings: Vec<String>,
    /// For a built-in plugin: what it said about other plugins' files, by their path.
    warnings_about_others: HashMap<PathBuf, Vec<String>>,
}

impl Entry {
    fn new(name: &str, version: Option<&str>, kind: Option<PluginKind>, path: String) -> Entry {
        Entry {
            id: None,
            report: PluginReport {
                name: name.to_string(),
                version: version.map(str::to_string),
                kind,
                path,
                status: PluginStatus::Skipped,
                error: None,
                reason: None,
                subscriptions: 0,
                warnings: Vec::new(),
                reloads: 0,
                last_reload: None,
                retired_libraries: 0,
                retired_library_bytes: 0,
            },
            tag: None,
            fingerprint: Vec::new(),
            libraries: (0, 0),
            hooks: Vec::new(),
            foreign_warnings: Vec::new(),
            warnings_about_others: HashMap::new(),
        }
    }

    /// Replaces what built-in plugins said about this plugin's files.
    fn set_foreign_warnings(&mut self, warnings: Vec<String>) {
        let previous = std::mem::take(&mut self.foreign_warnings);
        self.report.warnings.retain(|w| !previous.contains(w));
        self.report.warnings.extend(warnings.iter().cloned());
        self.foreign_warnings = warnings;
    }
}

/// Every plugin of the host, registered on one hub.
pub struct PluginRegistry {
    hub: Arc<EventHub>,
    loaders: Vec<Box<dyn Loader>>,
    builtins: Vec<Box<dyn BuiltinPlugin>>,
    search_paths: SearchPaths,
    session: SessionInfo,
    entries: RwLock<Vec<Entry>>,
    /// Whether `load` recorded the plugins' fingerprints (a refresh always does).
    tracking: ChangeTracking,
    /// One refresh at a time.
    refreshing: Mutex<()>,
}

impl PluginRegistry {
    /// Loads the `builtins`, then every plugin found below `search_paths` with the loader for
    /// each hook's kind, into `hub`; `tracking` says whether to record what their files look
    /// like for a later [`PluginRegistry::refresh`].
    pub fn load(
        hub: Arc<EventHub>,
        loaders: Vec<Box<dyn Loader>>,
        builtins: Vec<Box<dyn BuiltinPlugin>>,
        search_paths: SearchPaths,
        session: SessionInfo,
        tracking: ChangeTracking,
    ) -> PluginRegistry {
        let registry = PluginRegistry {
            hub,
            loaders,
            builtins,
            search_paths,
            session,
            entries: RwLock::default(),
            tracking,
            refreshing: Mutex::new(()),
        };
        let found = discover(&registry.search_paths);
        for problem in &found.problems {
            tracing::warn!("plugin discovery: {problem}");
        }
        let tags: Vec<PluginTag> = found
            .plugins
            .iter()
            .map(|plugin| PluginTag::new(&plugin.name))
            .collect();
        // The built-in plugins first (their handlers come before the plugins' in the hub),
        // loaded while the other cores already prepare the plugins.
        let load_builtins = || -> Vec<Entry> {
            // Room for every plugin too: grown as it filled, the list was copied five times.
            let mut entries = Vec::with_capacity(registry.builtins.len() + found.plugins.len());
            for (index, builtin) in registry.builtins.iter().enumerate() {
                let tag = PluginTag::new(builtin.name());
                entries.push(registry.load_builtin(index, &found.plugins, tag));
            }
            entries
        };
        let mut entries = registry.prepare_ahead(
            &found.plugins,
            &tags,
            load_builtins,
            |entries, index, fingerprint, prepared| {
                let (plugin, tag) = (&found.plugins[index], tags[index].clone());
                entries.push(registry.load_plugin(plugin, fingerprint, tag, prepared));
            },
        );
        entries.iter().for_each(log_failure);
        spread_foreign_warnings(&mut entries);
        let count = |status| entries.iter().filter(|e| e.report.status == status).count();
        tracing::info!(
            "{} plugins loaded, {} failed, {} skipped",
            count(PluginStatus::Loaded),
            count(PluginStatus::Failed),
            count(PluginStatus::Skipped)
        );
        *registry.entries.write().unwrap_or_else(|e| e.into_inner()) = entries;
        registry
    }

    /// The hub every plugin is registered on.
    pub fn hub(&self) -> &Arc<EventHub> {
        &self.hub
    }

    /// Ends what the loaders run outside this process, before the host exits without taking
    /// its plugins apart ([`Loader::stop`]).
    pub fn stop_loaders(&self) {
        self.loaders.iter().for_each(|loader| loader.stop());
    }

    /// Every folder plugins are discovered in (what `run --watch` watches).
    pub fn search_paths(&self) -> &SearchPaths {
        &self.search_paths
    }

    /// Every file the loaded plugins are made of (hooks, importable modules, launcher
    /// configs), as found (not resolved): what a change to reloads them.
    pub fn plugin_files(&self) -> Vec<PathBuf> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .flat_map(|entry| entry.fingerprint.iter().map(|(path, _, _)| path.clone()))
            .collect()
    }

    /// Every plugin with its current subscription count.
    pub fn reports(&self) -> Vec<PluginReport> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .map(|entry| {
                let mut report = PluginReport {
                    subscriptions: entry
                        .tag
                        .as_ref()
                        .map_or(0, |tag| self.hub.subscription_count(tag)),
                    ..entry.report.clone()
                };
                if let Some(failure) = entry.hooks.iter().find_map(|hook| hook.failure()) {
                    report.status = PluginStatus::Failed;
                    report.error = Some(failure);
                }
                report
            })
            .collect()
    }

    /// Discovers again and brings the loaded plugins in line: loads new ones, unloads removed
    /// ones, and reloads those whose files changed. A reload that fails (compile, load or
    /// `register`) keeps the last good version subscribed and reports the error on it.
    pub fn refresh(&self) {
        let _one_at_a_time = self.refreshing.lock().unwrap_or_else(|e| e.into_inner());
        let found = discover(&self.search_paths);
        let previous = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut builtins = Vec::new();
        let mut by_id: HashMap<PluginId, Entry> = HashMap::new();
        for entry in previous {
            match &entry.id {
                Some(PluginId::BuiltIn(_)) => builtins.push(entry),
                Some(id) => {
                    by_id.insert(id.clone(), entry);
                }
                // Skipped: discovered anew below.
                None => {}
            }
        }
        let mut next = builtins;
        let mut changed = false;
        for plugin in &found.plugins {
            if plugin.skipped.is_some() {
                next.push(self.load_plugin(
                    plugin,
                    Fingerprint::new(),
                    PluginTag::new(&plugin.name),
                    None,
                ));
                continue;
            }
            let current = fingerprint(plugin);
            next.push(match by_id.remove(&PluginId::of(plugin)) {
                Some(old) if old.fingerprint == current => old,
                Some(old) => {
                    changed = true;
                    self.reload(old, plugin, current)
                }
                None => {
                    changed = true;
                    tracing::info!("new plugin '{}' at {}", plugin.name, plugin.path.display());
                    let entry =
                        self.load_plugin(plugin, current, PluginTag::new(&plugin.name), None);
                    log_failure(&entry);
                    entry
                }
            });
        }
        if changed || !by_id.is_empty() {
            self.reload_builtins_following(&found.plugins, &mut next);
        }
        // Removed plugins leave the hub while the list is locked for writing, so whoever sees
        // their subscriptions gone and then lists the plugins never finds them still listed.
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        for (_, gone) in by_id {
            if let Some(tag) = &gone.tag {
                self.hub.unsubscribe_plugin(tag);
            }
            tracing::info!(
                "plugin '{}' removed ({}): unloaded",
                gone.report.name,
                gone.report.path
            );
        }
        *entries = next;
    }

    /// Loads again the built-in plugins that read the discovered plugins' files, in place of
    /// their previous registration.
    fn reload_builtins_following(&self, plugins: &[DiscoveredPlugin], entries: &mut [Entry]) {
        for (index, builtin) in self.builtins.iter().enumerate() {
            if !builtin.follows_plugins() {
                continue;
            }
            let id = Some(PluginId::BuiltIn(builtin.name().to_string()));
            let Some(at) = entries.iter().position(|entry| entry.id == id) else {
                continue;
            };
            // Publishes see the previous registration until the new one is complete.
            let tag = PluginTag::new(builtin.name());
            self.hub.hold(&tag);
            let previous = std::mem::replace(
                &mut entries[at],
                self.load_builtin(index, plugins, tag.clone()),
            );
            self.hub.replace_plugin(previous.tag.as_ref(), &tag);
            log_failure(&entries[at]);
        }
        spread_foreign_warnings(entries);
    }

    /// Loads the changed `plugin` in place of `old`, or keeps `old` if the new one fails.
    ///
    /// Publishes see the old version until the new one's `register` has returned, then the
    /// new one: never both, never neither.
    fn reload(&self, old: Entry, plugin: &DiscoveredPlugin, current: Fingerprint) -> Entry {
        let tag = PluginTag::new(&plugin.name);
        self.hub.hold(&tag);
        let mut new = self.load_plugin(plugin, current, tag.clone(), None);
        new.report.reloads = old.report.reloads + 1;
        new.report.last_reload = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|since| since.as_secs());
        let keep_old =
            new.report.status == PluginStatus::Failed && old.report.status == PluginStatus::Loaded;
        // The version that goes keeps its libraries mapped: handlers may point into them.
        let (retired, retired_bytes) = if keep_old {
            new.libraries
        } else {
            old.libraries
        };
        let retired_libraries = old.report.retired_libraries + retired;
        let retired_library_bytes = old.report.retired_library_bytes + retired_bytes;
        if keep_old {
            let error = new.report.error.unwrap_or_default();
            tracing::error!(
                "plugin '{}': the changed version failed, the last good version stays loaded: {error}",
                old.report.name
            );
            return Entry {
                report: PluginReport {
                    error: Some(format!("{error} (the last good version is still loaded)")),
                    reloads: new.report.reloads,
                    last_reload: new.report.last_reload,
                    retired_libraries,
                    retired_library_bytes,
                    ..old.report
                },
                fingerprint: new.fingerprint,
                ..old
            };
        }
        self.hub.replace_plugin(old.tag.as_ref(), &tag);
        log_failure(&new);
        tracing::info!(
            "plugin '{}' reloaded from {}: {:?}",
            new.report.name,
            new.report.path,
            new.report.status
        );
        new.report.retired_libraries = retired_libraries;
        new.report.retired_library_bytes = retired_library_bytes;
        // What built-in plugins say about its files is added once they have read them again.
        new
    }

    fn load_builtin(&self, index: usize, plugins: &[DiscoveredPlugin], tag: PluginTag) -> Entry {
        let builtin = &self.builtins[index];
        let version = Some(env!("CARGO_PKG_VERSION"));
        let mut entry = Entry::new(
            builtin.name(),
            version,
            Some(builtin.kind()),
            builtin.label(),
        );
        entry.id = Some(PluginId::BuiltIn(builtin.name().to_string()));
        let loaded = builtin.load(&self.hub, &tag, &self.session, plugins);
        entry.report.warnings = loaded.warnings;
        entry.warnings_about_others = loaded.plugin_warnings;
        self.settle(&mut entry, tag, loaded.error.map_or(Ok(()), Err));
        entry
    }

    /// Loads `plugin`, its subscriptions tagged `tag`: prepares its hooks (unless
    /// [`PluginRegistry::prepare_ahead`] did: `ahead`), then registers them. `fingerprint` is
    /// the state of its files the caller just read.
    fn load_plugin(
        &self,
        plugin: &DiscoveredPlugin,
        fingerprint: Fingerprint,
        tag: PluginTag,
        ahead: Option<PreparedHooks>,
    ) -> Entry {
        let path = plugin.path.display().to_string();
        let mut entry = Entry::new(
            &plugin.name,
            plugin.version.as_deref(),
            plugin_kind(plugin),
            path,
        );
        entry.report.warnings = plugin.problems.clone();
        for problem in &plugin.problems {
            tracing::warn!("plugin '{}': {problem}", plugin.name);
        }
        if let Some(reason) = &plugin.skipped {
            tracing::info!("plugin '{}' skipped: {reason}", plugin.name);
            entry.report.reason = Some(reason.clone());
            return entry;
        }
        entry.id = Some(PluginId::of(plugin));
        entry.fingerprint = fingerprint;

        let (runnable, not_run) = self.runnable_hooks(plugin);
        if runnable.is_empty() && !not_run.is_empty() && plugin.launch_dir.is_none() {
            let reason = not_run.join("; ");
            tracing::info!("plugin '{}' skipped: {reason}", plugin.name);
            entry.report.reason = Some(reason);
            return entry;
        }
        for warning in &not_run {
            tracing::warn!("plugin '{}': {warning}", plugin.name);
        }
        entry.report.warnings.extend(not_run);
        let PreparedHooks {
            hooks,
            outcome,
            not_hooks,
        } = ahead.unwrap_or_else(|| self.prepare_hooks(plugin, &runnable, &tag));
        for warning in not_hooks {
            tracing::warn!("plugin '{}': {warning}", plugin.name);
            entry.report.warnings.push(warning);
        }
        if outcome.is_ok() && hooks.is_empty() {
            if plugin.launch_dir.is_some() {
                entry.report.kind = Some(PluginKind::Launch);
                self.settle(&mut entry, tag, Ok(()));
                return entry;
            }
            entry.report.reason = Some("no hook file defines `fn register(session)`".into());
            return entry;
        }
        let mapped: Vec<u64> = hooks.iter().filter_map(|h| h.mapped_bytes()).collect();
        entry.libraries = (mapped.len(), mapped.iter().sum());
        if entry.report.version.is_none() {
            // A bare native hook file has no folder version: take the one it declares.
            entry.report.version = hooks.iter().find_map(|hook| hook.declared_version());
        }
        let outcome = outcome.and_then(|()| {
            hooks
                .iter()
                .try_for_each(|hook| hook.register(&self.hub, &self.session))
        });
        self.settle(&mut entry, tag, outcome);
        if entry.report.status == PluginStatus::Loaded {
            entry.hooks = hooks.into_iter().map(Arc::from).collect();
        }
        entry
    }

    /// The hooks of `plugin` that can run here, and a note for each kind that cannot (its
    /// loader says why: no Python with `ftrack_api`, say).
    fn runnable_hooks<'p>(&self, plugin: &'p DiscoveredPlugin) -> (Vec<&'p HookFile>, Vec<String>) {
        let mut unavailable: Vec<(HookKind, Option<String>)> = Vec::new();
        let mut runnable = Vec::new();
        let mut not_run: Vec<(HookKind, usize)> = Vec::new();
        for hook in &plugin.hooks {
            let why = match unavailable.iter().find(|(kind, _)| *kind == hook.kind) {
                Some((_, why)) => why.clone(),
                None => {
                    let why = self
                        .loaders
                        .iter()
                        .find(|l| l.kind() == hook.kind)
                        .and_then(|l| l.unavailable());
                    unavailable.push((hook.kind, why.clone()));
                    why
                }
            };
            match why {
                None => runnable.push(hook),
                Some(_) => match not_run.iter_mut().find(|(kind, _)| *kind == hook.kind) {
                    Some((_, count)) => *count += 1,
                    None => not_run.push((hook.kind, 1)),
                },
            }
        }
        let notes = not_run
            .into_iter()
            .map(|(kind, count)| {
                let why = unavailable
                    .iter()
                    .find_map(|(k, why)| if *k == kind { why.clone() } else { None })
                    .unwrap_or_default();
                let files = if count == 1 { "file" } else { "files" };
                format!("{count} {kind:?} hook {files} not run: {why}")
            })
            .collect();
        (runnable, notes)
    }

    /// Each plugin's fingerprint (empty when changes are not tracked), and its hooks prepared
    /// when all belong to loaders that may prepare anywhere ([`Loader::prepares_anywhere`]:
    /// Rhai's, whose compiling was a fifth of a 200-plugin start), on every core, handed to
    /// `then` on this thread in load order (with the plugin's place) as each is ready:
    /// registering the first plugins overlaps with preparing the last. Other plugins are
    /// prepared, and every plugin registered, in its turn in [`PluginRegistry::load_plugin`].
    /// `first` runs on this thread before any plugin is handed over, while the other cores
    /// already prepare, and makes what `then` adds to.
    fn prepare_ahead<S>(
        &self,
        plugins: &[DiscoveredPlugin],
        tags: &[PluginTag],
        first: impl FnOnce() -> S,
        mut then: impl FnMut(&mut S, usize, Fingerprint, Option<PreparedHooks>),
    ) -> S {
        let indices: Vec<usize> = (0..plugins.len()).collect();
        let prepare = |&index: &usize| {
            let plugin = &plugins[index];
            let anywhere = plugin.skipped.is_none()
                && !plugin.hooks.is_empty()
                && plugin.hooks.iter().all(|hook| {
                    self.loaders
                        .iter()
                        .any(|l| l.kind() == hook.kind && l.prepares_anywhere())
                });
            let prepared = anywhere.then(|| {
                let (runnable, _) = self.runnable_hooks(plugin);
                self.prepare_hooks(plugin, &runnable, &tags[index])
            });
            let fingerprint = match self.tracking {
                ChangeTracking::On => fingerprint(plugin),
                ChangeTracking::Off => Fingerprint::new(),
            };
            (fingerprint, prepared)
        };
        on_every_core_in_order(
            &indices,
            prepare,
            first,
            |taken, &index, (fingerprint, prepared)| then(taken, index, fingerprint, prepared),
        )
    }

    /// Prepares each of `hooks` with the loader of its kind, in load order, until one
    /// fails.
    fn prepare_hooks(
        &self,
        plugin: &DiscoveredPlugin,
        runnable: &[&HookFile],
        tag: &PluginTag,
    ) -> PreparedHooks {
        let mut loads: Vec<(HookKind, Box<dyn PluginLoad + '_>)> = Vec::new();
        let mut prepared = PreparedHooks {
            hooks: Vec::new(),
            outcome: Ok(()),
            not_hooks: Vec::new(),
        };
        for hook in runnable {
            let at = match loads.iter().position(|(kind, _)| *kind == hook.kind) {
                Some(at) => at,
                None => match self.loaders.iter().find(|l| l.kind() == hook.kind) {
                    Some(loader) => {
                        loads.push((hook.kind, loader.begin(plugin, tag)));
                        loads.len() - 1
                    }
                    None => {
                        let error = NoLoader {
                            kind: hook.kind,
                            path: hook.path.clone(),
                        };
                        prepared.outcome = Err(LoadError::new(error));
                        return prepared;
                    }
                },
            };
            match loads[at].1.prepare(&hook.path) {
                Ok(Some(hook)) => prepared.hooks.push(hook),
                Ok(None) => prepared.not_hooks.push(format!(
                    "{}: defines no `fn register(session)`, not loaded as a hook",
                    hook.path.display()
                )),
                Err(err) => {
                    prepared.outcome = Err(err);
                    return prepared;
                }
            }
        }
        prepared
    }

    /// Records the outcome of loading; a failed plugin loses all its subscriptions. The
    /// failure is the caller's to log ([`log_failure`]): a failed reload says it in its own
    /// words, once.
    fn settle(&self, entry: &mut Entry, tag: PluginTag, outcome: Result<(), LoadError>) {
        let report = &mut entry.report;
        match outcome {
            Ok(()) => {
                report.status = PluginStatus::Loaded;
                tracing::debug!("plugin '{}' loaded from {}", report.name, report.path);
            }
            Err(err) => {
                let removed = self.hub.unsubscribe_plugin(&tag);
                tracing::debug!("plugin '{}': {removed} subscriptions removed", report.name);
                report.status = PluginStatus::Failed;
                report.error = Some(err.to_string());
            }
        }
        entry.tag = Some(tag);
    }
}

/// A hook file of a kind no loader was given for.
#[derive(Debug, thiserror::Error)]
#[error("{}: this host has no loader for {kind:?} hooks", path.display())]
struct NoLoader {
    kind: HookKind,
    path: PathBuf,
}

/// Logs a plugin that failed to load, in one line.
fn log_failure(entry: &Entry) {
    if let (PluginStatus::Failed, Some(error)) = (entry.report.status, &entry.report.error) {
        tracing::error!(
            plugin = entry.report.name.as_str(),
            "plugin '{}' failed to load ({}): {error}",
            entry.report.name,
            entry.report.path
        );
    }
}

/// Gives each entry what the built-in plugins said about its files.
fn spread_foreign_warnings(entries: &mut [Entry]) {
    let mut by_path: HashMap<PathBuf, Vec<String>> = HashMap::new();
    for entry in entries.iter() {
        for (path, warnings) in &entry.warnings_about_others {
            by_path
                .entry(path.clone())
                .or_default()
                .extend(warnings.iter().cloned());
        }
    }
    for entry in entries.iter_mut() {
        let path = PathBuf::from(&entry.report.path);
        entry.set_foreign_warnings(by_path.remove(&path).unwrap_or_default());
    }
}

fn plugin_kind(plugin: &DiscoveredPlugin) -> Option<PluginKind> {
    let Some(first) = plugin.hooks.first() else {
        return plugin.launch_dir.is_some().then_some(PluginKind::Launch);
    };
    if plugin.hooks.iter().any(|h| h.kind != first.kind) {
        return Some(PluginKind::Mixed);
    }
    Some(match first.kind {
        HookKind::Rhai => PluginKind::Rhai,
        HookKind::Native => PluginKind::Native,
        HookKind::Python => PluginKind::Python,
    })
}
