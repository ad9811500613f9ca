//! Plugin discovery: which plugins and hook files exist, and in which order they load.
//!
//! ftrack Connect finds its plugins in two kinds of places, and this module finds them the
//! same way so that existing installations keep working:
//!
//! * **Plugin roots** (`FTRACK_CONNECT_PLUGIN_PATH`, or the default plugin directory) are
//!   folders of *plugin folders*. Each plugin folder holds a `hook/` folder, walked
//!   recursively for hook files, and often `resource/` or `dependencies/` folders with shared
//!   code that hooks import (never hooks themselves). Plugin folders may carry a version,
//!   `my-tools-1.2.3`, optionally with a platform suffix, `my-tools-1.2.3-linux`.
//! * **Hook directories** (`FTRACK_EVENT_PLUGIN_PATH`) are walked directly; every hook file
//!   found below one is a plugin of its own, named by its file stem.
//!
//! Hook files are Rhai scripts (`.rhai`) or native libraries (names ending in
//! [`std::env::consts::DLL_SUFFIX`]). Python hooks (`.py`) cannot run in this host; they are
//! counted so that a plugin holding only Python hooks is reported with a reason saying so.
//!
//! This module only looks at the file system: it neither loads nor parses anything. The
//! caller computes the search paths (environment variables, command line, OS default) and
//! passes them in as [`SearchPaths`]; [`discover`] returns every plugin found, including the
//! ones that are not to be loaded together with the reason, plus the problems met on the way.
//! Discovery never fails as a whole: symlink loops, broken symlinks and unreadable folders
//! are reported as problems and the rest is still discovered.
//!
//! # Load order
//!
//! The order of [`Discovery::plugins`], and of [`DiscoveredPlugin::hooks`], is the order in
//! which plugins and hooks are loaded. It is deterministic, unlike ftrack's Python loader
//! which follows whatever order the file system returns:
//!
//! 1. All plugin roots first, in the order given. Inside a root, plugin folders sorted by
//!    name (byte order).
//! 2. Then the hook directories, in the order given.
//! 3. Inside any walked folder (a plugin's `hook/`, or a hook directory): the folder's files
//!    sorted by name first, then its sub-folders sorted by name, each walked the same way
//!    (a folder's files come before anything in its sub-folders, as in ftrack's Python walk).
//!
//! Further rules:
//!
//! * Search path entries are trimmed of surrounding white space (as ftrack does); empty
//!   entries and missing folders are skipped silently. A root or hook directory reached
//!   twice (same canonical path, so `a/../a` and symlinks count) is searched once.
//! * In a root, only folders are plugin folders; plain files are ignored. Names starting
//!   with a dot (`.git`, `.cache`) are skipped there and inside walked folders.
//! * Only the newest version of each plugin name is loaded; versions compare numerically
//!   part by part ([`compare_versions`]). An unversioned folder counts as version `0`. On a
//!   tie the plugin that comes first in load order wins (the earlier root, then the earlier
//!   name), as "the first directory wins" in Connect.
//! * A hook file reached twice (same canonical path, for example a plugin's `hook/` also
//!   listed as a hook directory, or a symlinked folder) is loaded once, by the first plugin
//!   in load order that reaches it. A plugin left without hooks because of that is skipped.
//! * A plugin folder without a `hook/` folder, or without Rhai or native hooks in it, is
//!   skipped with a reason (naming any Python hooks found, which this host cannot run).
//! * Skipped plugins stay in the list, in their place, with the hooks they would have
//!   loaded; they claim no hook files.
//! * Symlinks are followed, with loop detection. Whatever cannot be read is reported, on the
//!   plugin when inside one, and the rest is discovered as usual.

use std::cmp::Ordering;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

/// Where to look for plugins. Computed by the caller from the environment, the command line
/// and the OS default plugin directory.
#[derive(Debug, Clone, Default)]
pub struct SearchPaths {
    /// Folders of plugin folders, in priority order (first wins between directories).
    pub plugin_roots: Vec<PathBuf>,
    /// Hook directories; every hook file found below one is a plugin of its own.
    pub hook_dirs: Vec<PathBuf>,
}

/// The result of [`discover`].
#[derive(Debug, Clone)]
pub struct Discovery {
    /// Every plugin found, in load order, including skipped ones (so they can be reported).
    pub plugins: Vec<DiscoveredPlugin>,
    /// Problems not belonging to one plugin (an unreadable root, a symlink loop at root level...).
    pub problems: Vec<String>,
}

/// How a plugin was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginLayout {
    /// A plugin folder in a plugin root, with its hooks in `hook/`.
    Folder,
    /// A single hook file found in a hook directory.
    HookFile,
}

/// What kind of code a hook file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    /// A Rhai script (`.rhai`).
    Rhai,
    /// A native library (name ending in [`std::env::consts::DLL_SUFFIX`]).
    Native,
}

/// One hook file to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookFile {
    /// The file as found while walking (below [`DiscoveredPlugin::path`]), not canonicalised.
    pub path: PathBuf,
    /// Rhai script or native library.
    pub kind: HookKind,
}

/// One plugin found by [`discover`], to be loaded unless [`skipped`](Self::skipped) says why not.
#[derive(Debug, Clone)]
pub struct DiscoveredPlugin {
    /// Folder name without the version (`my-tools` for `my-tools-1.2.3`), or a bare hook file's stem.
    pub name: String,
    /// `1.2.3` for `my-tools-1.2.3` (or `my-tools-1.2.3-linux`); None when unversioned.
    pub version: Option<String>,
    /// The plugin folder, or the bare hook file, as found (not canonicalised).
    pub path: PathBuf,
    /// Plugin folder or bare hook file.
    pub layout: PluginLayout,
    /// The folder the plugin's scripts must stay inside: the plugin folder, or for a bare hook file the hook directory it was found in. Canonicalised.
    pub root: PathBuf,
    /// Existing `resource/` and `dependencies/` folders of a plugin folder (in that order), canonicalised; where `import` resolves. Empty for bare hook files.
    pub library_dirs: Vec<PathBuf>,
    /// Hook files to load, in load order.
    pub hooks: Vec<HookFile>,
    /// Why this plugin is not to be loaded (older version than another, no hooks, all hooks already reached elsewhere); None = load it.
    pub skipped: Option<String>,
    /// Problems found inside this plugin (symlink loop, unreadable sub-folder): reported, not fatal.
    pub problems: Vec<String>,
}

/// The folder inside a plugin folder that holds its hooks.
const HOOK_FOLDER: &str = "hook";
/// The folders inside a plugin folder that hold importable code, in resolution order.
const LIBRARY_FOLDERS: [&str; 2] = ["resource", "dependencies"];
const RHAI_SUFFIX: &str = ".rhai";
const PYTHON_SUFFIX: &str = ".py";

/// Finds the plugins below `paths`, in load order (see the [module documentation](self)).
///
/// Never fails and never panics: whatever cannot be read is reported in
/// [`Discovery::problems`] or [`DiscoveredPlugin::problems`] and discovery goes on.
pub fn discover(paths: &SearchPaths) -> Discovery {
    let mut discovery = Discovery {
        plugins: Vec::new(),
        problems: Vec::new(),
    };

    let mut seen_roots = HashSet::new();
    for entry in &paths.plugin_roots {
        if let Some(dir) = usable_dir(
            entry,
            "plugin directory",
            &mut seen_roots,
            &mut discovery.problems,
        ) {
            scan_root(&dir.given, &mut discovery);
        }
    }

    select_versions(&mut discovery.plugins);

    // Maps each hook file claimed so far (canonical path) to where it was first found.
    let mut claimed = HashMap::new();
    for plugin in discovery.plugins.iter_mut().filter(|p| p.skipped.is_none()) {
        claim_hooks(plugin, &mut claimed);
    }

    let mut seen_hook_dirs = HashSet::new();
    for entry in &paths.hook_dirs {
        if let Some(dir) = usable_dir(
            entry,
            "hook directory",
            &mut seen_hook_dirs,
            &mut discovery.problems,
        ) {
            scan_hook_dir(&dir, &mut claimed, &mut discovery);
        }
    }

    discovery
}

/// Compares two version strings such as `1.10.0` and `1.9.2`, part by part numerically.
///
/// Parts are separated by dots; missing parts count as `0` (`1.2` == `1.2.0` < `1.2.1`), as
/// does an empty string. Numbers of any length are compared without overflow. A part may
/// carry a pre-release suffix (`0rc1`, `0b2`), which sorts before the bare number
/// (`1.0.0rc1` < `1.0.0`); suffixes compare by their letters, then their number.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (l, r) => {
                let order = compare_version_parts(l.unwrap_or("0"), r.unwrap_or("0"));
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// Compares one dot-separated version part: its leading number, then any suffix.
fn compare_version_parts(a: &str, b: &str) -> Ordering {
    let (a_num, a_suffix) = split_leading_digits(a);
    let (b_num, b_suffix) = split_leading_digits(b);
    compare_numbers(a_num, b_num).then_with(|| match (a_suffix.is_empty(), b_suffix.is_empty()) {
        (true, true) => Ordering::Equal,
        // A release sorts after its pre-releases.
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            let (a_tag, a_rest) = split_leading(a_suffix, |c| !c.is_ascii_digit());
            let (b_tag, b_rest) = split_leading(b_suffix, |c| !c.is_ascii_digit());
            let (a_n, a_tail) = split_leading_digits(a_rest);
            let (b_n, b_tail) = split_leading_digits(b_rest);
            a_tag
                .cmp(b_tag)
                .then_with(|| compare_numbers(a_n, b_n))
                .then_with(|| a_tail.cmp(b_tail))
        }
    })
}

/// Compares two strings of ASCII digits as numbers (empty counts as zero).
fn compare_numbers(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn split_leading_digits(s: &str) -> (&str, &str) {
    split_leading(s, |c| c.is_ascii_digit())
}

fn split_leading(s: &str, keep: impl Fn(char) -> bool) -> (&str, &str) {
    let end = s.find(|c: char| !keep(c)).unwrap_or(s.len());
    s.split_at(end)
}

/// Splits a plugin folder name into its name and version.
///
/// Follows Connect's pattern `<name>-<version>[-<platform>]`, where the version has at least
/// two numeric parts (`1.2`, `1.2.3`), optionally followed by a pre-release tag (`1.2.3rc1`),
/// and the platform is one word (`linux`, `x86_64`). The name is the shortest prefix that
/// leaves such a tail, so names may contain dashes and digits. Anything else is unversioned.
fn parse_folder_name(folder: &str) -> (String, Option<String>) {
    for (dash, _) in folder.match_indices('-') {
        if dash == 0 {
            continue;
        }
        if let Some(version) = version_tail(&folder[dash + 1..]) {
            return (folder[..dash].to_string(), Some(version.to_string()));
        }
    }
    (folder.to_string(), None)
}

/// If `tail` is `<version>` or `<version>-<word>`, returns the version.
fn version_tail(tail: &str) -> Option<&str> {
    let bytes = tail.as_bytes();
    let mut end = 0;
    let mut parts = 0;
    loop {
        let start = end;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        if end == start {
            return None;
        }
        parts += 1;
        if end + 1 < bytes.len() && bytes[end] == b'.' && bytes[end + 1].is_ascii_digit() {
            end += 1;
        } else {
            break;
        }
    }
    if parts < 2 {
        return None;
    }
    // Optional pre-release tag: letters, then digits.
    while end < bytes.len() && bytes[end].is_ascii_alphabetic() {
        end += 1;
    }
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    let version = &tail[..end];
    let rest = &tail[end..];
    if rest.is_empty() {
        return Some(version);
    }
    let platform = rest.strip_prefix('-')?;
    let is_word = !platform.is_empty() && platform.chars().all(|c| c.is_alphanumeric() || c == '_');
    is_word.then_some(version)
}

/// A search path entry that exists and has not been seen before.
struct UsableDir {
    /// As given (trimmed), used to build the paths reported to the user.
    given: PathBuf,
    canonical: PathBuf,
}

/// Checks one search path entry: trims it, skips it when empty, missing, or already
/// searched; reports it when it cannot be used.
fn usable_dir(
    entry: &Path,
    what: &str,
    seen: &mut HashSet<PathBuf>,
    problems: &mut Vec<String>,
) -> Option<UsableDir> {
    let given = match entry.to_str() {
        Some(text) => PathBuf::from(text.trim()),
        None => entry.to_path_buf(),
    };
    if given.as_os_str().is_empty() {
        return None;
    }
    let canonical = match fs::canonicalize(&given) {
        Ok(canonical) => canonical,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            tracing::debug!("{what} {} does not exist; skipped", given.display());
            return None;
        }
        Err(err) => {
            problems.push(format!(
                "cannot use {what} {}: {}",
                given.display(),
                describe_io_error(&err)
            ));
            return None;
        }
    };
    if !canonical.is_dir() {
        problems.push(format!(
            "cannot use {what} {}: not a folder",
            given.display()
        ));
        return None;
    }
    if !seen.insert(canonical.clone()) {
        tracing::debug!(
            "{what} {} ({}) already searched; skipped",
            given.display(),
            canonical.display()
        );
        return None;
    }
    Some(UsableDir { given, canonical })
}

/// Adds the plugin folders of one plugin root, sorted by name.
fn scan_root(root: &Path, discovery: &mut Discovery) {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(err) => {
            discovery.problems.push(format!(
                "cannot read plugin directory {}: {}",
                root.display(),
                describe_io_error(&err)
            ));
            return;
        }
    };
    let mut folders = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                discovery.problems.push(format!(
                    "cannot read plugin directory {}: {}",
                    root.display(),
                    describe_io_error(&err)
                ));
                continue;
            }
        };
        let name = entry.file_name();
        let path = entry.path();
        if is_hidden(&name) {
            tracing::debug!("skipping hidden {}", path.display());
            continue;
        }
        match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => folders.push((name, path)),
            Ok(_) => tracing::debug!("ignoring {}: not a plugin folder", path.display()),
            Err(err) => discovery.problems.push(describe_follow_error(&path, &err)),
        }
    }
    folders.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, path) in folders {
        discovery.plugins.push(scan_plugin_folder(&name, path));
    }
}

/// Describes one plugin folder: name, version, library folders and the hooks in `hook/`.
fn scan_plugin_folder(folder_name: &OsStr, path: PathBuf) -> DiscoveredPlugin {
    let (name, version) = parse_folder_name(&folder_name.to_string_lossy());
    let mut plugin = DiscoveredPlugin {
        name,
        version,
        root: path.clone(),
        path,
        layout: PluginLayout::Folder,
        library_dirs: Vec::new(),
        hooks: Vec::new(),
        skipped: None,
        problems: Vec::new(),
    };
    match fs::canonicalize(&plugin.path) {
        Ok(root) => plugin.root = root,
        Err(err) => {
            let cause = describe_io_error(&err);
            plugin
                .problems
                .push(format!("cannot resolve {}: {cause}", plugin.path.display()));
            plugin.skipped = Some(format!("cannot resolve its path: {cause}"));
            return plugin;
        }
    }

    for folder in LIBRARY_FOLDERS {
        let dir = plugin.path.join(folder);
        match fs::metadata(&dir) {
            Ok(meta) if meta.is_dir() => match fs::canonicalize(&dir) {
                Ok(dir) if !plugin.library_dirs.contains(&dir) => plugin.library_dirs.push(dir),
                Ok(_) => {}
                Err(err) => plugin.problems.push(format!(
                    "cannot resolve {}: {}",
                    dir.display(),
                    describe_io_error(&err)
                )),
            },
            Ok(_) => tracing::debug!("ignoring {}: not a folder", dir.display()),
            Err(err) if err.kind() == io::ErrorKind::NotFound && !is_symlink(&dir) => {}
            Err(err) => plugin.problems.push(describe_follow_error(&dir, &err)),
        }
    }

    let hook_dir = plugin.path.join(HOOK_FOLDER);
    match fs::metadata(&hook_dir) {
        Err(err) if err.kind() == io::ErrorKind::NotFound && !is_symlink(&hook_dir) => {
            plugin.skipped = Some(format!(
                "no {HOOK_FOLDER}/ folder (hooks are only loaded from {})",
                hook_dir.display()
            ));
        }
        Err(err) => {
            plugin.problems.push(describe_follow_error(&hook_dir, &err));
            plugin.skipped = Some(format!(
                "cannot read {HOOK_FOLDER}/: {}",
                describe_io_error(&err)
            ));
        }
        Ok(meta) if !meta.is_dir() => {
            plugin.skipped = Some(format!("{} is not a folder", hook_dir.display()));
        }
        Ok(_) => {
            let walk = walk_hooks(&hook_dir);
            plugin.hooks = walk.hooks;
            if plugin.hooks.is_empty() {
                let mut reason = format!("no Rhai or native hooks in {HOOK_FOLDER}/");
                if walk.python > 0 {
                    reason.push_str(&python_note(walk.python));
                }
                if !walk.problems.is_empty() {
                    reason.push_str(&format!(
                        "; {} problem(s) while reading it",
                        walk.problems.len()
                    ));
                }
                plugin.skipped = Some(reason);
            }
            plugin.problems.extend(walk.problems);
        }
    }
    plugin
}

/// ` (found N Python hook files, which this host does not run)`
fn python_note(count: usize) -> String {
    let files = if count == 1 { "file" } else { "files" };
    format!(" (found {count} Python hook {files}, which this host does not run)")
}

/// Keeps only the newest version of each plugin name; marks the others skipped.
fn select_versions(plugins: &mut [DiscoveredPlugin]) {
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for (index, plugin) in plugins.iter().enumerate() {
        if plugin.layout == PluginLayout::Folder {
            groups.entry(plugin.name.clone()).or_default().push(index);
        }
    }
    let version_of = |plugin: &DiscoveredPlugin| plugin.version.clone().unwrap_or_default();
    for indices in groups.values().filter(|indices| indices.len() > 1) {
        // Indices are in load order, so on a tie the earliest stays the winner.
        let mut best = indices[0];
        for &index in &indices[1..] {
            if compare_versions(&version_of(&plugins[index]), &version_of(&plugins[best]))
                == Ordering::Greater
            {
                best = index;
            }
        }
        let best_version = version_of(&plugins[best]);
        let best_path = plugins[best].path.clone();
        for &index in indices.iter().filter(|&&index| index != best) {
            let plugin = &mut plugins[index];
            let reason = if compare_versions(&version_of(plugin), &best_version) == Ordering::Less {
                let shown = if best_version.is_empty() {
                    "an unversioned copy".to_string()
                } else {
                    format!("version {best_version}")
                };
                format!("older than {shown} at {}", best_path.display())
            } else {
                format!("same plugin already found at {}", best_path.display())
            };
            tracing::debug!("skipping {}: {reason}", plugin.path.display());
            plugin.skipped = Some(reason);
        }
    }
}

/// Claims the plugin's hook files; drops those another plugin (or an earlier walk of this
/// one) already claimed. Skips the plugin when that leaves it without hooks.
fn claim_hooks(plugin: &mut DiscoveredPlugin, claimed: &mut HashMap<PathBuf, PathBuf>) {
    if plugin.hooks.is_empty() {
        return;
    }
    let mut first_elsewhere: Option<PathBuf> = None;
    let mut kept = Vec::new();
    for hook in std::mem::take(&mut plugin.hooks) {
        let canonical = match fs::canonicalize(&hook.path) {
            Ok(canonical) => canonical,
            Err(err) => {
                plugin.problems.push(format!(
                    "cannot resolve {}: {}",
                    hook.path.display(),
                    describe_io_error(&err)
                ));
                continue;
            }
        };
        match claimed.entry(canonical) {
            Entry::Occupied(first) => {
                tracing::debug!(
                    "hook {} already loaded from {}; not loading it again",
                    hook.path.display(),
                    first.get().display()
                );
                first_elsewhere.get_or_insert_with(|| first.get().clone());
            }
            Entry::Vacant(slot) => {
                slot.insert(hook.path.clone());
                kept.push(hook);
            }
        }
    }
    plugin.hooks = kept;
    if plugin.hooks.is_empty() {
        plugin.skipped = Some(match first_elsewhere {
            Some(first) => format!("already loaded from {}", first.display()),
            None => "none of its hook files could be resolved".to_string(),
        });
    }
}

/// Adds one plugin per hook file found below a hook directory.
fn scan_hook_dir(
    dir: &UsableDir,
    claimed: &mut HashMap<PathBuf, PathBuf>,
    discovery: &mut Discovery,
) {
    let walk = walk_hooks(&dir.given);
    discovery.problems.extend(walk.problems);
    if walk.hooks.is_empty() {
        if walk.python > 0 {
            discovery.problems.push(format!(
                "no Rhai or native hooks in hook directory {}{}",
                dir.given.display(),
                python_note(walk.python)
            ));
        } else {
            tracing::debug!("no hooks in hook directory {}", dir.given.display());
        }
    }
    for hook in walk.hooks {
        let name = hook
            .path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut plugin = DiscoveredPlugin {
            name,
            version: None,
            path: hook.path.clone(),
            layout: PluginLayout::HookFile,
            root: dir.canonical.clone(),
            library_dirs: Vec::new(),
            hooks: vec![hook],
            skipped: None,
            problems: Vec::new(),
        };
        claim_hooks(&mut plugin, claimed);
        discovery.plugins.push(plugin);
    }
}

/// What walking a hook folder found.
#[derive(Default)]
struct Walk {
    hooks: Vec<HookFile>,
    /// Python hook files seen (not loadable here, counted for the messages).
    python: usize,
    problems: Vec<String>,
}

/// Walks a hook folder recursively, in load order, following symlinks.
fn walk_hooks(dir: &Path) -> Walk {
    let mut walk = Walk::default();
    let walker = WalkDir::new(dir)
        .follow_links(true)
        .sort_by(|a, b| {
            (walk_entry_is_dir(a), a.file_name()).cmp(&(walk_entry_is_dir(b), b.file_name()))
        })
        .into_iter()
        .filter_entry(|entry| entry.depth() == 0 || !is_hidden(entry.file_name()));
    for item in walker {
        match item {
            Ok(entry) => {
                if !entry.file_type().is_file() {
                    continue;
                }
                let name = entry.file_name();
                if let Some(kind) = hook_kind(name) {
                    walk.hooks.push(HookFile {
                        path: entry.into_path(),
                        kind,
                    });
                } else {
                    if has_suffix(name, PYTHON_SUFFIX) {
                        walk.python += 1;
                    }
                    tracing::debug!(
                        "ignoring {}: not a Rhai or native hook",
                        entry.path().display()
                    );
                }
            }
            Err(err) => {
                // Errors come before `filter_entry` sees the entry: drop hidden ones here.
                let hidden =
                    err.depth() > 0 && err.path().and_then(Path::file_name).is_some_and(is_hidden);
                if hidden {
                    tracing::debug!("ignoring hidden entry: {err}");
                } else {
                    walk.problems.push(describe_walk_error(dir, &err));
                }
            }
        }
    }
    walk
}

/// Whether a walk entry is a folder, following a symlink (sorting sees unfollowed entries).
fn walk_entry_is_dir(entry: &walkdir::DirEntry) -> bool {
    if entry.file_type().is_symlink() {
        fs::metadata(entry.path()).is_ok_and(|meta| meta.is_dir())
    } else {
        entry.file_type().is_dir()
    }
}

fn hook_kind(name: &OsStr) -> Option<HookKind> {
    if has_suffix(name, RHAI_SUFFIX) {
        Some(HookKind::Rhai)
    } else if has_suffix(name, std::env::consts::DLL_SUFFIX) {
        Some(HookKind::Native)
    } else {
        None
    }
}

/// Whether `name` ends with `suffix` and has something before it.
fn has_suffix(name: &OsStr, suffix: &str) -> bool {
    let bytes = name.as_encoded_bytes();
    !suffix.is_empty() && bytes.len() > suffix.len() && bytes.ends_with(suffix.as_bytes())
}

fn is_hidden(name: &OsStr) -> bool {
    name.as_encoded_bytes().starts_with(b".")
}

fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink())
}

/// An I/O error's message, naming symlink loops plainly.
fn describe_io_error(err: &io::Error) -> String {
    #[cfg(unix)]
    if err.raw_os_error() == Some(libc::ELOOP) {
        return format!("symlink loop ({err})");
    }
    err.to_string()
}

/// Why `path` could not be followed to what it names.
fn describe_follow_error(path: &Path, err: &io::Error) -> String {
    if err.kind() == io::ErrorKind::NotFound && is_symlink(path) {
        let target = fs::read_link(path)
            .map(|target| format!(" (points to missing {})", target.display()))
            .unwrap_or_default();
        format!("broken symlink {}{target}", path.display())
    } else {
        format!("cannot read {}: {}", path.display(), describe_io_error(err))
    }
}

fn describe_walk_error(walk_root: &Path, err: &walkdir::Error) -> String {
    if let Some(ancestor) = err.loop_ancestor() {
        let path = err.path().unwrap_or(walk_root);
        return format!(
            "symlink loop: {} leads back to {}; not followed",
            path.display(),
            ancestor.display()
        );
    }
    match (err.path(), err.io_error()) {
        (Some(path), Some(io_err)) => describe_follow_error(path, io_err),
        (None, Some(io_err)) => format!(
            "cannot read a folder below {}: {}",
            walk_root.display(),
            describe_io_error(io_err)
        ),
        _ => format!("cannot read below {}: {err}", walk_root.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::env::consts::DLL_SUFFIX;
    use tempfile::TempDir;

    fn touch(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "").unwrap();
    }

    fn mkdir(path: &Path) {
        fs::create_dir_all(path).unwrap();
    }

    #[cfg(unix)]
    fn symlink(target: impl AsRef<Path>, link: &Path) {
        std::os::unix::fs::symlink(target, link).unwrap();
    }

    fn roots(roots: &[&Path]) -> SearchPaths {
        SearchPaths {
            plugin_roots: roots.iter().map(|p| p.to_path_buf()).collect(),
            hook_dirs: Vec::new(),
        }
    }

    fn hook_dirs(dirs: &[&Path]) -> SearchPaths {
        SearchPaths {
            plugin_roots: Vec::new(),
            hook_dirs: dirs.iter().map(|p| p.to_path_buf()).collect(),
        }
    }

    fn names(discovery: &Discovery) -> Vec<&str> {
        discovery.plugins.iter().map(|p| p.name.as_str()).collect()
    }

    fn plugin<'a>(discovery: &'a Discovery, path: &Path) -> &'a DiscoveredPlugin {
        discovery
            .plugins
            .iter()
            .find(|p| p.path == path)
            .unwrap_or_else(|| panic!("no plugin at {}: {discovery:#?}", path.display()))
    }

    /// Hook paths relative to `base`, with `/` separators.
    fn rel_hooks(hooks: &[HookFile], base: &Path) -> Vec<String> {
        hooks
            .iter()
            .map(|h| {
                let rel = h.path.strip_prefix(base).unwrap();
                rel.to_string_lossy().replace('\\', "/")
            })
            .collect()
    }

    fn native(stem: &str) -> String {
        format!("{stem}{DLL_SUFFIX}")
    }

    fn canonical(path: &Path) -> PathBuf {
        fs::canonicalize(path).unwrap()
    }

    fn assert_contains(haystack: &str, needle: &str) {
        assert!(
            haystack.contains(needle),
            "{haystack:?} should contain {needle:?}"
        );
    }

    fn assert_some_contains(messages: &[String], needle: &str) {
        assert!(
            messages.iter().any(|m| m.contains(needle)),
            "{messages:#?} should have one containing {needle:?}"
        );
    }

    #[test]
    fn empty_and_missing_entries_are_skipped_silently() {
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().join("root");
        touch(&root.join("p/hook/a.rhai"));
        let hooks = tmp.path().join("hooks");
        touch(&hooks.join("h.rhai"));
        let missing = tmp.path().join("missing");
        let paths = SearchPaths {
            plugin_roots: vec![PathBuf::new(), "  ".into(), missing.clone(), root.clone()],
            hook_dirs: vec![
                PathBuf::new(),
                missing.join("deeper"),
                hooks.clone(),
                " ".into(),
            ],
        };
        let found = discover(&paths);
        assert_eq!(names(&found), ["p", "h"]);
        assert!(found.problems.is_empty(), "{:?}", found.problems);
        assert!(found.plugins.iter().all(|p| p.skipped.is_none()));
        assert!(found.plugins.iter().all(|p| p.problems.is_empty()));
    }

    #[test]
    fn entries_are_trimmed() {
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().join("root");
        touch(&root.join("p/hook/a.rhai"));
        let padded = format!(" {}\t", root.display());
        let found = discover(&roots(&[Path::new(&padded)]));
        assert_eq!(names(&found), ["p"]);
        assert_eq!(found.plugins[0].path, root.join("p"));
    }

    #[test]
    fn a_file_given_as_a_directory_is_reported() {
        let tmp = TempDir::new().unwrap();
        let file = tmp.path().join("file.rhai");
        touch(&file);
        let found = discover(&SearchPaths {
            plugin_roots: vec![file.clone()],
            hook_dirs: vec![file.clone()],
        });
        assert!(found.plugins.is_empty());
        assert_eq!(found.problems.len(), 2, "{:?}", found.problems);
        assert_some_contains(&found.problems, "not a folder");
    }

    #[cfg(unix)]
    #[test]
    fn the_same_root_or_hook_dir_reached_twice_is_used_once() {
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().join("root");
        touch(&root.join("p/hook/a.rhai"));
        let root_link = tmp.path().join("root-link");
        symlink(&root, &root_link);
        let hooks = tmp.path().join("hooks");
        touch(&hooks.join("h.rhai"));
        let hooks_link = tmp.path().join("hooks-link");
        symlink(&hooks, &hooks_link);

        let paths = SearchPaths {
            plugin_roots: vec![
                root.clone(),
                root.join("../root"),
                root.join("."),
                root_link.clone(),
            ],
            hook_dirs: vec![hooks.clone(), hooks.join("../hooks"), hooks_link.clone()],
        };
        let found = discover(&paths);
        assert_eq!(names(&found), ["p", "h"]);
        assert!(found.problems.is_empty(), "{:?}", found.problems);
        // The first spelling is the one used for reporting.
        assert_eq!(found.plugins[0].path, root.join("p"));
        assert_eq!(found.plugins[1].path, hooks.join("h.rhai"));

        // The first occurrence may be the symlink: then that is the spelling kept.
        let found = discover(&roots(&[&root_link, &root]));
        assert_eq!(found.plugins.len(), 1);
        assert_eq!(found.plugins[0].path, root_link.join("p"));
        assert_eq!(found.plugins[0].root, canonical(&root.join("p")));
    }

    #[test]
    fn load_order_is_roots_in_order_then_folders_by_name_then_hook_dirs() {
        let tmp = TempDir::new().unwrap();
        let first = tmp.path().join("first");
        let second = tmp.path().join("second");
        for name in ["b", "a", "B", "a_b", "a-b"] {
            touch(&first.join(name).join("hook/x.rhai"));
        }
        touch(&second.join("0").join("hook/x.rhai"));
        let h1 = tmp.path().join("h1");
        let h2 = tmp.path().join("h2");
        touch(&h1.join("one.rhai"));
        touch(&h2.join("two.rhai"));
        touch(&h2.join("three.rhai"));

        let paths = SearchPaths {
            // The second root comes first: given order beats names.
            plugin_roots: vec![second.clone(), first.clone()],
            hook_dirs: vec![h2.clone(), h1.clone()],
        };
        let found = discover(&paths);
        // Byte order: "B" < "a" < "a-b" < "a_b" < "b".
        assert_eq!(
            names(&found),
            ["0", "B", "a", "a-b", "a_b", "b", "three", "two", "one"]
        );
        assert!(found.plugins.iter().all(|p| p.skipped.is_none()));
    }

    /// Builds a hook tree exercising the walk order, returns the expected order.
    #[cfg(unix)]
    fn build_walk_tree(dir: &Path, outside: &Path) -> Vec<&'static str> {
        for file in [
            "z.rhai",
            "a.rhai",
            "sub_b/x.rhai",
            "sub_a/y.rhai",
            "sub_a/deep/q.rhai",
            "sub_a/b.rhai",
            "sub_a/zz/r.rhai",
            "Upper.rhai",
        ] {
            touch(&dir.join(file));
        }
        touch(&outside.join("folder/o.rhai"));
        touch(&outside.join("file.rhai"));
        // A symlinked folder sorts with the folders, a symlinked file with the files.
        symlink(outside.join("folder"), &dir.join("l_link"));
        symlink(outside.join("file.rhai"), &dir.join("c_link.rhai"));
        vec![
            "Upper.rhai",
            "a.rhai",
            "c_link.rhai",
            "z.rhai",
            "l_link/o.rhai",
            "sub_a/b.rhai",
            "sub_a/y.rhai",
            "sub_a/deep/q.rhai",
            "sub_a/zz/r.rhai",
            "sub_b/x.rhai",
        ]
    }

    #[cfg(unix)]
    #[test]
    fn walks_files_before_sub_folders_sorted_by_name() {
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().join("root");
        let hook = root.join("p/hook");
        let expected = build_walk_tree(&hook, &tmp.path().join("outside1"));
        let found = discover(&roots(&[&root]));
        assert_eq!(found.plugins.len(), 1);
        assert_eq!(rel_hooks(&found.plugins[0].hooks, &hook), expected);

        // The same order for a hook directory, one plugin per file.
        let hooks = tmp.path().join("hooks");
        let expected = build_walk_tree(&hooks, &tmp.path().join("outside2"));
        let found = discover(&hook_dirs(&[&hooks]));
        let paths: Vec<HookFile> = found.plugins.iter().map(|p| p.hooks[0].clone()).collect();
        assert_eq!(rel_hooks(&paths, &hooks), expected);
        assert!(found.problems.is_empty(), "{:?}", found.problems);
    }

    #[test]
    fn roots_hold_only_folders_and_skip_dot_folders() {
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().join("root");
        touch(&root.join("p/hook/a.rhai"));
        touch(&root.join(".git/hook/a.rhai"));
        touch(&root.join(".cache/hook/a.rhai"));
        touch(&root.join("README.md"));
        touch(&root.join("loose.rhai"));
        touch(&root.join(format!("loose{DLL_SUFFIX}")));
        let found = discover(&roots(&[&root]));
        assert_eq!(names(&found), ["p"]);
        assert!(found.problems.is_empty(), "{:?}", found.problems);
    }

    #[test]
    fn dot_entries_inside_hook_folders_are_skipped() {
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().join("root");
        let hook = root.join("p/hook");
        touch(&hook.join("a.rhai"));
        touch(&hook.join(".hidden.rhai"));
        touch(&hook.join(".git/objects/x.rhai"));
        let found = discover(&roots(&[&root]));
        assert_eq!(rel_hooks(&found.plugins[0].hooks, &hook), ["a.rhai"]);
    }

    #[test]
    fn parses_folder_names() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("my-tools-1.2.3", "my-tools", Some("1.2.3")),
            ("my-tools-1.2.3-linux", "my-tools", Some("1.2.3")),
            ("my-tools-1.2.3-x86_64", "my-tools", Some("1.2.3")),
            ("my-tools-1.2", "my-tools", Some("1.2")),
            ("my-tools-1.2.3.4", "my-tools", Some("1.2.3.4")),
            (
                "ftrack-application-launcher-1.0.6",
                "ftrack-application-launcher",
                Some("1.0.6"),
            ),
            ("plugin-24.0.0rc1", "plugin", Some("24.0.0rc1")),
            ("plugin-24.0.0rc1-windows", "plugin", Some("24.0.0rc1")),
            ("my-1.0-tools-2.0", "my-1.0-tools", Some("2.0")),
            ("maya2024-tools", "maya2024-tools", None),
            ("tools-2024", "tools-2024", None),
            ("tools", "tools", None),
            ("my_tools", "my_tools", None),
            ("-1.0", "-1.0", None),
            ("tools-1.2.3-", "tools-1.2.3-", None),
            ("tools-1.2.", "tools-1.2.", None),
            ("tools-1.2.3-linux-x86", "tools-1.2.3-linux-x86", None),
            ("tools-v1.2", "tools-v1.2", None),
            ("werkzeug-1.0.dev1", "werkzeug-1.0.dev1", None),
            (
                "\u{1F642}-tools-2.0-\u{e9}t\u{e9}",
                "\u{1F642}-tools",
                Some("2.0"),
            ),
            ("", "", None),
            ("-", "-", None),
            ("a--1.0", "a-", Some("1.0")),
        ];
        for &(folder, name, version) in cases {
            let parsed = parse_folder_name(folder);
            assert_eq!(
                (parsed.0.as_str(), parsed.1.as_deref()),
                (name, version),
                "parsing {folder:?}"
            );
        }
    }

    #[test]
    fn compares_versions_numerically() {
        use Ordering::*;
        let cases = [
            ("1.10.0", "1.9.2", Greater),
            ("1.2", "1.2.1", Less),
            ("1.2", "1.2.0", Equal),
            ("2.0", "10.0", Less),
            ("1.0.0", "1.0.0", Equal),
            ("010.1", "10.1", Equal),
            ("24.0.0rc1", "24.0.0", Less),
            ("24.0.0rc2", "24.0.0rc1", Greater),
            ("24.0.0rc10", "24.0.0rc9", Greater),
            ("24.0.0b1", "24.0.0rc1", Less),
            ("24.0.1rc1", "24.0.0", Greater),
            ("99999999999999999999999999.0", "9.0", Greater),
            ("", "0.0.0", Equal),
            ("", "0.0.1", Less),
            ("x", "0", Less),
        ];
        for (a, b, expected) in cases {
            assert_eq!(compare_versions(a, b), expected, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), expected.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn only_the_newest_version_of_a_name_loads() {
        let tmp = TempDir::new().unwrap();
        let first = tmp.path().join("first");
        let second = tmp.path().join("second");
        for folder in [
            "tools-1.9.2",
            "same-1.0",
            "plain",
            "dup-1.0",
            "dup-1.0.0",
            "plat-1.0.0-linux",
            "plat-1.1.0-windows",
            "maya2024-tools",
        ] {
            touch(&first.join(folder).join("hook/a.rhai"));
        }
        for folder in [
            "tools-1.10.0",
            "tools",
            "same-1.0",
            "plain",
            "maya2024-tools-1.0",
        ] {
            touch(&second.join(folder).join("hook/a.rhai"));
        }
        let found = discover(&roots(&[&first, &second]));
        let skipped = |path: PathBuf| plugin(&found, &path).skipped.clone();

        let newest = first.join("tools-1.9.2");
        assert_eq!(plugin(&found, &newest).version.as_deref(), Some("1.9.2"));
        assert_eq!(skipped(second.join("tools-1.10.0")), None);
        let older = format!(
            "older than version 1.10.0 at {}",
            second.join("tools-1.10.0").display()
        );
        assert_eq!(skipped(newest), Some(older.clone()));
        assert_eq!(skipped(second.join("tools")), Some(older));

        // Ties: the earlier root wins, then the earlier name in the same root.
        assert_eq!(skipped(first.join("same-1.0")), None);
        assert_eq!(
            skipped(second.join("same-1.0")),
            Some(format!(
                "same plugin already found at {}",
                first.join("same-1.0").display()
            ))
        );
        assert_eq!(skipped(first.join("plain")), None);
        assert_eq!(
            skipped(second.join("plain")),
            Some(format!(
                "same plugin already found at {}",
                first.join("plain").display()
            ))
        );
        assert_eq!(skipped(first.join("dup-1.0")), None);
        assert_eq!(
            skipped(first.join("dup-1.0.0")),
            Some(format!(
                "same plugin already found at {}",
                first.join("dup-1.0").display()
            ))
        );

        // Platform suffixes are not part of the version.
        assert_eq!(skipped(first.join("plat-1.1.0-windows")), None);
        assert_contains(
            &skipped(first.join("plat-1.0.0-linux")).unwrap(),
            "older than version 1.1.0",
        );

        // Digits in a name do not make a version; a versioned copy beats an unversioned one.
        let unversioned = plugin(&found, &first.join("maya2024-tools"));
        assert_eq!(unversioned.name, "maya2024-tools");
        assert_eq!(unversioned.version, None);
        assert_contains(
            unversioned.skipped.as_deref().unwrap(),
            "older than version 1.0 at",
        );
        assert_eq!(skipped(second.join("maya2024-tools-1.0")), None);

        // Skipped plugins keep their position in load order.
        assert_eq!(found.plugins.len(), 13);
        assert_eq!(found.plugins[0].path, first.join("dup-1.0"));
    }

    #[test]
    fn hooks_come_only_from_the_hook_folder() {
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().join("root");
        let p = root.join("p-1.0.0");
        touch(&p.join("hook/a.rhai"));
        touch(&p.join("hook").join(native("b")));
        touch(&p.join("hook/c.py"));
        touch(&p.join("hook/c.pyc"));
        touch(&p.join("hook/README"));
        touch(&p.join("hook/notes.txt"));
        touch(&p.join("hook/archive.rhai.bak"));
        mkdir(&p.join("hook/folder.rhai"));
        touch(&p.join("resource/r.rhai"));
        touch(&p.join("dependencies/d.rhai"));
        touch(&p.join("top.rhai"));
        touch(&root.join("q/dependencies/d.rhai"));
        touch(&root.join("q/hook/q.rhai"));
        touch(&root.join("r/resource"));
        touch(&root.join("r/hook/r.rhai"));

        let found = discover(&roots(&[&root]));
        let p_plugin = plugin(&found, &p);
        assert_eq!(p_plugin.name, "p");
        assert_eq!(p_plugin.layout, PluginLayout::Folder);
        assert_eq!(p_plugin.root, canonical(&p));
        assert_eq!(
            p_plugin.hooks,
            [
                HookFile {
                    path: p.join("hook/a.rhai"),
                    kind: HookKind::Rhai
                },
                HookFile {
                    path: p.join("hook").join(native("b")),
                    kind: HookKind::Native
                },
            ]
        );
        assert_eq!(
            p_plugin.library_dirs,
            [
                canonical(&p.join("resource")),
                canonical(&p.join("dependencies"))
            ]
        );
        assert_eq!(p_plugin.skipped, None);
        assert!(p_plugin.problems.is_empty(), "{:?}", p_plugin.problems);

        let q = plugin(&found, &root.join("q"));
        assert_eq!(q.library_dirs, [canonical(&root.join("q/dependencies"))]);
        // A plain file named `resource` is not a library folder.
        assert!(plugin(&found, &root.join("r")).library_dirs.is_empty());
    }

    #[test]
    fn folders_without_runnable_hooks_are_skipped_with_a_reason() {
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().join("root");
        touch(&root.join("no-hook/resource/x.rhai"));
        touch(&root.join("no-hook/hook.rhai"));
        for file in ["a.py", "b.py", "sub/c.py", "a.pyc", "README"] {
            touch(&root.join("python-only/hook").join(file));
        }
        touch(&root.join("one-python/hook/a.py"));
        mkdir(&root.join("empty/hook"));
        touch(&root.join("hook-file/hook"));

        let found = discover(&roots(&[&root]));
        let reason = |name: &str| plugin(&found, &root.join(name)).skipped.clone().unwrap();
        assert_contains(&reason("no-hook"), "no hook/ folder");
        assert_eq!(
            reason("python-only"),
            "no Rhai or native hooks in hook/ \
             (found 3 Python hook files, which this host does not run)"
        );
        assert_eq!(
            reason("one-python"),
            "no Rhai or native hooks in hook/ \
             (found 1 Python hook file, which this host does not run)"
        );
        assert_eq!(reason("empty"), "no Rhai or native hooks in hook/");
        assert_contains(&reason("hook-file"), "is not a folder");
        assert!(found.plugins.iter().all(|p| p.hooks.is_empty()));
        assert!(found.problems.is_empty(), "{:?}", found.problems);

        // A hook directory of Python hooks is reported too.
        let py_hooks = tmp.path().join("py-hooks");
        touch(&py_hooks.join("a.py"));
        touch(&py_hooks.join("b.py"));
        let found = discover(&hook_dirs(&[&py_hooks]));
        assert!(found.plugins.is_empty());
        assert_eq!(found.problems.len(), 1);
        assert_contains(
            &found.problems[0],
            "(found 2 Python hook files, which this host does not run)",
        );
    }

    #[test]
    fn hook_dirs_yield_one_plugin_per_hook_file() {
        let tmp = TempDir::new().unwrap();
        let hooks = tmp.path().join("hooks");
        touch(&hooks.join("a.rhai"));
        touch(&hooks.join("sub").join(native("b")));
        touch(&hooks.join("sub/c.py"));
        touch(&hooks.join("readme.md"));
        touch(&hooks.join("two.dots.rhai"));
        let found = discover(&hook_dirs(&[&hooks]));
        assert_eq!(names(&found), ["a", "two.dots", "b"]);
        for p in &found.plugins {
            assert_eq!(p.layout, PluginLayout::HookFile);
            assert_eq!(p.version, None);
            assert_eq!(p.root, canonical(&hooks));
            assert!(p.library_dirs.is_empty());
            assert_eq!(p.skipped, None);
            assert_eq!(p.hooks.len(), 1);
            assert_eq!(p.hooks[0].path, p.path);
        }
        assert_eq!(found.plugins[0].path, hooks.join("a.rhai"));
        assert_eq!(found.plugins[0].hooks[0].kind, HookKind::Rhai);
        assert_eq!(found.plugins[2].path, hooks.join("sub").join(native("b")));
        assert_eq!(found.plugins[2].hooks[0].kind, HookKind::Native);
        assert!(found.problems.is_empty(), "{:?}", found.problems);
    }

    #[cfg(unix)]
    #[test]
    fn a_hook_file_reached_twice_loads_once() {
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().join("root");
        let p_hook = root.join("p/hook");
        touch(&p_hook.join("a.rhai"));
        touch(&p_hook.join("b.rhai"));
        // Inside one plugin: `two` is `one` again.
        touch(&root.join("q/hook/one/x.rhai"));
        symlink("one", &root.join("q/hook/two"));
        // Another plugin whose hook/ is p's.
        mkdir(&root.join("r"));
        symlink(&p_hook, &root.join("r/hook"));
        // p's hook/ also listed as a hook directory, through a symlink.
        let alias = tmp.path().join("alias");
        symlink(&p_hook, &alias);

        let paths = SearchPaths {
            plugin_roots: vec![root.clone()],
            hook_dirs: vec![alias.clone()],
        };
        let found = discover(&paths);
        assert!(found.problems.is_empty(), "{:?}", found.problems);
        let p = plugin(&found, &root.join("p"));
        assert_eq!(rel_hooks(&p.hooks, &p_hook), ["a.rhai", "b.rhai"]);
        assert_eq!(p.skipped, None);

        let q = plugin(&found, &root.join("q"));
        assert_eq!(rel_hooks(&q.hooks, &root.join("q/hook")), ["one/x.rhai"]);
        assert_eq!(q.skipped, None);

        let r = plugin(&found, &root.join("r"));
        assert!(r.hooks.is_empty());
        assert_eq!(
            r.skipped,
            Some(format!(
                "already loaded from {}",
                p_hook.join("a.rhai").display()
            ))
        );

        for (file, first) in [("a.rhai", "a.rhai"), ("b.rhai", "b.rhai")] {
            let again = plugin(&found, &alias.join(file));
            assert_eq!(again.layout, PluginLayout::HookFile);
            assert!(again.hooks.is_empty());
            assert_eq!(
                again.skipped,
                Some(format!(
                    "already loaded from {}",
                    p_hook.join(first).display()
                ))
            );
        }
        assert_eq!(found.plugins.len(), 5);
    }

    #[test]
    fn skipped_plugins_do_not_claim_hooks() {
        // An older version's hooks are not loaded, so the same file in a hook dir still is.
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().join("root");
        touch(&root.join("t-1.0/hook/old.rhai"));
        touch(&root.join("t-2.0/hook/new.rhai"));
        let found = discover(&SearchPaths {
            plugin_roots: vec![root.clone()],
            hook_dirs: vec![root.join("t-1.0/hook")],
        });
        assert_eq!(names(&found), ["t", "t", "old"]);
        assert!(found.plugins[0].skipped.is_some());
        assert_eq!(found.plugins[1].skipped, None);
        assert_eq!(found.plugins[2].skipped, None);
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loops_are_reported_and_discovery_goes_on() {
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().join("root");
        let hook = root.join("p/hook");
        touch(&hook.join("a.rhai"));
        touch(&hook.join("sub/b.rhai"));
        symlink("..", &hook.join("sub/up"));
        symlink("self.rhai", &hook.join("self.rhai"));
        touch(&root.join("z/hook/z.rhai"));
        // Loops at root level.
        symlink("selfloop", &root.join("selfloop"));
        let root_loop = tmp.path().join("root-loop");
        symlink("root-loop", &root_loop);
        let hooks = tmp.path().join("hooks");
        touch(&hooks.join("h.rhai"));
        symlink(".", &hooks.join("again"));

        let paths = SearchPaths {
            plugin_roots: vec![root_loop.clone(), root.clone()],
            hook_dirs: vec![hooks.clone()],
        };
        let found = discover(&paths);
        let p = plugin(&found, &root.join("p"));
        assert_eq!(rel_hooks(&p.hooks, &hook), ["a.rhai", "sub/b.rhai"]);
        assert_eq!(p.skipped, None);
        assert_eq!(p.problems.len(), 2, "{:?}", p.problems);
        assert_some_contains(
            &p.problems,
            &format!(
                "symlink loop: {} leads back to",
                hook.join("sub/up").display()
            ),
        );
        assert_some_contains(
            &p.problems,
            &format!(
                "cannot read {}: symlink loop",
                hook.join("self.rhai").display()
            ),
        );
        assert_eq!(plugin(&found, &root.join("z")).skipped, None);
        assert_eq!(plugin(&found, &hooks.join("h.rhai")).skipped, None);

        assert_eq!(found.problems.len(), 3, "{:?}", found.problems);
        assert_some_contains(
            &found.problems,
            &format!(
                "cannot use plugin directory {}: symlink loop",
                root_loop.display()
            ),
        );
        assert_some_contains(
            &found.problems,
            &format!(
                "cannot read {}: symlink loop",
                root.join("selfloop").display()
            ),
        );
        assert_some_contains(
            &found.problems,
            &format!(
                "symlink loop: {} leads back to",
                hooks.join("again").display()
            ),
        );
    }

    #[cfg(unix)]
    #[test]
    fn broken_symlinks_are_reported() {
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().join("root");
        touch(&root.join("p/hook/a.rhai"));
        symlink("missing.rhai", &root.join("p/hook/gone.rhai"));
        // Editors leave dangling dot-links (`.#file`): ignored like any dot entry.
        symlink("user@host.1234", &root.join("p/hook/.#a.rhai"));
        symlink("missing", &root.join("dangling"));
        mkdir(&root.join("q"));
        symlink("missing", &root.join("q/hook"));

        let found = discover(&roots(&[&root]));
        assert_eq!(
            found.problems,
            [format!(
                "broken symlink {} (points to missing missing)",
                root.join("dangling").display()
            )]
        );
        let p = plugin(&found, &root.join("p"));
        assert_eq!(p.hooks.len(), 1);
        assert_eq!(
            p.problems,
            [format!(
                "broken symlink {} (points to missing missing.rhai)",
                root.join("p/hook/gone.rhai").display()
            )]
        );
        let q = plugin(&found, &root.join("q"));
        assert_some_contains(&q.problems, "broken symlink");
        assert_contains(q.skipped.as_deref().unwrap(), "cannot read hook/");
    }

    /// Creates `levels` nested folders of 200-character names below `base` (with `*at`
    /// calls, as the full path ends up longer than `PATH_MAX`), returns the deepest path.
    #[cfg(target_os = "linux")]
    fn make_deep_dir(base: &Path, levels: usize) -> PathBuf {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let name = "d".repeat(200);
        let c_name = CString::new(name.as_str()).unwrap();
        let c_base = CString::new(base.as_os_str().as_bytes()).unwrap();
        let flags = libc::O_RDONLY | libc::O_DIRECTORY;
        // SAFETY: plain libc calls on valid NUL-terminated strings and descriptors we own.
        unsafe {
            let mut fd = libc::open(c_base.as_ptr(), flags);
            assert!(fd >= 0);
            for _ in 0..levels {
                assert_eq!(libc::mkdirat(fd, c_name.as_ptr(), 0o755), 0);
                let next = libc::openat(fd, c_name.as_ptr(), flags);
                libc::close(fd);
                assert!(next >= 0);
                fd = next;
            }
            libc::close(fd);
        }
        let mut path = base.to_path_buf();
        for _ in 0..levels {
            path.push(&name);
        }
        path
    }

    /// Unreadable folders, in a way that fails even for root (whom `chmod 000` does not
    /// stop): paths longer than `PATH_MAX` cannot be opened by anyone.
    #[cfg(target_os = "linux")]
    #[test]
    fn unreadable_folders_are_reported_even_as_root() {
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().join("root");
        let hook = root.join("p/hook");
        touch(&hook.join("a.rhai"));
        mkdir(&hook.join("deep"));
        touch(&hook.join("z/z.rhai"));
        let deep = make_deep_dir(&hook.join("deep"), 25);
        assert!(fs::read_dir(&deep).is_err());
        let hooks = tmp.path().join("hooks");
        mkdir(&hooks);
        let deep_root = make_deep_dir(&hooks, 25);

        let paths = SearchPaths {
            plugin_roots: vec![deep_root.clone(), root.clone()],
            hook_dirs: vec![deep_root.clone()],
        };
        let found = discover(&paths);
        let p = plugin(&found, &root.join("p"));
        // The readable hooks, before and after the unreadable folder, still load.
        assert_eq!(rel_hooks(&p.hooks, &hook), ["a.rhai", "z/z.rhai"]);
        assert_eq!(p.skipped, None);
        assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
        assert_contains(&p.problems[0], "cannot read ");
        assert_contains(&p.problems[0], "File name too long");

        assert_eq!(found.problems.len(), 2, "{:?}", found.problems);
        assert_contains(&found.problems[0], "cannot use plugin directory ");
        assert_contains(&found.problems[1], "cannot use hook directory ");
        assert!(found
            .problems
            .iter()
            .all(|m| m.contains("File name too long")));
    }

    /// Permission-denied folders: asserted as such only when they really are unreadable
    /// (not as root); otherwise their hooks must simply be found.
    #[cfg(unix)]
    #[test]
    fn permission_denied_folders_are_reported() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().join("root");
        let hook = root.join("p/hook");
        touch(&hook.join("a.rhai"));
        touch(&hook.join("locked/x.rhai"));
        touch(&root.join("q/hook/q.rhai"));
        let locked = [hook.join("locked"), root.join("q")];
        for dir in &locked {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o000)).unwrap();
        }
        let enforced = fs::read_dir(&locked[0]).is_err();
        let found = discover(&roots(&[&root]));
        for dir in &locked {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        }

        let p = plugin(&found, &root.join("p"));
        let q = plugin(&found, &root.join("q"));
        if enforced {
            assert_eq!(rel_hooks(&p.hooks, &hook), ["a.rhai"]);
            assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
            assert_contains(
                &p.problems[0],
                &format!("cannot read {}: ", locked[0].display()),
            );
            assert_contains(q.skipped.as_deref().unwrap(), "cannot read hook/");
            assert_some_contains(&q.problems, "cannot read ");
        } else {
            assert_eq!(rel_hooks(&p.hooks, &hook), ["a.rhai", "locked/x.rhai"]);
            assert_eq!(q.skipped, None);
        }
    }

    #[cfg(unix)]
    #[test]
    fn odd_names_do_not_panic() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let tmp = TempDir::new().unwrap();
        let root = tmp.path().join("root");
        let folder = root.join(OsStr::from_bytes(b"\xff\xfe-1.0"));
        touch(&folder.join("hook").join(OsStr::from_bytes(b"\xff.rhai")));
        touch(&root.join("with space-2.0-linux/hook/ok.rhai"));
        touch(&root.join("\u{1F642}/hook/\u{e9}.rhai"));
        let hooks = tmp.path().join(OsStr::from_bytes(b"hooks\x80"));
        touch(&hooks.join(OsStr::from_bytes(b"\xfe.rhai")));
        touch(&hooks.join(OsStr::from_bytes(b"\xfe.py")));
        symlink(
            OsStr::from_bytes(b"\xf0missing"),
            &root.join(OsStr::from_bytes(b"\xf1")),
        );

        let found = discover(&SearchPaths {
            plugin_roots: vec![root.clone()],
            hook_dirs: vec![hooks.clone()],
        });
        assert_eq!(
            names(&found),
            ["with space", "\u{1F642}", "\u{FFFD}\u{FFFD}", "\u{FFFD}"]
        );
        let odd = plugin(&found, &folder);
        assert_eq!(odd.version.as_deref(), Some("1.0"));
        assert_eq!(odd.hooks.len(), 1);
        assert!(found.plugins.iter().all(|p| p.skipped.is_none()));
        assert_eq!(found.problems.len(), 1, "{:?}", found.problems);
        assert_contains(&found.problems[0], "broken symlink");
    }
}
