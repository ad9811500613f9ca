//! Socket.IO 0.9 packets, the event hub's wire format: `type:id:endpoint:data` in a websocket
//! text frame.
//!
//! Only what ftrack's clients use is understood: `1::` (connected), `2::` (heartbeat), `5`
//! (an event: `{"name": "ftrack.event", "args": [event]}`), `6` (an acknowledgement) and `0`
//! (disconnect). What the server writes is limited further, because the Python client's
//! reader thread dies on anything else (`ftrack-server-protocol.md`, 3.2): no `8::`, never an
//! ack without its argument list, and events with only ftrack's event keys.

use serde_json::{json, Value};

/// A packet from a client.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Incoming {
    /// `0::`: the client leaves.
    Disconnect,
    /// `2::` / `2:::`: the client's heartbeat.
    Heartbeat,
    /// `5:<id>[+]::{"name":...,"args":[...]}`: an emitted event; `ack` is the id to
    /// acknowledge, when the client asked for one.
    Event {
        /// The message id, when the client numbered it.
        ack: Option<u64>,
        /// The emitted name (`ftrack.event` for ftrack's clients).
        name: String,
        /// Its arguments.
        args: Vec<Value>,
    },
    /// Any other well-formed packet the server has no use for (`1`, `3`, `4`, `6`, `7`, `8`).
    Ignored(u8),
}

/// Why a client's packet could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) String);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads a client's packet.
pub(crate) fn parse(text: &str) -> Result<Incoming, Malformed> {
    let mut parts = text.splitn(4, ':');
    let kind = parts.next().unwrap_or_default();
    let id = parts.next();
    let _endpoint = parts.next();
    let data = parts.next().unwrap_or_default();
    let kind: u8 = match kind {
        "0" => return Ok(Incoming::Disconnect),
        "2" => return Ok(Incoming::Heartbeat),
        "5" => 5,
        "1" | "3" | "4" | "6" | "7" | "8" => {
            return Ok(Incoming::Ignored(kind.as_bytes()[0] - b'0'))
        }
        other => {
            return Err(Malformed(format!(
                "packet type {:?} is not a Socket.IO 0.9 type",
                truncate(other)
            )))
        }
    };
    debug_assert_eq!(kind, 5);
    let Some(id) = id else {
        return Err(Malformed("an event packet without its fields".into()));
    };
    let ack = match id.trim_end_matches('+') {
        "" => None,
        number => Some(number.parse::<u64>().map_err(|_| {
            Malformed(format!("message id {:?} is not a number", truncate(number)))
        })?),
    };
    let mut emitted: Value = serde_json::from_str(data)
        .map_err(|e| Malformed(format!("the event packet's data is not JSON: {e}")))?;
    let name = emitted
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| Malformed("the event packet has no \"name\"".into()))?
        .to_string();
    let args = match emitted.get_mut("args").map(Value::take) {
        Some(Value::Array(args)) => args,
        None => Vec::new(),
        Some(_) => {
            return Err(Malformed(
                "the event packet's \"args\" is not a list".into(),
            ))
        }
    };
    Ok(Incoming::Event { ack, name, args })
}

/// `1::`: sent once the websocket is up.
pub(crate) const CONNECTED: &str = "1::";

/// `2::`: the server's heartbeat.
pub(crate) const HEARTBEAT: &str = "2::";

/// The acknowledgement of message `id`, with the one argument the Python client requires.
pub(crate) fn ack(id: u64, success: bool, message: Option<&str>) -> String {
    let mut answer = json!({"success": success});
    if let Some(message) = message {
        answer["message"] = Value::String(message.to_string());
    }
    format!("6:::{id}+{}", Value::Array(vec![answer]))
}

/// An event for a client: no ack id (the JavaScript client reads events with
/// `/^\d:::?/`), one argument, only ftrack's event keys (`event_json` is the serialised
/// `connect_event::Event`, which has no others).
pub(crate) fn event(event_json: &str) -> String {
    format!("5:::{{\"name\":\"ftrack.event\",\"args\":[{event_json}]}}")
}

fn truncate(text: &str) -> &str {
    match text.char_indices().nth(32) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clients_packets_are_read() {
        assert_eq!(parse("2::"), Ok(Incoming::Heartbeat));
        assert_eq!(parse("2:::"), Ok(Incoming::Heartbeat));
        assert_eq!(parse("0::"), Ok(Incoming::Disconnect));
        let python = r#"5:7+::{"name":"ftrack.event","args":[{"topic":"t","data":{"a":"b:c"}}]}"#;
        let Ok(Incoming::Event { ack, name, args }) = parse(python) else {
            panic!("{:?}", parse(python))
        };
        assert_eq!((ack, name.as_str()), (Some(7), "ftrack.event"));
        assert_eq!(args[0]["data"]["a"], "b:c", "colons in the data survive");
        let javascript = r#"5:::{"name":"ftrack.event","args":[{"topic":"t"}]}"#;
        assert!(matches!(
            parse(javascript),
            Ok(Incoming::Event { ack: None, .. })
        ));
        assert_eq!(parse("8::"), Ok(Incoming::Ignored(8)));
    }

    #[test]
    fn malformed_packets_say_what_is_wrong() {
        for (packet, says) in [
            ("garbage", "not a Socket.IO 0.9 type"),
            ("5", "without its fields"),
            ("5:x+::{}", "message id \"x\""),
            ("5:::{not json", "not JSON"),
            ("5:::{\"args\":[]}", "no \"name\""),
            ("5:::{\"name\":\"e\",\"args\":3}", "not a list"),
        ] {
            let err = parse(packet).unwrap_err().0;
            assert!(err.contains(says), "{packet}: {err}");
        }
    }

    #[test]
    fn what_the_server_writes_keeps_the_python_reader_alive() {
        assert_eq!(ack(4, true, None), r#"6:::4+[{"success":true}]"#);
        assert!(ack(4, false, Some("no")).starts_with(r#"6:::4+[{"#));
        assert_eq!(
            event(r#"{"topic":"t"}"#),
            r#"5:::{"name":"ftrack.event","args":[{"topic":"t"}]}"#
        );
    }

    mod fuzz {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_text_is_read_or_refused_without_panic(text in ".{0,200}") {
                let _ = parse(&text);
            }

            #[test]
            fn packet_like_text_is_read_or_refused_without_panic(
                kind in "[0-9]{0,2}", id in "[0-9+x]{0,5}", data in "[{}\\[\\]\":,a-z0-9 ]{0,80}"
            ) {
                let _ = parse(&format!("{kind}:{id}::{data}"));
            }
        }
    }
}
