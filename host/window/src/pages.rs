//! The page and its files, embedded in the binary (no CDN, no build step, nothing to install),
//! and the sign-in link's route.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::session::COOKIE;
use crate::App;

/// What the page may load and run: its own files only, no inline script or style, frames
/// from this app only (plugin tabs), and no other site may frame it. Images may also be
/// `blob:` URLs: the Publish tab previews the chosen thumbnail from the file itself.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; \
    style-src 'self'; script-src 'self'; connect-src 'self'; frame-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

const INDEX_HTML: &str = include_str!("../static/index.html");

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The files under `/static/`: name, content, type. `app.js` imports the other modules.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", include_str!("../static/app.css"), CSS),
    ("app.js", include_str!("../static/app.js"), JS),
    ("dom.js", include_str!("../static/dom.js"), JS),
    ("plugins.js", include_str!("../static/plugins.js"), JS),
    ("actions.js", include_str!("../static/actions.js"), JS),
    ("browser.js", include_str!("../static/browser.js"), JS),
    ("publish.js", include_str!("../static/publish.js"), JS),
    ("pipeline.js", include_str!("../static/pipeline.js"), JS),
    ("about.js", include_str!("../static/about.js"), JS),
    ("logs.js", include_str!("../static/logs.js"), JS),
    ("widgets.js", include_str!("../static/widgets.js"), JS),
    ("account.js", include_str!("../static/account.js"), JS),
    // Loaded by plugin tabs (a classic script, not a module).
    ("widget-api.js", include_str!("../static/widget-api.js"), JS),
];

/// `/`: the app.
pub(crate) async fn index() -> Response {
    (
        [(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)],
        Html(INDEX_HTML),
    )
        .into_response()
}

/// `/static/{file}`: the app's scripts and styles.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, body, kind)) => ([(header::CONTENT_TYPE, *kind)], *body).into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// `/static/instance`: which run of the window this is (no session needed: it says nothing
/// but that). A page waiting for the host to restart asks until the answer changes.
pub(crate) async fn instance(State(app): State<App>) -> Response {
    axum::Json(serde_json::json!({ "instance": app.instance })).into_response()
}

/// `/signin/{code}`: a link from `ftrack-connect open`. Followed once within its minute, it
/// starts a session and sends the browser on to the app (303); otherwise it says what to do.
pub(crate) async fn sign_in(State(app): State<App>, Path(code): Path<String>) -> Response {
    match app.sessions.redeem(&code) {
        Some(session) => {
            tracing::info!("window: a browser signed in with a link from `ftrack-connect open`");
            (
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, "/".to_string()),
                    (
                        header::SET_COOKIE,
                        format!("{COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/"),
                    ),
                ],
            )
                .into_response()
        }
        None => {
            tracing::warn!("window: refused a sign-in link that was used, expired or unknown");
            message(
                StatusCode::FORBIDDEN,
                "This sign-in link was used already or has expired (a link works once, for a \
                 minute). Run <code>ftrack-connect open</code> again.",
            )
        }
    }
}

/// The page for a browser without a session.
pub(crate) fn not_signed_in() -> Response {
    message(
        StatusCode::UNAUTHORIZED,
        "This window is not signed in. Run <code>ftrack-connect open</code> to open it.",
    )
}

/// A small page with one message (`text` is ours, never a request's).
fn message(status: StatusCode, text: &'static str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>ftrack Connect</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>\
         <body><main class=\"message\"><h1>ftrack Connect</h1><p>{text}</p></main></body></html>"
    );
    (
        status,
        [(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)],
        Html(page),
    )
        .into_response()
}
