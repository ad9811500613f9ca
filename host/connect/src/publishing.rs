//! What a publish needs from the host, for `ftrack-connect publish` and the window's Publish
//! tab alike: files grouped as Connect's drop zone groups them, the disk locations plugins
//! declare, and the make-web-playable hooks (the host's own encodes on the server, as
//! Connect's built-in one does).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use connect_core::{Expression, PluginTag, SubscribeOptions};
use connect_event::topics::MAKE_WEB_PLAYABLE;
use connect_event::Event;
use connect_ftrack_api::Client;
use connect_publisher::{encode_media, encoding_started, DiskLocation, WebPlayableHook};
use serde_json::{json, Value};

use crate::host::Host;

/// One entry of the drop zone: a file, or a sequence of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The file, or the sequence as `ftrack-connect sequences` writes it
    /// (`render.%04d.exr [1-3]`).
    pub identifier: String,
    /// The files it holds (one for a file).
    pub files: Vec<String>,
    /// Whether it is a sequence.
    pub sequence: bool,
}

/// `paths` as Connect's drop zone groups them: a sequence (by the frames pattern, padded
/// when ambiguous) is one entry, every other file its own.
pub fn drop_zone(paths: &[String]) -> Result<Vec<Dropped>, String> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let options = connect_sequence::Options {
        patterns: Some(vec![connect_sequence::Pattern::Frames]),
        assume_padded_when_ambiguous: true,
        ..connect_sequence::Options::default()
    };
    let assembly = connect_sequence::assemble(paths, &options).map_err(|e| e.to_string())?;
    let sequences = assembly.collections.iter().map(|c| Dropped {
        identifier: c.to_string(),
        files: c.members().collect(),
        sequence: true,
    });
    let files = assembly.remainder.into_iter().map(|file| Dropped {
        identifier: file.clone(),
        files: vec![file],
        sequence: false,
    });
    Ok(sequences.chain(files).collect())
}

/// The identifiers of [`drop_zone`]'s entries.
pub fn drop_zone_identifiers(paths: &[String]) -> Result<Vec<String>, String> {
    Ok(drop_zone(paths)?
        .into_iter()
        .map(|d| d.identifier)
        .collect())
}

/// The disk locations `configure-location` hooks declared: each answers
/// `{"location": {"name", "prefix", "priority"}}` (or a list of such).
pub fn declared_locations(results: &[Value]) -> Vec<DiskLocation> {
    let mut found = Vec::new();
    for result in results {
        let items = match result {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        for item in items {
            let location = &item["location"];
            let (Some(name), Some(prefix)) =
                (location["name"].as_str(), location["prefix"].as_str())
            else {
                if !location.is_null() {
                    tracing::warn!(
                        "a location declared on ftrack.api.session.configure-location needs a \
                         name and a prefix: {location}"
                    );
                }
                continue;
            };
            found.push(DiskLocation {
                name: name.to_string(),
                prefix: PathBuf::from(prefix),
                priority: location["priority"].as_i64().unwrap_or(95),
            });
        }
    }
    found
}

/// Connect's built-in make-web-playable hook: the file uploaded to the server and encoded
/// there (`encode_media`), for this user's publishes.
pub fn subscribe_default_web_playable(
    host: &Host,
    client: &Arc<Client>,
    runtime: tokio::runtime::Handle,
    api_user: &str,
) {
    let client = client.clone();
    let handler = move |event: &mut Event| {
        let version = event.data["versionId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let path = PathBuf::from(event.data["path"].as_str().unwrap_or_default());
        runtime
            .block_on(encode_media(&client, &version, &path))
            .map(|job| encoding_started(&job))
            .map_err(|e| connect_core::HandlerError(e.to_string()))
    };
    let expression = Expression::All(vec![
        Expression::equals("topic", MAKE_WEB_PLAYABLE),
        Expression::equals("source.user.username", api_user),
    ]);
    let options = SubscribeOptions {
        plugin: Some(PluginTag::new("ftrack-connect-publisher")),
        ..Default::default()
    };
    if let Err(err) = host
        .hub()
        .subscribe_expression(expression, Arc::new(handler), options)
    {
        tracing::error!("the default make-web-playable hook: {err}");
    }
}

/// The make-web-playable event, through the host's hub.
pub struct HubWebPlayable<'h> {
    /// The host whose hub the event goes through.
    pub host: &'h Host,
    /// The user publishing (the event's `source.user.username`).
    pub user: String,
}

impl WebPlayableHook for HubWebPlayable<'_> {
    fn publish(&self, version_id: &str, path: &Path) -> Vec<Value> {
        let mut event = Event::new(MAKE_WEB_PLAYABLE)
            .with_data(json!({"versionId": version_id, "path": path.display().to_string()}));
        event.source = json!({"user": {"username": self.user}})
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into();
        self.host.hub().publish(&mut event)
    }
}
