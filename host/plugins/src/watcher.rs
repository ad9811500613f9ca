//! `run --watch`: notices edits in the plugin folders and has the registry reload what changed.
//!
//! File events are debounced per path: a path is reported once it has been quiet for
//! [`DEBOUNCE`]. An editor that saves through a temporary file and a rename, or cargo replacing
//! a library (remove, then link), thus produce one batch, and the host's fingerprint
//! comparison reloads each changed plugin once. Events for files that are no part of a plugin
//! (editor swap files, backups) change no fingerprint and reload nothing. Reads are not
//! changes: inotify reports every open, including the host's own reads while it reloads, so
//! access events are ignored (else each refresh would trigger the next).

use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};

use crate::registry::PluginRegistry;

/// Quiet time before a changed path is acted on.
pub const DEBOUNCE: Duration = Duration::from_millis(50);

/// Watches while it lives.
pub struct PluginWatcher {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

/// Starts watching every plugin root and hook directory of `registry` (those that exist: the
/// caller creates the ones it wants watched before they exist).
pub fn watch(registry: Arc<PluginRegistry>) -> notify::Result<PluginWatcher> {
    let refresher = registry.clone();
    let mut debouncer =
        new_debouncer(
            DEBOUNCE,
            None,
            move |result: DebounceEventResult| match result {
                Ok(events) => {
                    let changes = events
                        .iter()
                        .filter(|e| !matches!(e.kind, EventKind::Access(_)))
                        .count();
                    if changes > 0 {
                        tracing::debug!("{changes} file system changes in plugin folders");
                        refresher.refresh();
                    }
                }
                Err(errors) => {
                    for err in errors {
                        tracing::warn!("watching plugin folders: {err}");
                    }
                }
            },
        )?;
    let paths = registry.search_paths();
    for dir in paths.plugin_roots.iter().chain(&paths.hook_dirs) {
        if !dir.is_dir() {
            tracing::warn!("not watching {}: no such folder", dir.display());
            continue;
        }
        match debouncer.watch(dir, RecursiveMode::Recursive) {
            Ok(()) => tracing::info!("watching {}", dir.display()),
            Err(err) => tracing::warn!("cannot watch {}: {err}", dir.display()),
        }
    }
    Ok(PluginWatcher {
        _debouncer: debouncer,
    })
}
