//! Asynchronous publishing: the queue of published events, and the replies they still expect.
//!
//! ftrack's default publish is asynchronous: the event is queued and handled after the current
//! one, and each non-null result comes back to the publisher as an `ftrack.meta.reply` event.
//! One drainer at a time takes events off the queue, so an event's replies are handled after
//! the event itself.

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use std::collections::HashSet;

use connect_event::{topics, Event};

use super::chain::{InLineage, Lineage, Origin, MAX_ASYNC_GENERATIONS, MAX_QUEUED_EVENTS};
use super::uplink::REMOTE_REPLY_WINDOW;
use super::{EventHub, ReplyCallback};

/// Replies still expected for one asynchronously published event.
pub(super) struct PendingReplies {
    callback: ReplyCallback,
    /// None while the event itself waits for dispatch; then how many replies are queued.
    outstanding: Option<usize>,
    /// For an event sent to the server, when to stop waiting: its replies come from other
    /// clients, and nobody can say how many.
    until: Option<Instant>,
}

impl PendingReplies {
    /// Whether these replies are expected from the server's other clients.
    pub(super) fn waits_on_server(&self) -> bool {
        self.until.is_some()
    }
}

#[derive(Default)]
pub(super) struct AsyncQueue {
    pub(super) events: Mutex<VecDeque<(Event, Lineage)>>,
    pub(super) ready: Condvar,
    pub(super) replies: Mutex<HashMap<String, PendingReplies>>,
    /// One drainer at a time, so an event's replies are handled after the event itself.
    pub(super) draining: Mutex<()>,
    /// The chains a dropped event was reported for (each is reported once); forgotten when
    /// the queue runs empty.
    pub(super) reported: Mutex<HashSet<u64>>,
    /// The callbacks waiting on the server, in the order they expire (with `replies` locked):
    /// each is forgotten once, oldest first, when its window has passed.
    pub(super) expiring: Mutex<VecDeque<(String, Instant)>>,
}

impl EventHub {
    /// Publishes asynchronously: queues the event for [`EventHub::drain`] or
    /// [`EventHub::run_queue`]. Each non-null result comes back as an `ftrack.meta.reply` event
    /// that reaches `on_reply`.
    ///
    /// Returns false when the event was dropped instead: published from a handler more than
    /// [`MAX_ASYNC_GENERATIONS`] asynchronous publishes down its chain, or while
    /// [`MAX_QUEUED_EVENTS`] wait (see the `chain` module). That is logged once per chain,
    /// naming the plugin whose handler published.
    pub fn publish_async(&self, event: Event, on_reply: Option<ReplyCallback>) -> bool {
        self.publish_async_waiting(event, on_reply, REMOTE_REPLY_WINDOW)
    }

    /// As [`EventHub::publish_async`], `on_reply` waiting `window` for replies that come
    /// through the server (two minutes for `publish_async`): for an event whose answer may
    /// take longer, such as a pipeline run.
    pub fn publish_async_waiting(
        &self,
        mut event: Event,
        on_reply: Option<ReplyCallback>,
        window: Duration,
    ) -> bool {
        self.prepare(&mut event);
        let origin = Origin::of_publish();
        let mut events = self.queue.events.lock().unwrap_or_else(|e| e.into_inner());
        let refusal = if origin.lineage.generation > MAX_ASYNC_GENERATIONS {
            Some(format!(
                "it is {MAX_ASYNC_GENERATIONS} asynchronous publishes from handlers down its \
                 chain (events that lead back to the handlers that publish them?)"
            ))
        } else if events.len() >= MAX_QUEUED_EVENTS {
            Some(format!(
                "{MAX_QUEUED_EVENTS} events already wait to be dispatched"
            ))
        } else {
            None
        };
        if let Some(reason) = refusal {
            drop(events);
            self.report_dropped(&event, &origin, &reason);
            return false;
        }
        if let Some(uplink) = self.uplink.current() {
            // The callback waits before the event leaves: a reply may come back at once.
            if let Some(callback) = &on_reply {
                let now = Instant::now();
                let until = now + window;
                let mut replies = self.lock_replies();
                let mut expiring = self
                    .queue
                    .expiring
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                while let Some((id, at)) = expiring.front() {
                    if *at > now {
                        break;
                    }
                    // Unless it was replaced since (an event published again, or sent here).
                    if replies.get(id).is_some_and(|p| p.until == Some(*at)) {
                        replies.remove(id);
                    }
                    expiring.pop_front();
                }
                // In the order they expire (windows differ).
                let place = expiring.partition_point(|(_, at)| *at <= until);
                expiring.insert(place, (event.id.clone(), until));
                replies.insert(
                    event.id.clone(),
                    PendingReplies {
                        callback: callback.clone(),
                        outstanding: None,
                        until: Some(until),
                    },
                );
            }
            self.uplink
                .sending(&event, origin.lineage, &self.identity.id);
            if uplink.forward(&event) {
                drop(events);
                return true;
            }
            // Not sent: dispatched here, with its callback waiting as for any local event.
            self.uplink.not_sent(&event.id);
        }
        if let Some(callback) = on_reply {
            self.lock_replies().insert(
                event.id.clone(),
                PendingReplies {
                    callback,
                    outstanding: None,
                    until: None,
                },
            );
        }
        events.push_back((event, origin.lineage));
        drop(events);
        self.queue.ready.notify_all();
        true
    }

    /// Logs a dropped event, once per chain: the rest of a runaway chain is dropped quietly.
    fn report_dropped(&self, event: &Event, origin: &Origin, reason: &str) {
        let mut reported = self
            .queue
            .reported
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !reported.insert(origin.lineage.root) {
            return;
        }
        drop(reported);
        let plugin = match origin.plugin {
            0 => None,
            id => Some(
                self.index
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .plugin_name(id)
                    .unwrap_or_else(|| "(no longer loaded)".into()),
            ),
        };
        let by = match &plugin {
            Some(plugin) => format!("plugin '{plugin}'"),
            None => "the host".to_string(),
        };
        tracing::error!(
            plugin = plugin.as_deref().unwrap_or("host"),
            "{by}: asynchronous event on {:?} dropped, and the rest of its chain with it: {reason}",
            event.topic
        );
    }

    /// Dispatches queued asynchronous events, and the replies they cause, until none is left.
    pub fn drain(&self) {
        let _one_drainer = self
            .queue
            .draining
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.drain_held();
    }

    /// [`EventHub::drain`], with `queue.draining` held by the caller.
    pub(super) fn drain_held(&self) {
        while let Some((event, lineage)) = self.pop_queued() {
            let _chain = InLineage::enter(lineage);
            self.dispatch_queued(event);
        }
        self.queue
            .reported
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
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

    fn pop_queued(&self) -> Option<(Event, Lineage)> {
        self.queue
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }

    pub(super) fn lock_replies(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, PendingReplies>> {
        self.queue.replies.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn dispatch_queued(&self, mut event: Event) {
        if event.topic == topics::META_REPLY {
            if let Some(original) = event.in_reply_to_event.clone() {
                let callback = {
                    let mut replies = self.lock_replies();
                    let callback = replies.get(&original).map(|p| p.callback.clone());
                    if let Some(pending) = replies.get_mut(&original).filter(|p| p.until.is_none())
                    {
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
        if let Some(pending) = replies.get_mut(&event.id).filter(|p| p.until.is_none()) {
            if replies_sent == 0 {
                replies.remove(&event.id);
            } else {
                pending.outstanding = Some(replies_sent);
            }
        }
    }
}
