//! `connect-rhai`: the Rhai loader. Compiles `.rhai` hook files, runs their
//! `register(session)` and calls the handlers they subscribe. The registry reaches it only
//! through [`RhaiLoader`] (`connect_plugins::Loader`); the core never sees Rhai.
//!
//! A hook file is compiled once ([`CompiledHook`]); every handler it subscribes shares that
//! compiled script. Each plugin gets its own [`Engine`] because the engine carries what is
//! plugin-specific: the import resolver that keeps `import` inside the plugin's `resource/`
//! and `dependencies/` folders, and the `print`/`debug` sinks that tag log lines with the
//! plugin's name. The engine's limits (operations, call depth, sizes of strings, arrays and
//! maps) stop a runaway handler with an error, which says where the handler was, instead of
//! hanging the host or exhausting its memory.
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
//!
//! session.query(expression)         -> array of entity maps (each with __entity_type__, id)
//! session.get(type, id)             -> the entity's map, or () when there is none
//! session.create(type, data)        -> the entity's map as it will be, its id included
//! session.update(type, id, data)    session.update(entity, data)
//! session.delete(type, id)          session.delete(entity)
//! session.commit()                  -> array of the server's results, one per change
//!
//! session.pipeline.plugin(plugin_type, name, callback [host type python])
//! session.pipeline.plugin(host_type, plugin_type, name, callback)
//! ```
//!
//! ## The ftrack server
//!
//! `query` and `get` ask the server at once. `create`, `update` and `delete` are queued and
//! `commit` sends them as one batch, which the server applies all or nothing; nothing stays
//! queued after a commit, applied or refused. The queue is the plugin's: its hook files, and
//! the handlers they subscribe, share one session with the server (`session.commit()` in one
//! sends what another queued), and each plugin has its own. An entity in the data of a
//! `create` or `update` (a map from `query`, `get` or `create`) is sent as a reference to it,
//! so `session.create("Note", #{ content: "done", parent: task })` works before the task is
//! committed. `update(entity, data)` and `delete(entity)` take the entity's `__entity_type__`
//! and `id`. `session.api_user` and `session.server_url` are those of the server's session;
//! the API key is never visible to scripts.
//!
//! A call that fails stops the script with an error where it called (file, line, column):
//! the server's message (`session.query: Server reported error: ...`), or, on a host that is
//! not signed in, "this host is not connected to an ftrack server (sign in with
//! `ftrack-connect login`)". A script may catch it with `try { ... } catch (err) { ... }`.
//!
//! Handlers reach the session by capturing it: subscribe through a copy of the hub, so that
//! the closure does not capture the variable the method is called on (Rhai refuses that):
//!
//! ```text
//! fn on_launch(session, event) { session.get("Task", event.data.task_id) }
//! fn register(session) {
//!     let hub = session.event_hub;
//!     hub.subscribe("topic=my.tasks", |event| session.query(`Task where name is "${event.data.name}"`));
//!     hub.subscribe("topic=my.launch", Fn("on_launch").curry(session));
//! }
//! ```
//!
//! Threading: calls block the handler until the server answers or the call times out (the
//! call runs elsewhere); handlers run on threads where blocking is allowed (event queue,
//! endpoint, loading, the server connection's own thread for the server's events); a slow
//! server delays the events behind the handler.
//!
//! The crate is in parts: `engine` (each plugin's engine and its limits), `hook` (a compiled
//! file and its handlers, run as top-level code), `error` (script errors with file, line and
//! column), `session` (the `session` and `event_hub` scripts see), `api` (the session's
//! server calls), `event` (the event as script values), `convert` (between script values and
//! JSON), `pipeline` (pipeline plugins, `session.pipeline`) and `resolver` (the import
//! sandbox).
//!
//! ```
//! use std::path::PathBuf;
//! use std::sync::Arc;
//! use connect_core::{EventHub, HubIdentity, PluginTag};
//! use connect_event::Event;
//! use connect_plugins::SessionInfo;
//! use connect_rhai::{plugin_engine, CompiledHook, PluginFolders};
//! use serde_json::json;
//!
//! let hub = Arc::new(EventHub::new(HubIdentity::local("alice")));
//! let tag = PluginTag::new("hello");
//! let folders = PluginFolders { root: PathBuf::from("/nowhere"), library_dirs: vec![] };
//! let engine = Arc::new(plugin_engine(&tag, &folders));
//! let source = r#"
//!     fn register(session) {
//!         session.event_hub.subscribe("topic=demo.hello", |event| `Hello ${event.data.name}`);
//!     }
//! "#;
//! let hook = Arc::new(CompiledHook::compile_source(engine, tag, "hello.rhai", source).unwrap());
//! hook.register(&hub, &SessionInfo::default()).unwrap();
//! let mut event = Event::new("demo.hello").with_data(json!({"name": "Rhai"}));
//! assert_eq!(hub.publish(&mut event), vec![json!("Hello Rhai")]);
//! ```
#![deny(missing_docs)]

mod api;
#[cfg(test)]
mod api_tests;
mod convert;
mod engine;
mod error;
mod event;
mod hook;
mod pipeline;
mod resolver;
mod session;

// The parts share these imports, and each other's crate-visible items, through `use super::*`.
use std::any::Any;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use api::*;
use connect_core::{
    call_once, EventHub, Handler, HandlerCall, HandlerError, PluginTag, Reply, ResultForm,
    SubscribeOptions, DEFAULT_PRIORITY,
};
use connect_event::Event;
use connect_plugins::{
    ApiSession, DiscoveredPlugin, HookKind, LoadError, Loader, PluginLoad, PreparedHook,
    ServerApiError, SessionInfo,
};
use convert::*;
use engine::*;
use event::*;
use hook::*;
use pipeline::*;
use resolver::*;
use rhai::packages::{Package, StandardPackage};
use rhai::{
    ASTNode, Array, Caches, CallFnOptions, Dynamic, Engine, EvalAltResult, FnPtr, FuncRegistration,
    ImmutableString, Map as RhaiMap, Module, ModuleResolver, Position, RhaiNativeFunc, Scope, Stmt,
    Variant, AST,
};
use serde_json::Value;
use session::*;

pub use engine::{build_shared_modules, plugin_engine, PluginFolders};
pub use engine::{
    MAX_ARRAY_SIZE, MAX_CALL_LEVELS, MAX_MAP_SIZE, MAX_NATIVE_STACK, MAX_OPERATIONS,
    MAX_STRING_SIZE,
};
pub use error::ScriptError;
pub use hook::CompiledHook;

/// The loader of Rhai hooks (`.rhai` files).
///
/// Each plugin gets its own engine, shared by its hook files: the engine carries what is
/// plugin-specific (the import resolver confined to the plugin's folders, the log sinks
/// tagged with its name).
#[derive(Debug, Default)]
pub struct RhaiLoader;

impl Loader for RhaiLoader {
    fn kind(&self) -> HookKind {
        HookKind::Rhai
    }

    /// Preparing is compiling, with an engine of the plugin's own: nothing outside it.
    fn prepares_anywhere(&self) -> bool {
        true
    }

    fn begin(&self, plugin: &DiscoveredPlugin, tag: &PluginTag) -> Box<dyn PluginLoad + '_> {
        Box::new(RhaiPluginLoad {
            folders: PluginFolders {
                root: plugin.root.clone(),
                library_dirs: plugin.library_dirs.clone(),
            },
            tag: tag.clone(),
            engine: None,
            api: PluginApi::default(),
        })
    }
}

/// One plugin's Rhai hooks being loaded; its engine is made for the first one. Its hooks
/// share the engine and the plugin's session with the server (made by the first `register`).
struct RhaiPluginLoad {
    folders: PluginFolders,
    tag: PluginTag,
    engine: Option<Arc<Engine>>,
    api: PluginApi,
}

impl PluginLoad for RhaiPluginLoad {
    fn prepare(&mut self, path: &Path) -> Result<Option<Box<dyn PreparedHook>>, LoadError> {
        let engine = self
            .engine
            .get_or_insert_with(|| Arc::new(plugin_engine(&self.tag, &self.folders)));
        let mut compiled = CompiledHook::compile(engine.clone(), self.tag.clone(), path)
            .map_err(LoadError::new)?;
        compiled.api = self.api.clone();
        Ok(compiled
            .defines_register()
            .then(|| Box::new(PreparedRhaiHook(Arc::new(compiled))) as Box<dyn PreparedHook>))
    }
}

/// A compiled hook ready for its `register(session)`.
pub struct PreparedRhaiHook(pub Arc<CompiledHook>);

impl PreparedHook for PreparedRhaiHook {
    fn register(&self, hub: &Arc<EventHub>, session: &SessionInfo) -> Result<(), LoadError> {
        self.0.register(hub, session).map_err(LoadError::new)
    }
}
