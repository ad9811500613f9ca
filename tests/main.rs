//! The host's integration tests, in one binary: the real `ftrack-connect` against real plugin
//! folders, files and processes. [`kit`] is the test kit every module shares (a private home
//! per test, plugin folders on disk, the binary run and its output captured).

mod kit;

mod actions_cli;
mod browser;
mod command_line;
mod dev_mode;
mod event_match;
mod host_client;
mod hub_dispatch;
mod isolation;
mod launcher;
mod layout;
mod login;
mod native_plugins;
mod pipeline;
mod pipeline_assets;
mod plugin_discovery;
mod publish_cli;
mod python_hooks;
mod rhai_hooks;
mod run_mode;
mod sequences_cli;
mod server_api;
mod server_hub;
mod window;
mod window_api;
mod window_browser;
mod window_pipeline;
