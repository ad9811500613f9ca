//! The contract between the hub and whatever handles an event: a [`Handler`] is called with a
//! [`HandlerCall`] and answers with a [`Reply`] or a [`HandlerError`].
//!
//! Loaders (Rhai, native, the host's own handlers) implement [`Handler`]; the hub knows none
//! of them. What the call carries besides the event is the dispatch's [`EventForms`]: the
//! event converted to a loader's own form (Rhai values, JSON text), made by the first handler
//! of a dispatch that needs it and shared by the next ones. A form is only valid while the
//! event is unchanged, so the call tracks change itself: [`HandlerCall::event_mut`] marks the
//! event changed, and the hub drops every form after such a call, in one place. A handler can
//! thus never forget to, and a handler that only reads (or only stops the event) keeps the
//! forms for the handlers after it.

use std::any::Any;

use connect_event::Event;
use serde_json::Value;

use crate::reply::Reply;

/// Why a handler produced no result. The message is shown to the plugin author as it is.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(pub String);

/// A subscription's callback.
///
/// Returning `Ok(reply)` adds the reply to the publish results (and, for an asynchronous
/// publish, sends it back as an `ftrack.meta.reply` event unless it is `null`). Returning
/// `Err` logs the error with the plugin's name, and the event goes on to the next
/// subscriber. The reply stays in the form the handler made it ([`Reply`]): readers convert
/// it once, to the form they need.
pub trait Handler: Send + Sync {
    /// Handles the event of `call`.
    fn handle(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError>;
}

/// A closure over the event is a handler that may change it; its result is a JSON value.
impl<F> Handler for F
where
    F: Fn(&mut Event) -> Result<Value, HandlerError> + Send + Sync,
{
    fn handle(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        self(call.event_mut()).map(Reply::Json)
    }
}

/// One handler's view of a dispatch: the event, and the forms other handlers converted it to.
pub struct HandlerCall<'a> {
    event: &'a mut Event,
    forms: &'a mut EventForms,
    changed: bool,
    queued: bool,
}

impl<'a> HandlerCall<'a> {
    /// A call of one handler on `event`, sharing `forms` with the calls before it.
    pub fn new(event: &'a mut Event, forms: &'a mut EventForms) -> Self {
        HandlerCall {
            event,
            forms,
            changed: false,
            queued: false,
        }
    }

    /// Whether the event was published asynchronously (here or by another client through
    /// the server) and dispatched from the hub's queue: its results go back as
    /// `ftrack.meta.reply` events, so a handler may also answer later, from another thread
    /// (`EventHub::reply_later`). `false` for a synchronous publish, whose publisher takes
    /// the results when the dispatch returns.
    pub fn is_queued(&self) -> bool {
        self.queued
    }

    /// The event, to read.
    pub fn event(&self) -> &Event {
        self.event
    }

    /// The event, to change: the forms of this dispatch are dropped after this call.
    pub fn event_mut(&mut self) -> &mut Event {
        self.changed = true;
        self.event
    }

    /// Ends dispatch after this handler (`event.stop()`); leaves the forms valid.
    pub fn stop(&mut self) {
        self.event.stop();
    }

    /// The event and its form of type `T`, made from the event by `make` if no handler of
    /// this dispatch has made it since the event last changed.
    pub fn form<T: Any>(&mut self, make: impl FnOnce(&Event) -> T) -> (&Event, &T) {
        let event = &*self.event;
        (event, self.forms.get_or_insert_with(|| make(event)))
    }

    /// Ends the call: drops the forms if the handler changed the event.
    fn finish(self) {
        if self.changed {
            self.forms.clear();
        }
    }
}

/// Calls `handler` on `event` once, outside any dispatch (a reply callback, a test).
pub fn call_once(handler: &dyn Handler, event: &mut Event) -> Result<Reply, HandlerError> {
    let mut forms = EventForms::default();
    call_in_dispatch(handler, event, &mut forms, false)
}

/// Calls `handler` as one of a dispatch's handlers, sharing `forms`.
pub(crate) fn call_in_dispatch(
    handler: &dyn Handler,
    event: &mut Event,
    forms: &mut EventForms,
    queued: bool,
) -> Result<Reply, HandlerError> {
    let mut call = HandlerCall::new(event, forms);
    call.queued = queued;
    let outcome = handler.handle(&mut call);
    call.finish();
    outcome
}

/// The forms one dispatch has converted its event to, shared by the handlers that need them.
///
/// Rhai handlers see the event as Rhai values, native handlers as JSON text. Converting once
/// per publish rather than once per handler is what makes an event answered by 200 hooks
/// cheap. Kept by type: each loader keeps its form in a type of its own.
#[derive(Default)]
pub struct EventForms {
    forms: Vec<Box<dyn Any>>,
}

impl EventForms {
    /// The form of type `T`, made by `make` if this dispatch has none yet.
    fn get_or_insert_with<T: Any>(&mut self, make: impl FnOnce() -> T) -> &T {
        let index = match self.forms.iter().position(|form| form.is::<T>()) {
            Some(index) => index,
            None => {
                self.forms.push(Box::new(make()));
                self.forms.len() - 1
            }
        };
        self.forms[index]
            .downcast_ref()
            .expect("the form at this index has this type")
    }

    /// Forgets every form: the event changed.
    fn clear(&mut self) {
        self.forms.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counted(u32);

    /// Reads its form; changes the event when `writes`.
    struct FormUser {
        writes: bool,
    }

    impl Handler for FormUser {
        fn handle(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
            let made = std::cell::Cell::new(false);
            let (_, form) = call.form(|_| {
                made.set(true);
                Counted(1)
            });
            let answer = Value::from(made.get() && form.0 == 1);
            if self.writes {
                call.event_mut().data = Value::from(1);
            }
            Ok(Reply::Json(answer))
        }
    }

    #[test]
    fn forms_are_shared_until_a_handler_changes_the_event() {
        let mut event = Event::new("t");
        let mut forms = EventForms::default();
        let reader = FormUser { writes: false };
        let writer = FormUser { writes: true };
        let made = |handler: &FormUser, event: &mut Event, forms: &mut EventForms| {
            call_in_dispatch(handler, event, forms, false)
                .unwrap()
                .into_json()
        };
        assert_eq!(
            made(&reader, &mut event, &mut forms),
            true,
            "first call makes it"
        );
        assert_eq!(
            made(&reader, &mut event, &mut forms),
            false,
            "then shares it"
        );
        assert_eq!(
            made(&writer, &mut event, &mut forms),
            false,
            "shared, then changes"
        );
        assert_eq!(
            made(&reader, &mut event, &mut forms),
            true,
            "made anew after a change"
        );
    }

    #[test]
    fn stopping_keeps_the_forms() {
        let mut event = Event::new("t");
        let mut forms = EventForms::default();
        let stopper = |call: &mut HandlerCall<'_>| {
            call.form(|_| Counted(1));
            call.stop();
        };
        let mut call = HandlerCall::new(&mut event, &mut forms);
        stopper(&mut call);
        call.finish();
        assert!(event.is_stopped());
        assert_eq!(forms.forms.len(), 1);
    }
}
