//! The calls and answers the host and the Python bridge exchange, in `connect-pipe`'s
//! frames. `bridge.py` reads and writes the same shapes (serde's externally tagged form:
//! `{"Handle": {"handler": 3, "event": {...}}}`, `"Registered"`).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// One side of the pipe pair, with the bridge's calls and answers.
pub(crate) type Link = connect_pipe::link::Link<Call, Answer>;

/// The threads serving the conversations the bridge opens.
pub(crate) type Workers = connect_pipe::link::Workers<Call, Answer>;

/// What one side asks of the other.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Call {
    /// Host to bridge: import a hook file as hook number `hook` of `plugin`.
    Import {
        /// The host's number for the hook.
        hook: u64,
        /// The `.py` file.
        path: String,
        /// The plugin's name, for its log lines.
        plugin: String,
        /// Folders its imports may come from (`resource/`, `dependencies/`).
        library_dirs: Vec<String>,
        /// The first hook of a new load of its plugin: the modules of those folders are
        /// imported anew.
        fresh: bool,
    },
    /// Host to bridge: run an imported hook's `register(session)`.
    Register {
        /// The hook.
        hook: u64,
    },
    /// Host to bridge: run handler number `handler` on `event`.
    Handle {
        /// The bridge's number for the handler.
        handler: u64,
        /// The event, in ftrack's wire form.
        event: Box<RawValue>,
    },
    /// Host to bridge: drop a hook's module and handlers (its subscriptions are gone).
    Forget {
        /// The hook.
        hook: u64,
    },
    /// Host to bridge: drop an `on_reply` handler (no reply can come any more).
    Release {
        /// The bridge's number for the handler.
        handler: u64,
    },
    /// Bridge to host: subscribe handler number `handler` of hook `hook`.
    Subscribe {
        /// The hook whose code subscribes.
        hook: u64,
        /// The subscription expression.
        expression: String,
        /// Lower runs first.
        priority: i64,
        /// The bridge's number for the handler.
        handler: u64,
        /// The subscriber metadata (`id` included), matched by events' `target`.
        subscriber: Map<String, Value>,
    },
    /// Bridge to host: remove a subscription.
    Unsubscribe {
        /// The subscriber id.
        id: String,
    },
    /// Bridge to host: publish through the host's hub.
    Publish {
        /// The event, in ftrack's wire form.
        event: Box<RawValue>,
        /// Run the handlers now and answer with their results; else queue it.
        synchronous: bool,
        /// The bridge's handler for replies to an asynchronous publish (`on_reply`).
        reply_handler: Option<u64>,
        /// The hook whose code publishes, which the `on_reply` handler belongs to.
        hook: Option<u64>,
    },
}

/// What a call got back.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Answer {
    /// The bridge's greeting: it runs, with this Python and `ftrack_api`.
    Ready {
        /// `/usr/bin/python3 (3.11.2)`.
        python: String,
        /// `ftrack_api.__version__`.
        ftrack_api: String,
        /// Why hooks get a session without a server although the host has one.
        note: Option<String>,
    },
    /// `Import`: the module ran and has a `register`.
    Imported,
    /// `Import`: the module ran and has no `register`: not a hook.
    NotAHook,
    /// `Register` succeeded.
    Registered,
    /// `Forget` done.
    Forgotten,
    /// `Release` done.
    Released,
    /// `Handle`: what the handler did.
    Handled {
        /// Its result.
        result: Box<RawValue>,
        /// The event's new `data`, when the handler changed it.
        data: Option<Box<RawValue>>,
        /// The handler stopped the event.
        stop: bool,
    },
    /// `Subscribe`: the subscriber id.
    Subscribed {
        /// The id.
        id: String,
    },
    /// `Unsubscribe` done.
    Unsubscribed,
    /// A synchronous `Publish`: the results and the data after the handlers ran.
    Published {
        /// The results, in order.
        results: Vec<Value>,
        /// The event's `data` afterwards.
        data: Value,
    },
    /// An asynchronous `Publish` was queued.
    Queued,
    /// The call failed: why (for a Python exception, with the hook's traceback).
    Failed {
        /// Why.
        error: String,
    },
}

impl Answer {
    pub(crate) fn failed(error: impl std::fmt::Display) -> Answer {
        Answer::Failed {
            error: error.to_string(),
        }
    }
}
