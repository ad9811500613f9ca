//! The topic names of ftrack's protocol that the host publishes or answers.
//!
//! Written once here, so a hook, the host and a test cannot disagree about a spelling.
//! The names are ftrack's own (`ftrack_api`, ftrack Connect, the application launcher).

/// The reply an asynchronous publish gets from each subscriber with a non-null result
/// (`ftrack_api.event.hub.EventHub.publish_reply`).
pub const META_REPLY: &str = "ftrack.meta.reply";
/// A client registers a subscriber with the server's event hub.
pub const META_SUBSCRIBE: &str = "ftrack.meta.subscribe";
/// A client removes a subscriber from the server's event hub.
pub const META_UNSUBSCRIBE: &str = "ftrack.meta.unsubscribe";

/// Asks every subscriber for the actions it offers a selection; answered with
/// [`crate::payloads::ActionItems`].
pub const ACTION_DISCOVER: &str = "ftrack.action.discover";

/// Runs an action: the chosen [`crate::payloads::ActionItem`]'s fields plus the selection;
/// answered with a [`crate::payloads::ActionReply`].
pub const ACTION_LAUNCH: &str = "ftrack.action.launch";

/// The first topic of a session's start-up: hooks configure locations.
pub const SESSION_CONFIGURE_LOCATION: &str = "ftrack.api.session.configure-location";

/// Published once the session is ready, after `configure-location`.
pub const SESSION_READY: &str = "ftrack.api.session.ready";

/// Connect's start-up check: string answers are warnings shown to the user.
pub const CONNECT_VERIFY_STARTUP: &str = "ftrack.connect.verify-startup";

/// Asks whether a Connect runs for a user; the host answers `true` for its own user.
pub const CONNECT_DISCOVER: &str = "ftrack.connect.discover";

/// Asks Connect and each plugin for what the About window shows.
pub const CONNECT_PLUGIN_DEBUG_INFORMATION: &str = "ftrack.connect.plugin.debug-information";

/// Asks the integrations of an application whether they are present (the launcher's
/// `integrations` groups).
pub const APPLICATION_DISCOVER: &str = "ftrack.connect.application.discover";

/// Published synchronously before an application starts, with
/// [`crate::payloads::ApplicationLaunch`]; hooks change the command and environment in place
/// or answer with `{"integration": ...}`, a [`crate::payloads::IntegrationChanges`].
pub const APPLICATION_LAUNCH: &str = "ftrack.connect.application.launch";

/// Asks the artist's Connect to publish files from their machine (the ftrack web page sends
/// it): `data.components_config` names a JSON file of components in the user data folder;
/// answered with `{"success", "error_result"}`, as Connect's built-in hook does.
pub const PUBLISH_COMPONENTS: &str = "ftrack.connect.publish-components";

/// Published synchronously by the publisher for the component to encode for review, with
/// `data.versionId` and `data.path`; hooks answer with the encoding they started (Connect's
/// built-in one uploads the file and has the server encode it).
pub const MAKE_WEB_PLAYABLE: &str = "ftrack.connect.publish.make-web-playable";

/// The start-up topics a session publishes, in order, before it is used.
pub const SESSION_STARTUP: [&str; 2] = [SESSION_CONFIGURE_LOCATION, SESSION_READY];
