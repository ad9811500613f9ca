//! `connect-isolate`: native plugins out of process, on request (`run --isolate-native`, or
//! `FTRACK_CONNECT_ISOLATE_NATIVE=1`).
//!
//! In process, a native plugin is trusted code: an abort or a segfault in it ends the host.
//! Isolated, each plugin library runs in a child process of the host's own binary
//! (`ftrack-connect native-host`, see [`serve`]), which opens the library with the same loader
//! and checks (`connect-native`) and speaks to the host over its standard input and output
//! (`wire`: one JSON frame per line, over `connect-pipe`). The plugin sees the same session,
//! and its handlers the same semantics: subscriptions live in the host's hub (priority,
//! targets, `stop`, data changes and replies work as for any handler), and a synchronous
//! publish from a handler is dispatched by the host thread that called the handler, so the
//! hub's nesting and chain bounds hold across the pipe (`connect_pipe::link`). The plugin's
//! calls to the ftrack server (`HostSession::api`) go the same way: the host runs them on the
//! plugin's `ApiSession`, one per process, and answers with the result; the API key never
//! reaches the child.
//!
//! When the child dies (abort, signal, exit) the handler calls waiting on it fail with how it
//! ended, so the hub logs one warning naming the plugin, the topic and the signal, and the
//! event gets the other handlers' results. A handler that does not answer within the time
//! limit (default [`DEFAULT_TIME_LIMIT`]) has its process killed the same way. The plugin's
//! subscriptions are removed and it is registered again in a new process after a pause that
//! doubles with each crash; after [`MAX_CRASHES`] within [`CRASH_WINDOW`] it is given up and
//! `plugins` shows it failed, with why (`supervisor`).
//!
//! The cost: a handler call is two pipe writes and four thread wake-ups instead of a function
//! call (`docs/benchmarks.md` has the figures).
//!
//! The host's side, a loader among the registry's (the child's side is [`serve`], which the
//! host's binary runs as `native-host`):
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use connect_core::{EventHub, HubIdentity};
//! use connect_isolate::{IsolatedLoader, IsolationOptions, DEFAULT_TIME_LIMIT};
//! use connect_plugins::{ChangeTracking, PluginRegistry, SearchPaths, SessionInfo};
//!
//! let loader = IsolatedLoader::new(IsolationOptions {
//!     program: std::env::current_exe()?, // a binary that calls `serve` for `native-host`
//!     copy_dir: "/tmp/ftrack-connect/native".into(),
//!     time_limit: DEFAULT_TIME_LIMIT,
//! });
//! let hub = Arc::new(EventHub::new(HubIdentity::local("jane")));
//! let paths = SearchPaths { plugin_roots: vec!["/studio/plugins".into()], hook_dirs: vec![] };
//! let session = SessionInfo { api_user: "jane".into(), server_url: String::new(), api: None };
//! let registry = PluginRegistry::load(
//!     hub,
//!     vec![Box::new(loader)],
//!     vec![],
//!     paths,
//!     session,
//!     ChangeTracking::Off,
//! );
//! println!("{} plugins", registry.reports().len());
//! # Ok::<(), std::io::Error>(())
//! ```

#![deny(missing_docs)]

mod child;
mod process;
mod supervisor;
mod wire;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use connect_core::{EventHub, PluginTag};
use connect_plugins::{
    DiscoveredPlugin, HookKind, LoadError, Loader, PluginLoad, PreparedHook, SessionInfo,
};

pub use child::serve;
use supervisor::Supervisor;
pub use supervisor::{CRASH_WINDOW, FIRST_RESTART_DELAY, MAX_CRASHES};

/// How long an isolated handler (or `register`, or opening the library) may take before its
/// process is killed.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(10);

/// How isolated plugins are run.
#[derive(Debug, Clone)]
pub struct IsolationOptions {
    /// The host's binary, started as `PROGRAM native-host --library L --copy-dir D`.
    pub program: PathBuf,
    /// Where the child copies each library to open it (as the in-process loader does).
    pub copy_dir: PathBuf,
    /// How long a handler, `register` or opening the library may take.
    pub time_limit: Duration,
}

/// The loader of native plugins that runs each in a child process.
#[derive(Debug)]
pub struct IsolatedLoader {
    options: IsolationOptions,
    /// Every library it opened, for [`Loader::stop`].
    opened: Mutex<Vec<Weak<Supervisor>>>,
}

impl IsolatedLoader {
    /// A loader running native plugins as `options` say.
    pub fn new(options: IsolationOptions) -> IsolatedLoader {
        IsolatedLoader {
            options,
            opened: Mutex::default(),
        }
    }
}

impl Loader for IsolatedLoader {
    fn kind(&self) -> HookKind {
        HookKind::Native
    }

    fn begin(&self, _plugin: &DiscoveredPlugin, tag: &PluginTag) -> Box<dyn PluginLoad + '_> {
        Box::new(IsolatedLoad {
            loader: self,
            tag: tag.clone(),
        })
    }

    fn stop(&self) {
        let supervisors =
            std::mem::take(&mut *self.opened.lock().unwrap_or_else(|e| e.into_inner()));
        // Killed all at once, then each waited for.
        let processes: Vec<_> = supervisors
            .iter()
            .filter_map(Weak::upgrade)
            .flat_map(|supervisor| supervisor.stop())
            .collect();
        for process in processes {
            process.end("the host is ending".into());
        }
    }
}

struct IsolatedLoad<'a> {
    loader: &'a IsolatedLoader,
    tag: PluginTag,
}

/// Why an isolated library could not be loaded: one line naming the file.
#[derive(Debug)]
struct IsolatedLoadError {
    path: PathBuf,
    reason: String,
}

impl std::fmt::Display for IsolatedLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The child's own errors (a refused library) already name the file.
        let path = self.path.display().to_string();
        if self.reason.contains(&path) {
            write!(f, "{} (isolated)", self.reason)
        } else {
            write!(f, "{path} (isolated): {}", self.reason)
        }
    }
}

impl std::error::Error for IsolatedLoadError {}

fn load_error(path: &Path, reason: String) -> LoadError {
    LoadError::new(IsolatedLoadError {
        path: path.to_path_buf(),
        reason,
    })
}

impl PluginLoad for IsolatedLoad<'_> {
    fn prepare(&mut self, path: &Path) -> Result<Option<Box<dyn PreparedHook>>, LoadError> {
        tracing::info!(
            "opening native library {} in a process of its own",
            path.display()
        );
        let options = self.loader.options.clone();
        let (supervisor, declared) =
            Supervisor::open(path.to_path_buf(), options, self.tag.clone())
                .map_err(|reason| load_error(path, reason))?;
        let mut opened = self.loader.opened.lock().unwrap_or_else(|e| e.into_inner());
        opened.retain(|supervisor| supervisor.strong_count() > 0);
        opened.push(Arc::downgrade(&supervisor));
        drop(opened);
        Ok(Some(Box::new(IsolatedHook {
            supervisor,
            path: path.to_path_buf(),
            version: declared.1,
        })))
    }
}

/// An isolated library, opened in its process and ready to register.
struct IsolatedHook {
    supervisor: Arc<Supervisor>,
    path: PathBuf,
    version: String,
}

impl PreparedHook for IsolatedHook {
    fn register(&self, hub: &Arc<EventHub>, session: &SessionInfo) -> Result<(), LoadError> {
        self.supervisor
            .register(hub, session)
            .map_err(|reason| load_error(&self.path, reason))
    }

    fn declared_version(&self) -> Option<String> {
        Some(self.version.clone())
    }

    fn failure(&self) -> Option<String> {
        self.supervisor
            .failure()
            .map(|reason| format!("{} (isolated): {reason}", self.path.display()))
    }
}
