//! The Logs tab's live tail: `GET /api/logs` is a stream of server-sent `lines` events, each
//! a JSON array of `{level, text}`. It starts with the log file's last [`BACKLOG_LINES`] lines,
//! then sends lines as the host writes them (the file is looked at every [`LOOK_EVERY`]). The
//! page filters by level and searches; a plugin's lines carry its name, so searching for the
//! name finds them.
//!
//! It reads the host's log file rather than hooking into the host's logging: the file is
//! what support reads later, so the tab shows exactly that, and a slow browser can never
//! hold up the host's logging.

use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::Event as SseEvent;
use axum::response::Response;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::api::{stream, EventStream};
use crate::session::{session_in, Sessions};
use crate::App;

/// How many lines a new tail starts with.
const BACKLOG_LINES: usize = 500;

/// How far back from the end the backlog is looked for.
const BACKLOG_BYTES: u64 = 256 * 1024;

/// How often the file is looked at for new lines.
const LOOK_EVERY: Duration = Duration::from_millis(250);

/// The most read in one look; the rest waits for the next (a burst never makes one huge event).
const READ_AT_MOST: u64 = 1 << 20;

/// The longest line kept while waiting for its end.
const LONGEST_LINE: usize = 256 * 1024;

/// A log line as the page shows it: its level (`ERROR`, `WARN`, `INFO`, `DEBUG`, `TRACE`, or
/// `""` for a line that continues the one before) and its text.
fn line_of(text: &str) -> Value {
    // `2026-12-05T22:20:52.123456Z  INFO target: message`: the level is the second word.
    let level = text
        .split_whitespace()
        .nth(1)
        .filter(|word| matches!(*word, "ERROR" | "WARN" | "INFO" | "DEBUG" | "TRACE"))
        .unwrap_or_default();
    json!({ "level": level, "text": text })
}

/// One browser's tail of the log file.
struct Tail {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    /// Where the next read starts.
    position: u64,
    /// The end of a line not yet finished.
    partial: Vec<u8>,
    started: bool,
    sessions: Arc<Sessions>,
    session: String,
}

impl EventStream for Tail {
    /// The next `lines` event, once there are new lines; `None` once the session has ended.
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if !self.sessions.is_valid(&self.session) {
                return None;
            }
            let lines = self.read().await;
            if !lines.is_empty() || !self.started {
                self.started = true;
                let lines: Vec<Value> = lines.iter().map(|line| line_of(line)).collect();
                return Some(
                    SseEvent::default()
                        .event("lines")
                        .data(Value::Array(lines).to_string()),
                );
            }
            tokio::time::sleep(LOOK_EVERY).await;
        }
    }
}

impl Tail {
    /// The lines finished since the last read (at first: the backlog). A file that shrank
    /// was started again, and is read from its start.
    async fn read(&mut self) -> Vec<String> {
        if self.file.is_none() {
            self.file = tokio::fs::File::open(&self.path).await.ok();
        }
        let Some(file) = self.file.as_mut() else {
            return Vec::new();
        };
        let Ok(length) = file.metadata().await.map(|m| m.len()) else {
            return Vec::new();
        };
        let first = !self.started;
        if first {
            self.position = length.saturating_sub(BACKLOG_BYTES);
        } else if length < self.position {
            self.position = 0;
            self.partial.clear();
        }
        if length == self.position {
            return Vec::new();
        }
        let wanted = (length - self.position).min(READ_AT_MOST);
        let mut bytes = Vec::with_capacity(wanted as usize);
        let read = async {
            file.seek(SeekFrom::Start(self.position)).await?;
            (&mut *file).take(wanted).read_to_end(&mut bytes).await
        };
        if read.await.is_err() {
            self.file = None;
            return Vec::new();
        }
        // A backlog that starts mid-file starts mid-line: that piece is dropped.
        let skip_first = first && self.position > 0;
        self.position += bytes.len() as u64;
        self.partial.extend_from_slice(&bytes);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            // A line that never ends (a blob written to the log) is sent cut, not kept whole.
            if self.partial.len() > LONGEST_LINE {
                let cut = String::from_utf8_lossy(&self.partial[..LONGEST_LINE]).into_owned();
                self.partial.clear();
                return vec![format!(
                    "{cut} [line cut: longer than {LONGEST_LINE} bytes]"
                )];
            }
            return Vec::new();
        };
        let rest = self.partial.split_off(end + 1);
        let finished = std::mem::replace(&mut self.partial, rest);
        let text = String::from_utf8_lossy(&finished);
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        if skip_first && !lines.is_empty() {
            lines.remove(0);
        }
        if first && lines.len() > BACKLOG_LINES {
            lines.drain(..lines.len() - BACKLOG_LINES);
        }
        lines
    }
}

pub(crate) async fn tail(State(app): State<App>, headers: HeaderMap) -> Response {
    stream(Tail {
        path: app.host.log_file(),
        file: None,
        position: 0,
        partial: Vec::new(),
        started: false,
        sessions: app.sessions.clone(),
        session: session_in(&headers).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_is_read_from_the_line() {
        let line = "2026-12-05T22:20:52.123456Z  WARN connect_plugins: [studio] failed";
        assert_eq!(line_of(line)["level"], "WARN");
        assert_eq!(line_of("  at line 3")["level"], "");
        assert_eq!(
            line_of("2026-12-05T22:20:52Z  INFO x: y")["text"],
            "2026-12-05T22:20:52Z  INFO x: y"
        );
    }
}
