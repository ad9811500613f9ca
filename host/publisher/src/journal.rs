//! What a publish has made so far, on disk before it is made, so that a publish that fails,
//! is interrupted or is killed leaves nothing behind.
//!
//! Each publish keeps a journal in its own file (`<data dir>/publish/<id>.json`, JSON
//! lines: who publishes where, then one line per entity or file): the entities it is about
//! to create on the server and the files it is about to write, appended (and synced)
//! *before* the step that makes them, a step's worth at once (a sequence of thousands of
//! frames is one write). A failure rolls back what the
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
    file: std::fs::File,
    record: Record,
}

/// One thing a publish makes.
pub(crate) enum Entry {
    /// An entity of this type and id.
    Entity(&'static str, String),
    /// A file at this path.
    File(PathBuf),
}

/// A journal's lines, read back.
#[derive(Default)]
struct Record {
    server_url: String,
    api_user: String,
    /// (entity type, id), in the order they were made.
    entities: Vec<(String, String)>,
    /// Files written into disk locations.
    files: Vec<PathBuf>,
}

/// A journal's line.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    Publish {
        server_url: String,
        api_user: String,
    },
    Entity {
        entity_type: String,
        id: String,
    },
    File {
        path: PathBuf,
    },
}

impl Journal {
    /// A new journal in `dir` for a publish to `client`'s server.
    pub(crate) fn begin(dir: &Path, client: &Client) -> Result<Journal, PublishError> {
        std::fs::create_dir_all(dir).map_err(|e| journal_error(dir, e))?;
        let path = dir.join(format!("{}.json", uuid::Uuid::new_v4().simple()));
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| journal_error(&path, e))?;
        // Held while the publish runs: another publish's recovery leaves this one alone.
        file.try_lock()
            .map_err(|e| journal_error(&path, std::io::Error::other(e.to_string())))?;
        let mut journal = Journal {
            path,
            file,
            record: Record {
                server_url: client.server_url().to_string(),
                api_user: client.api_user().to_string(),
                ..Record::default()
            },
        };
        let header = Line::Publish {
            server_url: journal.record.server_url.clone(),
            api_user: journal.record.api_user.clone(),
        };
        journal.append(&[header])?;
        Ok(journal)
    }

    /// Writes down, at once and synced, what is about to be made.
    pub(crate) fn record(&mut self, entries: &[Entry]) -> Result<(), PublishError> {
        let lines: Vec<Line> = entries
            .iter()
            .map(|entry| match entry {
                Entry::Entity(entity_type, id) => {
                    self.record
                        .entities
                        .push((entity_type.to_string(), id.clone()));
                    Line::Entity {
                        entity_type: entity_type.to_string(),
                        id: id.clone(),
                    }
                }
                Entry::File(path) => {
                    self.record.files.push(path.clone());
                    Line::File { path: path.clone() }
                }
            })
            .collect();
        self.append(&lines)
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

    fn append(&mut self, lines: &[Line]) -> Result<(), PublishError> {
        use std::io::Write;
        let mut text = Vec::new();
        for line in lines {
            serde_json::to_writer(&mut text, line).expect("a journal line is JSON");
            text.push(b'\n');
        }
        let written = self
            .file
            .write_all(&text)
            .and_then(|()| self.file.sync_data());
        written.map_err(|e| journal_error(&self.path, e))
    }
}

/// A journal read back from its lines; a last line cut short by a crash is left out.
fn read_record(path: &Path) -> Option<Record> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut record = Record::default();
    for line in text.lines() {
        match serde_json::from_str::<Line>(line) {
            Ok(Line::Publish {
                server_url,
                api_user,
            }) => {
                record.server_url = server_url;
                record.api_user = api_user;
            }
            Ok(Line::Entity { entity_type, id }) => record.entities.push((entity_type, id)),
            Ok(Line::File { path }) => record.files.push(path),
            Err(_) => break,
        }
    }
    (!record.server_url.is_empty()).then_some(record)
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
        // A journal another publish holds is that publish's, running now.
        let Ok(held) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
        else {
            continue;
        };
        if held.try_lock().is_err() {
            continue;
        }
        let Some(record) = read_record(&path) else {
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
