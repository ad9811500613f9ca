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
//!
//! **Names are checked** wherever they come from (a config, a hook's `integration.env`, a
//! hook's changes to `data.options.env`): a name that is empty or holds `=` or a NUL byte is
//! refused ([`check_name`]), because the OS cannot pass it on as written: `A=B` would reach
//! the program as `A` holding `B=...`, and a NUL makes the start fail altogether. A value with
//! a NUL byte is refused for the same reason. Nothing stricter is asked of names: POSIX allows
//! any other byte and Windows has names such as `ProgramFiles(x86)`.
//!
//! **Credentials are protected**: [`is_credential`] names the variables that say who the
//! program acts for (`FTRACK_SERVER`, `FTRACK_API_USER`, `FTRACK_API_KEY`, ...). They are the
//! signed-in user's; configs and hooks may not change them unless the host runs with
//! [`ALLOW_CREDENTIALS_VAR`]`=1` ([`Credentials`]).

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

/// Splits `key` as [`split_action`] does and checks the name with [`check_name`].
pub fn parse_key(key: &str) -> Result<(&str, EnvAction), String> {
    let (name, action) = split_action(key)?;
    check_name(name).map_err(|reason| format!("{key:?}: {reason}"))?;
    Ok((name, action))
}

/// Whether `name` can be given to a program as it is written; see the module documentation.
/// The error says what is wrong with it (it completes "`KEY`: ").
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("no variable name".into())
    } else if name.contains('=') {
        Err(format!(
            "the name {name:?} contains `=`, which would end it there"
        ))
    } else if name.contains('\0') {
        Err(format!("the name {name:?} contains a NUL byte"))
    } else {
        Ok(())
    }
}

/// Names the host environment variable that lets configs and hooks set credentials.
pub const ALLOW_CREDENTIALS_VAR: &str = "FTRACK_CONNECT_ALLOW_CREDENTIALS_OVERRIDE";

/// Whether launcher configs and launch hooks may set the credential variables
/// ([`is_credential`]).
///
/// The switch is a variable of the host's environment rather than a key of a config: whether
/// programs may be started as someone other than the signed-in user is the decision of whoever
/// deploys the host (a render-farm submitter running under a service account), not of the
/// files that would do the replacing. A config key would let any plugin folder grant itself
/// the right, and could not cover hooks; one switch covers configs and hooks alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Credentials {
    /// The signed-in values win; every attempt to change them is a warning.
    #[default]
    Protected,
    /// Configs and hooks may set them, in the usual order (the host runs with
    /// [`ALLOW_CREDENTIALS_VAR`]`=1`).
    Overridable,
}

impl Credentials {
    /// [`Credentials::Overridable`] when the host's [`ALLOW_CREDENTIALS_VAR`] is `1` (or
    /// `true`, `yes`), else protected.
    pub fn from_host_environment() -> Credentials {
        match std::env::var(ALLOW_CREDENTIALS_VAR) {
            Ok(value)
                if ["1", "true", "yes"].contains(&value.trim().to_ascii_lowercase().as_str()) =>
            {
                Credentials::Overridable
            }
            _ => Credentials::Protected,
        }
    }

    /// Why a change to the credential `name` is refused: names the variable, never the value
    /// (it may be a key).
    pub fn refusal(name: &str) -> String {
        format!(
            "{name} is a credential of the signed-in user, which launcher configs and launch \
             hooks may not change; left as signed in (the host allows changes with \
             {ALLOW_CREDENTIALS_VAR}=1)"
        )
    }
}

/// Whether `name` is a credential: `FTRACK_SERVER`, `FTRACK_APIKEY` or any `FTRACK_API_*`
/// (`FTRACK_API_KEY`, `FTRACK_API_USER`, ...). Compared without regard to case, as Windows
/// compares names; on Unix no program reads a lower-case spelling, and refusing it there too
/// keeps a config behaving the same on every platform.
pub fn is_credential(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    name == "FTRACK_SERVER" || name == "FTRACK_APIKEY" || name.starts_with("FTRACK_API_")
}

/// Checks one entry as [`apply`] would apply it, without applying it: the key, and the value
/// unless the action is `.unset`. Returns the variable's name.
pub fn check_entry<'k>(key: &'k str, value: &Value) -> Result<&'k str, String> {
    let (name, action) = parse_key(key)?;
    if action != EnvAction::Unset {
        text_of(key, value)?;
    }
    Ok(name)
}

/// `value` as text for the entry `key`, refusing a NUL byte (the OS would refuse the start).
fn text_of(key: &str, value: &Value) -> Result<String, String> {
    let text = value_text(value).map_err(|expected| format!("{key:?}: expected {expected}"))?;
    if text.contains('\0') {
        return Err(format!("{key:?}: the value contains a NUL byte"));
    }
    Ok(text)
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
                // Says what, never the value: it may be a key.
                Value::Array(_) => Err("a list of texts, not one holding a list".into()),
                Value::Object(_) => Err("a list of texts, not one holding a map".into()),
                other => value_text(other),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|parts| parts.join(&PATH_SEPARATOR.to_string())),
        Value::Null => Err("a text, not null".into()),
        Value::Object(_) => Err("a text, not a map".into()),
    }
}

/// Applies one `integration.env` entry to `env` (a map of variable name to string).
/// An entry whose name or value the OS could not pass on is refused (see [`check_name`]).
pub fn apply(env: &mut Map<String, Value>, key: &str, value: &Value) -> Result<(), String> {
    let (name, action) = parse_key(key)?;
    if action == EnvAction::Unset {
        env.remove(name);
        return Ok(());
    }
    let text = text_of(key, value)?;
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

/// Applies every entry of `edits` in order, except those that change a credential when
/// `credentials` protects them; returns the problems with entries that were not applied (the
/// others still are).
pub fn apply_all(
    env: &mut Map<String, Value>,
    edits: &Map<String, Value>,
    credentials: Credentials,
) -> Vec<String> {
    edits
        .iter()
        .filter_map(|(key, value)| {
            let name = parse_key(key).map(|(name, _)| name);
            match name {
                Ok(name) if credentials == Credentials::Protected && is_credential(name) => {
                    Some(format!("{key:?}: {}", Credentials::refusal(name)))
                }
                _ => apply(env, key, value).err(),
            }
        })
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
        assert!(apply_all(&mut vars, &edits, Credentials::Protected).is_empty());
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
        let problems = apply_all(&mut vars, &edits, Credentials::Protected);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("unknown action `.sideways`"));
        assert!(problems[1].contains("expected a text, not a map"));
        assert_eq!(Value::Object(vars), json!({"C": "ok"}));
    }

    #[test]
    fn names_the_os_cannot_pass_on_are_refused() {
        let mut vars = Map::new();
        let edits = env(json!({
            "A=B.set": "x", "NUL\0.set": "x", "": "x", "=": "x", "V.set": "a\0b",
            "ProgramFiles(x86).set": "ok", "with space": "ok",
        }));
        let problems = apply_all(&mut vars, &edits, Credentials::Protected);
        assert_eq!(
            problems,
            [
                r#""A=B.set": the name "A=B" contains `=`, which would end it there"#,
                r#""NUL\0.set": the name "NUL\0" contains a NUL byte"#,
                r#""": no variable name"#,
                r#""=": the name "=" contains `=`, which would end it there"#,
                r#""V.set": the value contains a NUL byte"#,
            ]
        );
        assert_eq!(
            Value::Object(vars),
            json!({"ProgramFiles(x86)": "ok", "with space": "ok"})
        );
        assert!(check_entry("A=B.unset", &Value::Null).is_err());
        assert_eq!(check_entry("A.unset", &Value::Null), Ok("A"));
    }

    #[test]
    fn credentials_are_protected_unless_allowed() {
        for name in [
            "FTRACK_SERVER",
            "FTRACK_API_KEY",
            "FTRACK_APIKEY",
            "FTRACK_API_USER",
            "FTRACK_API_ANYTHING",
            "ftrack_api_key",
        ] {
            assert!(is_credential(name), "{name}");
        }
        for name in [
            "FTRACK_CONNECT_EVENT",
            "FTRACK_SERVERS",
            "FTRACK_APIKEYS",
            "MY_FTRACK_API_KEY",
        ] {
            assert!(!is_credential(name), "{name}");
        }
        let edits =
            env(json!({"FTRACK_API_KEY.set": "secret", "FTRACK_SERVER.unset": null, "OK": "1"}));
        let given = env(json!({"FTRACK_SERVER": "https://signed-in"}));

        let mut vars = given.clone();
        let problems = apply_all(&mut vars, &edits, Credentials::Protected);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with(
            r#""FTRACK_API_KEY.set": FTRACK_API_KEY is a credential of the signed-in user"#
        ));
        assert!(problems
            .iter()
            .all(|p| !p.contains("secret") && p.contains(ALLOW_CREDENTIALS_VAR)));
        assert_eq!(
            Value::Object(vars),
            json!({"FTRACK_SERVER": "https://signed-in", "OK": "1"})
        );

        let mut vars = given;
        assert!(apply_all(&mut vars, &edits, Credentials::Overridable).is_empty());
        assert_eq!(
            Value::Object(vars),
            json!({"FTRACK_API_KEY": "secret", "OK": "1"})
        );
    }

    /// A malformed value is described, never quoted: it may be a key.
    #[test]
    fn problems_never_quote_values() {
        let mut vars = Map::new();
        let edits = env(json!({"A": [["secret"]], "B": [{"k": "secret"}], "C": {"k": "secret"}}));
        let problems = apply_all(&mut vars, &edits, Credentials::Overridable);
        assert_eq!(problems.len(), 3);
        assert!(
            problems.iter().all(|p| !p.contains("secret")),
            "{problems:?}"
        );
    }
}
