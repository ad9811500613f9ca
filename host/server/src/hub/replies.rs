//! How long each connection takes to answer the events the hub sends it, for `GET /status`.
//!
//! Per connection, the time from the moment its writer task hands a routed event to the
//! websocket (just before the write: the event has left the connection's queue; `ftrack.meta.*`
//! events are not counted) to the moment the server reads an `ftrack.meta.reply` from that
//! same connection whose `inReplyToEvent` names the event (the frame as it arrives, before it
//! is parsed). That is the responder's whole share of a round trip as the server sees it: the
//! write, loopback or network both ways, the client's reading, handling and replying. When a
//! connection answers one event several times (several handlers), the last reply counts, as a
//! publisher waiting for every answer sees it.
//!
//! The cost is kept small and bounded: tracking starts with a connection's first reply (a
//! connection that only listens costs one atomic load per event written), events are known by
//! a 64-bit hash of their id, and at most [`MAX_TRACKED_EVENTS`] events are remembered per
//! connection, the oldest forgotten first (about 32 bytes each: under 1 MiB at the limit).
//! The figures are over the events remembered: the most recent ones.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{json, Value};

/// Events remembered per connection, at most.
pub const MAX_TRACKED_EVENTS: usize = 20_000;

/// One connection's reply times.
pub(crate) struct ReplyTimes {
    /// Set by the connection's first reply: until then nothing is remembered.
    tracking: AtomicBool,
    tracked: Mutex<Tracked>,
    epoch: Instant,
}

#[derive(Default)]
struct Tracked {
    /// By hash of the event id: when it was written (µs since `epoch`), and the time to its
    /// last reply so far (µs; `None` before the first).
    events: HashMap<u64, Sent>,
    /// The hashes in the order written, to forget the oldest.
    order: VecDeque<u64>,
}

#[derive(Clone, Copy)]
struct Sent {
    written: u64,
    last_reply: Option<u32>,
}

impl ReplyTimes {
    pub(crate) fn new() -> ReplyTimes {
        ReplyTimes {
            tracking: AtomicBool::new(false),
            tracked: Mutex::new(Tracked::default()),
            epoch: Instant::now(),
        }
    }

    fn tracked(&self) -> std::sync::MutexGuard<'_, Tracked> {
        self.tracked.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn micros_since_epoch(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }

    /// The event with id hash `event` is being written to the connection now.
    pub(crate) fn written(&self, event: u64) {
        if !self.tracking.load(Ordering::Relaxed) {
            return;
        }
        let now = self.micros_since_epoch(Instant::now());
        let mut tracked = self.tracked();
        let sent = Sent {
            written: now,
            last_reply: None,
        };
        if let Some(known) = tracked.events.get_mut(&event) {
            // The same id sent again: timed from the latest, keeping its place in the order.
            *known = sent;
            return;
        }
        while tracked.order.len() >= MAX_TRACKED_EVENTS {
            if let Some(oldest) = tracked.order.pop_front() {
                tracked.events.remove(&oldest);
            }
        }
        tracked.order.push_back(event);
        tracked.events.insert(event, sent);
    }

    /// The connection's reply to the event with id hash `event` was read at `read`.
    pub(crate) fn replied(&self, event: u64, read: Instant) {
        if !self.tracking.load(Ordering::Relaxed) {
            // The first reply: from now on, what is written is remembered.
            self.tracking.store(true, Ordering::Relaxed);
            return;
        }
        let read = self.micros_since_epoch(read);
        let mut tracked = self.tracked();
        if let Some(sent) = tracked.events.get_mut(&event) {
            let took = read.saturating_sub(sent.written);
            sent.last_reply = Some(u32::try_from(took).unwrap_or(u32::MAX));
        }
    }

    /// `{"count", "p50", "p99", "max"}`: how many remembered events were answered, and the
    /// time to their last reply in microseconds (`null` when none was).
    pub(crate) fn summary(&self) -> Value {
        let mut times: Vec<u32> = self
            .tracked()
            .events
            .values()
            .filter_map(|sent| sent.last_reply)
            .collect();
        if times.is_empty() {
            return json!({"count": 0, "p50": null, "p99": null, "max": null});
        }
        times.sort_unstable();
        let pick = |q: f64| times[((q * times.len() as f64) as usize).min(times.len() - 1)];
        json!({
            "count": times.len(),
            "p50": pick(0.5),
            "p99": pick(0.99),
            "max": times[times.len() - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A reply read `after` now.
    fn later(after: Duration) -> Instant {
        Instant::now() + after
    }

    fn tracking() -> ReplyTimes {
        let times = ReplyTimes::new();
        times.replied(0, Instant::now()); // the first reply turns tracking on
        times
    }

    #[test]
    fn nothing_is_remembered_before_the_first_reply() {
        let times = ReplyTimes::new();
        times.written(1);
        assert!(times.tracked().events.is_empty());
        times.replied(1, Instant::now());
        assert_eq!(times.summary()["count"], 0);
        times.written(2);
        times.replied(2, later(Duration::from_millis(3)));
        assert_eq!(times.summary()["count"], 1);
    }

    #[test]
    fn the_last_reply_counts_and_unknown_events_are_ignored() {
        let times = tracking();
        times.written(7);
        times.replied(7, later(Duration::from_millis(1)));
        times.replied(7, later(Duration::from_millis(20)));
        times.replied(8, later(Duration::from_millis(500)));
        let summary = times.summary();
        assert_eq!(summary["count"], 1);
        let p50 = summary["p50"].as_u64().unwrap();
        assert!((20_000..100_000).contains(&p50), "{summary}");
    }

    #[test]
    fn percentiles_are_over_the_answered_events() {
        let times = tracking();
        for event in 1..=100u64 {
            times.written(event);
            let mut tracked = times.tracked();
            let sent = tracked.events.get_mut(&event).unwrap();
            sent.last_reply = Some(event as u32 * 10);
        }
        times.written(1000); // never answered
        let summary = times.summary();
        assert_eq!(summary["count"], 100);
        assert_eq!(summary["p50"], 510);
        assert_eq!(summary["p99"], 1000);
        assert_eq!(summary["max"], 1000);
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_are_forgotten() {
        let times = tracking();
        for event in 0..(MAX_TRACKED_EVENTS as u64 + 500) {
            times.written(event);
        }
        times.written(MAX_TRACKED_EVENTS as u64); // again: no second place in the order
        let tracked = times.tracked();
        assert_eq!(tracked.events.len(), MAX_TRACKED_EVENTS);
        assert_eq!(tracked.order.len(), MAX_TRACKED_EVENTS);
        assert!(!tracked.events.contains_key(&499));
        assert!(tracked.events.contains_key(&500));
    }
}
