//! The JSON API under `/api/` the page reads, and its live stream.
//!
//! - `GET /api/status`: who is signed in where, the event hub, plugin counts (as `status`);
//! - `GET /api/plugins`: the plugins as `plugins --json` lists them;
//! - `POST /api/plugins/reload`: discovers and reloads, then lists them;
//! - `POST /api/signout`: ends this browser's session (204);
//! - `GET /api/live`: server-sent events `status` and `plugins`, each once at the start and
//!   again whenever it changes (see [`Snapshots`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::session::session_in;
use crate::{App, WindowHost};

/// How often the host is looked at for the live stream.
const LOOK_EVERY: Duration = Duration::from_millis(250);

pub(crate) async fn status(State(app): State<App>) -> Response {
    blocking(app.host.clone(), |host| host.status()).await
}

pub(crate) async fn plugins(State(app): State<App>) -> Response {
    blocking(app.host.clone(), |host| host.plugins()).await
}

pub(crate) async fn reload(State(app): State<App>) -> Response {
    tracing::info!("window: plugins reloaded from the window");
    blocking(app.host.clone(), |host| {
        host.reload_plugins();
        host.plugins()
    })
    .await
}

pub(crate) async fn sign_out(State(app): State<App>, headers: HeaderMap) -> StatusCode {
    if let Some(session) = session_in(&headers) {
        app.sessions.end(&session);
    }
    tracing::info!("window: signed out");
    StatusCode::NO_CONTENT
}

pub(crate) async fn live(State(app): State<App>, headers: HeaderMap) -> Response {
    let session = session_in(&headers).unwrap_or_default();
    // Nobody may have looked for a while: the stream starts from the host as it is now.
    app.snapshots.look().await;
    stream(Live {
        status: app.snapshots.status.subscribe(),
        plugins: app.snapshots.plugins.subscribe(),
        sessions: app.sessions.clone(),
        session,
        sent: 0,
    })
}

/// What a server-sent event stream sends (the live stream, the log tail, a plugin tab's
/// events, a publish's progress): one event per call, until `None` ends the stream.
pub(crate) trait EventStream: Send + 'static {
    /// The next event to send, once there is one; `None` when there is nothing more to say.
    fn next(&mut self) -> impl std::future::Future<Output = Option<SseEvent>> + Send;
}

/// The answer that sends `source`'s events as they come, with keep-alives in between.
pub(crate) fn stream(source: impl EventStream) -> Response {
    let events = futures_util::stream::unfold(source, |mut source| async move {
        let event = source.next().await?;
        Some((Ok::<_, Infallible>(event), source))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// One browser's live stream.
struct Live {
    status: watch::Receiver<Value>,
    plugins: watch::Receiver<Value>,
    sessions: Arc<crate::session::Sessions>,
    session: String,
    /// How many of the first two events were sent.
    sent: u8,
}

impl EventStream for Live {
    /// The next event: both snapshots as they are at first, then each as it changes; `None`
    /// once the session has ended or the window stops.
    async fn next(&mut self) -> Option<SseEvent> {
        if !self.sessions.is_valid(&self.session) {
            return None;
        }
        match self.sent {
            0 => {
                self.sent = 1;
                return Some(json_event("status", &self.status.borrow_and_update()));
            }
            1 => {
                self.sent = 2;
                return Some(json_event("plugins", &self.plugins.borrow_and_update()));
            }
            _ => {}
        }
        tokio::select! {
            changed = self.status.changed() => {
                changed.ok()?;
                Some(json_event("status", &self.status.borrow_and_update()))
            }
            changed = self.plugins.changed() => {
                changed.ok()?;
                Some(json_event("plugins", &self.plugins.borrow_and_update()))
            }
        }
    }
}

fn json_event(name: &str, value: &Value) -> SseEvent {
    SseEvent::default().event(name).data(value.to_string())
}

/// Why a request failed, as the page shows it in place: a status and one sentence.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl Failure {
    /// The page asked for something malformed.
    pub(crate) fn bad_request(message: &str) -> Failure {
        Failure {
            status: StatusCode::BAD_REQUEST,
            message: message.to_string(),
        }
    }

    /// What was asked for does not exist.
    pub(crate) fn not_found(message: &str) -> Failure {
        Failure {
            status: StatusCode::NOT_FOUND,
            message: message.to_string(),
        }
    }

    /// The host (or the server behind it) could not do it; `message` says why.
    pub(crate) fn host(message: String) -> Failure {
        Failure {
            status: StatusCode::BAD_GATEWAY,
            message,
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// As [`blocking`], for work that may fail: its JSON, or the failure as `{"error": ...}`.
pub(crate) async fn blocking_result(
    host: Arc<dyn WindowHost>,
    work: impl FnOnce(&dyn WindowHost) -> Result<Value, Failure> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(move || work(host.as_ref())).await {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err(failure)) => failure.into_response(),
        Err(err) => {
            tracing::error!("window: a request to the host failed: {err}");
            Failure::host("the host failed to answer".into()).into_response()
        }
    }
}

/// Runs `read` on the host off the async threads (it may take locks, or reload plugins);
/// its JSON is the answer.
pub(crate) async fn blocking(
    host: Arc<dyn WindowHost>,
    read: impl FnOnce(&dyn WindowHost) -> Value + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(move || read(host.as_ref())).await {
        Ok(value) => Json(value).into_response(),
        Err(err) => {
            tracing::error!("window: a request to the host failed: {err}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the host failed to answer",
            )
                .into_response()
        }
    }
}

/// The host's status and plugin list as last seen, for the live stream: one task looks every
/// [`LOOK_EVERY`] while a stream is open (never when no browser watches) and wakes the
/// streams only when something changed, however many browsers watch.
pub(crate) struct Snapshots {
    host: Arc<dyn WindowHost>,
    status: watch::Sender<Value>,
    plugins: watch::Sender<Value>,
}

impl Snapshots {
    /// Starts looking at `host` on `runtime`; stops when the window is dropped (`stop`).
    pub(crate) fn start(
        host: Arc<dyn WindowHost>,
        runtime: &tokio::runtime::Handle,
        mut stop: watch::Receiver<bool>,
    ) -> Arc<Snapshots> {
        let snapshots = Arc::new(Snapshots {
            status: watch::Sender::new(Value::Null),
            plugins: watch::Sender::new(Value::Null),
            host,
        });
        let looking = snapshots.clone();
        runtime.spawn(async move {
            let mut every = tokio::time::interval(LOOK_EVERY);
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = stop.changed() => return,
                }
                if looking.status.receiver_count() > 0 {
                    looking.look().await;
                }
            }
        });
        snapshots
    }

    /// Looks at the host now, and wakes the streams if something changed.
    pub(crate) async fn look(&self) {
        let host = self.host.clone();
        let Ok((status, plugins)) =
            tokio::task::spawn_blocking(move || (host.status(), host.plugins())).await
        else {
            return;
        };
        self.status
            .send_if_modified(|old| replace_if_changed(old, status));
        self.plugins
            .send_if_modified(|old| replace_if_changed(old, plugins));
    }
}

fn replace_if_changed(old: &mut Value, new: Value) -> bool {
    if *old == new {
        return false;
    }
    *old = new;
    true
}
