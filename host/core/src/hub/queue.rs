//! Asynchronous publishing: the queue of published events, and the replies they still expect.
//!
//! ftrack's default publish is asynchronous: the event is queued and handled after the current
//! one, and each non-null result comes back to the publisher as an `ftrack.meta.reply` event.
//! One drainer at a time takes events off the queue, so an event's replies are handled after
//! the event itself.

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex};

use connect_event::{topics, Event};

use super::{EventHub, ReplyCallback};

/// Replies still expected for one asynchronously published event.
pub(super) struct PendingReplies {
    callback: ReplyCallback,
    /// None while the event itself waits for dispatch; then how many replies are queued.
    outstanding: Option<usize>,
}

#[derive(Default)]
pub(super) struct AsyncQueue {
    pub(super) events: Mutex<VecDeque<Event>>,
    pub(super) ready: Condvar,
    pub(super) replies: Mutex<HashMap<String, PendingReplies>>,
    /// One drainer at a time, so an event's replies are handled after the event itself.
    pub(super) draining: Mutex<()>,
}

impl EventHub {
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
}
