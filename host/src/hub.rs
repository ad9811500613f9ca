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

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use connect_plugin_api::{new_event_id, Event, Source};
use serde_json::{Map, Value};

use crate::expression::{Expression, ExpressionError, TopicFilter};
use crate::reply::Reply;

/// Topic of the reply events an asynchronous publish produces.
pub const REPLY_TOPIC: &str = "ftrack.meta.reply";

/// Default subscription priority, as in ftrack.
pub const DEFAULT_PRIORITY: i64 = 100;

/// How deeply synchronous publishes from inside handlers may nest. A handler whose publish
/// leads back to itself would otherwise recurse until the stack overflows, which aborts the
/// whole host; real hooks nest two or three deep.
pub const MAX_NESTED_DISPATCH: u32 = 32;

thread_local! {
    /// How many dispatches are running in this thread, one inside the other.
    static DISPATCH_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Counts one nested dispatch while it lives.
struct NestedDispatch;

impl NestedDispatch {
    /// Enters a dispatch; `None` when that would nest too deeply.
    fn enter() -> Option<NestedDispatch> {
        DISPATCH_DEPTH.with(|depth| {
            (depth.get() < MAX_NESTED_DISPATCH).then(|| {
                depth.set(depth.get() + 1);
                NestedDispatch
            })
        })
    }
}

impl Drop for NestedDispatch {
    fn drop(&mut self) {
        DISPATCH_DEPTH.with(|depth| depth.set(depth.get() - 1));
    }
}

/// Why a handler produced no result. The message is shown to the plugin author as it is.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(pub String);

/// A subscription's callback.
///
/// Returning `Ok(value)` adds `value` to the publish results (and, for an asynchronous
/// publish, sends it back as a reply unless it is `null`). Returning `Err` logs the error with
/// the plugin's name; the event goes on to the next subscriber.
pub trait Handler: Send + Sync {
    fn handle(&self, event: &mut Event) -> Result<Value, HandlerError>;

    /// What dispatch calls: [`Handler::handle`] with the forms other handlers already converted
    /// this event to (see [`EventForms`]). A handler that converts the event (to Rhai values, to
    /// JSON text) overrides this to take its form from `forms`, or add it, and must clear
    /// `forms` when it changed the event. The default assumes any change is possible.
    ///
    /// The result is a [`Reply`], so a handler whose results are not JSON values to begin with
    /// (Rhai values, native JSON text) hands them on unconverted.
    fn handle_in_dispatch(
        &self,
        event: &mut Event,
        forms: &mut EventForms,
    ) -> Result<Reply, HandlerError> {
        let outcome = self.handle(event);
        forms.clear();
        outcome.map(Reply::Json)
    }
}

/// The forms one dispatch has converted its event to, shared by the handlers that need them.
///
/// Rhai handlers see the event as Rhai values, native handlers as JSON text. Converting once
/// per publish rather than once per handler is what makes an event answered by 200 hooks
/// cheap; a form stays valid until a handler changes the event, which clears them all.
#[derive(Default)]
pub struct EventForms {
    forms: Vec<Box<dyn std::any::Any>>,
}

impl EventForms {
    /// The form of type `T`, made by `make` if this dispatch has none yet.
    pub fn get_or_insert_with<T: 'static>(&mut self, make: impl FnOnce() -> T) -> &T {
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
    pub fn clear(&mut self) {
        self.forms.clear();
    }
}

impl<F> Handler for F
where
    F: Fn(&mut Event) -> Result<Value, HandlerError> + Send + Sync,
{
    fn handle(&self, event: &mut Event) -> Result<Value, HandlerError> {
        self(event)
    }
}

/// Called with each reply to an event published asynchronously.
pub type ReplyCallback = Arc<dyn Fn(&Event) + Send + Sync>;

/// Which plugin a subscription belongs to: named in logs, and removable as a unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PluginTag {
    pub id: u64,
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
    pub priority: i64,
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

#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    #[error("invalid subscription {expression:?}: {source}")]
    Expression {
        expression: String,
        source: ExpressionError,
    },
    #[error("Subscriber with identifier {0} already exists.")]
    DuplicateSubscriber(String),
    #[error("subscriber metadata `id` must be a string, not {0}")]
    SubscriberIdNotString(Value),
}

#[derive(Debug, thiserror::Error)]
#[error("missing subscriber with identifier {0}")]
pub struct UnknownSubscriber(pub String);

struct Subscription {
    seq: u64,
    id: String,
    expression: Expression,
    /// What dispatch tests of `expression`: nothing when it only tests the topic (every event
    /// that finds the subscription in its exact-topic bucket matches), and without its topic
    /// test when the subscription is indexed by that topic ([`Expression::after_topic`]).
    test: Option<Expression>,
    metadata: Map<String, Value>,
    priority: i64,
    handler: Arc<dyn Handler>,
    plugin: Option<PluginTag>,
}

impl Subscription {
    fn plugin_name(&self) -> &str {
        self.plugin.as_ref().map_or("host", |p| &p.name)
    }
}

/// Subscriptions, indexed by what their expression requires of the event's topic.
///
/// Most subscriptions name an exact topic (`topic=ftrack.action.discover and ...`); those are
/// found with one hash lookup. Substring wildcards (`topic=ftrack.*`) are kept in a list tested
/// with a substring search, and subscriptions that constrain no topic (`source.user.username=x`)
/// are always candidates. Candidates still get their full expression matched.
///
/// Each exact-topic bucket is kept in dispatch order and shared copy-on-write, so a publish on
/// a topic with no wildcard or unconstrained subscriptions takes its candidates without
/// allocating or sorting anything.
#[derive(Default)]
struct SubscriptionIndex {
    by_id: HashMap<String, Arc<Subscription>>,
    /// Looked up on every publish: foldhash instead of SipHash, whose cost showed in
    /// profiles. Topics come from plugins and the token-checked local endpoint, not from the
    /// network, and foldhash is still seeded per process.
    exact: HashMap<String, Arc<Vec<Arc<Subscription>>>, foldhash::fast::RandomState>,
    containing: Vec<(String, Arc<Subscription>)>,
    unconstrained: Vec<Arc<Subscription>>,
}

impl SubscriptionIndex {
    fn insert(&mut self, subscription: Arc<Subscription>) {
        match subscription.expression.topic_filter() {
            TopicFilter::Any => self.unconstrained.push(subscription.clone()),
            TopicFilter::OneOf { exact, containing } => {
                for topic in exact {
                    let bucket = Arc::make_mut(self.exact.entry(topic).or_default());
                    if bucket.iter().any(|s| s.seq == subscription.seq) {
                        continue;
                    }
                    let order = dispatch_order(&subscription);
                    let at = bucket.partition_point(|s| dispatch_order(s) < order);
                    bucket.insert(at, subscription.clone());
                }
                for needle in containing {
                    self.containing.push((needle, subscription.clone()));
                }
            }
        }
        self.by_id.insert(subscription.id.clone(), subscription);
    }

    fn remove(&mut self, id: &str) -> Option<Arc<Subscription>> {
        let removed = self.by_id.remove(id)?;
        let seq = removed.seq;
        self.exact.retain(|_, subs| {
            if subs.iter().any(|s| s.seq == seq) {
                Arc::make_mut(subs).retain(|s| s.seq != seq);
            }
            !subs.is_empty()
        });
        self.containing.retain(|(_, s)| s.seq != seq);
        self.unconstrained.retain(|s| s.seq != seq);
        Some(removed)
    }

    /// The subscriptions that may match an event on `topic`, in dispatch order.
    fn candidates(&self, topic: &str) -> Candidates {
        let exact = self.exact.get(topic);
        let any_containing = self
            .containing
            .iter()
            .any(|(needle, _)| topic.contains(needle.as_str()));
        if !any_containing && self.unconstrained.is_empty() {
            return match exact {
                Some(bucket) => Candidates::Bucket(bucket.clone()),
                None => Candidates::Merged(Vec::new()),
            };
        }
        let mut found: Vec<Arc<Subscription>> = Vec::new();
        if let Some(subs) = exact {
            found.extend(subs.iter().cloned());
        }
        for (needle, sub) in &self.containing {
            if topic.contains(needle.as_str()) {
                found.push(sub.clone());
            }
        }
        found.extend(self.unconstrained.iter().cloned());
        found.sort_by_key(|s| dispatch_order(s));
        found.dedup_by_key(|s| s.seq);
        Candidates::Merged(found)
    }
}

/// Ascending priority, then subscription order.
fn dispatch_order(subscription: &Subscription) -> (i64, u64) {
    (subscription.priority, subscription.seq)
}

/// The subscriptions one publish considers, in dispatch order.
enum Candidates {
    /// An exact-topic bucket as it was when the publish began.
    Bucket(Arc<Vec<Arc<Subscription>>>),
    /// Several kinds merged and sorted.
    Merged(Vec<Arc<Subscription>>),
}

impl std::ops::Deref for Candidates {
    type Target = [Arc<Subscription>];

    fn deref(&self) -> &Self::Target {
        match self {
            Candidates::Bucket(bucket) => bucket,
            Candidates::Merged(found) => found,
        }
    }
}

/// Who publishes: filled into `source` where an event leaves it out.
#[derive(Debug, Clone)]
pub struct HubIdentity {
    pub id: String,
    pub username: String,
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

/// Replies still expected for one asynchronously published event.
struct PendingReplies {
    callback: ReplyCallback,
    /// None while the event itself waits for dispatch; then how many replies are queued.
    outstanding: Option<usize>,
}

#[derive(Default)]
struct AsyncQueue {
    events: Mutex<VecDeque<Event>>,
    ready: Condvar,
    replies: Mutex<HashMap<String, PendingReplies>>,
    /// One drainer at a time, so an event's replies are handled after the event itself.
    draining: Mutex<()>,
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
    observers: Mutex<Vec<EventObserver>>,
    /// Whether `observers` may hold any: checked without the lock on every publish, since
    /// nobody watches almost always.
    observed: AtomicBool,
}

impl EventHub {
    pub fn new(identity: HubIdentity) -> Self {
        let mut hub = EventHub {
            identity,
            default_source: Source::default(),
            index: RwLock::new(SubscriptionIndex::default()),
            next_seq: AtomicU64::new(0),
            queue: AsyncQueue::default(),
            observers: Mutex::default(),
            observed: AtomicBool::new(false),
        };
        let mut source = Map::new();
        hub.fill_source(&mut source);
        hub.default_source = source.into();
        hub
    }

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
        index.insert(Arc::new(Subscription {
            seq: self.next_seq.fetch_add(1, Ordering::Relaxed),
            id: id.clone(),
            test: expression.after_topic(),
            expression,
            metadata,
            priority: options.priority,
            handler,
            plugin: options.plugin,
        }));
        Ok(id)
    }

    pub fn unsubscribe(&self, id: &str) -> Result<(), UnknownSubscriber> {
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        index
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| UnknownSubscriber(id.to_string()))
    }

    /// Removes every subscription of `plugin`; returns how many there were.
    pub fn unsubscribe_plugin(&self, plugin: &PluginTag) -> usize {
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        let ids: Vec<String> = index
            .by_id
            .values()
            .filter(|s| s.plugin.as_ref().map(|p| p.id) == Some(plugin.id))
            .map(|s| s.id.clone())
            .collect();
        for id in &ids {
            index.remove(id);
        }
        ids.len()
    }

    /// How many subscriptions `plugin` holds.
    pub fn subscription_count(&self, plugin: &PluginTag) -> usize {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        index
            .by_id
            .values()
            .filter(|s| s.plugin.as_ref().map(|p| p.id) == Some(plugin.id))
            .count()
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
        self.dispatch(event, false)
    }

    /// Publishes asynchronously: queues the event for [`EventHub::drain`] or
    /// [`EventHub::run_queue`]. Each non-null result comes back as an `ftrack.meta.reply` event
    /// that reaches `on_reply`.
    pub fn publish_async(&self, mut event: Event, on_reply: Option<ReplyCallback>) {
        self.prepare(&mut event);
        if let Some(callback) = on_reply {
            self.lock_replies().insert(
                event.id.clone(),
                PendingReplies {
                    callback,
                    outstanding: None,
                },
            );
        }
        self.queue
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(event);
        self.queue.ready.notify_all();
    }

    /// Dispatches queued asynchronous events, and the replies they cause, until none is left.
    pub fn drain(&self) {
        let _one_drainer = self
            .queue
            .draining
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        while let Some(event) = self.pop_queued() {
            self.dispatch_queued(event);
        }
    }

    /// Dispatches queued events as they come until `stop` returns true (checked whenever the
    /// queue is empty, and at least every 200 ms).
    pub fn run_queue(&self, stop: &dyn Fn() -> bool) {
        loop {
            self.drain();
            if stop() {
                return;
            }
            let events = self.queue.events.lock().unwrap_or_else(|e| e.into_inner());
            if events.is_empty() {
                let _ = self
                    .queue
                    .ready
                    .wait_timeout(events, std::time::Duration::from_millis(200));
            }
        }
    }

    /// Wakes a [`EventHub::run_queue`] loop so that it checks its stop condition.
    pub fn wake(&self) {
        self.queue.ready.notify_all();
    }

    fn pop_queued(&self) -> Option<Event> {
        self.queue
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }

    fn lock_replies(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingReplies>> {
        self.queue.replies.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn dispatch_queued(&self, mut event: Event) {
        if event.topic == REPLY_TOPIC {
            if let Some(original) = event.in_reply_to_event.clone() {
                let callback = {
                    let mut replies = self.lock_replies();
                    let callback = replies.get(&original).map(|p| p.callback.clone());
                    if let Some(pending) = replies.get_mut(&original) {
                        if let Some(n) = pending.outstanding.as_mut() {
                            *n = n.saturating_sub(1);
                            if *n == 0 {
                                replies.remove(&original);
                            }
                        }
                    }
                    callback
                };
                if let Some(callback) = callback {
                    callback(&event);
                }
            }
        }
        let replies_sent = self.dispatch(&mut event, true).len();
        let mut replies = self.lock_replies();
        if let Some(pending) = replies.get_mut(&event.id) {
            if replies_sent == 0 {
                replies.remove(&event.id);
            } else {
                pending.outstanding = Some(replies_sent);
            }
        }
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
        let mut forms = EventForms::default();
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
            match sub.handler.handle_in_dispatch(event, &mut forms) {
                Ok(value) => {
                    if reply {
                        if !value.is_null() {
                            self.publish_async(
                                reply_to(event, &sub.metadata, value.to_json()),
                                None,
                            );
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

    #[cfg(test)]
    fn candidate_count(&self, topic: &str) -> usize {
        self.index.read().unwrap().candidates(topic).len()
    }
}

/// The reply a subscriber sends for `event`, as ftrack's `publish_reply` builds it.
fn reply_to(event: &Event, subscriber: &Map<String, Value>, data: Value) -> Event {
    let mut reply = Event::new(REPLY_TOPIC).with_data(data);
    if let Some(source_id) = event.source.get("id").and_then(Value::as_str) {
        reply.target = Expression::equals("id", source_id).to_string();
    }
    reply.in_reply_to_event = Some(event.id.clone());
    reply.source = subscriber.clone().into();
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hub() -> EventHub {
        EventHub::new(HubIdentity {
            id: "hub".into(),
            username: "alice".into(),
            hostname: "box".into(),
        })
    }

    fn answer(value: Value) -> Arc<dyn Handler> {
        Arc::new(move |_: &mut Event| Ok(value.clone()))
    }

    fn with_priority(priority: i64) -> SubscribeOptions {
        SubscribeOptions {
            priority,
            ..Default::default()
        }
    }

    #[test]
    fn priority_then_subscription_order_and_null_results_kept() {
        let hub = hub();
        hub.subscribe("topic=t", answer(json!("late")), with_priority(200))
            .unwrap();
        hub.subscribe("topic=t", answer(json!("first")), with_priority(10))
            .unwrap();
        hub.subscribe("topic=t", answer(Value::Null), with_priority(100))
            .unwrap();
        hub.subscribe("topic=t", answer(json!("second")), with_priority(100))
            .unwrap();
        hub.subscribe("topic=other", answer(json!("no")), with_priority(1))
            .unwrap();
        let results = hub.publish(&mut Event::new("t"));
        assert_eq!(
            results,
            vec![json!("first"), Value::Null, json!("second"), json!("late")]
        );
    }

    #[test]
    fn stop_ends_dispatch_even_after_failure() {
        let hub = hub();
        hub.subscribe(
            "topic=t",
            Arc::new(|e: &mut Event| {
                e.stop();
                Err(HandlerError("boom".into()))
            }),
            with_priority(1),
        )
        .unwrap();
        hub.subscribe("topic=t", answer(json!(2)), with_priority(2))
            .unwrap();
        assert!(hub.publish(&mut Event::new("t")).is_empty());
    }

    #[test]
    fn failing_handler_is_left_out_and_dispatch_goes_on() {
        let hub = hub();
        hub.subscribe(
            "topic=t",
            Arc::new(|_: &mut Event| Err(HandlerError("boom".into()))),
            with_priority(1),
        )
        .unwrap();
        hub.subscribe("topic=t", answer(json!(2)), with_priority(2))
            .unwrap();
        assert_eq!(hub.publish(&mut Event::new("t")), vec![json!(2)]);
    }

    #[test]
    fn data_changes_reach_later_handlers_and_publisher() {
        let hub = hub();
        hub.subscribe(
            "topic=t",
            Arc::new(|e: &mut Event| {
                e.data["n"] = json!(1);
                Ok(Value::Null)
            }),
            with_priority(1),
        )
        .unwrap();
        hub.subscribe(
            "topic=t",
            Arc::new(|e: &mut Event| Ok(e.data["n"].clone())),
            with_priority(2),
        )
        .unwrap();
        let mut event = Event::new("t");
        assert_eq!(hub.publish(&mut event), vec![Value::Null, json!(1)]);
        assert_eq!(event.data, json!({"n": 1}));
    }

    #[test]
    fn source_filled_only_where_missing() {
        let hub = hub();
        let mut event = Event::new("t");
        event
            .source
            .insert("user".into(), json!({"username": "bob"}));
        hub.publish(&mut event);
        assert_eq!(
            Value::Object(event.source.into_map()),
            json!({"user": {"username": "bob"}, "id": "hub", "host": "box"})
        );
    }

    #[test]
    fn target_matches_subscriber_metadata() {
        let hub = hub();
        let mut meta = Map::new();
        meta.insert("id".into(), json!("one"));
        meta.insert("applicationId".into(), json!("maya"));
        hub.subscribe(
            "topic=t",
            answer(json!("maya")),
            SubscribeOptions {
                subscriber: meta,
                ..Default::default()
            },
        )
        .unwrap();
        hub.subscribe("topic=t", answer(json!("any")), Default::default())
            .unwrap();
        let mut event = Event::new("t");
        event.target = "applicationId=maya".into();
        assert_eq!(hub.publish(&mut event), vec![json!("maya")]);
        let mut bad = Event::new("t");
        bad.target = "applicationId=".into();
        assert!(hub.publish(&mut bad).is_empty());
    }

    #[test]
    fn duplicate_and_unknown_subscribers_are_errors() {
        let hub = hub();
        let mut meta = Map::new();
        meta.insert("id".into(), json!("x"));
        let options = SubscribeOptions {
            subscriber: meta,
            ..Default::default()
        };
        hub.subscribe("topic=t", answer(json!(1)), options.clone())
            .unwrap();
        let err = hub
            .subscribe("topic=t", answer(json!(1)), options)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Subscriber with identifier x already exists."
        );
        hub.unsubscribe("x").unwrap();
        assert_eq!(
            hub.unsubscribe("x").unwrap_err().to_string(),
            "missing subscriber with identifier x"
        );
        assert!(hub
            .subscribe("topic=", answer(json!(1)), Default::default())
            .is_err());
    }

    #[test]
    fn reentrant_publish_and_subscribe_during_dispatch() {
        let hub = Arc::new(hub());
        hub.subscribe("topic=inner", answer(json!("inner")), Default::default())
            .unwrap();
        let weak = Arc::downgrade(&hub);
        hub.subscribe(
            "topic=outer",
            Arc::new(move |_: &mut Event| {
                let hub = weak.upgrade().unwrap();
                // Added during the dispatch: must not run in this pass.
                hub.subscribe("topic=outer", answer(json!("new")), with_priority(1000))
                    .unwrap();
                Ok(Value::Array(hub.publish(&mut Event::new("inner"))))
            }),
            Default::default(),
        )
        .unwrap();
        assert_eq!(
            hub.publish(&mut Event::new("outer")),
            vec![json!(["inner"])]
        );
    }

    #[test]
    fn async_publish_sends_replies_to_on_reply() {
        let hub = hub();
        hub.subscribe("topic=t", answer(json!({"a": 1})), with_priority(1))
            .unwrap();
        hub.subscribe("topic=t", answer(Value::Null), with_priority(2))
            .unwrap();
        hub.subscribe("topic=t", answer(json!("b")), with_priority(3))
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let event = Event::new("t");
        let id = event.id.clone();
        hub.publish_async(
            event,
            Some(Arc::new(move |reply: &Event| {
                sink.lock().unwrap().push(reply.clone())
            })),
        );
        hub.drain();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].data, json!({"a": 1}));
        assert_eq!(seen[1].data, json!("b"));
        assert!(seen
            .iter()
            .all(|r| r.in_reply_to_event.as_deref() == Some(&*id)));
        assert!(seen.iter().all(|r| r.target == "id=hub"));
        assert!(
            hub.lock_replies().is_empty(),
            "reply callbacks are released"
        );
    }

    /// A handler that reads the event through a shared form, as Rhai and native handlers do:
    /// answers with the `data` its form was made from and how many forms were made so far.
    struct FormReader(Arc<AtomicU64>);

    struct DataForm(Value);

    impl Handler for FormReader {
        fn handle(&self, _: &mut Event) -> Result<Value, HandlerError> {
            unreachable!("dispatch calls handle_in_dispatch")
        }

        fn handle_in_dispatch(
            &self,
            event: &mut Event,
            forms: &mut EventForms,
        ) -> Result<Reply, HandlerError> {
            let made = &self.0;
            let form = forms.get_or_insert_with(|| {
                made.fetch_add(1, Ordering::Relaxed);
                DataForm(event.data.clone())
            });
            Ok(json!([form.0, made.load(Ordering::Relaxed)]).into())
        }
    }

    #[test]
    fn forms_are_shared_until_a_handler_may_have_changed_the_event() {
        let hub = hub();
        let made = Arc::new(AtomicU64::new(0));
        let reader = || -> Arc<dyn Handler> { Arc::new(FormReader(made.clone())) };
        hub.subscribe("topic=t", reader(), with_priority(1))
            .unwrap();
        hub.subscribe("topic=t", reader(), with_priority(2))
            .unwrap();
        hub.subscribe(
            "topic=t",
            Arc::new(|e: &mut Event| {
                e.data["n"] = json!(2);
                Ok(Value::Null)
            }),
            with_priority(3),
        )
        .unwrap();
        hub.subscribe("topic=t", reader(), with_priority(4))
            .unwrap();
        let mut event = Event::new("t").with_data(json!({"n": 1}));
        assert_eq!(
            hub.publish(&mut event),
            vec![
                json!([{"n": 1}, 1]),
                json!([{"n": 1}, 1]),
                Value::Null,
                json!([{"n": 2}, 2])
            ]
        );
    }

    #[test]
    fn publishing_in_a_loop_stops_at_the_nesting_limit() {
        let hub = Arc::new(hub());
        let weak = Arc::downgrade(&hub);
        let calls = Arc::new(AtomicU64::new(0));
        let counter = calls.clone();
        hub.subscribe(
            "topic=again",
            Arc::new(move |_: &mut Event| {
                counter.fetch_add(1, Ordering::Relaxed);
                let hub = weak.upgrade().unwrap();
                Ok(Value::Array(hub.publish(&mut Event::new("again"))))
            }),
            Default::default(),
        )
        .unwrap();
        hub.publish(&mut Event::new("again"));
        assert_eq!(
            calls.load(Ordering::Relaxed),
            u64::from(MAX_NESTED_DISPATCH)
        );
        // The depth is released: the next publish runs as deep again.
        hub.publish(&mut Event::new("again"));
        assert_eq!(
            calls.load(Ordering::Relaxed),
            2 * u64::from(MAX_NESTED_DISPATCH)
        );
    }

    #[test]
    fn the_rest_of_an_expression_is_still_tested_after_the_topic_lookup() {
        let hub = hub();
        hub.subscribe(
            "topic=t and data.x=1",
            answer(json!("x is 1")),
            Default::default(),
        )
        .unwrap();
        hub.subscribe("topic=t", answer(json!("any t")), Default::default())
            .unwrap();
        hub.subscribe(
            "data.x=1 and topic=u",
            answer(json!("u")),
            Default::default(),
        )
        .unwrap();
        // Values are text: ftrack compares `data.x=1` as a string, so a number 1 never matches.
        let publish =
            |topic: &str, x: &str| hub.publish(&mut Event::new(topic).with_data(json!({"x": x})));
        assert_eq!(publish("t", "1"), vec![json!("x is 1"), json!("any t")]);
        assert_eq!(publish("t", "2"), vec![json!("any t")]);
        assert_eq!(publish("u", "1"), vec![json!("u")]);
        assert!(publish("u", "2").is_empty());
        assert!(publish("tt", "1").is_empty());
    }

    #[test]
    fn index_tests_only_candidates() {
        let hub = hub();
        for i in 0..10_000 {
            hub.subscribe(
                &format!("topic=bench.other.{i} and data.kind=x"),
                answer(Value::Null),
                Default::default(),
            )
            .unwrap();
        }
        hub.subscribe("topic=bench.target", answer(json!(1)), Default::default())
            .unwrap();
        hub.subscribe("topic=bench*", answer(json!(2)), Default::default())
            .unwrap();
        hub.subscribe("data.kind=x", answer(json!(3)), Default::default())
            .unwrap();
        assert_eq!(hub.candidate_count("bench.target"), 3);
        assert_eq!(hub.candidate_count("elsewhere"), 1);
    }

    #[test]
    fn unsubscribe_plugin_removes_all_of_its_subscriptions() {
        let hub = hub();
        let plugin = PluginTag::new("p");
        let options = SubscribeOptions {
            plugin: Some(plugin.clone()),
            ..Default::default()
        };
        hub.subscribe("topic=a", answer(json!(1)), options.clone())
            .unwrap();
        hub.subscribe("topic=b or topic=a", answer(json!(1)), options)
            .unwrap();
        hub.subscribe("topic=a", answer(json!(2)), Default::default())
            .unwrap();
        assert_eq!(hub.subscription_count(&plugin), 2);
        assert_eq!(hub.unsubscribe_plugin(&plugin), 2);
        assert_eq!(hub.publish(&mut Event::new("a")), vec![json!(2)]);
    }
}
