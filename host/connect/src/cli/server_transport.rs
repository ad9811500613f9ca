//! The pipeline clients' transport through a server's event hub
//! ([`connect_pipeline::client::Transport`] over a `connect-hub-client` connection), for the
//! `pipeline` commands that talk to hosts in other processes.
//!
//! The server sends this client every event matching one of its subscriptions, without
//! saying which: each is handed to the callbacks whose expression it matches, tested here
//! with ftrack's expressions as the server tested them.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connect_core::Expression;
use connect_event::Event;
use connect_hub_client::HubClient;
use connect_pipeline::client::{OnEvent, OnReply, Transport, TransportError};

/// Subscriptions made through the transport: id, expression and callback.
type Routes = Arc<Mutex<Vec<(String, Expression, OnEvent)>>>;

/// A connection to the server's event hub (the signed-in server, else the local server of
/// the running host), with its own runtime.
pub struct ServerTransport {
    runtime: tokio::runtime::Runtime,
    client: HubClient,
    routes: Routes,
}

impl ServerTransport {
    /// Connects as `run` would sign in (see `event::server_sign_in`), waiting at most 10 s.
    pub fn connect(data_dir: &Path) -> Result<ServerTransport, String> {
        let (url, user, key) = super::event::server_sign_in(data_dir)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|err| format!("cannot start: {err}"))?;
        let routes: Routes = Arc::default();
        let heard = routes.clone();
        let on_event = Arc::new(move |event: Event| {
            let callbacks: Vec<OnEvent> = heard
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .filter(|(_, expression, _)| expression.matches(&event))
                .map(|(_, _, callback)| callback.clone())
                .collect();
            for callback in callbacks {
                callback(&event);
            }
        });
        let client = {
            let _entered = runtime.enter();
            HubClient::start(&url, &user, key, on_event)
        };
        if !runtime.block_on(client.wait_connected(Duration::from_secs(10))) {
            return Err(format!(
                "cannot reach the event hub at {url}: {}",
                client.state()
            ));
        }
        Ok(ServerTransport {
            runtime,
            client,
            routes,
        })
    }
}

impl Transport for ServerTransport {
    /// The hub client keeps every reply callback as long as it lives (this command's
    /// length): no window to keep.
    fn publish(
        &self,
        event: Event,
        on_reply: OnReply,
        _window: Duration,
    ) -> Result<(), TransportError> {
        let on_reply = Box::new(move |reply: Event| on_reply(reply.data));
        self.runtime
            .block_on(self.client.publish(event, Some(on_reply)))
            .map_err(|err| TransportError(err.to_string()))
    }

    fn subscribe(&self, expression: &str, on_event: OnEvent) -> Result<String, TransportError> {
        let parsed =
            Expression::parse(expression).map_err(|err| TransportError(err.to_string()))?;
        let id = self.client.subscribe(expression, Default::default());
        self.routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id.clone(), parsed, on_event));
        Ok(id)
    }

    fn unsubscribe(&self, id: &str) {
        self.client.unsubscribe(id);
        self.routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(route, _, _)| route != id);
    }
}
