//! Logging: stderr for the person at the terminal, plus `log/ftrack_connect.log` in the user
//! data directory for later (Connect's file name), through `tracing`.

use std::io::IsTerminal;
use std::path::Path;

use connect_core::LOG_FILE_ONLY;
use tracing_appender::non_blocking::NonBlockingBuilder;
use tracing_subscriber::filter::{filter_fn, LevelFilter};
use tracing_subscriber::prelude::*;

/// Log lines waiting to be written to the log file.
const LOG_QUEUE_LINES: usize = 1024;

/// Connect's `--verbosity` levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Verbosity {
    /// Everything, tracing included.
    Notset,
    /// Debugging detail.
    Debug,
    /// What the host does (the default of `run`).
    Info,
    /// What needs attention (the default of other commands).
    Warning,
    /// Failures only.
    Error,
    /// Failures only (Connect's highest level).
    Critical,
}

impl Verbosity {
    fn level(self) -> LevelFilter {
        match self {
            Verbosity::Notset => LevelFilter::TRACE,
            Verbosity::Debug => LevelFilter::DEBUG,
            Verbosity::Info => LevelFilter::INFO,
            Verbosity::Warning => LevelFilter::WARN,
            Verbosity::Error | Verbosity::Critical => LevelFilter::ERROR,
        }
    }
}

/// The log file's name in the log folder.
const LOG_FILE: &str = "ftrack_connect.log";

/// The log file of the user data folder `data_dir`.
pub fn log_file(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("log").join(LOG_FILE)
}

/// Creates the user data folder, the log folder and the log file for this user alone
/// (`0700`, `0600`), and makes existing ones so: hook output and event traffic go there.
fn create_private_log(data_dir: &Path, log_dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(log_dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let private = |path: &Path, mode| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        };
        private(data_dir, 0o700)?;
        private(log_dir, 0o700)?;
        let file = log_dir.join(LOG_FILE);
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&file)?;
        private(&file, 0o600)?;
    }
    Ok(())
}

/// Keeps the log file writer flushing until dropped (at exit).
pub struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

/// Sets up logging: stderr at `verbosity` (errors only when `silent`), the log file at
/// `info` or more detail. With `quiet_server` (the resident host, which may serve the local
/// server inside it), the server's per-request lines stay out of stderr unless `verbosity`
/// asks for debugging.
pub fn init(verbosity: Verbosity, silent: bool, quiet_server: bool, data_dir: &Path) -> LogGuard {
    let console_level = if silent {
        LevelFilter::ERROR
    } else {
        verbosity.level()
    };
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .with_filter(console_level)
        .with_filter(filter_fn(move |meta| {
            let server_chatter = quiet_server
                && console_level < LevelFilter::DEBUG
                && *meta.level() > tracing::Level::WARN
                && meta.target().starts_with("connect_server");
            meta.target() != LOG_FILE_ONLY && !server_chatter
        }));

    let log_dir = data_dir.join("log");
    let file_level = verbosity.level().max(LevelFilter::INFO);
    let (file_layer, guard) = match create_private_log(data_dir, &log_dir) {
        Ok(()) => {
            let appender = tracing_appender::rolling::never(&log_dir, LOG_FILE);
            // tracing_appender's default queue holds 128,000 lines, allocated up front: 4 MiB
            // and most of the start-up time of a short command. A small queue that makes
            // logging wait when full (rather than drop lines, the default) costs neither.
            let (writer, guard) = NonBlockingBuilder::default()
                .buffered_lines_limit(LOG_QUEUE_LINES)
                .lossy(false)
                .finish(appender);
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false)
                .with_filter(file_level);
            (Some(layer), Some(guard))
        }
        Err(err) => {
            eprintln!(
                "warning: cannot create log folder {}: {err}; logging to stderr only",
                log_dir.display()
            );
            (None, None)
        }
    };
    tracing_subscriber::registry()
        .with(stderr)
        .with(file_layer)
        .init();
    // Libraries that log through `log` (the websocket client) are bridged into tracing; the
    // per-layer filters give the bridge no level to stop at, so every `trace!` would be
    // built and then dropped. Nothing below the most detailed level either layer keeps.
    log::set_max_level(match console_level.max(file_level).into_level() {
        None => log::LevelFilter::Off,
        Some(tracing::Level::ERROR) => log::LevelFilter::Error,
        Some(tracing::Level::WARN) => log::LevelFilter::Warn,
        Some(tracing::Level::INFO) => log::LevelFilter::Info,
        Some(tracing::Level::DEBUG) => log::LevelFilter::Debug,
        Some(tracing::Level::TRACE) => log::LevelFilter::Trace,
    });
    LogGuard(guard)
}
