//! Python hook files as the registry sees them ([`PythonLoad`], [`PythonHook`]) and their
//! handlers as the hub calls them ([`PythonHandler`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use connect_core::{EventHub, Handler, HandlerCall, HandlerError, PluginTag, Reply};
use connect_pipe::link::NoAnswer;
use connect_plugins::{LoadError, PluginLoad, PreparedHook, SessionInfo};
use serde_json::value::RawValue;

use crate::bridge::BridgeProcess;
use crate::supervisor::Supervisor;
use crate::wire::{Answer, Call};

/// One Python hook file, as long as the registry keeps it: what the bridge needs to import
/// and register it again after a restart, and the subscriptions it holds now.
pub(crate) struct HookState {
    /// The host's number for it, the same in every run of the bridge.
    pub(crate) number: u64,
    pub(crate) path: PathBuf,
    pub(crate) tag: PluginTag,
    pub(crate) library_dirs: Vec<String>,
    /// The subscriber ids its code made in the running bridge.
    subscriptions: Mutex<HashSet<String>>,
    /// Why it is no longer run (it ended or hung the bridge).
    failure: Mutex<Option<String>>,
    /// The bridge it was last imported into.
    imported_into: Mutex<Weak<BridgeProcess>>,
}

impl HookState {
    pub(crate) fn new(
        number: u64,
        path: &Path,
        tag: PluginTag,
        library_dirs: Vec<String>,
    ) -> HookState {
        HookState {
            number,
            path: path.to_path_buf(),
            tag,
            library_dirs,
            subscriptions: Mutex::new(HashSet::new()),
            failure: Mutex::new(None),
            imported_into: Mutex::new(Weak::new()),
        }
    }

    pub(crate) fn imported_into(&self, process: &Arc<BridgeProcess>) {
        *self.imported_into.lock().unwrap_or_else(|e| e.into_inner()) = Arc::downgrade(process);
    }

    pub(crate) fn was_imported_into(&self, process: &Arc<BridgeProcess>) -> bool {
        let imported = self.imported_into.lock().unwrap_or_else(|e| e.into_inner());
        std::ptr::eq(imported.as_ptr(), Arc::as_ptr(process))
    }

    pub(crate) fn subscribed(&self, id: String) {
        self.lock_subscriptions().insert(id);
    }

    /// Forgets subscription `id` if this hook made it.
    pub(crate) fn unsubscribed(&self, id: &str) -> bool {
        self.lock_subscriptions().remove(id)
    }

    /// Takes every subscription it holds (the bridge ended: they go from the hub).
    pub(crate) fn take_subscriptions(&self) -> HashSet<String> {
        std::mem::take(&mut *self.lock_subscriptions())
    }

    fn lock_subscriptions(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.subscriptions.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn fail(&self, why: String) {
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }
}

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

/// The event as JSON text, made once per dispatch for every Python handler it reaches
/// (until one changes it).
struct EventJson(Result<Box<RawValue>, String>);

/// One of the bridge's handlers, as the hub calls it.
pub(crate) struct PythonHandler {
    /// The run of the bridge that holds the handler.
    pub(crate) process: Arc<BridgeProcess>,
    /// The bridge's number for it.
    pub(crate) handler: u64,
    pub(crate) hook: Weak<HookState>,
}

impl PythonHandler {
    /// The bridge ended during the call: this hook's doing if its code ran innermost (or it
    /// hung), and the bridge restarts without it.
    fn ended(&self) -> HandlerError {
        let how = self.process.how_it_ended();
        let Some(hook) = self.hook.upgrade() else {
            return HandlerError(format!("the Python bridge had ended ({how})"));
        };
        if self.process.culprit() != Some(hook.number) {
            return HandlerError(format!("the Python bridge had ended ({how}); it restarts"));
        }
        let why = if self.process.hung(hook.number) {
            format!("no answer within {} s", self.process.limit.as_secs_f64())
        } else {
            format!("the Python bridge ended while it ran ({how})")
        };
        HandlerError(format!(
            "{}: {why}; the Python bridge restarts without this hook (it runs again when its \
             file changes, or at the next start)",
            hook.path.display()
        ))
    }
}

impl Handler for PythonHandler {
    fn handle(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        let (_, EventJson(event)) = call.form(|event| {
            EventJson(
                serde_json::to_string(event)
                    .and_then(RawValue::from_string)
                    .map_err(|e| e.to_string()),
            )
        });
        let event = event
            .clone()
            .map_err(|e| HandlerError(format!("the event is not JSON: {e}")))?;
        let hook = self.hook.upgrade().map(|hook| hook.number);
        let answer = self.process.call(
            Call::Handle {
                handler: self.handler,
                event,
            },
            hook,
        );
        let (result, data, stop) = match answer {
            Ok(Answer::Handled { result, data, stop }) => (result, data, stop),
            Ok(Answer::Failed { error }) => return Err(HandlerError(error)),
            Ok(other) => {
                return Err(HandlerError(format!(
                    "unexpected answer from the Python bridge: {other:?}"
                )))
            }
            Err(NoAnswer::TimedOut | NoAnswer::Closed) => return Err(self.ended()),
        };
        if stop {
            call.stop();
        }
        if let Some(data) = data {
            call.event_mut().data = serde_json::from_str(data.get())
                .map_err(|e| HandlerError(format!("the handler's event data is not JSON: {e}")))?;
        }
        serde_json::from_str(result.get())
            .map(Reply::Json)
            .map_err(|e| HandlerError(format!("the handler's result is not JSON: {e}")))
    }
}
