//! Where the host looks for plugins and keeps its files, per OS, as ftrack Connect does.
//!
//! Plugin search order (see the README's "Load order"):
//! 1. each `--plugin-path DIR`, in the order given;
//! 2. the entries of `FTRACK_CONNECT_PLUGIN_PATH`, which (as in Connect 26) replace the
//!    default plugin directory when set, else the default plugin directory;
//! 3. the entries of `FTRACK_EVENT_PLUGIN_PATH`, each a hook directory walked directly.

use std::path::{Path, PathBuf};

use connect_plugins::SearchPaths;

/// Folder of plugin folders (`FTRACK_CONNECT_PLUGIN_PATH`).
pub const CONNECT_PLUGIN_PATH: &str = "FTRACK_CONNECT_PLUGIN_PATH";
/// Hook directories (`FTRACK_EVENT_PLUGIN_PATH`).
pub const EVENT_PLUGIN_PATH: &str = "FTRACK_EVENT_PLUGIN_PATH";

/// Connect's per-user data directory: the lock file, `credentials.json` and `log/` live here.
pub fn user_data_dir() -> PathBuf {
    base_data_dir().join("ftrack-connect")
}

/// The pipeline hosts' notification log of the user whose data folder is `data_dir`
/// (`connect_pipeline::log`).
pub fn pipeline_log_file(data_dir: &Path) -> PathBuf {
    data_dir.join("pipeline").join("logs.sqlite")
}

/// The default plugin directory: `~/.local/share/ftrack-connect-plugins` on Linux,
/// `~/Library/Application Support/ftrack-connect-plugins` on macOS,
/// `%LOCALAPPDATA%\ftrack\ftrack-connect-plugins` on Windows.
pub fn default_plugin_dir() -> PathBuf {
    base_data_dir().join("ftrack-connect-plugins")
}

fn base_data_dir() -> PathBuf {
    let Some(dirs) = directories::BaseDirs::new() else {
        // No home directory at all: keep going in the working directory rather than fail.
        return PathBuf::from(".");
    };
    if cfg!(windows) {
        dirs.data_local_dir().join("ftrack")
    } else {
        dirs.data_dir().to_path_buf()
    }
}

/// Splits an OS path list, trimming entries and dropping empty ones.
pub fn split_path_list(value: &str) -> Vec<PathBuf> {
    std::env::split_paths(value)
        .filter_map(|p| {
            let text = p.to_string_lossy();
            let trimmed = text.trim();
            (!trimmed.is_empty()).then(|| PathBuf::from(trimmed))
        })
        .collect()
}

fn env_path_list(name: &str) -> Option<Vec<PathBuf>> {
    std::env::var_os(name).map(|v| split_path_list(&v.to_string_lossy()))
}

/// The folders of `FTRACK_APPLICATION_LAUNCHER_CONFIG_PATHS` (none when unset).
pub fn launcher_config_paths() -> Vec<PathBuf> {
    env_path_list(connect_launcher::CONFIG_PATHS_VAR).unwrap_or_default()
}

/// The search paths for this process: CLI options first, then the environment.
pub fn search_paths(cli_plugin_paths: &[PathBuf]) -> SearchPaths {
    let mut plugin_roots: Vec<PathBuf> = cli_plugin_paths.to_vec();
    match env_path_list(CONNECT_PLUGIN_PATH) {
        Some(list) if !list.is_empty() => plugin_roots.extend(list),
        _ => plugin_roots.push(default_plugin_dir()),
    }
    SearchPaths {
        plugin_roots,
        hook_dirs: env_path_list(EVENT_PLUGIN_PATH).unwrap_or_default(),
    }
}

/// Creates (or replaces) `path` with `bytes`, readable and writable by this user only
/// (`0600`): the files that hold a token or a key (`endpoint.json`, `credentials.json`, the
/// local server's `host-key`).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = path.with_extension("new");
    let _ = std::fs::remove_file(&temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    std::io::Write::write_all(&mut file, bytes)?;
    file.sync_all()?;
    // Renamed into place, so a reader never sees half a file.
    std::fs::rename(&temporary, path)
}
