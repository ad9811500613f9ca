//! `connect-plugin-abi`: the stable ABI between the host and native plugins, built with
//! `abi_stable`. Plugin authors write against `connect-plugin-api` (the SDK) on top of it; the
//! host's native loader (`connect-native`) implements the host side.
//!
//! A native plugin is a `cdylib` exporting one root module, [`PluginModRef`]: its name, its
//! version and a `register` function. `register` receives a [`HostSessionBox`], through which
//! the plugin subscribes [`EventHandlerBox`]es, publishes, reads the signed-in user and calls
//! the ftrack server ([`HostSession::api`]).
//!
//! Design: events and data cross the boundary as JSON text. That keeps the ABI tiny and fixed
//! while `Event` and the JSON values inside it evolve freely on both sides, and JSON is what
//! ftrack events are anyway. A handler does not receive that text, though, but a
//! [`DispatchedEventRef`] it can ask for the text: the host writes it only when a handler first
//! asks, so a handler that never looks at its event (many answer `discover` the same way
//! whatever it says) costs neither side a serialization nor a parse. Results, which every
//! handler makes, cross as a [`FlatValue`] instead (since 0.5.0): a JSON value in one vector,
//! which neither side writes out or parses (see [`value`]).
//!
//! The root module's version is this crate's version (`package_version_strings!`): this
//! crate's version *is* the ABI version. abi_stable itself refuses a plugin built against an
//! incompatible one (for 0.x, a different minor version) before any of its code runs, and
//! checks the layout of every type here when the versions agree. Nothing but the ABI lives
//! here, so nothing else can force that version to move (`plugin-api/CHANGELOG.md`).
//!
//! Nothing here may panic across the boundary: abi_stable aborts the process when a panic
//! reaches an `extern "C"` function, so each side catches panics in its own code (see
//! `connect_plugin_api::author` for the plugin side).
//!
//! The root module by hand, as `connect_plugin_api::export_plugin!` writes it for a plugin
//! (which exports it with `#[abi_stable::export_root_module]`; the host opens the library
//! with abi_stable's loader, which checks the version and layouts, then calls `register`):
//!
//! ```
//! use abi_stable::prefix_type::PrefixTypeTrait;
//! use abi_stable::std_types::{RResult, RStr, RString};
//! use connect_plugin_abi::{HostSessionBox, PluginMod, PluginModRef};
//!
//! extern "C" fn register(_session: HostSessionBox) -> RResult<(), RString> {
//!     // Subscribe `EventHandlerBox`es through the session here; an `RErr` fails the plugin.
//!     RResult::ROk(())
//! }
//!
//! let module: PluginModRef = PluginMod {
//!     name: RStr::from_str("hello"),
//!     version: RStr::from_str("1.0.0"),
//!     register,
//! }
//! .leak_into_prefix();
//! assert_eq!((module.name().as_str(), module.version().as_str()), ("hello", "1.0.0"));
//! ```

// abi_stable 0.11's `sabi_trait` expands to impls inside a const block, which newer rustc
// warns about; the code is abi_stable's, and correct.
#![allow(non_local_definitions)]
#![deny(missing_docs)]

pub mod value;

pub use value::{FlatValue, ShortText, ValueNode};

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::{RRef, VersionStrings},
    std_types::{RArc, RBox, ROption, RResult, RStr, RString},
    StableAbi,
};

/// The root module a native plugin exports (through `connect_plugin_api::export_plugin!`).
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
#[sabi(missing_field(panic))]
pub struct PluginMod {
    /// The plugin's name, as `plugins` lists it (the crate name unless the author says else).
    pub name: RStr<'static>,
    /// The plugin's version.
    pub version: RStr<'static>,
    /// Subscribes the plugin's handlers. `RErr` (or a caught panic) fails the plugin: the host
    /// removes whatever it had subscribed.
    #[sabi(last_prefix_field)]
    pub register: extern "C" fn(session: HostSessionBox) -> RResult<(), RString>,
}

impl RootModule for PluginModRef {
    declare_root_module_statics! {PluginModRef}
    const BASE_NAME: &'static str = "ftrack_connect_plugin";
    const NAME: &'static str = "ftrack_connect_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// What the host offers a native plugin.
#[sabi_trait]
pub trait HostSession: Clone + Send + Sync {
    /// Subscribes `handler` to events matching `expression` at `priority` (lower runs first).
    /// Returns the subscriber id, or why the subscription was refused (a bad expression).
    fn subscribe(
        &self,
        expression: RStr<'_>,
        priority: i64,
        handler: EventHandlerBox,
    ) -> RResult<RString, RString>;

    /// Removes a subscription; an unknown id is an error.
    fn unsubscribe(&self, id: RStr<'_>) -> RResult<(), RString>;

    /// Publishes an event (JSON, ftrack's wire form) synchronously.
    fn publish(&self, event: RStr<'_>) -> RResult<PublishOutcome, RString>;

    /// The signed-in user (or `FTRACK_API_USER`, or the OS user).
    fn api_user(&self) -> RString;

    /// The ftrack server URL, empty when none is configured.
    fn server_url(&self) -> RString;

    /// Calls the ftrack server through the plugin's own API session (since ABI 0.4.0).
    ///
    /// `request` is a JSON object naming the call and its arguments:
    ///
    /// | `call` | other keys | answer |
    /// |---|---|---|
    /// | `"query"` | `expression` | every entity selected, an array of maps |
    /// | `"get"` | `entity_type`, `id` | the entity, or `null` |
    /// | `"create"` | `entity_type`, `data` (a map) | the entity as it will be, with its `id` |
    /// | `"update"` | `entity_type`, `id`, `data` (a map) | `null` |
    /// | `"delete"` | `entity_type`, `id` | `null` |
    /// | `"commit"` | | the server's results, an array |
    ///
    /// The answer is that JSON value as text. `query` and `get` go to the server at once;
    /// `create`, `update` and `delete` wait in the plugin's session until `commit` sends them
    /// as one batch, applied all or nothing. `RErr` is why the call failed, prefixed with the
    /// plugin's name: the server's message, or that the host has no server to ask. The call
    /// blocks until the server answers or the call times out; handlers run on host threads
    /// where blocking is allowed. The API key stays in the host.
    #[sabi(last_prefix_field)]
    fn api(&self, request: RStr<'_>) -> RResult<RString, RString>;
}

/// The session handed to `register`; clone it to keep it for later (handlers that publish).
pub type HostSessionBox = HostSession_TO<'static, RArc<()>>;

/// A plugin's handler for one subscription.
#[sabi_trait]
pub trait EventHandler: Send + Sync {
    /// Handles one event, which `event` gives on demand. `RErr` is logged with the plugin's
    /// name and leaves this handler out of the results.
    #[sabi(last_prefix_field)]
    fn handle(&self, event: DispatchedEventRef<'_>) -> RResult<HandlerOutcome, RString>;
}

/// A handler as the host holds it.
pub type EventHandlerBox = EventHandler_TO<'static, RBox<()>>;

/// The event a handler is called with, as the host lends it for the length of the call.
#[sabi_trait]
pub trait DispatchedEvent {
    /// The event as JSON text in ftrack's wire form. The host writes it at most once per
    /// dispatch, when a handler first asks, and shares it until a handler changes the event.
    #[sabi(last_prefix_field)]
    fn json(&self) -> RStr<'_>;
}

/// The borrowed view of the event [`EventHandler::handle`] receives.
pub type DispatchedEventRef<'a> = DispatchedEvent_TO<'a, RRef<'a, ()>>;

/// What a handler did with an event.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct HandlerOutcome {
    /// The result (`null` counts: it is kept in the results, as in ftrack).
    pub result: FlatValue,
    /// The event's new `data` as JSON, when the handler changed it.
    pub data: ROption<RString>,
    /// The handler called `event.stop()`: dispatch ends after it.
    pub stop: bool,
}

/// What a synchronous publish from a plugin returns.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct PublishOutcome {
    /// The results, as a JSON array.
    pub results: RString,
    /// The event's `data` after the handlers ran, as JSON.
    pub data: RString,
}
