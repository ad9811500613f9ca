//! One run of the Python bridge, seen from the host: starting the interpreter on
//! `bridge.py`, its greeting, the calls the host makes (one conversation at a time), the
//! calls it makes (subscribe, unsubscribe, publish: served against the host's hub), its log
//! lines, and how it ended.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use connect_core::HANDLER_THREAD_STACK;
use connect_pipe::link::NoAnswer;

use crate::options::PythonOptions;
use crate::wire::{Answer, Call, Link, Workers};

/// What serves the calls a bridge makes (subscribe, unsubscribe, publish), given the bridge
/// that makes them. Handed in by the supervisor, so that a run of the bridge knows nothing of
/// the hooks it runs (`host_side.rs`).
pub(crate) type Serve = Box<dyn Fn(Call, &Arc<BridgeProcess>) -> Answer + Send + Sync>;

/// The bridge's source, run by [`LAUNCHER_SOURCE`].
const BRIDGE_SOURCE: &str = include_str!("bridge.py");

/// What `python -c` runs: checks the interpreter's version, then runs the bridge.
const LAUNCHER_SOURCE: &str = include_str!("launcher.py");

/// The longest log line kept whole from the bridge.
const MAX_LOG_LINE: u64 = 1 << 20;

/// How long the bridge may take to start: import `ftrack_api` and open a session with the
/// server (schemas included), on a slow machine.
const START_LIMIT: Duration = Duration::from_secs(60);

/// Why a bridge did not start.
#[derive(Debug)]
pub(crate) enum StartError {
    /// This interpreter cannot run Python hooks (not found, too old, no `ftrack_api`): said
    /// once, and Python hooks are skipped.
    Unusable(String),
    /// It could, but this start failed (it died or hung starting): counted as an end.
    Failed(String),
}

/// What the bridge said when it started.
#[derive(Debug, Clone)]
pub(crate) struct Greeting {
    /// `/usr/bin/python3 (3.11.2)`.
    pub(crate) python: String,
    /// The `ftrack_api` version.
    pub(crate) ftrack_api: String,
}

/// A running bridge process.
pub(crate) struct BridgeProcess {
    link: Arc<Link>,
    child: Mutex<Child>,
    /// Top-level conversations one at a time: the bridge runs one hook's code at a time, as
    /// ftrack's event hub does, and a call's time limit counts from when its turn comes.
    turn: Mutex<()>,
    /// Why the host killed it, when it did.
    killed: Mutex<Option<String>>,
    /// How it ended, once it has.
    ended: OnceLock<String>,
    /// The hooks whose calls wait for it now, innermost last.
    in_flight: Mutex<Vec<u64>>,
    /// The hook whose call did not answer in time (it was then killed).
    hung: OnceLock<u64>,
    /// The innermost hook whose call was waiting when it ended, if one was.
    culprit: OnceLock<Option<u64>>,
    /// Disconnected once every line the bridge wrote to its standard error is logged.
    log_drained: Mutex<Receiver<()>>,
    pub(crate) limit: Duration,
}

impl BridgeProcess {
    /// Starts the interpreter on the bridge and waits for its greeting. Calls from the
    /// bridge are served by `serve`; `on_end` runs once when it ends (after a greeting).
    pub(crate) fn start(
        options: &PythonOptions,
        serve: Serve,
        on_end: Box<dyn FnOnce() + Send>,
    ) -> Result<(Arc<BridgeProcess>, Greeting), StartError> {
        let program = options.program.display().to_string();
        let config = serde_json::json!({
            "online": options.sign_in.is_some(),
            "api_user": options.api_user,
            // Python's logging passes on what the host's log would show.
            "log_level": if tracing::level_filters::LevelFilter::current() >= tracing::Level::DEBUG {
                "DEBUG"
            } else {
                "INFO"
            },
        });
        let mut command = Command::new(&options.program);
        command
            .arg("-c")
            .arg(LAUNCHER_SOURCE)
            .arg(BRIDGE_SOURCE)
            .arg(config.to_string())
            // Hooks are imported from plugin folders, which are not ours to write to (nor
            // should `run --watch` see `__pycache__` appear and reload the plugin).
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(sign_in) = &options.sign_in {
            // As Connect does: hooks that make sessions of their own find the sign-in.
            command
                .env("FTRACK_SERVER", &sign_in.server_url)
                .env("FTRACK_API_USER", &sign_in.api_user)
                .env("FTRACK_API_KEY", sign_in.api_key.expose());
        }
        let mut child = command.spawn().map_err(|e| {
            StartError::Unusable(if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "Python hooks need Python 3 with ftrack_api, and `{program}` was not found \
                     (install Python 3 and `pip install ftrack-python-api`, or set \
                     FTRACK_CONNECT_PYTHON to an interpreter that has it)"
                )
            } else {
                format!("cannot start {program} for the Python hooks: {e}")
            })
        })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(StartError::Failed(
                "cannot connect to the Python bridge".into(),
            ));
        };
        let log_drained = Mutex::new(forward_log(stderr));
        let process_slot: Arc<OnceLock<Weak<BridgeProcess>>> = Arc::new(OnceLock::new());
        let server = {
            let process = process_slot.clone();
            Box::new(move |call| match process.get().and_then(Weak::upgrade) {
                Some(process) => serve(call, &process),
                None => Answer::failed("the host is shutting down"),
            })
        };
        let link = Link::new(Box::new(stdin), true, server);
        let process = Arc::new(BridgeProcess {
            link: link.clone(),
            child: Mutex::new(child),
            turn: Mutex::new(()),
            killed: Mutex::new(None),
            ended: OnceLock::new(),
            in_flight: Mutex::new(Vec::new()),
            hung: OnceLock::new(),
            culprit: OnceLock::new(),
            log_drained,
            limit: options.time_limit,
        });
        let _ = process_slot.set(Arc::downgrade(&process));

        let (greeted, greeting) = sync_channel(1);
        let weak = Arc::downgrade(&process);
        std::thread::Builder::new()
            .name("python-bridge".into())
            .spawn(move || {
                let mut input = BufReader::new(stdout);
                let answer = connect_pipe::frame::read_greeting::<Call, Answer>(&mut input);
                let ready = matches!(answer, Some(Answer::Ready { .. }));
                let _ = greeted.send(answer);
                if !ready {
                    link.close();
                    return;
                }
                let workers = Workers::new(HANDLER_THREAD_STACK);
                let broken = link.route(&mut input, &workers).err();
                if let Some(process) = weak.upgrade() {
                    // Before any waiting call hears of the end: which hook's code ran.
                    let _ = process
                        .culprit
                        .set(process.lock_in_flight().last().copied());
                    if let Some(broken) = broken {
                        process.kill(format!("it broke the protocol: {broken}"));
                    }
                    process.reap();
                }
                link.close();
                on_end();
            })
            .map_err(|e| {
                StartError::Failed(format!("cannot start a thread for the Python bridge: {e}"))
            })?;

        match greeting.recv_timeout(START_LIMIT) {
            Ok(Some(Answer::Ready {
                python,
                ftrack_api,
                note,
            })) => {
                if let Some(note) = note {
                    tracing::warn!("Python hooks get a session without a server: {note}");
                }
                Ok((process, Greeting { python, ftrack_api }))
            }
            Ok(Some(Answer::Failed { error })) => Err(StartError::Unusable(error)),
            Ok(_) | Err(RecvTimeoutError::Disconnected) => Err(StartError::Failed(format!(
                "the Python bridge ({program}) ended before it was ready ({})",
                process.reap()
            ))),
            Err(RecvTimeoutError::Timeout) => {
                process.kill(String::new());
                Err(StartError::Failed(format!(
                    "the Python bridge ({program}) was not ready within {} s; it was killed",
                    START_LIMIT.as_secs()
                )))
            }
        }
    }

    /// Makes a call to the bridge: a new conversation waits for its turn first, a call
    /// nested in one (this thread serves the bridge) does not. The call, whatever the
    /// bridge asks of the host meanwhile, must answer within the time limit; if it does not,
    /// the bridge is killed before the turn passes on (so no other call reaches it), and
    /// `hook`, the hook whose code the call runs, is the one that hung.
    pub(crate) fn call(&self, call: Call, hook: Option<u64>) -> Result<Answer, NoAnswer> {
        let _turn = if self.link.in_conversation() {
            None
        } else {
            Some(self.turn.lock().unwrap_or_else(|e| e.into_inner()))
        };
        if let Some(hook) = hook {
            self.lock_in_flight().push(hook);
        }
        let answer = self.link.call_within(call, self.limit);
        if matches!(answer, Err(NoAnswer::TimedOut)) {
            if let Some(hook) = hook {
                let _ = self.hung.set(hook);
            }
            let limit = self.limit.as_secs_f64();
            self.kill_and_wait(format!("a call did not answer within {limit} s"));
        }
        if let Some(hook) = hook {
            let mut in_flight = self.lock_in_flight();
            if let Some(at) = in_flight.iter().rposition(|h| *h == hook) {
                in_flight.remove(at);
            }
        }
        answer
    }

    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, Vec<u64>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The hook to blame for its end: the one that hung, else the one whose code ran
    /// innermost when it ended (`None` before it ended, or if no hook's code ran).
    pub(crate) fn culprit(&self) -> Option<u64> {
        self.hung
            .get()
            .copied()
            .or_else(|| self.culprit.get().copied().flatten())
    }

    /// Whether `hook` hung it (rather than ended it).
    pub(crate) fn hung(&self, hook: u64) -> bool {
        self.hung.get() == Some(&hook)
    }

    /// How it ended, for a call that got [`NoAnswer::Closed`].
    pub(crate) fn how_it_ended(&self) -> String {
        self.ended
            .get()
            .cloned()
            .unwrap_or_else(|| "it ended".into())
    }

    /// Whether it has ended.
    pub(crate) fn has_ended(&self) -> bool {
        self.ended.get().is_some()
    }

    /// Kills it (if it still runs), saying why.
    pub(crate) fn kill(&self, why: String) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if self.ended.get().is_none() {
            self.killed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(why);
            let _ = child.kill();
        }
    }

    /// Kills it, waits for it to be gone, and for what it wrote to its standard error to be
    /// logged: what hooks printed just before their last answer may still be on its way,
    /// and a host that printed that answer and exits would lose it. A hook's own child
    /// process may hold the pipe open after the bridge is gone, hence the bound.
    pub(crate) fn end(&self, why: String) {
        self.kill_and_wait(why);
        let drained = self.log_drained.lock().unwrap_or_else(|e| e.into_inner());
        let _ = drained.recv_timeout(LOG_DRAIN_LIMIT);
    }

    /// Kills it and waits for it to be gone, so that what comes next (a restart) never
    /// talks to it.
    fn kill_and_wait(&self, why: String) {
        self.kill(why);
        self.reap();
    }

    /// Waits for it to end (killing it if it has not) and says how it did.
    fn reap(&self) -> String {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(how) = self.ended.get() {
            return how.clone();
        }
        // One the host killed is only waited for; one that ended its output on its own is
        // given a moment before it is killed.
        let killed = self
            .killed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        let status = match child.try_wait() {
            Ok(Some(status)) => Ok(status),
            _ if killed => child.wait(),
            _ => {
                std::thread::sleep(Duration::from_millis(20));
                if !matches!(child.try_wait(), Ok(Some(_))) {
                    let _ = child.kill();
                }
                child.wait()
            }
        };
        let mut how = status.map_or_else(
            |e| format!("cannot tell how: {e}"),
            connect_pipe::exit::describe,
        );
        if let Some(why) = self
            .killed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            if !why.is_empty() {
                how = format!("killed: {why}");
            }
        }
        self.ended.get_or_init(|| how).clone()
    }
}

impl Drop for BridgeProcess {
    fn drop(&mut self) {
        self.end("the host no longer needs it".into());
    }
}

/// How long a bridge that ended may take to have its last log lines logged: plenty for a
/// pipe's worth of lines; short, since an application a hook started may hold the pipe open
/// for as long as it runs.
const LOG_DRAIN_LIMIT: Duration = Duration::from_millis(500);

/// Logs the bridge's standard error: its JSON log lines (`{"plugin", "level", "message"}`)
/// at their level with the plugin's name, anything else (Python's own fatal errors) as a
/// warning. The receiver is disconnected once the pipe is closed and its lines logged.
fn forward_log(stderr: std::process::ChildStderr) -> Receiver<()> {
    let (drained, until_drained) = sync_channel::<()>(0);
    let _ = std::thread::Builder::new()
        .name("python-bridge-log".into())
        .spawn(move || {
            let _drained = drained;
            let mut reader = BufReader::new(stderr);
            let mut line = Vec::new();
            loop {
                line.clear();
                // A line of at most 1 MiB (longer ones are cut); whatever the bytes.
                let read = (&mut reader)
                    .take(MAX_LOG_LINE)
                    .read_until(b'\n', &mut line);
                match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => log_line(String::from_utf8_lossy(&line).trim_end()),
                }
            }
        });
    until_drained
}

fn log_line(line: &str) {
    #[derive(serde::Deserialize)]
    struct LogLine {
        plugin: Option<String>,
        level: String,
        message: String,
    }
    let Ok(record) = serde_json::from_str::<LogLine>(line) else {
        tracing::warn!(plugin = "python", "[python] {line}");
        return;
    };
    let plugin = record.plugin.as_deref().unwrap_or("python");
    let message = record.message;
    match record.level.as_str() {
        "critical" | "error" => tracing::error!(plugin, "[{plugin}] {message}"),
        "warning" => tracing::warn!(plugin, "[{plugin}] {message}"),
        "debug" | "notset" => tracing::debug!(plugin, "[{plugin}] {message}"),
        _ => tracing::info!(plugin, "[{plugin}] {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_that_are_not_json_are_kept() {
        // Neither panics: a JSON record, and Python's own fatal error text.
        log_line(r#"{"plugin": "p", "level": "info", "message": "hello"}"#);
        log_line("Fatal Python error: Segmentation fault");
    }

    #[test]
    fn an_interpreter_too_old_for_the_bridge_is_told_so() {
        // Python 2 cannot read the bridge; the launcher says why instead.
        let Ok(output) = Command::new("python2")
            .args(["-c", LAUNCHER_SOURCE, BRIDGE_SOURCE, "{}"])
            .output()
        else {
            return; // no Python 2 here
        };
        if !output.status.success() {
            return; // a `python2` that does not run (a shim without the version)
        }
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("need Python 3.8 or newer"), "{text}");
    }

    #[test]
    fn the_bridge_source_is_python_that_compiles() {
        let Ok(status) = Command::new("python3")
            .args([
                "-c",
                "import sys; compile(sys.stdin.read(), 'bridge.py', 'exec')",
            ])
            .stdin(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .expect("piped")
                    .write_all(BRIDGE_SOURCE.as_bytes())?;
                child.wait()
            })
        else {
            return; // no Python here: the integration tests say so
        };
        assert!(status.success(), "bridge.py does not compile");
    }
}
