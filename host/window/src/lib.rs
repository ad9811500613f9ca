//! `connect-window`: the Connect window as a local web app.
//!
//! ftrack Connect's window (Actions, Publish, Plugins, About, Logs) is a Qt application. This
//! host serves its window as a web page instead, from the resident `ftrack-connect run`, on
//! loopback: it works on every OS without Qt, from a machine without a tray or over a remote
//! desktop, and it can be tested in a real browser.
//!
//! Nobody but the user may use it, though any local process can reach the port:
//!
//! - [`session`]: `ftrack-connect open` gets a one-time sign-in link from the running host
//!   (over its token-checked endpoint); following it sets an `HttpOnly`, `SameSite=Strict`
//!   session cookie;
//! - [`guard`]: every request's `Host`, the `Origin` of every state-changing one, and the
//!   session are checked before anything else (no DNS rebinding, no cross-site requests, no
//!   CORS);
//! - `pages`: the page, its script and styles, embedded in the binary;
//! - `api`: the JSON API under `/api/` and its live stream (server-sent events), with a
//!   module per tab: `contexts` (the entity browser), `actions`, `about` and `logs`;
//! - `server_account`: signing the host in to an ftrack server, and out;
//! - `publish`: files uploaded from the browser and published as Connect's publisher does;
//! - `pipeline`: the pipeline hosts, their definitions run with live progress, their log;
//! - `jobs`: the long work the page starts and follows (publishes, pipeline runs);
//! - `plugin_folders`: installing a plugin from a `.zip`, removing one, opening the folder;
//! - `widgets`: plugin tabs, sandboxed, and what they may ask of the host.
//!
//! The window knows the host only through [`WindowHost`], so this crate depends on no other
//! crate of the workspace: a change to the page rebuilds this crate and the binary.

#![deny(missing_docs)]

pub mod guard;
pub mod session;

mod about;
mod actions;
mod api;
mod contexts;
mod jobs;
mod logs;
mod pages;
mod pipeline;
mod plugin_folders;
mod publish;
mod server_account;
mod widgets;

pub use about::REDACTED;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::watch;

use crate::session::Sessions;

/// What the window asks of the host. Calls run on blocking threads and may take a while.
pub trait WindowHost: Send + Sync + 'static {
    /// Who is signed in where, the event hub, plugin counts: `ftrack-connect status --json`'s
    /// object.
    fn status(&self) -> Value;
    /// `{"plugins": [...]}`, as `ftrack-connect plugins --json` prints it.
    fn plugins(&self) -> Value;
    /// Discovers the plugins again and reloads those that changed, as `run --watch` does
    /// after a change (a reload that fails keeps the last good version).
    fn reload_plugins(&self);
    /// Every result of an ftrack query expression on the server the host is signed in to
    /// (all pages), or why there are none: not signed in, the server's error.
    fn query(&self, expression: &str) -> Result<Vec<Value>, String>;
    /// The actions the plugins offer for `selection` (`[{entityType, entityId}]`), grouped
    /// as Connect shows them: `[{label, items: [item...]}]`, each item as its plugin wrote it.
    fn actions(&self, selection: &[Value]) -> Value;
    /// Launches `item` (as [`WindowHost::actions`] gave it) for `selection`: the replies,
    /// `[{success, message}]` (empty when no plugin answered).
    fn launch(&self, item: Value, selection: Vec<Value>) -> Value;
    /// What the About tab shows: `debug_information` (the answers to
    /// `ftrack.connect.plugin.debug-information`), `versions`, `paths`, and `environment`
    /// (every variable; the window redacts secrets before showing it).
    fn about(&self) -> Value;
    /// The host's log file, which the Logs tab follows.
    fn log_file(&self) -> PathBuf;
    /// The tabs the loaded plugins ship (`resource/widget/<name>/index.html`).
    fn widgets(&self) -> Vec<Widget>;
    /// Publishes `event` (`{topic, data, target}`) synchronously in the host's hub as
    /// `plugin`'s (`source.id`); the replies, or why it cannot be published.
    fn publish_as(&self, plugin: &str, event: Value) -> Result<Vec<Value>, String>;
    /// Subscribes for `plugin`'s tab: `deliver` gets every event matching `expression` (it
    /// must not block: it runs on the hub's dispatch). The subscription lasts as long as the
    /// returned value.
    fn subscribe_as(
        &self,
        plugin: &str,
        expression: &str,
        deliver: Box<dyn Fn(Value) + Send + Sync>,
    ) -> Result<Box<dyn Send>, String>;
    /// Installs the plugin in the zip archive `bytes` (its file name `archive`) into the
    /// plugin directory and loads it: `{"folder", "plugins"}`. A folder of that name is
    /// replaced only when `replace` says so.
    fn install_plugin(&self, archive: &str, bytes: &[u8], replace: bool) -> Result<Value, Refusal>;
    /// Removes the plugin `name`'s folder from the plugin directory and unloads it: the
    /// plugins left, `{"plugins"}`.
    fn remove_plugin(&self, name: &str) -> Result<Value, Refusal>;
    /// Opens the plugin directory in the desktop's file manager: its path, and whether it
    /// opened (or why not).
    fn open_plugin_folder(&self) -> (PathBuf, Result<(), String>);
    /// File names grouped as Connect's publisher groups dropped files: `[{identifier, name,
    /// kind ("file" or "sequence"), members, files}]`, a sequence's identifier as
    /// `ftrack-connect sequences` writes it (`render.%04d.exr [1-3]`).
    fn group_files(&self, names: &[String]) -> Result<Vec<Value>, String>;
    /// Publishes a version of files in `folder` (blocking until done): `request` is
    /// `{context: {type, id}, asset_name, asset_type, description, components: [{name,
    /// identifier}], thumbnail, web_playable}` (identifiers and the thumbnail relative to
    /// `folder`); `progress` hears `{files, files_done, bytes, bytes_done, current}` as it
    /// goes. What was published, with the version's `url`; or why nothing was.
    fn publish_files(
        &self,
        request: Value,
        folder: &std::path::Path,
        progress: Box<dyn Fn(Value) + Send + Sync>,
    ) -> Result<Value, String>;
    /// The pipeline hosts that answer `ftrack.pipeline.host.discover` (through the server
    /// when the host is signed in: every application's host linked to it): their discover
    /// replies, each host's definitions cut to those offered in `context` (their
    /// `discoverable`) when one is given.
    fn pipeline_hosts(&self, context: Option<&str>) -> Result<Vec<Value>, String>;
    /// Runs `definition` (as the page edited it) on the pipeline host `host_id`, its context
    /// plugins set to `context` when given, blocking until it is done; `progress` hears
    /// each notification of the host (`data.pipeline`, with its `topic`). The finalizers'
    /// results, or the failure (the host's reply: `message`, `plugin_name`,
    /// `plugin_message`...; or `{error}`).
    fn pipeline_run(
        &self,
        host_id: &str,
        definition: Value,
        context: Option<&str>,
        progress: Box<dyn Fn(Value) + Send + Sync>,
    ) -> Result<Value, Value>;
    /// The latest `limit` entries of the pipeline hosts' notification log (of `host_id`
    /// only, when given), oldest first.
    fn pipeline_logs(&self, host_id: Option<&str>, limit: usize) -> Result<Vec<Value>, String>;
    /// `server` as the address of an ftrack site (a bare site name is its ftrack cloud
    /// address, as Connect reads it).
    fn site_url(&self, server: &str) -> String;
    /// Tries `key` for `user` on `server` and keeps the sign-in as `ftrack-connect login`
    /// does: the site's address, or why not (for the user).
    fn sign_in(&self, server: &str, user: &str, key: &str) -> Result<String, String>;
    /// Forgets the kept sign-in, as `ftrack-connect logout` does.
    fn sign_out_of_server(&self) -> Result<(), String>;
    /// Restarts the host in this process, to use the sign-in now kept; the restarted window
    /// listens on `handover.port` and accepts `handover.code` as a sign-in link.
    fn restart(&self, handover: Handover);
}

/// What a window hands the next run of its host when the host restarts: its port, its
/// listening socket, and a sign-in link code the page already has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Handover {
    /// The port the window listened on.
    pub port: u16,
    /// A sign-in link code the restarted window accepts (once, for a minute).
    pub code: String,
    /// The listening socket itself, kept open across the restart (a file descriptor the
    /// next run inherits), so that the port is never free for another local user to take
    /// while the host restarts. `None` where that cannot be done.
    #[serde(default)]
    pub socket: Option<i32>,
}

/// A descriptor of `listener`'s socket that survives `exec` (unix): the next run's.
#[cfg(unix)]
fn inheritable(listener: &std::net::TcpListener) -> Option<i32> {
    use std::os::fd::AsRawFd;
    // SAFETY: dup of a descriptor this process owns; the copy is owned by no Rust value and
    // has no close-on-exec flag, so it outlives this run's listener and the exec.
    let copy = unsafe { libc::dup(listener.as_raw_fd()) };
    (copy >= 0).then_some(copy)
}

#[cfg(not(unix))]
fn inheritable(_listener: &std::net::TcpListener) -> Option<i32> {
    None
}

/// The listener `handover` passed on, if it is a socket listening on its port.
#[cfg(unix)]
fn inherited(handover: &Handover) -> Option<std::net::TcpListener> {
    use std::os::fd::FromRawFd;
    let fd = handover.socket.filter(|fd| *fd > 2)?;
    // SAFETY: the previous run of this program left `fd` open for this one (the handover
    // file is private to the user); it is checked to be a listening socket on the port.
    let listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
    // SAFETY: sets close-on-exec on a descriptor this process now owns.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    match listener.local_addr() {
        Ok(address) if address.port() == handover.port && address.ip().is_loopback() => {
            Some(listener)
        }
        _ => None,
    }
}

#[cfg(not(unix))]
fn inherited(_handover: &Handover) -> Option<std::net::TcpListener> {
    None
}

/// Why the host did not change the plugin directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Something is in the way (a plugin folder of that name): the user may choose to replace it.
    Conflict(String),
    /// It cannot be done (a damaged or unsafe archive, a plugin installed elsewhere).
    Invalid(String),
}

/// A tab a plugin ships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Widget {
    /// The plugin's name.
    pub plugin: String,
    /// The tab's name: its folder's, under `resource/widget/`.
    pub name: String,
    /// That folder, which holds `index.html` and the tab's other files.
    pub folder: PathBuf,
}

/// What every request handler shares.
#[derive(Clone)]
pub(crate) struct App {
    host: Arc<dyn WindowHost>,
    sessions: Arc<Sessions>,
    snapshots: Arc<api::Snapshots>,
    address: SocketAddr,
    /// Where the window keeps what it remembers (recent contexts).
    state_dir: PathBuf,
    /// Files being published.
    publishes: Arc<publish::Publishes>,
    /// The pipeline runs started from the Pipeline tab.
    pipeline_runs: Arc<jobs::Jobs>,
    /// This run of the window, for a page waiting for the host to restart.
    instance: String,
    /// The listening socket, for the handover at a restart.
    listener: Arc<std::net::TcpListener>,
}

/// The window's server, running; dropping it stops it.
pub struct Window {
    address: SocketAddr,
    sessions: Arc<Sessions>,
    stop: watch::Sender<bool>,
}

impl Window {
    /// Serves the window for `host` on `127.0.0.1` (a port the OS picks, or the one
    /// `handover` names when it is free), on `runtime`; what it remembers goes in `state_dir`.
    pub fn start(
        runtime: &tokio::runtime::Handle,
        host: Arc<dyn WindowHost>,
        state_dir: PathBuf,
        handover: Option<Handover>,
    ) -> std::io::Result<Window> {
        let listener = handover.as_ref().and_then(|h| {
            let kept = inherited(h);
            if kept.is_some() {
                tracing::info!("window: the socket was kept across the restart");
            }
            kept.or_else(|| std::net::TcpListener::bind(("127.0.0.1", h.port)).ok())
        });
        let listener = match listener {
            Some(listener) => listener,
            None => std::net::TcpListener::bind(("127.0.0.1", 0))?,
        };
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let sessions = Arc::new(Sessions::default());
        if let Some(handover) = &handover {
            sessions.accept_link(&handover.code);
        }
        let app = App {
            snapshots: api::Snapshots::start(host.clone(), runtime, stopped.clone()),
            host,
            sessions: sessions.clone(),
            address,
            publishes: Arc::new(publish::Publishes::new(&state_dir)),
            pipeline_runs: Arc::default(),
            instance: uuid::Uuid::new_v4().simple().to_string(),
            listener: Arc::new(listener.try_clone()?),
            state_dir,
        };
        let router = Router::new()
            .route("/", get(pages::index))
            .route("/static/instance", get(pages::instance))
            .route("/static/{file}", get(pages::asset))
            .route("/signin/{code}", get(pages::sign_in))
            .route("/api/status", get(api::status))
            .route("/api/plugins", get(api::plugins))
            .route("/api/plugins/reload", post(api::reload))
            .route(
                "/api/plugins/install",
                post(plugin_folders::install).layer(axum::extract::DefaultBodyLimit::max(
                    plugin_folders::MAX_ARCHIVE_BYTES,
                )),
            )
            .route("/api/plugins/remove", post(plugin_folders::remove))
            .route(
                "/api/plugins/open-folder",
                post(plugin_folders::open_folder),
            )
            .route("/api/signout", post(api::sign_out))
            .route("/api/live", get(api::live))
            .route("/api/contexts", get(contexts::list))
            .route("/api/contexts/{id}", get(contexts::one))
            .route(
                "/api/recent",
                get(contexts::recent).post(contexts::remember),
            )
            .route("/api/actions/discover", post(actions::discover))
            .route("/api/actions/launch", post(actions::launch))
            .route("/api/about", get(about::about))
            .route("/api/logs", get(logs::tail))
            .route("/api/publish/group", post(publish::group))
            .route("/api/publish/assets", get(publish::assets))
            .route("/api/publish/asset-types", get(publish::asset_types))
            .route("/api/publish/batches", post(publish::new_batch))
            .route(
                "/api/publish/batches/{batch}/files",
                post(publish::upload).layer(axum::extract::DefaultBodyLimit::disable()),
            )
            .route("/api/publish/batches/{batch}/publish", post(publish::start))
            .route("/api/publish/jobs/{job}", get(publish::job))
            .route("/api/pipeline/hosts", get(pipeline::hosts))
            .route("/api/pipeline/runs", post(pipeline::run))
            .route("/api/pipeline/runs/{job}", get(pipeline::follow))
            .route("/api/pipeline/logs", get(pipeline::logs))
            .route("/api/server/signin", post(server_account::sign_in))
            .route("/api/server/browser", post(server_account::browser))
            .route("/api/server/signout", post(server_account::sign_out))
            .route(
                "/server-signin/{state}",
                get(server_account::browser_returned),
            )
            .route(
                "/server-signin/done/{code}",
                get(server_account::browser_done),
            )
            .route("/api/widgets", get(widgets::list))
            .route("/api/widgets/{plugin}/publish", post(widgets::publish))
            .route("/api/widgets/{plugin}/query", post(widgets::query))
            .route("/api/widgets/{plugin}/events", get(widgets::events))
            .route(
                "/widget/{token}/{plugin}/{name}/{*file}",
                get(widgets::file),
            )
            .layer(axum::middleware::from_fn_with_state(
                app.clone(),
                guard::check,
            ))
            .with_state(app);
        let _entered = runtime.enter();
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let mut stopping = stopped;
        runtime.spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopping.changed().await;
                })
                .await;
            if let Err(err) = served {
                tracing::error!("window: the server stopped: {err}");
            }
        });
        tracing::info!("window on http://{address}/ (`ftrack-connect open` opens it)");
        Ok(Window {
            address,
            sessions,
            stop,
        })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A new sign-in link: works once, for [`session::LINK_LIFETIME`].
    pub fn sign_in_link(&self) -> String {
        format!(
            "http://{}/signin/{}",
            self.address,
            self.sessions.new_link()
        )
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
