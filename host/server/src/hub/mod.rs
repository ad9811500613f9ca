//! The event hub: ftrack's Socket.IO 0.9 event server, as Connect and `ftrack_api` sessions
//! speak to it.
//!
//! A client shakes hands over HTTP (`GET /socket.io/1/`, authenticated by the `ftrack-user` /
//! `ftrack-api-key` headers or the `api_user` / `api_key` query), gets a session id that
//! carries who it is, and opens the websocket `/socket.io/1/websocket/<sid>` (the Python
//! client sends no credentials there). It then registers subscribers with
//! `ftrack.meta.subscribe` events and publishes events; the server routes each event to every
//! connection that has a subscriber whose subscription matches the event and whose metadata
//! matches the event's `target`, once per connection (the client fans out to its own
//! subscribers), the publisher included (`ftrack-server-protocol.md`, 3.4).
//!
//! Routing uses the host's own hub (`connect_core::EventHub`): each subscriber is a
//! subscription whose handler answers its connection's number, so the subscription index and
//! ftrack's expression semantics are the same as in the host, and routing one event costs
//! what its matching subscribers cost, not what all of them would.
//!
//! A connection's outgoing packets wait in a bounded queue: a client that stops reading fills
//! it and is disconnected, with a log line, instead of slowing anyone else. A packet the
//! server cannot read is logged and skipped; the connection stays.
//!
//! `GET /status` shows, per connection, how long it takes to answer what it is sent: from
//! the event written to it to its `ftrack.meta.reply` read (`replies`).

mod connection;
pub(crate) mod packet;
mod replies;

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use connect_core::{EventHub, HubIdentity, PluginTag, SubscribeError, SubscribeOptions};
use connect_event::Event;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};

pub(crate) use connection::serve;
use replies::ReplyTimes;

/// The hub's own topics (`ftrack.meta.subscribe`, `.reply`, ...): replies to them are not timed.
const META_TOPICS: &str = "ftrack.meta.";

/// How long a handshake's session id waits for its websocket.
const HANDSHAKE_VALIDITY: Duration = Duration::from_secs(60);

/// Handshakes waiting for their websocket, at most.
const MAX_PENDING_HANDSHAKES: usize = 10_000;

/// Packets that may wait for a slow client before it is disconnected.
pub const MAX_QUEUED_PACKETS: usize = 4096;

/// The largest websocket message the hub reads.
pub const MAX_MESSAGE_BYTES: usize = 8 << 20;

/// Subscribers one connection may register.
pub const MAX_SUBSCRIBERS_PER_CONNECTION: usize = 10_000;

/// How often the server sends its heartbeat (the JavaScript client wants one within 15 s,
/// the Python client times out after 60 s of silence).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);

/// The hub: handshakes, connections, and the subscriptions that route events.
pub(crate) struct Hub {
    router: EventHub,
    handshakes: Mutex<HashMap<String, Handshake>>,
    connections: Mutex<HashMap<u64, Connection>>,
    next_connection: AtomicU64,
    routed: AtomicU64,
    started: Instant,
    /// Hashes event ids for the reply times (see `replies`).
    event_ids: RandomState,
}

/// A packet waiting in a connection's queue.
pub(crate) struct Outgoing {
    pub(crate) text: String,
    /// For an event the hub routed (not `ftrack.meta.*`), the hash of its id: the writer
    /// notes when it goes out, to time the connection's reply.
    pub(crate) event: Option<u64>,
}

impl Outgoing {
    /// A packet that is not a routed event.
    pub(crate) fn plain(text: impl Into<String>) -> Outgoing {
        Outgoing {
            text: text.into(),
            event: None,
        }
    }
}

/// A session id handed out, waiting for its websocket.
struct Handshake {
    user: String,
    expires: Instant,
}

/// What the hub keeps of a connection.
struct Connection {
    user: String,
    outgoing: mpsc::Sender<Outgoing>,
    close: Arc<Notify>,
    replies: Arc<ReplyTimes>,
    tag: PluginTag,
    /// The client's subscriber ids: the only ones it may replace or remove.
    subscribers: HashSet<String>,
}

impl Hub {
    pub(crate) fn new() -> Hub {
        Hub {
            router: EventHub::new(HubIdentity {
                id: "ftrack-connect-server".into(),
                username: String::new(),
                hostname: String::new(),
            }),
            handshakes: Mutex::new(HashMap::new()),
            connections: Mutex::new(HashMap::new()),
            next_connection: AtomicU64::new(1),
            routed: AtomicU64::new(0),
            started: Instant::now(),
            event_ids: RandomState::new(),
        }
    }

    fn connections(&self) -> MutexGuard<'_, HashMap<u64, Connection>> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new session id for `user` (already authenticated), or `None` when too many wait.
    pub(crate) fn handshake(&self, user: &str) -> Option<String> {
        let mut handshakes = self.handshakes.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        handshakes.retain(|_, h| h.expires > now);
        if handshakes.len() >= MAX_PENDING_HANDSHAKES {
            return None;
        }
        let sid = uuid::Uuid::new_v4().simple().to_string();
        handshakes.insert(
            sid.clone(),
            Handshake {
                user: user.to_string(),
                expires: now + HANDSHAKE_VALIDITY,
            },
        );
        Some(sid)
    }

    /// The user of session id `sid`, which is used up.
    pub(crate) fn take_handshake(&self, sid: &str) -> Option<String> {
        let mut handshakes = self.handshakes.lock().unwrap_or_else(|e| e.into_inner());
        handshakes
            .remove(sid)
            .filter(|h| h.expires > Instant::now())
            .map(|h| h.user)
    }

    /// The hash an event id is known by in the reply times.
    fn event_hash(&self, id: &str) -> u64 {
        self.event_ids.hash_one(id)
    }

    /// Registers a connection of `user`; its number.
    fn register(
        &self,
        user: &str,
        outgoing: mpsc::Sender<Outgoing>,
        close: Arc<Notify>,
        replies: Arc<ReplyTimes>,
    ) -> u64 {
        let id = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let connection = Connection {
            user: user.to_string(),
            outgoing,
            close,
            replies,
            tag: PluginTag::new(&format!("connection-{id}")),
            subscribers: HashSet::new(),
        };
        self.connections().insert(id, connection);
        tracing::info!("hub: {user} connected (connection {id})");
        id
    }

    /// Forgets connection `id` and its subscribers.
    fn unregister(&self, id: u64, why: &str) {
        let Some(connection) = self.connections().remove(&id) else {
            return;
        };
        self.router.unsubscribe_plugin(&connection.tag);
        connection.close.notify_one();
        tracing::info!(
            "hub: {} disconnected (connection {id}): {why}",
            connection.user
        );
    }

    /// Registers (or, for an id it already has, replaces) a subscriber of connection `id`.
    fn subscribe(&self, id: u64, data: &Value) -> Result<(), String> {
        let metadata = data
            .get("subscriber")
            .and_then(Value::as_object)
            .ok_or("data.subscriber is missing")?;
        let subscriber = metadata
            .get("id")
            .and_then(Value::as_str)
            .ok_or("data.subscriber.id is missing")?
            .to_string();
        let subscription = data
            .get("subscription")
            .and_then(Value::as_str)
            .ok_or("data.subscription is missing")?;
        let mut connections = self.connections();
        let connection = connections.get_mut(&id).ok_or("the connection is closed")?;
        if connection.subscribers.contains(&subscriber) {
            // The Python client subscribes its subscribers again as it connects.
            let _ = self.router.unsubscribe(&subscriber);
            connection.subscribers.remove(&subscriber);
        } else if connection.subscribers.len() >= MAX_SUBSCRIBERS_PER_CONNECTION {
            return Err(format!(
                "a connection may have {MAX_SUBSCRIBERS_PER_CONNECTION} subscribers"
            ));
        }
        let options = SubscribeOptions {
            subscriber: metadata.clone(),
            plugin: Some(connection.tag.clone()),
            ..Default::default()
        };
        let handler = Arc::new(move |_: &mut Event| Ok(Value::from(id)));
        let user = connection.user.clone();
        match self
            .router
            .subscribe(subscription, handler.clone(), options.clone())
        {
            Ok(_) => {}
            Err(SubscribeError::DuplicateSubscriber(_)) => {
                // Another connection holds the id. The same user's: that client coming back
                // on a new connection while the server still keeps its old, half-open one
                // (a laptop that slept): the new connection takes the subscriber over.
                // Another user's: refused.
                let holder = connections
                    .iter_mut()
                    .find(|(other, c)| **other != id && c.subscribers.contains(&subscriber));
                match holder {
                    Some((_, old)) if old.user == user => {
                        old.subscribers.remove(&subscriber);
                        let _ = self.router.unsubscribe(&subscriber);
                    }
                    _ => {
                        return Err(format!(
                            "subscriber id {subscriber} is used by another connection"
                        ))
                    }
                }
                self.router
                    .subscribe(subscription, handler, options)
                    .map_err(|err| err.to_string())?;
            }
            Err(err) => return Err(err.to_string()),
        }
        if let Some(connection) = connections.get_mut(&id) {
            connection.subscribers.insert(subscriber);
        }
        Ok(())
    }

    /// Removes a subscriber of connection `id`.
    fn unsubscribe(&self, id: u64, data: &Value) -> Result<(), String> {
        let subscriber = data
            .pointer("/subscriber/id")
            .and_then(Value::as_str)
            .ok_or("data.subscriber.id is missing")?;
        let mut connections = self.connections();
        let connection = connections.get_mut(&id).ok_or("the connection is closed")?;
        if connection.subscribers.remove(subscriber) {
            let _ = self.router.unsubscribe(subscriber);
        }
        Ok(())
    }

    /// Sends `event` to every connection one of whose subscribers wants it, once each.
    fn route(&self, event: &Event) {
        self.routed.fetch_add(1, Ordering::Relaxed);
        // The router fills in a missing source; what is sent is the event as published.
        let mut probe = event.clone();
        let recipients = self.router.publish(&mut probe);
        if recipients.is_empty() {
            return;
        }
        let text = match serde_json::to_string(event) {
            Ok(json) => packet::event(&json),
            Err(err) => {
                tracing::warn!("hub: event {} cannot be sent: {err}", event.id);
                return;
            }
        };
        // Replies are timed for events, not for the hub's own traffic.
        let timed = (!event.topic.starts_with(META_TOPICS)).then(|| self.event_hash(&event.id));
        let mut seen = HashSet::new();
        for recipient in recipients.iter().filter_map(Value::as_u64) {
            if seen.insert(recipient) {
                self.send(
                    recipient,
                    Outgoing {
                        text: text.clone(),
                        event: timed,
                    },
                );
            }
        }
    }

    /// Queues `packet` for connection `id`; disconnects it if its queue is full.
    fn send(&self, id: u64, packet: Outgoing) {
        let full = {
            let connections = self.connections();
            let Some(connection) = connections.get(&id) else {
                return;
            };
            matches!(
                connection.outgoing.try_send(packet),
                Err(mpsc::error::TrySendError::Full(_))
            )
        };
        if full {
            tracing::warn!(
                "hub: connection {id} has {MAX_QUEUED_PACKETS} packets waiting (it stopped \
                 reading?): disconnected"
            );
            self.unregister(id, "its queue was full");
        }
    }

    /// What `GET /status` shows. Per connection, `reply_micros`: how long it took to answer
    /// the events it was sent (see `replies`).
    pub(crate) fn status(&self) -> Value {
        let (mut queues, reply_times, subscribers) = {
            let connections = self.connections();
            let mut queues = Vec::with_capacity(connections.len());
            let mut reply_times = Vec::with_capacity(connections.len());
            for (id, c) in connections.iter() {
                queues.push(json!({
                    "connection": id,
                    "user": c.user,
                    "subscribers": c.subscribers.len(),
                    "queued": MAX_QUEUED_PACKETS - c.outgoing.capacity(),
                }));
                reply_times.push(c.replies.clone());
            }
            let subscribers = connections
                .values()
                .map(|c| c.subscribers.len())
                .sum::<usize>();
            (queues, reply_times, subscribers)
        };
        // Summed up outside the hub's lock: routing does not wait for the sorting.
        for (queue, replies) in queues.iter_mut().zip(reply_times) {
            queue["reply_micros"] = replies.summary();
        }
        let routed = self.routed.load(Ordering::Relaxed);
        let seconds = self.started.elapsed().as_secs_f64().max(1.0);
        json!({
            "connections": queues.len(),
            "subscribers": subscribers,
            "events_routed": routed,
            "events_per_second_since_start": routed as f64 / seconds,
            "uptime_seconds": self.started.elapsed().as_secs(),
            "queues": queues,
        })
    }
}
