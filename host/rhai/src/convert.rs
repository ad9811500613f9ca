//! Between Rhai values and JSON: a hook's results, the event's data, subscriber metadata.

use super::*;

/// A Rhai hook's result, kept as Rhai values until read (see [`connect_core::reply`]); only types
/// JSON can hold.
#[derive(Debug, Clone)]
pub struct ScriptValue(pub(crate) Dynamic);

impl ScriptValue {
    /// The reply for a script's return value: kept as it is when [`to_json`] converts it
    /// directly (it then cannot fail), converted now otherwise; `Err` when JSON cannot hold it.
    pub(crate) fn reply(value: Dynamic) -> Result<Reply, NotJson> {
        // Rhai returns values, never a script's variable itself (even a captured one):
        // `results_handed_to_a_publishing_hook_are_its_own` holds it to that.
        if is_plain_json(&value) {
            Ok(Reply::form(ScriptValue(value)))
        } else {
            to_json(&value).map(Reply::Json)
        }
    }

    /// The value for another script (a hook that published).
    pub(crate) fn into_dynamic(self) -> Dynamic {
        self.0
    }
}

impl ResultForm for ScriptValue {
    fn is_null(&self) -> bool {
        self.0.is_unit()
    }

    fn to_json(&self) -> Value {
        to_json(&self.0).expect("a ScriptValue holds only types to_json converts")
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// Whether `value` is made only of what [`to_json`] converts directly, without fail.
pub(crate) fn is_plain_json(value: &Dynamic) -> bool {
    if value.is_unit() || value.is_string() || value.is_int() || value.is_bool() {
        return true;
    }
    if value.is_float() {
        return value.as_float().is_ok_and(f64::is_finite);
    }
    if value.is_map() {
        return value
            .read_lock::<RhaiMap>()
            .is_some_and(|map| map.values().all(is_plain_json));
    }
    if value.is_array() {
        return value
            .read_lock::<Array>()
            .is_some_and(|array| array.iter().all(is_plain_json));
    }
    false
}

/// Why a script value is not JSON, and where in it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NotJson {
    /// What JSON cannot hold.
    reason: String,
    /// Where the value was, outermost first: `.key` and `[index]` steps.
    path: Vec<String>,
}

impl NotJson {
    fn new(reason: impl Into<String>) -> Self {
        NotJson {
            reason: reason.into(),
            path: Vec::new(),
        }
    }

    /// The same, found inside the item at `step` of a map or array (called while returning
    /// from the item, so the steps come innermost first and are put in front).
    fn inside(mut self, step: String) -> Self {
        self.path.insert(0, step);
        self
    }

    /// The reason and where, counted from `root` (`event.data`, or `""` for a value of its
    /// own such as a handler's result).
    pub(crate) fn describe(&self, root: &str) -> String {
        let mut at = root.to_string();
        for step in &self.path {
            match step.strip_prefix('.') {
                Some(key) if at.is_empty() => at.push_str(key),
                _ => at.push_str(step),
            }
        }
        if at.is_empty() {
            self.reason.clone()
        } else {
            format!("{} at {at}", self.reason)
        }
    }
}

impl fmt::Display for NotJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(""))
    }
}

/// The step to `key` in a path: `.key`, or `["key"]` for a key that is not a name.
fn key_step(key: &str) -> String {
    let name = key.starts_with(|c: char| c.is_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_alphanumeric() || c == '_');
    if name {
        format!(".{key}")
    } else {
        format!("[{key:?}]")
    }
}

/// JSON for a script's value. The common types are converted directly (going through serde
/// for every value doubled the cost of a simple handler); anything else goes through
/// Rhai's serde support, which says what cannot be JSON. Infinity and NaN are refused: serde
/// would turn them into `null` without a word.
pub(crate) fn to_json(value: &Dynamic) -> Result<Value, NotJson> {
    // Type tests first: a failed `as_*` builds an error naming the type, which costs more
    // than the conversion.
    if value.is_unit() {
        return Ok(Value::Null);
    }
    if value.is_map() {
        if let Some(map) = value.read_lock::<RhaiMap>() {
            let mut object = serde_json::Map::with_capacity(map.len());
            for (key, item) in map.iter() {
                let item = to_json(item).map_err(|e| e.inside(key_step(key)))?;
                object.insert(key.as_str().to_owned(), item);
            }
            return Ok(Value::Object(object));
        }
    }
    if value.is_string() {
        if let Ok(text) = value.as_immutable_string_ref() {
            return Ok(Value::String(text.as_str().to_owned()));
        }
    }
    if value.is_array() {
        if let Some(array) = value.read_lock::<Array>() {
            return array
                .iter()
                .enumerate()
                .map(|(index, item)| to_json(item).map_err(|e| e.inside(format!("[{index}]"))))
                .collect::<Result<_, _>>()
                .map(Value::Array);
        }
    }
    if value.is_int() {
        if let Ok(number) = value.as_int() {
            return Ok(Value::from(number));
        }
    }
    if value.is_bool() {
        if let Ok(flag) = value.as_bool() {
            return Ok(Value::Bool(flag));
        }
    }
    if value.is_float() {
        if let Ok(float) = value.as_float() {
            return match serde_json::Number::from_f64(float) {
                Some(number) => Ok(Value::Number(number)),
                None => Err(NotJson::new(format!(
                    "JSON has no infinity or NaN ({float})"
                ))),
            };
        }
    }
    rhai::serde::from_dynamic::<Value>(value).map_err(|e| NotJson::new(e.to_string()))
}

/// Rhai values for JSON, directly (see [`to_json`]); numbers beyond `i64` go through serde.
pub(crate) fn to_dynamic(value: &Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(flag) => Dynamic::from_bool(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(int) => Dynamic::from_int(int),
            None => rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT),
        },
        Value::String(text) => Dynamic::from(ImmutableString::from(text.as_str())),
        Value::Array(items) => Dynamic::from_array(items.iter().map(to_dynamic).collect()),
        Value::Object(object) => Dynamic::from_map(
            object
                .iter()
                .map(|(key, item)| (key.as_str().into(), to_dynamic(item)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn script_value(source: &str) -> Dynamic {
        Engine::new().eval::<Dynamic>(source).unwrap()
    }

    #[test]
    fn script_values_convert_to_the_json_they_look_like() {
        let value = script_value(
            r#"#{ name: "maya", versions: [2024, 2025.5], ok: true, none: (), nested: #{ a: [] } }"#,
        );
        assert_eq!(
            to_json(&value).unwrap(),
            json!({"name": "maya", "versions": [2024, 2025.5], "ok": true, "none": null,
                   "nested": {"a": []}})
        );
        assert!(is_plain_json(&value));
    }

    #[test]
    fn json_converts_to_script_values_and_back_unchanged() {
        let original = json!({
            "s": "text", "i": -3, "f": 0.25, "b": false, "n": null,
            "list": [1, "two", [3]], "map": {"k": {"deep": true}},
            "big": 18446744073709551615u64
        });
        let value = to_dynamic(&original);
        assert_eq!(value.type_name(), "map");
        let back = to_json(&value).unwrap();
        // Numbers beyond i64 come back as floats, as Rhai holds them.
        let mut expected = original.clone();
        expected["big"] = json!(18446744073709551615u64 as f64);
        assert_eq!(back, expected);
    }

    #[test]
    fn plain_results_stay_script_values_and_others_are_converted_or_refused() {
        let plain = ScriptValue::reply(script_value(r#"#{ items: [#{ label: "x" }] }"#)).unwrap();
        assert_eq!(plain, json!({"items": [{"label": "x"}]}));
        assert!(
            plain.downcast::<ScriptValue>().is_ok(),
            "kept as script values"
        );

        let char_value = ScriptValue::reply(script_value("'c'")).unwrap();
        assert_eq!(char_value, json!("c"), "a char goes through serde");
        assert!(
            char_value.downcast::<ScriptValue>().is_err(),
            "converted now"
        );

        let infinite = ScriptValue::reply(script_value("#{ ok: [1, #{ ratio: 1.0 / 0.0 }] }"));
        assert_eq!(
            infinite.unwrap_err().to_string(),
            "JSON has no infinity or NaN (inf) at ok[1].ratio"
        );
        let nan = to_json(&script_value(r#"#{ "a b": [0.0 / 0.0] }"#)).unwrap_err();
        assert_eq!(
            nan.describe("event.data"),
            r#"JSON has no infinity or NaN (NaN) at event.data["a b"][0]"#
        );
        assert_eq!(
            to_json(&script_value("-1.0 / 0.0"))
                .unwrap_err()
                .to_string(),
            "JSON has no infinity or NaN (-inf)"
        );

        let function = script_value(r#"Fn("f")"#);
        assert!(!is_plain_json(&function));
        assert!(
            ScriptValue::reply(function).is_err(),
            "a function is no JSON"
        );
        assert!(ScriptValue::reply(Dynamic::UNIT).unwrap().is_null());
    }
}
