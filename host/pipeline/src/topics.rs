//! The framework's event topics (ftrack-connect-pipeline 1.3.0, `constants/__init__.py`),
//! spelled as it spells them: Python hosts and clients subscribe to these exact names.

/// A host asks for its definitions: `{pipeline: {type: "definition", host_types}}`,
/// answered by the definition plugin with `{host_types, definition_paths}`.
pub const REGISTER: &str = "ftrack.pipeline.register";

pub use connect_event::pipeline::{DISCOVER_PLUGIN, RUN_PLUGIN};

/// A client asks a host to run a definition or a plugin (`PIPELINE_HOST_RUN`).
pub const HOST_RUN: &str = "ftrack.pipeline.host.run";

/// A plugin's status, for the clients and the host's log (`PIPELINE_CLIENT_NOTIFICATION`).
pub const CLIENT_NOTIFICATION: &str = "ftrack.pipeline.client.notification";

/// A stage's progress, for the clients (`PIPELINE_CLIENT_PROGRESS_NOTIFICATION`).
pub const CLIENT_PROGRESS_NOTIFICATION: &str = "ftrack.pipeline.client.progress.notification";

/// A client looks for hosts: data `{}`, each host replying with itself
/// (`PIPELINE_DISCOVER_HOST`).
pub const HOST_DISCOVER: &str = "ftrack.pipeline.host.discover";

/// A host asks its application to open a client's window (`PIPELINE_CLIENT_LAUNCH`).
pub const CLIENT_LAUNCH: &str = "ftrack.pipeline.client.launch";

/// A host says its context changed: `{pipeline: {host_id, context_id}}`
/// (`PIPELINE_HOST_CONTEXT_CHANGE`), heard by its clients.
pub const HOST_CONTEXT_CHANGE: &str = "ftrack.pipeline.host.context.change";

/// A client changes a host's context: `{pipeline: {host_id, context_id}}`
/// (`PIPELINE_CLIENT_CONTEXT_CHANGE`), heard by that host.
pub const CLIENT_CONTEXT_CHANGE: &str = "ftrack.pipeline.client.context.change";
