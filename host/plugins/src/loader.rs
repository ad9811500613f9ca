//! What the registry asks of a loader, and what a loader hands back.
//!
//! The registry knows no particular loader: the Rhai, native and Python loaders each implement [`Loader`] in their own crate, and the command line hands the
//! registry the ones it wants. Loading a plugin is two steps, so that a plugin loads all or
//! nothing: first every hook file of the plugin is prepared ([`PluginLoad::prepare`]: compiled,
//! opened), and only when all of them are ready is each one's `register(session)` run
//! ([`PreparedHook::register`]). Whatever a failed plugin subscribed is removed by the
//! registry, through the plugin's [`PluginTag`].

use std::error::Error as StdError;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use connect_core::{EventHub, PluginTag};

use crate::discovery::{DiscoveredPlugin, HookKind};

/// A way of running hook files of one [`HookKind`].
pub trait Loader: Send + Sync {
    /// The hook files this loader runs.
    fn kind(&self) -> HookKind;

    /// Starts loading `plugin`, whose subscriptions will carry `tag`. The returned
    /// [`PluginLoad`] prepares the plugin's hook files of this loader's kind, in load order;
    /// it may keep what they share (a Rhai plugin's engine and import resolver).
    fn begin(&self, plugin: &DiscoveredPlugin, tag: &PluginTag) -> Box<dyn PluginLoad + '_>;

    /// Why this loader cannot run any hook here, if it cannot (the Python loader without a
    /// Python that has `ftrack_api`): its hooks are then not run, and a plugin with no other
    /// hooks is skipped, with this reason. Asked once per plugin that has such hooks.
    fn unavailable(&self) -> Option<String> {
        None
    }

    /// Whether [`PluginLoad::prepare`] may run on any thread, for several plugins at once
    /// and in any order: true when preparing touches nothing outside the prepared hook (the
    /// Rhai loader compiles). The registry then prepares such plugins on every core at
    /// start-up, and still registers every plugin in load order on one thread. Default
    /// false: a native library runs code as it opens (and the crash marker names one library
    /// at a time), and Python hooks import into one interpreter, in order.
    fn prepares_anywhere(&self) -> bool {
        false
    }

    /// The host is about to exit without taking its plugins apart (a one-shot command ends
    /// the process instead): end the processes this loader runs hooks in, once what they
    /// printed is logged. Hooks of this loader are not run after it. Default: nothing (hooks
    /// that run in the host's own process).
    fn stop(&self) {}
}

/// One plugin being loaded by one loader.
pub trait PluginLoad {
    /// Prepares the hook file at `path` without running anything it registers.
    ///
    /// `Ok(None)`: the file is not a hook (a Rhai file without `fn register(session)`); the
    /// registry warns and goes on. `Err`: the plugin fails to load, with this error.
    fn prepare(&mut self, path: &Path) -> Result<Option<Box<dyn PreparedHook>>, LoadError>;
}

/// A hook file ready to register.
pub trait PreparedHook: Send + Sync {
    /// Runs the hook's `register(session)` against `hub`. An error fails the whole plugin.
    fn register(&self, hub: &Arc<EventHub>, session: &SessionInfo) -> Result<(), LoadError>;

    /// The address space this hook keeps mapped for the life of the process (a native
    /// library, which is never unloaded), in bytes; `None` for hooks that map nothing.
    fn mapped_bytes(&self) -> Option<u64> {
        None
    }

    /// The version the hook declares for itself, for plugins whose folder has none.
    fn declared_version(&self) -> Option<String> {
        None
    }

    /// Why the hook stopped working after it registered, if it did (an isolated native
    /// plugin whose process kept crashing): the plugin then shows as failed, with this
    /// reason. The registry keeps each loaded plugin's hooks to ask.
    fn failure(&self) -> Option<String> {
        None
    }
}

/// What a plugin's session shows of the signed-in user. Never the API key: plugins have no
/// business with it (the launcher hands it to the programs it starts, and only to them).
#[derive(Clone, Default)]
pub struct SessionInfo {
    /// The ftrack user.
    pub api_user: String,
    /// The ftrack server, empty when none is configured.
    pub server_url: String,
    /// The server's API, when the host is signed in: each plugin makes its own
    /// [`crate::ApiSession`] over it (its writes are its own until it commits).
    pub api: Option<Arc<dyn crate::ServerApi>>,
}

impl fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionInfo")
            .field("api_user", &self.api_user)
            .field("server_url", &self.server_url)
            .field("api", &self.api.is_some())
            .finish()
    }
}

/// Why a plugin could not be loaded: the loader's own error type (a Rhai script error with
/// file, line and column; a native library refused with the reason), kept as it is so that
/// its message reaches the user unchanged.
#[derive(Debug)]
pub struct LoadError(Box<dyn StdError + Send + Sync>);

impl LoadError {
    /// Wraps a loader's error.
    pub fn new(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        LoadError(error.into())
    }

    /// The loader's own error, to inspect.
    pub fn inner(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.0
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl StdError for LoadError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}
