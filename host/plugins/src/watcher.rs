//! `run --watch`: notices edits in the plugin folders and has the registry reload what changed.
//!
//! File events are debounced per path: a path is reported once it has been quiet for
//! [`DEBOUNCE`]. An editor that saves through a temporary file and a rename, or cargo replacing
//! a library (remove, then link), thus produce one batch, and the host's fingerprint
//! comparison reloads each changed plugin once. Events for files that are no part of a plugin
//! (editor swap files, backups) change no fingerprint and reload nothing. Reads are not
//! changes: inotify reports every open, including the host's own reads while it reloads, so
//! access events are ignored (else each refresh would trigger the next).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};

use crate::registry::PluginRegistry;

/// Quiet time before a changed path is acted on.
pub const DEBOUNCE: Duration = Duration::from_millis(50);

type FileDebouncer = Debouncer<notify::RecommendedWatcher, RecommendedCache>;

/// Watches while it lives.
pub struct PluginWatcher {
    _debouncer: Arc<Mutex<FileDebouncer>>,
}

/// Starts watching every plugin root and hook directory of `registry` (those that exist: the
/// caller creates the ones it wants watched before they exist), and the folders of files that
/// plugins reach through symlinks out of them.
pub fn watch(registry: Arc<PluginRegistry>) -> notify::Result<PluginWatcher> {
    let refresher = registry.clone();
    // The handler runs on the debouncer's thread and must not touch the debouncer itself:
    // it tells the thread that adds watches for new symlink targets instead.
    let (refreshed, refreshes) = channel::<()>();
    let debouncer = new_debouncer(
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
                    let _ = refreshed.send(());
                }
            }
            Err(errors) => {
                for err in errors {
                    tracing::warn!("watching plugin folders: {err}");
                }
            }
        },
    )?;
    let debouncer = Arc::new(Mutex::new(debouncer));
    let paths = registry.search_paths();
    let mut roots = Vec::new();
    for dir in paths.plugin_roots.iter().chain(&paths.hook_dirs) {
        if !dir.is_dir() {
            tracing::warn!("not watching {}: no such folder", dir.display());
            continue;
        }
        let mut watching = debouncer.lock().unwrap_or_else(|e| e.into_inner());
        match watching.watch(dir, RecursiveMode::Recursive) {
            Ok(()) => tracing::info!("watching {}", dir.display()),
            Err(err) => tracing::warn!("cannot watch {}: {err}", dir.display()),
        }
        roots.extend(dir.canonicalize().ok());
    }
    let mut targets = SymlinkTargets {
        roots,
        watched: HashSet::new(),
    };
    // Before the host says it runs: an edit right after must be seen.
    targets.watch_new(&registry, &debouncer);
    let weak = Arc::downgrade(&debouncer);
    std::thread::Builder::new()
        .name("plugin-watcher".into())
        .spawn(move || targets.follow(&registry, &weak, &refreshes))
        .map_err(|err| notify::Error::generic(&err.to_string()))?;
    Ok(PluginWatcher {
        _debouncer: debouncer,
    })
}

/// The folders outside the watched roots that plugin files lead to through symlinks (a hook
/// linked from a shared checkout): inotify does not follow links, so those folders are watched
/// themselves.
struct SymlinkTargets {
    /// The watched roots, canonical.
    roots: Vec<PathBuf>,
    watched: HashSet<PathBuf>,
}

impl SymlinkTargets {
    /// Watches new targets after every refresh, until the watcher goes.
    fn follow(
        mut self,
        registry: &PluginRegistry,
        debouncer: &Weak<Mutex<FileDebouncer>>,
        refreshes: &Receiver<()>,
    ) {
        while refreshes.recv().is_ok() {
            let Some(debouncer) = debouncer.upgrade() else {
                return;
            };
            self.watch_new(registry, &debouncer);
        }
    }

    fn watch_new(&mut self, registry: &PluginRegistry, debouncer: &Mutex<FileDebouncer>) {
        for file in registry.plugin_files() {
            let Ok(real) = file.canonicalize() else {
                continue;
            };
            let Some(folder) = real.parent().map(Path::to_path_buf) else {
                continue;
            };
            if self.roots.iter().any(|root| real.starts_with(root))
                || !self.watched.insert(folder.clone())
            {
                continue;
            }
            let mut watching = debouncer.lock().unwrap_or_else(|e| e.into_inner());
            match watching.watch(&folder, RecursiveMode::NonRecursive) {
                Ok(()) => tracing::info!(
                    "watching {} ({} links there)",
                    folder.display(),
                    file.display()
                ),
                Err(err) => tracing::warn!("cannot watch {}: {err}", folder.display()),
            }
        }
    }
}
