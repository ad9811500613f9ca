//! Keeps the Python bridge running for the hooks the registry holds: starts it when the
//! first Python hook loads, and when it ends (a hook called `os._exit`, crashed the
//! interpreter, or hung and was killed) removes every Python subscription from the hub and
//! starts it again, importing and registering each hook anew, in load order.
//!
//! The hook whose call hung, or whose code ran innermost when the bridge ended, is blamed
//! ([`BridgeProcess::culprit`]): the new bridge runs without it, and its plugin shows as
//! failed with why, until its file changes (`run --watch`) or the host restarts. So one
//! broken hook costs the others a restart, once. A bridge that ends with nobody to blame
//! (or fails to start again) is restarted after a pause that doubles each time; after
//! [`MAX_CRASHES`] within [`CRASH_WINDOW`] the Python hooks are given up and show as failed,
//! until a Python hook changes.
//!
//! Locks, always in this order: `lifecycle` (starting and loading, one at a time), then the
//! bridge's turn (inside its calls), then `state`, then a hook's own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use connect_core::{EventHub, HANDLER_THREAD_STACK};
use connect_pipe::link::NoAnswer;

use crate::bridge::{BridgeProcess, Greeting, StartError};
use crate::host_side::{self, Hooks};
use crate::options::PythonOptions;
use crate::state::HookState;
use crate::wire::{Answer, Call};

/// After this many unexplained ends within [`CRASH_WINDOW`], the bridge is not restarted.
pub const MAX_CRASHES: usize = 3;

/// How long an end counts toward [`MAX_CRASHES`].
pub const CRASH_WINDOW: Duration = Duration::from_secs(600);

/// The pause before restarting after an unexplained end; it doubles with each further one.
pub const FIRST_RESTART_DELAY: Duration = Duration::from_secs(1);

/// How long "this interpreter cannot run Python hooks" is believed before it is tried
/// again (someone may have installed `ftrack_api` meanwhile).
const UNUSABLE_RECHECK: Duration = Duration::from_secs(5);

/// The bridge over its restarts, and the hooks it runs.
pub(crate) struct Supervisor {
    options: PythonOptions,
    /// The hub the hooks subscribe to, from the first `register`.
    hub: OnceLock<Weak<EventHub>>,
    next_hook: AtomicU64,
    lifecycle: Mutex<()>,
    state: Mutex<State>,
    me: Weak<Supervisor>,
}

#[derive(Default)]
struct State {
    /// The bridge running now.
    current: Option<Arc<BridgeProcess>>,
    /// Said once: where hooks run.
    greeted: bool,
    /// Why this interpreter cannot run hooks, and since when that is known.
    unusable: Option<(String, Instant)>,
    /// Every hook the registry holds, by number.
    hooks: HashMap<u64, Weak<HookState>>,
    /// The registered ones, in number (load) order: loaded again after a restart.
    registered: Vec<u64>,
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

    fn lifecycle(&self) -> MutexGuard<'_, ()> {
        self.lifecycle.lock().unwrap_or_else(|e| e.into_inner())
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

    /// Why every Python hook is failed now (the bridge was given up), if it is.
    pub(crate) fn given_up(&self) -> Option<String> {
        self.state().given_up.clone()
    }

    /// Why Python hooks cannot run at all here, if they cannot: starts the bridge if none
    /// runs.
    pub(crate) fn unavailable(&self) -> Option<String> {
        let _lifecycle = self.lifecycle();
        match self.running() {
            Err(StartError::Unusable(why)) => Some(why),
            _ => None,
        }
    }

    /// What runs the hooks: the bridge, started (and every registered hook loaded in it)
    /// if none runs. The caller holds the lifecycle lock.
    fn running(&self) -> Result<Arc<BridgeProcess>, StartError> {
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
                return Err(StartError::Failed(why.clone()));
            }
            if let Some((why, since)) = &state.unusable {
                if since.elapsed() < UNUSABLE_RECHECK {
                    return Err(StartError::Unusable(why.clone()));
                }
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
        let hooks: Weak<dyn Hooks> = self.me.clone();
        let serve = host_side::server(hooks);
        let (process, greeting) = match BridgeProcess::start(&self.options, serve, ended) {
            Ok(started) => started,
            Err(StartError::Unusable(why)) => {
                let mut state = self.state();
                if state.unusable.is_none() {
                    tracing::warn!("Python hooks cannot run: {why}");
                }
                state.unusable = Some((why.clone(), Instant::now()));
                return Err(StartError::Unusable(why));
            }
            Err(StartError::Failed(why)) => {
                tracing::error!("the Python bridge did not start: {why}");
                let mut state = self.state();
                if let Some(delay) = self.count_end(&mut state, &why) {
                    drop(state);
                    self.plan_restart(delay);
                }
                return Err(StartError::Failed(why));
            }
        };
        let _ = generation.set(Arc::downgrade(&process));
        let replay = {
            let mut state = self.state();
            state.unusable = None;
            if !state.greeted {
                state.greeted = true;
                let Greeting { python, ftrack_api } = &greeting;
                tracing::info!("Python hooks run in {python} with ftrack_api {ftrack_api}");
            }
            state.current = Some(process.clone());
            state.registered.clone()
        };
        if !replay.is_empty() {
            self.replay(&process, &replay);
        }
        Ok(process)
    }

    /// Imports and registers the hooks numbered `numbers` again in a new bridge, in load
    /// order; stops if the bridge ends meanwhile (its end is handled as any other).
    fn replay(&self, process: &Arc<BridgeProcess>, numbers: &[u64]) {
        let Some(hub) = self.hub() else { return };
        let mut count = 0;
        for number in numbers {
            // Forgotten meanwhile, or failed: not run again.
            let Some(hook) = self.hook(*number).filter(|h| h.failure().is_none()) else {
                continue;
            };
            let outcome = self
                .import_in(process, &hook, true)
                .and_then(|_| self.register_in(process, &hook, &hub));
            if process.has_ended() {
                return;
            }
            match outcome {
                Ok(()) => count += 1,
                Err(why) => {
                    tracing::error!(
                        plugin = &*hook.tag.name,
                        "plugin '{}': Python hook not loaded again: {why}",
                        hook.tag.name
                    );
                    hook.fail(why);
                }
            }
        }
        tracing::info!("the Python bridge runs again with {count} hook(s)");
    }

    /// Imports a hook file: `Ok(false)` when it has no `register` (not a hook). `fresh`: the
    /// first hook of a new load of its plugin.
    pub(crate) fn import(&self, hook: &Arc<HookState>, fresh: bool) -> Result<bool, String> {
        let _lifecycle = self.lifecycle();
        {
            // A changed hook is a reason to try a bridge that was given up again.
            let mut state = self.state();
            if state.given_up.take().is_some() {
                state.crashes.clear();
            }
            state.hooks.insert(hook.number, Arc::downgrade(hook));
        }
        let imported = self.with_retry(hook, |process| self.import_in(process, hook, fresh));
        if !matches!(imported, Ok(true)) {
            self.state().hooks.remove(&hook.number);
        }
        imported
    }

    fn import_in(
        &self,
        process: &Arc<BridgeProcess>,
        hook: &Arc<HookState>,
        fresh: bool,
    ) -> Result<bool, String> {
        let call = Call::Import {
            hook: hook.number,
            path: hook.path.display().to_string(),
            plugin: hook.tag.name.to_string(),
            library_dirs: hook.library_dirs.clone(),
            fresh,
        };
        let imported = match self.call_for(process, hook, call, "importing it")? {
            Answer::Imported => true,
            Answer::NotAHook => false,
            Answer::Failed { error } => return Err(error),
            other => {
                return Err(format!(
                    "unexpected answer from the Python bridge: {other:?}"
                ))
            }
        };
        hook.imported_into(process);
        Ok(imported)
    }

    /// Runs a hook's `register`, its subscriptions going to `hub` (importing it again first
    /// if the bridge it was imported into has ended since).
    pub(crate) fn register(
        &self,
        hook: &Arc<HookState>,
        hub: &Arc<EventHub>,
    ) -> Result<(), String> {
        let _ = self.hub.set(Arc::downgrade(hub));
        let _lifecycle = self.lifecycle();
        self.with_retry(hook, |process| {
            if !hook.was_imported_into(process) {
                self.import_in(process, hook, false)?;
            }
            self.register_in(process, hook, hub)
        })
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
                if let Err(at) = state.registered.binary_search(&hook.number) {
                    state.registered.insert(at, hook.number);
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

    /// Runs `load` in the running bridge; again, once, in a new one if the bridge ended for
    /// another hook's sake meanwhile. The caller holds the lifecycle lock.
    fn with_retry<T>(
        &self,
        hook: &Arc<HookState>,
        load: impl Fn(&Arc<BridgeProcess>) -> Result<T, String>,
    ) -> Result<T, String> {
        let process = self.running().map_err(StartError::into_message)?;
        match load(&process) {
            Err(_) if process.has_ended() && process.culprit() != Some(hook.number) => {
                let process = self.running().map_err(StartError::into_message)?;
                load(&process)
            }
            outcome => outcome,
        }
    }

    /// Makes a call on `hook`'s behalf (`doing`: "importing it", "in register").
    fn call_for(
        &self,
        process: &Arc<BridgeProcess>,
        hook: &Arc<HookState>,
        call: Call,
        doing: &str,
    ) -> Result<Answer, String> {
        match process.call(call, Some(hook.number)) {
            Ok(answer) => Ok(answer),
            Err(NoAnswer::TimedOut) => Err(format!(
                "{}: no answer within {} s {doing}",
                hook.path.display(),
                process.limit.as_secs_f64()
            )),
            Err(NoAnswer::Closed) => Err(format!(
                "{}: the Python bridge ended {doing} ({})",
                hook.path.display(),
                process.how_it_ended()
            )),
        }
    }

    /// The host is ending: the bridge ends now, once what hooks printed is logged, and is
    /// not started again.
    pub(crate) fn stop(&self) {
        let _lifecycle = self.lifecycle();
        let current = {
            let mut state = self.state();
            state.given_up = Some("the host is ending".into());
            state.current.take()
        };
        if let Some(process) = current {
            process.end("the host is ending".into());
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
                    if !process.has_ended() {
                        let _ = process.call(Call::Forget { hook: number }, None);
                    }
                });
        }
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
        self.plan_restart(delay);
    }

    /// Starts the bridge again after `delay` (if nothing started it meanwhile).
    fn plan_restart(&self, delay: Duration) {
        let me = self.me.clone();
        let planned = std::thread::Builder::new()
            .name("python-restart".into())
            .stack_size(HANDLER_THREAD_STACK)
            .spawn(move || {
                std::thread::sleep(delay);
                if let Some(supervisor) = me.upgrade() {
                    let _lifecycle = supervisor.lifecycle();
                    // A failure is counted, and the next try planned, by `running` itself.
                    let _ = supervisor.running();
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
        let how = process.how_it_ended();
        let culprit = process
            .culprit()
            .and_then(|number| hooks.iter().find(|h| h.number == number));
        let delay = match culprit {
            Some(hook) => {
                let why = if process.hung(hook.number) {
                    format!(
                        "{}: no answer within {} s",
                        hook.path.display(),
                        process.limit.as_secs_f64()
                    )
                } else {
                    format!(
                        "{}: the Python bridge ended while it ran ({how})",
                        hook.path.display()
                    )
                };
                tracing::error!(
                    plugin = &*hook.tag.name,
                    "plugin '{}': Python hook no longer run: {why}",
                    hook.tag.name
                );
                hook.fail(why);
                Duration::ZERO
            }
            None => {
                tracing::warn!("the Python bridge ended ({how}) while no hook ran");
                self.count_end(state, &how)?
            }
        };
        (!state.registered.is_empty()).then_some(delay)
    }

    /// Counts an unexplained end: the pause before the next start, or `None` when the
    /// bridge is given up.
    fn count_end(&self, state: &mut State, how: &str) -> Option<Duration> {
        let now = Instant::now();
        state
            .crashes
            .retain(|at| now.duration_since(*at) < CRASH_WINDOW);
        state.crashes.push(now);
        let crashes = state.crashes.len();
        if crashes >= MAX_CRASHES {
            let why = format!(
                "the Python bridge ended {crashes} times in {} minutes, last: {how}; not \
                 restarted (it is when a Python hook changes, or the host restarts)",
                CRASH_WINDOW.as_secs() / 60
            );
            tracing::error!("{why}");
            state.given_up = Some(why);
            return None;
        }
        Some(FIRST_RESTART_DELAY * 2u32.pow(crashes as u32 - 1))
    }
}

impl Hooks for Supervisor {
    fn hub(&self) -> Option<Arc<EventHub>> {
        Supervisor::hub(self)
    }

    fn hook(&self, number: u64) -> Option<Arc<HookState>> {
        Supervisor::hook(self, number)
    }

    fn record_subscription(
        &self,
        process: &Arc<BridgeProcess>,
        hook: &HookState,
        id: &str,
    ) -> bool {
        let state = self.state();
        let current = state
            .current
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, process));
        if current {
            hook.subscribed(id.to_string());
        }
        current
    }

    fn forget_subscription(&self, id: &str) -> bool {
        let hooks: Vec<_> = self
            .state()
            .hooks
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        hooks.iter().any(|hook| hook.unsubscribed(id))
    }
}

impl StartError {
    fn into_message(self) -> String {
        match self {
            StartError::Unusable(why) | StartError::Failed(why) => why,
        }
    }
}
