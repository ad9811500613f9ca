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
        "5" => match serde_json::from_str::<Emitted>(data) {
            // Read in one pass, straight into the event.
            Ok(Emitted { mut args }) if args.len() == 1 => Packet::Event(Box::new(args.remove(0))),
            _ => other(),
        },
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

/// An event emitted by the server: `{"name": "ftrack.event", "args": [event]}` (the name is
/// the only one the server emits; it is not checked).
#[derive(serde::Deserialize)]
struct Emitted {
    args: Vec<Event>,
}

/// `5:<n>+::{"name":"ftrack.event","args":[event]}`, or without `<n>+` when no
/// acknowledgement is wanted (`ack` is `None`): the server then sends none back.
pub(crate) fn emit(ack: Option<u64>, event: &Event) -> String {
    let event = serde_json::to_string(event).expect("an event is JSON");
    let ack = ack.map(|n| format!("{n}+")).unwrap_or_default();
    format!("5:{ack}::{{\"name\":\"ftrack.event\",\"args\":[{event}]}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emitted_event_reads_back_and_asks_for_an_ack_only_when_told() {
        let event = Event::new("demo.ask").with_data(serde_json::json!({"n": [1, "two"]}));
        let with_ack = emit(Some(7), &event);
        assert!(with_ack.starts_with("5:7+::{"), "{with_ack}");
        let without = emit(None, &event);
        assert!(without.starts_with("5:::{"), "{without}");
        match parse(&without) {
            Packet::Event(read) => {
                assert_eq!(read.topic, "demo.ask");
                assert_eq!(read.id, event.id);
                assert_eq!(read.data, event.data);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(r#"5:::{"name":"ftrack.event","args":[]}"#),
            Packet::Other(_)
        ));
        assert!(matches!(parse("5:::not json"), Packet::Other(_)));
    }
}
