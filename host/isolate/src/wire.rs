//! The calls and answers host and child exchange (framed by `connect-pipe`, one JSON object
//! per line).
//!
//! Every frame belongs to a *conversation*: a call and its answer, with any calls the other
//! side makes while it works on the answer (a handler publishing through the host, whose
//! dispatch calls a handler of the same child again) nested inside. A conversation is a call
//! stack split over two processes; see `link` for how each side keeps one on one thread.
//! The host numbers the conversations it opens with even numbers, the child with odd ones.
//!
//! Events, results and data cross as raw JSON (`RawValue`): the receiver parses them once,
//! where it needs them, and nothing is escaped into a string inside the frame.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub(crate) use connect_pipe::frame::GREETING;

/// One line on the pipe, with this crate's calls and answers.
pub(crate) type Frame = connect_pipe::frame::Frame<Call, Answer>;

/// One side of the pipe pair, with this crate's calls and answers.
pub(crate) type Link = connect_pipe::link::Link<Call, Answer>;

/// The threads serving the other side's conversations.
pub(crate) type Workers = connect_pipe::link::Workers<Call, Answer>;

pub(crate) use connect_pipe::frame::write_frame;

/// Reads the next frame of this crate's calls and answers (the tests read what was written).
#[cfg(test)]
pub(crate) fn read_frame(input: &mut dyn std::io::BufRead) -> std::io::Result<Option<Frame>> {
    connect_pipe::frame::read_frame(input)
}

/// Reads the child's greeting (its first frame), if that is what it is.
pub(crate) fn read_greeting(input: &mut dyn std::io::BufRead) -> Option<Answer> {
    connect_pipe::frame::read_greeting::<Call, Answer>(input)
}

/// What one side asks of the other.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Call {
    /// Host to child: run the plugin's `register` with this session.
    Register {
        /// The signed-in user.
        api_user: String,
        /// The ftrack server, empty when none.
        server_url: String,
    },
    /// Host to child: run the child's handler number `handler` on `event`.
    Handle {
        /// The child's number for the handler.
        handler: u64,
        /// The event, in ftrack's wire form.
        event: Box<RawValue>,
    },
    /// Child to host: subscribe the child's handler number `handler`.
    Subscribe {
        /// The subscription expression.
        expression: String,
        /// Lower runs first.
        priority: i64,
        /// The child's number for the handler.
        handler: u64,
    },
    /// Child to host: remove one of the plugin's subscriptions.
    Unsubscribe {
        /// The subscriber id `Subscribe` answered.
        id: String,
    },
    /// Child to host: publish synchronously through the host's hub.
    Publish {
        /// The event, in ftrack's wire form.
        event: Box<RawValue>,
    },
    /// Child to host: a call to the ftrack server (`HostSession::api`), which the host runs
    /// on the plugin's session.
    Api {
        /// The request (`{"call": "query", ...}`).
        request: Box<RawValue>,
    },
}

/// What a call got back.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Answer {
    /// The child's greeting: the library is open and these are its name and version.
    Opened {
        /// The plugin's declared name.
        name: String,
        /// The plugin's declared version.
        version: String,
    },
    /// `Register` succeeded.
    Registered,
    /// `Handle`: what the handler did.
    Handled {
        /// Its result.
        result: Box<RawValue>,
        /// The event's new `data`, when the handler changed it.
        data: Option<Box<RawValue>>,
        /// The handler stopped the event.
        stop: bool,
    },
    /// `Subscribe`: the subscriber id.
    Subscribed {
        /// The id.
        id: String,
    },
    /// `Unsubscribe` succeeded.
    Unsubscribed,
    /// `Publish`: the results and the data after the handlers ran.
    Published {
        /// The results, as an array.
        results: Box<RawValue>,
        /// The event's `data` afterwards.
        data: Box<RawValue>,
    },
    /// `Api`: the server call's result.
    ApiAnswered {
        /// The result, as `HostSession::api` answers it.
        result: Box<RawValue>,
    },
    /// The call failed: why, in one line.
    Failed {
        /// Why.
        error: String,
    },
}

impl Answer {
    pub(crate) fn failed(error: impl std::fmt::Display) -> Answer {
        Answer::Failed {
            error: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_with_raw_events() {
        let event = RawValue::from_string(r#"{"topic":"t","data":{"a":[1,2]}}"#.into()).unwrap();
        let frame = Frame::Call {
            conv: 4,
            call: Call::Handle { handler: 7, event },
        };
        let mut out = Vec::new();
        write_frame(&mut out, &frame).unwrap();
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1);
        let read = read_frame(&mut out.as_slice()).unwrap().unwrap();
        let Frame::Call {
            conv: 4,
            call: Call::Handle { handler: 7, event },
        } = read
        else {
            panic!("{read:?}")
        };
        assert_eq!(event.get(), r#"{"topic":"t","data":{"a":[1,2]}}"#);
        assert!(read_frame(&mut &b""[..]).unwrap().is_none());
        assert!(read_frame(&mut &b"{\"Nope\":1}\n"[..]).is_err());
    }

    /// What a crashed or hostile child may write: any bytes, and frames of the right shape
    /// with any content. Reading never panics, and a stream of lines gives one result per
    /// line.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn frame_like() -> impl Strategy<Value = String> {
            let value = prop_oneof![
                Just("null".to_string()),
                "[a-z]{0,8}".prop_map(|s| format!("{s:?}")),
                any::<i64>().prop_map(|n| n.to_string()),
                Just(r#"{"topic":"t"}"#.to_string()),
            ];
            let answer = prop_oneof![
                value.clone().prop_map(|v| format!(
                    r#"{{"Handled":{{"result":{v},"data":null,"stop":false}}}}"#
                )),
                "[ -~]{0,20}".prop_map(|e| format!(r#"{{"Failed":{{"error":{e:?}}}}}"#)),
                Just(r#""Registered""#.to_string()),
            ];
            let call = prop_oneof![
                value.prop_map(|v| format!(r#"{{"Publish":{{"event":{v}}}}}"#)),
                "[ -~]{0,20}".prop_map(|e| format!(
                    r#"{{"Subscribe":{{"expression":{e:?},"priority":1,"handler":2}}}}"#
                )),
            ];
            (
                any::<u64>(),
                prop_oneof![
                    answer.prop_map(|a| ("Done", "answer", a)),
                    call.prop_map(|c| ("Call", "call", c)),
                ],
            )
                .prop_map(|(conv, (kind, key, body))| {
                    format!(r#"{{"{kind}":{{"conv":{conv},"{key}":{body}}}}}"#)
                })
        }

        proptest! {
            #[test]
            fn any_bytes_are_read_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                let mut input = bytes.as_slice();
                for _ in 0..=bytes.len() {
                    match read_frame(&mut input) {
                        Ok(Some(_)) | Err(_) => continue,
                        Ok(None) => break,
                    }
                }
            }

            #[test]
            fn well_shaped_frames_are_read_one_per_line(lines in proptest::collection::vec(frame_like(), 1..8)) {
                let text = lines.join("\n") + "\n";
                let mut input = text.as_bytes();
                for line in &lines {
                    let read = read_frame(&mut input);
                    prop_assert!(read.as_ref().is_ok_and(Option::is_some), "{line}: {read:?}");
                }
                prop_assert!(read_frame(&mut input).unwrap().is_none());
            }
        }
    }
}
