//! Signing the host in to an ftrack server from the window, as Connect's sign-in screen does,
//! and out again.
//!
//! - `POST /api/server/signin` with `{server, api_user, api_key}`: the key is tried on the
//!   server, kept as `ftrack-connect login` keeps it, and the host restarts linked to that
//!   server;
//! - `POST /api/server/browser` with `{server}`: the address of the server's own sign-in page
//!   (`/user/api_credentials`), which sends the user and a new key back to this window's
//!   `/server-signin/{state}` (a one-time state, so no other page can sign the host in),
//!   which sends the browser on to `/server-signin/done/{code}`, an address without the key;
//! - `POST /api/server/signout`: the stored sign-in is forgotten (as `ftrack-connect logout`)
//!   and the host restarts on the local server.
//!
//! The host restarts in the same process (see [`WindowHost::restart`]); the window comes back
//! on the same port, and each answer carries `reopen`, a sign-in link of the restarted window
//! ([`Handover`]), so the page signs itself in again as soon as the window is back.

use std::time::Duration;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::api::Failure;
use crate::{App, Handover};

/// How long the answer has to reach the browser before the host restarts.
const ANSWER_FIRST: Duration = Duration::from_millis(300);

/// Why the host may not restart now: a publish or a pipeline run under way would be cut
/// short.
fn busy(app: &App) -> Option<Response> {
    let under_way = if app.publishes.any_publishing() {
        "a publish"
    } else if app.pipeline_runs.any_running() {
        "a pipeline run"
    } else {
        return None;
    };
    let error = format!("{under_way} is under way: sign in or out when it is done");
    Some((StatusCode::CONFLICT, Json(json!({ "error": error }))).into_response())
}

/// Signs in, then restarts the host; the page's answer, or why not.
async fn sign_in_then_restart(app: &App, server: String, user: String, key: String) -> Response {
    if let Some(refused) = busy(app) {
        return refused;
    }
    let host = app.host.clone();
    let signed = tokio::task::spawn_blocking(move || host.sign_in(&server, &user, &key)).await;
    match signed {
        Ok(Ok(server)) => restart(app, json!({ "server": server })),
        Ok(Err(why)) => Failure::bad_request(&why).into_response(),
        Err(_) => Failure::host("the host failed to answer".into()).into_response(),
    }
}

/// Answers with `answer` and a link back in, then restarts the host.
fn restart(app: &App, mut answer: serde_json::Value) -> Response {
    let handover = Handover {
        port: app.address.port(),
        code: crate::session::handover_code(),
        socket: crate::inheritable(&app.listener),
    };
    answer["restarting"] = json!(true);
    answer["reopen"] = json!(format!("/signin/{}", handover.code));
    let host = app.host.clone();
    tokio::spawn(async move {
        tokio::time::sleep(ANSWER_FIRST).await;
        host.restart(handover);
    });
    Json(answer).into_response()
}

/// `POST /api/server/signin`'s body.
#[derive(Debug, Deserialize)]
pub(crate) struct SignIn {
    server: String,
    api_user: String,
    api_key: String,
}

pub(crate) async fn sign_in(State(app): State<App>, Json(asked): Json<SignIn>) -> Response {
    if [&asked.server, &asked.api_user, &asked.api_key]
        .iter()
        .any(|field| field.trim().is_empty())
    {
        return Failure::bad_request("give the server, the user and the API key").into_response();
    }
    sign_in_then_restart(&app, asked.server, asked.api_user, asked.api_key).await
}

/// `POST /api/server/browser`'s body.
#[derive(Debug, Deserialize)]
pub(crate) struct Server {
    server: String,
}

pub(crate) async fn browser(State(app): State<App>, Json(asked): Json<Server>) -> Response {
    if asked.server.trim().is_empty() {
        return Failure::bad_request("give the server to sign in to").into_response();
    }
    let site = app.host.site_url(asked.server.trim());
    let state = app.sessions.new_server_sign_in(&site);
    let back = format!("http://{}/server-signin/{state}", app.address);
    let url = format!(
        "{site}/user/api_credentials?identifier={}&redirect_url={}",
        encode("ftrack-connect window"),
        encode(&back)
    );
    Json(json!({ "url": url })).into_response()
}

/// What the server's sign-in page sends back.
#[derive(Debug, Deserialize)]
pub(crate) struct Credentials {
    api_user: String,
    api_key: String,
}

/// `GET /server-signin/{state}`: the server's sign-in page sends the browser here. The
/// state was handed out once, to a signed-in page, and names the server it was for.
pub(crate) async fn browser_returned(
    State(app): State<App>,
    UrlPath(state): UrlPath<String>,
    Query(credentials): Query<Credentials>,
) -> Response {
    let Some(server) = app.sessions.take_server_sign_in(&state) else {
        return page(
            StatusCode::FORBIDDEN,
            "This sign-in has expired or was used already. Start it again from the window.",
            None,
        );
    };
    let answer = sign_in_then_restart(
        &app,
        server.clone(),
        credentials.api_user.clone(),
        credentials.api_key,
    )
    .await;
    if answer.status() != StatusCode::OK {
        return page(
            StatusCode::BAD_REQUEST,
            "The server's answer could not sign the host in. Start it again from the window.",
            None,
        );
    }
    let body = axum::body::to_bytes(answer.into_body(), 1 << 16)
        .await
        .unwrap_or_default();
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v["reopen"]
                .as_str()?
                .strip_prefix("/signin/")
                .map(str::to_string)
        })
        .unwrap_or_default();
    // On to an address without the key, so that it stays in no history (a redirect leaves
    // no entry of its own).
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, format!("/server-signin/done/{code}"))],
    )
        .into_response()
}

/// `GET /server-signin/done/{code}`: the page the browser lands on after a sign-in through
/// the server's page; it goes on to the restarted window with `code`, its sign-in link.
pub(crate) async fn browser_done(UrlPath(code): UrlPath<String>) -> Response {
    let plain = !code.is_empty() && code.chars().all(|c| c.is_ascii_hexdigit());
    page(
        StatusCode::OK,
        "Signed in. The host restarts to use the server; the window opens again in a moment.",
        plain.then(|| format!("/signin/{code}")),
    )
}

pub(crate) async fn sign_out(State(app): State<App>) -> Response {
    if let Some(refused) = busy(&app) {
        return refused;
    }
    let host = app.host.clone();
    match tokio::task::spawn_blocking(move || host.sign_out_of_server()).await {
        Ok(Ok(())) => restart(&app, json!({})),
        Ok(Err(why)) => Failure::host(why).into_response(),
        Err(_) => Failure::host("the host failed to answer".into()).into_response(),
    }
}

/// A small page with `text`, going on to `next` after a moment when there is one.
fn page(status: StatusCode, text: &'static str, next: Option<String>) -> Response {
    let (refresh, link) = match next.filter(|n| n.starts_with("/signin/")) {
        Some(next) => (
            format!("<meta http-equiv=\"refresh\" content=\"3; url={next}\">"),
            format!("<p><a href=\"{next}\">Open the window</a></p>"),
        ),
        None => (String::new(), String::new()),
    };
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">{refresh}\
         <title>ftrack Connect</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>\
         <body><main class=\"message\"><h1>ftrack Connect</h1><p>{text}</p>{link}</main></body></html>"
    );
    (status, Html(body)).into_response()
}

/// `text` for a URL's query.
fn encode(text: &str) -> String {
    /// What stays as it is in a query value: RFC 3986's unreserved characters.
    const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, QUERY_VALUE).to_string()
}
