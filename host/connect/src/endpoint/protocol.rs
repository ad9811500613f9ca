//! The endpoint's protocol: JSON lines, which any language can speak. A client sends two
//! lines, a [`Hello`] with the token and its protocol version, then its [`Request`]; the host
//! answers with one line, then (for `watch`) one event per line:
//!
//! ```text
//! {"token": T, "protocol": 2}
//! {"request": "publish", "event": {...}}    -> {"ok": true, "protocol": 2, "results": [...]}
//! {"request": "plugins"}                    -> {"ok": true, "protocol": 2, "plugins": [...]}
//! {"request": "status"}                     -> {"ok": true, "protocol": 2, "status": {...}}
//! {"request": "watch", "expression": E}     -> {"ok": true, "protocol": 2}, then events
//! {"request": "window_link"}                -> {"ok": true, "protocol": 2, "url": "http://..."}
//! anything refused                          -> {"ok": false, "protocol": 2, "error": "..."}
//! ```
//!
//! The hello comes first and alone so that the host checks the token having read at most
//! [`MAX_HELLO_BYTES`]: without the token, nobody makes it read more, or hold a connection
//! longer than [`REQUEST_DEADLINE`].
//!
//! Both ends use the types here, so they cannot drift apart. Every hello and answer carries
//! [`PROTOCOL_VERSION`]: a host refuses a client of another version, and a client a host of
//! another version, each with a message saying which versions met and what to do (a client
//! from before versions existed sends none and is refused the same way).

use std::time::Duration;

use std::net::SocketAddr;

use connect_event::Event;
use connect_plugins::PluginReport;
use serde::{Deserialize, Serialize};

/// The version of this protocol. It moves when a request or an answer changes shape (2: the
/// window's sign-in link).
pub const PROTOCOL_VERSION: u32 = 2;

/// The longest hello line the host reads, newline included: a token and a version fit in a
/// tenth of it.
pub const MAX_HELLO_BYTES: u64 = 4 * 1024;

/// The longest request line the host reads once the token is checked (an event with a big
/// `data`).
pub const MAX_REQUEST_BYTES: u64 = 16 * 1024 * 1024;

/// How long a client may take to send its hello and request, together.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// What `endpoint.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointFile {
    /// Where the host listens (loopback).
    pub address: SocketAddr,
    /// The token every request must carry.
    pub token: String,
    /// The host's process id.
    pub pid: u32,
    /// Where the host serves its window (`ftrack-connect open`), if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<SocketAddr>,
}

/// The first line a client sends.
#[derive(Debug, Serialize, Deserialize)]
pub struct Hello {
    /// The token from `endpoint.json`.
    #[serde(default)]
    pub token: String,
    /// The client's [`PROTOCOL_VERSION`]; 0 when it sent none.
    #[serde(default)]
    pub protocol: u32,
}

/// What a client can ask.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "lowercase")]
pub enum Request {
    /// Publish `event` synchronously; answered with [`Published`].
    Publish {
        /// The event; the host fills its `source` where it is missing.
        event: Box<Event>,
    },
    /// List the plugins; answered with [`PluginList`].
    Plugins,
    /// Who is signed in where, the event hub, the plugins; answered with [`HostStatus`].
    Status,
    /// Stream every dispatched event matching `expression`: answered with an empty answer,
    /// then one event per line until the client goes away.
    Watch {
        /// A subscription expression; every event when missing.
        #[serde(default)]
        expression: Option<String>,
    },
    /// A one-time sign-in link to the host's window; answered with [`WindowLink`].
    #[serde(rename = "window_link")]
    WindowLink,
}

/// The answer to [`Request::WindowLink`].
#[derive(Debug, Serialize, Deserialize)]
pub struct WindowLink {
    /// Following it once, within a minute, opens the window signed in.
    pub url: String,
}

/// The answer to [`Request::Status`]: what `ftrack-connect status` prints.
#[derive(Debug, Serialize, Deserialize)]
pub struct HostStatus {
    /// `pid`, `api_user`, `server` (`url`, `api_user`, `sign_in`, `event_hub`) or null,
    /// `plugins` (`loaded`, `failed`, `skipped`).
    pub status: serde_json::Value,
}

/// An answer line: whether the request was carried out, and its body or why not.
#[derive(Debug, Serialize, Deserialize)]
pub struct Answer<B> {
    /// Whether the request was carried out.
    pub ok: bool,
    /// The host's [`PROTOCOL_VERSION`]; 0 from a host before versions existed.
    #[serde(default)]
    pub protocol: u32,
    /// Why not, when `ok` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What was asked for, when `ok` is true.
    #[serde(flatten)]
    pub body: Option<B>,
}

impl<B> Answer<B> {
    /// A carried-out request's answer.
    pub fn ok(body: B) -> Self {
        Answer {
            ok: true,
            protocol: PROTOCOL_VERSION,
            error: None,
            body: Some(body),
        }
    }

    /// A refusal, saying why.
    pub fn refused(error: impl Into<String>) -> Self {
        Answer {
            ok: false,
            protocol: PROTOCOL_VERSION,
            error: Some(error.into()),
            body: None,
        }
    }
}

/// The answer to [`Request::Publish`]: the results, in the form `R` each end holds them in
/// (the host's replies as it made them, a client's JSON values).
#[derive(Debug, Serialize, Deserialize)]
pub struct Published<R> {
    /// One result per handler that answered, in dispatch order.
    pub results: Vec<R>,
}

/// The answer to [`Request::Plugins`].
#[derive(Debug, Serialize, Deserialize)]
pub struct PluginList {
    /// Every plugin, in load order.
    pub plugins: Vec<PluginReport>,
}

/// The answer to [`Request::Watch`] before the events: nothing but `ok`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Watching {}

/// Why two ends of different protocol versions cannot talk, for either end to say.
pub fn version_mismatch(host: u32, client: u32) -> String {
    let describe = |version: u32| match version {
        0 => "an unversioned one (from an older ftrack-connect)".to_string(),
        n => format!("version {n}"),
    };
    format!(
        "the running host speaks endpoint protocol {} and this command {}: \
         run the same ftrack-connect for both (restart the host after an upgrade)",
        describe(host),
        describe(client)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn requests_and_answers_have_the_documented_shape() {
        let hello = Hello {
            token: "t".into(),
            protocol: PROTOCOL_VERSION,
        };
        assert_eq!(
            serde_json::to_value(&hello).unwrap(),
            json!({"token": "t", "protocol": PROTOCOL_VERSION})
        );
        let request = Request::Watch {
            expression: Some("topic=x".into()),
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"request": "watch", "expression": "topic=x"})
        );
        let published = Answer::ok(Published {
            results: vec![json!(true)],
        });
        assert_eq!(
            serde_json::to_value(&published).unwrap(),
            json!({"ok": true, "protocol": PROTOCOL_VERSION, "results": [true]})
        );
        let refused: Answer<Published<Value>> =
            serde_json::from_str(r#"{"ok": false, "error": "no"}"#).unwrap();
        assert_eq!(
            (refused.protocol, refused.error.as_deref()),
            (0, Some("no"))
        );
        assert!(refused.body.is_none());
    }

    #[test]
    fn a_request_without_a_version_reads_as_version_zero() {
        // A client from before versions sent its token and request on one line.
        let old: Hello = serde_json::from_str(r#"{"token": "t", "request": "plugins"}"#).unwrap();
        assert_eq!(old.protocol, 0);
        assert!(version_mismatch(1, 0).contains("unversioned"));
    }
}
