//! What `ftrack-connect plugins --json` prints for each plugin, and the running host's
//! endpoint sends: the wire form of the registry, kept apart from the registry's own entries
//! so that neither constrains the other.

use serde::{Deserialize, Serialize};

/// Whether a plugin loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginStatus {
    /// Registered and answering.
    Loaded,
    /// Tried and failed: `error` says why.
    Failed,
    /// Not loaded on purpose: `reason` says why.
    Skipped,
}

/// What a plugin is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// Rhai hooks.
    Rhai,
    /// Native libraries (and the host's built-in plugins written in Rust).
    Native,
    /// Python hooks, run in the Python bridge.
    Python,
    /// A plugin folder holding hooks of more than one kind.
    Mixed,
    /// A plugin folder with launcher configs and no hook: the application launcher serves
    /// its configs.
    Launch,
}

/// One plugin as `plugins --json` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginReport {
    /// The plugin folder's name without its version, a hook file's stem, or a built-in name.
    pub name: String,
    /// From the folder name (`-1.2.3`), or the version a native library declares.
    pub version: Option<String>,
    /// What the plugin is made of; `None` for a folder with nothing this host runs (it is
    /// skipped, and `reason` says what it has instead).
    pub kind: Option<PluginKind>,
    /// The plugin folder or hook file; `<built-in>/...` for plugins shipped in the binary.
    pub path: String,
    /// Whether it loaded.
    pub status: PluginStatus,
    /// Why loading failed: one line, with file, line and column for script errors.
    pub error: Option<String>,
    /// Why the plugin was skipped.
    pub reason: Option<String>,
    /// How many subscriptions it holds now.
    pub subscriptions: usize,
    /// Problems that did not stop the plugin: unreadable folders, files without `register`,
    /// launcher configs that were skipped.
    pub warnings: Vec<String>,
    /// How many times `run --watch` reloaded the plugin after a change (tried, failed or not).
    pub reloads: u32,
    /// When the last of those reloads was tried, in seconds since 1970 (UTC); `None` before
    /// the first.
    #[serde(default)]
    pub last_reload: Option<u64>,
    /// Native libraries of earlier versions that stay mapped (code may still point into
    /// them).
    pub retired_libraries: usize,
    /// The address space those libraries hold, in bytes.
    pub retired_library_bytes: u64,
}
