//! `connect-plugin-api`: writing ftrack-connect native plugins in plain Rust.
//!
//! A native plugin is a `cdylib` that exports one root module with [`export_plugin!`]; its
//! `register` function gets a [`author::Session`] to subscribe closures to event topics (and,
//! from them, to publish and to query and change the ftrack server: `session.query`, `get`,
//! `create`, `update`, `delete`, `commit`). This
//! crate is the author's side only: the ABI it builds on is [`abi`] (`connect-plugin-abi`,
//! whose version decides which hosts load the plugin) and the event is [`Event`]
//! (`connect-event`). It never depends on the host, so nothing in the host forces a plugin
//! to be rebuilt.
//!
//! Results are written with [`value!`] (`json!`'s syntax) in the form they cross to the host
//! in, [`value::FlatValue`]: see [`mod@value`].
//!
//! ```no_run
//! use connect_plugin_api::author::{Error, Session};
//! use connect_plugin_api::value;
//!
//! fn register(session: &Session) -> Result<(), Error> {
//!     let user = session.api_user();
//!     session.subscribe("topic=ftrack.action.discover", move |_event| {
//!         Ok(value!({"items": [{"label": format_args!("Hello {user}"), "actionIdentifier": "hello"}]}))
//!     })?;
//!     Ok(())
//! }
//!
//! connect_plugin_api::export_plugin!(register);
//! # fn main() {}
//! ```
//!
//! (Compiled, not run: only the host calls `register`, once it has loaded the `cdylib`
//! the plugin's crate builds. `plugins/` holds complete, built examples.)
#![deny(missing_docs)]

pub mod author;
pub mod value;

/// Re-exported for [`export_plugin!`]; plugin crates also depend on it directly.
pub use abi_stable;
pub use connect_event::{new_event_id, payloads, pipeline, topics, Event, Source};
/// The ABI this SDK builds on.
pub use connect_plugin_abi as abi;
