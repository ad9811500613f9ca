//! The host as the window sees it ([`connect_window::WindowHost`]): what `status` and
//! `plugins --json` print, a reload as `run --watch` does after a change, the server's API
//! for the entity browser, actions as `ftrack-connect actions` discovers and launches them,
//! what About shows and the log file the Logs tab follows.

use std::path::PathBuf;
use std::sync::Arc;

use connect_event::payloads::{ActionItem, ActionItems, ActionLaunch, ActionReply};
use connect_event::{topics, Event};
use serde_json::{json, Map, Value};

use crate::action_groups::group_actions;
use crate::host::{Host, HostOptions};
use crate::logging;

/// The running host, for its window.
pub struct HostWindow {
    /// The host.
    pub host: Arc<Host>,
    /// Where it was told to look for plugins and launcher configs (About shows them).
    pub options: HostOptions,
    /// The user data folder.
    pub data_dir: PathBuf,
}

impl HostWindow {
    /// Publishes `event` as the window's and waits for its answers, as `actions` does.
    fn answers(&self, mut event: Event) -> Vec<Value> {
        let results = self.host.hub().publish(&mut event);
        self.host.hub().drain();
        results
    }
}

impl connect_window::WindowHost for HostWindow {
    fn status(&self) -> Value {
        self.host.status()
    }

    fn plugins(&self) -> Value {
        json!({ "plugins": self.host.plugin_reports() })
    }

    fn reload_plugins(&self) {
        self.host.registry().refresh();
    }

    fn query(&self, expression: &str) -> Result<Vec<Value>, String> {
        let api = self.host.server_api().ok_or(
            "this host is not signed in to an ftrack server (`ftrack-connect login`)".to_string(),
        )?;
        api.query(expression).map_err(|err| err.to_string())
    }

    fn actions(&self, selection: &[Value]) -> Value {
        let event =
            Event::new(topics::ACTION_DISCOVER).with_data(json!({ "selection": selection }));
        let items = ActionItems::collect(&self.answers(event));
        let groups: Vec<Value> = group_actions(&items)
            .into_iter()
            .map(|group| json!({ "label": group.label, "items": group.items }))
            .collect();
        Value::Array(groups)
    }

    fn launch(&self, item: Value, selection: Vec<Value>) -> Value {
        let item: ActionItem = match serde_json::from_value(item) {
            Ok(item) => item,
            Err(err) => return json!([{ "success": false, "message": err.to_string() }]),
        };
        let data = ActionLaunch {
            item,
            selection: serde_json::from_value(Value::Array(selection)).unwrap_or_default(),
        };
        let event = Event::new(topics::ACTION_LAUNCH)
            .with_data(serde_json::to_value(data).expect("launch data is JSON"));
        let replies: Vec<Value> = self
            .answers(event)
            .iter()
            .filter_map(ActionReply::from_answer)
            .map(|reply| json!({ "success": reply.success, "message": reply.message_text() }))
            .collect();
        Value::Array(replies)
    }

    fn about(&self) -> Value {
        let answers = self.answers(Event::new(topics::CONNECT_PLUGIN_DEBUG_INFORMATION));
        // Each answer is one plugin's entry or a list of them (the host's own answer).
        let debug_information: Vec<Value> = answers
            .into_iter()
            .flat_map(|answer| match answer {
                Value::Array(entries) => entries,
                Value::Null => Vec::new(),
                entry => vec![entry],
            })
            .collect();
        let paths = &self.options.search_paths;
        let mut variables: Vec<(String, String)> = std::env::vars_os()
            .map(|(name, value)| {
                (
                    name.to_string_lossy().into_owned(),
                    value.to_string_lossy().into_owned(),
                )
            })
            .collect();
        variables.sort();
        let environment: Map<String, Value> = variables
            .into_iter()
            .map(|(name, value)| (name, Value::String(value)))
            .collect();
        json!({
            "debug_information": debug_information,
            "versions": {
                "ftrack-connect": env!("CARGO_PKG_VERSION"),
                "os": std::env::consts::OS,
                "arch": std::env::consts::ARCH,
            },
            "paths": {
                "data": self.data_dir,
                "log file": logging::log_file(&self.data_dir),
                "plugin folders": paths.plugin_roots,
                "hook folders": paths.hook_dirs,
                "launcher configs": self.options.launcher_config_paths,
            },
            "environment": environment,
        })
    }

    fn log_file(&self) -> PathBuf {
        logging::log_file(&self.data_dir)
    }
}
