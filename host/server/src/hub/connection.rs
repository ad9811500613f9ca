//! One client's websocket: packets in, packets out, the heartbeat, and the end.
//!
//! Two halves run side by side: this task reads and handles the client's packets; a writer
//! task sends what the connection's queue holds, and the heartbeat. Routing never waits for
//! a client: it puts packets in the queue, and a full queue disconnects its client.
//!
//! Reply times (`super::replies`): the writer notes a routed event just before it writes it
//! to the socket; this task notes an `ftrack.meta.reply` as its frame arrives.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{Message, WebSocket};
use connect_event::{topics, Event};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, Notify};

use super::packet::{self, Incoming};
use super::replies::ReplyTimes;
use super::{Hub, Outgoing, HEARTBEAT_INTERVAL, MAX_MESSAGE_BYTES, MAX_QUEUED_PACKETS};

/// Malformed packets logged per connection (the rest are counted in the last line).
const MAX_LOGGED_MALFORMED: u32 = 10;

/// Serves the websocket of `user` until it closes or the hub drops it.
pub(crate) async fn serve(hub: Arc<Hub>, socket: WebSocket, user: String) {
    let (mut sink, mut stream) = socket.split();
    let (outgoing, mut queue) = mpsc::channel::<Outgoing>(MAX_QUEUED_PACKETS);
    let close = Arc::new(Notify::new());
    let replies = Arc::new(ReplyTimes::new());
    let id = hub.register(&user, outgoing.clone(), close.clone(), replies.clone());
    let _ = outgoing.try_send(Outgoing::plain(packet::CONNECTED));
    drop(outgoing);
    let written = replies.clone();
    let writer = tokio::spawn(async move {
        let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
        heartbeat.tick().await;
        loop {
            let packet = tokio::select! {
                next = queue.recv() => match next {
                    Some(packet) => packet,
                    None => break,
                },
                _ = heartbeat.tick() => Outgoing::plain(packet::HEARTBEAT),
            };
            if let Some(event) = packet.event {
                // Before the write: the reply cannot be read before this is noted.
                written.written(event);
            }
            if sink.send(Message::Text(packet.text.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut malformed = 0u32;
    let why = loop {
        tokio::select! {
            _ = close.notified() => break "dropped by the hub",
            next = stream.next() => match next {
                Some(Ok(Message::Text(text))) => {
                    let read = Instant::now();
                    let connection = Client { id, user: &user, replies: &replies };
                    handle(&hub, &connection, &text, read, &mut malformed)
                }
                Some(Ok(Message::Close(_))) | None => break "closed by the client",
                Some(Err(err)) => {
                    let err = err.to_string();
                    // The websocket library's words for a message over `MAX_MESSAGE_BYTES`
                    // (its error type is not one axum exposes): worth an operator's
                    // attention, unlike a connection that simply broke off.
                    if err.contains("too long") {
                        tracing::warn!(
                            "hub: connection {id} ({user}) sent a message over the {} MiB \
                             limit ({err}): closed",
                            MAX_MESSAGE_BYTES >> 20
                        );
                        break "it sent an oversized message";
                    }
                    tracing::debug!("hub: connection {id} ({user}): {err}");
                    break "the connection broke off";
                }
                Some(Ok(_)) => {}
            },
        }
    };
    if malformed > MAX_LOGGED_MALFORMED {
        tracing::warn!("hub: connection {id} ({user}) sent {malformed} malformed packets in all");
    }
    hub.unregister(id, why);
    // Its queue's last sender went with the registration: the writer sends what is left,
    // unless the client does not read, in which case it is stopped.
    let mut writer = writer;
    if tokio::time::timeout(std::time::Duration::from_secs(5), &mut writer)
        .await
        .is_err()
    {
        // Stuck sending to a client that does not read: dropping the task closes the socket.
        writer.abort();
    }
}

/// The connection a frame came from.
struct Client<'a> {
    id: u64,
    user: &'a str,
    replies: &'a ReplyTimes,
}

/// Handles one text frame of a connection, `read` as it arrived.
fn handle(hub: &Hub, client: &Client<'_>, text: &str, read: Instant, malformed: &mut u32) {
    let (id, user) = (client.id, client.user);
    let mut refuse = |why: &str| {
        *malformed += 1;
        if *malformed <= MAX_LOGGED_MALFORMED {
            tracing::warn!(
                "hub: connection {id} ({user}): packet skipped: {why} ({} bytes)",
                text.len()
            );
        }
    };
    let (ack, name, mut args) = match packet::parse(text) {
        Ok(Incoming::Event { ack, name, args }) => (ack, name, args),
        Ok(Incoming::Disconnect) => {
            hub.unregister(id, "the client said goodbye");
            return;
        }
        Ok(Incoming::Heartbeat | Incoming::Ignored(_)) => return,
        Err(err) => return refuse(&err.0),
    };
    let answer = |success: bool, message: Option<&str>| {
        if let Some(ack) = ack {
            hub.send(id, Outgoing::plain(packet::ack(ack, success, message)));
        }
    };
    if name != "ftrack.event" || args.len() != 1 {
        refuse(&format!(
            "an emit of {name:?} with {} arguments (ftrack.event with one is expected)",
            args.len()
        ));
        return answer(
            false,
            Some("only ftrack.event with one event is understood"),
        );
    }
    let mut event: Event = match serde_json::from_value(args.remove(0)) {
        Ok(event) => event,
        Err(err) => {
            refuse(&format!("not an event: {err}"));
            return answer(false, Some("not an event"));
        }
    };
    // Whoever the event says it is from, it is from the signed-in user.
    vouch_for(&mut event, user);
    if event.topic == topics::META_REPLY {
        if let Some(answered) = &event.in_reply_to_event {
            client.replies.replied(hub.event_hash(answered), read);
        }
    }
    let outcome = match event.topic.as_str() {
        topics::META_SUBSCRIBE => hub.subscribe(id, &event.data),
        topics::META_UNSUBSCRIBE => hub.unsubscribe(id, &event.data),
        _ => {
            hub.route(&event);
            Ok(())
        }
    };
    match outcome {
        Ok(()) => answer(true, None),
        Err(why) => {
            tracing::warn!("hub: connection {id} ({user}): {}: {why}", event.topic);
            answer(false, Some(&why));
        }
    }
}

/// Sets `source.user.username` to the authenticated user: subscriptions filter on it
/// (Connect's actions answer only their own user), so a client must not pose as another.
fn vouch_for(event: &mut Event, user: &str) {
    let source = &mut event.source;
    let said = source
        .get("user")
        .and_then(|u| u.get("username"))
        .and_then(Value::as_str);
    if said != Some(user) {
        if let Some(said) = said {
            tracing::warn!("hub: an event from {user} claimed to be from {said}: corrected");
        }
        let entry = source
            .entry("user")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(fields) = entry {
            fields.insert("username".into(), Value::String(user.to_string()));
        } else {
            *entry = serde_json::json!({"username": user});
        }
    }
}
