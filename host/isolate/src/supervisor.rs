//! Keeps an isolated plugin running: registers it in a fresh process after a crash, with
//! growing pauses, and gives up (the plugin shows as failed) when it keeps crashing.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use connect_core::{EventHub, PluginTag, HANDLER_THREAD_STACK};
use connect_plugins::{ApiSession, SessionInfo};

use crate::process::{Ending, OnEnd, PluginProcess};
use crate::wire::{Answer, Call};
use crate::IsolationOptions;
use connect_pipe::link::NoAnswer;

/// After this many crashes within [`CRASH_WINDOW`], a plugin is not restarted again.
pub const MAX_CRASHES: usize = 3;

/// How long a crash counts toward [`MAX_CRASHES`].
pub const CRASH_WINDOW: Duration = Duration::from_secs(600);

/// The pause before the first restart; it doubles with each further crash in the window.
pub const FIRST_RESTART_DELAY: Duration = Duration::from_secs(1);

/// One isolated plugin library and the process that serves it now.
pub(crate) struct Supervisor {
    library: PathBuf,
    options: IsolationOptions,
    tag: PluginTag,
    /// Where it registers, and with what, once the registry asked it to.
    registered_on: OnceLock<(Weak<EventHub>, SessionInfo)>,
    state: Mutex<State>,
    me: Weak<Supervisor>,
}

#[derive(Default)]
struct State {
    /// The process that opened the library, until `register` runs in it.
    opened: Option<Arc<PluginProcess>>,
    /// The process serving the plugin now.
    current: Option<Arc<PluginProcess>>,
    /// Which start `current` is: a process's end is only news for the start it belongs to.
    generation: u64,
    /// When it crashed, within the window.
    crashes: Vec<Instant>,
    /// Why it is no longer restarted.
    failure: Option<String>,
}

impl Supervisor {
    /// Starts a process for `library` and waits for it to open it: the plugin's declared
    /// name and version, or why not (the library refused, or crashed its process).
    pub(crate) fn open(
        library: PathBuf,
        options: IsolationOptions,
        tag: PluginTag,
    ) -> Result<(Arc<Supervisor>, (String, String)), String> {
        let supervisor = Arc::new_cyclic(|me| Supervisor {
            library,
            options,
            tag,
            registered_on: OnceLock::new(),
            state: Mutex::new(State::default()),
            me: me.clone(),
        });
        supervisor.state().generation = 1;
        let opened = PluginProcess::start(
            &supervisor.library,
            &supervisor.options,
            &supervisor.tag,
            supervisor.on_end(1),
        )?;
        supervisor.state().opened = Some(opened.process);
        Ok((supervisor, opened.declared))
    }

    /// Runs the plugin's `register` in a process of its own, its subscriptions going to
    /// `hub`. From then on a crash restarts it.
    pub(crate) fn register(
        &self,
        hub: &Arc<EventHub>,
        session: &SessionInfo,
    ) -> Result<(), String> {
        let _ = self
            .registered_on
            .set((Arc::downgrade(hub), session.clone()));
        self.start()
    }

    /// The host is ending: the plugin's processes are killed and no longer restarted. The
    /// caller then waits for each with [`PluginProcess::end`], so that many plugins end
    /// together rather than one after the other.
    pub(crate) fn stop(&self) -> Vec<Arc<PluginProcess>> {
        let mut state = self.state();
        state.failure = Some("the host is ending".into());
        let processes: Vec<_> = state
            .opened
            .take()
            .into_iter()
            .chain(state.current.take())
            .collect();
        for process in &processes {
            process.kill("the host is ending".into());
        }
        processes
    }

    /// Why the plugin stopped being restarted, if it did.
    pub(crate) fn failure(&self) -> Option<String> {
        self.state().failure.clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers the plugin in the process that opened it, or a new one.
    fn start(&self) -> Result<(), String> {
        let Some((hub, session)) = self.registered_on.get() else {
            return Err("not registered".into());
        };
        let opened = self.state().opened.take();
        let process = match opened {
            Some(process) => process,
            None => {
                let generation = {
                    let mut state = self.state();
                    state.generation += 1;
                    state.generation
                };
                let on_end = self.on_end(generation);
                PluginProcess::start(&self.library, &self.options, &self.tag, on_end)?.process
            }
        };
        // Each process gets a session of its own: a restarted plugin starts with no writes
        // pending, as it would in a fresh host.
        process.attach(hub.clone(), session.api.clone().map(ApiSession::new));
        let register = Call::Register {
            api_user: session.api_user.clone(),
            server_url: session.server_url.clone(),
        };
        match process.call(register) {
            Ok(Answer::Registered) => {
                self.state().current = Some(process);
                Ok(())
            }
            Ok(Answer::Failed { error }) => Err(error),
            Ok(other) => Err(format!("unexpected answer from its process: {other:?}")),
            Err(NoAnswer::TimedOut) => {
                let limit = self.options.time_limit.as_secs_f64();
                process.kill(format!("register did not return within {limit} s"));
                Err(format!(
                    "register did not return within {limit} s; its process was killed"
                ))
            }
            Err(NoAnswer::Closed) => Err(format!(
                "its process died in register ({})",
                process.how_it_ended()
            )),
        }
    }

    fn on_end(&self, generation: u64) -> OnEnd {
        let me = self.me.clone();
        Box::new(move |ending| {
            if let Some(supervisor) = me.upgrade() {
                supervisor.ended(generation, ending);
            }
        })
    }

    /// A process ended: if it was the one serving the plugin, the plugin's subscriptions go
    /// and a restart is planned, or the plugin is given up.
    fn ended(&self, generation: u64, ending: Ending) {
        let mut state = self.state();
        if generation != state.generation || state.current.is_none() {
            // A process that never finished registering: its start reports the failure.
            return;
        }
        state.current = None;
        if let Some(hub) = self.registered_on.get().and_then(|(hub, _)| hub.upgrade()) {
            hub.unsubscribe_plugin(&self.tag);
        }
        let name = &self.tag.name;
        // A handler call that was waiting has said it (naming the topic); else say it here.
        if ending.killed.is_none() && !ending.in_flight {
            tracing::warn!(
                plugin = &**name,
                "plugin '{name}': its process died ({}) while no handler was running",
                ending.how
            );
        }
        let why = ending.killed.unwrap_or(ending.how);
        self.crashed(&mut state, why);
    }

    /// Counts a crash, and restarts the plugin after a pause or gives it up.
    fn crashed(&self, state: &mut State, why: String) {
        let now = Instant::now();
        state
            .crashes
            .retain(|at| now.duration_since(*at) < CRASH_WINDOW);
        state.crashes.push(now);
        let name = &self.tag.name;
        let crashes = state.crashes.len();
        if crashes >= MAX_CRASHES {
            let failure = format!(
                "its process crashed {crashes} times in {} minutes, last: {why}; not restarted \
                 (it is again when its files change, or the host restarts)",
                CRASH_WINDOW.as_secs() / 60
            );
            tracing::error!(plugin = &**name, "plugin '{name}' failed: {failure}");
            state.failure = Some(failure);
            return;
        }
        let delay = FIRST_RESTART_DELAY * 2u32.pow(crashes as u32 - 1);
        tracing::info!(
            plugin = &**name,
            "plugin '{name}' restarts in {} s",
            delay.as_secs_f64()
        );
        let me = self.me.clone();
        let planned = std::thread::Builder::new()
            .name(format!("restart-{name}"))
            .stack_size(HANDLER_THREAD_STACK)
            .spawn(move || {
                std::thread::sleep(delay);
                if let Some(supervisor) = me.upgrade() {
                    supervisor.restart();
                }
            });
        if let Err(err) = planned {
            tracing::error!("plugin '{name}': cannot plan its restart: {err}");
        }
    }

    fn restart(&self) {
        let name = &self.tag.name;
        match self.start() {
            Ok(()) => tracing::info!(plugin = &**name, "plugin '{name}' restarted"),
            Err(err) => {
                if let Some(hub) = self.registered_on.get().and_then(|(hub, _)| hub.upgrade()) {
                    hub.unsubscribe_plugin(&self.tag);
                }
                tracing::warn!(plugin = &**name, "plugin '{name}': restart failed: {err}");
                let mut state = self.state();
                self.crashed(&mut state, err);
            }
        }
    }
}
