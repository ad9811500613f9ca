//! The hub's link to a server's event hub, when the host is signed in.
//!
//! An ftrack client does not dispatch its own asynchronous events: it sends them to the
//! server, which routes each one to every connection with a matching subscription (the
//! publisher's own included), and the client dispatches what comes back. That is how an
//! `ftrack.action.discover` from the web page reaches Connect, and how Connect's replies
//! reach the web page. This hub does the same through an [`Uplink`] when one is set:
//!
//! - every subscription is told to the uplink as it is made and removed, so the server
//!   knows what this host listens to;
//! - an asynchronous publish goes to the uplink when it takes it (it is connected), else it
//!   is dispatched here as without a server; synchronous publishes always stay here;
//! - what the server sends comes in through [`EventHub::receive`] and is queued like a
//!   local asynchronous event: dispatched on the hub's queue thread, its non-null results
//!   sent back as `ftrack.meta.reply` (through the uplink, to whoever published it), and
//!   replies to this hub's own events handed to their callbacks.
//!
//! The bounds on chains of asynchronous publishes (see `chain`) hold across the server: an
//! event sent out keeps its place in its chain, found again by its id when it comes back.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use connect_event::{topics, Event};
use serde_json::{Map, Value};

use super::chain::{Lineage, MAX_QUEUED_EVENTS};
use super::EventHub;
use crate::expression::Expression;

/// Where the hub sends what concerns a server. Called from any thread, sometimes with the
/// hub's own locks held: an implementation must only note what it is told and return (hand
/// it to a connection task), never block or call back into the hub.
pub trait Uplink: Send + Sync {
    /// A subscription was made: its expression (as text) and subscriber metadata (with `id`).
    fn subscribed(&self, expression: &str, subscriber: &Map<String, Value>);

    /// The subscription with subscriber id `id` was removed.
    fn unsubscribed(&self, id: &str);

    /// Sends an asynchronously published event to the server. `false` when it cannot now
    /// (not connected, its queue full): the hub then dispatches the event itself.
    fn forward(&self, event: &Event) -> bool;
}

/// How long an event sent out is remembered, to put it back in its chain when the server
/// sends it here, and to hand replies to its callback.
pub(super) const REMOTE_REPLY_WINDOW: Duration = Duration::from_secs(120);

/// The most events remembered at once; beyond it, the oldest is forgotten (its chain, should
/// it come back, starts afresh).
const MAX_REMEMBERED: usize = 4096;

/// The uplink, and the chains of the events sent through it.
#[derive(Default)]
pub(super) struct UplinkSlot {
    pub(super) uplink: RwLock<Option<Arc<dyn Uplink>>>,
    sent: Mutex<SentEvents>,
}

/// Events sent out, by id, and in the order they went (to forget the oldest first).
#[derive(Default)]
struct SentEvents {
    by_id: HashMap<String, (Lineage, Instant)>,
    order: VecDeque<(String, Instant)>,
}

impl UplinkSlot {
    pub(super) fn current(&self) -> Option<Arc<dyn Uplink>> {
        self.uplink
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Remembers that `event` goes out in `lineage` (before it leaves: the server may send it
    /// back at once). A reply comes back only when it answers this hub (`own_id`): other
    /// replies are not remembered.
    pub(super) fn sending(&self, event: &Event, lineage: Lineage, own_id: &str) {
        if event.topic == topics::META_REPLY && event.target.strip_prefix("id=") != Some(own_id) {
            return;
        }
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        // Forget, oldest first, what is past the window or over the bound: each event is
        // forgotten once, so this costs nothing per event in the long run.
        while let Some((id, at)) = sent.order.front() {
            let stale = now.duration_since(*at) >= REMOTE_REPLY_WINDOW;
            if !stale && sent.order.len() < MAX_REMEMBERED {
                break;
            }
            // An id that came back already, or was sent again since, is not forgotten here.
            if sent.by_id.get(id).is_some_and(|(_, sent_at)| sent_at == at) {
                let id = id.clone();
                sent.by_id.remove(&id);
            }
            sent.order.pop_front();
        }
        sent.by_id.insert(event.id.clone(), (lineage, now));
        sent.order.push_back((event.id.clone(), now));
    }

    /// Forgets `event_id`: it did not go out after all.
    pub(super) fn not_sent(&self, event_id: &str) {
        self.returned(event_id);
    }

    /// How many sent events are remembered.
    #[cfg(test)]
    pub(super) fn remembered(&self) -> usize {
        let sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.by_id.len().max(sent.order.len())
    }

    /// The lineage `event_id` went out in, if this hub sent it.
    fn returned(&self, event_id: &str) -> Option<Lineage> {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.by_id.remove(event_id).map(|(lineage, _)| lineage)
    }
}

impl EventHub {
    /// Links the hub to a server through `uplink`, which is told every current subscription
    /// at once. Replaces any previous uplink.
    pub fn set_uplink(&self, uplink: Arc<dyn Uplink>) {
        *self
            .uplink
            .uplink
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(uplink.clone());
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        for subscription in index.all() {
            uplink.subscribed(&subscription.expression.to_string(), &subscription.metadata);
        }
    }

    /// Whether the hub is linked to a server: its asynchronous publishes go through it.
    pub fn is_linked(&self) -> bool {
        self.uplink.current().is_some()
    }

    /// Unlinks the hub: asynchronous events are dispatched here again.
    pub fn clear_uplink(&self) {
        *self
            .uplink
            .uplink
            .write()
            .unwrap_or_else(|e| e.into_inner()) = None;
        // No reply will come for what went out: its callbacks go.
        let mut replies = self.lock_replies();
        replies.retain(|_, pending| !pending.waits_on_server());
        self.queue
            .expiring
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// An event from the server: queued for dispatch here, in the chain it left in when this
    /// hub sent it. Returns false when the queue is full and the event was dropped (logged).
    pub fn receive(&self, event: Event) -> bool {
        let queued = self.queue_received(event);
        if queued {
            self.queue.ready.notify_all();
        }
        queued
    }

    /// As [`EventHub::receive`], but dispatched now, on this thread, when no other thread is
    /// dispatching queued events (else queued for that one, which keeps the order). Returns
    /// after the handlers ran: for a caller that may block (the server link's reader, which
    /// saves a wake-up of the queue's thread and of its own on each event that way).
    pub fn dispatch_received(&self, event: Event) -> bool {
        let drainer = match self.queue.draining.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return self.receive(event),
        };
        let queued = self.queue_received(event);
        self.drain_held();
        drop(drainer);
        queued
    }

    /// Queues an event from the server, in its chain, without waking anyone.
    fn queue_received(&self, event: Event) -> bool {
        let lineage = self
            .uplink
            .returned(&event.id)
            .unwrap_or_else(Lineage::new_chain);
        let mut events = self.queue.events.lock().unwrap_or_else(|e| e.into_inner());
        if events.len() >= MAX_QUEUED_EVENTS {
            drop(events);
            tracing::warn!(
                "event {} on {:?} from the server dropped: {MAX_QUEUED_EVENTS} events already \
                 wait to be dispatched",
                event.id,
                event.topic
            );
            return false;
        }
        events.push_back((event, lineage));
        true
    }

    pub(super) fn tell_uplink_subscribed(
        &self,
        expression: &Expression,
        metadata: &Map<String, Value>,
    ) {
        if let Some(uplink) = self.uplink.current() {
            uplink.subscribed(&expression.to_string(), metadata);
        }
    }

    pub(super) fn tell_uplink_unsubscribed(&self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        if let Some(uplink) = self.uplink.current() {
            for id in ids {
                uplink.unsubscribed(id);
            }
        }
    }
}
