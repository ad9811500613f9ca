//! Keeps the Python bridge running for the hooks the registry holds: starts it when the
//! first Python hook loads, and when it ends (a hook called `os._exit`, crashed the
//! interpreter, or hung and was killed) removes every Python subscription from the hub and
//! starts it again, importing and registering each hook anew, in load order.
//!
//! A hook whose handler or `register` was running when the bridge ended or hung is blamed:
//! the new bridge runs without it, and the plugin shows as failed with why, until its file
//! changes (`run --watch`) or the host restarts. So one broken hook costs the others a
//! restart, once. A bridge that ends with nobody to blame is restarted after a pause that
//! doubles each time; after [`MAX_CRASHES`] within [`CRASH_WINDOW`] the Python hooks are
//! given up and show as failed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use connect_core::{EventHub, HANDLER_THREAD_STACK};
use connect_pipe::link::NoAnswer;

use crate::bridge::{BridgeProcess, Greeting};
use crate::hook::HookState;
use crate::wire::{Answer, Call};
use crate::PythonOptions;

/// After this many unexplained ends within [`CRASH_WINDOW`], the bridge is not restarted.
pub const MAX_CRASHES: usize = 3;

/// How long an end counts toward [`MAX_CRASHES`].
pub const CRASH_WINDOW: Duration = Duration::from_secs(600);

/// The pause before restarting after an unexplained end; it doubles with each further one.
pub const FIRST_RESTART_DELAY: Duration = Duration::from_secs(1);

/// The bridge over its restarts, and the hooks it runs.
pub(crate) struct Supervisor {
    options: PythonOptions,
    /// The hub the hooks subscribe to, from the first `register`.
    hub: OnceLock<Weak<EventHub>>,
    next_hook: AtomicU64,
    /// Starting, restarting and loading hooks, one at a time.
    lifecycle: Mutex<()>,
    state: Mutex<State>,
    me: Weak<Supervisor>,
}

#[derive(Default)]
struct State {
    /// The bridge running now.
    current: Option<Arc<BridgeProcess>>,
    /// What the first bridge said, or why none could start (no Python, no `ftrack_api`):
    /// then Python hooks are skipped with that reason.
    started: Option<Result<Greeting, String>>,
    /// Every hook the registry holds, by number; registered ones are run again after a
    /// restart, in number order (load order).
    hooks: HashMap<u64, Weak<HookState>>,
    registered: Vec<u64>,
    /// The hook blamed for the current bridge's end, with why.
    blamed: Option<(u64, String)>,
    /// Unexplained ends, within the window.
    crashes: Vec<Instant>,
    /// Why the bridge is no longer restarted.
    given_up: Option<String>,
}

impl Supervisor {
    pub(crate) fn new(options: PythonOptions) -> Arc<Supervisor> {
        Arc::new_cyclic(|me| Supervisor {
            options,
            hub: OnceLock::new(),
            next_hook: AtomicU64::new(1),
            lifecycle: Mutex::new(()),
            state: Mutex::new(State::default()),
            me: me.clone(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn next_hook_number(&self) -> u64 {
        self.next_hook.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn hub(&self) -> Option<Arc<EventHub>> {
        self.hub.get().and_then(Weak::upgrade)
    }

    pub(crate) fn hook(&self, number: u64) -> Option<Arc<HookState>> {
        self.state().hooks.get(&number).and_then(Weak::upgrade)
    }

    /// Why Python hooks cannot run at all here, if they cannot: starts the bridge the first
    /// time it is asked.
    pub(crate) fn unavailable(&self) -> Option<String> {
        let _lifecycle = self.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
        if self.state().started.is_none() {
            let _ = self.running();
        }
        match &self.state().started {
            Some(Err(why)) => Some(why.clone()),
            _ => None,
        }
    }

    /// What runs the hooks: the bridge, started (and every registered hook loaded in it)
    /// if none runs. The caller holds the lifecycle lock.
    fn running(&self) -> Result<Arc<BridgeProcess>, String> {
        {
            let mut state = self.state();
            if let Some(current) = state.current.clone() {
                if !current.has_ended() {
                    return Ok(current);
                }
                // Ended, and its reader has not said so yet: retired here (the restart it
                // would plan is this start).
                let _ = self.retire(&mut state, &current);
            }
            if let Some(why) = &state.given_up {
                return Err(why.clone());
            }
            if let Some(Err(why)) = &state.started {
                return Err(why.clone());
            }
        }
        let me = self.me.clone();
        let generation: Arc<OnceLock<Weak<BridgeProcess>>> = Arc::new(OnceLock::new());
        let ended = {
            let generation = generation.clone();
            Box::new(move || {
                if let (Some(supervisor), Some(process)) = (me.upgrade(), generation.get()) {
                    supervisor.ended(process);
                }
            })
        };
        let started = BridgeProcess::start(&self.options, self.me.clone(), ended);
        let (process, greeting) = match started {
            Ok(started) => started,
            Err(why) => {
                let mut state = self.state();
                if state.started.is_none() {
                    tracing::warn!("Python hooks cannot run: {why}");
                    state.started = Some(Err(why.clone()));
                }
                return Err(why);
            }
        };
        let _ = generation.set(Arc::downgrade(&process));
        let replay = {
            let mut state = self.state();
            if state.started.is_none() {
                tracing::info!(
                    "Python hooks run in {} with ftrack_api {}",
                    greeting.python,
                    greeting.ftrack_api
                );
                state.started = Some(Ok(greeting));
            }
            state.current = Some(process.clone());
            state.blamed = None;
            let registered = std::mem::take(&mut state.registered);
            registered
                .into_iter()
                .filter_map(|number| state.hooks.get(&number).and_then(Weak::upgrade))
                .filter(|hook| hook.failure().is_none())
                .collect::<Vec<_>>()
        };
        if !replay.is_empty() {
            self.replay(&process, replay);
        }
        Ok(process)
    }

    /// Imports and registers `hooks` again in a new bridge, in load order.
    fn replay(&self, process: &Arc<BridgeProcess>, hooks: Vec<Arc<HookState>>) {
        let Some(hub) = self.hub() else { return };
        let count = hooks.len();
        for hook in hooks {
            let outcome = self
                .import_in(process, &hook)
                .and_then(|_| self.register_in(process, &hook, &hub));
            if let Err(why) = outcome {
                tracing::error!(
                    plugin = &*hook.tag.name,
                    "plugin '{}': Python hook not loaded again: {why}",
                    hook.tag.name
                );
                hook.fail(why);
            }
        }
        tracing::info!("the Python bridge runs again with {count} hook(s)");
    }

    /// Imports a hook file: `Ok(false)` when it has no `register` (not a hook).
    pub(crate) fn import(&self, hook: &Arc<HookState>) -> Result<bool, String> {
        let _lifecycle = self.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
        {
            // A changed hook is a reason to try a bridge that was given up again.
            let mut state = self.state();
            if state.given_up.take().is_some() {
                state.crashes.clear();
            }
        }
        let process = self.running()?;
        self.state().hooks.insert(hook.number, Arc::downgrade(hook));
        self.import_in(&process, hook)
    }

    fn import_in(
        &self,
        process: &Arc<BridgeProcess>,
        hook: &Arc<HookState>,
    ) -> Result<bool, String> {
        let call = Call::Import {
            hook: hook.number,
            path: hook.path.display().to_string(),
            plugin: hook.tag.name.to_string(),
            library_dirs: hook.library_dirs.clone(),
        };
        match self.call_for(process, hook, call, "importing it")? {
            Answer::Imported => Ok(true),
            Answer::NotAHook => Ok(false),
            Answer::Failed { error } => Err(error),
            other => Err(format!(
                "unexpected answer from the Python bridge: {other:?}"
            )),
        }
    }

    /// Runs a hook's `register`, its subscriptions going to `hub`.
    pub(crate) fn register(
        &self,
        hook: &Arc<HookState>,
        hub: &Arc<EventHub>,
    ) -> Result<(), String> {
        let _ = self.hub.set(Arc::downgrade(hub));
        let _lifecycle = self.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
        let process = self.running()?;
        self.register_in(&process, hook, hub)
    }

    fn register_in(
        &self,
        process: &Arc<BridgeProcess>,
        hook: &Arc<HookState>,
        hub: &Arc<EventHub>,
    ) -> Result<(), String> {
        let answer = self.call_for(
            process,
            hook,
            Call::Register { hook: hook.number },
            "in register",
        );
        match answer {
            Ok(Answer::Registered) => {
                let mut state = self.state();
                if !state.registered.contains(&hook.number) {
                    state.registered.push(hook.number);
                    state.registered.sort_unstable();
                }
                Ok(())
            }
            other => {
                for id in hook.take_subscriptions() {
                    let _ = hub.unsubscribe(&id);
                }
                match other {
                    Ok(Answer::Failed { error }) => Err(error),
                    Ok(other) => Err(format!(
                        "unexpected answer from the Python bridge: {other:?}"
                    )),
                    Err(error) => Err(error),
                }
            }
        }
    }

    /// Makes a call on `hook`'s behalf: if the bridge ends or hangs meanwhile, the hook is
    /// blamed (`doing`: "importing it", "in register").
    fn call_for(
        &self,
        process: &Arc<BridgeProcess>,
        hook: &Arc<HookState>,
        call: Call,
        doing: &str,
    ) -> Result<Answer, String> {
        match process.call(call, Some(hook.number)) {
            Ok(answer) => Ok(answer),
            Err(NoAnswer::TimedOut) => {
                let limit = process.limit.as_secs_f64();
                let why = format!(
                    "{}: no answer within {limit} s {doing}",
                    hook.path.display()
                );
                self.blame(process, hook, &why);
                process.kill_and_wait(why.clone());
                Err(why)
            }
            Err(NoAnswer::Closed) => Err(format!(
                "{}: the Python bridge ended {doing} ({})",
                hook.path.display(),
                process.how_it_ended()
            )),
        }
    }

    /// Blames `hook` for the end of `process` (the first blame of a run is the one that
    /// counts: the innermost handler, or the one that hung).
    /// Hooks that hang are blamed before the bridge is killed; hooks that end it are found
    /// by the bridge's record of whose code ran ([`BridgeProcess::culprit`]).
    pub(crate) fn blame(&self, process: &Arc<BridgeProcess>, hook: &Arc<HookState>, why: &str) {
        let mut state = self.state();
        let current = state
            .current
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, process));
        if current && state.blamed.is_none() {
            state.blamed = Some((hook.number, why.to_string()));
        }
    }

    /// A hook the registry dropped (unloaded, or replaced by a new version): the bridge
    /// forgets it, on a thread of its own (the registry may hold locks a handler needs).
    pub(crate) fn forget(&self, hook: &Arc<HookState>) {
        let number = hook.number;
        let process = {
            let mut state = self.state();
            state.hooks.remove(&number);
            state.registered.retain(|n| *n != number);
            state.current.clone()
        };
        if let Some(process) = process {
            let _ = std::thread::Builder::new()
                .name("python-forget".into())
                .spawn(move || {
                    let _ = process.call(Call::Forget { hook: number }, None);
                });
        }
    }

    /// Forgets subscription `id` if a Python hook made it.
    pub(crate) fn forget_subscription(&self, id: &str) -> bool {
        let hooks: Vec<_> = self
            .state()
            .hooks
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        hooks.iter().any(|hook| hook.unsubscribed(id))
    }

    /// The bridge `process` ended: it is retired and restarted, after a pause if nobody is
    /// to blame.
    fn ended(&self, process: &Weak<BridgeProcess>) {
        let delay = {
            let mut state = self.state();
            let current = match &state.current {
                Some(c) if std::ptr::eq(Arc::as_ptr(c), process.as_ptr()) => c.clone(),
                _ => return,
            };
            match self.retire(&mut state, &current) {
                Some(delay) => delay,
                None => return,
            }
        };
        let me = self.me.clone();
        let planned = std::thread::Builder::new()
            .name("python-restart".into())
            .stack_size(HANDLER_THREAD_STACK)
            .spawn(move || {
                std::thread::sleep(delay);
                if let Some(supervisor) = me.upgrade() {
                    let _lifecycle = supervisor
                        .lifecycle
                        .lock()
                        .unwrap_or_else(|e| e.into_inner());
                    if let Err(why) = supervisor.running() {
                        tracing::error!("the Python bridge cannot restart: {why}");
                    }
                }
            });
        if let Err(err) = planned {
            tracing::error!("cannot plan the Python bridge's restart: {err}");
        }
    }

    /// Retires the current bridge, which ended: every Python subscription leaves the hub,
    /// the hook to blame is failed. Returns when to start the next one (`None`: not before
    /// a hook loads).
    fn retire(&self, state: &mut State, process: &BridgeProcess) -> Option<Duration> {
        state.current = None;
        let hooks: Vec<_> = state.hooks.values().filter_map(Weak::upgrade).collect();
        if let Some(hub) = self.hub() {
            for hook in &hooks {
                for id in hook.take_subscriptions() {
                    let _ = hub.unsubscribe(&id);
                }
            }
        }
        let culprit = process.culprit().map(|number| {
            let path = hooks
                .iter()
                .find(|h| h.number == number)
                .map(|h| h.path.display().to_string())
                .unwrap_or_default();
            let how = process.how_it_ended();
            (
                number,
                format!("{path}: the Python bridge ended while it ran ({how})"),
            )
        });
        let delay = match state.blamed.take().or(culprit) {
            Some((number, why)) => {
                if let Some(hook) = hooks.iter().find(|h| h.number == number) {
                    tracing::error!(
                        plugin = &*hook.tag.name,
                        "plugin '{}': Python hook no longer run: {why}",
                        hook.tag.name
                    );
                    hook.fail(why);
                }
                Duration::ZERO
            }
            None => {
                let how = process.how_it_ended();
                tracing::warn!("the Python bridge ended ({how}) while no hook ran");
                let now = Instant::now();
                state
                    .crashes
                    .retain(|at| now.duration_since(*at) < CRASH_WINDOW);
                state.crashes.push(now);
                let crashes = state.crashes.len();
                if crashes >= MAX_CRASHES {
                    let why = format!(
                        "the Python bridge ended {crashes} times in {} minutes, last: {how}; \
                         not restarted (it is when a Python hook changes, or the host restarts)",
                        CRASH_WINDOW.as_secs() / 60
                    );
                    tracing::error!("{why}");
                    for hook in &hooks {
                        hook.fail(why.clone());
                    }
                    state.given_up = Some(why);
                    return None;
                }
                FIRST_RESTART_DELAY * 2u32.pow(crashes as u32 - 1)
            }
        };
        (!state.registered.is_empty()).then_some(delay)
    }
}
