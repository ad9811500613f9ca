//! `connect-remote`: the host as an ftrack client.
//!
//! A [`ServerLink`] is what the resident host holds while it is signed in to a server:
//!
//! - the server's API for hooks ([`ServerLink::api`], a [`connect_plugins::ServerApi`]: the
//!   call runs on the link's runtime while the handler's thread waits), with the API key kept
//!   inside;
//! - the server's event hub, linked to the host's own hub ([`ServerLink::attach`]): every
//!   subscription a hook makes is registered with the server, asynchronous events go through
//!   the server as `ftrack_api` sends them, and what the server sends (an
//!   `ftrack.action.discover` from the web page, another client's replies) is dispatched by
//!   the host's hub with ftrack's semantics (see `connect_core::Uplink`);
//! - the sign-in checked once at start: a server that refuses the key is said once, clearly,
//!   and the host goes on locally; a server that cannot be reached is said once, and the hub
//!   client reconnects by itself (backoff with jitter) and registers every subscription again.
//!
//! Threads: the API calls and the sign-in check run on a tokio runtime the caller owns (of
//! several threads) and hands in as a handle. The event hub's connection has a thread of its
//! own (`server-events`, a single-threaded runtime), and the server's events are dispatched on
//! it, by the code that read them, when no other thread is dispatching the hub's queue: no
//! thread is woken between reading an event and writing its reply. Handlers may block there
//! (on the API too, which runs on the other runtime); the connection waits for them, as the
//! hub's queue would have.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use connect_core::{ApiKey, EventHub, HubIdentity};
//! use connect_remote::ServerLink;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = tokio::runtime::Runtime::new()?; // several threads: hooks wait on API calls
//! let key = ApiKey::new("the user's API key");
//! let link = ServerLink::new(
//!     runtime.handle().clone(),
//!     "https://studio.ftrackapp.com",
//!     "jane",
//!     key,
//! )?;
//! let hub = Arc::new(EventHub::new(HubIdentity::local("jane")));
//! link.attach(&hub); // from now on, the hub's subscriptions are the server's too
//! if link.wait_connected(Duration::from_secs(10)) {
//!     let tasks = link.api().query("select name from Task")?;
//!     println!("{} tasks; the event hub is {}", tasks.len(), link.state());
//! }
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod api;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use connect_core::{ApiKey, EventHub, Uplink};
use connect_event::Event;
use connect_ftrack_api::{Client, ClientError};
use connect_hub_client::{HubClient, HubState};
use connect_plugins::ServerApi;
use serde_json::{Map, Value};

pub use api::HOOK_CALL_TIMEOUT;

/// Where the link stands, for `status` and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Not attached to a hub yet.
    Idle,
    /// The event hub client's state.
    Hub(HubState),
    /// The server refused the sign-in: why. The host runs locally.
    Refused(String),
}

impl std::fmt::Display for LinkState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkState::Idle => f.write_str("not connected"),
            LinkState::Hub(state) => state.fmt(f),
            LinkState::Refused(why) => write!(f, "sign-in refused: {why}"),
        }
    }
}

/// The host's link to one ftrack server, as one user.
pub struct ServerLink {
    runtime: tokio::runtime::Handle,
    events: EventsThread,
    client: Arc<Client>,
    key: ApiKey,
    hub: Mutex<Option<Arc<HubClient>>>,
    refused: Mutex<Option<String>>,
}

impl std::fmt::Debug for ServerLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerLink")
            .field("server_url", &self.client.server_url())
            .field("api_user", &self.client.api_user())
            .finish_non_exhaustive()
    }
}

impl ServerLink {
    /// A link to the server at `server_url` as `user`, its API calls on `runtime` (which must
    /// have several threads: a handler waits for its call on one of them). Nothing is sent
    /// yet.
    pub fn new(
        runtime: tokio::runtime::Handle,
        server_url: &str,
        user: &str,
        key: ApiKey,
    ) -> Result<Arc<ServerLink>, ClientError> {
        assert_eq!(
            runtime.runtime_flavor(),
            tokio::runtime::RuntimeFlavor::MultiThread,
            "the server link needs a runtime of several threads"
        );
        let client = Client::with_timeout(server_url, user, key.clone(), HOOK_CALL_TIMEOUT)?;
        let events = EventsThread::start().map_err(|e| ClientError::Unreachable {
            url: server_url.to_string(),
            reason: format!("cannot start the thread of the event hub's connection: {e}"),
        })?;
        Ok(Arc::new(ServerLink {
            runtime,
            events,
            client: Arc::new(client),
            key,
            hub: Mutex::new(None),
            refused: Mutex::new(None),
        }))
    }

    /// The server's URL.
    pub fn server_url(&self) -> &str {
        self.client.server_url()
    }

    /// The signed-in user.
    pub fn api_user(&self) -> &str {
        self.client.api_user()
    }

    /// The server's API for hooks: blocking calls, with [`HOOK_CALL_TIMEOUT`].
    pub fn api(&self) -> Arc<dyn ServerApi> {
        Arc::new(api::BlockingApi::new(
            self.runtime.clone(),
            self.client.clone(),
        ))
    }

    /// Links `hub` to the server's event hub: its subscriptions are registered there, its
    /// asynchronous events go through it, and the server's events are dispatched on it.
    /// Checks the sign-in in the background; a refused one unlinks the hub again.
    pub fn attach(self: &Arc<Self>, hub: &Arc<EventHub>) {
        let weak_hub: Weak<EventHub> = Arc::downgrade(hub);
        // Dispatched by the connection's own thread, which then writes the reply (see the
        // crate doc); queued for the hub's thread while that one is dispatching.
        let on_event = Arc::new(move |event: Event| {
            if let Some(hub) = weak_hub.upgrade() {
                hub.dispatch_received(event);
            }
        });
        let client = {
            let _runtime = self.events.handle.enter();
            Arc::new(HubClient::start_as(
                hub.identity().id.clone(),
                self.client.server_url(),
                self.client.api_user(),
                self.key.clone(),
                on_event,
            ))
        };
        hub.set_uplink(Arc::new(HubUplink(client.clone())));
        *lock(&self.hub) = Some(client);
        let link = self.clone();
        let hub = Arc::downgrade(hub);
        self.runtime
            .spawn(async move { link.check_sign_in(hub).await });
    }

    /// Asks the server who we are; a refusal unlinks the hub, and is said once.
    async fn check_sign_in(self: Arc<Self>, hub: Weak<EventHub>) {
        match self.client.server_information().await {
            Ok(_) => tracing::info!(
                "signed in to {} as {}",
                self.client.server_url(),
                self.client.api_user()
            ),
            Err(ClientError::Server { exception, content })
                if refuses_key(&exception, &content) =>
            {
                let why = format!("{exception}: {content}");
                tracing::error!(
                    "the ftrack server at {} refused the sign-in of {} ({why}); running \
                     locally: sign in again with `ftrack-connect login`",
                    self.client.server_url(),
                    self.client.api_user()
                );
                *lock(&self.refused) = Some(why);
                if let Some(hub) = hub.upgrade() {
                    hub.clear_uplink();
                }
                lock(&self.hub).take();
            }
            // Another failure of the server's (a database hiccup): not the key's fault.
            Err(err @ ClientError::Server { .. }) => tracing::warn!(
                "the ftrack server at {} could not confirm the sign-in ({err}); going on",
                self.client.server_url()
            ),
            // Unreachable or not answering as ftrack: the hub client says so and retries.
            Err(err) => tracing::debug!("sign-in not checked: {err}"),
        }
    }

    /// Unlinks `hub` and closes the connection to the server's event hub for good: what the
    /// host does when it stops, before its local server does (so that no one sees the
    /// connection break). Waits for a handler the connection's thread may be running.
    pub fn close(&self, hub: &EventHub) {
        hub.clear_uplink();
        lock(&self.hub).take();
        self.events.stop(true);
    }

    /// Where the link stands.
    pub fn state(&self) -> LinkState {
        if let Some(why) = lock(&self.refused).clone() {
            return LinkState::Refused(why);
        }
        match lock(&self.hub).as_ref() {
            Some(client) => LinkState::Hub(client.state()),
            None => LinkState::Idle,
        }
    }

    /// Waits until the event hub is connected, or `limit` passes; whether it is.
    pub fn wait_connected(&self, limit: Duration) -> bool {
        let client = lock(&self.hub).clone();
        match client {
            Some(client) => self
                .runtime
                .block_on(async move { client.wait_connected(limit).await }),
            None => false,
        }
    }
}

/// Whether the server's error says the user or key is not accepted (ftrack's
/// `InvalidCredentialsError`, or a message about the key), as opposed to any other failure.
fn refuses_key(exception: &str, content: &str) -> bool {
    let content = content.to_lowercase();
    exception.contains("Credentials")
        || content.contains("api key")
        || content.contains("credentials")
}

/// The thread the event hub's connection runs on: a single-threaded runtime, kept running
/// until the link is dropped.
struct EventsThread {
    handle: tokio::runtime::Handle,
    stop: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl EventsThread {
    fn start() -> std::io::Result<EventsThread> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("server-events".into())
            // Handlers run here.
            .stack_size(connect_core::HANDLER_THREAD_STACK)
            .spawn(move || {
                runtime.block_on(async move {
                    let _ = stopped.await;
                });
                // Dropping the runtime here ends the connection's task where it stands.
            })?;
        Ok(EventsThread {
            handle,
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stops the thread; with `wait`, returns once it has ended (after the handler it may be
    /// running).
    fn stop(&self, wait: bool) {
        if let Some(stop) = lock(&self.stop).take() {
            let _ = stop.send(());
        }
        if let Some(thread) = wait.then(|| lock(&self.thread).take()).flatten() {
            let _ = thread.join();
        }
    }
}

impl Drop for EventsThread {
    fn drop(&mut self) {
        self.stop(false);
    }
}

/// The hub's [`Uplink`] over the event hub client: notes and returns, never blocks.
struct HubUplink(Arc<HubClient>);

impl Uplink for HubUplink {
    fn subscribed(&self, expression: &str, subscriber: &Map<String, Value>) {
        self.0.subscribe(expression, subscriber.clone());
    }

    fn unsubscribed(&self, id: &str) {
        self.0.unsubscribe(id);
    }

    fn forward(&self, event: &Event) -> bool {
        self.0.try_publish(event.clone())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
