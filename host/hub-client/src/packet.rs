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

    /// Whatever a server (or anything posing as one) sends, reading it never panics and never
    /// overflows the stack, and what cannot be read is described in at most 80 characters;
    /// every event the client writes reads back the same. Proptest's default of 256 cases per
    /// property (`PROPTEST_CASES` overrides it; `scripts/fuzz.sh` runs a long round).
    mod fuzz {
        use super::*;
        use proptest::prelude::*;
        use serde_json::{json, Map, Value};

        /// JSON values of every kind, nested a few levels. Numbers are integers or exact
        /// binary fractions: serde_json (without `float_roundtrip`) may read other floats back
        /// one bit off, which is its documented trade-off and not the packet reader's.
        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                (any::<i32>(), 0..8u32)
                    .prop_map(|(n, shift)| Value::from(f64::from(n) / f64::from(1u32 << shift))),
                any::<String>().prop_map(Value::from),
            ];
            leaf.prop_recursive(4, 64, 8, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
                    proptest::collection::vec((any::<String>(), inner), 0..8)
                        .prop_map(|entries| Value::Object(entries.into_iter().collect())),
                ]
            })
        }

        fn json_object() -> impl Strategy<Value = Map<String, Value>> {
            proptest::collection::vec((any::<String>(), json_value()), 0..6)
                .prop_map(|entries| entries.into_iter().collect())
        }

        /// Events with any text in every field (colons, quotes, control characters, any
        /// Unicode), any data and source, and the optional fields present or not.
        fn event() -> impl Strategy<Value = Event> {
            (
                any::<String>(),
                any::<String>(),
                json_value(),
                json_object(),
                any::<String>(),
                proptest::option::of(any::<String>()),
                // `"sent": null` reads back as no `sent` at all: a null is never generated.
                proptest::option::of(json_value().prop_filter("not null", |v| !v.is_null())),
            )
                .prop_map(|(id, topic, data, source, target, in_reply, sent)| {
                    let mut event = Event::new(topic).with_data(data);
                    event.id = id;
                    event.source = source.into();
                    event.target = target;
                    event.in_reply_to_event = in_reply;
                    event.sent = sent;
                    event
                })
        }

        /// Text shaped like a packet: a type, an id, an endpoint and a body of JSON-ish soup.
        fn packet_like() -> impl Strategy<Value = String> {
            (
                prop_oneof![Just("5".to_string()), Just("6".to_string()), "[0-9]{0,2}"],
                "[0-9+]{0,6}",
                "[a-z/]{0,4}",
                prop_oneof![
                    "[{}\\[\\]\":,a-z0-9+ .eE-]{0,120}",
                    "[0-9]{0,25}\\+[\\[\\]{}\":a-z,]{0,80}",
                    json_value().prop_map(|v| v.to_string()),
                    json_value().prop_map(|v| format!(r#"{{"name":"ftrack.event","args":[{v}]}}"#)),
                    json_value().prop_map(|v| format!("{}+[{v}]", v.to_string().len())),
                ],
            )
                .prop_map(|(kind, id, endpoint, data)| format!("{kind}:{id}:{endpoint}:{data}"))
        }

        /// Nesting far beyond serde_json's recursion limit (128), in an event or an ack.
        fn deeply_nested() -> impl Strategy<Value = String> {
            (
                prop_oneof![
                    Just(r#"5:::{"name":"ftrack.event","args":[{"topic":"t","data":"#),
                    Just("6:::1+"),
                ],
                1usize..20_000,
                prop_oneof![Just("["), Just(r#"{"a":"#), Just("[{\"b\":")],
            )
                .prop_map(|(start, depth, opener)| format!("{start}{}", opener.repeat(depth)))
        }

        fn read_safely(text: &str) -> Result<Packet, TestCaseError> {
            let packet = parse(text);
            if let Packet::Other(described) = &packet {
                prop_assert!(described.chars().count() <= 80, "{}", described);
            }
            Ok(packet)
        }

        proptest! {
            #[test]
            fn any_text_is_read_without_panic(text in any::<String>()) {
                read_safely(&text)?;
            }

            #[test]
            fn packet_like_text_is_read_without_panic(text in packet_like()) {
                read_safely(&text)?;
            }

            #[test]
            fn deep_nesting_is_refused_not_overflowed(text in deeply_nested()) {
                let packet = read_safely(&text)?;
                prop_assert!(
                    matches!(packet, Packet::Other(_) | Packet::Ack(1, Err(_))),
                    "{:?}",
                    packet
                );
            }

            #[test]
            fn every_event_written_reads_back_the_same(event in event(), ack in proptest::option::of(any::<u64>())) {
                match read_safely(&emit(ack, &event))? {
                    Packet::Event(read) => prop_assert_eq!(*read, event),
                    other => prop_assert!(false, "not an event: {:?}", other),
                }
            }

            #[test]
            fn acks_read_back_with_their_number_and_message(n in any::<u64>(), message in proptest::option::of(any::<String>())) {
                let body = match &message {
                    None => json!([{"success": true}]),
                    Some(m) => json!([{"success": false, "message": m}]),
                };
                match read_safely(&format!("6:::{n}+{body}"))? {
                    Packet::Ack(read, outcome) => {
                        prop_assert_eq!(read, n);
                        prop_assert_eq!(outcome.err(), message);
                    }
                    other => prop_assert!(false, "not an ack: {:?}", other),
                }
            }
        }
    }
}
