//! `connect-hub-client`: ftrack's event hub as a Rust client, so the host hears the server's
//! events (`ftrack.action.discover` from the web page) and answers them.
//!
//! ftrack's hub speaks Socket.IO 0.9, which no maintained crate does, so the little of it that
//! ftrack uses is written here: the handshake (`GET /socket.io/1/` with the user's headers,
//! answering `sid:heartbeat:close:transports`), the websocket, `2::` heartbeats answered,
//! events emitted as `5:<n>+::{"name":"ftrack.event","args":[event]}` and acknowledged by the
//! server with `6:::<n>+[{"success":true}]`.
//!
//! A [`HubClient`] runs in a task of its own and reconnects by itself, with a pause that
//! doubles up to [`MAX_RECONNECT_PAUSE`] (with some jitter, so many clients do not come back
//! at once), sending every subscription again on each connection; [`HubClient::state`] says
//! where it stands. Events from the server go to the `on_event` callback given at start,
//! except replies to this client's own publishes, which go to the callback given with the
//! publish (matched by `inReplyToEvent`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use connect_core::ApiKey;
//! use connect_event::Event;
//! use connect_hub_client::{HubClient, HubError};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), HubError> {
//!     let on_event = Arc::new(|event: Event| println!("the server sent {}", event.topic));
//!     let key = ApiKey::new("the user's API key");
//!     let client = HubClient::start("https://studio.ftrackapp.com", "jane", key, on_event);
//!     client.subscribe("topic=ftrack.action.discover", Default::default());
//!     if client.wait_connected(Duration::from_secs(10)).await {
//!         client.publish(Event::new("studio.hello"), None).await?;
//!     }
//!     Ok(())
//! }
//! ```

#![deny(missing_docs)]

mod packet;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connect_core::ApiKey;
use connect_event::{new_event_id, topics, Event};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio_tungstenite::tungstenite::Message;

use packet::Packet;

/// The longest pause between two connection attempts.
pub const MAX_RECONNECT_PAUSE: Duration = Duration::from_secs(30);

/// How long the server may be silent (it sends a heartbeat every few seconds) before the
/// connection is taken for dead.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(30);

/// The largest websocket message the client reads (the local server's own limit).
pub const MAX_MESSAGE_BYTES: usize = 8 << 20;

/// How long a publish waits for the server's acknowledgement.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the client stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubState {
    /// Shaking hands, or waiting to try again.
    Connecting,
    /// Connected: events flow.
    Connected,
    /// The last connection failed or ended: why. A new attempt follows.
    Disconnected(String),
}

impl std::fmt::Display for HubState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HubState::Connecting => f.write_str("connecting"),
            HubState::Connected => f.write_str("connected"),
            HubState::Disconnected(why) => write!(f, "disconnected: {why}"),
        }
    }
}

/// Why a publish was not delivered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HubError {
    /// Not connected now.
    #[error("the event hub is not connected ({0})")]
    NotConnected(String),
    /// The server did not acknowledge in time.
    #[error("the event hub did not acknowledge the event within {} s", ACK_TIMEOUT.as_secs())]
    NoAck,
    /// The server refused it.
    #[error("the event hub refused the event: {0}")]
    Refused(String),
}

/// Called with each event the server sends (replies to this client's publishes excepted).
pub type OnEvent = Arc<dyn Fn(Event) + Send + Sync>;

/// Called with each reply to one publish.
pub type OnReply = Box<dyn Fn(Event) + Send + Sync>;

/// What the connection task is asked to do (subscriptions go through `Shared`).
enum Command {
    Publish(Box<Event>, Option<oneshot::Sender<Result<(), HubError>>>),
}

/// A subscriber: its id, its metadata and its subscription expression.
type Subscriber = (String, Map<String, Value>, String);

/// State the handle and the connection task share.
struct Shared {
    /// The subscribers, sent again on each connection.
    subscribers: Mutex<Vec<Subscriber>>,
    /// Reply callbacks by the id of the event they answer.
    replies: Mutex<HashMap<String, OnReply>>,
    /// Rung when `subscribers` changed: the connection then tells the server the difference
    /// (no queue of changes to overflow; many changes at once are sent as one difference).
    changed: Notify,
}

/// A connection to a server's event hub, kept up in the background.
pub struct HubClient {
    id: String,
    user: String,
    commands: mpsc::Sender<Command>,
    state: watch::Receiver<HubState>,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HubClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HubClient {
    /// Starts connecting to the hub of the server at `server_url` as `user`, on the current
    /// tokio runtime; `on_event` hears the server's events.
    pub fn start(server_url: &str, user: &str, key: ApiKey, on_event: OnEvent) -> HubClient {
        Self::start_as(new_event_id(), server_url, user, key, on_event)
    }

    /// As [`HubClient::start`], with the client's id given: the id of the local hub whose
    /// events this client carries, so that replies targeted at that hub come here.
    pub fn start_as(
        id: String,
        server_url: &str,
        user: &str,
        key: ApiKey,
        on_event: OnEvent,
    ) -> HubClient {
        let (commands, queue) = mpsc::channel(1024);
        let (state_tx, state) = watch::channel(HubState::Connecting);
        let shared = Arc::new(Shared {
            subscribers: Mutex::new(Vec::new()),
            replies: Mutex::new(HashMap::new()),
            changed: Notify::new(),
        });
        // Replies to this client's publishes come as events targeted at its id.
        let reply_subscriber = {
            let mut metadata = Map::new();
            metadata.insert("id".into(), Value::String(id.clone()));
            (
                id.clone(),
                metadata,
                format!("topic={}", topics::META_REPLY),
            )
        };
        lock(&shared.subscribers).push(reply_subscriber);
        let connection = Connection {
            server_url: server_url.trim_end_matches('/').to_string(),
            user: user.to_string(),
            key,
            hub_id: id.clone(),
            shared: shared.clone(),
            on_event,
            state: state_tx,
        };
        let task = tokio::spawn(connection.run(queue));
        HubClient {
            id,
            user: user.to_string(),
            commands,
            state,
            shared,
            task,
        }
    }

    /// This client's id (`source.id` of what it publishes, the `id` replies are targeted at).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the client stands now.
    pub fn state(&self) -> HubState {
        self.state.borrow().clone()
    }

    /// Waits until connected, or `limit` passes; whether it is connected.
    pub async fn wait_connected(&self, limit: Duration) -> bool {
        let mut state = self.state.clone();
        let waited =
            tokio::time::timeout(limit, state.wait_for(|s| *s == HubState::Connected)).await;
        waited.is_ok_and(|r| r.is_ok())
    }

    /// Subscribes `expression` with `metadata` (its `id`, made if missing, is returned); kept
    /// and sent again on every connection. A subscription with the same id is replaced.
    /// Returns at once: the connection tells the server.
    pub fn subscribe(&self, expression: &str, mut metadata: Map<String, Value>) -> String {
        let id = match metadata.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => {
                let id = new_event_id();
                metadata.insert("id".into(), Value::String(id.clone()));
                id
            }
        };
        {
            let mut subscribers = lock(&self.shared.subscribers);
            subscribers.retain(|(sid, _, _)| *sid != id);
            subscribers.push((id.clone(), metadata, expression.to_string()));
        }
        self.shared.changed.notify_one();
        id
    }

    /// Removes a subscription. Returns at once: the connection tells the server.
    pub fn unsubscribe(&self, id: &str) {
        lock(&self.shared.subscribers).retain(|(sid, _, _)| sid != id);
        self.shared.changed.notify_one();
    }

    /// Sends `event` through the server without waiting for anything: `false` when it cannot
    /// go now (not connected, or too many events wait to be sent). For callers outside the
    /// async runtime (the host's hub forwarding its asynchronous events).
    pub fn try_publish(&self, mut event: Event) -> bool {
        if *self.state.borrow() != HubState::Connected {
            return false;
        }
        self.fill_source(&mut event);
        self.commands
            .try_send(Command::Publish(Box::new(event), None))
            .is_ok()
    }

    /// Publishes `event` through the server, which routes it (to this client too, if it
    /// subscribed); `on_reply` hears each reply. Waits for the server's acknowledgement.
    pub async fn publish(
        &self,
        mut event: Event,
        on_reply: Option<OnReply>,
    ) -> Result<(), HubError> {
        self.fill_source(&mut event);
        if let Some(on_reply) = on_reply {
            lock(&self.shared.replies).insert(event.id.clone(), on_reply);
        }
        let (done, acked) = oneshot::channel();
        let state = self.state();
        if self
            .commands
            .send(Command::Publish(Box::new(event), Some(done)))
            .await
            .is_err()
        {
            return Err(HubError::NotConnected(state.to_string()));
        }
        acked
            .await
            .unwrap_or_else(|_| Err(HubError::NotConnected(self.state().to_string())))
    }

    /// Publishes `data` as the reply to `to` (an event this client received).
    pub async fn reply(&self, to: &Event, data: Value) -> Result<(), HubError> {
        let mut reply = Event::new(topics::META_REPLY).with_data(data);
        reply.target = match to.source.get("id").and_then(Value::as_str) {
            Some(id) => format!("id={id}"),
            None => return Ok(()),
        };
        reply.in_reply_to_event = Some(to.id.clone());
        self.publish(reply, None).await
    }

    fn fill_source(&self, event: &mut Event) {
        let source = &mut event.source;
        source
            .entry("id")
            .or_insert_with(|| Value::String(self.id.clone()));
        let user = source
            .entry("user")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(user) = user {
            user.entry("username")
                .or_insert_with(|| Value::String(self.user.clone()));
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The background side: connects, serves one websocket, and starts again.
struct Connection {
    server_url: String,
    user: String,
    key: ApiKey,
    hub_id: String,
    shared: Arc<Shared>,
    on_event: OnEvent,
    state: watch::Sender<HubState>,
}

impl Connection {
    async fn run(self, mut commands: mpsc::Receiver<Command>) {
        let mut pause = Duration::from_millis(500);
        let mut said = None::<String>;
        loop {
            let _ = self.state.send(HubState::Connecting);
            let why = match self.session(&mut commands).await {
                Ok(()) => return, // the handle is gone
                Err(why) => why,
            };
            // Said once per kind of failure, not once per attempt.
            if said.as_deref() != Some(why.as_str()) {
                tracing::warn!("event hub at {}: {why}; reconnecting", self.server_url);
                said = Some(why.clone());
            }
            let _ = self.state.send(HubState::Disconnected(why));
            // Publishes while disconnected fail at once rather than wait.
            let jitter = Duration::from_millis(u64::from(uuid::Uuid::new_v4().as_bytes()[0]) * 2);
            let sleep = tokio::time::sleep(pause + jitter);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    command = commands.recv() => match command {
                        None => return,
                        Some(Command::Publish(event, done)) => {
                            let state = self.state.borrow().to_string();
                            match done {
                                Some(done) => {
                                    let _ = done.send(Err(HubError::NotConnected(state)));
                                }
                                // Taken to send while connected; the connection went first.
                                None => tracing::warn!(
                                    "event hub at {}: event on {:?} not sent: {state}",
                                    self.server_url,
                                    event.topic
                                ),
                            }
                        }
                    },
                }
            }
            pause = (pause * 2).min(MAX_RECONNECT_PAUSE);
        }
    }

    /// One connection: `Ok` when the handle is gone, else why it ended.
    async fn session(&self, commands: &mut mpsc::Receiver<Command>) -> Result<(), String> {
        let sid = self.handshake().await?;
        let ws_url = format!(
            "{}/socket.io/1/websocket/{sid}",
            self.server_url
                .replacen("https://", "wss://", 1)
                .replacen("http://", "ws://", 1)
        );
        // What the server sends is read within bounds, as the server reads its clients.
        // A small read buffer: it is zeroed on every read, and events are small.
        let limits = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES))
            .read_buffer_size(8 * 1024);
        let (socket, _) = tokio_tungstenite::connect_async_with_config(&ws_url, Some(limits), true)
            .await
            .map_err(|e| format!("websocket: {e}"))?;
        let (mut sink, mut stream) = socket.split();
        let mut next_ack = 1u64;
        let mut pending: HashMap<u64, oneshot::Sender<Result<(), HubError>>> = HashMap::new();
        let mut connected = false;
        // What the server was told of the subscribers on this connection, and the
        // acknowledgements still awaited for it (by packet number: the subscriber's id).
        let mut told = HashMap::new();
        let mut awaited = HashMap::new();
        loop {
            tokio::select! {
                // Subscriptions first: a publish made after a subscribe must not reach the
                // server before it (the answer to it would find no subscriber).
                biased;
                _ = self.shared.changed.notified(), if connected => {
                    for packet in self.subscription_changes(&mut told, &mut awaited, &mut next_ack) {
                        sink.feed(Message::Text(packet.into())).await.map_err(|e| e.to_string())?;
                    }
                    sink.flush().await.map_err(|e| e.to_string())?;
                }
                frame = tokio::time::timeout(SILENCE_LIMIT, stream.next()) => {
                    let text = match frame {
                        Err(_) => return Err(format!("no word from the server for {} s", SILENCE_LIMIT.as_secs())),
                        Ok(None) => return Err("the server closed the connection".into()),
                        Ok(Some(Err(e))) => return Err(format!("the connection broke: {e}")),
                        Ok(Some(Ok(Message::Text(text)))) => text.to_string(),
                        Ok(Some(Ok(Message::Close(_)))) => return Err("the server closed the connection".into()),
                        Ok(Some(Ok(_))) => continue,
                    };
                    match packet::parse(&text) {
                        Packet::Connected => {
                            connected = true;
                            let _ = self.state.send(HubState::Connected);
                            tracing::info!("event hub at {}: connected", self.server_url);
                            // All in one write: 200 subscriptions are one system call, not 200.
                            for packet in self.subscription_changes(&mut told, &mut awaited, &mut next_ack) {
                                sink.feed(Message::Text(packet.into())).await.map_err(|e| e.to_string())?;
                            }
                            sink.flush().await.map_err(|e| e.to_string())?;
                        }
                        Packet::Heartbeat => sink.send(Message::Text("2::".into())).await.map_err(|e| e.to_string())?,
                        Packet::Event(event) => self.deliver(*event),
                        Packet::Ack(id, outcome) => {
                            if let Some(done) = pending.remove(&id) {
                                let _ = done.send(outcome.map_err(HubError::Refused));
                            } else if let (Some(subscriber), Err(why)) = (awaited.remove(&id), outcome) {
                                // The server will not route this subscriber's events here.
                                tracing::warn!(
                                    "event hub at {}: subscriber {subscriber} refused: {why}",
                                    self.server_url
                                );
                            }
                        }
                        Packet::Disconnect => return Err("the server disconnected".into()),
                        Packet::Other(what) => tracing::debug!("event hub: skipped {what}"),
                    }
                }
                command = commands.recv(), if connected => match command {
                    None => return Ok(()),
                    Some(Command::Publish(event, done)) => {
                        // Only a publish that waits for it asks for an acknowledgement.
                        let ack = done.is_some().then_some(next_ack);
                        let packet = packet::emit(ack, &event);
                        if let Some(done) = done {
                            pending.insert(next_ack, done);
                            next_ack += 1;
                        }
                        sink.send(Message::Text(packet.into())).await.map_err(|e| e.to_string())?;
                    }
                },
            }
        }
    }

    /// The packets that bring the server in line with `shared.subscribers`, given what it
    /// was `told` on this connection (updated).
    fn subscription_changes(
        &self,
        told: &mut HashMap<String, (Map<String, Value>, String)>,
        awaited: &mut HashMap<u64, String>,
        next_ack: &mut u64,
    ) -> Vec<String> {
        let subscribers = lock(&self.shared.subscribers).clone();
        let mut packets = Vec::new();
        let current: std::collections::HashSet<&str> =
            subscribers.iter().map(|(id, _, _)| id.as_str()).collect();
        let gone: Vec<String> = told
            .keys()
            .filter(|id| !current.contains(id.as_str()))
            .cloned()
            .collect();
        for id in gone {
            told.remove(&id);
            let mut event =
                Event::new(topics::META_UNSUBSCRIBE).with_data(json!({"subscriber": {"id": id}}));
            self.own_source(&mut event);
            packets.push(packet::emit(Some(*next_ack), &event));
            *next_ack += 1;
        }
        for (id, metadata, expression) in subscribers {
            let known = told.get(&id) == Some(&(metadata.clone(), expression.clone()));
            if known {
                continue;
            }
            if told.contains_key(&id) {
                // Changed under the same id: the server keeps the first, so remove it first.
                let mut event = Event::new(topics::META_UNSUBSCRIBE)
                    .with_data(json!({"subscriber": {"id": id}}));
                self.own_source(&mut event);
                packets.push(packet::emit(Some(*next_ack), &event));
                *next_ack += 1;
            }
            packets.push(self.subscribe_packet(*next_ack, &metadata, &expression));
            awaited.insert(*next_ack, id.clone());
            *next_ack += 1;
            told.insert(id, (metadata, expression));
        }
        packets
    }

    /// `GET /socket.io/1/`: the session id.
    async fn handshake(&self) -> Result<String, String> {
        let url = format!("{}/socket.io/1/", self.server_url);
        let response = reqwest::Client::new()
            .get(&url)
            .header("ftrack-user", &self.user)
            .header("ftrack-api-key", self.key.expose())
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "handshake refused ({status}): {}",
                body.chars().take(200).collect::<String>()
            ));
        }
        let parts: Vec<&str> = body.split(':').collect();
        match parts.as_slice() {
            [sid, _, _, transports, ..] if transports.split(',').any(|t| t == "websocket") => {
                Ok(sid.to_string())
            }
            _ => Err(format!(
                "the handshake answer is not Socket.IO 0.9's: {body:?}"
            )),
        }
    }

    fn own_source(&self, event: &mut Event) {
        event.source = json!({"id": self.hub_id, "user": {"username": self.user}})
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into();
    }

    fn subscribe_packet(
        &self,
        ack: u64,
        metadata: &Map<String, Value>,
        expression: &str,
    ) -> String {
        let mut event = Event::new(topics::META_SUBSCRIBE)
            .with_data(json!({"subscriber": metadata, "subscription": expression}));
        self.own_source(&mut event);
        packet::emit(Some(ack), &event)
    }

    /// Hands an event from the server to its reply callback or to `on_event`.
    fn deliver(&self, event: Event) {
        if event.topic == topics::META_REPLY {
            if let Some(answered) = &event.in_reply_to_event {
                let replies = lock(&self.shared.replies);
                if let Some(on_reply) = replies.get(answered) {
                    on_reply(event);
                    return;
                }
                // A reply to an event this client carried for someone else (the local hub
                // it serves): theirs to match.
            }
        }
        (self.on_event)(event);
    }
}
