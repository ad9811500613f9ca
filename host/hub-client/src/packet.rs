//! The Socket.IO 0.9 packets a client reads and writes (`type:id:endpoint:data`).

use connect_event::Event;
use serde_json::Value;

/// A packet from the server.
#[derive(Debug)]
pub(crate) enum Packet {
    /// `1::`: the websocket is up.
    Connected,
    /// `2::`: the server's heartbeat, answered with ours.
    Heartbeat,
    /// `5:::{"name":"ftrack.event","args":[event]}`.
    Event(Box<Event>),
    /// `6:::<n>+[{"success": ..., "message": ...}]`: the outcome of message `n`.
    Ack(u64, Result<(), String>),
    /// `0::`.
    Disconnect,
    /// Anything else, described for the log.
    Other(String),
}

/// Reads a server packet; what it cannot read is `Other`.
pub(crate) fn parse(text: &str) -> Packet {
    let mut parts = text.splitn(4, ':');
    let kind = parts.next().unwrap_or_default();
    let _id = parts.next();
    let _endpoint = parts.next();
    let data = parts.next().unwrap_or_default();
    let other = || Packet::Other(text.chars().take(80).collect());
    match kind {
        "0" => Packet::Disconnect,
        "1" => Packet::Connected,
        "2" => Packet::Heartbeat,
        "5" => {
            let Ok(mut emitted) = serde_json::from_str::<Value>(data) else {
                return other();
            };
            let event = match emitted.get_mut("args").map(Value::take) {
                Some(Value::Array(mut args)) if args.len() == 1 => args.remove(0),
                _ => return other(),
            };
            match serde_json::from_value::<Event>(event) {
                Ok(event) => Packet::Event(Box::new(event)),
                Err(_) => other(),
            }
        }
        "6" => {
            let Some((id, args)) = data.split_once('+') else {
                return other();
            };
            let Ok(id) = id.parse::<u64>() else {
                return other();
            };
            let answer = serde_json::from_str::<Value>(args).unwrap_or(Value::Null);
            let first = &answer[0];
            if first.get("success").and_then(Value::as_bool) == Some(true) {
                Packet::Ack(id, Ok(()))
            } else {
                let message = first
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given")
                    .to_string();
                Packet::Ack(id, Err(message))
            }
        }
        _ => other(),
    }
}

/// `5:<n>+::{"name":"ftrack.event","args":[event]}`.
pub(crate) fn emit(ack: u64, event: &Event) -> String {
    let emitted = serde_json::json!({"name": "ftrack.event", "args": [event]});
    format!("5:{ack}+::{emitted}")
}
