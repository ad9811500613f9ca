//! Python hook files as the registry sees them: a plugin's hooks being loaded
//! ([`PythonLoad`]) and each one imported, ready to register ([`PythonHook`]). The top layer:
//! it asks the supervisor, which does the work in the bridge.

use std::path::Path;
use std::sync::Arc;

use connect_core::{EventHub, PluginTag};
use connect_plugins::{LoadError, PluginLoad, PreparedHook, SessionInfo};

use crate::state::HookState;
use crate::supervisor::Supervisor;

/// Why a Python hook could not be loaded: the bridge's words (the file, and for a Python
/// exception its traceback).
#[derive(Debug)]
pub(crate) struct PythonLoadError(pub(crate) String);

impl std::fmt::Display for PythonLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PythonLoadError {}

/// One plugin's Python hooks being loaded.
pub(crate) struct PythonLoad {
    pub(crate) supervisor: Arc<Supervisor>,
    pub(crate) tag: PluginTag,
    pub(crate) library_dirs: Vec<String>,
    /// No hook of this load was imported yet.
    pub(crate) fresh: bool,
}

impl PluginLoad for PythonLoad {
    fn prepare(&mut self, path: &Path) -> Result<Option<Box<dyn PreparedHook>>, LoadError> {
        let state = Arc::new(HookState::new(
            self.supervisor.next_hook_number(),
            path,
            self.tag.clone(),
            self.library_dirs.clone(),
        ));
        let fresh = std::mem::take(&mut self.fresh);
        match self.supervisor.import(&state, fresh) {
            Ok(true) => Ok(Some(Box::new(PythonHook {
                supervisor: self.supervisor.clone(),
                state,
            }))),
            Ok(false) => Ok(None),
            Err(error) => Err(LoadError::new(PythonLoadError(error))),
        }
    }
}

/// An imported Python hook, ready to register.
pub(crate) struct PythonHook {
    supervisor: Arc<Supervisor>,
    state: Arc<HookState>,
}

impl PreparedHook for PythonHook {
    fn register(&self, hub: &Arc<EventHub>, _session: &SessionInfo) -> Result<(), LoadError> {
        self.supervisor
            .register(&self.state, hub)
            .map_err(|error| LoadError::new(PythonLoadError(error)))
    }

    fn failure(&self) -> Option<String> {
        self.state.failure().or_else(|| self.supervisor.given_up())
    }
}

impl Drop for PythonHook {
    fn drop(&mut self) {
        self.supervisor.forget(&self.state);
    }
}
