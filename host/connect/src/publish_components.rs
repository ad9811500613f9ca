//! Connect's built-in `ftrack.connect.publish-components` hook, in the resident host: the
//! ftrack web page (or a script) asks the artist's Connect to publish files from their
//! machine. The event names a JSON file, which must be in the user data folder's `data/`
//! (as Connect requires: nobody can make the host publish an arbitrary file list), holding a
//! list of components: `{"path": ..., "location": "auto" | "ftrack.server" |
//! "ftrack.unmanaged", "version_id": ..., "name": ...}`. They are created and committed at
//! once (`connect_publisher::add_components`), and the reply is Connect's:
//! `{"success": true|false, "error_result": null | {"exception", "content"}}`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use connect_core::{EventHub, Expression, HandlerError, PluginTag, SubscribeOptions};
use connect_event::topics::PUBLISH_COMPONENTS;
use connect_event::Event;
use connect_ftrack_api::Client;
use connect_publisher::{add_components, AddComponent, ComponentSource, SERVER_LOCATION};
use serde_json::{json, Value};

/// Subscribes the hook for `api_user`'s events, publishing with `client` on `runtime`;
/// component lists are only read from `data_dir/data`.
pub fn subscribe(
    hub: &Arc<EventHub>,
    client: Arc<Client>,
    runtime: tokio::runtime::Handle,
    api_user: &str,
    data_dir: &Path,
) {
    let allowed = data_dir.join("data");
    let handler = move |event: &mut Event| -> Result<Value, HandlerError> {
        let outcome = components(&event.data, &allowed).and_then(|components| {
            // The call runs on the runtime; this thread (a hub thread, perhaps inside the
            // server connection's own runtime) only waits.
            let (done, outcome) = std::sync::mpsc::channel();
            let client = client.clone();
            runtime.spawn(async move {
                let _ = done.send(add_components(&client, &components).await);
            });
            outcome
                .recv()
                .map_err(|_| "the host is stopping".to_string())?
                .map_err(|e| e.to_string())
        });
        Ok(match outcome {
            Ok(_) => json!({"success": true, "error_result": null}),
            Err(content) => {
                tracing::warn!("{PUBLISH_COMPONENTS}: {content}");
                json!({"success": false,
                       "error_result": {"exception": "PublishError", "content": content}})
            }
        })
    };
    let expression = Expression::All(vec![
        Expression::equals("topic", PUBLISH_COMPONENTS),
        Expression::equals("source.user.username", api_user),
    ]);
    let options = SubscribeOptions {
        plugin: Some(PluginTag::new("ftrack-connect-publisher")),
        ..Default::default()
    };
    if let Err(err) = hub.subscribe_expression(expression, Arc::new(handler), options) {
        tracing::error!("the {PUBLISH_COMPONENTS} hook: {err}");
    }
}

/// The components the event's `components_config` file lists, read and checked.
fn components(data: &Value, allowed: &Path) -> Result<Vec<AddComponent>, String> {
    let config = data["components_config"]
        .as_str()
        .ok_or("the event names no components_config file")?;
    let config = PathBuf::from(config)
        .canonicalize()
        .map_err(|e| format!("{config}: {e}"))?;
    let allowed = allowed
        .canonicalize()
        .unwrap_or_else(|_| allowed.to_path_buf());
    if !config.starts_with(&allowed) {
        return Err(format!(
            "{} is not in {}: component lists are only read from there",
            config.display(),
            allowed.display()
        ));
    }
    let text =
        std::fs::read_to_string(&config).map_err(|e| format!("{}: {e}", config.display()))?;
    let items: Vec<Value> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", config.display()))?;
    items
        .iter()
        .map(|item| {
            let path = item["path"]
                .as_str()
                .ok_or_else(|| format!("a component without a path: {item}"))?;
            let source =
                ComponentSource::read(path, item["name"].as_str()).map_err(|e| e.to_string())?;
            let location = match item["location"].as_str() {
                None | Some("auto") => SERVER_LOCATION.to_string(),
                Some(name) => name.to_string(),
            };
            Ok(AddComponent {
                source,
                location,
                version_id: item["version_id"].as_str().map(str::to_string),
            })
        })
        .collect()
}
