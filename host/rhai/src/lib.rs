//! Rhai hooks: compiling `.rhai` hook files and running their `register(session)`.
//!
//! A hook file is compiled once ([`CompiledHook`]); every handler it subscribes shares that
//! compiled script. Each plugin gets its own [`Engine`] because the engine carries what is
//! plugin-specific: the import resolver that keeps `import` inside the plugin's `resource/`
//! and `dependencies/` folders, and the `print`/`debug` sinks that tag log lines with the
//! plugin's name. The operations limit stops a runaway handler with an error instead of
//! hanging the host.
//!
//! The surface scripts see is deliberately small and mirrors ftrack's Python API:
//!
//! ```text
//! session.api_user, session.server_url
//! session.event_hub.subscribe(expression, callback [, priority])   -> subscriber id
//! session.event_hub.subscribe(expression, callback, subscriber_map [, priority])
//! session.event_hub.unsubscribe(id)
//! session.event_hub.publish(event)                 asynchronous, as in ftrack
//! session.event_hub.publish(event, true)           synchronous: returns the results array
//! session.event_hub.publish(event, on_reply)       asynchronous, replies reach on_reply
//! event.id, event.topic, event.data, event.source, event.target, event.in_reply_to_event,
//! event["data"] (Python-style), event.stop(), event.is_stopped()
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use connect_event::Event;
use rhai::packages::{Package, StandardPackage};
use rhai::{
    Array, Dynamic, Engine, EvalAltResult, FnPtr, ImmutableString, Map as RhaiMap, Module,
    ModuleResolver, Position, Scope, AST,
};
use serde_json::Value;

/// A compiled module shared between imports (Rhai's `Shared<Module>` with the `sync` feature).
type SharedModule = Arc<Module>;

use crate::hub::{
    EventForms, EventHub, Handler, HandlerError, PluginTag, SubscribeOptions, DEFAULT_PRIORITY,
};
use crate::reply::Reply;

/// Operations a single script call (a `register`, a handler) may run before it is stopped.
/// About a second of busy work: far beyond what any hook needs, short enough that an endless
/// loop is reported instead of freezing the host.
pub const MAX_OPERATIONS: u64 = 20_000_000;

/// The size of each engine's string interner (Rhai's default for `Engine::new`).
const STRINGS_INTERNED: usize = 256;

/// An error in a script, with where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(f, "{}:{line}:{column}: {}", self.file, self.message)
            }
            (Some(line), None) => write!(f, "{}:{line}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ScriptError {}

impl ScriptError {
    fn at(file: &str, position: Position, message: String) -> Self {
        ScriptError {
            file: file.to_string(),
            line: position.line(),
            column: position.position(),
            message,
        }
    }

    fn from_parse(file: &str, err: rhai::ParseError) -> Self {
        ScriptError::at(file, err.1, err.0.to_string())
    }

    /// Describes a runtime error by its innermost cause, in the file where that happened,
    /// followed by the chain of functions it was raised through.
    fn from_eval(file: &str, err: &EvalAltResult) -> Self {
        let mut source = file.to_string();
        let mut calls = Vec::new();
        let mut current = err;
        loop {
            match current {
                EvalAltResult::ErrorInFunctionCall(name, src, inner, _) => {
                    if !src.is_empty() {
                        source = src.clone();
                    }
                    // Rhai names closures `anon$<hash>`.
                    if !name.starts_with("anon$") {
                        calls.push(format!("in function '{name}'"));
                    } else {
                        calls.push("in a closure".to_string());
                    }
                    current = inner;
                }
                EvalAltResult::ErrorInModule(name, inner, _) => {
                    if !name.is_empty() {
                        source = name.clone();
                    }
                    calls.push(format!("in module '{name}'"));
                    current = inner;
                }
                _ => break,
            }
        }
        let position = current.position();
        let mut message = match current {
            EvalAltResult::ErrorTooManyOperations(_) => {
                format!("stopped after {MAX_OPERATIONS} operations (an endless loop?)")
            }
            EvalAltResult::ErrorRuntime(value, _) if value.is_string() => {
                value.clone().into_string().unwrap_or_default()
            }
            EvalAltResult::ErrorDataRace(..) => format!(
                "{current}: a value a callback captured is in use: either the callback was passed \
                 to a method of the very variable it captures (copy what it needs first, e.g. \
                 `let hub = session.event_hub;` and then \
                 `session.event_hub.subscribe(expr, |event| hub.publish(...))`), or the callback \
                 runs again while it is still running (an event it publishes leads back to it)"
            ),
            other => {
                // Rhai appends " (line L, position C)"; the position is shown up front instead.
                let text = other.to_string();
                let suffix = format!(" ({position})");
                text.strip_suffix(&suffix).unwrap_or(&text).to_string()
            }
        };
        if !calls.is_empty() {
            calls.reverse();
            message = format!("{message} ({})", calls.join(", "));
        }
        ScriptError::at(&source, position, message)
    }
}

/// What a hook's `session` shows of the signed-in user.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub api_user: String,
    pub server_url: String,
}

/// Where a plugin's scripts live: imports resolve in `library_dirs` and never leave `root`.
#[derive(Debug, Clone)]
pub struct PluginFolders {
    pub root: PathBuf,
    pub library_dirs: Vec<PathBuf>,
}

/// Rhai's standard library, built once and shared by every plugin's engine.
///
/// `Engine::new` builds a fresh copy of it (thousands of functions) per engine: with one engine
/// per plugin, that was most of the start-up time and memory of a host with 200 plugins.
fn standard_package() -> SharedModule {
    static PACKAGE: OnceLock<SharedModule> = OnceLock::new();
    PACKAGE
        .get_or_init(|| StandardPackage::new().as_shared_module())
        .clone()
}

/// Builds the engine for one plugin: what `Engine::new` sets up, with the shared standard
/// library, this plugin's import resolver and log sinks.
pub fn plugin_engine(plugin: &PluginTag, folders: &PluginFolders) -> Engine {
    let mut engine = Engine::new_raw();
    engine.set_max_strings_interned(STRINGS_INTERNED);
    engine.register_global_module(standard_package());
    engine.set_max_operations(MAX_OPERATIONS);
    // Rhai's defaults (64, and 32 inside functions) reject ordinary hooks that nest a closure
    // with an interpolated string in a call; these still bound the parser's recursion.
    engine.set_max_expr_depths(256, 128);
    engine.set_module_resolver(PluginModuleResolver::new(folders.clone()));
    let name = plugin.name.clone();
    engine.on_print(move |text| tracing::info!(plugin = &*name, "[{name}] {text}"));
    let name = plugin.name.clone();
    engine.on_debug(move |text, source, pos| {
        let at = match (source, pos.line()) {
            (Some(source), Some(line)) => format!(" ({source}:{line})"),
            _ => String::new(),
        };
        tracing::debug!(plugin = &*name, "[{name}] {text}{at}")
    });
    register_api(&mut engine);
    engine
}

/// One compiled hook file with the engine of its plugin.
pub struct CompiledHook {
    engine: Arc<Engine>,
    ast: AST,
    path: String,
    plugin: PluginTag,
}

impl CompiledHook {
    /// Compiles the hook at `path` (once; every handler shares the result).
    pub fn compile(
        engine: Arc<Engine>,
        plugin: PluginTag,
        path: &Path,
    ) -> Result<CompiledHook, ScriptError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| ScriptError {
            file: file.clone(),
            line: None,
            column: None,
            message: format!("cannot read: {err}"),
        })?;
        Self::compile_source(engine, plugin, &file, &text)
    }

    /// Compiles hook source `text`; `file` names it in errors and logs.
    pub fn compile_source(
        engine: Arc<Engine>,
        plugin: PluginTag,
        file: &str,
        text: &str,
    ) -> Result<CompiledHook, ScriptError> {
        let mut ast = engine
            .compile(text)
            .map_err(|err| ScriptError::from_parse(file, err))?;
        ast.set_source(file);
        Ok(CompiledHook {
            engine,
            ast,
            path: file.to_string(),
            plugin,
        })
    }

    /// Whether the script defines `fn register(session)`, which makes it a plugin hook.
    pub fn defines_register(&self) -> bool {
        self.ast
            .iter_functions()
            .any(|f| f.name == "register" && f.params.len() == 1)
    }

    /// Runs the script's top level and then `register(session)`.
    pub fn register(
        self: &Arc<Self>,
        hub: &Arc<EventHub>,
        info: &SessionInfo,
    ) -> Result<(), ScriptError> {
        let session = ScriptSession {
            event_hub: ScriptHub {
                hub: Arc::downgrade(hub),
                hook: Arc::downgrade(self),
            },
            api_user: info.api_user.as_str().into(),
            server_url: info.server_url.as_str().into(),
        };
        self.engine
            .call_fn::<Dynamic>(&mut Scope::new(), &self.ast, "register", (session,))
            .map(|_| ())
            .map_err(|err| ScriptError::from_eval(&self.path, &err))
    }
}

/// A subscription's callback in a script.
struct ScriptHandler {
    hook: Arc<CompiledHook>,
    callback: FnPtr,
    /// The callback names a function of the hook's own script and curries nothing, so it is
    /// called by name in the hook's AST: `FnPtr::call` resolves the name through every module
    /// on each call, a quarter of the cost of a small handler.
    direct: bool,
}

impl ScriptHandler {
    /// Calls the script with `snapshot` (the event as Rhai values); copies what the script
    /// changed back into `event` and says whether it changed anything but `stop`.
    fn run(
        &self,
        event: &mut Event,
        snapshot: Arc<ScriptSnapshot>,
    ) -> (Result<Reply, HandlerError>, bool) {
        let shared = ScriptEvent::new(snapshot, event.is_stopped());
        let outcome = if self.direct {
            let name = self.callback.fn_name();
            self.hook
                .engine
                .call_fn_with_options::<Dynamic>(
                    rhai::CallFnOptions::new().eval_ast(false),
                    &mut Scope::new(),
                    &self.hook.ast,
                    name,
                    (shared.clone(),),
                )
                // `call_fn` drops the frame naming the function; errors name it as for any call.
                .map_err(|err| {
                    EvalAltResult::ErrorInFunctionCall(
                        name.into(),
                        self.hook.path.clone(),
                        err,
                        Position::NONE,
                    )
                    .into()
                })
        } else {
            self.callback
                .call::<Dynamic>(&self.hook.engine, &self.hook.ast, (shared.clone(),))
        };
        let changed = match shared.write_back(event) {
            Ok(changed) => changed,
            Err(err) => return (Err(err), true),
        };
        (self.result(outcome), changed)
    }

    fn result(&self, outcome: RhaiResult<Dynamic>) -> Result<Reply, HandlerError> {
        let value = outcome.map_err(|err| {
            HandlerError(ScriptError::from_eval(&self.hook.path, &err).to_string())
        })?;
        ScriptValue::reply(value).map_err(|err| {
            HandlerError(format!(
                "{}: handler returned a value that is not JSON: {err}",
                self.hook.path
            ))
        })
    }
}

impl Handler for ScriptHandler {
    fn handle(&self, event: &mut Event) -> Result<Value, HandlerError> {
        let snapshot = Arc::new(ScriptSnapshot::new(event));
        self.run(event, snapshot).0.map(Reply::into_json)
    }

    /// Shares one conversion of the event among every Rhai handler of a dispatch.
    fn handle_in_dispatch(
        &self,
        event: &mut Event,
        forms: &mut EventForms,
    ) -> Result<Reply, HandlerError> {
        let snapshot = forms
            .get_or_insert_with(|| SharedSnapshot(Arc::new(ScriptSnapshot::new(event))))
            .0
            .clone();
        let (result, changed) = self.run(event, snapshot);
        if changed {
            forms.clear();
        }
        result
    }
}

/// A Rhai hook's result, kept as Rhai values until read (see [`crate::reply`]); only types
/// JSON can hold.
#[derive(Debug, Clone)]
pub struct ScriptValue(Dynamic);

impl ScriptValue {
    /// The reply for a script's return value: kept as it is when [`to_json`] converts it
    /// directly (it then cannot fail), converted now otherwise; `Err` when JSON cannot hold it.
    fn reply(value: Dynamic) -> Result<Reply, String> {
        // Rhai returns values, never a script's variable itself (even a captured one):
        // `results_handed_to_a_publishing_hook_are_its_own` holds it to that.
        if is_plain_json(&value) {
            Ok(Reply::Script(ScriptValue(value)))
        } else {
            to_json(&value).map(Reply::Json)
        }
    }

    pub(crate) fn is_unit(&self) -> bool {
        self.0.is_unit()
    }

    pub(crate) fn to_json(&self) -> Value {
        to_json(&self.0).expect("a ScriptValue holds only types to_json converts")
    }

    /// The value for another script (a hook that published).
    fn into_dynamic(self) -> Dynamic {
        self.0
    }
}

/// Whether `value` is made only of what [`to_json`] converts directly, without fail.
fn is_plain_json(value: &Dynamic) -> bool {
    if value.is_unit() || value.is_string() || value.is_int() || value.is_bool() {
        return true;
    }
    if value.is_float() {
        return value.as_float().is_ok_and(f64::is_finite);
    }
    if value.is_map() {
        return value
            .read_lock::<RhaiMap>()
            .is_some_and(|map| map.values().all(is_plain_json));
    }
    if value.is_array() {
        return value
            .read_lock::<Array>()
            .is_some_and(|array| array.iter().all(is_plain_json));
    }
    false
}

/// JSON for a script's value. The common types are converted directly (going through serde
/// for every value doubled the cost of a simple handler); anything else goes through
/// Rhai's serde support, which says what cannot be JSON.
fn to_json(value: &Dynamic) -> Result<Value, String> {
    // Type tests first: a failed `as_*` builds an error naming the type, which costs more
    // than the conversion.
    if value.is_unit() {
        return Ok(Value::Null);
    }
    if value.is_map() {
        if let Some(map) = value.read_lock::<RhaiMap>() {
            let mut object = serde_json::Map::with_capacity(map.len());
            for (key, item) in map.iter() {
                object.insert(key.as_str().to_owned(), to_json(item)?);
            }
            return Ok(Value::Object(object));
        }
    }
    if value.is_string() {
        if let Ok(text) = value.as_immutable_string_ref() {
            return Ok(Value::String(text.as_str().to_owned()));
        }
    }
    if value.is_array() {
        if let Some(array) = value.read_lock::<Array>() {
            return array
                .iter()
                .map(to_json)
                .collect::<Result<_, _>>()
                .map(Value::Array);
        }
    }
    if value.is_int() {
        if let Ok(number) = value.as_int() {
            return Ok(Value::from(number));
        }
    }
    if value.is_bool() {
        if let Ok(flag) = value.as_bool() {
            return Ok(Value::Bool(flag));
        }
    }
    if value.is_float() {
        if let Some(number) = value.as_float().ok().and_then(serde_json::Number::from_f64) {
            return Ok(Value::Number(number));
        }
    }
    rhai::serde::from_dynamic::<Value>(value).map_err(|e| e.to_string())
}

/// Rhai values for JSON, directly (see [`to_json`]); numbers beyond `i64` go through serde.
fn to_dynamic(value: &Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(flag) => Dynamic::from_bool(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(int) => Dynamic::from_int(int),
            None => rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT),
        },
        Value::String(text) => Dynamic::from(ImmutableString::from(text.as_str())),
        Value::Array(items) => Dynamic::from_array(items.iter().map(to_dynamic).collect()),
        Value::Object(object) => Dynamic::from_map(
            object
                .iter()
                .map(|(key, item)| (key.as_str().into(), to_dynamic(item)))
                .collect(),
        ),
    }
}

#[derive(Clone)]
struct ScriptSession {
    event_hub: ScriptHub,
    api_user: ImmutableString,
    server_url: ImmutableString,
}

#[derive(Clone)]
struct ScriptHub {
    hub: Weak<EventHub>,
    hook: Weak<CompiledHook>,
}

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

fn runtime_error<T>(message: impl Into<String>) -> RhaiResult<T> {
    Err(Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from(message.into()),
        Position::NONE,
    )))
}

impl ScriptHub {
    fn parts(&self) -> RhaiResult<(Arc<EventHub>, Arc<CompiledHook>)> {
        match (self.hub.upgrade(), self.hook.upgrade()) {
            (Some(hub), Some(hook)) => Ok((hub, hook)),
            _ => runtime_error("this plugin has been unloaded"),
        }
    }

    fn subscribe(
        &self,
        expression: &str,
        callback: FnPtr,
        subscriber: RhaiMap,
        priority: i64,
    ) -> RhaiResult<ImmutableString> {
        let (hub, hook) = self.parts()?;
        let subscriber = match to_json(&Dynamic::from_map(subscriber)) {
            Ok(Value::Object(map)) => map,
            _ => return runtime_error("subscriber metadata must be a map of JSON values"),
        };
        let options = SubscribeOptions {
            subscriber,
            priority,
            plugin: Some(hook.plugin.clone()),
        };
        let direct = !callback.is_curried()
            && hook
                .ast
                .iter_functions()
                .any(|f| f.name == callback.fn_name() && f.params.len() == 1);
        let handler = Arc::new(ScriptHandler {
            hook,
            callback,
            direct,
        });
        match hub.subscribe(expression, handler, options) {
            Ok(id) => Ok(id.into()),
            Err(err) => runtime_error(err.to_string()),
        }
    }

    fn publish(&self, event: Dynamic, synchronous: bool) -> RhaiResult<Dynamic> {
        let (hub, _) = self.parts()?;
        let mut event = event_from_script(event)?;
        if synchronous {
            let results: Array = hub
                .publish_replies(&mut event)
                .into_iter()
                .map(|reply| match reply {
                    Reply::Script(value) => value.into_dynamic(),
                    other => to_dynamic(&other.into_json()),
                })
                .collect();
            Ok(results.into())
        } else {
            hub.publish_async(event, None);
            Ok(Dynamic::UNIT)
        }
    }

    fn publish_with_reply(&self, event: Dynamic, on_reply: FnPtr) -> RhaiResult<()> {
        let (hub, hook) = self.parts()?;
        let event = event_from_script(event)?;
        let plugin = hook.plugin.name.clone();
        let handler = ScriptHandler {
            hook,
            callback: on_reply,
            direct: false,
        };
        hub.publish_async(
            event,
            Some(Arc::new(move |reply: &Event| {
                let mut reply = reply.clone();
                if let Err(err) = handler.handle(&mut reply) {
                    tracing::warn!(
                        plugin = &*plugin,
                        "plugin '{plugin}': reply callback failed: {err}"
                    );
                }
            })),
        );
        Ok(())
    }
}

/// Accepts what a script passes as an event: a map shaped like ftrack's event, or an event it
/// received.
fn event_from_script(value: Dynamic) -> RhaiResult<Event> {
    if let Some(event) = value.clone().try_cast::<ScriptEvent>() {
        return event.to_event().or_else(|e| runtime_error(e.0));
    }
    let json = to_json(&value).map_err(|e| format!("event is not JSON: {e}"))?;
    if !json.is_object() {
        return runtime_error("an event must be a map such as #{topic: \"my.topic\", data: #{}}");
    }
    serde_json::from_value(json).or_else(|e| runtime_error(format!("invalid event: {e}")))
}

/// An event as Rhai values: made once per dispatch and shared, read-only, by the Rhai
/// handlers of that dispatch until one of them changes the event.
struct ScriptSnapshot {
    id: ImmutableString,
    topic: ImmutableString,
    target: ImmutableString,
    in_reply_to_event: Dynamic,
    sent: Dynamic,
    data: Dynamic,
    source: Dynamic,
}

impl ScriptSnapshot {
    fn new(event: &Event) -> Self {
        ScriptSnapshot {
            id: event.id.as_str().into(),
            topic: event.topic.as_str().into(),
            target: event.target.as_str().into(),
            in_reply_to_event: event
                .in_reply_to_event
                .as_deref()
                .map_or(Dynamic::UNIT, |id| Dynamic::from(id.to_string())),
            sent: event.sent.as_ref().map_or(Dynamic::UNIT, to_dynamic),
            data: to_dynamic(&event.data),
            source: Dynamic::from_map(
                event
                    .source
                    .iter()
                    .map(|(key, item)| (key.as_str().into(), to_dynamic(item)))
                    .collect(),
            ),
        }
    }
}

/// The [`EventForms`] entry of Rhai handlers.
struct SharedSnapshot(Arc<ScriptSnapshot>);

/// The event a handler sees. Clones share state, so changes a script makes to `event.data`
/// reach the hub (Rhai passes arguments by value). It reads from the shared snapshot until
/// the script assigns `data` or `source`, which then belong to this handler's call.
#[derive(Clone)]
struct ScriptEvent(Arc<Mutex<EventState>>);

struct EventState {
    snapshot: Arc<ScriptSnapshot>,
    /// What the script assigned to `event.data`, if it did.
    data: Option<Dynamic>,
    /// What the script assigned to `event.source`, if it did.
    source: Option<Dynamic>,
    stopped: bool,
}

impl EventState {
    fn data(&self) -> &Dynamic {
        self.data.as_ref().unwrap_or(&self.snapshot.data)
    }

    fn source(&self) -> &Dynamic {
        self.source.as_ref().unwrap_or(&self.snapshot.source)
    }
}

impl ScriptEvent {
    fn new(snapshot: Arc<ScriptSnapshot>, stopped: bool) -> Self {
        ScriptEvent(Arc::new(Mutex::new(EventState {
            snapshot,
            data: None,
            source: None,
            stopped,
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, EventState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Copies what the script changed back into `event`; says whether it changed `data` or
    /// `source`.
    fn write_back(&self, event: &mut Event) -> Result<bool, HandlerError> {
        let state = self.lock();
        if state.stopped {
            event.stop();
        }
        if let Some(data) = &state.data {
            event.data =
                to_json(data).map_err(|e| HandlerError(format!("event.data is not JSON: {e}")))?;
        }
        if let Some(source) = &state.source {
            match to_json(source) {
                Ok(Value::Object(source)) => event.source = source.into(),
                _ => return Err(HandlerError("event.source must be a map".into())),
            }
        }
        Ok(state.data.is_some() || state.source.is_some())
    }

    /// A copy of the event as it is now, for publishing it again (not stopped).
    fn to_event(&self) -> Result<Event, HandlerError> {
        let state = self.lock();
        let snapshot = &state.snapshot;
        let mut event = Event::new(snapshot.topic.as_str());
        event.id = snapshot.id.to_string();
        event.target = snapshot.target.to_string();
        event.data = to_json(state.data())
            .map_err(|e| HandlerError(format!("event.data is not JSON: {e}")))?;
        if let Ok(Value::Object(source)) = to_json(state.source()) {
            event.source = source.into();
        }
        event.in_reply_to_event = snapshot.in_reply_to_event.clone().into_string().ok();
        event.sent = to_json(&snapshot.sent).ok().filter(|v| !v.is_null());
        Ok(event)
    }

    fn get(&self, field: &str) -> RhaiResult<Dynamic> {
        let state = self.lock();
        Ok(match field {
            "id" => state.snapshot.id.clone().into(),
            "topic" => state.snapshot.topic.clone().into(),
            "target" => state.snapshot.target.clone().into(),
            "in_reply_to_event" => state.snapshot.in_reply_to_event.clone(),
            "sent" => state.snapshot.sent.clone(),
            "data" => state.data().clone(),
            "source" => state.source().clone(),
            other => return runtime_error(format!("an event has no field '{other}'")),
        })
    }

    fn set(&self, field: &str, value: Dynamic) -> RhaiResult<()> {
        let mut state = self.lock();
        match field {
            "data" => state.data = Some(value),
            "source" => state.source = Some(value),
            other => return runtime_error(format!("event field '{other}' cannot be changed")),
        }
        Ok(())
    }
}

impl fmt::Display for ScriptEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        write!(
            f,
            "<Event {} {}: {}>",
            state.snapshot.topic,
            state.snapshot.id,
            state.data()
        )
    }
}

fn register_api(engine: &mut Engine) {
    engine
        .register_type_with_name::<ScriptSession>("Session")
        .register_get("event_hub", |s: &mut ScriptSession| s.event_hub.clone())
        .register_get("api_user", |s: &mut ScriptSession| s.api_user.clone())
        .register_get("server_url", |s: &mut ScriptSession| s.server_url.clone());

    // The hub is taken by value (a cheap clone of two weak references), not `&mut`: a
    // callback closure usually captures the very `hub` variable the method is called on, and
    // Rhai refuses to lend a captured value mutably while the closure holds it.
    engine
        .register_type_with_name::<ScriptHub>("EventHub")
        .register_fn("subscribe", |h: ScriptHub, e: &str, cb: FnPtr| {
            h.subscribe(e, cb, RhaiMap::new(), DEFAULT_PRIORITY)
        })
        .register_fn("subscribe", |h: ScriptHub, e: &str, cb: FnPtr, p: i64| {
            h.subscribe(e, cb, RhaiMap::new(), p)
        })
        .register_fn(
            "subscribe",
            |h: ScriptHub, e: &str, cb: FnPtr, s: RhaiMap| h.subscribe(e, cb, s, DEFAULT_PRIORITY),
        )
        .register_fn(
            "subscribe",
            |h: ScriptHub, e: &str, cb: FnPtr, s: RhaiMap, p: i64| h.subscribe(e, cb, s, p),
        )
        .register_fn("unsubscribe", |h: ScriptHub, id: &str| {
            let (hub, _) = h.parts()?;
            hub.unsubscribe(id)
                .or_else(|e| runtime_error(e.to_string()))
        })
        .register_fn("publish", |h: ScriptHub, event: Dynamic| {
            h.publish(event, false).map(|_| ())
        })
        .register_fn(
            "publish",
            |h: ScriptHub, event: Dynamic, synchronous: bool| h.publish(event, synchronous),
        )
        .register_fn(
            "publish",
            |h: ScriptHub, event: Dynamic, on_reply: FnPtr| h.publish_with_reply(event, on_reply),
        );

    engine
        .register_type_with_name::<ScriptEvent>("Event")
        .register_get("id", |e: &mut ScriptEvent| e.get("id"))
        .register_get("topic", |e: &mut ScriptEvent| e.get("topic"))
        .register_get("target", |e: &mut ScriptEvent| e.get("target"))
        .register_get("in_reply_to_event", |e: &mut ScriptEvent| {
            e.get("in_reply_to_event")
        })
        .register_get("sent", |e: &mut ScriptEvent| e.get("sent"))
        .register_get_set(
            "data",
            |e: &mut ScriptEvent| e.get("data"),
            |e: &mut ScriptEvent, v: Dynamic| e.set("data", v),
        )
        .register_get_set(
            "source",
            |e: &mut ScriptEvent| e.get("source"),
            |e: &mut ScriptEvent, v: Dynamic| e.set("source", v),
        )
        .register_indexer_get_set(
            |e: &mut ScriptEvent, field: &str| e.get(field),
            |e: &mut ScriptEvent, field: &str, v: Dynamic| e.set(field, v),
        )
        .register_fn("stop", |e: &mut ScriptEvent| e.lock().stopped = true)
        .register_fn("is_stopped", |e: &mut ScriptEvent| e.lock().stopped)
        .register_fn("to_string", |e: &mut ScriptEvent| e.to_string())
        .register_fn("to_debug", |e: &mut ScriptEvent| e.to_string());
}

/// Resolves `import "name"` inside one plugin's library folders, never outside its root.
struct PluginModuleResolver {
    folders: PluginFolders,
    cache: Mutex<HashMap<PathBuf, SharedModule>>,
    loading: Mutex<HashSet<PathBuf>>,
}

impl PluginModuleResolver {
    fn new(folders: PluginFolders) -> Self {
        PluginModuleResolver {
            folders,
            cache: Mutex::default(),
            loading: Mutex::default(),
        }
    }

    /// The file `import "name"` refers to, or why there is none.
    fn locate(&self, name: &str) -> Result<PathBuf, String> {
        let mut relative = PathBuf::from(name);
        if relative.extension().is_none() {
            relative.set_extension("rhai");
        }
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(format!(
                "import \"{name}\" must be a path inside the plugin's resource/ or dependencies/ folder"
            ));
        }
        if self.folders.library_dirs.is_empty() {
            return Err(format!(
                "cannot import \"{name}\": this hook has no resource/ or dependencies/ folder to import from"
            ));
        }
        for dir in &self.folders.library_dirs {
            let candidate = dir.join(&relative);
            if let Ok(real) = candidate.canonicalize() {
                // A symlink may point anywhere: judge where the file really is.
                if !real.starts_with(&self.folders.root) {
                    return Err(format!(
                        "import \"{name}\" resolves to {} outside the plugin folder {}",
                        real.display(),
                        self.folders.root.display()
                    ));
                }
                if real.is_file() {
                    return Ok(real);
                }
            }
        }
        Err(format!(
            "module \"{name}\" not found in {}",
            self.folders
                .library_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(" or ")
        ))
    }
}

impl ModuleResolver for PluginModuleResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> RhaiResult<SharedModule> {
        let fail = |message: String| {
            Err(Box::new(EvalAltResult::ErrorInModule(
                path.to_string(),
                Box::new(EvalAltResult::ErrorRuntime(message.into(), Position::NONE)),
                pos,
            )))
        };
        let file = match self.locate(path) {
            Ok(file) => file,
            Err(message) => return fail(message),
        };
        if let Some(module) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&file)
        {
            return Ok(module.clone());
        }
        if !self
            .loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(file.clone())
        {
            return fail(format!("circular import of {}", file.display()));
        }
        let result: RhaiResult<SharedModule> = (|| {
            let display = file.display().to_string();
            let text = std::fs::read_to_string(&file).map_err(|err| {
                Box::new(EvalAltResult::ErrorRuntime(
                    format!("cannot read {display}: {err}").into(),
                    pos,
                ))
            })?;
            let mut ast = engine.compile(&text).map_err(|err| {
                let error = ScriptError::from_parse(&display, err);
                Box::new(EvalAltResult::ErrorRuntime(error.to_string().into(), pos))
            })?;
            ast.set_source(display);
            let mut module = Module::eval_ast_as_new(Scope::new(), &ast, engine)?;
            module.build_index();
            Ok(SharedModule::new(module))
        })();
        self.loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&file);
        let module = result?;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(file, module.clone());
        Ok(module)
    }
}
