//! The launched program's environment, and the edits configs and hooks make to it.
//!
//! Edits are written as ftrack's integrations write them in `integration.env`: a map from
//! variable name to value, where the name may end in an action:
//!
//! | key | effect |
//! |---|---|
//! | `NAME` or `NAME.append` | adds the value at the end of the path list in `NAME` |
//! | `NAME.prepend` | adds it at the front |
//! | `NAME.set` | replaces `NAME` |
//! | `NAME.unset` | removes `NAME` (the value is ignored) |
//! | `NAME.pop` | removes the value from the path list in `NAME` |
//!
//! Path lists are joined with the OS path separator (`:`, or `;` on Windows). A value may be
//! a string, a number, a boolean, or a list of those (joined into a path list). Connect 26's
//! `environment_variables` in a launcher config use the same rules.

use serde_json::{Map, Value};

/// Separates the entries of a path list such as `PATH`.
pub const PATH_SEPARATOR: char = if cfg!(windows) { ';' } else { ':' };

/// What an `integration.env` key does to its variable; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvAction {
    /// `NAME.append` (and `NAME`): added at the end of the path list.
    Append,
    /// `NAME.prepend`: added at the start.
    Prepend,
    /// `NAME.set`: replaces the value.
    Set,
    /// `NAME.unset`: removes the variable.
    Unset,
    /// `NAME.pop`: removes the entries given from the path list.
    Pop,
}

/// Splits `NAME.action` into the variable name and its action (`append` when none is given).
pub fn split_action(key: &str) -> Result<(&str, EnvAction), String> {
    let Some((name, suffix)) = key.rsplit_once('.') else {
        return Ok((key, EnvAction::Append));
    };
    let action = match suffix {
        "append" => EnvAction::Append,
        "prepend" => EnvAction::Prepend,
        "set" => EnvAction::Set,
        "unset" => EnvAction::Unset,
        "pop" => EnvAction::Pop,
        other => {
            return Err(format!(
                "{key:?}: unknown action `.{other}` (use .append, .prepend, .set, .unset or .pop)"
            ))
        }
    };
    if name.is_empty() {
        return Err(format!("{key:?}: no variable name before `.{suffix}`"));
    }
    Ok((name, action))
}

/// An environment value as text: strings as they are, numbers and booleans written out,
/// lists joined into a path list.
pub fn value_text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Array(_) | Value::Object(_) => {
                    Err(format!("a list of texts, not one holding {item}"))
                }
                other => value_text(other),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|parts| parts.join(&PATH_SEPARATOR.to_string())),
        Value::Null => Err("a text, not null".into()),
        Value::Object(_) => Err("a text, not a map".into()),
    }
}

/// Applies one `integration.env` entry to `env` (a map of variable name to string).
pub fn apply(env: &mut Map<String, Value>, key: &str, value: &Value) -> Result<(), String> {
    let (name, action) = split_action(key)?;
    if action == EnvAction::Unset {
        env.remove(name);
        return Ok(());
    }
    let text = value_text(value).map_err(|expected| format!("{key:?}: expected {expected}"))?;
    let current = env
        .get(name)
        .and_then(Value::as_str)
        .filter(|current| !current.is_empty());
    let new = match (action, current) {
        (EnvAction::Append, Some(current)) => format!("{current}{PATH_SEPARATOR}{text}"),
        (EnvAction::Prepend, Some(current)) => format!("{text}{PATH_SEPARATOR}{current}"),
        (EnvAction::Pop, Some(current)) => {
            let remove = normalise_separators(&text);
            current
                .split(PATH_SEPARATOR)
                .filter(|entry| normalise_separators(entry) != remove)
                .collect::<Vec<_>>()
                .join(&PATH_SEPARATOR.to_string())
        }
        (EnvAction::Pop, None) => return Ok(()),
        _ => text,
    };
    env.insert(name.to_string(), Value::String(new));
    Ok(())
}

/// Applies every entry of `edits` in order; returns the problems with entries that could not
/// be applied (the others still are).
pub fn apply_all(env: &mut Map<String, Value>, edits: &Map<String, Value>) -> Vec<String> {
    edits
        .iter()
        .filter_map(|(key, value)| apply(env, key, value).err())
        .collect()
}

/// ftrack compares path entries with `\` and `/` made equal.
fn normalise_separators(path: &str) -> String {
    path.replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn every_action() {
        let sep = PATH_SEPARATOR;
        let mut vars = env(
            json!({"A": "/a", "B": "/b", "C": "old", "D": "x", "E": format!("/1{sep}/2{sep}/3")}),
        );
        let edits = env(json!({
            "A": "/a2",
            "B.prepend": "/b0",
            "C.set": 5,
            "D.unset": null,
            "E.pop": "/2",
            "F.append": ["/f1", "/f2"],
            "G.prepend": "/g",
        }));
        assert!(apply_all(&mut vars, &edits).is_empty());
        assert_eq!(
            Value::Object(vars),
            json!({
                "A": format!("/a{sep}/a2"), "B": format!("/b0{sep}/b"), "C": "5",
                "E": format!("/1{sep}/3"), "F": format!("/f1{sep}/f2"), "G": "/g",
            })
        );
    }

    #[test]
    fn bad_entries_are_reported_and_skipped() {
        let mut vars = Map::new();
        let edits =
            env(json!({"A.sideways": "x", "B": {"no": "maps"}, "C.set": "ok", ".set": "x"}));
        let problems = apply_all(&mut vars, &edits);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("unknown action `.sideways`"));
        assert!(problems[1].contains("expected a text, not a map"));
        assert_eq!(Value::Object(vars), json!({"C": "ok"}));
    }
}
