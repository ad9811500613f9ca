//! One plugin's child process, seen from the host: starting it, its handlers as the hub
//! calls them, the calls it makes to the host, and how it ended.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use connect_core::{
    EventHub, Handler, HandlerCall, HandlerError, PluginTag, Reply, SubscribeOptions,
    HANDLER_THREAD_STACK,
};
use connect_event::Event;
use connect_native::{api_call, guarded, NativeText};
use connect_plugins::ApiSession;
use serde_json::value::RawValue;

use crate::wire::{read_greeting, Answer, Call};
use crate::wire::{Link, Workers};
use crate::IsolationOptions;
use connect_pipe::link::NoAnswer;

/// A running child process serving one plugin library.
pub(crate) struct PluginProcess {
    link: Arc<Link>,
    child: Mutex<Child>,
    /// Why the host killed it, when it did.
    killed: Mutex<Option<String>>,
    /// How it ended, once it has (`killed by signal 6 (SIGABRT)`).
    ended: OnceLock<String>,
    /// Handler calls waiting for it now.
    in_flight: AtomicUsize,
    /// The subscriber ids it made: the only ones it may remove.
    subscribed: Mutex<HashSet<String>>,
    limit: Duration,
    host_side: Arc<HostSide>,
    /// Disconnected once every line the child wrote to its standard error is logged.
    output_drained: Mutex<Receiver<()>>,
}

/// How a process that served its plugin ended.
pub(crate) struct Ending {
    /// `killed by signal 6, SIGABRT`, `exited with status 3`.
    pub(crate) how: String,
    /// Why the host killed it, if it did.
    pub(crate) killed: Option<String>,
    /// Whether handler calls were waiting for it (their errors say it ended).
    pub(crate) in_flight: bool,
}

/// Called once when a process that greeted ends, from its reading thread.
pub(crate) type OnEnd = Box<dyn FnOnce(Ending) + Send>;

/// A process that opened its library.
pub(crate) struct Opened {
    pub(crate) process: Arc<PluginProcess>,
    /// The plugin's declared name and version.
    pub(crate) declared: (String, String),
}

impl PluginProcess {
    /// Starts a child for `library`, and waits (up to the time limit) for it to open the
    /// library. Its subscriptions will carry `tag` (on the hub it is [`attach`]ed to);
    /// `on_end` hears how it ended.
    ///
    /// [`attach`]: PluginProcess::attach
    pub(crate) fn start(
        library: &Path,
        options: &IsolationOptions,
        tag: &PluginTag,
        on_end: OnEnd,
    ) -> Result<Opened, String> {
        let mut child = Command::new(&options.program)
            .arg("native-host")
            .arg("--library")
            .arg(library)
            .arg("--copy-dir")
            .arg(&options.copy_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", options.program.display()))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("cannot connect to the plugin's process".into());
        };
        let output_drained = Mutex::new(forward_output(stderr, tag.name.clone()));
        let host_side = Arc::new(HostSide {
            hub: OnceLock::new(),
            api: OnceLock::new(),
            tag: tag.clone(),
            process: OnceLock::new(),
        });
        let server = {
            let host_side = host_side.clone();
            Box::new(move |call| host_side.serve(call))
        };
        let link = Link::new(Box::new(stdin), true, server);
        let process = Arc::new(PluginProcess {
            link: link.clone(),
            child: Mutex::new(child),
            killed: Mutex::new(None),
            ended: OnceLock::new(),
            in_flight: AtomicUsize::new(0),
            subscribed: Mutex::new(HashSet::new()),
            limit: options.time_limit,
            host_side: host_side.clone(),
            output_drained,
        });
        let _ = host_side.process.set(Arc::downgrade(&process));

        let (greeted, greeting) = sync_channel(1);
        let weak = Arc::downgrade(&process);
        std::thread::Builder::new()
            .name(format!("isolated-{}", tag.name))
            .spawn(move || {
                let mut input = BufReader::new(stdout);
                let answer = read_greeting(&mut input);
                let opened = matches!(answer, Some(Answer::Opened { .. }));
                let _ = greeted.send(answer);
                if !opened {
                    link.close();
                    return;
                }
                let workers = Workers::new(HANDLER_THREAD_STACK);
                let broken = link.route(&mut input, &workers).err();
                let ending = weak.upgrade().map(|process| {
                    if let Some(broken) = broken {
                        process.kill(format!("it broke the protocol: {broken}"));
                    }
                    process.ending()
                });
                link.close();
                if let Some(ending) = ending {
                    on_end(ending);
                }
            })
            .map_err(|e| format!("cannot start a thread for the plugin's process: {e}"))?;

        match greeting.recv_timeout(options.time_limit) {
            Ok(Some(Answer::Opened { name, version })) => Ok(Opened {
                process,
                declared: (name, version),
            }),
            Ok(Some(Answer::Failed { error })) => Err(error),
            Ok(_) | Err(RecvTimeoutError::Disconnected) => Err(format!(
                "its process died opening the library ({})",
                process.reap()
            )),
            Err(RecvTimeoutError::Timeout) => {
                process.kill(String::new());
                Err(format!(
                    "opening the library took over {} s; its process was killed",
                    options.time_limit.as_secs_f64()
                ))
            }
        }
    }

    /// Gives the child's subscriptions and publishes the hub they go to, and its server
    /// calls the plugin's session (`None`: the host has no server). Once; before it
    /// registers.
    pub(crate) fn attach(&self, hub: Weak<EventHub>, api: Option<ApiSession>) {
        let _ = self.host_side.hub.set(hub);
        let _ = self.host_side.api.set(api);
    }

    /// Makes a call to the child, within the time limit.
    pub(crate) fn call(self: &Arc<Self>, call: Call) -> Result<Answer, NoAnswer> {
        self.link.call(call, Some(self.limit))
    }

    /// How it ended, for a call that got [`NoAnswer::Closed`].
    pub(crate) fn how_it_ended(&self) -> String {
        self.ended
            .get()
            .cloned()
            .unwrap_or_else(|| "it ended".into())
    }

    /// Kills the child (if it still runs), saying why.
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
    /// logged: what the plugin printed just before its last answer may still be on its way,
    /// and a host that printed that answer and exits would lose it. A child of the plugin's
    /// own may hold the pipe open after it is gone, hence the bound.
    pub(crate) fn end(&self, why: String) {
        self.kill(why);
        self.reap();
        let drained = self
            .output_drained
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let _ = drained.recv_timeout(OUTPUT_DRAIN_LIMIT);
    }

    /// Waits for the child to end (killing it if it has not) and says how it did.
    fn reap(&self) -> String {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(how) = self.ended.get() {
            return how.clone();
        }
        // Its output ended, so it is ending; one that closed its output and runs on is
        // broken and killed. One the host killed is only waited for.
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
        let how = status.map_or_else(
            |e| format!("cannot tell how: {e}"),
            connect_pipe::exit::describe,
        );
        self.ended.get_or_init(|| how).clone()
    }

    fn ending(&self) -> Ending {
        let how = self.reap();
        Ending {
            how,
            killed: self
                .killed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            in_flight: self.in_flight.load(Ordering::Acquire) > 0,
        }
    }
}

impl Drop for PluginProcess {
    fn drop(&mut self) {
        self.end("the plugin was unloaded".into());
    }
}

/// How long a process that ended may take to have its last output logged: plenty for a
/// pipe's worth of lines; short, since a process the plugin started may hold the pipe open
/// for as long as it runs.
const OUTPUT_DRAIN_LIMIT: Duration = Duration::from_millis(500);

/// Logs what the child writes on standard error (the plugin's prints, its panics), line by
/// line with the plugin's name. The receiver is disconnected once the pipe is closed and its
/// lines logged.
fn forward_output(stderr: std::process::ChildStderr, plugin: Arc<str>) -> Receiver<()> {
    let (drained, until_drained) = sync_channel::<()>(0);
    let _ = std::thread::Builder::new()
        .name(format!("isolated-{plugin}-output"))
        .spawn(move || {
            let _drained = drained;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                tracing::info!(plugin = &*plugin, "[{plugin}] {line}");
            }
        });
    until_drained
}

/// What serves the child's calls: its subscriptions go to the hub under the plugin's tag,
/// its publishes through the hub, its server calls to the plugin's session (the API key
/// stays here). The child is not trusted with anything else.
struct HostSide {
    hub: OnceLock<Weak<EventHub>>,
    /// The plugin's session with the server, for this process: writes a crashed process
    /// queued end with it, as they would with the plugin's memory in process.
    api: OnceLock<Option<ApiSession>>,
    tag: PluginTag,
    process: OnceLock<Weak<PluginProcess>>,
}

impl HostSide {
    fn serve(&self, call: Call) -> Answer {
        let (Some(hub), Some(process)) = (
            self.hub.get().and_then(Weak::upgrade),
            self.process.get().and_then(Weak::upgrade),
        ) else {
            return Answer::failed("the host is shutting down");
        };
        match call {
            Call::Subscribe {
                expression,
                priority,
                handler,
            } => {
                let options = SubscribeOptions {
                    priority,
                    plugin: Some(self.tag.clone()),
                    ..Default::default()
                };
                let handler = Arc::new(IsolatedHandler {
                    process: process.clone(),
                    handler,
                });
                match hub.subscribe(&expression, handler, options) {
                    Ok(id) => {
                        let mut subscribed =
                            process.subscribed.lock().unwrap_or_else(|e| e.into_inner());
                        subscribed.insert(id.clone());
                        Answer::Subscribed { id }
                    }
                    Err(err) => Answer::failed(err),
                }
            }
            Call::Unsubscribe { id } => {
                let mut subscribed = process.subscribed.lock().unwrap_or_else(|e| e.into_inner());
                if !subscribed.remove(&id) {
                    return Answer::failed(format!("{id} is no subscription of this plugin"));
                }
                match hub.unsubscribe(&id) {
                    Ok(()) => Answer::Unsubscribed,
                    Err(err) => Answer::failed(err),
                }
            }
            Call::Publish { event } => {
                let mut event: Event = match serde_json::from_str(event.get()) {
                    Ok(event) => event,
                    Err(err) => return Answer::failed(format!("invalid event: {err}")),
                };
                let results = hub.publish_replies(&mut event);
                let raw = |text: serde_json::Result<String>| text.and_then(RawValue::from_string);
                match (
                    raw(serde_json::to_string(&results)),
                    raw(serde_json::to_string(&event.data)),
                ) {
                    (Ok(results), Ok(data)) => Answer::Published { results, data },
                    (Err(err), _) | (_, Err(err)) => {
                        Answer::failed(format!("results are not JSON: {err}"))
                    }
                }
            }
            Call::Api { request } => {
                let api = self.api.get().and_then(Option::as_ref);
                let answered = guarded(|| {
                    let result = api_call(&self.tag.name, api, request.get())?;
                    RawValue::from_string(result)
                        .map_err(|e| format!("the server's answer is not JSON: {e}").into())
                });
                match answered.into_result() {
                    Ok(result) => Answer::ApiAnswered { result },
                    Err(error) => Answer::failed(error),
                }
            }
            Call::Register { .. } | Call::Handle { .. } => {
                Answer::failed("a plugin's process cannot ask the host for that")
            }
        }
    }
}

/// One of the child's handlers, as the hub calls it.
struct IsolatedHandler {
    process: Arc<PluginProcess>,
    /// The child's number for it.
    handler: u64,
}

/// Counts a handler call waiting for the child while it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(count: &'a AtomicUsize) -> InFlight<'a> {
        count.fetch_add(1, Ordering::AcqRel);
        InFlight(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Handler for IsolatedHandler {
    fn handle(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        let event = serde_json::to_string(call.event())
            .and_then(RawValue::from_string)
            .map_err(|e| HandlerError(format!("the event is not JSON: {e}")))?;
        let answer = {
            let _waiting = InFlight::enter(&self.process.in_flight);
            self.process.call(Call::Handle {
                handler: self.handler,
                event,
            })
        };
        let (result, data, stop) = match answer {
            Ok(Answer::Handled { result, data, stop }) => (result, data, stop),
            Ok(Answer::Failed { error }) => return Err(HandlerError(error)),
            Ok(other) => {
                return Err(HandlerError(format!(
                    "unexpected answer from its process: {other:?}"
                )))
            }
            Err(NoAnswer::TimedOut) => {
                let limit = self.process.limit.as_secs_f64();
                self.process
                    .kill(format!("a handler did not answer within {limit} s"));
                return Err(HandlerError(format!(
                    "no answer within {limit} s: its process was killed"
                )));
            }
            Err(NoAnswer::Closed) => {
                return Err(HandlerError(format!(
                    "its process died ({})",
                    self.process.how_it_ended()
                )))
            }
        };
        if stop {
            call.stop();
        }
        if let Some(data) = data {
            call.event_mut().data = serde_json::from_str(data.get())
                .map_err(|e| HandlerError(format!("the handler's event data is not JSON: {e}")))?;
        }
        NativeText::checked(result.get().to_string())
            .map(Reply::form)
            .map_err(|e| HandlerError(format!("the handler's result is not JSON: {e}")))
    }
}
