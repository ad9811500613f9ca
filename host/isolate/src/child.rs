//! The child process: `ftrack-connect native-host --library PATH --copy-dir DIR`. It opens one
//! plugin library, greets the host with the plugin's name and version, and then serves the
//! host's calls (`register`, each handler call) until its input closes.
//!
//! The protocol has the process's standard output to itself: a plugin printing there would
//! corrupt it, so what plugins print goes to standard error, which the host logs with the
//! plugin's name.

use std::collections::HashMap;
use std::io::BufReader;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, RErr, ROk, RResult, RStr, RString};
use connect_core::HANDLER_THREAD_STACK;
use connect_native::{guarded, NativeModule, NativeValue};
use connect_plugin_abi::{
    DispatchedEvent, DispatchedEvent_TO, EventHandlerBox, HostSession, HostSession_TO,
    PublishOutcome,
};
use serde_json::value::RawValue;

use crate::wire::{write_frame, Answer, Call, Frame, GREETING};
use crate::wire::{Link, Workers};

/// Runs the child: opens `library` (copied into `copy_dir` first, as in process), then
/// serves the host until it goes. Returns the process's exit status.
pub fn serve(library: &Path, copy_dir: &Path) -> u8 {
    let Some(mut protocol) = take_stdout() else {
        eprintln!("native-host: cannot set up the pipe to the host");
        return 1;
    };
    let module = match connect_native::load(library, copy_dir) {
        Ok(module) => module,
        Err(err) => {
            let _ = write_frame(
                &mut protocol,
                &Frame::Done {
                    conv: GREETING,
                    answer: Answer::failed(err),
                },
            );
            return 1;
        }
    };
    let (name, version) = module.declared();
    let greeting = Frame::Done {
        conv: GREETING,
        answer: Answer::Opened { name, version },
    };
    if write_frame(&mut protocol, &greeting).is_err() {
        return 1;
    }
    let plugin = Arc::new(ChildPlugin {
        module,
        handlers: RwLock::new(HashMap::new()),
        next_handler: AtomicU64::new(1),
        info: OnceLock::new(),
        link: OnceLock::new(),
    });
    let server = {
        let plugin = plugin.clone();
        Box::new(move |call| plugin.serve(call))
    };
    let link = Link::new(Box::new(protocol), false, server);
    let _ = plugin.link.set(Arc::downgrade(&link));
    let workers = Workers::new(HANDLER_THREAD_STACK);
    let mut input = BufReader::new(std::io::stdin());
    let ended = link.route(&mut input, &workers);
    link.close();
    match ended {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("native-host: the host's frames are unreadable: {err}");
            1
        }
    }
}

/// The standard output, for the protocol alone; what is written to fd 1 afterwards goes to
/// standard error.
#[cfg(unix)]
fn take_stdout() -> Option<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain descriptor calls; the duplicate is owned by the returned File alone.
    unsafe {
        let protocol = libc::dup(libc::STDOUT_FILENO);
        if protocol < 0 || libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) < 0 {
            return None;
        }
        Some(std::fs::File::from_raw_fd(protocol))
    }
}

#[cfg(not(unix))]
fn take_stdout() -> Option<std::fs::File> {
    None
}

/// The plugin as the child holds it: its library, and its handlers by the numbers the host
/// knows them by.
struct ChildPlugin {
    module: NativeModule,
    handlers: RwLock<HashMap<u64, Arc<EventHandlerBox>>>,
    next_handler: AtomicU64,
    info: OnceLock<(String, String)>,
    link: OnceLock<Weak<Link>>,
}

impl ChildPlugin {
    /// Serves one of the host's calls.
    fn serve(self: &Arc<Self>, call: Call) -> Answer {
        match call {
            Call::Register {
                api_user,
                server_url,
            } => {
                let _ = self.info.set((api_user, server_url));
                let session = HostSession_TO::from_ptr(
                    RArc::new(ChildSession {
                        plugin: Arc::downgrade(self),
                        subscribed: Arc::new(Mutex::new(HashMap::new())),
                    }),
                    TD_Opaque,
                );
                match self.module.register_with(session) {
                    Ok(()) => Answer::Registered,
                    Err(err) => Answer::failed(err),
                }
            }
            Call::Handle { handler, event } => {
                let found = self
                    .handlers
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&handler)
                    .cloned();
                match found {
                    Some(found) => handle(&found, event.get()),
                    None => Answer::failed(format!("no handler number {handler}")),
                }
            }
            other => Answer::failed(format!("a plugin's process cannot serve {other:?}")),
        }
    }

    /// Calls the host.
    fn call(&self, call: Call) -> Result<Answer, RString> {
        let link = self.link.get().and_then(Weak::upgrade);
        let link = link.ok_or_else(|| RString::from("the host is gone"))?;
        link.call(call, None)
            .map_err(|_| RString::from("the host is gone"))
    }
}

/// Runs `handler` on the event `text`; a panic that got past the SDK is an error too.
fn handle(handler: &EventHandlerBox, text: &str) -> Answer {
    let view = EventText(text);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        handler.handle(DispatchedEvent_TO::from_ptr(&view, TD_Opaque))
    }));
    let outcome = match outcome {
        Ok(ROk(outcome)) => outcome,
        Ok(RErr(err)) => return Answer::failed(err),
        Err(_) => return Answer::failed("the handler panicked"),
    };
    let result = match NativeValue::checked(outcome.result) {
        Ok(result) => RawValue::from_string(result.to_string()).expect("written as JSON"),
        Err(err) => {
            return Answer::failed(format!("the handler's result is not a JSON value: {err}"))
        }
    };
    let raw = |text: RString| RawValue::from_string(text.into_string());
    let data = match outcome.data.into_option().map(raw).transpose() {
        Ok(data) => data,
        Err(err) => return Answer::failed(format!("the handler's event data is not JSON: {err}")),
    };
    Answer::Handled {
        result,
        data,
        stop: outcome.stop,
    }
}

/// The event a handler gets: the text the host sent.
struct EventText<'a>(&'a str);

impl DispatchedEvent for EventText<'_> {
    fn json(&self) -> RStr<'_> {
        self.0.into()
    }
}

/// The session the plugin's `register` gets in the child: each call goes to the host.
#[derive(Clone)]
struct ChildSession {
    plugin: Weak<ChildPlugin>,
    /// The handler number of each subscriber id, to forget the handler on unsubscribe.
    subscribed: Arc<Mutex<HashMap<String, u64>>>,
}

impl ChildSession {
    fn plugin(&self) -> Result<Arc<ChildPlugin>, RString> {
        self.plugin
            .upgrade()
            .ok_or_else(|| RString::from("the plugin's process is ending"))
    }
}

/// Turns an answer the host should not have given into an error.
fn unexpected(answer: Answer) -> RString {
    match answer {
        Answer::Failed { error } => error.into(),
        other => format!("unexpected answer from the host: {other:?}").into(),
    }
}

impl HostSession for ChildSession {
    fn subscribe(
        &self,
        expression: RStr<'_>,
        priority: i64,
        handler: EventHandlerBox,
    ) -> RResult<RString, RString> {
        guarded(|| {
            let plugin = self.plugin()?;
            let number = plugin.next_handler.fetch_add(1, Ordering::Relaxed);
            let handlers = || plugin.handlers.write().unwrap_or_else(|e| e.into_inner());
            handlers().insert(number, Arc::new(handler));
            let call = Call::Subscribe {
                expression: expression.to_string(),
                priority,
                handler: number,
            };
            match plugin.call(call) {
                Ok(Answer::Subscribed { id }) => {
                    let mut subscribed = self.subscribed.lock().unwrap_or_else(|e| e.into_inner());
                    subscribed.insert(id.clone(), number);
                    Ok(id.into())
                }
                other => {
                    handlers().remove(&number);
                    Err(other.map_or_else(|e| e, unexpected))
                }
            }
        })
    }

    fn unsubscribe(&self, id: RStr<'_>) -> RResult<(), RString> {
        guarded(|| {
            let plugin = self.plugin()?;
            match plugin.call(Call::Unsubscribe { id: id.to_string() })? {
                Answer::Unsubscribed => {
                    let number = self
                        .subscribed
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(id.as_str());
                    if let Some(number) = number {
                        let mut handlers =
                            plugin.handlers.write().unwrap_or_else(|e| e.into_inner());
                        handlers.remove(&number);
                    }
                    Ok(())
                }
                other => Err(unexpected(other)),
            }
        })
    }

    fn publish(&self, event: RStr<'_>) -> RResult<PublishOutcome, RString> {
        guarded(|| {
            let plugin = self.plugin()?;
            let event = RawValue::from_string(event.to_string())
                .map_err(|e| RString::from(format!("invalid event: {e}")))?;
            match plugin.call(Call::Publish { event })? {
                Answer::Published { results, data } => Ok(PublishOutcome {
                    results: results.get().into(),
                    data: data.get().into(),
                }),
                other => Err(unexpected(other)),
            }
        })
    }

    fn api_user(&self) -> RString {
        self.plugin
            .upgrade()
            .and_then(|p| p.info.get().map(|(user, _)| user.as_str().into()))
            .unwrap_or_default()
    }

    fn server_url(&self) -> RString {
        self.plugin
            .upgrade()
            .and_then(|p| p.info.get().map(|(_, url)| url.as_str().into()))
            .unwrap_or_default()
    }

    /// Forwarded to the host, which runs it on the plugin's session (the API key never
    /// reaches this process); within a handler's conversation, on the host thread that
    /// called the handler.
    fn api(&self, request: RStr<'_>) -> RResult<RString, RString> {
        guarded(|| {
            let plugin = self.plugin()?;
            let request = RawValue::from_string(request.to_string())
                .map_err(|e| RString::from(format!("not a server API request: {e}")))?;
            match plugin.call(Call::Api { request })? {
                Answer::ApiAnswered { result } => Ok(result.get().into()),
                other => Err(unexpected(other)),
            }
        })
    }
}
