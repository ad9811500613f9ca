//! `ftrack-connect`: the command line of the Rust host for ftrack Connect plugins.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{Parser, Subcommand};
use connect_host::credentials;
use connect_host::endpoint::{Client, Endpoint};
use connect_host::expression::Expression;
use connect_host::host::{Host, HostOptions};
use connect_host::instance_lock::InstanceLock;
use connect_host::locations;
use connect_host::logging::{self, Verbosity};
use connect_host::{plugin_watcher, scaffold};
use connect_event::Event;
use serde_json::{json, Map, Value};

/// mimalloc: a publish allocates many small maps and strings, and glibc's allocator was a
/// fifth of the time of a 200-hook fan-out (`docs/benchmarks.md`). Version 2 without
/// transparent huge pages (`host/Cargo.toml`): v3 freed and re-made a page on every publish of
/// the dispatch workload, and huge pages raised a short command's peak memory by half.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ftrack-connect",
    version,
    about = "Runs ftrack Connect plugins: discovers plugin folders, loads their hooks and \
             dispatches events with ftrack's semantics."
)]
struct Cli {
    /// How much to log on stderr (the log file always gets `info` or more).
    #[arg(short, long, value_enum, global = true)]
    verbosity: Option<Verbosity>,
    /// A folder of plugin folders to search before FTRACK_CONNECT_PLUGIN_PATH (repeatable).
    #[arg(long = "plugin-path", value_name = "DIR", global = true)]
    plugin_paths: Vec<PathBuf>,
    /// `run`'s options, also accepted without the word `run` (as Connect's `ftrack-connect -a`).
    #[command(flatten)]
    run: RunArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the resident host (the default command).
    Run(RunArgs),
    /// List every plugin and whether it loaded (the running host's, if one runs).
    Plugins {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
        /// Load the plugins here even if a host is running.
        #[arg(long)]
        standalone: bool,
    },
    /// Publish, watch or test events.
    #[command(subcommand)]
    Event(EventCommand),
    /// List the actions for a selection, or launch one.
    Actions(connect_host::actions::ActionsArgs),
    /// Create plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Create a plugin folder with a working hook.
    New {
        name: String,
        /// A native (Rust) plugin crate instead of a Rhai hook.
        #[arg(long)]
        native: bool,
        /// Where to create it (default: the default plugin directory).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print (and create) the default plugin directory.
    Dir,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Log only errors on stderr.
    #[arg(short, long)]
    silent: bool,
    /// Start even if another instance runs for this user.
    #[arg(short, long)]
    allow_multiple: bool,
    /// Reload plugins as their files change.
    #[arg(short, long)]
    watch: bool,
}

#[derive(Subcommand)]
enum EventCommand {
    /// Load the plugins, publish one event synchronously and print the results as a JSON array.
    Publish {
        topic: String,
        /// The event's data, a JSON object.
        #[arg(long, value_name = "JSON")]
        data: Option<String>,
        /// The event's source, a JSON object (fields the hub fills stay as given).
        #[arg(long, value_name = "JSON")]
        source: Option<String>,
        /// A subscription expression matched against subscriber metadata.
        #[arg(long, value_name = "EXPR")]
        target: Option<String>,
        /// Load the plugins here even if a host is running.
        #[arg(long)]
        standalone: bool,
    },
    /// Print every event passing through the running host (matching EXPRESSION) as JSON lines.
    Watch { expression: Option<String> },
    /// Read events as JSON lines on stdin; print `true` or `false` for each.
    Match { expression: String },
}

/// Exit status for bad command-line input, as clap uses.
const USAGE_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        None => Command::Run(cli.run),
        Some(Command::Run(args)) => Command::Run(RunArgs {
            silent: args.silent || cli.run.silent,
            allow_multiple: args.allow_multiple || cli.run.allow_multiple,
            watch: args.watch || cli.run.watch,
        }),
        Some(other) => other,
    };
    let data_dir = locations::user_data_dir();
    let (default_verbosity, silent) = match &command {
        Command::Run(args) => (Verbosity::Info, args.silent),
        _ => (Verbosity::Warning, false),
    };
    let _log = logging::init(
        cli.verbosity.unwrap_or(default_verbosity),
        silent,
        &data_dir,
    );
    let options = HostOptions {
        search_paths: locations::search_paths(&cli.plugin_paths),
        native_copy_dir: data_dir.join("native"),
        launcher_config_paths: locations::launcher_config_paths(),
    };
    match command {
        Command::Run(args) => run(&args, &data_dir, &options),
        Command::Plugins { json, standalone } => {
            let running = (!standalone).then(|| Client::find(&data_dir)).flatten();
            let reports = match running {
                Some(client) => match client.request(json!({"request": "plugins"})) {
                    Ok(answer) => answer["plugins"].as_array().cloned().unwrap_or_default(),
                    Err(err) => return fail(&err.to_string()),
                },
                None => {
                    let host = Host::load(&credentials::current(&data_dir), &options);
                    let reports = serde_json::to_value(host.plugin_reports());
                    reports
                        .ok()
                        .and_then(|r| r.as_array().cloned())
                        .unwrap_or_default()
                }
            };
            print_plugins(&reports, json)
        }
        Command::Event(EventCommand::Publish {
            topic,
            data,
            source,
            target,
            standalone,
        }) => {
            let event = match event_from_flags(topic, data, source, target) {
                Ok(event) => event,
                Err(message) => {
                    eprintln!("error: {message}");
                    return ExitCode::from(USAGE_ERROR);
                }
            };
            match (!standalone).then(|| Client::find(&data_dir)).flatten() {
                Some(client) => publish_to(&client, event),
                None => publish_here(&data_dir, &options, event),
            }
        }
        Command::Event(EventCommand::Watch { expression }) => watch_events(&data_dir, expression),
        Command::Event(EventCommand::Match { expression }) => match_lines(&expression),
        Command::Plugin(PluginCommand::New { name, native, dir }) => {
            let dir = dir.unwrap_or_else(locations::default_plugin_dir);
            match scaffold::new_plugin(&name, &dir, native) {
                Ok(folder) => {
                    println!("{}", folder.display());
                    ExitCode::SUCCESS
                }
                Err(err) => fail(&err.to_string()),
            }
        }
        Command::Plugin(PluginCommand::Dir) => {
            let dir = locations::default_plugin_dir();
            match std::fs::create_dir_all(&dir) {
                Ok(()) => {
                    println!("{}", dir.display());
                    ExitCode::SUCCESS
                }
                Err(err) => fail(&format!("cannot create {}: {err}", dir.display())),
            }
        }
        Command::Actions(args) => connect_host::actions::run(&args, &data_dir, &options),
    }
}

fn run(args: &RunArgs, data_dir: &Path, options: &HostOptions) -> ExitCode {
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
        match plugin_watcher::watch(host.clone()) {
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
        std::thread::spawn(move || hub.run_queue(&|| stopping.load(Ordering::SeqCst)))
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

fn print_plugins(reports: &[Value], json: bool) -> ExitCode {
    let mut out = std::io::stdout().lock();
    if json {
        let text = serde_json::to_string_pretty(reports).expect("reports serialize");
        let _ = writeln!(out, "{text}");
        return ExitCode::SUCCESS;
    }
    let text = |value: &Value| value.as_str().unwrap_or("-").to_string();
    for r in reports {
        let status = match r["status"].as_str() {
            Some("loaded") => format!("loaded, {} subscriptions", r["subscriptions"]),
            Some("failed") => "FAILED".to_string(),
            _ => text(&r["status"]),
        };
        let _ = writeln!(
            out,
            "{} {} [{}] {status}\n    {}",
            text(&r["name"]),
            text(&r["version"]),
            text(&r["kind"]),
            text(&r["path"])
        );
        let notes = [&r["error"], &r["reason"]]
            .into_iter()
            .chain(r["warnings"].as_array().into_iter().flatten());
        for note in notes.filter_map(Value::as_str) {
            let _ = writeln!(out, "    {note}");
        }
    }
    ExitCode::SUCCESS
}

/// Parses `--data`/`--source`: a JSON object.
fn json_object(flag: &str, text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!("{flag} must be a JSON object, not {other}")),
        Err(err) => Err(format!("{flag} is not valid JSON: {err}")),
    }
}

/// The event `event publish` sends, from its flags; the error is for the user.
fn event_from_flags(
    topic: String,
    data: Option<String>,
    source: Option<String>,
    target: Option<String>,
) -> Result<Event, String> {
    let mut event = Event::new(topic);
    if let Some(data) = data {
        event.data = Value::Object(json_object("--data", &data)?);
    }
    if let Some(source) = source {
        event.source = json_object("--source", &source)?.into();
    }
    if let Some(target) = target {
        Expression::parse(&target).map_err(|e| format!("--target: {e}"))?;
        event.target = target;
    }
    Ok(event)
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(1)
}

/// Publishes through the running host and prints its results.
fn publish_to(client: &Client, event: Event) -> ExitCode {
    match client.request(json!({"request": "publish", "event": event})) {
        Ok(answer) => {
            println!("{}", answer["results"]);
            ExitCode::SUCCESS
        }
        Err(err) => fail(&err.to_string()),
    }
}

/// Loads the plugins in this process, publishes, prints the results.
fn publish_here(data_dir: &Path, options: &HostOptions, mut event: Event) -> ExitCode {
    let host = Host::load(&credentials::current(data_dir), options);
    host.start_session();
    let results = host.hub().publish_replies(&mut event);
    host.hub().drain();
    println!(
        "{}",
        serde_json::to_string(&results).expect("results are JSON")
    );
    // The process ends now: taking every plugin's scripts apart first would only cost time
    // (a tenth of a 200-plugin `event publish`).
    std::mem::forget(host);
    ExitCode::SUCCESS
}

fn watch_events(data_dir: &Path, expression: Option<String>) -> ExitCode {
    if let Some(Err(err)) = expression.as_deref().map(Expression::parse) {
        eprintln!("error: invalid expression: {err}");
        return ExitCode::from(USAGE_ERROR);
    }
    let Some(client) = Client::find(data_dir) else {
        return fail(
            "no ftrack-connect host is running for this user (start one with `ftrack-connect run`)",
        );
    };
    let mut out = std::io::stdout().lock();
    let outcome = client.watch(expression.as_deref(), |line| {
        writeln!(out, "{line}").and_then(|_| out.flush()).is_ok()
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err.to_string()),
    }
}

fn match_lines(expression: &str) -> ExitCode {
    let expression = match Expression::parse(expression) {
        Ok(expression) => expression,
        Err(err) => {
            eprintln!("error: invalid expression {expression:?}: {err}");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    let stdin = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    for (number, line) in stdin.lines().enumerate() {
        let answer = match line {
            Err(err) => format!("error: line {}: cannot read: {err}", number + 1),
            Ok(line) => match serde_json::from_str::<Value>(&line) {
                Ok(Value::Object(mut event)) => {
                    // Events captured off the wire name this field in camelCase.
                    if let Some(reply) = event.remove("inReplyToEvent") {
                        event.entry("in_reply_to_event").or_insert(reply);
                    }
                    expression.matches(&event).to_string()
                }
                Ok(_) => format!("error: line {}: not a JSON object", number + 1),
                Err(err) => format!("error: line {}: not JSON: {err}", number + 1),
            },
        };
        if writeln!(out, "{answer}").and_then(|_| out.flush()).is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}
