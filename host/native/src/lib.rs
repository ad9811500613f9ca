//! `connect-native`: the loader of native plugins, `cdylib`s built against the stable ABI of
//! `connect-plugin-abi` (with the `connect-plugin-api` SDK).
//!
//! Each library is loaded from a private copy at a unique path. The dynamic loader hands back
//! the already-loaded library for a path it has seen, so a rebuilt plugin at the same path
//! would silently stay the old one; a fresh copy per load avoids that (and lets hot reload
//! switch versions). The copy is removed once loaded on Unix (the mapping stays).
//!
//! Loading goes through `lib_header_from_path` and `init_root_module` rather than
//! `RootModule::load_from_*`: those cache one module per interface type, so every plugin after
//! the first would come back as the first. abi_stable checks the plugin's `connect-plugin-api`
//! version and then the layout of every type that crosses; a mismatch is reported in one
//! line (the full report goes to the log) and the host goes on. Loaded libraries are never
//! unloaded: handlers point into them.
//!
//! The crate is in parts: `library` (loading and checking a library), `session` (what a
//! plugin's `register` gets), `handler` (its handlers as the hub calls them), `value` (their
//! results, kept as the plugin made them) and `api` (its calls to the ftrack server, run on
//! the plugin's own [`ApiSession`]: one per plugin load, shared by the plugin's libraries, made
//! over the host's [`SessionInfo::api`]; the API key never reaches the plugin).
//!
//! ```
//! use connect_native::{load, NativeLoadError};
//!
//! let dir = std::env::temp_dir().join(format!("connect-native-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let not_a_library = dir.join("notes.so");
//! std::fs::write(&not_a_library, "just text").unwrap();
//! match load(&not_a_library, &dir.join("copies")) {
//!     Err(NativeLoadError::Refused(reason)) => {
//!         assert!(reason.contains("notes.so is not a library this host can load"), "{reason}")
//!     }
//!     _ => panic!("a text file is no library"),
//! }
//! std::fs::remove_dir_all(dir).unwrap();
//! ```

#![deny(missing_docs)]

mod api;
mod handler;
mod library;
mod session;
mod value;

// The parts share these imports, and each other's crate-visible items, through `use super::*`.
use std::cell::OnceCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use abi_stable::library::{lib_header_from_path, LibraryError};
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RErr, ROk, RResult, RStr, RString};
use connect_core::{
    EventHub, Handler, HandlerCall, HandlerError, PluginTag, Reply, ResultForm, SubscribeOptions,
};
use connect_event::Event;
use connect_plugin_abi::{
    DispatchedEvent, DispatchedEvent_TO, EventHandlerBox, HostSession, HostSessionBox,
    HostSession_TO, PluginModRef, PublishOutcome,
};
use connect_plugins::{
    ApiSession, DiscoveredPlugin, HookKind, LoadError, Loader, PluginLoad, PreparedHook,
    ServerApiError, SessionInfo,
};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;

pub use api::{api_call, NO_SERVER};
pub use handler::NativeText;
use handler::*;
pub use library::{load, NativeLoadError, NativeModule};
pub use session::guarded;
use session::*;
pub use value::{MalformedValue, NativeValue};

/// The loader of native plugins (library files in a plugin's `hook/`).
#[derive(Debug, Clone)]
pub struct NativeLoader {
    /// A private folder where each library is copied to be loaded (see the crate doc).
    copy_dir: PathBuf,
}

impl NativeLoader {
    /// A loader copying libraries into `copy_dir`. Says (at warning level) which library an
    /// earlier process died opening, if one did.
    pub fn new(copy_dir: PathBuf) -> NativeLoader {
        library::OpeningMarker::report_left_behind(&copy_dir);
        NativeLoader { copy_dir }
    }
}

impl Loader for NativeLoader {
    fn kind(&self) -> HookKind {
        HookKind::Native
    }

    fn begin(&self, _plugin: &DiscoveredPlugin, tag: &PluginTag) -> Box<dyn PluginLoad + '_> {
        Box::new(NativePluginLoad {
            loader: self,
            tag: tag.clone(),
            api: Arc::default(),
        })
    }
}

/// The plugin's server session, made at its first `register` (from the [`SessionInfo`] it
/// gets) and shared by all its libraries: `None` inside when the host has no server.
type SharedApi = Arc<OnceLock<Option<ApiSession>>>;

struct NativePluginLoad<'a> {
    loader: &'a NativeLoader,
    tag: PluginTag,
    api: SharedApi,
}

impl PluginLoad for NativePluginLoad<'_> {
    fn prepare(&mut self, path: &Path) -> Result<Option<Box<dyn PreparedHook>>, LoadError> {
        let module = load(path, &self.loader.copy_dir).map_err(LoadError::new)?;
        Ok(Some(Box::new(PreparedLibrary {
            module,
            tag: self.tag.clone(),
            api: self.api.clone(),
        })))
    }
}

/// A loaded library ready for its `register`.
struct PreparedLibrary {
    module: NativeModule,
    tag: PluginTag,
    api: SharedApi,
}

impl PreparedHook for PreparedLibrary {
    fn register(&self, hub: &Arc<EventHub>, session: &SessionInfo) -> Result<(), LoadError> {
        let api = self
            .api
            .get_or_init(|| session.api.clone().map(ApiSession::new))
            .clone();
        self.module
            .register_sharing(hub, &self.tag, session, api)
            .map_err(LoadError::new)
    }

    fn mapped_bytes(&self) -> Option<u64> {
        Some(self.module.size())
    }

    fn declared_version(&self) -> Option<String> {
        Some(self.module.declared().1)
    }
}
