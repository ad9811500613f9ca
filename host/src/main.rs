//! `ftrack-connect`: the command line of the Rust host for ftrack Connect plugins.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{Parser, Subcommand};
use connect_host::credentials;
use connect_host::expression::Expression;
use connect_host::host::{Host, HostOptions, PluginReport, PluginStatus};
use connect_host::instance_lock::InstanceLock;
use connect_host::locations;
use connect_host::logging::{self, Verbosity};
use connect_plugin_api::Event;
use serde_json::{Map, Value};

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
    /// List every discovered plugin and whether it loaded.
    Plugins {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Publish or test events.
    #[command(subcommand)]
    Event(EventCommand),
    /// List the actions for a selection, or launch one.
    Actions(connect_host::actions::ActionsArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Log only errors on stderr.
    #[arg(short, long)]
    silent: bool,
    /// Start even if another instance runs for this user.
    #[arg(short, long)]
    allow_multiple: bool,
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
    },
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
        Command::Plugins { json } => {
            let host = Host::load(&credentials::current(&data_dir), &options);
            print_plugins(&host.plugin_reports(), json)
        }
        Command::Event(EventCommand::Publish {
            topic,
            data,
            source,
            target,
        }) => publish(&data_dir, &options, topic, data, source, target),
        Command::Event(EventCommand::Match { expression }) => match_lines(&expression),
        Command::Actions(args) => connect_host::actions::run(&args, &data_dir, &options),
    }
}

fn run(args: &RunArgs, data_dir: &std::path::Path, options: &HostOptions) -> ExitCode {
    let _lock = if args.allow_multiple {
        None
    } else {
        match InstanceLock::acquire(data_dir) {
            Ok(lock) => Some(lock),
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::from(1);
            }
        }
    };
    let signals = match ShutdownSignals::install() {
        Ok(signals) => signals,
        Err(err) => {
            eprintln!("error: cannot install the Ctrl-C/SIGTERM handlers: {err}");
            return ExitCode::from(1);
        }
    };
    let identity = credentials::current(data_dir);
    let host = Host::load(&identity, options);
    host.start_session();
    host.verify_startup();
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

fn print_plugins(reports: &[PluginReport], json: bool) -> ExitCode {
    let mut out = std::io::stdout().lock();
    if json {
        let text = serde_json::to_string_pretty(reports).expect("reports serialize");
        let _ = writeln!(out, "{text}");
        return ExitCode::SUCCESS;
    }
    for r in reports {
        let status = match r.status {
            PluginStatus::Loaded => format!("loaded, {} subscriptions", r.subscriptions),
            PluginStatus::Failed => "FAILED".to_string(),
            PluginStatus::Skipped => "skipped".to_string(),
        };
        let _ = writeln!(
            out,
            "{} {} [{}] {status}\n    {}",
            r.name,
            r.version.as_deref().unwrap_or("-"),
            serde_json::to_value(r.kind)
                .unwrap_or_default()
                .as_str()
                .unwrap_or(""),
            r.path
        );
        for line in r.error.iter().chain(&r.reason).chain(&r.warnings) {
            let _ = writeln!(out, "    {line}");
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

fn publish(
    data_dir: &std::path::Path,
    options: &HostOptions,
    topic: String,
    data: Option<String>,
    source: Option<String>,
    target: Option<String>,
) -> ExitCode {
    let mut event = Event::new(topic);
    let parsed = (|| -> Result<(), String> {
        if let Some(data) = data {
            event.data = Value::Object(json_object("--data", &data)?);
        }
        if let Some(source) = source {
            event.source = json_object("--source", &source)?;
        }
        if let Some(target) = target {
            Expression::parse(&target).map_err(|e| format!("--target: {e}"))?;
            event.target = target;
        }
        Ok(())
    })();
    if let Err(message) = parsed {
        eprintln!("error: {message}");
        return ExitCode::from(USAGE_ERROR);
    }
    let host = Host::load(&credentials::current(data_dir), options);
    host.start_session();
    let results = host.hub().publish(&mut event);
    host.hub().drain();
    println!(
        "{}",
        serde_json::to_string(&results).expect("results are JSON")
    );
    ExitCode::SUCCESS
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
