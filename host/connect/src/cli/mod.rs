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
use ftrack_connect::host::HostOptions;
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
    /// A folder of plugin folders to search before FTRACK_CONNECT_PLUGIN_PATH (repeatable).
    #[arg(long = "plugin-path", value_name = "DIR", global = true)]
    plugin_paths: Vec<PathBuf>,
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
    let command = match cli.command {
        None => Command::Run(cli.run),
        Some(Command::Run(args)) => Command::Run(args.merged_with(&cli.run)),
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
        Command::Run(args) => run::run(&args, &data_dir, &options),
        Command::Plugins(args) => plugins::run(&args, &data_dir, &options),
        Command::Event(command) => event::run(command, &data_dir, &options),
        Command::Actions(args) => actions::run(&args, &data_dir, &options),
        Command::Plugin(command) => plugin::run(command),
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
