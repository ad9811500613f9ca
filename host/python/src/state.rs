//! One Python hook file across the bridge's runs ([`HookState`]): what the bridge needs to
//! import and register it again after a restart, the subscriptions it holds, and why it is no
//! longer run. Its own module, below the handlers, the supervisor and the registry's side,
//! which all keep it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use connect_core::PluginTag;

use crate::bridge::BridgeProcess;

/// One Python hook file, as long as the registry keeps it: what the bridge needs to import
/// and register it again after a restart, and the subscriptions it holds now.
pub(crate) struct HookState {
    /// The host's number for it, the same in every run of the bridge.
    pub(crate) number: u64,
    pub(crate) path: PathBuf,
    pub(crate) tag: PluginTag,
    pub(crate) library_dirs: Vec<String>,
    /// The subscriber ids its code made in the running bridge.
    subscriptions: Mutex<HashSet<String>>,
    /// Why it is no longer run (it ended or hung the bridge).
    failure: Mutex<Option<String>>,
    /// The bridge it was last imported into.
    imported_into: Mutex<Weak<BridgeProcess>>,
}

impl HookState {
    pub(crate) fn new(
        number: u64,
        path: &Path,
        tag: PluginTag,
        library_dirs: Vec<String>,
    ) -> HookState {
        HookState {
            number,
            path: path.to_path_buf(),
            tag,
            library_dirs,
            subscriptions: Mutex::new(HashSet::new()),
            failure: Mutex::new(None),
            imported_into: Mutex::new(Weak::new()),
        }
    }

    pub(crate) fn imported_into(&self, process: &Arc<BridgeProcess>) {
        *self.imported_into.lock().unwrap_or_else(|e| e.into_inner()) = Arc::downgrade(process);
    }

    pub(crate) fn was_imported_into(&self, process: &Arc<BridgeProcess>) -> bool {
        let imported = self.imported_into.lock().unwrap_or_else(|e| e.into_inner());
        std::ptr::eq(imported.as_ptr(), Arc::as_ptr(process))
    }

    pub(crate) fn subscribed(&self, id: String) {
        self.lock_subscriptions().insert(id);
    }

    /// Forgets subscription `id` if this hook made it.
    pub(crate) fn unsubscribed(&self, id: &str) -> bool {
        self.lock_subscriptions().remove(id)
    }

    /// Takes every subscription it holds (the bridge ended: they go from the hub).
    pub(crate) fn take_subscriptions(&self) -> HashSet<String> {
        std::mem::take(&mut *self.lock_subscriptions())
    }

    fn lock_subscriptions(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.subscriptions.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn fail(&self, why: String) {
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }
}
