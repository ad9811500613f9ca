//! Plugin tabs: our counterpart of Connect's widget plugins. A plugin folder may ship
//! `resource/widget/<name>/index.html` and its files; the window shows it as a tab.
//!
//! A tab is the plugin's code running in the user's browser, so it is kept apart from the
//! window: the page frames it with `sandbox="allow-scripts"` (an opaque origin: it cannot
//! read the window, its cookie, or call `/api/`), and its files are served with the same
//! sandbox in their `Content-Security-Policy`, so opening one on its own changes nothing.
//! A sandboxed frame sends no cookie, so its files' addresses carry the session's *widget
//! token* instead (`/widget/{token}/{plugin}/{name}/{file}`): it lets a tab load its own
//! files and nothing else, and ends with the session.
//!
//! What a tab may do goes through the window, over `postMessage`, to these routes, always as
//! its plugin (the page knows which frame a message came from; a tab cannot claim another
//! plugin's name). The page gives the frame's first page a secret in its address's fragment,
//! and answers only messages that carry it: a page the frame is sent to later (a link in the
//! tab to another site) cannot speak for the plugin. Forms may not be submitted anywhere
//! (`form-action 'none'`) and nothing may be fetched (`connect-src 'none'`):
//!
//! - `GET /api/widgets`: `{"widgets": [{plugin, name, url}]}`;
//! - `POST /api/widgets/{plugin}/publish` with `{"event": {topic, data, target}}`: published
//!   in the host's hub with the plugin as `source.id`; answers `{"replies": [...]}`;
//! - `POST /api/widgets/{plugin}/query` with `{"expression": "..."}`: an ftrack query on the
//!   signed-in server; answers `{"results": [...]}`;
//! - `GET /api/widgets/{plugin}/events?expression=...`: server-sent `event` events, each an
//!   event matching the expression, for as long as the stream is open (the subscription is
//!   made when it opens and removed when it closes). A tab hears events; it does not answer
//!   them (its handler's result would come back after the publisher moved on).
//!
//! `static/widget-api.js` is the tab's side: `connect.publish`, `connect.subscribe`,
//! `connect.query` (documented there and in the README).

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::Event as SseEvent;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::api::{blocking_result, Failure};
use crate::api::{stream, EventStream};
use crate::session::{session_in, Sessions};
use crate::{App, Widget, WindowHost};

/// What a tab's files may do: run their own scripts in a sandbox (opaque origin, no
/// cookie, no top navigation), load their own files, and talk to no server.
const WIDGET_POLICY: &str = "sandbox allow-scripts allow-forms allow-modals; \
    default-src 'self' data: blob:; script-src 'self' 'unsafe-inline'; \
    style-src 'self' 'unsafe-inline'; connect-src 'none'; form-action 'none'; \
    frame-ancestors 'self'";

/// Events waiting for a tab's stream; a tab that does not keep up loses the newest.
const EVENT_QUEUE: usize = 256;

/// Whether a plugin or tab name may appear in an address as it is.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
}

/// The tabs the host's plugins ship that can be addressed.
fn listed(host: &dyn WindowHost) -> Vec<Widget> {
    let mut widgets = host.widgets();
    widgets.retain(|widget| {
        let plain = is_plain_name(&widget.plugin) && is_plain_name(&widget.name);
        if !plain {
            tracing::warn!(
                "window: plugin {:?} has a tab named {:?}: names of letters, digits, '-', '_' \
                 and '.' only; it is not shown",
                widget.plugin,
                widget.name
            );
        }
        plain
    });
    widgets
}

/// The tab `plugin` ships, if it does (the first, for a plugin with several).
fn plugin_tab(host: &dyn WindowHost, plugin: &str) -> Result<Widget, Failure> {
    listed(host)
        .into_iter()
        .find(|widget| widget.plugin == plugin)
        .ok_or_else(|| Failure::not_found("no plugin with a tab of that name"))
}

pub(crate) async fn list(State(app): State<App>, headers: HeaderMap) -> Response {
    let token = session_in(&headers)
        .and_then(|session| app.sessions.widget_token(&session))
        .unwrap_or_default();
    blocking_result(app.host.clone(), move |host| {
        let widgets: Vec<Value> = listed(host)
            .into_iter()
            .map(|widget| {
                json!({
                    "plugin": widget.plugin,
                    "name": widget.name,
                    "url": format!("/widget/{token}/{}/{}/index.html", widget.plugin, widget.name),
                })
            })
            .collect();
        Ok(json!({ "widgets": widgets }))
    })
    .await
}

/// `file` inside `folder`, or `None` if it would leave it (`..`, an absolute path, a link
/// pointing out) or does not exist.
fn confined(folder: &Path, file: &str) -> Option<PathBuf> {
    let relative = Path::new(file);
    if !relative
        .components()
        .all(|part| matches!(part, Component::Normal(_)))
    {
        return None;
    }
    let root = folder.canonicalize().ok()?;
    let path = root.join(relative).canonicalize().ok()?;
    (path.starts_with(&root) && path.is_file()).then_some(path)
}

/// The `Content-Type` of a tab's file, by its extension.
fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `GET /widget/{token}/{plugin}/{name}/{*file}`: the guard has checked the token.
pub(crate) async fn file(
    State(app): State<App>,
    UrlPath((_token, plugin, name, file)): UrlPath<(String, String, String, String)>,
) -> Response {
    let host = app.host.clone();
    let found = tokio::task::spawn_blocking(move || {
        let widget = listed(host.as_ref())
            .into_iter()
            .find(|w| w.plugin == plugin && w.name == name)?;
        let path = confined(&widget.folder, &file)?;
        let bytes = std::fs::read(&path).ok()?;
        Some((content_type(&path), bytes))
    })
    .await
    .ok()
    .flatten();
    match found {
        Some((kind, bytes)) => (
            [
                (header::CONTENT_TYPE, kind),
                (header::CONTENT_SECURITY_POLICY, WIDGET_POLICY),
            ],
            bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file in this plugin's tab").into_response(),
    }
}

/// `POST /api/widgets/{plugin}/publish`'s body.
#[derive(Debug, Deserialize)]
pub(crate) struct Publish {
    event: Value,
}

pub(crate) async fn publish(
    State(app): State<App>,
    UrlPath(plugin): UrlPath<String>,
    Json(asked): Json<Publish>,
) -> Response {
    blocking_result(app.host.clone(), move |host| {
        let widget = plugin_tab(host, &plugin)?;
        let topic = asked.event.get("topic").and_then(Value::as_str);
        if topic.is_none_or(|t| t.trim().is_empty()) {
            return Err(Failure::bad_request("an event needs a topic"));
        }
        let replies = host
            .publish_as(&widget.plugin, asked.event)
            .map_err(|why| Failure::bad_request(&why))?;
        Ok(json!({ "replies": replies }))
    })
    .await
}

/// `POST /api/widgets/{plugin}/query`'s body.
#[derive(Debug, Deserialize)]
pub(crate) struct Asked {
    expression: String,
}

pub(crate) async fn query(
    State(app): State<App>,
    UrlPath(plugin): UrlPath<String>,
    Json(asked): Json<Asked>,
) -> Response {
    blocking_result(app.host.clone(), move |host| {
        plugin_tab(host, &plugin)?;
        let results = host.query(&asked.expression).map_err(Failure::host)?;
        Ok(json!({ "results": results }))
    })
    .await
}

/// One tab's subscription, streamed.
struct Subscribed {
    events: mpsc::Receiver<Value>,
    /// Removes the subscription when the stream ends.
    _subscription: Box<dyn Send>,
    sessions: Arc<Sessions>,
    session: String,
}

impl EventStream for Subscribed {
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if !self.sessions.is_valid(&self.session) {
                return None;
            }
            // The session is looked at again every few seconds, so a sign-out ends the stream.
            match tokio::time::timeout(Duration::from_secs(5), self.events.recv()).await {
                Ok(Some(event)) => {
                    return Some(SseEvent::default().event("event").data(event.to_string()))
                }
                Ok(None) => return None,
                Err(_) => continue,
            }
        }
    }
}

pub(crate) async fn events(
    State(app): State<App>,
    UrlPath(plugin): UrlPath<String>,
    Query(asked): Query<Asked>,
    headers: HeaderMap,
) -> Response {
    let (sender, receiver) = mpsc::channel(EVENT_QUEUE);
    let host = app.host.clone();
    let subscribed = tokio::task::spawn_blocking(move || {
        let widget = plugin_tab(host.as_ref(), &plugin)?;
        let deliver = Box::new(move |event: Value| {
            // A full queue drops the event rather than hold up the hub's dispatch.
            let _ = sender.try_send(event);
        });
        host.subscribe_as(&widget.plugin, &asked.expression, deliver)
            .map_err(|why| Failure::bad_request(&why))
    })
    .await;
    let subscription = match subscribed {
        Ok(Ok(subscription)) => subscription,
        Ok(Err(failure)) => return failure.into_response(),
        Err(_) => return Failure::host("the host failed to answer".into()).into_response(),
    };
    stream(Subscribed {
        events: receiver,
        _subscription: subscription,
        sessions: app.sessions.clone(),
        session: session_in(&headers).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tab_file_never_leaves_its_folder() {
        let root = std::env::temp_dir().join(format!("widget-test-{}", std::process::id()));
        let folder = root.join("tab");
        std::fs::create_dir_all(folder.join("img")).unwrap();
        std::fs::write(folder.join("index.html"), "<p>hi</p>").unwrap();
        std::fs::write(folder.join("img/a.png"), "png").unwrap();
        std::fs::write(root.join("secret.txt"), "no").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join("secret.txt"), folder.join("link.txt")).unwrap();
        assert!(confined(&folder, "index.html").is_some());
        assert!(confined(&folder, "img/a.png").is_some());
        assert!(confined(&folder, "../secret.txt").is_none());
        assert!(confined(&folder, "img/../../secret.txt").is_none());
        assert!(confined(&folder, "/etc/passwd").is_none());
        assert!(
            confined(&folder, "link.txt").is_none(),
            "a link out of the folder"
        );
        assert!(confined(&folder, "img").is_none(), "a folder is not a file");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn names_in_addresses_are_plain() {
        assert!(is_plain_name("studio-tools_1.2"));
        for name in ["", "..", ".hidden", "a/b", "a b", "é"] {
            assert!(!is_plain_name(name), "{name:?}");
        }
    }
}
