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
//! Hook files are Rhai scripts (`.rhai`), native libraries (names ending in
//! [`std::env::consts::DLL_SUFFIX`]) or Python hooks (`.py`, as ftrack's own loader finds
//! them: every `.py` file below `hook/`; one without a `register` is not a hook, which the
//! registry says).
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
//! * A plugin folder without a `hook/` folder, or without hooks in it, is skipped with a
//!   reason.
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

use connect_core::version::compare_versions;
use walkdir::WalkDir;

use crate::cores::on_every_core;
use hook_folder::HookFolder;

mod hook_folder;

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
    /// A Python hook (`.py`), run by ftrack's `ftrack_api` in a bridge process.
    Python,
}

/// One hook file to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookFile {
    /// The file as found while walking (below [`DiscoveredPlugin::path`]), not canonicalised.
    pub path: PathBuf,
    /// Rhai script, native library or Python hook.
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
    /// The plugin folder's `launch/` folder of launcher configs, when it has one. A folder
    /// with launcher configs and no hook (an integration that only adds applications) is a
    /// plugin all the same.
    pub launch_dir: Option<PathBuf>,
}

/// The folder inside a plugin folder that holds its hooks.
const HOOK_FOLDER: &str = "hook";
/// The folder inside a plugin folder that holds launcher configs (read by the application
/// launcher; a change there is a change to the plugin).
pub const LAUNCH_FOLDER: &str = "launch";
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
    // The real paths of the hook files the walks reached through no link.
    let mut resolved = HashMap::new();

    let mut seen_roots = HashSet::new();
    for entry in &paths.plugin_roots {
        if let Some(dir) = usable_dir(
            entry,
            "plugin directory",
            &mut seen_roots,
            &mut discovery.problems,
        ) {
            scan_root(&dir, &mut discovery, &mut resolved);
        }
    }

    select_versions(&mut discovery.plugins);

    // Maps each hook file claimed so far (canonical path) to where it was first found.
    let mut claimed = HashMap::new();
    for plugin in discovery.plugins.iter_mut().filter(|p| p.skipped.is_none()) {
        claim_hooks(plugin, &mut claimed, &resolved);
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
fn scan_root(
    root: &UsableDir,
    discovery: &mut Discovery,
    resolved: &mut HashMap<PathBuf, PathBuf>,
) {
    let canonical_root = &root.canonical;
    let root = &root.given;
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
        // A plain folder (no link) is known from the listing, and so is its real path: below
        // the root's. Links are followed, and resolved later.
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            let canonical = canonical_root.join(&name);
            folders.push((name, path, Some(canonical)));
            continue;
        }
        match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => folders.push((name, path, None)),
            Ok(_) => tracing::debug!("ignoring {}: not a plugin folder", path.display()),
            Err(err) => discovery.problems.push(describe_follow_error(&path, &err)),
        }
    }
    folders.sort_by(|a, b| a.0.cmp(&b.0));
    let scanned = on_every_core(&folders, |(name, path, canonical)| {
        let mut known = HashMap::new();
        let plugin = scan_plugin_folder(name, path.clone(), canonical.clone(), &mut known);
        (plugin, known)
    });
    discovery.plugins.reserve(scanned.len());
    for (plugin, known) in scanned {
        discovery.plugins.push(plugin);
        resolved.extend(known);
    }
}

/// What discovery learns of a name inside a plugin folder from one `lstat` of it.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Listed {
    /// Not there: no further look needed to know it.
    Absent,
    /// A folder reached through no link: its real path is below the plugin's.
    PlainFolder,
    /// A link, a file, or it could not be looked at: look at the path itself, following links.
    LookCloser,
}

/// What discovery learns of each name it looks for in a plugin folder: most plugin folders
/// have a `hook/` and none of the other names (`resource/`, `dependencies/`, `launch/`).
///
/// One `lstat` a name, rather than a listing of the folder: ext4 reads even a one-block
/// folder through its hash index, building a tree of its entries on each listing, and a
/// listing is four system calls (open, `fstat`, two reads) and a close. Four `lstat`s cost
/// about 30% less (`docs/benchmarks.md`), and asking for the name is also how ftrack's
/// Python loader finds `hook/` (so a case-insensitive file system finds `Hook/` alike).
///
/// `hook/` is opened rather than looked at ([`HookFolder`]): a plain folder is then listed
/// from that handle.
struct Listing {
    listed: [Listed; LISTED_NAMES.len()],
    hook_folder: Option<HookFolder>,
}

/// The names a [`Listing`] holds, in its order.
const LISTED_NAMES: [&str; 4] = [
    HOOK_FOLDER,
    LAUNCH_FOLDER,
    LIBRARY_FOLDERS[0],
    LIBRARY_FOLDERS[1],
];

impl Listing {
    fn read(folder: &Path) -> Listing {
        let not_found = |err: io::Error| match err.kind() {
            io::ErrorKind::NotFound => Listed::Absent,
            _ => Listed::LookCloser,
        };
        let mut hook_folder = None;
        let listed = LISTED_NAMES.map(|name| {
            let path = folder.join(name);
            if name == HOOK_FOLDER {
                return match HookFolder::open(&path) {
                    Ok(opened) => {
                        hook_folder = Some(opened);
                        Listed::PlainFolder
                    }
                    Err(err) => not_found(err),
                };
            }
            match fs::symlink_metadata(path) {
                Ok(meta) if meta.is_dir() => Listed::PlainFolder,
                Ok(_) => Listed::LookCloser,
                Err(err) => not_found(err),
            }
        });
        Listing {
            listed,
            hook_folder,
        }
    }

    fn get(&self, name: &str) -> Listed {
        match LISTED_NAMES.iter().position(|listed| *listed == name) {
            Some(at) => self.listed[at],
            None => unreachable!("discovery looks only for the names a listing holds, not {name}"),
        }
    }
}

/// Describes one plugin folder: name, version, library folders and the hooks in `hook/`.
/// `canonical` is the folder's real path when the caller knows it.
fn scan_plugin_folder(
    folder_name: &OsStr,
    path: PathBuf,
    canonical: Option<PathBuf>,
    resolved: &mut HashMap<PathBuf, PathBuf>,
) -> DiscoveredPlugin {
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
        launch_dir: None,
    };
    match canonical.map_or_else(|| fs::canonicalize(&plugin.path), Ok) {
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

    let mut listing = Listing::read(&plugin.path);
    for folder in LIBRARY_FOLDERS {
        match listing.get(folder) {
            Listed::Absent => continue,
            Listed::PlainFolder => {
                let dir = plugin.root.join(folder);
                if !plugin.library_dirs.contains(&dir) {
                    plugin.library_dirs.push(dir);
                }
                continue;
            }
            Listed::LookCloser => {}
        }
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
    let hook_dir_kind = match listing.get(HOOK_FOLDER) {
        Listed::Absent => Err(io::ErrorKind::NotFound.into()),
        Listed::PlainFolder => Ok(true),
        Listed::LookCloser => fs::metadata(&hook_dir).map(|meta| meta.is_dir()),
    };
    match hook_dir_kind {
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
        Ok(false) => {
            plugin.skipped = Some(format!("{} is not a folder", hook_dir.display()));
        }
        Ok(true) => {
            let canonical = plugin.root.join(HOOK_FOLDER);
            let flat = listing
                .hook_folder
                .take()
                .and_then(|folder| list_flat_hooks(folder, &hook_dir, &canonical));
            let walk = flat.unwrap_or_else(|| walk_hooks(&hook_dir, &canonical));
            resolved.extend(walk.resolved);
            plugin.hooks = walk.hooks;
            if plugin.hooks.is_empty() {
                let mut reason = format!("no hooks in {HOOK_FOLDER}/");
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
    let launch_dir = plugin.path.join(LAUNCH_FOLDER);
    let has_launch_dir = match listing.get(LAUNCH_FOLDER) {
        Listed::Absent => false,
        Listed::PlainFolder => true,
        Listed::LookCloser => launch_dir.is_dir(),
    };
    if has_launch_dir {
        plugin.launch_dir = Some(launch_dir);
        // No hook to run, but applications to offer: loaded for its launcher configs, with
        // why it has no hook kept as a note.
        if plugin.hooks.is_empty() {
            if let Some(reason) = plugin.skipped.take() {
                plugin
                    .problems
                    .push(format!("{reason}: loaded for its launcher configs only"));
            }
        }
    }
    plugin
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
/// `resolved` holds the real paths the walk already knows (files reached through no link).
fn claim_hooks(
    plugin: &mut DiscoveredPlugin,
    claimed: &mut HashMap<PathBuf, PathBuf>,
    resolved: &HashMap<PathBuf, PathBuf>,
) {
    if plugin.hooks.is_empty() {
        return;
    }
    let mut first_elsewhere: Option<PathBuf> = None;
    let mut kept = Vec::new();
    for hook in std::mem::take(&mut plugin.hooks) {
        let known = resolved.get(&hook.path).cloned();
        let canonical = match known.map_or_else(|| fs::canonicalize(&hook.path), Ok) {
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
    let walk = walk_hooks(&dir.given, &dir.canonical);
    discovery.problems.extend(walk.problems.iter().cloned());
    if walk.hooks.is_empty() {
        tracing::debug!("no hooks in hook directory {}", dir.given.display());
    }
    for hook in walk.hooks.iter().cloned() {
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
            launch_dir: None,
        };
        claim_hooks(&mut plugin, claimed, &walk.resolved);
        discovery.plugins.push(plugin);
    }
}

/// What walking a hook folder found.
#[derive(Default)]
struct Walk {
    hooks: Vec<HookFile>,
    problems: Vec<String>,
    /// The real path of each hook file reached through no link.
    resolved: HashMap<PathBuf, PathBuf>,
}

impl Walk {
    /// Keeps the file at `path` if its name makes it a hook; `real` is its real path when
    /// known without a system call (a file reached through no link).
    fn found_file(&mut self, path: PathBuf, real: Option<PathBuf>) {
        match path.file_name().and_then(hook_kind) {
            Some(kind) => {
                if let Some(real) = real {
                    self.resolved.insert(path.clone(), real);
                }
                self.hooks.push(HookFile { path, kind });
            }
            None => tracing::debug!("ignoring {}: not a hook file", path.display()),
        }
    }
}

/// Walks a hook folder recursively, in load order, following symlinks.
fn walk_hooks(dir: &Path, canonical: &Path) -> Walk {
    let mut walk = Walk::default();
    // Folders reached through a link: their files' real paths are not `canonical`'s.
    let mut linked: Vec<PathBuf> = Vec::new();
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
                if entry.path_is_symlink() && entry.file_type().is_dir() {
                    linked.push(entry.path().to_path_buf());
                }
                if !entry.file_type().is_file() {
                    continue;
                }
                // A file on no link keeps its place below the canonical folder: its real path
                // costs no system call (`claim_hooks` resolves the others).
                let on_link =
                    entry.path_is_symlink() || linked.iter().any(|l| entry.path().starts_with(l));
                let real = match entry.path().strip_prefix(dir) {
                    Ok(relative) if !on_link => Some(canonical.join(relative)),
                    _ => None,
                };
                walk.found_file(entry.into_path(), real);
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

/// What [`walk_hooks`] finds in `dir`, a plugin's `hook/` folder reached through no link
/// (`folder`, open), when it holds plain files only (the usual case), from one listing:
/// without `walkdir`'s `stat` of the folder. `None` when it holds anything else or cannot be
/// listed: the walk then finds that, and says what went wrong.
fn list_flat_hooks(folder: HookFolder, dir: &Path, canonical: &Path) -> Option<Walk> {
    let mut names = folder.plain_file_names()?;
    // The walk's order: by name (its folders, last, are none here).
    names.sort();
    let mut walk = Walk::default();
    for name in names.iter().filter(|name| !is_hidden(name)) {
        walk.found_file(dir.join(name), Some(canonical.join(name)));
    }
    Some(walk)
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
    } else if has_suffix(name, PYTHON_SUFFIX) {
        Some(HookKind::Python)
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
mod tests;
