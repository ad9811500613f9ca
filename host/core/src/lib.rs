//! `connect-core`: ftrack's subscription expressions and event hub, and nothing else.
//!
//! Plugins written for ftrack Connect depend on the exact matching and dispatch rules of
//! `ftrack_api`; this crate is where those rules live, apart from every way of loading a
//! plugin, so that a change to a loader, the command line or a future web UI never touches
//! them, and their tests never compile a script engine:
//!
//! - [`expression`]: ftrack's subscription expressions, parsed ([`Expression::parse`]) and
//!   matched against events and subscriber metadata;
//! - [`hub`]: the event hub: subscriptions indexed by topic, dispatch in ftrack's order,
//!   synchronous and asynchronous publish, replies;
//! - [`handler`]: the contract a loader implements to handle events ([`Handler`]), and the
//!   event forms a dispatch shares among handlers;
//! - [`reply`]: a handler's result, kept in the form the handler made it ([`Reply`]);
//! - [`version`]: how ftrack orders version strings (plugin folders, installed applications);
//! - [`identity`]: who the host acts for.
//!
//! ```
//! use std::sync::Arc;
//! use connect_core::{EventHub, HubIdentity, SubscribeOptions};
//! use connect_event::Event;
//! use serde_json::{json, Value};
//!
//! let hub = EventHub::new(HubIdentity::local("alice"));
//! let answer = |event: &mut Event| Ok(json!({"seen": event.data["n"]}));
//! hub.subscribe("topic=demo.ask and data.n>1", Arc::new(answer), SubscribeOptions::default())
//!     .unwrap();
//! let results: Vec<Value> = hub.publish(&mut Event::new("demo.ask").with_data(json!({"n": "2"})));
//! assert_eq!(results, vec![json!({"seen": "2"})]);
//! ```
#![deny(missing_docs)]

pub mod expression;
pub mod handler;
pub mod hub;
pub mod identity;
pub mod reply;
pub mod version;

pub use expression::{Expression, ExpressionError};
pub use handler::{call_once, EventForms, Handler, HandlerCall, HandlerError};
pub use hub::{
    EventHub, EventObserver, HubIdentity, PluginTag, ReplyCallback, SubscribeError,
    SubscribeOptions, UnknownSubscriber, Uplink, DEFAULT_PRIORITY, MAX_NESTED_DISPATCH,
};
pub use identity::{ApiKey, Identity};
pub use reply::{Reply, ResultForm};

/// The stack of each thread the host starts to run handlers on (a command, the event queue,
/// endpoint requests, reloads). Rhai clones, checks and drops nested data recursively, below
/// any script limit: a map nested ten thousand levels deep overflows Rust's default 2 MiB and
/// aborts the process. Reserved, not used: the OS gives a thread's stack pages as they are
/// touched (but a process's data limit, `RLIMIT_DATA`, counts them).
pub const HANDLER_THREAD_STACK: usize = 64 << 20;

/// The log target of lines meant for the log file only (long reports for whoever debugs a
/// plugin): the command line's stderr leaves them out.
pub const LOG_FILE_ONLY: &str = "log_file_only";
