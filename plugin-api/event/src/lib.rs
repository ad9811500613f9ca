//! `connect-event`: ftrack's event in its wire form, and the names and payloads of the topics
//! the host and its plugins exchange.
//!
//! Everything here crosses between the host and its plugins (native plugins as JSON text,
//! Rhai hooks as script values) and between the host and an ftrack server, so it is kept apart
//! from both: no I/O, no host logic, no ABI. The host's core, the native plugin SDK and later
//! the server and client crates all depend on it, and a change to any of those never touches
//! it.
//!
//! - [`Event`] and its [`Source`]: ftrack's event, field for field;
//! - [`topics`]: the topic names ftrack's clients publish and answer;
//! - [`payloads`]: serde types for the `data` of those topics (action items, selections,
//!   launch replies, application-launch data);
//! - [`pipeline`]: what a pipeline plugin of ftrack's pipeline framework answers, for the
//!   host's plugins, Rhai's and native ones alike.
//!
//! ```
//! use connect_event::{topics, Event};
//! use serde_json::json;
//!
//! let event = Event::new(topics::ACTION_DISCOVER)
//!     .with_data(json!({"selection": [{"entityType": "task", "entityId": "1"}]}));
//! let text = serde_json::to_string(&event).unwrap();
//! let back: Event = serde_json::from_str(&text).unwrap();
//! assert_eq!(back.topic, "ftrack.action.discover");
//! ```
#![deny(missing_docs)]

pub mod payloads;
pub mod pipeline;
pub mod topics;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// One event, as ftrack's event hub defines it.
///
/// The JSON form matches ftrack's wire form field for field (`inReplyToEvent` included), so
/// events can be read from and written to anything that speaks ftrack's protocol. Missing
/// fields take ftrack's defaults: a fresh uuid4 hex `id`, empty `data` and `source`, an empty
/// `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id of this event instance: uuid4 as 32 hex digits.
    #[serde(default = "new_event_id")]
    pub id: String,
    /// Dotted topic such as `ftrack.action.discover`.
    pub topic: String,
    /// Topic-specific payload, usually an object. Handlers may change it; later handlers and
    /// the publisher see the change.
    #[serde(default = "empty_object")]
    pub data: Value,
    /// Where the event came from: `id`, `user.username` and `host` are filled by the hub
    /// when missing.
    #[serde(default)]
    pub source: Source,
    /// A subscription expression matched against subscriber metadata; empty means everyone.
    #[serde(default)]
    pub target: String,
    /// For a reply (`ftrack.meta.reply`): the id of the event it answers.
    #[serde(
        rename = "inReplyToEvent",
        alias = "in_reply_to_event",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub in_reply_to_event: Option<String>,
    /// Send time, as the sender chose to write it; the hub does not interpret it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<Value>,
    /// Set by [`Event::stop`]; not part of the wire form, as in ftrack.
    #[serde(skip)]
    stopped: bool,
}

impl Event {
    /// A new event on `topic` with empty data, a fresh id and nothing else set.
    pub fn new(topic: impl Into<String>) -> Self {
        Event {
            id: new_event_id(),
            topic: topic.into(),
            data: empty_object(),
            source: Source::default(),
            target: String::new(),
            in_reply_to_event: None,
            sent: None,
            stopped: false,
        }
    }

    /// The same event with `data` replaced.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }

    /// Stops dispatch of this event after the current handler.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Whether a handler called [`Event::stop`].
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }
}

/// An event's `source`: a JSON object, shared by copies of it until one of them changes it.
///
/// The hub gives every event published without a source its own (the hub's id, user and
/// host): copying that map, a dozen allocations, was a quarter of the cost of a publish.
/// Sharing makes it one reference count. Read it as the map it derefs to; changing it
/// (through `DerefMut`) copies it first if it is shared.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Source(Arc<Map<String, Value>>);

impl Source {
    /// The map, without a copy unless it is shared.
    pub fn into_map(self) -> Map<String, Value> {
        Arc::unwrap_or_clone(self.0)
    }
}

impl Deref for Source {
    type Target = Map<String, Value>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Source {
    fn deref_mut(&mut self) -> &mut Self::Target {
        Arc::make_mut(&mut self.0)
    }
}

impl From<Map<String, Value>> for Source {
    fn from(map: Map<String, Value>) -> Self {
        Source(Arc::new(map))
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Map::deserialize(deserializer).map(Source::from)
    }
}

/// A fresh event or subscriber id: uuid4 as 32 lower-case hex digits, as ftrack writes them.
///
/// Every published event gets one, so it must be cheap: reading the OS generator for each
/// (what `Uuid::new_v4` does) was a third of the cost of a whole publish. Ids need to be
/// unique, not secret, so each thread seeds a generator once from the OS and then draws from
/// it: SplitMix64 over a counter, which never repeats a value within one thread's 2^64 draws,
/// started at a random point per thread and per half so threads do not collide either.
pub fn new_event_id() -> String {
    use std::cell::Cell;
    thread_local! {
        static COUNTERS: Cell<(u64, u64)> = Cell::new({
            let seed = uuid::Uuid::new_v4().as_u64_pair();
            (seed.0, seed.1)
        });
    }
    let (high, low) = COUNTERS.with(|counters| {
        let (a, b) = counters.get();
        let next = (a.wrapping_add(GOLDEN_GAMMA), b.wrapping_add(GOLDEN_GAMMA));
        counters.set(next);
        (split_mix(next.0), split_mix(next.1))
    });
    let bytes = ((u128::from(high) << 64) | u128::from(low)).to_be_bytes();
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    let mut text = String::with_capacity(32);
    text.push_str(id.simple().encode_lower(&mut uuid::Uuid::encode_buffer()));
    text
}

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function: a bijection, so distinct counters give distinct values.
fn split_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_uses_ftrack_names_and_defaults() {
        let event: Event =
            serde_json::from_str(r#"{"topic": "t", "inReplyToEvent": "abc"}"#).unwrap();
        assert_eq!(event.id.len(), 32);
        assert!(event.id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(event.data, serde_json::json!({}));
        assert_eq!(event.in_reply_to_event.as_deref(), Some("abc"));
        let text = serde_json::to_string(&event).unwrap();
        assert!(text.contains(r#""inReplyToEvent":"abc""#), "{text}");
    }

    #[test]
    fn ids_are_uuid4_hex_and_distinct() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| new_event_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            let parsed = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(parsed.get_version_num(), 4);
            assert_eq!(id, &parsed.simple().to_string());
        }
    }

    #[test]
    fn a_shared_source_is_copied_when_one_copy_changes() {
        let mut first = Event::new("t");
        first.source.insert("id".into(), serde_json::json!("a"));
        let mut second = first.clone();
        second.source.insert("id".into(), serde_json::json!("b"));
        assert_eq!(first.source["id"], "a");
        assert_eq!(second.source["id"], "b");
        let text = serde_json::to_string(&second).unwrap();
        assert!(text.contains(r#""source":{"id":"b"}"#), "{text}");
        let back: Event = serde_json::from_str(&text).unwrap();
        assert_eq!(back.source.clone().into_map(), *second.source);
    }

    #[test]
    fn stop_is_not_serialized() {
        let mut event = Event::new("t");
        event.stop();
        assert!(event.is_stopped());
        let back: Event = serde_json::from_str(&serde_json::to_string(&event).unwrap()).unwrap();
        assert!(!back.is_stopped());
    }
}
