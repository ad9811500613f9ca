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
    // The handler runs on the debouncer's thread, which must not touch the debouncer itself
    // and has a small stack: it asks the reload thread, which has the stack handlers need
    // (a reload runs `register`), to refresh and to watch new symlink targets.
    let (changed, changes) = channel::<()>();
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
                    let _ = changed.send(());
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
        .name("plugin-reload".into())
        .stack_size(connect_core::HANDLER_THREAD_STACK)
        .spawn(move || targets.follow(&registry, &weak, &changes))
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
    /// Refreshes the registry after each batch of changes, then watches new targets, until
    /// the watcher goes. Changes that arrive during a refresh make one more refresh.
    fn follow(
        mut self,
        registry: &PluginRegistry,
        debouncer: &Weak<Mutex<FileDebouncer>>,
        changes: &Receiver<()>,
    ) {
        while changes.recv().is_ok() {
            while changes.try_recv().is_ok() {}
            let Some(debouncer) = debouncer.upgrade() else {
                return;
            };
            registry.refresh();
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
