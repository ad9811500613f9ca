//! The command line: argument parsing (clap) and one module per subcommand. This is the only
//! part of the host that knows clap or prints to stdout; everything it runs is in the
//! libraries.

/// `println!` for what a command prints on stdout, except that a reader gone away is no
/// error: `ftrack-connect event publish ... | head -1` closes the pipe after one line, and
/// `println!` would then panic (the command failing "unexpectedly", with a backtrace). The
/// rest of the output is dropped and the command finishes its work, as it would have with a
/// reader. Any other failure to write (a full disk) still stops the command.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::print_line(format_args!($($arg)*))
    };
}

mod actions;
mod browser;
mod deferred;
mod event;
mod login;
mod open;
mod pipeline;
mod pipeline_run;
mod plugin;
mod plugins;
mod publish;
mod run;
mod sequences;
mod server;
mod server_transport;
mod status;
mod target;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use connect_isolate::DEFAULT_TIME_LIMIT;
use connect_plugins::ChangeTracking;
use deferred::Deferred;
use ftrack_connect::host::{HostOptions, IsolationOptions, PythonOptions, HANDLER_THREAD_STACK};
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
    Run(Deferred<run::RunArgs>),
    /// List every plugin and whether it loaded (the running host's, if one runs).
    Plugins(Deferred<plugins::PluginsArgs>),
    /// Publish, watch or test events.
    #[command(subcommand)]
    Event(Deferred<event::EventCommand>),
    /// List the actions for a selection, or launch one (through the running host, if one runs).
    Actions(Deferred<actions::ActionsArgs>),
    /// Create plugins.
    #[command(subcommand)]
    Plugin(Deferred<plugin::PluginCommand>),
    /// Run the local ftrack-compatible server, or manage its users.
    Server(Deferred<server::ServerArgs>),
    /// Sign in to an ftrack server (in the browser, or with --api-user for scripts).
    Login(Deferred<login::LoginArgs>),
    /// Open the running host's window in the browser, signed in.
    Open(Deferred<open::OpenArgs>),
    /// Sign out of the ftrack server.
    Logout,
    /// Who is signed in where, the event hub, and the plugins of the running host.
    Status(Deferred<status::StatusArgs>),
    /// Group paths into file sequences, as Connect's drop zone does (clique's rules).
    Sequences(Deferred<sequences::SequencesArgs>),
    /// Publish files and sequences as a new version (complete, or nothing left behind).
    Publish(Deferred<publish::PublishArgs>),
    /// ftrack's pipeline framework: its definitions (FTRACK_DEFINITION_PATH) and hosts.
    #[command(subcommand)]
    Pipeline(Deferred<pipeline::PipelineCommand>),
    /// The child process of an isolated native plugin (started by the host itself).
    #[command(hide = true)]
    NativeHost(Deferred<NativeHostArgs>),
}

/// `native-host`'s arguments.
#[derive(clap::Args)]
struct NativeHostArgs {
    /// The plugin library.
    #[arg(long)]
    library: PathBuf,
    /// Where to copy it to open it.
    #[arg(long)]
    copy_dir: PathBuf,
}

/// Runs native plugins out of process for every command when set to `1`.
const ISOLATE_NATIVE_VARIABLE: &str = "FTRACK_CONNECT_ISOLATE_NATIVE";

/// Seconds an isolated native handler may take (default 10).
const NATIVE_TIME_LIMIT_VARIABLE: &str = "FTRACK_CONNECT_NATIVE_TIME_LIMIT";

/// Seconds a Python handler may take (see `connect_python::DEFAULT_TIME_LIMIT`).
const PYTHON_TIME_LIMIT_VARIABLE: &str = "FTRACK_CONNECT_PYTHON_TIME_LIMIT";

/// Exit status for bad command-line input, as clap uses.
const USAGE_ERROR: u8 = 2;

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::NativeHost(args)) = &cli.command {
        // A child process serving one plugin: it logs nothing itself (the host logs what
        // it writes on stderr).
        return ExitCode::from(connect_isolate::serve(&args.library, &args.copy_dir));
    }
    // `ftrack-connect --plugin-path DIR <command>`: folders given before the command count for
    // it too.
    let first_paths = cli.run.plugin_paths.clone();
    let command = match cli.command {
        None => Command::Run(Deferred(cli.run)),
        Some(Command::Run(args)) => Command::Run(Deferred(args.0.merged_with(&cli.run))),
        Some(other) => other,
    };
    let data_dir = locations::user_data_dir();
    let (default_verbosity, silent) = match &command {
        Command::Run(args) => (Verbosity::Info, args.silent),
        Command::Server(_) => (Verbosity::Info, false),
        // `plugins` reports every problem in its listing: logging them too said each twice.
        Command::Plugins(_) => (Verbosity::Critical, false),
        _ => (Verbosity::Warning, false),
    };
    let log = logging::init(
        cli.verbosity.unwrap_or(default_verbosity),
        silent,
        matches!(command, Command::Run(_)),
        &data_dir,
    );
    let loads_plugins = matches!(
        command,
        Command::Run(_)
            | Command::Plugins(_)
            | Command::Event(_)
            | Command::Actions(_)
            | Command::Publish(_)
    );
    // Commands load plugins and run their handlers: on a thread with the stack handlers need
    // (see HANDLER_THREAD_STACK), not the main thread's fixed 8 MiB.
    let commands = std::thread::Builder::new()
        .name("command".into())
        .stack_size(HANDLER_THREAD_STACK)
        .spawn(move || {
            let status = match command {
                Command::Run(args) => run::run(&args, &data_dir),
                Command::Plugins(args) => plugins::run(&args, &first_paths, &data_dir),
                Command::Event(command) => event::run(command.0, &first_paths, &data_dir),
                Command::Actions(args) => actions::run(&args, &first_paths, &data_dir),
                Command::Plugin(command) => plugin::run(command.0),
                Command::Server(args) => server::run(args.0, &data_dir),
                Command::Login(args) => login::login(&args, &data_dir),
                Command::Logout => login::logout(&data_dir),
                Command::Status(args) => status::run(&args, &data_dir),
                Command::Open(args) => open::run(&args, &data_dir),
                Command::Sequences(args) => sequences::run(&args),
                Command::Publish(args) => publish::run(&args, &first_paths, &data_dir),
                Command::Pipeline(command) => pipeline::run(command.0),
                Command::NativeHost(_) => unreachable!("served above"),
            };
            // The log's writer writes what is still queued and stops: nothing logged is lost
            // when the process ends here or is replaced.
            drop(log);
            if run::wants_restart() {
                return status;
            }
            exit_at_once(status)
        });
    if loads_plugins {
        // This thread only waits for the command: meanwhile, while the command reads its
        // settings and discovers the plugin folders, it builds what the Rhai engines share,
        // which the first engine would otherwise build with the other core idle; first, how
        // many cores discovery may use, which it would otherwise ask on the command's path.
        connect_plugins::count_cores();
        connect_rhai::build_shared_modules();
    }
    let status = match commands.map(std::thread::JoinHandle::join) {
        Ok(Ok(status)) => status,
        Ok(Err(_)) => fail("the command failed unexpectedly (see the message above)"),
        Err(err) => fail(&format!("cannot start the command: {err}")),
    };
    if run::wants_restart() {
        return run::exec_again();
    }
    status
}

/// Ends the process with `status`: called on the command thread once the command has
/// returned and the log's guard is dropped (its writer has written every line and stopped).
///
/// Returning to `main` instead would wake the main thread to join this one, unmap this
/// thread's stack, then run the allocator's tidy-up at exit, which hands its memory back to
/// the OS one region at a time (about thirty `madvise` calls after 200 plugins, each making
/// the other core flush its address translations) just before the OS takes back the whole
/// address space anyway: 0.2 to 0.4 ms of a 200-plugin `event publish`
/// (`docs/benchmarks.md`). Nothing else is left to run: the command's own values (temporary
/// files, child processes, connections) were dropped as it returned.
fn exit_at_once(status: ExitCode) -> ExitCode {
    #[cfg(unix)]
    {
        use std::io::Write;
        // What `exit` would have flushed.
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        // `ExitCode` does not give its number back: find the one it was made from.
        if let Some(code) = (0..=u8::MAX).find(|&code| ExitCode::from(code) == status) {
            // SAFETY: `_exit` only ends the process; no code of this process runs after it,
            // so nothing can observe state it leaves behind.
            unsafe { libc::_exit(code.into()) }
        }
    }
    status
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
            isolate_native: isolation(false, &data_dir.join("native")),
            python: python_options(),
            // Commands ask their plugins and exit; `run` tracks changes.
            change_tracking: ChangeTracking::Off,
        }
    }
}

/// How native plugins run out of process, if they do: when `requested` (`run
/// --isolate-native`) or `FTRACK_CONNECT_ISOLATE_NATIVE=1`, within
/// `FTRACK_CONNECT_NATIVE_TIME_LIMIT` seconds per handler. A value that means neither is
/// said once and ignored.
fn isolation(requested: bool, copy_dir: &std::path::Path) -> Option<IsolationOptions> {
    let variable = std::env::var(ISOLATE_NATIVE_VARIABLE).unwrap_or_default();
    let from_environment = match variable.trim() {
        "1" | "true" | "yes" => true,
        "" | "0" | "false" | "no" => false,
        other => {
            tracing::warn!("{ISOLATE_NATIVE_VARIABLE}={other:?} ignored: use 1 or 0");
            false
        }
    };
    if !requested && !from_environment {
        return None;
    }
    let time_limit = time_limit(NATIVE_TIME_LIMIT_VARIABLE, DEFAULT_TIME_LIMIT);
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(err) => {
            tracing::error!("native plugins cannot run isolated: where is this program? {err}");
            return None;
        }
    };
    Some(IsolationOptions {
        program,
        copy_dir: copy_dir.to_path_buf(),
        time_limit,
    })
}

/// How Python hooks run: the interpreter from `FTRACK_CONNECT_PYTHON` (else `python3`),
/// each handler within `FTRACK_CONNECT_PYTHON_TIME_LIMIT` seconds.
fn python_options() -> PythonOptions {
    let mut options = PythonOptions::from_environment("");
    options.time_limit = time_limit(
        PYTHON_TIME_LIMIT_VARIABLE,
        connect_python::DEFAULT_TIME_LIMIT,
    );
    options
}

/// The seconds in `variable`, else `default` (a value that is no number of seconds is said
/// once and ignored).
fn time_limit(variable: &str, default: std::time::Duration) -> std::time::Duration {
    match std::env::var(variable) {
        Err(_) => default,
        Ok(text) => match text.trim().parse::<f64>() {
            Ok(seconds) if seconds > 0.0 && seconds <= 86_400.0 => {
                std::time::Duration::from_secs_f64(seconds)
            }
            _ => {
                tracing::warn!(
                    "{variable}={text:?} ignored: give seconds, more than 0 (the limit stays {} s)",
                    default.as_secs()
                );
                default
            }
        },
    }
}

/// `--wait SECONDS` (clap's value parser): a duration from 0 to an hour.
fn wait_seconds(text: &str) -> Result<std::time::Duration, String> {
    let limit = std::time::Duration::from_secs(3600);
    text.parse::<f64>()
        .ok()
        .and_then(|seconds| std::time::Duration::try_from_secs_f64(seconds).ok())
        .filter(|wait| *wait <= limit)
        .ok_or_else(|| "takes seconds, from 0 to 3600".to_string())
}

/// Writes `line` and a line end on stdout (see [`outln`]).
fn print_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_fmt(line).and_then(|()| out.write_all(b"\n")) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            panic!("cannot write the output on stdout: {err}")
        }
        _ => {}
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

#[cfg(test)]
mod tests {
    /// `build.rs` links GCC's unwinder into the program instead of loading `libgcc_s`: a
    /// panic must still unwind to whoever catches it (the command thread's join, a helper's
    /// `catch_unwind`). Without a working unwinder the panic aborts, and this test with it.
    #[test]
    fn a_panic_unwinds_with_the_unwinder_linked_in() {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
            assert!(!maps.contains("libgcc_s"), "libgcc_s is loaded:\n{maps}");
        }
        let caught = std::panic::catch_unwind(|| panic!("unwinds"));
        assert!(caught.is_err());
    }
}
