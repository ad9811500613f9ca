//! `connect-host`: a host for ftrack Connect plugins.
//!
//! It runs the plugin folders and hooks that ftrack Connect runs, with ftrack's own event
//! semantics, and is built from parts that each do one job:
//!
//! - [`expression`]: ftrack's subscription expressions, parsed and matched;
//! - [`hub`]: the event hub (subscriptions, dispatch, replies); [`reply`]: handler results,
//!   kept in the form each handler made them until read;
//! - [`discovery`]: which plugin folders and hook files exist, in a documented load order;
//! - [`rhai_hook`]: compiling Rhai hooks and giving them a session;
//! - [`native_hook`]: loading native (`cdylib`) plugins through the stable ABI;
//! - [`host`]: loading everything into one hub and running Connect's start-up;
//! - [`plugin_watcher`], [`endpoint`], [`scaffold`]: development mode (`run --watch`, the
//!   local endpoint other commands talk to, `plugin new`);
//! - [`launcher`]: the built-in application launcher (launcher configs, installed versions,
//!   starting programs); [`actions`]: the `actions` command that lists and runs actions;
//! - [`locations`], [`credentials`], [`instance_lock`], [`logging`]: the files and settings
//!   around it.
//!
//! The `ftrack-connect` binary (`src/main.rs`) is the command line on top.

pub mod actions;
pub mod credentials;
pub mod discovery;
pub mod endpoint;
pub mod expression;
pub mod host;
pub mod hub;
pub mod instance_lock;
pub mod launcher;
pub mod locations;
pub mod logging;
pub mod native_hook;
pub mod plugin_watcher;
pub mod reply;
pub mod rhai_hook;
pub mod scaffold;
