//! The host as the window sees it ([`connect_window::WindowHost`]): what `status` and
//! `plugins --json` print, and a reload as `run --watch` does after a change.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::host::Host;

/// The running host, for its window.
pub struct HostWindow(pub Arc<Host>);

impl connect_window::WindowHost for HostWindow {
    fn status(&self) -> Value {
        self.0.status()
    }

    fn plugins(&self) -> Value {
        json!({ "plugins": self.0.plugin_reports() })
    }

    fn reload_plugins(&self) {
        self.0.registry().refresh();
    }
}
