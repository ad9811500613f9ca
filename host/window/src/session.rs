//! Who may use the window: one-time sign-in links, and the sessions they start.
//!
//! `ftrack-connect open` asks the running host (through its token-checked endpoint) for a
//! sign-in link and gives it to the browser. Following the link once, within
//! [`LINK_LIFETIME`], starts a session: the browser gets a random session id in an
//! `HttpOnly`, `SameSite=Strict` cookie, and every later request must carry it. So only
//! someone who can read the user's `endpoint.json` (the user) can open the window; another
//! local user or a web page can reach the port, but not use it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a sign-in link can be followed.
pub const LINK_LIFETIME: Duration = Duration::from_secs(60);

/// The most links waiting to be followed; asking for more forgets the oldest.
const MAX_LINKS: usize = 16;

/// The most sessions at once (browsers, tabs that each followed a link); more end the oldest.
const MAX_SESSIONS: usize = 32;

/// The name of the session cookie.
pub const COOKIE: &str = "connect_session";

/// The links waiting to be followed and the sessions started.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Link code → when it expires.
    links: HashMap<String, Instant>,
    /// Sessions, oldest first.
    sessions: VecDeque<Session>,
    /// Server sign-ins through the browser under way: state → (the server, when it expires).
    server_sign_ins: HashMap<String, (String, Instant)>,
}

/// A signed-in browser.
struct Session {
    /// The id its cookie carries.
    id: String,
    /// What its plugin tabs' addresses carry instead: a sandboxed tab has no cookie (see
    /// `widgets`), and must never learn the session id.
    widget_token: String,
}

impl Sessions {
    /// A new one-time code for a sign-in link.
    pub fn new_link(&self) -> String {
        let code = random_id();
        let mut inner = self.lock();
        let now = Instant::now();
        inner.links.retain(|_, expires| *expires > now);
        if inner.links.len() >= MAX_LINKS {
            if let Some(oldest) = inner
                .links
                .iter()
                .min_by_key(|(_, expires)| **expires)
                .map(|(code, _)| code.clone())
            {
                inner.links.remove(&oldest);
            }
        }
        inner.links.insert(code.clone(), now + LINK_LIFETIME);
        code
    }

    /// Takes `code` as a sign-in link, for [`LINK_LIFETIME`]: a restarted window accepts the
    /// link its previous run gave the page (see `Handover`).
    pub fn accept_link(&self, code: &str) {
        self.lock()
            .links
            .insert(code.to_string(), Instant::now() + LINK_LIFETIME);
    }

    /// A one-time state for a sign-in to `server` through its web page (it may take a while:
    /// ten minutes).
    pub fn new_server_sign_in(&self, server: &str) -> String {
        let state = random_id();
        let mut inner = self.lock();
        let now = Instant::now();
        inner
            .server_sign_ins
            .retain(|_, (_, expires)| *expires > now);
        if inner.server_sign_ins.len() >= MAX_LINKS {
            inner.server_sign_ins.clear();
        }
        let expires = now + Duration::from_secs(600);
        inner
            .server_sign_ins
            .insert(state.clone(), (server.to_string(), expires));
        state
    }

    /// The server a sign-in `state` was for, if it is one and has not expired; spent.
    pub fn take_server_sign_in(&self, state: &str) -> Option<String> {
        let (server, expires) = self.lock().server_sign_ins.remove(state)?;
        (expires > Instant::now()).then_some(server)
    }

    /// Follows the link `code`: a new session id, or `None` if the code is unknown, was
    /// followed already or has expired. Either way the code is spent.
    pub fn redeem(&self, code: &str) -> Option<String> {
        let mut inner = self.lock();
        let expires = inner.links.remove(code)?;
        if expires <= Instant::now() {
            return None;
        }
        let session = random_id();
        if inner.sessions.len() >= MAX_SESSIONS {
            inner.sessions.pop_front();
        }
        inner.sessions.push_back(Session {
            id: session.clone(),
            widget_token: random_id(),
        });
        Some(session)
    }

    /// Whether `session` is a session that has not ended.
    pub fn is_valid(&self, session: &str) -> bool {
        self.lock().sessions.iter().any(|s| s.id == session)
    }

    /// The token of `session`'s plugin tab addresses, while it lasts.
    pub fn widget_token(&self, session: &str) -> Option<String> {
        let inner = self.lock();
        let found = inner.sessions.iter().find(|s| s.id == session);
        found.map(|s| s.widget_token.clone())
    }

    /// Whether `token` is the plugin tab token of a session that has not ended.
    pub fn is_widget_token(&self, token: &str) -> bool {
        self.lock().sessions.iter().any(|s| s.widget_token == token)
    }

    /// Ends `session` (sign-out).
    pub fn end(&self, session: &str) {
        self.lock().sessions.retain(|s| s.id != session);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A code for the next run of the window to accept as a sign-in link (see `Handover`): never
/// one this run accepts, so the page cannot spend it here before the restart.
pub fn handover_code() -> String {
    random_id()
}

/// 244 random bits as hex, from the OS generator (two uuid v4s).
fn random_id() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The session id in a `Cookie` header, if there is one.
pub fn session_of(cookie_header: &str) -> Option<&str> {
    cookie_header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == COOKIE).then_some(value)
    })
}

/// The session id in a request's `Cookie` headers, if there is one.
pub fn session_in(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .find_map(|cookie| cookie.to_str().ok().and_then(session_of))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_followed_once() {
        let sessions = Sessions::default();
        let code = sessions.new_link();
        let session = sessions.redeem(&code).expect("first time");
        assert!(sessions.is_valid(&session));
        assert_eq!(sessions.redeem(&code), None, "second time");
        assert_eq!(sessions.redeem("made-up"), None);
        sessions.end(&session);
        assert!(!sessions.is_valid(&session));
    }

    #[test]
    fn links_and_sessions_are_bounded() {
        let sessions = Sessions::default();
        let codes: Vec<String> = (0..MAX_LINKS + 1).map(|_| sessions.new_link()).collect();
        assert_eq!(
            sessions.redeem(&codes[0]),
            None,
            "the oldest link was forgotten"
        );
        let first = sessions.redeem(&codes[1]).unwrap();
        for _ in 0..MAX_SESSIONS {
            let code = sessions.new_link();
            sessions.redeem(&code).unwrap();
        }
        assert!(!sessions.is_valid(&first), "the oldest session ended");
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        assert_eq!(session_of("a=1; connect_session=xyz; b=2"), Some("xyz"));
        assert_eq!(session_of("connect_sessionx=1"), None);
        assert_eq!(session_of(""), None);
    }
}
