//! `ftrack-connect`: the host for ftrack Connect plugins, put together.
//!
//! The other crates each do one job (`connect-core`: expressions and the hub;
//! `connect-plugins`: discovery and the registry; `connect-rhai`, `connect-native`: the
//! loaders; `connect-launcher`: the application launcher). This crate composes them and holds
//! what is about the program rather than about plugins:
//!
//! - [`host`]: the hub, loaders, built-in plugins and registry put together ([`Host`]), and
//!   Connect's session start-up; [`builtin`]: the plugins shipped in the binary;
//! - [`window`]: the host as its window ([`connect_window`]) sees it; [`action_groups`]:
//!   actions grouped as Connect shows them, for `actions` and the window;
//! - [`endpoint`]: the resident host's local endpoint and its client;
//! - [`local_server`]: the local ftrack server `run` serves when nobody signed in;
//! - [`locations`], [`credentials`], [`instance_lock`], [`logging`]: the files and settings
//!   around the host; [`scaffold`]: `plugin new`; [`desktop`]: opening links and folders;
//! - [`publishing`]: what `publish` and the window's Publish tab share;
//!   [`pipeline_plugins`]: the pipeline plugins a standalone publish needs.
//!
//! The command line (`src/main.rs` and `src/cli/`, one module per subcommand) is the only
//! place that parses arguments or prints to stdout.
//!
//! ```no_run
//! use ftrack_connect::host::{ChangeTracking, Host, HostOptions, PythonOptions};
//! use ftrack_connect::{credentials, locations};
//! use connect_event::Event;
//!
//! let data_dir = locations::user_data_dir();
//! let options = HostOptions {
//!     search_paths: locations::search_paths(&[]),
//!     native_copy_dir: data_dir.join("native"),
//!     launcher_config_paths: locations::launcher_config_paths(),
//!     isolate_native: None,
//!     python: PythonOptions::from_environment(""),
//!     change_tracking: ChangeTracking::Off,
//! };
//! let host = Host::standalone(&credentials::current(&data_dir), &options);
//! let results = host.hub().publish(&mut Event::new("ftrack.action.discover"));
//! println!("{} answers", results.len());
//! ```
#![deny(missing_docs)]

pub mod action_groups;
pub mod builtin;
pub mod credentials;
pub mod desktop;
pub mod endpoint;
pub mod host;
pub mod instance_lock;
pub mod local_server;
pub mod locations;
pub mod logging;
pub mod pipeline_plugins;
pub mod publish_components;
pub mod publishing;
pub mod scaffold;
pub mod window;

pub use host::{Host, HostOptions};
