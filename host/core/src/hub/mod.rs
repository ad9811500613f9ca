//! The event hub: subscriptions, dispatch and replies, with ftrack's semantics.
//!
//! Plugins written for ftrack Connect depend on the exact dispatch rules of
//! `ftrack_api.event.hub.EventHub`; this hub keeps them (see `ftrack-semantics.md` §2):
//!
//! - subscribers run in ascending priority, equal priorities in subscription order;
//! - an event's non-empty `target` is matched against each subscriber's *metadata*;
//! - every handler's return value is a result, `null` included; a failing handler is logged
//!   with its plugin's name and left out, and dispatch goes on;
//! - `event.stop()` ends dispatch after the current handler;
//! - handlers get the event mutably: later handlers and the publisher see changes to `data`.
//!
//! Where it differs, it is on purpose: a bad target is logged rather than silently dropping
//! the event, a plugin's subscriptions can be removed as a unit, and subscriptions are indexed
//! by topic (`SubscriptionIndex`) so a publish tests only the subscriptions that can match,
//! not every one (ftrack sorts and tests all of them on each publish).
//!
//! Locking: the index sits behind a `RwLock` that is held only to pick the candidates, never
//! while a handler runs. That is what makes re-entrant publishing from inside a handler safe,
//! and why (subscribing or unsubscribing during a dispatch) does not change that dispatch.

mod chain;
mod index;
mod queue;
#[cfg(test)]
mod tests;
mod uplink;
#[cfg(test)]
mod uplink_tests;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use connect_event::{new_event_id, topics, Event, Source};
use serde_json::{Map, Value};

use crate::expression::{Expression, ExpressionError};
use crate::handler::{call_in_dispatch, Handler};
use crate::reply::Reply;
use chain::{InHandler, InLineage, NestedDispatch};
pub use chain::{MAX_ASYNC_GENERATIONS, MAX_NESTED_DISPATCH, MAX_QUEUED_EVENTS};
use index::{Subscription, SubscriptionIndex};
use queue::AsyncQueue;
pub use uplink::Uplink;
use uplink::UplinkSlot;

/// Default subscription priority, as in ftrack.
pub const DEFAULT_PRIORITY: i64 = 100;

/// Called with each reply to an event published asynchronously.
pub type ReplyCallback = Arc<dyn Fn(&Event) + Send + Sync>;

/// Which plugin a subscription belongs to: named in logs, and removable as a unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PluginTag {
    /// Unique in the process: two loads of one plugin are different plugins.
    pub id: u64,
    /// The plugin's name, for logs.
    pub name: Arc<str>,
}

impl PluginTag {
    /// A tag with a process-unique id.
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        PluginTag {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            name: name.into(),
        }
    }
}

/// Everything about a subscription but its expression and callback.
#[derive(Debug, Clone)]
pub struct SubscribeOptions {
    /// Subscriber metadata, matched by events' `target`. Gets a fresh `id` when it has none.
    pub subscriber: Map<String, Value>,
    /// Lower runs first; [`DEFAULT_PRIORITY`] unless said otherwise.
    pub priority: i64,
    /// The plugin the subscription belongs to; `None` for the host's own.
    pub plugin: Option<PluginTag>,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions {
            subscriber: Map::new(),
            priority: DEFAULT_PRIORITY,
            plugin: None,
        }
    }
}

/// Why a subscription was refused.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    #[error("invalid subscription {expression:?}: {source}")]
    /// The expression does not parse.
    Expression {
        /// The expression as given.
        expression: String,
        /// Where and why it does not parse.
        source: ExpressionError,
    },
    #[error("Subscriber with identifier {0} already exists.")]
    /// The subscriber metadata's `id` is taken.
    DuplicateSubscriber(String),
    #[error("subscriber metadata `id` must be a string, not {0}")]
    /// The subscriber metadata's `id` is not text.
    SubscriberIdNotString(Value),
}

#[derive(Debug, thiserror::Error)]
#[error("missing subscriber with identifier {0}")]
/// An unsubscribe named no subscription (the id is given).
pub struct UnknownSubscriber(pub String);

/// Who publishes: filled into `source` where an event leaves it out.
#[derive(Debug, Clone)]
pub struct HubIdentity {
    /// The hub's id, `source.id` of what it publishes.
    pub id: String,
    /// `source.user.username`.
    pub username: String,
    /// `source.host`.
    pub hostname: String,
}

impl HubIdentity {
    /// This machine's identity for `username`, with a fresh hub id.
    pub fn local(username: &str) -> Self {
        HubIdentity {
            id: new_event_id(),
            username: username.to_string(),
            hostname: gethostname::gethostname().to_string_lossy().into_owned(),
        }
    }
}

/// Sees every event the hub dispatches, after its handlers ran (`ftrack-connect event watch`).
/// Returns false when it wants no more events.
pub type EventObserver = Box<dyn Fn(&Event) -> bool + Send + Sync>;

/// The event hub. Cheap to share: wrap it in an `Arc`.
pub struct EventHub {
    identity: HubIdentity,
    /// The `source` an event without one gets: built once, shared by every such event.
    default_source: Source,
    index: RwLock<SubscriptionIndex>,
    next_seq: AtomicU64,
    queue: AsyncQueue,
    /// The server's hub, when the host is signed in (see `uplink`).
    uplink: UplinkSlot,
    observers: Mutex<Vec<EventObserver>>,
    /// Whether `observers` may hold any: checked without the lock on every publish, since
    /// nobody watches almost always.
    observed: AtomicBool,
}

impl EventHub {
    /// A hub with no subscriptions, publishing as `identity`.
    pub fn new(identity: HubIdentity) -> Self {
        let mut hub = EventHub {
            identity,
            default_source: Source::default(),
            index: RwLock::new(SubscriptionIndex::default()),
            next_seq: AtomicU64::new(0),
            queue: AsyncQueue::default(),
            uplink: UplinkSlot::default(),
            observers: Mutex::default(),
            observed: AtomicBool::new(false),
        };
        let mut source = Map::new();
        hub.fill_source(&mut source);
        hub.default_source = source.into();
        hub
    }

    /// Who the hub publishes as.
    pub fn identity(&self) -> &HubIdentity {
        &self.identity
    }

    /// Shows every dispatched event to `observer` until it returns false.
    pub fn observe(&self, observer: EventObserver) {
        let mut observers = self.observers.lock().unwrap_or_else(|e| e.into_inner());
        observers.push(observer);
        self.observed.store(true, Ordering::Release);
    }

    fn notify_observers(&self, event: &Event) {
        if !self.observed.load(Ordering::Acquire) {
            return;
        }
        // Observers only queue the event elsewhere, so holding the lock while they run is brief.
        let mut observers = self.observers.lock().unwrap_or_else(|e| e.into_inner());
        observers.retain(|observer| observer(event));
        self.observed
            .store(!observers.is_empty(), Ordering::Release);
    }

    /// Subscribes `handler` to events matching `expression`; returns the subscriber id.
    pub fn subscribe(
        &self,
        expression: &str,
        handler: Arc<dyn Handler>,
        options: SubscribeOptions,
    ) -> Result<String, SubscribeError> {
        let parsed =
            Expression::parse(expression).map_err(|source| SubscribeError::Expression {
                expression: expression.to_string(),
                source,
            })?;
        self.subscribe_expression(parsed, handler, options)
    }

    /// As [`EventHub::subscribe`], for an expression built in code.
    pub fn subscribe_expression(
        &self,
        expression: Expression,
        handler: Arc<dyn Handler>,
        options: SubscribeOptions,
    ) -> Result<String, SubscribeError> {
        let mut metadata = options.subscriber;
        let id = match metadata.get("id") {
            None => {
                let id = new_event_id();
                metadata.insert("id".into(), Value::String(id.clone()));
                id
            }
            Some(Value::String(id)) => id.clone(),
            Some(other) => return Err(SubscribeError::SubscriberIdNotString(other.clone())),
        };
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        if index.by_id.contains_key(&id) {
            return Err(SubscribeError::DuplicateSubscriber(id));
        }
        let subscription = Arc::new(Subscription {
            seq: self.next_seq.fetch_add(1, Ordering::Relaxed),
            id: id.clone(),
            test: expression.after_topic(),
            expression,
            metadata,
            priority: options.priority,
            handler,
            plugin: options.plugin,
        });
        index.insert(subscription.clone());
        drop(index);
        self.tell_uplink_subscribed(&subscription.expression, &subscription.metadata);
        Ok(id)
    }

    /// Removes the subscription with subscriber id `id`.
    pub fn unsubscribe(&self, id: &str) -> Result<(), UnknownSubscriber> {
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        let removed = index.remove(id);
        drop(index);
        match removed {
            Some(_) => {
                self.tell_uplink_unsubscribed(&[id.to_string()]);
                Ok(())
            }
            None => Err(UnknownSubscriber(id.to_string())),
        }
    }

    /// Removes every subscription of `plugin`; returns how many there were.
    pub fn unsubscribe_plugin(&self, plugin: &PluginTag) -> usize {
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        let removed = index.remove_plugin(plugin.id);
        drop(index);
        self.tell_uplink_unsubscribed(&removed);
        removed.len()
    }

    /// Holds back the subscriptions `plugin` makes from now on: they count, and can be
    /// removed, but no publish finds them until [`EventHub::replace_plugin`] lets them in.
    /// For a new version of a plugin that registers while the old one still answers.
    pub fn hold(&self, plugin: &PluginTag) {
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        index.hold(plugin.id);
    }

    /// In one step, as publishes see it: removes every subscription of `old` and lets in the
    /// held subscriptions of `new`. Returns how many of `old`'s were removed.
    pub fn replace_plugin(&self, old: Option<&PluginTag>, new: &PluginTag) -> usize {
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        let removed = old.map_or_else(Vec::new, |old| index.remove_plugin(old.id));
        index.release(new.id);
        drop(index);
        self.tell_uplink_unsubscribed(&removed);
        removed.len()
    }

    /// How many subscriptions `plugin` holds.
    pub fn subscription_count(&self, plugin: &PluginTag) -> usize {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        index.count_of(plugin.id)
    }

    /// The handlers a publish on `topic` considers, in dispatch order (whatever else their
    /// subscriptions test): to call them without the hub, as the benchmarks' floors do.
    pub fn handlers_on(&self, topic: &str) -> Vec<Arc<dyn Handler>> {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        let candidates = index.candidates(topic);
        candidates.iter().map(|sub| sub.handler.clone()).collect()
    }

    /// Publishes synchronously: runs the matching handlers now, in this thread, and returns
    /// their results as JSON values (`[]` when nothing matched). The caller's `event` carries
    /// the changes handlers made.
    pub fn publish(&self, event: &mut Event) -> Vec<Value> {
        self.publish_replies(event)
            .into_iter()
            .map(Reply::into_json)
            .collect()
    }

    /// [`EventHub::publish`], with the results in the form each handler made them: for
    /// readers that want another form than a JSON value (JSON text, Rhai values), which then
    /// convert each result once.
    pub fn publish_replies(&self, event: &mut Event) -> Vec<Reply> {
        self.prepare(event);
        let _chain = InLineage::enter_unless_in_one();
        self.dispatch(event, false)
    }

    /// Fills `source.id`, `source.user.username` and `source.host` where missing.
    fn prepare(&self, event: &mut Event) {
        if event.source.is_empty() {
            event.source = self.default_source.clone();
        } else {
            self.fill_source(&mut event.source);
        }
    }

    fn fill_source(&self, source: &mut Map<String, Value>) {
        source
            .entry("id")
            .or_insert_with(|| Value::String(self.identity.id.clone()));
        let user = source
            .entry("user")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(user) = user {
            user.entry("username")
                .or_insert_with(|| Value::String(self.identity.username.clone()));
        }
        source
            .entry("host")
            .or_insert_with(|| Value::String(self.identity.hostname.clone()));
    }

    /// Runs the handlers for `event`. With `reply`, queues each non-null result as a reply;
    /// returns the results (for a queued event: the ones that were sent as replies).
    fn dispatch(&self, event: &mut Event, reply: bool) -> Vec<Reply> {
        let Some(_nested) = NestedDispatch::enter() else {
            tracing::error!(
                "event on {:?} not dispatched: publishes nested {MAX_NESTED_DISPATCH} deep \
                 (a handler publishing an event that leads back to itself?)",
                event.topic
            );
            return Vec::new();
        };
        let target = match event.target.trim() {
            "" => None,
            text => match Expression::parse(text) {
                Ok(target) => Some(target),
                Err(err) => {
                    tracing::warn!(
                        "event {} on {:?} not dispatched: its target {:?} is not a valid expression: {err}",
                        event.id,
                        event.topic,
                        event.target
                    );
                    return Vec::new();
                }
            },
        };
        let candidates = self
            .index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .candidates(&event.topic);
        let mut results = Vec::with_capacity(candidates.len());
        let mut forms = crate::handler::EventForms::default();
        for sub in candidates.iter() {
            if let Some(target) = &target {
                if !target.matches(&sub.metadata) {
                    continue;
                }
            }
            if let Some(test) = &sub.test {
                if !test.matches(&*event) {
                    continue;
                }
            }
            // Until the end of this round, what is published is this plugin's doing (its
            // reply included).
            let _running = InHandler::enter(sub.plugin.as_ref().map_or(0, |p| p.id));
            match call_in_dispatch(&*sub.handler, event, &mut forms, reply) {
                Ok(value) => {
                    if reply {
                        // A reply the queue refuses (see `chain`) was not sent: not counted.
                        if !value.is_null()
                            && self.publish_async(
                                reply_to(event, &sub.metadata, value.to_json()),
                                None,
                            )
                        {
                            results.push(value);
                        }
                    } else {
                        results.push(value);
                    }
                }
                Err(err) => tracing::warn!(
                    plugin = sub.plugin_name(),
                    "plugin '{}': handler for {:?} failed: {err}",
                    sub.plugin_name(),
                    event.topic
                ),
            }
            if event.is_stopped() {
                tracing::debug!(
                    "plugin '{}' stopped event {} on {:?}",
                    sub.plugin_name(),
                    event.id,
                    event.topic
                );
                break;
            }
        }
        self.notify_observers(event);
        results
    }

    /// Answers `event` after its handler returned, as the hub sends a handler's result: an
    /// `ftrack.meta.reply` to the event's source, from `subscriber`. For a handler that hands
    /// long work to a thread of its own (returning null, which sends nothing) so as not to
    /// hold up the queue or the server's connection, and answers when the work is done.
    /// Only an event published asynchronously (here or by another client) waits for such a
    /// reply. Returns false when the reply was dropped (see [`EventHub::publish_async`]).
    pub fn reply_later(&self, event: &Event, subscriber: &Map<String, Value>, data: Value) -> bool {
        self.publish_async(reply_to(event, subscriber, data), None)
    }

    #[cfg(test)]
    fn candidate_count(&self, topic: &str) -> usize {
        self.index.read().unwrap().candidates(topic).len()
    }
}

/// The reply a subscriber sends for `event`, as ftrack's `publish_reply` builds it.
fn reply_to(event: &Event, subscriber: &Map<String, Value>, data: Value) -> Event {
    let mut reply = Event::new(topics::META_REPLY).with_data(data);
    if let Some(source_id) = event.source.get("id").and_then(Value::as_str) {
        reply.target = Expression::equals("id", source_id).to_string();
    }
    reply.in_reply_to_event = Some(event.id.clone());
    reply.source = subscriber.clone().into();
    reply
}
