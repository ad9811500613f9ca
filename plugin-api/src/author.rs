//! Writing a native plugin in plain Rust, on top of the [`crate::abi`] types.
//!
//! ```ignore
//! use connect_plugin_api::author::{json, Session, Error};
//!
//! fn register(session: &Session) -> Result<(), Error> {
//!     session.subscribe("topic=ftrack.action.discover", |event| {
//!         Ok(json!({"items": [{"label": "Hello", "actionIdentifier": "hello"}]}))
//!     })?;
//!     Ok(())
//! }
//!
//! connect_plugin_api::export_plugin!(register);
//! ```
//!
//! Handlers are closures taking `&mut Event` and returning a JSON value or any error (`?`
//! works on everything that implements `std::error::Error`). They may change `event.data`
//! (later handlers and the publisher see it) and call `event.stop()`. A panic in `register` or
//! in a handler is caught here, inside the plugin, and reported to the host as an error:
//! unwinding must never reach the `extern "C"` boundary, where abi_stable would abort the
//! whole host.

use std::any::Any;
use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RErr, RNone, ROk, RResult, RSome, RStr, RString};
pub use serde_json::{json, Value};

use crate::abi::{EventHandler, EventHandlerBox, EventHandler_TO, HandlerOutcome, HostSessionBox};
use crate::Event;

/// Any error a handler or `register` returns; its message reaches the host's log.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// What a handler returns: its result (`Value::Null` for none) or an error.
pub type HandlerResult = Result<Value, Error>;

/// Default subscription priority, as in ftrack.
pub const DEFAULT_PRIORITY: i64 = 100;

/// The host, as a plugin sees it. Cheap to clone; keep a clone to publish from handlers.
#[derive(Clone)]
pub struct Session {
    host: HostSessionBox,
}

impl Session {
    /// Subscribes `handler` at the default priority; returns the subscriber id.
    pub fn subscribe<F>(&self, expression: &str, handler: F) -> Result<String, Error>
    where
        F: Fn(&mut Event) -> HandlerResult + Send + Sync + 'static,
    {
        self.subscribe_with_priority(expression, DEFAULT_PRIORITY, handler)
    }

    /// Subscribes `handler` at `priority` (lower numbers run first).
    pub fn subscribe_with_priority<F>(
        &self,
        expression: &str,
        priority: i64,
        handler: F,
    ) -> Result<String, Error>
    where
        F: Fn(&mut Event) -> HandlerResult + Send + Sync + 'static,
    {
        let handler: EventHandlerBox =
            EventHandler_TO::from_value(ClosureHandler(handler), TD_Opaque);
        into_result(
            self.host
                .subscribe(RStr::from(expression), priority, handler),
        )
        .map(RString::into_string)
    }

    /// Removes a subscription made with [`Session::subscribe`].
    pub fn unsubscribe(&self, id: &str) -> Result<(), Error> {
        into_result(self.host.unsubscribe(RStr::from(id)))
    }

    /// Publishes `event` synchronously and returns the results; `event.data` afterwards holds
    /// the changes handlers made.
    pub fn publish(&self, event: &mut Event) -> Result<Vec<Value>, Error> {
        let text = serde_json::to_string(event)?;
        let outcome = into_result(self.host.publish(RStr::from(text.as_str())))?;
        event.data = serde_json::from_str(&outcome.data)?;
        Ok(serde_json::from_str(&outcome.results)?)
    }

    /// The signed-in user (or `FTRACK_API_USER`, or the OS user).
    pub fn api_user(&self) -> String {
        self.host.api_user().into_string()
    }

    /// The ftrack server URL; empty when none is configured.
    pub fn server_url(&self) -> String {
        self.host.server_url().into_string()
    }
}

fn into_result<T>(result: RResult<T, RString>) -> Result<T, Error> {
    result.into_result().map_err(|e| e.into_string().into())
}

struct ClosureHandler<F>(F);

thread_local! {
    /// The last event text this plugin's handlers received on this thread, and its parse.
    static LAST_EVENT: std::cell::RefCell<ParsedEvents> = Default::default();
}

/// Parses the event texts handlers receive, reusing the parse when the same text comes again:
/// the host sends one text to every native handler of a dispatch (until one changes `data`),
/// so an event answered by many handlers of a plugin is parsed twice, not once per handler.
///
/// The parse is kept only from the second time a text is seen, so a single handler per event
/// pays nothing for it. A handler always gets an event of its own: a copy of the kept parse,
/// or the previous handler's event when that handler left it exactly as it was.
#[derive(Default)]
struct ParsedEvents {
    text: String,
    pristine: Option<Rc<Event>>,
    spare: Option<Event>,
}

impl ParsedEvents {
    /// The event in `text`, as a value of its own, and the kept parse it equals if any.
    fn take(&mut self, text: &str) -> Result<(Event, Option<Rc<Event>>), serde_json::Error> {
        if self.text == text {
            let pristine = match &self.pristine {
                Some(pristine) => pristine.clone(),
                None => self
                    .pristine
                    .insert(Rc::new(serde_json::from_str(text)?))
                    .clone(),
            };
            let event = self.spare.take().unwrap_or_else(|| (*pristine).clone());
            return Ok((event, Some(pristine)));
        }
        self.text.clear();
        self.text.push_str(text);
        self.pristine = None;
        self.spare = None;
        Ok((serde_json::from_str(text)?, None))
    }

    /// Keeps `event`, a handler's event for `text` that it left unchanged, for the next one.
    fn give_back(&mut self, text: &str, event: Event) {
        if self.text == text {
            self.spare = Some(event);
        }
    }
}

impl<F> ClosureHandler<F>
where
    F: Fn(&mut Event) -> HandlerResult,
{
    fn run(&self, text: &str) -> Result<HandlerOutcome, Error> {
        let (mut event, pristine) = LAST_EVENT.with(|last| last.borrow_mut().take(text))?;
        let before: Cow<'_, Value> = match &pristine {
            Some(pristine) => Cow::Borrowed(&pristine.data),
            None => Cow::Owned(event.data.clone()),
        };
        let result = (self.0)(&mut event)?;
        let data = if event.data != *before {
            RSome(serde_json::to_string(&event.data)?.into())
        } else {
            RNone
        };
        let outcome = HandlerOutcome {
            result: serde_json::to_string(&result)?.into(),
            data,
            stop: event.is_stopped(),
        };
        if pristine
            .as_ref()
            .is_some_and(|pristine| **pristine == event)
        {
            LAST_EVENT.with(|last| last.borrow_mut().give_back(text, event));
        }
        Ok(outcome)
    }
}

impl<F> EventHandler for ClosureHandler<F>
where
    F: Fn(&mut Event) -> HandlerResult + Send + Sync,
{
    fn handle(&self, event: RStr<'_>) -> RResult<HandlerOutcome, RString> {
        match catch_unwind(AssertUnwindSafe(|| self.run(event.as_str()))) {
            Ok(Ok(outcome)) => ROk(outcome),
            Ok(Err(err)) => RErr(err.to_string().into()),
            Err(panic) => RErr(format!("handler panicked: {}", panic_message(&panic)).into()),
        }
    }
}

/// Runs the plugin's `register` for the exported root module, turning errors and panics
/// into an error for the host. Used by [`crate::export_plugin!`].
#[doc(hidden)]
pub fn run_register(
    host: HostSessionBox,
    register: fn(&Session) -> Result<(), Error>,
) -> RResult<(), RString> {
    let session = Session { host };
    match catch_unwind(AssertUnwindSafe(|| register(&session))) {
        Ok(Ok(())) => ROk(()),
        Ok(Err(err)) => RErr(err.to_string().into()),
        Err(panic) => RErr(format!("register panicked: {}", panic_message(&panic)).into()),
    }
}

fn panic_message(panic: &Box<dyn Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Exports a native plugin's root module.
///
/// `export_plugin!(register)` names the plugin after its crate (`CARGO_PKG_NAME`,
/// `CARGO_PKG_VERSION`); `export_plugin!(name: "x", version: "1.0.0", register: register)`
/// names it explicitly. `register` is a `fn(&Session) -> Result<(), Error>`. The plugin crate
/// needs `crate-type = ["cdylib"]` and a dependency on `abi_stable` (whose attribute this uses).
#[macro_export]
macro_rules! export_plugin {
    ($register:path) => {
        $crate::export_plugin!(
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
            register: $register
        );
    };
    (name: $name:expr, version: $version:expr, register: $register:path $(,)?) => {
        #[::abi_stable::export_root_module]
        pub fn ftrack_connect_plugin_root() -> $crate::abi::PluginModRef {
            // Not named `register`: that would shadow the author's `$register` in this body.
            extern "C" fn __ftrack_connect_register(
                session: $crate::abi::HostSessionBox,
            ) -> $crate::abi_stable::std_types::RResult<(), $crate::abi_stable::std_types::RString>
            {
                $crate::author::run_register(session, $register)
            }
            use $crate::abi_stable::prefix_type::PrefixTypeTrait;
            $crate::abi::PluginMod {
                name: $crate::abi_stable::std_types::RStr::from_str($name),
                version: $crate::abi_stable::std_types::RStr::from_str($version),
                register: __ftrack_connect_register,
            }
            .leak_into_prefix()
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_handler_gets_the_event_as_sent_even_when_the_parse_is_reused() {
        let text = serde_json::to_string(&Event::new("t").with_data(json!({"n": 1}))).unwrap();
        let meddler = ClosureHandler(|event: &mut Event| {
            event.topic = "changed".into();
            event.source.insert("x".into(), json!(1));
            Ok(Value::Null)
        });
        let reader = ClosureHandler(|event: &mut Event| {
            Ok(json!([event.topic, event.source.len(), event.data]))
        });
        let writer = ClosureHandler(|event: &mut Event| {
            event.data["n"] = json!(2);
            Ok(Value::Null)
        });
        for _ in 0..3 {
            assert_eq!(meddler.run(&text).unwrap().data, RNone);
            let read = reader.run(&text).unwrap();
            assert_eq!(read.result.as_str(), r#"["t",0,{"n":1}]"#);
            assert_eq!(read.data, RNone);
            let written = writer.run(&text).unwrap();
            assert_eq!(written.data, RSome(RString::from(r#"{"n":2}"#)));
        }
    }
}
