//! The plugins shipped in the binary: the default hooks (the workspace's `hook/` folder,
//! embedded) and the application launcher. The registry knows them by their source, as
//! [`BuiltinPlugin`]s, not by where they pretend to live.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use connect_core::{EventHub, Identity, PluginTag};
use connect_launcher::ConfigDir;
use connect_plugins::{
    BuiltinLoad, BuiltinPlugin, DiscoveredPlugin, LoadError, PluginKind, SessionInfo,
};
use connect_rhai::{plugin_engine, CompiledHook, PluginFolders};
use include_dir::{include_dir, Dir};

/// The default hooks shipped with the host, loaded before any user plugin.
static DEFAULT_HOOKS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../hook");

/// Shown as the folder of the default hooks, which have no file on disk.
pub const DEFAULT_HOOKS_PATH: &str = "<built-in>/hook";

/// One default hook file, a plugin of its own (named by its file stem).
pub struct DefaultHook {
    name: String,
    file: &'static str,
    text: &'static str,
}

/// Every default hook, in file name order.
pub fn default_hooks() -> Vec<Box<dyn BuiltinPlugin>> {
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
            Box::new(DefaultHook {
                name,
                file: file.path().to_str().unwrap_or_default(),
                text: file.contents_utf8().unwrap_or_default(),
            }) as Box<dyn BuiltinPlugin>
        })
        .collect()
}

impl BuiltinPlugin for DefaultHook {
    fn name(&self) -> &str {
        &self.name
    }

    fn label(&self) -> String {
        format!("{DEFAULT_HOOKS_PATH}/{}", self.file)
    }

    fn kind(&self) -> PluginKind {
        PluginKind::Rhai
    }

    fn load(
        &self,
        hub: &Arc<EventHub>,
        tag: &PluginTag,
        session: &SessionInfo,
        _plugins: &[DiscoveredPlugin],
    ) -> BuiltinLoad {
        // No folder: a default hook imports nothing.
        let folders = PluginFolders {
            root: PathBuf::new(),
            library_dirs: Vec::new(),
        };
        let engine = Arc::new(plugin_engine(tag, &folders));
        let error = CompiledHook::compile_source(engine, tag.clone(), &self.label(), self.text)
            .and_then(|hook| Arc::new(hook).register(hub, session))
            .err()
            .map(LoadError::new);
        BuiltinLoad {
            error,
            ..Default::default()
        }
    }
}

/// The application launcher, reading the `launch/` folder of every plugin folder and the
/// folders of `FTRACK_APPLICATION_LAUNCHER_CONFIG_PATHS`.
pub struct ApplicationLauncher {
    /// The folders of `FTRACK_APPLICATION_LAUNCHER_CONFIG_PATHS`.
    pub config_paths: Vec<PathBuf>,
    /// Who the programs it starts act for.
    pub identity: Identity,
}

impl ApplicationLauncher {
    /// The folders to read configs from: the `launch/` folder of each plugin folder discovery
    /// did not skip (launch-only folders included), in load order, then the config paths.
    fn config_dirs(&self, plugins: &[DiscoveredPlugin]) -> Vec<ConfigDir> {
        plugins
            .iter()
            .filter(|plugin| plugin.skipped.is_none())
            .filter_map(|plugin| {
                Some(ConfigDir {
                    path: plugin.launch_dir.clone()?,
                    plugin: Some(plugin.path.clone()),
                })
            })
            .chain(self.config_paths.iter().map(|path| ConfigDir {
                path: path.clone(),
                plugin: None,
            }))
            .collect()
    }
}

impl BuiltinPlugin for ApplicationLauncher {
    fn name(&self) -> &str {
        connect_launcher::NAME
    }

    fn label(&self) -> String {
        connect_launcher::BUILTIN_PATH.to_string()
    }

    fn kind(&self) -> PluginKind {
        PluginKind::Native
    }

    fn load(
        &self,
        hub: &Arc<EventHub>,
        tag: &PluginTag,
        _session: &SessionInfo,
        plugins: &[DiscoveredPlugin],
    ) -> BuiltinLoad {
        let dirs = self.config_dirs(plugins);
        let mut loaded = BuiltinLoad::default();
        let mut by_plugin: HashMap<PathBuf, Vec<String>> = HashMap::new();
        for problem in connect_launcher::register(hub, tag, &dirs, &self.identity) {
            match problem.plugin {
                Some(plugin) => by_plugin.entry(plugin).or_default().push(problem.message),
                None => loaded.warnings.push(problem.message),
            }
        }
        loaded.plugin_warnings = by_plugin;
        loaded
    }

    fn follows_plugins(&self) -> bool {
        true
    }
}
