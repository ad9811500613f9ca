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
//!
//! This module holds the rules and the pages waiting for their confirmation; the routes that
//! apply them (and make the key) are `crate::http`'s.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;

/// How long a sign-in page's token stays good.
const PAGE_VALIDITY: Duration = Duration::from_secs(600);

/// Sign-in pages waiting for their confirmation, at most.
const MAX_PENDING: usize = 1000;

/// Why a sign-in step was refused, each with what the person in front of the browser can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SignInRefusal {
    /// The browser is on another machine.
    #[error(
        "browser sign-in is only offered on the server's own machine: ask its operator for a \
         key (ftrack-connect server user add)"
    )]
    NotLocal,
    /// The key would go somewhere other than this machine.
    #[error(
        "the redirect_url is not an http address on this machine (localhost, 127.0.0.1 or \
         [::1]): no key is sent anywhere else"
    )]
    NotLoopbackRedirect,
    /// Too many pages wait for their confirmation.
    #[error("too many sign-ins are waiting: try again in a few minutes")]
    TooMany,
    /// The confirmation was not sent from this server's page (another site's form).
    #[error("the confirmation must come from this server's own sign-in page")]
    ForeignOrigin,
    /// The page's token is unknown, used or too old.
    #[error("this sign-in page has expired or was used: start the sign-in again")]
    Expired,
    /// The user name is not one of the server's users.
    #[error("there is no such user on this server: check the name, or ask the server's operator")]
    NoSuchUser,
}

impl SignInRefusal {
    /// The HTTP status it is answered with.
    pub(crate) fn status(self) -> StatusCode {
        match self {
            SignInRefusal::NotLoopbackRedirect => StatusCode::BAD_REQUEST,
            SignInRefusal::TooMany => StatusCode::SERVICE_UNAVAILABLE,
            SignInRefusal::NotLocal
            | SignInRefusal::ForeignOrigin
            | SignInRefusal::Expired
            | SignInRefusal::NoSuchUser => StatusCode::FORBIDDEN,
        }
    }
}

/// Sign-in pages shown and not yet confirmed.
#[derive(Default)]
pub(crate) struct SignIns {
    pending: Mutex<HashMap<String, Pending>>,
}

/// A page shown: who asked, and where the key is to go.
pub(crate) struct Pending {
    /// The client's identifier (`ftrack-connect-<user>@<host>`), the new key's label.
    pub(crate) identifier: String,
    /// The loopback address the browser is sent back to with the key.
    pub(crate) redirect_url: String,
    expires: Instant,
}

impl SignIns {
    /// Opens a sign-in for `identifier`, whose key is to go to `redirect_url`: the page's
    /// one-use token.
    pub(crate) fn open(
        &self,
        identifier: &str,
        redirect_url: &str,
    ) -> Result<String, SignInRefusal> {
        if !is_loopback_url(redirect_url) {
            return Err(SignInRefusal::NotLoopbackRedirect);
        }
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        pending.retain(|_, p| p.expires > now);
        if pending.len() >= MAX_PENDING {
            return Err(SignInRefusal::TooMany);
        }
        let token = format!("{}", uuid::Uuid::new_v4().simple());
        pending.insert(
            token.clone(),
            Pending {
                identifier: identifier.to_string(),
                redirect_url: redirect_url.to_string(),
                expires: now + PAGE_VALIDITY,
            },
        );
        Ok(token)
    }

    /// The sign-in of the page with `token`, which is used up.
    pub(crate) fn take(&self, token: &str) -> Result<Pending, SignInRefusal> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token)
            .filter(|p| p.expires > Instant::now())
            .ok_or(SignInRefusal::Expired)
    }
}

impl Pending {
    /// The name the new key is given: the client's identifier.
    pub(crate) fn label(&self) -> &str {
        if self.identifier.is_empty() {
            "browser sign-in"
        } else {
            &self.identifier
        }
    }

    /// Where the browser goes with `username`'s new `key`.
    pub(crate) fn redirect(&self, username: &str, key: &str) -> String {
        let separator = if self.redirect_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{separator}api_user={}&api_key={key}",
            self.redirect_url,
            percent_encode(username)
        )
    }
}

/// The page asking which user signs in, with the form that confirms it.
pub(crate) fn page(identifier: &str, redirect_url: &str, token: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign in</title></head>\
         <body style=\"font-family: sans-serif; max-width: 32em; margin: 4em auto\">\
         <h1>Sign in to this ftrack server</h1>\
         <p><b>{}</b> asks for an API key, to be sent to <code>{}</code>.</p>\
         <form method=\"post\" action=\"/user/api_credentials\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <label>User name <input name=\"username\" autofocus required></label>\
         <button type=\"submit\">Sign in</button></form>\
         <p>Close this page to refuse.</p></body></html>",
        escape(identifier),
        escape(redirect_url),
    )
}

/// The page saying why a sign-in was refused.
pub(crate) fn refusal_page(refusal: SignInRefusal) -> String {
    format!("<!doctype html><p>{}</p>", escape(&refusal.to_string()))
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
    /// What stays as it is in a query value: RFC 3986's unreserved characters.
    const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, QUERY_VALUE).to_string()
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
