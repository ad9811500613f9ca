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

#![deny(missing_docs)]

mod bridge;
mod hook;
mod supervisor;
mod wire;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use connect_core::{ApiKey, PluginTag};
use connect_plugins::{DiscoveredPlugin, HookKind, Loader, PluginLoad};

use hook::PythonLoad;
use supervisor::Supervisor;
pub use supervisor::{CRASH_WINDOW, FIRST_RESTART_DELAY, MAX_CRASHES};

/// How long a Python handler, import or `register` may take before the bridge is killed.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(10);

/// The environment variable naming the Python interpreter (else `python3` on `PATH`).
pub const PYTHON_VARIABLE: &str = "FTRACK_CONNECT_PYTHON";

/// How Python hooks are run.
#[derive(Clone)]
pub struct PythonOptions {
    /// The interpreter.
    pub program: PathBuf,
    /// The user hooks see (`session.api_user`) when there is no sign-in.
    pub api_user: String,
    /// The host's sign-in, which the hooks' session uses; `None`: no server.
    pub sign_in: Option<PythonSignIn>,
    /// How long a handler, an import or a `register` may take.
    pub time_limit: Duration,
}

impl std::fmt::Debug for PythonOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PythonOptions")
            .field("program", &self.program)
            .field("api_user", &self.api_user)
            .field("server", &self.sign_in.as_ref().map(|s| &s.server_url))
            .field("time_limit", &self.time_limit)
            .finish()
    }
}

impl PythonOptions {
    /// The interpreter from `FTRACK_CONNECT_PYTHON`, else `python3`, with no sign-in.
    pub fn from_environment(api_user: &str) -> PythonOptions {
        let program = std::env::var_os(PYTHON_VARIABLE)
            .filter(|p| !p.is_empty())
            .map_or_else(|| PathBuf::from("python3"), PathBuf::from);
        PythonOptions {
            program,
            api_user: api_user.to_string(),
            sign_in: None,
            time_limit: DEFAULT_TIME_LIMIT,
        }
    }
}

/// The sign-in the hooks' `ftrack_api` session uses (it reaches the bridge's environment as
/// `FTRACK_SERVER`, `FTRACK_API_USER`, `FTRACK_API_KEY`, as under Connect).
#[derive(Clone)]
pub struct PythonSignIn {
    /// The server.
    pub server_url: String,
    /// The user.
    pub api_user: String,
    /// The key.
    pub api_key: ApiKey,
}

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
}
