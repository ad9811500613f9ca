//! The command line: argument parsing (clap) and one module per subcommand. This is the only
//! part of the host that knows clap or prints to stdout; everything it runs is in the
//! libraries.

mod actions;
mod event;
mod plugin;
mod plugins;
mod run;
mod target;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ftrack_connect::host::{HostOptions, HANDLER_THREAD_STACK};
use ftrack_connect::locations;
use ftrack_connect::logging::{self, Verbosity};

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
    /// `run`'s options, also accepted without the word `run` (as Connect's `ftrack-connect -a`).
    #[command(flatten)]
    run: run::RunArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the resident host (the default command).
    Run(run::RunArgs),
    /// List every plugin and whether it loaded (the running host's, if one runs).
    Plugins(plugins::PluginsArgs),
    /// Publish, watch or test events.
    #[command(subcommand)]
    Event(event::EventCommand),
    /// List the actions for a selection, or launch one (through the running host, if one runs).
    Actions(actions::ActionsArgs),
    /// Create plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
}

/// Exit status for bad command-line input, as clap uses.
const USAGE_ERROR: u8 = 2;

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // `ftrack-connect --plugin-path DIR <command>`: folders given before the command count for
    // it too.
    let first_paths = cli.run.plugin_paths.clone();
    let command = match cli.command {
        None => Command::Run(cli.run),
        Some(Command::Run(args)) => Command::Run(args.merged_with(&cli.run)),
        Some(other) => other,
    };
    let data_dir = locations::user_data_dir();
    let (default_verbosity, silent) = match &command {
        Command::Run(args) => (Verbosity::Info, args.silent),
        // `plugins` reports every problem in its listing: logging them too said each twice.
        Command::Plugins(_) => (Verbosity::Critical, false),
        _ => (Verbosity::Warning, false),
    };
    let _log = logging::init(
        cli.verbosity.unwrap_or(default_verbosity),
        silent,
        &data_dir,
    );
    // Commands load plugins and run their handlers: on a thread with the stack handlers need
    // (see HANDLER_THREAD_STACK), not the main thread's fixed 8 MiB.
    let commands = std::thread::Builder::new()
        .name("command".into())
        .stack_size(HANDLER_THREAD_STACK)
        .spawn(move || match command {
            Command::Run(args) => run::run(&args, &data_dir),
            Command::Plugins(args) => plugins::run(&args, &first_paths, &data_dir),
            Command::Event(command) => event::run(command, &first_paths, &data_dir),
            Command::Actions(args) => actions::run(&args, &first_paths, &data_dir),
            Command::Plugin(command) => plugin::run(command),
        });
    match commands.map(std::thread::JoinHandle::join) {
        Ok(Ok(status)) => status,
        Ok(Err(_)) => fail("the command failed unexpectedly (see the message above)"),
        Err(err) => fail(&format!("cannot start the command: {err}")),
    }
}

/// `--plugin-path`, for the commands that load plugins.
#[derive(clap::Args, Clone, Default)]
pub struct PluginPaths {
    /// A folder of plugin folders to search before FTRACK_CONNECT_PLUGIN_PATH (repeatable).
    #[arg(long = "plugin-path", value_name = "DIR")]
    dirs: Vec<PathBuf>,
}

impl PluginPaths {
    /// Where a host of this command finds its plugins and keeps what it loads: `first`'s
    /// folders (given before the command), then these.
    fn host_options(&self, first: &PluginPaths, data_dir: &std::path::Path) -> HostOptions {
        let dirs: Vec<PathBuf> = first.dirs.iter().chain(&self.dirs).cloned().collect();
        HostOptions {
            search_paths: locations::search_paths(&dirs),
            native_copy_dir: data_dir.join("native"),
            launcher_config_paths: locations::launcher_config_paths(),
        }
    }
}

/// Says what went wrong on stderr; exit status 1.
fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(1)
}

/// Says what is wrong with the command line on stderr; exit status 2.
fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(USAGE_ERROR)
}
