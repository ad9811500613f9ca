//! `connect-python`: studios' Python hooks, run unchanged.
//!
//! A `.py` file in a plugin's `hook/` folder or on `FTRACK_EVENT_PLUGIN_PATH` is what every
//! ftrack studio already has: a `register(session)` written against `ftrack_api`. This
//! crate runs them in one child process, the *bridge*: a Python interpreter
//! (`FTRACK_CONNECT_PYTHON`, else `python3`) running `bridge.py`, which is shipped inside the
//! binary. The bridge imports `ftrack_api`, makes one session for all hooks (as Connect
//! does: with the host's sign-in, or, without a server, an `ftrack_api.Session` all the
//! same), imports each hook file and calls its `register` as `ftrack_api.plugin.discover`
//! does.
//!
//! **One hub across languages.** The session's event hub is the host's: each subscription a
//! Python hook makes is a subscription in the host's hub (its expression, subscriber
//! metadata and priority, under the plugin's tag), so Python, Rhai and native handlers are
//! ordered together by priority, then registration; `stop()` on either side stops the
//! others; a Python handler's changes to `event['data']` are seen by the handlers after it;
//! what it publishes goes through the host's hub. The host calls a Python handler over the
//! pipe (`connect-pipe`'s frames and conversations, `wire.rs`), so a handler that publishes
//! synchronously has the dispatch run on the host thread that called it, and the hub's
//! bounds hold.
//!
//! **Isolation.** A hook that raises is logged with its traceback and the event goes on. A
//! hook that ends the interpreter (`os._exit`, a crash) or does not answer within the time
//! limit ([`DEFAULT_TIME_LIMIT`]; the bridge is then killed) is blamed: the bridge restarts
//! without it and its plugin shows as failed, saying why (`supervisor.rs`). Without Python
//! or `ftrack_api`, Python hooks are skipped with what to install; nothing else changes.
//!
//! The cost: a Python handler call is an event written as JSON, two pipe writes and a few
//! thread wake-ups on top of what Python itself takes (`docs/benchmarks.md`).
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use connect_core::{EventHub, HubIdentity};
//! use connect_plugins::{ChangeTracking, Loader, PluginRegistry, SearchPaths, SessionInfo};
//! use connect_python::{PythonLoader, PythonOptions};
//!
//! let loader = PythonLoader::new(PythonOptions::from_environment("jane"));
//! if let Some(why) = loader.unavailable() {
//!     eprintln!("Python hooks are skipped: {why}"); // no Python, or no ftrack_api
//! }
//! let hub = Arc::new(EventHub::new(HubIdentity::local("jane")));
//! let paths = SearchPaths { plugin_roots: vec![], hook_dirs: vec!["/studio/hooks".into()] };
//! let session = SessionInfo { api_user: "jane".into(), server_url: String::new(), api: None };
//! let registry = PluginRegistry::load(
//!     hub,
//!     vec![Box::new(loader)],
//!     vec![],
//!     paths,
//!     session,
//!     ChangeTracking::Off,
//! );
//! println!("{} Python hooks", registry.reports().len());
//! ```

#![deny(missing_docs)]

// The modules in layers, each using only those of the layers before it, so that there is no
// import cycle (`tests/layout.rs` checks): `wire` and `options` (what crosses the pipe, how
// hooks run); `bridge` (one run of the interpreter); `state` (a hook across runs); `handler`
// (its handlers in the hub); `host_side` (the bridge's calls served); `supervisor` (the
// restarts); `hook` (what the registry holds).
mod bridge;
mod handler;
mod hook;
mod host_side;
mod options;
mod state;
mod supervisor;
mod wire;

use std::sync::Arc;

use connect_core::PluginTag;
use connect_plugins::{DiscoveredPlugin, HookKind, Loader, PluginLoad};

use hook::PythonLoad;
pub use options::{PythonOptions, PythonSignIn, DEFAULT_TIME_LIMIT, PYTHON_VARIABLE};
use supervisor::Supervisor;
pub use supervisor::{CRASH_WINDOW, FIRST_RESTART_DELAY, MAX_CRASHES};

/// The loader of Python hooks: one bridge process for all of them, started when the first
/// one loads.
pub struct PythonLoader {
    supervisor: Arc<Supervisor>,
}

impl PythonLoader {
    /// A loader running Python hooks as `options` say.
    pub fn new(options: PythonOptions) -> PythonLoader {
        PythonLoader {
            supervisor: Supervisor::new(options),
        }
    }
}

impl Loader for PythonLoader {
    fn kind(&self) -> HookKind {
        HookKind::Python
    }

    fn begin(&self, plugin: &DiscoveredPlugin, tag: &PluginTag) -> Box<dyn PluginLoad + '_> {
        Box::new(PythonLoad {
            supervisor: self.supervisor.clone(),
            tag: tag.clone(),
            library_dirs: plugin
                .library_dirs
                .iter()
                .map(|dir| dir.display().to_string())
                .collect(),
            fresh: true,
        })
    }

    fn unavailable(&self) -> Option<String> {
        self.supervisor.unavailable()
    }

    fn stop(&self) {
        self.supervisor.stop();
    }
}
