//! How Python hooks are run: the interpreter, the user and sign-in their session gets, and
//! the time limit. A leaf module, so that the bridge (which starts the interpreter with them)
//! and the supervisor (which keeps them across restarts) need not reach back to the crate
//! root that composes them.

use std::path::PathBuf;
use std::time::Duration;

use connect_core::ApiKey;

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
