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
//! The form is open: the core does not know the loaders, so a loader brings its own
//! [`ResultForm`] (and reads its own form back with [`Reply::downcast`] without a
//! conversion). A reply is checked when the handler returns it (a Rhai value that JSON cannot
//! hold, text that is not JSON): a bad result is the handler's failure, reported with its
//! plugin's name, and never an error for whoever reads the results later.

use std::any::Any;
use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// A loader's own form of a handler result.
///
/// Implementations guarantee that the value is JSON: [`ResultForm::to_json`] cannot fail, and
/// [`ResultForm::json_text`], when given, is well-formed JSON text.
pub trait ResultForm: fmt::Debug + Send + Sync + 'static {
    /// Whether the result is `null` (a handler that returned nothing). Asynchronous
    /// publishes send no reply for it.
    fn is_null(&self) -> bool;

    /// The result as a JSON value.
    fn to_json(&self) -> Value;

    /// The result as JSON text, when that is the form it is kept in: it is then written out as
    /// it is, without a parse.
    fn json_text(&self) -> Option<&str> {
        None
    }

    /// For [`Reply::downcast`].
    fn as_any(&self) -> &dyn Any;

    /// For [`Reply::downcast`].
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

/// One handler's result.
#[derive(Debug)]
pub enum Reply {
    /// A JSON value (from a handler written in Rust inside the host).
    Json(Value),
    /// A loader's own form.
    Form(Box<dyn ResultForm>),
}

impl Reply {
    /// A reply in a loader's own form.
    pub fn form(form: impl ResultForm) -> Self {
        Reply::Form(Box::new(form))
    }

    /// Whether the result is `null`.
    pub fn is_null(&self) -> bool {
        match self {
            Reply::Json(value) => value.is_null(),
            Reply::Form(form) => form.is_null(),
        }
    }

    /// The result as a JSON value.
    pub fn to_json(&self) -> Value {
        match self {
            Reply::Json(value) => value.clone(),
            Reply::Form(form) => form.to_json(),
        }
    }

    /// The result as a JSON value, without a copy when it already is one.
    pub fn into_json(self) -> Value {
        match self {
            Reply::Json(value) => value,
            Reply::Form(form) => form.to_json(),
        }
    }

    /// The reply's own form when it is a `T`; the reply unchanged otherwise.
    pub fn downcast<T: ResultForm>(self) -> Result<T, Reply> {
        match self {
            Reply::Form(form) if form.as_any().is::<T>() => Ok(*form
                .into_any()
                .downcast::<T>()
                .expect("the form was checked to be a T")),
            other => Err(other),
        }
    }
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

/// Writes the reply as JSON; a form kept as JSON text goes out as it is.
impl Serialize for Reply {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Reply::Json(value) => value.serialize(serializer),
            Reply::Form(form) => match form.json_text() {
                Some(text) => {
                    let raw: &RawValue =
                        serde_json::from_str(text).map_err(serde::ser::Error::custom)?;
                    raw.serialize(serializer)
                }
                None => form.to_json().serialize(serializer),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A form kept as text, as the native loader keeps its results.
    #[derive(Debug)]
    struct Text(&'static str);

    impl ResultForm for Text {
        fn is_null(&self) -> bool {
            self.0 == "null"
        }
        fn to_json(&self) -> Value {
            serde_json::from_str(self.0).unwrap()
        }
        fn json_text(&self) -> Option<&str> {
            Some(self.0)
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
        fn into_any(self: Box<Self>) -> Box<dyn Any> {
            self
        }
    }

    #[test]
    fn text_forms_are_written_out_as_they_came() {
        let text = r#"{"z":1,"a":[1.5,"x"]}"#;
        let reply = Reply::form(Text(text));
        assert_eq!(serde_json::to_string(&reply).unwrap(), text);
        assert_eq!(reply, json!({"z": 1, "a": [1.5, "x"]}));
        assert!(!reply.is_null());
        assert!(Reply::form(Text("null")).is_null());
    }

    #[test]
    fn replies_in_different_forms_compare_by_value_and_downcast_to_their_own() {
        let text = Reply::form(Text(r#"[1, {"a": null}]"#));
        let value = Reply::from(json!([1, {"a": null}]));
        assert_eq!(text, value);
        assert!(value.downcast::<Text>().is_err());
        assert_eq!(text.downcast::<Text>().unwrap().0, r#"[1, {"a": null}]"#);
    }
}
