//! The host: the hub, the loaders, the built-in plugins and the plugin registry put together,
//! and Connect's session start-up. Every command that loads plugins builds its host here, the
//! same way ([`Host::standalone`] for a command that runs without a resident host).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock, Weak};

use connect_core::{
    EventHub, Expression, Handler, HubIdentity, Identity, PluginTag, SubscribeOptions,
};
use connect_event::{topics, Event};
use connect_isolate::IsolatedLoader;
pub use connect_isolate::IsolationOptions;
use connect_native::NativeLoader;
use connect_plugins::{
    Loader, PluginRegistry, PluginReport, PluginStatus, SearchPaths, ServerApi, SessionInfo,
};
use connect_python::PythonLoader;

pub use connect_plugins::ChangeTracking;
pub use connect_python::{PythonOptions, PythonSignIn};
use connect_remote::ServerLink;
use connect_rhai::RhaiLoader;
use serde_json::{json, Value};

use crate::builtin;

pub use connect_core::HANDLER_THREAD_STACK;

/// Where a host finds its plugins and keeps what it loads.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// Plugin roots and hook directories, in load order.
    pub search_paths: SearchPaths,
    /// A private folder where native libraries are copied to be loaded.
    pub native_copy_dir: PathBuf,
    /// Folders of launcher configs read besides plugins' `launch/` folders.
    pub launcher_config_paths: Vec<PathBuf>,
    /// Run native plugins each in a process of its own, so, when set.
    pub isolate_native: Option<IsolationOptions>,
    /// How Python hooks run (the user and sign-in are the host's, filled in when it loads).
    pub python: PythonOptions,
    /// Whether the host records what its plugins' files look like, to reload those that
    /// change (`run`); a command that asks its plugins and exits does not.
    pub change_tracking: ChangeTracking,
}

/// A loaded host: the hub with every plugin registered.
pub struct Host {
    registry: Arc<PluginRegistry>,
    identity: Identity,
    server: Option<ServerConnection>,
}

/// The server a resident host is linked to, and how it came to be that one.
pub struct ServerConnection {
    /// The link.
    pub link: Arc<ServerLink>,
    /// How the sign-in was found: `"environment"`, `"credentials.json"`, or `"local server"`
    /// (the embedded one, started by this host).
    pub sign_in: &'static str,
}

impl Host {
    /// Subscribes the host's own answers, then loads the built-in plugins and every plugin
    /// found, with the Rhai and native loaders. Hooks get no server API.
    pub fn load(identity: &Identity, options: &HostOptions) -> Host {
        Host::load_linked(identity, options, None)
    }

    /// As [`Host::load`], linked to `server` (see [`ServerLink::attach`]) before any plugin
    /// loads: the connection is made while they load, each subscription is registered with
    /// the server as it is made, and every plugin's session gets the server's API.
    pub fn load_linked(
        identity: &Identity,
        options: &HostOptions,
        server: Option<ServerConnection>,
    ) -> Host {
        let hub = Arc::new(EventHub::new(HubIdentity::local(&identity.api_user)));
        let api: Option<Arc<dyn ServerApi>> = server.as_ref().map(|server| {
            server.link.attach(&hub);
            server.link.api()
        });
        let registry_slot = Arc::new(OnceLock::new());
        subscribe_own_answers(&hub, identity, registry_slot.clone());
        let native: Box<dyn Loader> = match &options.isolate_native {
            Some(isolation) => Box::new(IsolatedLoader::new(isolation.clone())),
            None => Box::new(NativeLoader::new(options.native_copy_dir.clone())),
        };
        let mut python = options.python.clone();
        python.api_user = identity.api_user.clone();
        // Python hooks' sessions sign in as the host does, to the server it is linked to
        // (or as the command that loads them says).
        if let (Some(_), Some(api_key)) = (&server, identity.api_key.clone()) {
            python.sign_in = Some(PythonSignIn {
                server_url: identity.server_url.clone(),
                api_user: identity.api_user.clone(),
                api_key,
            });
        }
        let loaders: Vec<Box<dyn Loader>> = vec![
            Box::new(RhaiLoader),
            native,
            Box::new(PythonLoader::new(python)),
        ];
        let mut builtins = builtin::default_hooks();
        builtins.push(Box::new(builtin::ApplicationLauncher {
            config_paths: options.launcher_config_paths.clone(),
            identity: identity.clone(),
        }));
        let session = SessionInfo {
            api_user: identity.api_user.clone(),
            server_url: identity.server_url.clone(),
            api,
        };
        let registry = Arc::new(PluginRegistry::load(
            hub,
            loaders,
            builtins,
            options.search_paths.clone(),
            session,
            options.change_tracking,
        ));
        let _ = registry_slot.set(Arc::downgrade(&registry));
        Host {
            registry,
            identity: identity.clone(),
            server,
        }
    }

    /// The API of the server this host is linked to, if it is.
    pub fn server_api(&self) -> Option<Arc<dyn ServerApi>> {
        self.server.as_ref().map(|server| server.link.api())
    }

    /// Closes the link to the server, if there is one (see [`ServerLink::close`]): the first
    /// step of stopping.
    pub fn disconnect(&self) {
        if let Some(server) = &self.server {
            server.link.close(self.hub());
        }
    }

    /// What `ftrack-connect status` shows: who is signed in where, the event hub's state,
    /// and how many plugins loaded.
    pub fn status(&self) -> Value {
        let reports = self.plugin_reports();
        let count = |status: PluginStatus| reports.iter().filter(|r| r.status == status).count();
        let server = self.server.as_ref().map(|server| {
            json!({
                "url": server.link.server_url(),
                "api_user": server.link.api_user(),
                "sign_in": server.sign_in,
                "event_hub": server.link.state().to_string(),
            })
        });
        json!({
            "pid": std::process::id(),
            "api_user": self.identity.api_user,
            "server": server,
            "plugins": {
                "loaded": count(PluginStatus::Loaded),
                "failed": count(PluginStatus::Failed),
                "skipped": count(PluginStatus::Skipped),
            },
        })
    }

    /// A host for one command: loaded, and with the session start-up run, so that hooks that
    /// prepare state on `ftrack.api.session.ready` behave as in Connect.
    pub fn standalone(identity: &Identity, options: &HostOptions) -> Host {
        let host = Host::load(identity, options);
        let _ = host.start_session();
        host
    }

    /// The hub every plugin is registered on.
    pub fn hub(&self) -> &Arc<EventHub> {
        self.registry.hub()
    }

    /// The plugins, for `run --watch` and the endpoint.
    pub fn registry(&self) -> &Arc<PluginRegistry> {
        &self.registry
    }

    /// Every plugin with its current subscription count.
    pub fn plugin_reports(&self) -> Vec<PluginReport> {
        self.registry.reports()
    }

    /// The session start-up ftrack's API runs after discovery:
    /// `ftrack.api.session.configure-location`, then `ftrack.api.session.ready`, and the
    /// asynchronous events they caused (those sent to the server, when the host is linked and
    /// already connected, are dispatched as the server sends them back).
    /// Returns what the `configure-location` hooks answered (the publisher reads the
    /// locations they declare from it).
    pub fn start_session(&self) -> Vec<Value> {
        let session = json!({
            "api_user": self.identity.api_user,
            "server_url": self.identity.server_url,
        });
        let mut configured = Vec::new();
        for topic in topics::SESSION_STARTUP {
            let mut event = Event::new(topic).with_data(json!({ "session": session }));
            let results = self.hub().publish(&mut event);
            if topic == topics::SESSION_CONFIGURE_LOCATION {
                configured = results;
            }
        }
        self.hub().drain();
        configured
    }

    /// Connect's start-up check: returns the warnings hooks answered with (and logs them).
    pub fn verify_startup(&self) -> Vec<String> {
        let mut event = Event::new(topics::CONNECT_VERIFY_STARTUP);
        let warnings: Vec<String> = self
            .hub()
            .publish(&mut event)
            .into_iter()
            .filter_map(|r| match r {
                Value::String(text) if !text.trim().is_empty() => Some(text),
                _ => None,
            })
            .collect();
        for warning in &warnings {
            tracing::warn!("start-up check: {warning}");
        }
        warnings
    }
}

/// The host's own answers: `ftrack.connect.discover` for its own user, and
/// `ftrack.connect.plugin.debug-information` from the registry that `registry` will hold
/// (subscribed before any plugin, so they come first among equal priorities).
fn subscribe_own_answers(
    hub: &Arc<EventHub>,
    identity: &Identity,
    registry: Arc<OnceLock<Weak<PluginRegistry>>>,
) {
    let tag = Some(PluginTag::new("ftrack-connect"));
    let discover = Expression::All(vec![
        Expression::equals("topic", topics::CONNECT_DISCOVER),
        Expression::equals("source.user.username", &identity.api_user),
    ]);
    let answers: [(Expression, Arc<dyn Handler>); 2] = [
        (discover, Arc::new(|_: &mut Event| Ok(json!(true)))),
        (
            Expression::equals("topic", topics::CONNECT_PLUGIN_DEBUG_INFORMATION),
            Arc::new(move |_: &mut Event| {
                let reports = registry
                    .get()
                    .and_then(Weak::upgrade)
                    .map(|registry| registry.reports());
                Ok(reports.map_or(Value::Null, |reports| debug_information(&reports)))
            }),
        ),
    ];
    for (expression, handler) in answers {
        let options = SubscribeOptions {
            plugin: tag.clone(),
            ..Default::default()
        };
        hub.subscribe_expression(expression, handler, options)
            .expect("a fresh subscriber id is unique");
    }
}

/// The answer to `ftrack.connect.plugin.debug-information`: the host itself, then each plugin.
fn debug_information(reports: &[PluginReport]) -> Value {
    let mut entries = vec![json!({
        "name": "ftrack-connect",
        "version": env!("CARGO_PKG_VERSION"),
        "core": true,
        "debug_information": {
            "implementation": "Rust host",
            "os": std::env::consts::OS,
            "arch": std::env::consts::ARCH,
        },
    })];
    entries.extend(reports.iter().map(|r| {
        json!({
            "name": r.name,
            "version": r.version,
            "kind": r.kind,
            "path": r.path,
            "status": r.status,
        })
    }));
    Value::Array(entries)
}
