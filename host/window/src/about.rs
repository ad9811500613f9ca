//! The About tab: what support asks for. `GET /api/about` answers
//! `{"debug_information": [...], "versions": {...}, "paths": {...}, "environment": {...}}`:
//! the `ftrack.connect.plugin.debug-information` answers (the host's and each plugin's), the
//! versions, where things are, and the environment with every secret replaced by
//! [`REDACTED`], so the whole page can be copied into a support ticket.

use axum::extract::State;
use axum::response::Response;
use serde_json::{Map, Value};

use crate::api::blocking;
use crate::App;

/// What a secret's value is shown as.
pub const REDACTED: &str = "(redacted)";

/// Words that make a variable a secret wherever they appear in its name.
const SECRET_WORDS: [&str; 12] = [
    "KEY",
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "PASS",
    "SECRET",
    "CREDENTIAL",
    "AUTH",
    "DSN",
    "COOKIE",
    "SESSION",
    "PRIVATE",
];

/// Whether the variable `name` holds a secret (an API key, a token, a password...).
fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|word| name.contains(word))
}

/// `value` without the user information of a URL such as `https://user:secret@proxy:8080`
/// or `https://KEY@sentry.example/1` (a key may stand there alone).
fn without_url_password(value: &str) -> String {
    let Some((scheme, rest)) = value.split_once("://") else {
        return value.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://{REDACTED}@{host}{}", &rest[authority_end..]),
        _ => value.to_string(),
    }
}

/// The environment as About shows it.
pub(crate) fn redacted(environment: &Map<String, Value>) -> Map<String, Value> {
    environment
        .iter()
        .map(|(name, value)| {
            let shown = match value.as_str() {
                _ if is_secret(name) => REDACTED.to_string(),
                Some(text) => without_url_password(text),
                None => value.to_string(),
            };
            (name.clone(), Value::String(shown))
        })
        .collect()
}

pub(crate) async fn about(State(app): State<App>) -> Response {
    blocking(app.host.clone(), |host| {
        let mut about = host.about();
        if let Some(Value::Object(environment)) = about.get("environment") {
            let shown = redacted(environment);
            about["environment"] = Value::Object(shown);
        }
        about
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_and_the_rest_is_kept() {
        let environment = json!({
            "FTRACK_API_KEY": "abc",
            "FTRACK_API_USER": "jane",
            "MY_TOKEN": "t",
            "db_password": "p",
            "AWS_SECRET_ACCESS_KEY": "s",
            "HTTPS_PROXY": "http://jane:hunter2@proxy:3128/x",
            "SENTRY_URL": "https://abc123@sentry.example/1",
            "FTRACK_SERVER": "https://studio.ftrackapp.com",
            "PATH": "/usr/bin",
        });
        let shown = redacted(environment.as_object().unwrap());
        assert_eq!(
            Value::Object(shown),
            json!({
                "FTRACK_API_KEY": REDACTED,
                "FTRACK_API_USER": "jane",
                "MY_TOKEN": REDACTED,
                "db_password": REDACTED,
                "AWS_SECRET_ACCESS_KEY": REDACTED,
                "HTTPS_PROXY": format!("http://{REDACTED}@proxy:3128/x"),
                "SENTRY_URL": format!("https://{REDACTED}@sentry.example/1"),
                "FTRACK_SERVER": "https://studio.ftrackapp.com",
                "PATH": "/usr/bin",
            })
        );
    }
}
