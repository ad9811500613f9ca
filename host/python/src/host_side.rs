//! The host's side of the calls the Python bridge makes: a hook's `subscribe` becomes a
//! subscription in the host's hub (under its plugin's tag, with a [`PythonHandler`] calling
//! back into the bridge), `unsubscribe` removes one of the bridge's own, `publish` goes
//! through the host's hub (with an `on_reply` callback released in the bridge when the hub
//! drops it). It sees the supervisor only through [`Hooks`], so that the supervisor, which
//! starts each bridge with [`server`], sits above it.

use std::sync::{Arc, Weak};

use connect_core::{EventHub, SubscribeOptions};
use connect_event::Event;
use serde_json::value::RawValue;

use crate::bridge::{BridgeProcess, Serve};
use crate::handler::PythonHandler;
use crate::state::HookState;
use crate::wire::{Answer, Call};

/// What serving the bridge's calls needs of whoever keeps the hooks (the supervisor).
pub(crate) trait Hooks: Send + Sync {
    /// The hub the hooks subscribe to, once the first one registered.
    fn hub(&self) -> Option<Arc<EventHub>>;
    /// The hook numbered `number`, if it is still held.
    fn hook(&self, number: u64) -> Option<Arc<HookState>>;
    /// Records subscription `id` for `hook`, made in `process`: `false` (not recorded) when
    /// `process` is no longer the bridge running, whose subscriptions are gone.
    fn record_subscription(&self, process: &Arc<BridgeProcess>, hook: &HookState, id: &str)
        -> bool;
    /// Forgets subscription `id` if a Python hook made it.
    fn forget_subscription(&self, id: &str) -> bool;
}

/// What serves the calls of the bridges `hooks` runs (for [`BridgeProcess::start`]).
pub(crate) fn server(hooks: Weak<dyn Hooks>) -> Serve {
    Box::new(move |call, process| match hooks.upgrade() {
        Some(hooks) => serve(&*hooks, call, process),
        None => Answer::failed("the host is shutting down"),
    })
}

/// Serves one call of `process`: subscriptions go to the hub under the plugin's tag of the
/// hook that makes them, publishes through the hub. The bridge may only remove the
/// subscriptions its own hooks made.
fn serve(hooks: &dyn Hooks, call: Call, process: &Arc<BridgeProcess>) -> Answer {
    let Some(hub) = hooks.hub() else {
        return Answer::failed("subscriptions and publishes are for register and handlers");
    };
    match call {
        Call::Subscribe {
            hook,
            expression,
            priority,
            handler,
            subscriber,
        } => {
            let Some(state) = hooks.hook(hook) else {
                return Answer::failed(format!("no hook number {hook}"));
            };
            let options = SubscribeOptions {
                priority,
                subscriber,
                plugin: Some(state.tag.clone()),
            };
            let handler = Arc::new(PythonHandler {
                process: process.clone(),
                handler,
                hook: Arc::downgrade(&state),
            });
            match hub.subscribe(&expression, handler, options) {
                Ok(id) if hooks.record_subscription(process, &state, &id) => {
                    Answer::Subscribed { id }
                }
                Ok(id) => {
                    // The bridge ended meanwhile: its subscriptions are gone, this too.
                    let _ = hub.unsubscribe(&id);
                    Answer::failed("the Python bridge is restarting")
                }
                Err(err) => Answer::failed(err),
            }
        }
        Call::Unsubscribe { id } => {
            if !hooks.forget_subscription(&id) {
                return Answer::failed(format!("{id} is no subscription of a Python hook"));
            }
            match hub.unsubscribe(&id) {
                Ok(()) => Answer::Unsubscribed,
                Err(err) => Answer::failed(err),
            }
        }
        Call::Publish {
            event,
            synchronous,
            reply_handler,
            hook,
        } => {
            let on_reply = reply_handler.map(|handler| ReplyHandler {
                process: Arc::downgrade(process),
                handler,
                hook,
            });
            publish(&hub, &event, synchronous, on_reply)
        }
        Call::Import { .. }
        | Call::Register { .. }
        | Call::Handle { .. }
        | Call::Forget { .. }
        | Call::Release { .. } => Answer::failed("the Python bridge cannot ask the host for that"),
    }
}

/// A publish from a Python hook, through the host's hub: synchronous ones answer with the
/// results and the data after the handlers ran.
fn publish(
    hub: &Arc<EventHub>,
    event: &RawValue,
    synchronous: bool,
    on_reply: Option<ReplyHandler>,
) -> Answer {
    let mut event: Event = match serde_json::from_str(event.get()) {
        Ok(event) => event,
        Err(err) => return Answer::failed(format!("invalid event: {err}")),
    };
    if !synchronous {
        let on_reply = on_reply.map(|handler| {
            Arc::new(move |reply: &Event| handler.call(reply)) as connect_core::ReplyCallback
        });
        hub.publish_async(event, on_reply);
        return Answer::Queued;
    }
    let results = hub.publish(&mut event);
    Answer::Published {
        results,
        data: std::mem::take(&mut event.data),
    }
}

/// A Python `on_reply` callback, as the hub keeps it: released in the bridge when the hub
/// drops it (its replies are all in, or their time is up).
struct ReplyHandler {
    process: Weak<BridgeProcess>,
    handler: u64,
    hook: Option<u64>,
}

impl ReplyHandler {
    /// Calls it with `reply` (errors are logged with the plugin's name).
    fn call(&self, reply: &Event) {
        let Some(process) = self.process.upgrade() else {
            return;
        };
        let event = match serde_json::to_string(reply).and_then(RawValue::from_string) {
            Ok(event) => event,
            Err(err) => return tracing::warn!("a reply is not JSON: {err}"),
        };
        let call = Call::Handle {
            handler: self.handler,
            event,
        };
        match process.call(call, self.hook) {
            Ok(Answer::Handled { .. }) => {}
            Ok(Answer::Failed { error }) => {
                tracing::warn!(
                    plugin = "python",
                    "a Python on_reply callback failed: {error}"
                )
            }
            other => tracing::warn!(
                plugin = "python",
                "a Python on_reply callback got no answer: {other:?}"
            ),
        }
    }
}

impl Drop for ReplyHandler {
    fn drop(&mut self) {
        let Some(process) = self.process.upgrade() else {
            return;
        };
        let handler = self.handler;
        // Not on the thread dropping it, which may be inside a dispatch holding the turn.
        let _ = std::thread::Builder::new()
            .name("python-release".into())
            .spawn(move || {
                if !process.has_ended() {
                    let _ = process.call(Call::Release { handler }, None);
                }
            });
    }
}
