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
//! Pipeline plugins (ftrack's pipeline framework) register with `session.pipeline_plugin`:
//!
//! ```ignore
//! session.pipeline_plugin("publisher.validator", "studio_naming_publisher_validator",
//!     |call, _event| match call.data.to_string().contains(' ') {
//!         true => Err(PluginFailure::Refused("a file name has a space".into())),
//!         false => Ok(json!(true)),
//!     })?;
//! ```
//!
//! The session also reaches the ftrack server the host is signed in to: `session.query`,
//! `get`, `create`, `update`, `delete` and `commit` (writes wait for the commit and go as one
//! batch, as in `ftrack_api`). Each blocks until the host answers; handlers run on host
//! threads where blocking is allowed.
//!
//! Handlers are closures taking `&mut IncomingEvent` and returning their result or any error
//! (`?` works on everything that implements `std::error::Error`). The result is best made
//! with [`value!`](crate::value!), which has `json!`'s syntax and builds the form the result
//! crosses to the host in ([`mod@crate::value`]); a `json!` value works too, converted on
//! return.
//!
//! An [`IncomingEvent`] derefs to the [`Event`], so handlers read `event.topic` and
//! `event.data["x"]`, may change `event.data` (later handlers and the publisher see it) and
//! call `event.stop()`. The event is fetched from the host and parsed only when the handler
//! first touches it: a handler that answers without looking costs no serialization and no
//! parse. A panic in `register` or in
//! a handler is caught here, inside the plugin, and reported to the host as an error:
//! unwinding must never reach the `extern "C"` boundary, where abi_stable would abort the
//! whole host.

use std::any::Any;
use std::cell::{OnceCell, RefCell};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RErr, RNone, ROk, RResult, RSome, RStr, RString};
pub use serde_json::{json, Value};

use crate::abi::{
    DispatchedEventRef, EventHandler, EventHandlerBox, EventHandler_TO, FlatValue, HandlerOutcome,
    HostSessionBox,
};
pub use crate::value::IntoFlatValue;
use crate::Event;
use connect_event::pipeline::{self, PluginSpec, STANDALONE_HOST_TYPE};
pub use connect_event::pipeline::{PluginCall, PluginFailure};

/// Any error a handler or `register` returns; its message reaches the host's log.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// What a handler returning `json!` values returns: its result (`Value::Null` for none) or an
/// error. Any [`IntoFlatValue`] works as a result ([`value!`](crate::value!) makes one
/// without a `Value`).
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
    pub fn subscribe<F, R>(&self, expression: &str, handler: F) -> Result<String, Error>
    where
        F: Fn(&mut IncomingEvent<'_>) -> Result<R, Error> + Send + Sync + 'static,
        R: IntoFlatValue + 'static,
    {
        self.subscribe_with_priority(expression, DEFAULT_PRIORITY, handler)
    }

    /// Subscribes `handler` at `priority` (lower numbers run first).
    pub fn subscribe_with_priority<F, R>(
        &self,
        expression: &str,
        priority: i64,
        handler: F,
    ) -> Result<String, Error>
    where
        F: Fn(&mut IncomingEvent<'_>) -> Result<R, Error> + Send + Sync + 'static,
        R: IntoFlatValue + 'static,
    {
        let handler: EventHandlerBox =
            EventHandler_TO::from_value(ClosureHandler(handler, PhantomData), TD_Opaque);
        into_result(
            self.host
                .subscribe(RStr::from(expression), priority, handler),
        )
        .map(RString::into_string)
    }

    /// Registers a pipeline plugin of ftrack's pipeline framework for the standalone host
    /// type (`python`): `plugin_type` is `<engine>.<stage>` (`publisher.validator`), `name`
    /// the `plugin` a definition names. See [`Session::pipeline_plugin_for`].
    pub fn pipeline_plugin<F>(&self, plugin_type: &str, name: &str, run: F) -> Result<(), Error>
    where
        F: Fn(&PluginCall, &mut IncomingEvent<'_>) -> Result<Value, PluginFailure>
            + Send
            + Sync
            + 'static,
    {
        self.pipeline_plugin_for(STANDALONE_HOST_TYPE, plugin_type, name, run)
    }

    /// Registers a pipeline plugin for `host_type`, as the framework's plugins register
    /// (`ftrack.pipeline.discover` answered `true`, `ftrack.pipeline.run` answered with the
    /// framework's reply, both at priority 100): `run` gets the call (method, `data`,
    /// `options`, `context_data`; a validator's or exporter's `data` is its step's collector
    /// results) and returns the plugin's value, which is checked for its stage (a validator
    /// returns `true`...), or why it has none ([`PluginFailure::Refused`] says no with a
    /// reason; [`PluginFailure::Failed`] is an error).
    pub fn pipeline_plugin_for<F>(
        &self,
        host_type: &str,
        plugin_type: &str,
        name: &str,
        run: F,
    ) -> Result<(), Error>
    where
        F: Fn(&PluginCall, &mut IncomingEvent<'_>) -> Result<Value, PluginFailure>
            + Send
            + Sync
            + 'static,
    {
        let spec = PluginSpec::new(host_type, plugin_type, name)?;
        self.subscribe_with_priority(
            &spec.expression(pipeline::DISCOVER_PLUGIN),
            pipeline::PLUGIN_PRIORITY,
            |_| Ok(Value::Bool(true)),
        )?;
        let plugin_id = pipeline::new_plugin_id();
        let expression = spec.expression(pipeline::RUN_PLUGIN);
        let user = self.api_user();
        self.subscribe_with_priority(&expression, pipeline::PLUGIN_PRIORITY, move |event| {
            let asked: Event = (**event).clone();
            Ok(pipeline::answer_run(
                &spec,
                &asked,
                &user,
                &plugin_id,
                |call| run(call, event),
            ))
        })?;
        Ok(())
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

    /// Every entity the query expression selects (`select name from Task where ...`), all
    /// pages, as maps with `__entity_type__`.
    ///
    /// Blocks until the server answers or the call times out; handlers run on host threads
    /// where blocking is allowed. The error is one line naming the plugin: the server's
    /// message, or that the host is not connected to a server.
    pub fn query(&self, expression: &str) -> Result<Vec<Value>, String> {
        list(self.api(json!({"call": "query", "expression": expression}))?)
    }

    /// The entity of `entity_type` with `id`, or `None` when there is none.
    ///
    /// Blocks until the server answers or the call times out; handlers run on host threads
    /// where blocking is allowed.
    pub fn get(&self, entity_type: &str, id: &str) -> Result<Option<Value>, String> {
        let found = self.api(json!({"call": "get", "entity_type": entity_type, "id": id}))?;
        Ok(Some(found).filter(|found| !found.is_null()))
    }

    /// Queues the creation of an entity of `entity_type` with `data` (a map; an entity
    /// `query` or `create` returned may be a value: it is sent as a reference). Returns the
    /// entity as it will be, with an `id` (made here when `data` has none) that later writes
    /// may refer to. Nothing reaches the server before [`Session::commit`].
    ///
    /// Blocks until the host answers (at once: it only queues); handlers run on host threads
    /// where blocking is allowed.
    pub fn create(&self, entity_type: &str, data: Value) -> Result<Value, String> {
        self.api(json!({"call": "create", "entity_type": entity_type, "data": data}))
    }

    /// Queues a change of the entity of `entity_type` with `id` (`data`: the attributes to
    /// set). Nothing reaches the server before [`Session::commit`].
    ///
    /// Blocks until the host answers (at once: it only queues); handlers run on host threads
    /// where blocking is allowed.
    pub fn update(&self, entity_type: &str, id: &str, data: Value) -> Result<(), String> {
        let request = json!({"call": "update", "entity_type": entity_type, "id": id, "data": data});
        self.api(request).map(drop)
    }

    /// Queues the deletion of the entity of `entity_type` with `id`. Nothing reaches the
    /// server before [`Session::commit`].
    ///
    /// Blocks until the host answers (at once: it only queues); handlers run on host threads
    /// where blocking is allowed.
    pub fn delete(&self, entity_type: &str, id: &str) -> Result<(), String> {
        self.api(json!({"call": "delete", "entity_type": entity_type, "id": id}))
            .map(drop)
    }

    /// Sends every queued `create`, `update` and `delete` to the server as one batch,
    /// applied all or nothing; the server's results, in order (none when nothing was
    /// queued). Nothing is queued afterwards, whether the server applied the batch or
    /// refused it (the error then says so).
    ///
    /// Blocks until the server answers or the call times out; handlers run on host threads
    /// where blocking is allowed.
    pub fn commit(&self) -> Result<Vec<Value>, String> {
        list(self.api(json!({"call": "commit"}))?)
    }

    /// One server call through the host: the request and the answer cross as JSON text.
    fn api(&self, request: Value) -> Result<Value, String> {
        let request = request.to_string();
        let answer = self
            .host
            .api(RStr::from(request.as_str()))
            .into_result()
            .map_err(RString::into_string)?;
        serde_json::from_str(&answer).map_err(|e| format!("the host's answer is not JSON: {e}"))
    }
}

/// An answer that must be a list.
fn list(answer: Value) -> Result<Vec<Value>, String> {
    match answer {
        Value::Array(items) => Ok(items),
        other => Err(format!("the host answered {other} where a list was due")),
    }
}

fn into_result<T>(result: RResult<T, RString>) -> Result<T, Error> {
    result.into_result().map_err(|e| e.into_string().into())
}

/// The event a handler is called with: an [`Event`], read from the host only when the handler
/// first looks at it.
///
/// It derefs to the [`Event`], so `event.topic`, `event.data["x"]` and `event.stop()` work as
/// on an `Event`. Until the handler touches it the host has not even written the event out.
/// Reading shares one parse with the plugin's other handlers of the same dispatch; taking the
/// event mutably (anything that needs `&mut Event`) gives the handler a copy of its own, which
/// is compared with what the host sent to tell the host whether `data` changed.
///
/// Should the host's text not be an event (a host bug), the first access panics; the panic
/// is caught here and reported to the host as the handler's error.
pub struct IncomingEvent<'a> {
    host: DispatchedEventRef<'a>,
    /// The event as the host sent it, parsed on first access, or why it could not be.
    sent: OnceCell<Result<Rc<Event>, String>>,
    /// The handler's own copy, made when it first takes the event mutably. Boxed: most
    /// handlers never take one, and an `Event` inline made every call move a few hundred
    /// bytes about (a tenth of a native call).
    own: Option<Box<Event>>,
}

impl<'a> IncomingEvent<'a> {
    fn new(host: DispatchedEventRef<'a>) -> Self {
        IncomingEvent {
            host,
            sent: OnceCell::new(),
            own: None,
        }
    }

    fn sent(&self) -> &Rc<Event> {
        let sent = self.sent.get_or_init(|| {
            let text = self.host.json();
            LAST_EVENT
                .with(|last| last.borrow_mut().parse(text.as_str()))
                .map_err(|e| format!("the host sent an event this plugin cannot read: {e}"))
        });
        match sent {
            Ok(sent) => sent,
            Err(err) => panic!("{err}"),
        }
    }

    /// Why the host's event could not be read, if the handler tried and it could not.
    fn unreadable(&self) -> Option<&str> {
        match self.sent.get() {
            Some(Err(err)) => Some(err),
            _ => None,
        }
    }

    /// What the handler did, for the host: `data` only when the handler took the event
    /// mutably and changed it.
    fn outcome(&mut self, result: FlatValue) -> Result<HandlerOutcome, Error> {
        let (Some(own), Some(Ok(sent))) = (self.own.take(), self.sent.get()) else {
            if let Some(err) = self.unreadable() {
                return Err(err.into());
            }
            // Never taken mutably, so neither changed nor stopped.
            return Ok(HandlerOutcome {
                result,
                data: RNone,
                stop: false,
            });
        };
        let data = if own.data != sent.data {
            RSome(serde_json::to_string(&own.data)?.into())
        } else {
            RNone
        };
        let stop = own.is_stopped();
        if *own == **sent {
            LAST_EVENT.with(|last| last.borrow_mut().give_back(sent, own));
        }
        Ok(HandlerOutcome { result, data, stop })
    }
}

impl Deref for IncomingEvent<'_> {
    type Target = Event;

    fn deref(&self) -> &Event {
        match &self.own {
            Some(own) => own,
            None => self.sent(),
        }
    }
}

impl std::fmt::Debug for IncomingEvent<'_> {
    /// Shows the event, as `Event`'s `Debug` does (reading it from the host if not yet read).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl DerefMut for IncomingEvent<'_> {
    fn deref_mut(&mut self) -> &mut Event {
        let own = match self.own.take() {
            Some(own) => own,
            None => {
                let sent = self.sent().clone();
                LAST_EVENT.with(|last| last.borrow_mut().copy(&sent))
            }
        };
        self.own.insert(own)
    }
}

thread_local! {
    /// The last event text this plugin's handlers read on this thread, and its parse.
    static LAST_EVENT: RefCell<ParsedEvents> = Default::default();
}

/// Parses the event texts handlers read, reusing the parse when the same text comes again:
/// the host sends one text to every native handler of a dispatch (until one changes `data`),
/// so an event read by many handlers of a plugin is parsed once, not once per handler.
///
/// Handlers that only read share the parse. A handler that takes its event mutably gets a
/// copy of its own: the previous such handler's event when that one left it exactly as sent,
/// or else a clone of the parse.
#[derive(Default)]
struct ParsedEvents {
    text: String,
    parsed: Option<Rc<Event>>,
    /// A handler's copy of `parsed` that it left unchanged.
    spare: Option<Box<Event>>,
}

impl ParsedEvents {
    /// The event in `text`, parsed now unless it is the text parsed last.
    fn parse(&mut self, text: &str) -> Result<Rc<Event>, serde_json::Error> {
        if let Some(parsed) = &self.parsed {
            if self.text == text {
                return Ok(parsed.clone());
            }
        }
        self.parsed = None;
        self.spare = None;
        self.text.clear();
        self.text.push_str(text);
        let parsed: Rc<Event> = Rc::new(serde_json::from_str(text)?);
        self.parsed = Some(parsed.clone());
        Ok(parsed)
    }

    /// A copy of `sent` (a parse from [`ParsedEvents::parse`]) for a handler to change.
    fn copy(&mut self, sent: &Rc<Event>) -> Box<Event> {
        match self.spare.take() {
            // The spare belongs to the current parse, and `sent` being alive means no other
            // parse can have its address: the same pointer is the same text.
            Some(spare) if self.is_current(sent) => spare,
            _ => Box::new((**sent).clone()),
        }
    }

    /// Keeps `event`, a handler's copy of `sent` that it left unchanged, for the next one.
    fn give_back(&mut self, sent: &Rc<Event>, event: Box<Event>) {
        if self.is_current(sent) {
            self.spare = Some(event);
        }
    }

    fn is_current(&self, sent: &Rc<Event>) -> bool {
        self.parsed
            .as_ref()
            .is_some_and(|parsed| Rc::ptr_eq(parsed, sent))
    }
}

/// A closure as the host calls it; `R` is the closure's result type (`fn() -> R` keeps the
/// handler `Send + Sync` whatever `R` is: no `R` is kept).
struct ClosureHandler<F, R>(F, PhantomData<fn() -> R>);

impl<F, R> EventHandler for ClosureHandler<F, R>
where
    F: Fn(&mut IncomingEvent<'_>) -> Result<R, Error> + Send + Sync,
    R: IntoFlatValue,
{
    fn handle(&self, event: DispatchedEventRef<'_>) -> RResult<HandlerOutcome, RString> {
        let mut event = IncomingEvent::new(event);
        let ran = catch_unwind(AssertUnwindSafe(|| {
            let result = (self.0)(&mut event)?.into_flat_value();
            event.outcome(result)
        }));
        match ran {
            Ok(Ok(outcome)) => ROk(outcome),
            Ok(Err(err)) => RErr(err.to_string().into()),
            Err(panic) => RErr(match event.unreadable() {
                Some(err) => err.into(),
                None => format!("handler panicked: {}", panic_message(&panic)).into(),
            }),
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
    use std::cell::Cell;

    use super::*;
    use crate::abi::{DispatchedEvent, DispatchedEvent_TO};

    /// A handler as `subscribe` makes it.
    fn closure<F, R>(f: F) -> ClosureHandler<F, R>
    where
        F: Fn(&mut IncomingEvent<'_>) -> Result<R, Error> + Send + Sync,
    {
        ClosureHandler(f, PhantomData)
    }

    /// The host's side of a call: the event's text, counting how often a handler asks for it.
    struct SentText {
        text: String,
        asked: Cell<usize>,
    }

    impl SentText {
        fn new(event: &Event) -> Self {
            SentText {
                text: serde_json::to_string(event).unwrap(),
                asked: Cell::new(0),
            }
        }

        fn call(&self, handler: &impl EventHandler) -> Result<HandlerOutcome, String> {
            let view = DispatchedEvent_TO::from_ptr(self, TD_Opaque);
            handler
                .handle(view)
                .into_result()
                .map_err(RString::into_string)
        }
    }

    impl DispatchedEvent for SentText {
        fn json(&self) -> RStr<'_> {
            self.asked.set(self.asked.get() + 1);
            self.text.as_str().into()
        }
    }

    #[test]
    fn each_handler_gets_the_event_as_sent_even_when_the_parse_is_reused() {
        let sent = SentText::new(&Event::new("t").with_data(json!({"n": 1})));
        let meddler = closure(|event: &mut IncomingEvent| {
            event.topic = "changed".into();
            event.source.insert("x".into(), json!(1));
            Ok(Value::Null)
        });
        let reader = closure(|event: &mut IncomingEvent| {
            Ok(json!([event.topic, event.source.len(), event.data]))
        });
        let writer = closure(|event: &mut IncomingEvent| {
            event.data["n"] = json!(2);
            Ok(Value::Null)
        });
        let idler = closure(|event: &mut IncomingEvent| {
            let _ = &mut **event;
            Ok(Value::Null)
        });
        let stopper = closure(|event: &mut IncomingEvent| {
            event.stop();
            Ok(Value::Null)
        });
        for _ in 0..3 {
            assert_eq!(sent.call(&meddler).unwrap().data, RNone);
            let read = sent.call(&reader).unwrap();
            assert_eq!(read.result, json!(["t", 0, {"n": 1}]).into_flat_value());
            assert_eq!(read.data, RNone);
            let written = sent.call(&writer).unwrap();
            assert_eq!(written.data, RSome(RString::from(r#"{"n":2}"#)));
            assert_eq!(sent.call(&idler).unwrap().data, RNone);
            let stopped = sent.call(&stopper).unwrap();
            assert!(stopped.stop);
            assert_eq!(stopped.data, RNone);
            assert!(!sent.call(&idler).unwrap().stop);
            assert!(!sent.call(&reader).unwrap().stop);
        }
    }

    #[test]
    fn a_handler_that_ignores_its_event_never_asks_the_host_for_it() {
        let sent = SentText::new(&Event::new("t"));
        let ignorer = closure(|_event: &mut IncomingEvent| Ok(json!({"ok": true})));
        let outcome = sent.call(&ignorer).unwrap();
        assert_eq!(outcome.result, json!({"ok": true}).into_flat_value());
        assert_eq!((outcome.data, outcome.stop), (RNone, false));
        assert_eq!(sent.asked.get(), 0);

        let reader = closure(|event: &mut IncomingEvent| Ok(json!(event.topic)));
        assert_eq!(sent.call(&reader).unwrap().result, "t".into_flat_value());
        assert_eq!(sent.asked.get(), 1);
    }

    /// A host answering server calls from a script, and keeping the requests.
    #[derive(Clone, Default)]
    struct ScriptedHost {
        requests: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    }

    impl crate::abi::HostSession for ScriptedHost {
        fn subscribe(
            &self,
            _expression: RStr<'_>,
            _priority: i64,
            _handler: EventHandlerBox,
        ) -> RResult<RString, RString> {
            RErr("not here".into())
        }
        fn unsubscribe(&self, _id: RStr<'_>) -> RResult<(), RString> {
            RErr("not here".into())
        }
        fn publish(&self, _event: RStr<'_>) -> RResult<crate::abi::PublishOutcome, RString> {
            RErr("not here".into())
        }
        fn api_user(&self) -> RString {
            "alice".into()
        }
        fn server_url(&self) -> RString {
            RString::new()
        }
        fn api(&self, request: RStr<'_>) -> RResult<RString, RString> {
            let request: Value = serde_json::from_str(request.as_str()).unwrap();
            self.requests.lock().unwrap().push(request.clone());
            let answer = match (request["call"].as_str().unwrap(), &request["id"]) {
                ("query", _) if request["expression"] == "Nope" => {
                    return RErr("plugin 'p': ParseError: Nope".into())
                }
                ("query", _) => json!([{"id": "t1"}]),
                ("get", id) if id == "t1" => json!({"id": "t1"}),
                ("get", _) => Value::Null,
                ("create", _) => request["data"].clone(),
                ("commit", _) => json!([{"ok": 1}]),
                _ => Value::Null,
            };
            ROk(answer.to_string().into())
        }
    }

    #[test]
    fn server_calls_cross_as_json_requests_and_answers() {
        let host = ScriptedHost::default();
        let session = Session {
            host: crate::abi::HostSession_TO::from_ptr(
                abi_stable::std_types::RArc::new(host.clone()),
                TD_Opaque,
            ),
        };
        assert_eq!(session.query("Task").unwrap(), vec![json!({"id": "t1"})]);
        assert_eq!(
            session.query("Nope").unwrap_err(),
            "plugin 'p': ParseError: Nope"
        );
        assert_eq!(
            session.get("Task", "t1").unwrap(),
            Some(json!({"id": "t1"}))
        );
        assert_eq!(session.get("Task", "t2").unwrap(), None);
        let data = json!({"name": "comp"});
        assert_eq!(session.create("Task", data.clone()).unwrap(), data);
        session.update("Task", "t1", json!({"name": "x"})).unwrap();
        session.delete("Task", "t1").unwrap();
        assert_eq!(session.commit().unwrap(), vec![json!({"ok": 1})]);
        let requests = host.requests.lock().unwrap();
        assert_eq!(
            requests[2],
            json!({"call": "get", "entity_type": "Task", "id": "t1"})
        );
        assert_eq!(
            requests[5],
            json!({"call": "update", "entity_type": "Task", "id": "t1", "data": {"name": "x"}})
        );
        assert_eq!(requests[7], json!({"call": "commit"}));
    }

    #[test]
    fn panics_and_unreadable_events_come_back_as_errors() {
        let sent = SentText::new(&Event::new("t"));
        let panicker = closure(|_event: &mut IncomingEvent| -> HandlerResult { panic!("boom") });
        assert_eq!(sent.call(&panicker).unwrap_err(), "handler panicked: boom");

        let garbled = SentText {
            text: "{not json".into(),
            asked: Cell::new(0),
        };
        let reader = closure(|event: &mut IncomingEvent| Ok(json!(event.topic)));
        let err = garbled.call(&reader).unwrap_err();
        assert!(
            err.starts_with("the host sent an event this plugin cannot read: "),
            "{err}"
        );
    }
}
