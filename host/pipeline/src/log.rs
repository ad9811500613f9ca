//! The pipeline hosts' notification log (the framework's `LogDB`): every
//! `ftrack.pipeline.client.notification` a host sends about its plugins, kept in SQLite so
//! that the log viewer client and `ftrack-connect pipeline logs` can read what ran, how it
//! went and how long it took, after the fact and from another process.
//!
//! One file per user (the hosts of every process write to it, each row naming its host),
//! in WAL mode so a reader never waits for a writer. It is bounded: past [`MAX_ENTRIES`]
//! rows the oldest are removed, so a host that runs for months does not fill the disk.
//! A result is kept as JSON text, cut at [`MAX_RESULT_BYTES`] (a collector may return
//! thousands of paths).

use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection};
use serde::Serialize;
use serde_json::Value;

/// The most rows kept.
pub const MAX_ENTRIES: i64 = 20_000;

/// The longest result kept, in bytes of JSON text.
pub const MAX_RESULT_BYTES: usize = 16 << 10;

/// The longest text kept in another field (a message, a plugin name), in bytes.
pub const MAX_TEXT_BYTES: usize = 4 << 10;

/// `text` cut to at most `max` bytes (on a character boundary), marked `…` when cut.
fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// How long a writer waits for another process' write, in milliseconds.
const BUSY_WAIT_MS: u64 = 5_000;

/// Why the log cannot be opened, written or read.
#[derive(Debug, thiserror::Error)]
#[error("the pipeline log {path}: {source}")]
pub struct LogError {
    path: String,
    #[source]
    source: rusqlite::Error,
}

/// One notification, as kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    /// When it was kept, in seconds since 1970.
    pub time: f64,
    /// The host that sent it.
    pub host_id: String,
    /// The plugin's name.
    pub plugin_name: String,
    /// Its plugin type (`publisher.collector`).
    pub plugin_type: String,
    /// The method run.
    pub method: String,
    /// `RUNNING_STATUS`, `SUCCESS_STATUS`, `ERROR_STATUS`, ...
    pub status: String,
    /// The plugin's message.
    pub message: String,
    /// How long the plugin ran, in seconds.
    pub duration: f64,
    /// Its result (JSON; cut, and then a string, past [`MAX_RESULT_BYTES`]).
    pub result: Value,
}

/// Which entries to read.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    /// Only this host's.
    pub host_id: Option<String>,
    /// Only this plugin's.
    pub plugin_name: Option<String>,
    /// Only with this status.
    pub status: Option<String>,
    /// At most this many, the latest (all when `None`).
    pub limit: Option<usize>,
}

/// The log file, open.
pub struct LogDb {
    path: String,
    connection: Mutex<Connection>,
}

impl LogDb {
    /// Opens (creating it if needed) the log at `path`.
    pub fn open(path: &Path) -> Result<LogDb, LogError> {
        let shown = path.display().to_string();
        let error = |source| LogError {
            path: shown.clone(),
            source,
        };
        #[cfg(unix)]
        {
            // Made the user's only before SQLite opens it (its -wal and -shm files take the
            // database's permissions): the results may name the user's files.
            use std::os::unix::fs::OpenOptionsExt;
            let _ = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path);
        }
        let connection = Connection::open(path).map_err(error)?;
        connection
            .busy_timeout(std::time::Duration::from_millis(BUSY_WAIT_MS))
            .map_err(error)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE IF NOT EXISTS notifications (
                     id INTEGER PRIMARY KEY AUTOINCREMENT,
                     time REAL NOT NULL,
                     host_id TEXT NOT NULL,
                     plugin_name TEXT NOT NULL,
                     plugin_type TEXT NOT NULL,
                     method TEXT NOT NULL,
                     status TEXT NOT NULL,
                     message TEXT NOT NULL,
                     duration REAL NOT NULL,
                     result TEXT NOT NULL
                 );
                 CREATE INDEX IF NOT EXISTS notifications_host ON notifications (host_id);",
            )
            .map_err(error)?;
        #[cfg(unix)]
        {
            // A file made by an older version, or by hand.
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        Ok(LogDb {
            path: shown,
            connection: Mutex::new(connection),
        })
    }

    fn error(&self, source: rusqlite::Error) -> LogError {
        LogError {
            path: self.path.clone(),
            source,
        }
    }

    /// Keeps a notification's `data.pipeline` (`{plugin_name, plugin_type, method, status,
    /// message, execution_time, result, host_id, ...}`), dropping the oldest rows past
    /// [`MAX_ENTRIES`].
    pub fn add(&self, notification: &Value) -> Result<(), LogError> {
        let text = |key: &str| {
            let text = match &notification[key] {
                Value::String(text) => text.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            cut(text, MAX_TEXT_BYTES)
        };
        let mut result = notification["result"].to_string();
        if result.len() > MAX_RESULT_BYTES {
            result = Value::String(cut(result, MAX_RESULT_BYTES)).to_string();
        }
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let connection = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        connection
            .execute(
                "INSERT INTO notifications (time, host_id, plugin_name, plugin_type, method,
                     status, message, duration, result)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    time,
                    text("host_id"),
                    text("plugin_name"),
                    text("plugin_type"),
                    text("method"),
                    text("status"),
                    text("message"),
                    notification["execution_time"].as_f64().unwrap_or(0.0),
                    result,
                ],
            )
            .map_err(|e| self.error(e))?;
        let id = connection.last_insert_rowid();
        // Rows are numbered in order: one statement keeps the newest MAX_ENTRIES.
        if id > MAX_ENTRIES {
            connection
                .execute(
                    "DELETE FROM notifications WHERE id <= ?1",
                    params![id - MAX_ENTRIES],
                )
                .map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// The entries `query` asks for, oldest first.
    pub fn entries(&self, query: &LogQuery) -> Result<Vec<LogEntry>, LogError> {
        let connection = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        let limit = query
            .limit
            .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let mut statement = connection
            .prepare(
                "SELECT time, host_id, plugin_name, plugin_type, method, status, message,
                        duration, result
                 FROM notifications
                 WHERE (?1 IS NULL OR host_id = ?1) AND (?2 IS NULL OR plugin_name = ?2)
                   AND (?3 IS NULL OR status = ?3)
                 ORDER BY id DESC LIMIT ?4",
            )
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map(
                params![query.host_id, query.plugin_name, query.status, limit],
                |row| {
                    let result: String = row.get(8)?;
                    Ok(LogEntry {
                        time: row.get(0)?,
                        host_id: row.get(1)?,
                        plugin_name: row.get(2)?,
                        plugin_type: row.get(3)?,
                        method: row.get(4)?,
                        status: row.get(5)?,
                        message: row.get(6)?,
                        duration: row.get(7)?,
                        result: serde_json::from_str(&result).unwrap_or(Value::String(result)),
                    })
                },
            )
            .map_err(|e| self.error(e))?;
        let mut entries = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))?;
        entries.reverse();
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn notification(host: &str, plugin: &str, status: &str) -> Value {
        json!({
            "plugin_name": plugin, "plugin_type": "publisher.collector", "method": "run",
            "status": status, "result": {"run": ["/a.exr"]}, "execution_time": 0.25,
            "message": "Successfully run :paths", "host_id": host, "widget_ref": null,
            "plugin_id": null,
        })
    }

    #[test]
    fn notifications_are_kept_and_read_back_by_host_plugin_and_status() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs.sqlite");
        let log = LogDb::open(&path).unwrap();
        log.add(&notification("python-1", "paths", "RUNNING_STATUS"))
            .unwrap();
        log.add(&notification("python-1", "paths", "SUCCESS_STATUS"))
            .unwrap();
        log.add(&notification("python-2", "exists", "ERROR_STATUS"))
            .unwrap();
        // Another process reads what this one wrote.
        let reader = LogDb::open(&path).unwrap();
        let all = reader.entries(&LogQuery::default()).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[1].status, "SUCCESS_STATUS");
        assert_eq!(all[1].result, json!({"run": ["/a.exr"]}));
        assert_eq!(all[1].duration, 0.25);
        let host = LogQuery {
            host_id: Some("python-1".into()),
            ..Default::default()
        };
        assert_eq!(reader.entries(&host).unwrap().len(), 2);
        let failed = LogQuery {
            status: Some("ERROR_STATUS".into()),
            ..Default::default()
        };
        assert_eq!(reader.entries(&failed).unwrap()[0].plugin_name, "exists");
        let last = LogQuery {
            limit: Some(1),
            ..Default::default()
        };
        assert_eq!(reader.entries(&last).unwrap()[0].host_id, "python-2");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn the_log_is_bounded_and_long_results_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let log = LogDb::open(&dir.path().join("logs.sqlite")).unwrap();
        let mut big = notification("h", "paths", "SUCCESS_STATUS");
        big["result"] = json!({"run": vec!["/renders/frame.exr"; 5_000]});
        big["message"] = json!("é".repeat(10_000));
        log.add(&big).unwrap();
        let kept = &log.entries(&LogQuery::default()).unwrap()[0];
        let text = kept.result.as_str().unwrap();
        assert!(text.len() <= MAX_RESULT_BYTES + 4 && text.ends_with('…'));
        assert!(kept.message.len() <= MAX_TEXT_BYTES + 4 && kept.message.ends_with('…'));

        let connection = log.connection.lock().unwrap();
        // As though MAX_ENTRIES had been written since the first: the next one removes it.
        connection
            .execute_batch(&format!(
                "UPDATE notifications SET id = 1;
                 UPDATE sqlite_sequence SET seq = {MAX_ENTRIES} WHERE name = 'notifications';"
            ))
            .unwrap();
        drop(connection);
        log.add(&notification("h", "newest", "SUCCESS_STATUS"))
            .unwrap();
        let kept = log.entries(&LogQuery::default()).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].plugin_name, "newest");
    }
}
