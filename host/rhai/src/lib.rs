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
//! ```
//!
//! The crate is in parts: `engine` (each plugin's engine and its limits), `hook` (a compiled
//! file and its handlers, run as top-level code), `error` (script errors with file, line and
//! column), `session` (the `session` and `event_hub` scripts see), `event` (the event as
//! script values), `convert` (between script values and JSON) and `resolver` (the import
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

mod convert;
mod engine;
mod error;
mod event;
mod hook;
mod resolver;
mod session;

// The parts share these imports, and each other's crate-visible items, through `use super::*`.
use std::any::Any;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use connect_core::{
    call_once, EventHub, Handler, HandlerCall, HandlerError, PluginTag, Reply, ResultForm,
    SubscribeOptions, DEFAULT_PRIORITY,
};
use connect_event::Event;
use connect_plugins::{
    DiscoveredPlugin, HookKind, LoadError, Loader, PluginLoad, PreparedHook, SessionInfo,
};
use convert::*;
use engine::*;
use event::*;
use hook::*;
use resolver::*;
use rhai::packages::{Package, StandardPackage};
use rhai::{
    ASTNode, Array, Caches, CallFnOptions, Dynamic, Engine, EvalAltResult, FnPtr, ImmutableString,
    Map as RhaiMap, Module, ModuleResolver, Position, Scope, Stmt, AST,
};
use serde_json::Value;
use session::*;

pub use engine::{plugin_engine, PluginFolders};
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

    fn begin(&self, plugin: &DiscoveredPlugin, tag: &PluginTag) -> Box<dyn PluginLoad + '_> {
        Box::new(RhaiPluginLoad {
            folders: PluginFolders {
                root: plugin.root.clone(),
                library_dirs: plugin.library_dirs.clone(),
            },
            tag: tag.clone(),
            engine: None,
        })
    }
}

/// One plugin's Rhai hooks being loaded; its engine is made for the first one.
struct RhaiPluginLoad {
    folders: PluginFolders,
    tag: PluginTag,
    engine: Option<Arc<Engine>>,
}

impl PluginLoad for RhaiPluginLoad {
    fn prepare(&mut self, path: &Path) -> Result<Option<Box<dyn PreparedHook>>, LoadError> {
        let engine = self
            .engine
            .get_or_insert_with(|| Arc::new(plugin_engine(&self.tag, &self.folders)));
        let compiled = CompiledHook::compile(engine.clone(), self.tag.clone(), path)
            .map_err(LoadError::new)?;
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
