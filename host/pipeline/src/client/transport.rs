//! How a client reaches the pipeline hosts: a [`Transport`] publishes its events and hears
//! the hosts' notifications. [`HubTransport`] publishes synchronously on an event hub of
//! this process (hosts in this process answer); [`QueuedHubTransport`] publishes
//! asynchronously on the resident host's hub, so through the server when the hub is linked
//! to one (hosts of every process answer: the window's client); the command line's goes
//! through the server's event hub itself (a `connect-hub-client` connection, in
//! `ftrack-connect`). The client logic is the same wherever the host runs.

use std::sync::{Arc, Weak};
use std::time::Duration;

use connect_core::{EventHub, SubscribeOptions};
use connect_event::Event;
use serde_json::Value;

/// Hears each reply's data to one publish.
pub type OnReply = Box<dyn Fn(Value) + Send + Sync>;

/// Hears each event of a subscription.
pub type OnEvent = Arc<dyn Fn(&Event) + Send + Sync>;

/// Why the transport could not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// Carries a client's events to the hosts and the hosts' events back.
pub trait Transport: Send + Sync {
    /// Publishes `event`; the data of each reply reaches `on_reply`, on any thread, for as
    /// long as `window` (how long the answer may take: a run's may take long; a transport
    /// that forgets reply callbacks keeps this one that long). Returns once the event is
    /// sent.
    fn publish(
        &self,
        event: Event,
        on_reply: OnReply,
        window: Duration,
    ) -> Result<(), TransportError>;

    /// Subscribes `on_event` to the events matching `expression`; the subscriber id.
    fn subscribe(&self, expression: &str, on_event: OnEvent) -> Result<String, TransportError>;

    /// Removes a subscription.
    fn unsubscribe(&self, id: &str);
}

/// An event hub of this process as the transport. A publish is dispatched at once, in the
/// caller's thread, and its replies handed to `on_reply` before `publish` returns: a local
/// host answers a run when it is done, so this waits for it.
pub struct HubTransport {
    hub: Weak<EventHub>,
}

impl HubTransport {
    /// The transport of `hub`.
    pub fn new(hub: &Arc<EventHub>) -> HubTransport {
        HubTransport {
            hub: Arc::downgrade(hub),
        }
    }

    fn hub(&self) -> Result<Arc<EventHub>, TransportError> {
        self.hub
            .upgrade()
            .ok_or_else(|| TransportError("the event hub is gone".into()))
    }
}

impl Transport for HubTransport {
    fn publish(
        &self,
        mut event: Event,
        on_reply: OnReply,
        _window: Duration,
    ) -> Result<(), TransportError> {
        for reply in self.hub()?.publish(&mut event) {
            if !reply.is_null() {
                on_reply(reply);
            }
        }
        Ok(())
    }

    fn subscribe(&self, expression: &str, on_event: OnEvent) -> Result<String, TransportError> {
        let handler = move |event: &mut Event| {
            on_event(event);
            Ok(Value::Null)
        };
        self.hub()?
            .subscribe(expression, Arc::new(handler), SubscribeOptions::default())
            .map_err(|err| TransportError(err.to_string()))
    }

    fn unsubscribe(&self, id: &str) {
        if let Ok(hub) = self.hub() {
            let _ = hub.unsubscribe(id);
        }
    }
}

/// The resident host's event hub as the transport, its events published asynchronously:
/// through the server when the hub is linked to one (every host linked to it answers, in any
/// process), else dispatched by the hub's own queue. Replies come on the hub's threads, so
/// the hub's queue must be running, as in the resident host.
pub struct QueuedHubTransport {
    hub: HubTransport,
}

impl QueuedHubTransport {
    /// The transport of `hub`.
    pub fn new(hub: &Arc<EventHub>) -> QueuedHubTransport {
        QueuedHubTransport {
            hub: HubTransport::new(hub),
        }
    }
}

impl Transport for QueuedHubTransport {
    fn publish(
        &self,
        event: Event,
        on_reply: OnReply,
        window: Duration,
    ) -> Result<(), TransportError> {
        let on_reply = Arc::new(move |reply: &Event| on_reply(reply.data.clone()));
        if self
            .hub
            .hub()?
            .publish_async_waiting(event, Some(on_reply), window)
        {
            Ok(())
        } else {
            Err(TransportError(
                "the event was dropped: too many events wait in the host's queue".into(),
            ))
        }
    }

    fn subscribe(&self, expression: &str, on_event: OnEvent) -> Result<String, TransportError> {
        self.hub.subscribe(expression, on_event)
    }

    fn unsubscribe(&self, id: &str) {
        self.hub.unsubscribe(id)
    }
}
