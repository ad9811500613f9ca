//! `ftrack-connect run`: the resident host. Loads every plugin, runs the session start-up
//! and Connect's start-up check, serves the local endpoint, optionally watches the plugin
//! folders, and dispatches asynchronous events until Ctrl-C or SIGTERM.

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use connect_plugins::watcher;
use ftrack_connect::endpoint::Endpoint;
use ftrack_connect::host::{Host, HostOptions, HANDLER_THREAD_STACK};
use ftrack_connect::instance_lock::InstanceLock;
use ftrack_connect::{credentials, locations};

use super::{fail, PluginPaths};

/// `run`'s options.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Log only errors on stderr.
    #[arg(short, long)]
    pub silent: bool,
    /// Start even if another instance runs for this user.
    #[arg(short, long)]
    pub allow_multiple: bool,
    /// Reload plugins as their files change.
    #[arg(short, long)]
    pub watch: bool,
    /// Run each native plugin in a process of its own: a crash in one is logged and the
    /// plugin restarted, and the host goes on (also FTRACK_CONNECT_ISOLATE_NATIVE=1, for
    /// every command).
    #[arg(long)]
    pub isolate_native: bool,
    #[command(flatten)]
    pub plugin_paths: PluginPaths,
}

impl RunArgs {
    /// `ftrack-connect -w run -s`: the options given before and after the word `run`.
    pub fn merged_with(self, before: &RunArgs) -> RunArgs {
        let mut plugin_paths = before.plugin_paths.clone();
        plugin_paths.dirs.extend(self.plugin_paths.dirs);
        RunArgs {
            silent: self.silent || before.silent,
            allow_multiple: self.allow_multiple || before.allow_multiple,
            watch: self.watch || before.watch,
            isolate_native: self.isolate_native || before.isolate_native,
            plugin_paths,
        }
    }
}

/// Runs the resident host until a signal stops it.
pub fn run(args: &RunArgs, data_dir: &Path) -> ExitCode {
    let mut options = args
        .plugin_paths
        .host_options(&PluginPaths::default(), data_dir);
    if args.isolate_native && options.isolate_native.is_none() {
        options.isolate_native = super::isolation(true, &options.native_copy_dir);
    }
    let options = &options;
    let _lock = if args.allow_multiple {
        None
    } else {
        match InstanceLock::acquire(data_dir) {
            Ok(lock) => Some(lock),
            Err(err) => return fail(&err.to_string()),
        }
    };
    let signals = match ShutdownSignals::install() {
        Ok(signals) => signals,
        Err(err) => {
            return fail(&format!(
                "cannot install the Ctrl-C/SIGTERM handlers: {err}"
            ))
        }
    };
    let identity = credentials::current(data_dir);
    let host = Arc::new(Host::load(&identity, options));
    host.start_session();
    host.verify_startup();
    let _endpoint = Endpoint::start(host.clone(), data_dir)
        .inspect_err(|err| {
            tracing::error!("no local endpoint (other commands will not see this host): {err}")
        })
        .ok();
    let _watcher = if args.watch {
        create_default_plugin_dir(options);
        match watcher::watch(host.registry().clone()) {
            Ok(watcher) => Some(watcher),
            Err(err) => return fail(&format!("cannot watch the plugin folders: {err}")),
        }
    } else {
        None
    };
    let hub = host.hub().clone();
    let stopping = Arc::new(AtomicBool::new(false));
    let queue = {
        let hub = hub.clone();
        let stopping = stopping.clone();
        let queue = std::thread::Builder::new()
            .name("event-queue".into())
            .stack_size(HANDLER_THREAD_STACK)
            .spawn(move || hub.run_queue(&|| stopping.load(Ordering::SeqCst)));
        match queue {
            Ok(queue) => queue,
            Err(err) => return fail(&format!("cannot start the event queue: {err}")),
        }
    };
    tracing::info!(
        "ftrack-connect is running for {} (pid {}); Ctrl-C stops it",
        identity.api_user,
        std::process::id()
    );
    let signal = signals.wait();
    tracing::info!("{signal}: shutting down");
    stopping.store(true, Ordering::SeqCst);
    hub.wake();
    let _ = queue.join();
    tracing::info!("ftrack-connect stopped");
    ExitCode::SUCCESS
}

/// Connect creates its default plugin directory on demand; without it there would be nothing
/// to watch for the first plugin a user drops in.
fn create_default_plugin_dir(options: &HostOptions) {
    let default_dir = locations::default_plugin_dir();
    if options.search_paths.plugin_roots.contains(&default_dir) && !default_dir.exists() {
        if let Err(err) = std::fs::create_dir_all(&default_dir) {
            tracing::warn!("cannot create {}: {err}", default_dir.display());
        }
    }
}

/// Ctrl-C and SIGTERM, caught from the moment this exists (before the host says it runs, so
/// a signal sent right after that message is never missed).
struct ShutdownSignals {
    runtime: tokio::runtime::Runtime,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn install() -> std::io::Result<ShutdownSignals> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let _context = runtime.enter();
            let interrupt = signal(SignalKind::interrupt())?;
            let terminate = signal(SignalKind::terminate())?;
            Ok(ShutdownSignals {
                interrupt,
                terminate,
                runtime,
            })
        }
        #[cfg(not(unix))]
        Ok(ShutdownSignals { runtime })
    }

    /// Blocks until a signal arrives; returns what happened, for the log.
    fn wait(mut self) -> &'static str {
        self.runtime.block_on(async {
            #[cfg(unix)]
            {
                tokio::select! {
                    _ = self.interrupt.recv() => "interrupted",
                    _ = self.terminate.recv() => "terminated",
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
                "interrupted"
            }
        })
    }
}
