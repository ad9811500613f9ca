//! What a publish has made so far, on disk before it is made, so that a publish that fails,
//! is interrupted or is killed leaves nothing behind.
//!
//! Each publish keeps a journal in its own file (`<data dir>/publish/<id>.json`): the
//! entities it is about to create on the server and the files it is about to write, each
//! written down (and synced) *before* the step that makes it. A failure rolls back what the
//! journal lists, newest first, and removes the journal; a publish that could not (the
//! server went away, the process was killed) leaves its journal, and the next publish to
//! the same server and user rolls it back first. So an interrupted publish tried again
//! leaves one version, not two.

use std::path::{Path, PathBuf};

use connect_ftrack_api::{Client, ClientError};
use serde::{Deserialize, Serialize};

use crate::transfer::partial_of;
use crate::PublishError;

/// The journal of one publish.
pub(crate) struct Journal {
    path: PathBuf,
    record: Record,
}

#[derive(Serialize, Deserialize, Default)]
struct Record {
    server_url: String,
    api_user: String,
    /// (entity type, id), in the order they were made.
    entities: Vec<(String, String)>,
    /// Files written into disk locations.
    files: Vec<PathBuf>,
}

impl Journal {
    /// A new journal in `dir` for a publish to `client`'s server.
    pub(crate) fn begin(dir: &Path, client: &Client) -> Result<Journal, PublishError> {
        std::fs::create_dir_all(dir).map_err(|e| journal_error(dir, e))?;
        let journal = Journal {
            path: dir.join(format!("{}.json", uuid::Uuid::new_v4().simple())),
            record: Record {
                server_url: client.server_url().to_string(),
                api_user: client.api_user().to_string(),
                ..Record::default()
            },
        };
        journal.save()?;
        Ok(journal)
    }

    /// Writes down that entity `id` of `entity_type` is about to be created.
    pub(crate) fn entity(&mut self, entity_type: &str, id: &str) -> Result<(), PublishError> {
        self.record
            .entities
            .push((entity_type.to_string(), id.to_string()));
        self.save()
    }

    /// Writes down that `path` is about to be written.
    pub(crate) fn file(&mut self, path: &Path) -> Result<(), PublishError> {
        self.record.files.push(path.to_path_buf());
        self.save()
    }

    /// The publish is complete: nothing to roll back.
    pub(crate) fn finish(self) {
        let _ = std::fs::remove_file(&self.path);
    }

    /// Removes what the publish made; the journal too when that worked. Returns what could
    /// not be removed.
    pub(crate) async fn roll_back(self, client: &Client) -> Vec<String> {
        let left = undo(&self.record, client).await;
        if left.is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
        left
    }

    fn save(&self) -> Result<(), PublishError> {
        let text = serde_json::to_vec_pretty(&self.record).expect("a journal is JSON");
        let partial = partial_of(&self.path);
        let written = (|| {
            use std::io::Write;
            let mut file = std::fs::File::create(&partial)?;
            file.write_all(&text)?;
            file.sync_all()?;
            std::fs::rename(&partial, &self.path)
        })();
        written.map_err(|e| journal_error(&self.path, e))
    }
}

fn journal_error(path: &Path, e: std::io::Error) -> PublishError {
    PublishError::Transfer(format!(
        "cannot keep the publish's journal at {}: {e}",
        path.display()
    ))
}

/// Rolls back the journals other publishes to `client`'s server and user left in `dir`.
/// Returns what each rolled back, for the log.
pub(crate) async fn recover(dir: &Path, client: &Client) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut said = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Some(record) = std::fs::read(&path)
            .ok()
            .and_then(|text| serde_json::from_slice::<Record>(&text).ok())
        else {
            continue;
        };
        if record.server_url != client.server_url() || record.api_user != client.api_user() {
            continue;
        }
        let left = undo(&record, client).await;
        if left.is_empty() {
            let _ = std::fs::remove_file(&path);
            said.push(format!(
                "removed what an unfinished publish left ({} entities, {} files)",
                record.entities.len(),
                record.files.len()
            ));
        } else {
            said.push(format!(
                "an unfinished publish's leftovers could not all be removed: {}",
                left.join("; ")
            ));
        }
    }
    said
}

/// Deletes the record's entities (newest first) and files.
async fn undo(record: &Record, client: &Client) -> Vec<String> {
    let mut left = Vec::new();
    for path in record.files.iter().rev() {
        for file in [path.clone(), partial_of(path)] {
            // Only files: the journal lists where a file was to go, and a publish never
            // writes over what was there (a folder in the way made it fail).
            if std::fs::symlink_metadata(&file).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => left.push(format!("{}: {e}", file.display())),
            }
        }
    }
    for (entity_type, id) in record.entities.iter().rev() {
        match client
            .delete(entity_type, vec![serde_json::Value::String(id.clone())])
            .await
        {
            Ok(()) => {}
            // Never made, or gone with what owned it (a version takes its components).
            Err(ClientError::Server { content, .. }) if content.contains("there is no") => {}
            Err(e) => left.push(format!("{entity_type} {id}: {e}")),
        }
    }
    left
}
