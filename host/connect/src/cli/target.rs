//! Where a command's events go: the running host of this user, when there is one and the
//! command was not asked to stand alone, or a host loaded for this command alone
//! ([`Host::standalone`]: loaded, then the session start-up run). Every command that needs a
//! host builds it this way but `publish`, which always loads its own (signed in as the
//! publish is) and runs the start-up itself, since it needs what the `configure-location`
//! hooks answered and `standalone` drops that.

use std::path::Path;

use connect_event::Event;
use connect_plugins::PluginReport;
use ftrack_connect::credentials;
use ftrack_connect::endpoint::{Client, ClientError};
use ftrack_connect::host::{Host, HostOptions};
use serde_json::Value;

/// The host a command talks to.
pub enum Target {
    /// The resident host, through its endpoint.
    Running(Client),
    /// Plugins loaded in this process.
    Here(Host),
}

impl Target {
    /// The running host unless `standalone`, else (or when none runs) a host loaded here.
    pub fn find(standalone: bool, data_dir: &Path, options: &HostOptions) -> Target {
        match (!standalone).then(|| Client::find(data_dir)).flatten() {
            Some(client) => Target::Running(client),
            None => Target::Here(Host::standalone(&credentials::current(data_dir), options)),
        }
    }

    /// Publishes synchronously; returns the results (after the asynchronous events the
    /// publish caused, when the host is here).
    pub fn publish(&self, event: Event) -> Result<Vec<Value>, ClientError> {
        match self {
            Target::Running(client) => client.publish(event),
            Target::Here(host) => {
                let mut event = event;
                let results = host.hub().publish(&mut event);
                host.hub().drain();
                Ok(results)
            }
        }
    }

    /// Publishes synchronously; returns the results as one JSON array, written without
    /// converting a result that is already JSON text.
    pub fn publish_as_text(&self, event: Event) -> Result<String, ClientError> {
        let text = match self {
            Target::Running(client) => serde_json::to_string(&client.publish(event)?),
            Target::Here(host) => {
                let mut event = event;
                let results = host.hub().publish_replies(&mut event);
                host.hub().drain();
                serde_json::to_string(&results)
            }
        };
        Ok(text.expect("results are JSON"))
    }

    /// Every plugin and whether it loaded.
    pub fn plugins(&self) -> Result<Vec<PluginReport>, ClientError> {
        match self {
            Target::Running(client) => client.plugins(),
            Target::Here(host) => Ok(host.plugin_reports()),
        }
    }

    /// The running host's link to its server, as `status` shows it (`url`, `event_hub`, ...);
    /// `None` for a host loaded here (it has no server) or one linked to none.
    pub fn server(&self) -> Option<Value> {
        match self {
            Target::Running(client) => client
                .status()
                .ok()
                .map(|status| status["server"].clone())
                .filter(|server| !server.is_null()),
            Target::Here(_) => None,
        }
    }

    /// Ends the command. A host loaded here is not taken apart: the process ends now, and
    /// dropping every plugin's scripts first would only cost time (a tenth of a 200-plugin
    /// `event publish`). Only the processes hooks run in are ended, so that what they printed
    /// is logged before the host exits.
    pub fn finish(self) {
        if let Target::Here(host) = self {
            host.registry().stop_loaders();
            std::mem::forget(host);
        }
    }
}
