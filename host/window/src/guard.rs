//! The checks every request passes before it reaches a page or the API.
//!
//! - `Host` must name this listener (`127.0.0.1:PORT` or `localhost:PORT`): a web page on
//!   another name that resolves to 127.0.0.1 (DNS rebinding) sends its own name, and is
//!   refused with 403.
//! - A state-changing request (anything but `GET`/`HEAD`) must carry an `Origin` that is this
//!   app's: another site's page cannot make the browser post here (403). No CORS headers are
//!   ever sent, so other origins cannot read answers either.
//! - `/api/` and the page itself need the session cookie (401 without it); the scripts and
//!   styles under `/static/` and the sign-in link do not; a plugin tab's files under
//!   `/widget/` need the session's widget token in their address instead (see `widgets`).
//!
//! Every answer says `nosniff`, sends no referrer (a sign-in link must not leak) and may not
//! be framed by other sites.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::session::session_of;
use crate::App;

/// The middleware: checks, then the route, then the common headers.
pub(crate) async fn check(State(app): State<App>, request: Request, next: Next) -> Response {
    let mut response = match refusal(&app, &request) {
        Some(refused) => refused,
        None => next.run(request).await,
    };
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    // Only the window itself may frame its answers (plugin tabs): no other site's page.
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    response
}

/// Why `request` may not go on, as the answer to send; `None` if it may.
fn refusal(app: &App, request: &Request) -> Option<Response> {
    let port = app.address.port();
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    if !host.is_some_and(|host| is_ours(host, port)) {
        tracing::warn!("window: refused a request for host {host:?}");
        return Some(plain(
            StatusCode::FORBIDDEN,
            "refused: not this host's name",
        ));
    }
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    let upgrade = request.headers().contains_key(header::UPGRADE);
    if !safe || upgrade {
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok());
        let ours = origin
            .and_then(|origin| origin.strip_prefix("http://"))
            .is_some_and(|host| is_ours(host, port));
        if !ours {
            tracing::warn!(
                "window: refused {} {} from origin {origin:?}",
                request.method(),
                request.uri().path()
            );
            return Some(plain(
                StatusCode::FORBIDDEN,
                "refused: the request does not come from the Connect window",
            ));
        }
    }
    let path = request.uri().path();
    // The server's sign-in page sends the browser to /server-signin/ from its own site:
    // no cookie comes along, and the one-time state in the address is the check.
    if path.starts_with("/static/")
        || path.starts_with("/signin/")
        || path.starts_with("/server-signin/")
    {
        return None;
    }
    if let Some(rest) = path.strip_prefix("/widget/") {
        // A plugin tab's file: its address carries the session's widget token, since a
        // sandboxed frame sends no cookie.
        let token = rest.split('/').next().unwrap_or_default();
        return (!app.sessions.is_widget_token(token)).then(|| {
            plain(
                StatusCode::UNAUTHORIZED,
                "not signed in: run `ftrack-connect open` to open the window",
            )
        });
    }
    let session = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(session_of);
    if session.is_some_and(|session| app.sessions.is_valid(session)) {
        return None;
    }
    Some(if path.starts_with("/api/") {
        plain(
            StatusCode::UNAUTHORIZED,
            "not signed in: run `ftrack-connect open` to open the window",
        )
    } else {
        crate::pages::not_signed_in()
    })
}

/// Whether a `Host` (or an origin's host) names this listener.
fn is_ours(host: &str, port: u16) -> bool {
    let Some((name, given)) = host.rsplit_once(':') else {
        return false;
    };
    matches!(name, "127.0.0.1" | "localhost") && given == port.to_string()
}

/// A plain-text answer.
pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from(text),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::is_ours;

    #[test]
    fn only_this_listener_is_ours() {
        assert!(is_ours("127.0.0.1:4000", 4000));
        assert!(is_ours("localhost:4000", 4000));
        assert!(!is_ours("127.0.0.1:4001", 4000));
        assert!(!is_ours("evil.example:4000", 4000));
        assert!(!is_ours("127.0.0.1", 4000));
        assert!(!is_ours("127.0.0.1.evil.example:4000", 4000));
    }
}
