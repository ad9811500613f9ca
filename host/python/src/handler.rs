//! A Python hook's handler as the hub calls it ([`PythonHandler`]): the event goes over the
//! pipe to the bridge, and the handler's result, changes to the event's data and `stop()` come
//! back; when the bridge ends during the call, the hook whose code ran is named.

use std::sync::{Arc, Weak};

use connect_core::{Handler, HandlerCall, HandlerError, Reply};
use connect_pipe::link::NoAnswer;
use serde_json::value::RawValue;

use crate::bridge::BridgeProcess;
use crate::state::HookState;
use crate::wire::{Answer, Call};

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
