//! The host's side of the endpoint: listens on loopback, checks the token and the protocol
//! version, and answers [`Request`]s from the host's hub and registry.

use std::io::{BufRead, BufReader, Read, Take, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use connect_core::Expression;
use connect_event::Event;
use connect_window::Window;
use serde::Serialize;

use super::endpoint_path;
use super::protocol::{
    version_mismatch, Answer, EndpointFile, Hello, HostStatus, PluginList, Published, Request,
    Watching, WindowLink, MAX_HELLO_BYTES, MAX_REQUEST_BYTES, PROTOCOL_VERSION, REQUEST_DEADLINE,
};
use crate::host::{Host, HANDLER_THREAD_STACK};
use crate::locations::write_private;

/// How many connections are served at once (each has a thread); more are closed at once.
/// Watchers count too. A user's commands open one at a time.
pub const MAX_CONNECTIONS: usize = 32;

/// A listening endpoint; dropping it removes `endpoint.json` (if it is still ours).
pub struct Endpoint {
    file: PathBuf,
    token: String,
}

impl Endpoint {
    /// Starts serving `host` on loopback and publishes the address and token in `data_dir`,
    /// with the address of the host's `window` if it serves one.
    pub fn start(
        host: Arc<Host>,
        window: Option<Arc<Window>>,
        data_dir: &Path,
    ) -> std::io::Result<Endpoint> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let token = random_token()?;
        let file = endpoint_path(data_dir);
        let content = EndpointFile {
            address: listener.local_addr()?,
            token: token.clone(),
            pid: std::process::id(),
            window: window.as_ref().map(|window| window.address()),
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
            .spawn(move || accept(listener, host, window, expected))?;
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

/// Accepts connections and serves each in a thread of its own, up to [`MAX_CONNECTIONS`].
fn accept(listener: TcpListener, host: Arc<Host>, window: Option<Arc<Window>>, token: String) {
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming().flatten() {
        if open.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::AcqRel);
            tracing::debug!("endpoint: {MAX_CONNECTIONS} connections open, one more closed");
            continue;
        }
        let (host, window, token, served) =
            (host.clone(), window.clone(), token.clone(), open.clone());
        let spawned = std::thread::Builder::new()
            .name("endpoint-request".into())
            .stack_size(HANDLER_THREAD_STACK)
            .spawn(move || {
                serve(&host, window.as_deref(), stream, &token);
                served.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            // No thread for it: nothing will serve it.
            open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Reads from a connection until a deadline: each read may wait only for the time left, so a
/// client sending a byte now and then cannot keep the connection beyond it.
struct UntilDeadline {
    stream: TcpStream,
    deadline: Instant,
}

impl Read for UntilDeadline {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

/// Reads one line of at most `limit` bytes; `Err` says what went wrong, for the client
/// (`None`: the client went away or was too slow, nobody to tell).
fn read_line<R: Read>(
    reader: &mut BufReader<Take<R>>,
    what: &str,
    limit: u64,
) -> Result<String, Option<String>> {
    reader.get_mut().set_limit(limit);
    let mut line = Vec::new();
    match reader.read_until(b'\n', &mut line) {
        Ok(0) | Err(_) => Err(None),
        Ok(_) if !line.ends_with(b"\n") => Err(Some(format!(
            "refused: the {what} line is longer than {limit} bytes"
        ))),
        Ok(_) => String::from_utf8(line).map_err(|_| Some(format!("the {what} is not UTF-8"))),
    }
}

/// Why a connection gets no request served.
#[derive(Debug, PartialEq)]
enum Refusal {
    /// The client went away, or was too slow: nobody to answer.
    Gone,
    /// The token is wrong or missing (logged: someone without it tried).
    Token,
    /// Anything else, said to the client.
    Tell(String),
}

/// Reads the hello, checks the token and version, then reads the request. Reads at most
/// [`MAX_HELLO_BYTES`] from `source` before the token is checked.
fn read_request<R: Read>(source: R, expected_token: &str) -> Result<Request, Refusal> {
    let mut reader = BufReader::new(source.take(MAX_HELLO_BYTES));
    let tell = |error: Option<String>| error.map_or(Refusal::Gone, Refusal::Tell);
    let hello = read_line(&mut reader, "hello", MAX_HELLO_BYTES).map_err(tell)?;
    let hello: Hello =
        serde_json::from_str(&hello).map_err(|err| Refusal::Tell(format!("not a hello: {err}")))?;
    if !same_token(&hello.token, expected_token) {
        return Err(Refusal::Token);
    }
    if hello.protocol != PROTOCOL_VERSION {
        return Err(Refusal::Tell(version_mismatch(
            PROTOCOL_VERSION,
            hello.protocol,
        )));
    }
    let request = read_line(&mut reader, "request", MAX_REQUEST_BYTES).map_err(tell)?;
    serde_json::from_str(&request).map_err(|err| Refusal::Tell(format!("not a request: {err}")))
}

fn serve(host: &Host, window: Option<&Window>, stream: TcpStream, expected_token: &str) {
    let peer = stream.peer_addr().ok();
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let refuse = |writer: &mut TcpStream, error: String| {
        answer(writer, &Answer::<Watching>::refused(error));
        close_gently(writer);
    };
    let source = UntilDeadline {
        stream,
        deadline: Instant::now() + REQUEST_DEADLINE,
    };
    let request = match read_request(source, expected_token) {
        Ok(request) => request,
        Err(Refusal::Gone) => return,
        Err(Refusal::Token) => {
            tracing::warn!("endpoint: refused a request without the right token from {peer:?}");
            return refuse(&mut writer, "refused: wrong or missing token".into());
        }
        Err(Refusal::Tell(error)) => {
            tracing::warn!("endpoint: refused a request from {peer:?}: {error}");
            return refuse(&mut writer, error);
        }
    };
    match request {
        Request::Publish { mut event } => {
            if !event.target.is_empty() {
                if let Err(err) = Expression::parse(&event.target) {
                    return refuse(&mut writer, format!("invalid target: {err}"));
                }
            }
            let results = host.hub().publish_replies(&mut event);
            answer(&mut writer, &Answer::ok(Published { results }));
        }
        Request::Plugins => answer(
            &mut writer,
            &Answer::ok(PluginList {
                plugins: host.plugin_reports(),
            }),
        ),
        Request::Status => answer(
            &mut writer,
            &Answer::ok(HostStatus {
                status: host.status(),
            }),
        ),
        Request::Watch { expression } => watch(host, writer, expression.as_deref()),
        Request::WindowLink => match window {
            Some(window) => answer(
                &mut writer,
                &Answer::ok(WindowLink {
                    url: window.sign_in_link(),
                }),
            ),
            None => refuse(&mut writer, "this host serves no window".into()),
        },
    }
}

/// Writes one answer line.
/// Closes after a refusal without losing it: the client may still be sending its request
/// line, and closing with unread input makes the OS reset the connection, which can destroy
/// the refusal before the client reads it. So: no more writing, then what is still coming is
/// read and dropped, briefly and boundedly.
fn close_gently(stream: &mut TcpStream) {
    use std::io::Read;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_millis(200)));
    let mut sink = [0u8; 4096];
    let mut left: usize = 64 * 1024;
    while left > 0 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(read) => left = left.saturating_sub(read),
        }
    }
}

fn answer<B: Serialize>(writer: &mut TcpStream, answer: &Answer<B>) {
    let line = serde_json::to_string(answer).expect("answers serialize");
    let _ = writeln!(writer, "{line}").and_then(|_| writer.flush());
}

/// Streams every dispatched event matching `expression` until the client goes away.
fn watch(host: &Host, mut writer: TcpStream, expression: Option<&str>) {
    let filter = match expression.map(Expression::parse).transpose() {
        Ok(filter) => filter,
        Err(err) => {
            let refusal = Answer::<Watching>::refused(format!("invalid expression: {err}"));
            return answer(&mut writer, &refusal);
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
    answer(&mut writer, &Answer::ok(Watching {}));
    for line in events {
        if writeln!(writer, "{line}")
            .and_then(|_| writer.flush())
            .is_err()
        {
            break; // The client left: dropping `events` makes the observer go too.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Counts what a reader gave.
    struct Counted<'a> {
        bytes: &'a [u8],
        read: &'a std::cell::Cell<usize>,
    }

    impl Read for Counted<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.bytes.read(buf)?;
            self.read.set(self.read.get() + n);
            Ok(n)
        }
    }

    const TOKEN: &str = "0123456789abcdef";

    /// Frames built from pieces of the protocol, valid and not.
    fn frames() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(format!(r#"{{"token": "{TOKEN}", "protocol": {PROTOCOL_VERSION}}}"#).into_bytes()),
            Just(format!(r#"{{"token": "nope", "protocol": {PROTOCOL_VERSION}}}"#).into_bytes()),
            Just(br#"{"request": "publish", "event": {"topic": "t"}}"#.to_vec()),
            Just(br#"{"request": "watch", "expression": "topic=("}"#.to_vec()),
            Just(b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".repeat(40)),
            Just(b"\n".to_vec()),
            Just(vec![0xff, 0xfe, b'{']),
            prop::collection::vec(any::<u8>(), 0..300),
            (1usize..3000).prop_map(|n| vec![b' '; n]),
        ];
        prop::collection::vec(piece, 0..6).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        /// Whatever arrives, reading it never panics, and without the token nothing past the
        /// hello's limit is read.
        #[test]
        fn any_frame_is_read_safely_and_little_is_read_without_the_token(bytes in frames()) {
            let read = std::cell::Cell::new(0);
            let outcome = read_request(Counted { bytes: &bytes, read: &read }, TOKEN);
            let token_checked = bytes
                .split(|b| *b == b'\n')
                .next()
                .and_then(|hello| serde_json::from_slice::<Hello>(hello).ok())
                .is_some_and(|hello| hello.token == TOKEN);
            if !token_checked {
                prop_assert!(outcome.is_err());
                prop_assert!(read.get() as u64 <= MAX_HELLO_BYTES, "{} bytes read", read.get());
            }
        }
    }

    #[test]
    fn a_hello_and_request_read_as_sent() {
        let frame =
            format!("{{\"token\": \"{TOKEN}\", \"protocol\": {PROTOCOL_VERSION}}}\n{{\"request\": \"plugins\"}}\n");
        assert!(matches!(
            read_request(frame.as_bytes(), TOKEN),
            Ok(Request::Plugins)
        ));
        let old = format!("{{\"token\": \"{TOKEN}\", \"request\": \"plugins\"}}\n");
        match read_request(old.as_bytes(), TOKEN) {
            Err(Refusal::Tell(error)) => assert!(error.contains("unversioned"), "{error}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            read_request(&b"{}\n"[..], TOKEN).unwrap_err(),
            Refusal::Token
        );
        assert_eq!(read_request(&b""[..], TOKEN).unwrap_err(), Refusal::Gone);
    }

    #[test]
    fn a_client_of_another_version_is_refused_saying_which_versions_met() {
        let others = [PROTOCOL_VERSION - 1, PROTOCOL_VERSION + 1];
        for version in others.into_iter().filter(|v| *v > 0) {
            let frame = format!(
                "{{\"token\": \"{TOKEN}\", \"protocol\": {version}}}\n\
                 {{\"request\": \"plugins\"}}\n"
            );
            match read_request(frame.as_bytes(), TOKEN) {
                Err(Refusal::Tell(error)) => assert!(
                    error.contains(&format!(
                        "the running host speaks endpoint protocol version {PROTOCOL_VERSION} \
                         and this command version {version}"
                    )) && error.contains("run the same ftrack-connect for both"),
                    "{error}"
                ),
                other => panic!("version {version}: {other:?}"),
            }
            // The token comes first: without it, nothing is said about versions.
            let frame = format!("{{\"token\": \"nope\", \"protocol\": {version}}}\n");
            assert_eq!(
                read_request(frame.as_bytes(), TOKEN).unwrap_err(),
                Refusal::Token
            );
        }
    }

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
