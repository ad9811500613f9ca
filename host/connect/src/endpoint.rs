//! The resident host's local endpoint: how `event publish`, `plugins` and `event watch` reach
//! a running `ftrack-connect run` of the same user.
//!
//! The host listens on loopback only (`127.0.0.1`, a port the OS picks) and writes where and a
//! random token to `endpoint.json` in the user data directory, readable by that user alone
//! (`0600`). Every request must carry the token; anything else is refused. Other local users
//! can reach the port but not read the token, so they cannot use it.
//!
//! The protocol is one JSON line per request and per answer, which any language can speak:
//!
//! ```text
//! {"token": T, "request": "publish", "event": {...}}  -> {"ok": true, "results": [...]}
//! {"token": T, "request": "plugins"}                  -> {"ok": true, "plugins": [...]}
//! {"token": T, "request": "watch", "expression": E}   -> {"ok": true}, then one event per line
//! anything refused                                    -> {"ok": false, "error": "..."}
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use connect_event::Event;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::expression::Expression;
use crate::host::Host;

/// Largest request accepted (an event with a big `data`), to bound memory per connection.
const MAX_REQUEST_BYTES: u64 = 16 * 1024 * 1024;

/// How long a client may take to send its request line.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What `endpoint.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointFile {
    pub address: SocketAddr,
    pub token: String,
    pub pid: u32,
}

/// The path of the endpoint file in `data_dir`.
pub fn endpoint_path(data_dir: &Path) -> PathBuf {
    data_dir.join("endpoint.json")
}

/// A listening endpoint; dropping it removes `endpoint.json` (if it is still ours).
pub struct Endpoint {
    file: PathBuf,
    token: String,
}

impl Endpoint {
    /// Starts serving `host` on loopback and publishes the address and token in `data_dir`.
    pub fn start(host: Arc<Host>, data_dir: &Path) -> std::io::Result<Endpoint> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let token = random_token()?;
        let file = endpoint_path(data_dir);
        let content = EndpointFile {
            address: listener.local_addr()?,
            token: token.clone(),
            pid: std::process::id(),
        };
        write_private(&file, &serde_json::to_vec(&content)?)?;
        tracing::info!(
            "local endpoint on {} (token in {})",
            content.address,
            file.display()
        );
        let expected = token.clone();
        std::thread::Builder::new()
            .name("endpoint".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let host = host.clone();
                    let expected = expected.clone();
                    let _ = std::thread::Builder::new()
                        .name("endpoint-request".into())
                        .spawn(move || serve(&host, stream, &expected));
                }
            })?;
        Ok(Endpoint { file, token })
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        // Another host started with --allow-multiple may have replaced the file since.
        let ours = std::fs::read(&self.file)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<EndpointFile>(&bytes).ok())
            .is_some_and(|f| f.token == self.token);
        if ours {
            let _ = std::fs::remove_file(&self.file);
        }
    }
}

/// Creates (or replaces) `path` with `bytes`, readable and writable by this user only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = path.with_extension("json.new");
    let _ = std::fs::remove_file(&temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    // Renamed into place, so a reader never sees half a file.
    std::fs::rename(&temporary, path)
}

/// 244 random bits as hex, from the OS generator (two uuid v4s).
fn random_token() -> std::io::Result<String> {
    Ok(format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    ))
}

/// Compares without an early exit, so timing does not tell how much of a guess was right.
fn same_token(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

#[derive(Deserialize)]
struct Request {
    #[serde(default)]
    token: String,
    request: String,
    #[serde(default)]
    event: Option<Event>,
    #[serde(default)]
    expression: Option<String>,
}

fn serve(host: &Host, stream: TcpStream, expected_token: &str) {
    let _ = stream.set_read_timeout(Some(REQUEST_TIMEOUT));
    let peer = stream.peer_addr().ok();
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut line = String::new();
    let read = BufReader::new(stream.take(MAX_REQUEST_BYTES)).read_line(&mut line);
    let answer = |writer: &mut TcpStream, value: Value| {
        let _ = writeln!(writer, "{value}").and_then(|_| writer.flush());
    };
    if read.is_err() || line.is_empty() {
        return;
    }
    let request: Request = match serde_json::from_str(&line) {
        Ok(request) => request,
        Err(err) => {
            return answer(
                &mut writer,
                json!({"ok": false, "error": format!("not a request: {err}")}),
            )
        }
    };
    if !same_token(&request.token, expected_token) {
        tracing::warn!("endpoint: refused a request without the right token from {peer:?}");
        return answer(
            &mut writer,
            json!({"ok": false, "error": "refused: wrong or missing token"}),
        );
    }
    match request.request.as_str() {
        "publish" => {
            let Some(mut event) = request.event else {
                return answer(
                    &mut writer,
                    json!({"ok": false, "error": "publish needs an event"}),
                );
            };
            if !event.target.is_empty() {
                if let Err(err) = Expression::parse(&event.target) {
                    let error = format!("invalid target: {err}");
                    return answer(&mut writer, json!({"ok": false, "error": error}));
                }
            }
            let results = host.hub().publish_replies(&mut event);
            answer(&mut writer, json!({"ok": true, "results": results}));
        }
        "plugins" => answer(
            &mut writer,
            json!({"ok": true, "plugins": host.plugin_reports()}),
        ),
        "watch" => watch(host, writer, request.expression.as_deref()),
        other => answer(
            &mut writer,
            json!({"ok": false, "error": format!("unknown request {other:?}")}),
        ),
    }
}

/// Streams every dispatched event matching `expression` until the client goes away.
fn watch(host: &Host, mut writer: TcpStream, expression: Option<&str>) {
    let filter = match expression.map(Expression::parse).transpose() {
        Ok(filter) => filter,
        Err(err) => {
            let error = format!("invalid expression: {err}");
            let _ = writeln!(writer, "{}", json!({"ok": false, "error": error}));
            return;
        }
    };
    let (sender, events) = mpsc::channel::<String>();
    host.hub().observe(Box::new(move |event: &Event| {
        if filter.as_ref().is_some_and(|f| !f.matches(event)) {
            return true;
        }
        let line = serde_json::to_string(event).unwrap_or_default();
        sender.send(line).is_ok()
    }));
    if writeln!(writer, "{}", json!({"ok": true})).is_err() {
        return;
    }
    for line in events {
        if writeln!(writer, "{line}")
            .and_then(|_| writer.flush())
            .is_err()
        {
            break; // The client left: dropping `events` makes the observer go too.
        }
    }
}

/// A connection to the running host of this user.
pub struct Client {
    endpoint: EndpointFile,
}

/// Why a request to the running host failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the running host: {0}")]
    Io(#[from] std::io::Error),
    #[error("the running host answered with something that is not JSON: {0}")]
    Protocol(#[from] serde_json::Error),
    #[error("the running host refused: {0}")]
    Refused(String),
}

impl Client {
    /// The running host of this user, if `endpoint.json` names one that answers.
    pub fn find(data_dir: &Path) -> Option<Client> {
        let bytes = std::fs::read(endpoint_path(data_dir)).ok()?;
        let endpoint: EndpointFile = serde_json::from_slice(&bytes).ok()?;
        // A host that died leaves its file behind: check that someone listens.
        TcpStream::connect_timeout(&endpoint.address, Duration::from_millis(500)).ok()?;
        Some(Client { endpoint })
    }

    /// Sends one request (the token is added) and returns the answer.
    pub fn request(&self, mut request: Value) -> Result<Value, ClientError> {
        let (answer, _) = self.open(&mut request)?;
        Ok(answer)
    }

    /// Sends a `watch` request and calls `each` with every event line until it returns false
    /// or the host goes away.
    pub fn watch(
        &self,
        expression: Option<&str>,
        mut each: impl FnMut(&str) -> bool,
    ) -> Result<(), ClientError> {
        let mut request = json!({"request": "watch", "expression": expression});
        let (_, mut lines) = self.open(&mut request)?;
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line)? == 0 || !each(line.trim_end()) {
                return Ok(());
            }
        }
    }

    fn open(&self, request: &mut Value) -> Result<(Value, BufReader<TcpStream>), ClientError> {
        request["token"] = json!(self.endpoint.token);
        let mut stream =
            TcpStream::connect_timeout(&self.endpoint.address, Duration::from_secs(5))?;
        writeln!(stream, "{request}")?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let answer: Value = serde_json::from_str(&line)?;
        if answer["ok"] != json!(true) {
            let error = answer["error"].as_str().unwrap_or("no reason given");
            return Err(ClientError::Refused(error.to_string()));
        }
        Ok((answer, reader))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abd", "abc"));
        assert!(!same_token("ab", "abc"));
        assert!(!same_token("", "abc"));
    }

    #[cfg(unix)]
    #[test]
    fn endpoint_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("endpoint.json");
        write_private(&path, b"{}").unwrap();
        write_private(&path, b"{}").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
