//! A handler's result, kept in the form the handler made it until someone reads it.
//!
//! Rhai hooks return Rhai values and native plugins return JSON text. Most results of a
//! publish go on in yet another form: JSON text for the endpoint and `event publish`, Rhai
//! values for a hook that published, JSON text again for a native plugin that published.
//! Converting every result to a `serde_json::Value` on the way (a dozen allocations and hashed
//! map inserts for one action item) was about a third of the cost of an
//! `ftrack.action.discover` answered by 200 Rhai hooks, and most of those conversions were
//! undone right after. So the hub hands results on as [`Reply`]s, and each reader converts
//! once, to the form it needs.
//!
//! A reply is checked when the handler returns it (a Rhai value that JSON cannot hold, text
//! that is not JSON): a bad result is the handler's failure, reported with its plugin's name,
//! and never an error for whoever reads the results later.

use abi_stable::std_types::RString;
use serde::de::IgnoredAny;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::rhai_hook::ScriptValue;

/// One handler's result.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A JSON value (from a handler written in Rust inside the host).
    Json(Value),
    /// A Rhai hook's value; only types JSON can hold.
    Script(ScriptValue),
    /// JSON text from a native plugin, checked to be well formed; kept in the plugin's own
    /// string (copying it into a `String` was a tenth of the cost of a native dispatch).
    Text(RString),
}

impl Reply {
    /// The result as JSON text from a native plugin; `Err` says why it is not JSON.
    pub fn from_text(text: impl Into<RString>) -> Result<Reply, serde_json::Error> {
        let text = text.into();
        serde_json::from_str::<IgnoredAny>(&text)?;
        Ok(Reply::Text(text))
    }

    /// Whether the result is `null` (a handler that returned nothing). Asynchronous
    /// publishes send no reply for it.
    pub fn is_null(&self) -> bool {
        match self {
            Reply::Json(value) => value.is_null(),
            Reply::Script(value) => value.is_unit(),
            Reply::Text(text) => text.trim() == "null",
        }
    }

    /// The result as a JSON value.
    pub fn to_json(&self) -> Value {
        match self {
            Reply::Json(value) => value.clone(),
            Reply::Script(value) => value.to_json(),
            Reply::Text(text) => parse_checked(text),
        }
    }

    /// The result as a JSON value, without a copy when it already is one.
    pub fn into_json(self) -> Value {
        match self {
            Reply::Json(value) => value,
            other => other.to_json(),
        }
    }
}

/// Text that [`Reply::from_text`] accepted is JSON, so it parses.
fn parse_checked(text: &str) -> Value {
    serde_json::from_str(text).expect("Reply::Text holds checked JSON")
}

impl From<Value> for Reply {
    fn from(value: Value) -> Self {
        Reply::Json(value)
    }
}

/// Replies compare by their JSON value, whatever form each is in.
impl PartialEq for Reply {
    fn eq(&self, other: &Self) -> bool {
        self.to_json() == other.to_json()
    }
}

impl PartialEq<Value> for Reply {
    fn eq(&self, other: &Value) -> bool {
        match self {
            Reply::Json(value) => value == other,
            _ => self.to_json() == *other,
        }
    }
}

/// Writes the reply as JSON; native text goes out as it came in.
impl Serialize for Reply {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Reply::Json(value) => value.serialize(serializer),
            Reply::Script(value) => value.to_json().serialize(serializer),
            Reply::Text(text) => {
                let raw: &RawValue = serde_json::from_str(text).expect("checked JSON");
                raw.serialize(serializer)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn native_text_is_checked_and_written_out_as_it_came() {
        let text = r#"{"z":1,"a":[1.5,"x"]}"#;
        let reply = Reply::from_text(text).unwrap();
        assert_eq!(serde_json::to_string(&reply).unwrap(), text);
        // Into a JSON value too, as the endpoint's answer takes it.
        assert_eq!(
            serde_json::to_value(&reply).unwrap(),
            json!({"z": 1, "a": [1.5, "x"]})
        );
        assert_eq!(reply, json!({"z": 1, "a": [1.5, "x"]}));
        assert!(!reply.is_null());
        assert!(Reply::from_text("null").unwrap().is_null());
        assert!(Reply::from_text(" null ").unwrap().is_null());
        assert!(Reply::from_text("{\"a\":").is_err());
        assert!(Reply::from_text("1 2").is_err());
    }

    #[test]
    fn replies_in_different_forms_compare_by_value() {
        let text = Reply::from_text(r#"[1, {"a": null}]"#).unwrap();
        let value = Reply::from(json!([1, {"a": null}]));
        assert_eq!(text, value);
        assert_eq!(text.into_json(), value.into_json());
    }
}
