//! `connect-plugins`: finding ftrack Connect plugins on disk and keeping them loaded.
//!
//! - [`discovery`]: which plugin folders and hook files exist, in a documented load order
//!   (ftrack Connect's layout: plugin roots of `name-x.y.z` folders with `hook/`, and hook
//!   directories);
//! - [`registry`]: the plugins loaded into one hub, all or nothing each, reloaded with the
//!   last good version kept when a change fails; built-in plugins beside discovered ones;
//! - [`loader`]: the [`Loader`] trait each way of running hooks implements (the Rhai and
//!   native loaders live in crates of their own, which this one never depends on);
//! - [`report`]: what `plugins --json` shows of each plugin;
//! - [`server_api`]: what hooks may ask of the ftrack server ([`ApiSession`]), for every
//!   loader alike;
//! - [`watcher`]: `run --watch`, refreshing the registry as files change;
//! - `cores`: per-plugin start-up work (scanning folders, compiling hooks) on every core.
//!
//! ```
//! use connect_plugins::discovery::{discover, SearchPaths};
//!
//! let folder = std::env::temp_dir().join(format!("connect-plugins-doc-{}", std::process::id()));
//! std::fs::create_dir_all(folder.join("shot-tools-1.2.0/hook")).unwrap();
//! std::fs::write(folder.join("shot-tools-1.2.0/hook/tools.rhai"), "fn register(session) {}").unwrap();
//! let found = discover(&SearchPaths { plugin_roots: vec![folder.clone()], hook_dirs: vec![] });
//! assert_eq!(found.plugins[0].name, "shot-tools");
//! assert_eq!(found.plugins[0].version.as_deref(), Some("1.2.0"));
//! std::fs::remove_dir_all(folder).unwrap();
//! ```
#![deny(missing_docs)]

mod cores;
pub mod discovery;
pub mod install;
pub mod loader;
pub mod registry;
pub mod report;
pub mod server_api;
pub mod watcher;

pub use discovery::{DiscoveredPlugin, HookKind, SearchPaths};
pub use loader::{LoadError, Loader, PluginLoad, PreparedHook, SessionInfo};
pub use registry::{BuiltinLoad, BuiltinPlugin, ChangeTracking, PluginId, PluginRegistry};
pub use report::{PluginKind, PluginReport, PluginStatus};
pub use server_api::{ApiSession, ServerApi, ServerApiError, NOT_CONNECTED};

/// Counts the cores this process may use, which loading plugins spreads its per-plugin work
/// over, and keeps the answer. Asking takes a few system calls (the cgroup's CPU quota); a
/// thread with nothing else to do calls this before the plugins are found, so that finding
/// them does not wait for the answer. Calling it is never needed: the first load asks anyway.
pub fn count_cores() {
    cores::cores();
}
