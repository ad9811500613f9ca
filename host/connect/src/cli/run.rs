//! `ftrack-connect run`: the resident host. Loads every plugin, runs the session start-up
//! and Connect's start-up check, serves the local endpoint, optionally watches the plugin
//! folders, and dispatches asynchronous events until Ctrl-C or SIGTERM.

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use connect_core::Identity;
use connect_plugins::{watcher, ChangeTracking};
use connect_remote::ServerLink;
use connect_window::Handover;
use ftrack_connect::endpoint::Endpoint;
use ftrack_connect::host::{Host, HostOptions, ServerConnection, HANDLER_THREAD_STACK};
use ftrack_connect::instance_lock::InstanceLock;
use ftrack_connect::local_server::{self, LocalServer};
use ftrack_connect::pipeline_plugins::{self, PublishWith};
use ftrack_connect::window::Publishing;
use ftrack_connect::{credentials, locations, publishing};

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

/// Where a restarting host leaves its window's [`Handover`] for the next run.
const HANDOVER_FILE: &str = "window-handover.json";

/// Set when the host stopped to restart (see [`exec_again`]).
static RESTART: std::sync::atomic::AtomicBool = AtomicBool::new(false);

/// Whether `run` ended to be started again (a sign-in or sign-out from the window).
pub fn wants_restart() -> bool {
    RESTART.load(Ordering::SeqCst)
}

/// Starts this program again in this process, with the same arguments: `run` after a
/// sign-in changed which server it links to. Returns only if that failed.
pub fn exec_again() -> ExitCode {
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(err) => return fail(&format!("cannot restart: {err}")),
    };
    let mut command = std::process::Command::new(program);
    command.args(std::env::args_os().skip(1));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = command.exec();
        fail(&format!("cannot restart: {err}"))
    }
    #[cfg(not(unix))]
    match command.status() {
        Ok(status) => ExitCode::from(status.code().unwrap_or(1) as u8),
        Err(err) => fail(&format!("cannot restart: {err}")),
    }
}

/// The handover a restarting run left, taken (the file is removed).
fn take_handover(data_dir: &Path) -> Option<Handover> {
    let path = data_dir.join(HANDOVER_FILE);
    let text = std::fs::read_to_string(&path).ok()?;
    let _ = std::fs::remove_file(&path);
    serde_json::from_str(&text).ok()
}

/// Runs the resident host until a signal stops it, or the window asks it to restart.
pub fn run(args: &RunArgs, data_dir: &Path) -> ExitCode {
    let handover = take_handover(data_dir);
    let restart: Arc<std::sync::Mutex<Option<Handover>>> = Arc::default();
    let wake = Arc::new(tokio::sync::Notify::new());
    let status = serve(args, data_dir, handover, &restart, &wake);
    let asked = restart.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(handover) = asked {
        let kept = serde_json::to_vec(&handover)
            .map_err(std::io::Error::other)
            .and_then(|bytes| locations::write_private(&data_dir.join(HANDOVER_FILE), &bytes));
        if let Err(err) = kept {
            tracing::warn!("the window will open on a new port: {err}");
        }
        RESTART.store(true, Ordering::SeqCst);
    }
    status
}

/// [`run`]'s host, from start to stop.
/// How long `run` waits for the server's asset types at start.
const ASSET_TYPES_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

fn serve(
    args: &RunArgs,
    data_dir: &Path,
    handover: Option<Handover>,
    restart: &Arc<std::sync::Mutex<Option<Handover>>>,
    wake: &Arc<tokio::sync::Notify>,
) -> ExitCode {
    let mut options = args
        .plugin_paths
        .host_options(&PluginPaths::default(), data_dir);
    if args.isolate_native && options.isolate_native.is_none() {
        options.isolate_native = super::isolation(true, &options.native_copy_dir);
    }
    // The watcher and the window reload the plugins whose files change.
    options.change_tracking = ChangeTracking::On;
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
    // The runtime of the server link's API calls and sign-in check, and of the local server
    // when this host serves it (the event hub's connection has a thread of its own, see
    // `connect_remote`). One worker: a second one mostly gets woken for nothing. The stack
    // the local server's requests need (its queries recurse with their nesting).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("server-link")
        .thread_stack_size(16 << 20)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the server link's runtime: {err}")),
    };
    let mut identity = credentials::current(data_dir);
    let (server, local_server) = server_for(&runtime, &mut identity, data_dir);
    let host = Arc::new(Host::load_linked(&identity, options, server));
    // The server's API for what the host publishes itself: components for the web page,
    // and the window's publishes (with Connect's own make-web-playable hook).
    let client = match (identity.server_url.is_empty(), identity.api_key.clone()) {
        (false, Some(key)) => {
            connect_ftrack_api::Client::new(&identity.server_url, &identity.api_user, key)
                .inspect_err(|err| tracing::error!("no publishing from this host: {err}"))
                .ok()
                .map(Arc::new)
        }
        _ => None,
    };
    if let Some(client) = &client {
        ftrack_connect::publish_components::subscribe(
            host.hub(),
            client.clone(),
            runtime.handle().clone(),
            &identity.api_user,
            data_dir,
        );
        publishing::subscribe_default_web_playable(
            &host,
            client,
            runtime.handle().clone(),
            &identity.api_user,
        );
    }
    let locations = publishing::declared_locations(&host.start_session());
    host.verify_startup();
    // The framework's standalone pipeline host, discoverable here and through the server,
    // with the pipeline plugins a standalone publish needs.
    let publish_with = client.as_ref().map(|client| PublishWith {
        client: client.clone(),
        locations: locations.clone(),
        runtime: runtime.handle().clone(),
        journal_dir: data_dir.join("publish"),
    });
    if let Err(err) = pipeline_plugins::subscribe(host.hub(), publish_with) {
        tracing::error!("no pipeline plugins: {err}");
    }
    // As the framework, a definition of an asset type the server does not have is dropped.
    // Asked for a few seconds at most: a server that does not answer must not hold up the
    // start (the definitions are then not filtered by asset type).
    let asset_types = client.as_ref().and_then(|client| {
        let found = runtime.block_on(async {
            tokio::time::timeout(
                ASSET_TYPES_WAIT,
                client.query("select short from AssetType"),
            )
            .await
        });
        let found = found.map_err(|_| format!("no answer within {ASSET_TYPES_WAIT:?}"));
        found
            .and_then(|found| found.map_err(|err| err.to_string()))
            .inspect_err(|err| tracing::warn!("the server's asset types are not known: {err}"))
            .ok()
            .map(|types| {
                types
                    .iter()
                    .filter_map(|t| t["short"].as_str().map(str::to_string))
                    .collect()
            })
    });
    let _pipeline_host = super::pipeline::start_standalone_host(host.hub(), asset_types, data_dir);
    let window = connect_window::Window::start(
        runtime.handle(),
        Arc::new(ftrack_connect::window::HostWindow {
            host: host.clone(),
            options: options.clone(),
            data_dir: data_dir.to_path_buf(),
            runtime: runtime.handle().clone(),
            publishing: client.map(|client| Publishing { client, locations }),
            restart: {
                let (restart, wake) = (restart.clone(), wake.clone());
                Box::new(move |handover| {
                    *restart.lock().unwrap_or_else(|e| e.into_inner()) = Some(handover);
                    wake.notify_one();
                })
            },
        }),
        data_dir.join("window"),
        handover,
    )
    .inspect_err(|err| tracing::error!("no window (`ftrack-connect open` will not work): {err}"))
    .ok()
    .map(Arc::new);
    let _endpoint = Endpoint::start(host.clone(), window.clone(), data_dir)
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
    let signal = signals.wait(wake);
    tracing::info!("{signal}: shutting down");
    host.disconnect();
    stopping.store(true, Ordering::SeqCst);
    hub.wake();
    let _ = queue.join();
    drop(_endpoint);
    drop(window);
    drop(host);
    if let Some(local_server) = local_server {
        local_server.stop(runtime.handle());
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    tracing::info!("ftrack-connect stopped");
    ExitCode::SUCCESS
}

/// The server `run` links to: the signed-in one (from the environment or `credentials.json`),
/// else the local server, started here (`identity` then names it). `None` when there is none
/// to use (logged): the host runs locally.
fn server_for(
    runtime: &tokio::runtime::Runtime,
    identity: &mut Identity,
    data_dir: &Path,
) -> (Option<ServerConnection>, Option<LocalServer>) {
    let sign_in = if identity.signed_in {
        "credentials.json"
    } else {
        "environment"
    };
    if identity.server_url.trim().is_empty() {
        let local = match local_server::start(runtime.handle(), data_dir, &identity.api_user) {
            Ok(local) => local,
            Err(err) => {
                tracing::error!(
                    "cannot start the local ftrack server ({err}); running without one"
                );
                return (None, None);
            }
        };
        tracing::info!(
            "nobody signed in: serving the local ftrack server at {} (data in {}); `ftrack-connect login` signs in to your studio's",
            local.url,
            local.data.display()
        );
        identity.server_url = local.url.clone();
        identity.api_key = Some(local.api_key.clone());
        let link = ServerLink::new(
            runtime.handle().clone(),
            &local.url,
            &local.api_user,
            local.api_key.clone(),
        );
        return match link {
            Ok(link) => (
                Some(ServerConnection {
                    link,
                    sign_in: "local server",
                }),
                Some(local),
            ),
            Err(err) => {
                tracing::error!("cannot use the local ftrack server: {err}");
                (None, Some(local))
            }
        };
    }
    let Some(key) = identity.api_key.clone() else {
        tracing::warn!(
            "{} is named but no API key is given (FTRACK_API_KEY, or `ftrack-connect login`): \
             running without a server",
            identity.server_url
        );
        return (None, None);
    };
    match ServerLink::new(
        runtime.handle().clone(),
        &identity.server_url,
        &identity.api_user,
        key,
    ) {
        Ok(link) => {
            tracing::info!(
                "connecting to {} as {} (sign-in from {sign_in})",
                identity.server_url,
                identity.api_user
            );
            (Some(ServerConnection { link, sign_in }), None)
        }
        Err(err) => {
            tracing::error!("cannot use the ftrack server ({err}); running without one");
            (None, None)
        }
    }
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

    /// Blocks until a signal arrives or `restart` is notified; returns what happened, for
    /// the log.
    fn wait(mut self, restart: &tokio::sync::Notify) -> &'static str {
        self.runtime.block_on(async {
            #[cfg(unix)]
            {
                tokio::select! {
                    _ = self.interrupt.recv() => "interrupted",
                    _ = self.terminate.recv() => "terminated",
                    _ = restart.notified() => "restarting for the new sign-in",
                }
            }
            #[cfg(not(unix))]
            {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => "interrupted",
                    _ = restart.notified() => "restarting for the new sign-in",
                }
            }
        })
    }
}
