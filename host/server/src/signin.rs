//! Sign-in through the browser, as ftrack Connect does it: Connect opens
//! `/user/api_credentials?identifier=ftrack-connect-<user>@<host>&redirect_url=http://localhost:<port>`
//! and waits for the browser to come back to that loopback address with `api_user` and
//! `api_key` in the query.
//!
//! The page asks which of the server's users is signing in, and the confirmation makes that
//! user a new API key, named after the client's identifier (the keys the user already has keep
//! working). There are no passwords on this server, so what protects a key is who can reach
//! the page: the confirmation is only served to browsers on this machine, only sends keys to
//! loopback addresses, carries a one-use token from the page it came from, and must come from
//! the server's own page (`Origin`), so another web site cannot submit it for the user.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::api::Api;
use crate::users;

/// How long a sign-in page's token stays good.
const PAGE_VALIDITY: Duration = Duration::from_secs(600);

/// Sign-in pages waiting for their confirmation, at most.
const MAX_PENDING: usize = 1000;

/// Sign-in pages shown and not yet confirmed.
#[derive(Default)]
pub(crate) struct SignIns {
    pending: Mutex<HashMap<String, Pending>>,
}

struct Pending {
    identifier: String,
    redirect_url: String,
    expires: Instant,
}

/// `GET /user/api_credentials?identifier=...&redirect_url=...`: the page.
pub(crate) async fn page(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !peer.ip().is_loopback() {
        return refuse(StatusCode::FORBIDDEN, "browser sign-in is only offered on the server's own machine: ask its operator for a key (ftrack-connect server user add)");
    }
    let identifier = query.get("identifier").cloned().unwrap_or_default();
    let Some(redirect_url) = query.get("redirect_url").filter(|u| is_loopback_url(u)) else {
        return refuse(StatusCode::BAD_REQUEST, "the redirect_url is not an http address on this machine (localhost, 127.0.0.1 or [::1]): no key is sent anywhere else");
    };
    let token = format!("{}", uuid::Uuid::new_v4().simple());
    {
        let mut pending = api
            .sign_ins()
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        pending.retain(|_, p| p.expires > now);
        if pending.len() >= MAX_PENDING {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many sign-ins are waiting",
            );
        }
        pending.insert(
            token.clone(),
            Pending {
                identifier: identifier.clone(),
                redirect_url: redirect_url.clone(),
                expires: now + PAGE_VALIDITY,
            },
        );
    }
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign in</title></head>\
         <body style=\"font-family: sans-serif; max-width: 32em; margin: 4em auto\">\
         <h1>Sign in to this ftrack server</h1>\
         <p><b>{}</b> asks for an API key, to be sent to <code>{}</code>.</p>\
         <form method=\"post\" action=\"/user/api_credentials\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <label>User name <input name=\"username\" autofocus required></label>\
         <button type=\"submit\">Sign in</button></form>\
         <p>Close this page to refuse.</p></body></html>",
        escape(&identifier),
        escape(redirect_url),
    ))
    .into_response()
}

/// The confirmation form's fields.
#[derive(serde::Deserialize)]
pub(crate) struct Confirmation {
    token: String,
    username: String,
}

/// `POST /user/api_credentials`: the confirmation; redirects to the client with the key.
pub(crate) async fn confirm(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Confirmation>,
) -> Response {
    if !peer.ip().is_loopback() {
        return refuse(
            StatusCode::FORBIDDEN,
            "browser sign-in is only offered on the server's own machine",
        );
    }
    let own_origin = format!("http://{}", api.address());
    let origin = headers.get("origin").and_then(|o| o.to_str().ok());
    if origin != Some(own_origin.as_str()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "the confirmation must come from this server's own sign-in page",
        );
    }
    let pending = api
        .sign_ins()
        .pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&form.token)
        .filter(|p| p.expires > Instant::now());
    let Some(pending) = pending else {
        return refuse(
            StatusCode::FORBIDDEN,
            "this sign-in page has expired or was used: start the sign-in again",
        );
    };
    let label = if pending.identifier.is_empty() {
        "browser sign-in"
    } else {
        &pending.identifier
    };
    let checking = api.clone();
    let username = form.username.trim().to_string();
    let asked = username.clone();
    let label = label.to_string();
    let key = tokio::task::spawn_blocking(move || users::add_key(checking.db(), &asked, &label))
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    let Some(key) = key else {
        return refuse(
            StatusCode::FORBIDDEN,
            "there is no such user on this server",
        );
    };
    tracing::info!(
        "sign-in: a new API key for {username} ({})",
        pending.identifier
    );
    let separator = if pending.redirect_url.contains('?') {
        '&'
    } else {
        '?'
    };
    Redirect::to(&format!(
        "{}{separator}api_user={}&api_key={key}",
        pending.redirect_url,
        percent_encode(&username)
    ))
    .into_response()
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (
        status,
        Html(format!("<!doctype html><p>{}</p>", escape(why))),
    )
        .into_response()
}

/// Whether `url` is a plain `http` address on this machine.
fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((v6, "")) => (format!("[{v6}]"), None),
            Some((v6, port)) => match port.strip_prefix(':') {
                Some(port) => (format!("[{v6}]"), Some(port)),
                None => return false,
            },
            None => return false,
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host.to_string(), Some(port)),
            None => (authority.to_string(), None),
        },
    };
    let port_ok = port.is_none_or(|digits| digits.parse::<u16>().is_ok());
    // (An `@` would make what precedes it a user name and the rest the host.)
    port_ok
        && !authority.contains('@')
        && matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_addresses_get_keys() {
        for good in [
            "http://localhost:53211",
            "http://localhost:53211/",
            "http://127.0.0.1:8000/done?x=1",
            "http://[::1]:9000",
        ] {
            assert!(is_loopback_url(good), "{good}");
        }
        for bad in [
            "https://localhost:1",
            "http://example.com",
            "http://localhost.example.com:80",
            "http://localhost@evil.com",
            "http://evil.com#@localhost",
            "http://127.0.0.2:80",
            "http://localhost:99999",
            "ftp://localhost",
            "",
        ] {
            assert!(!is_loopback_url(bad), "{bad}");
        }
    }

    #[test]
    fn text_is_escaped_and_encoded() {
        assert_eq!(
            escape("<a href=\"x\">'"),
            "&lt;a href=&quot;x&quot;&gt;&#39;"
        );
        assert_eq!(percent_encode("a b@c"), "a%20b%40c");
    }
}
