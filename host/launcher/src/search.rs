//! Finding the installed versions of a program: walking a search path's levels.
//!
//! A search path is a literal root folder and then one regular expression per path level
//! (ftrack's `prefix` and `expression`). Every level but the last keeps the folders whose
//! name the level's expression matches; at the last level every matching entry, file or
//! folder (a macOS `.app` is a folder), is one installation. Links are followed. The walk is
//! bounded by the number of levels, so a link loop cannot make it endless. Folders that cannot
//! be read (another user's home, a mount that went away) are skipped: a search path usually
//! looks through places that are not all readable, and that is no fault of the config.
//!
//! The version of each installation is found with the config's `version_expression` in the
//! full path; installations are returned newest first, comparing versions numerically part by
//! part (`10` after `9`, `2024.1` after `2024`) with [`compare_versions`].

use std::cmp::Ordering;
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::config::SearchPath;
use connect_core::version::compare_versions;

/// The version given to an installation whose path the version expression does not match,
/// as ftrack's `LooseVersion('0.0.0')`.
pub const UNKNOWN_VERSION: &str = "0.0.0";

/// One installed version of a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    /// The matched path, as found by walking (not canonicalised).
    pub path: PathBuf,
    /// Its version (see `version_expression`); [`UNKNOWN_VERSION`] when none is found.
    pub version: String,
}

/// Every installation `search` finds, newest first (equal versions in path order).
pub fn find_installations(search: &SearchPath) -> Vec<Installation> {
    let mut installations: Vec<Installation> = matching_paths(&search.root, search)
        .into_iter()
        .map(|path| {
            let text = path.to_string_lossy();
            let version = search
                .version_expression
                .captures(&text)
                .and_then(|found| found.name("version"))
                .map_or(UNKNOWN_VERSION.to_string(), |m| m.as_str().to_string());
            Installation { path, version }
        })
        .collect();
    installations.sort_by(|a, b| newest_first(&a.version, &b.version));
    installations
}

/// Orders versions newest first.
pub fn newest_first(a: &str, b: &str) -> Ordering {
    compare_versions(b, a)
}

fn matching_paths(root: &Path, search: &SearchPath) -> Vec<PathBuf> {
    if fs::metadata(root).is_err() {
        tracing::debug!(
            "search path root {} does not exist: nothing found there",
            root.display()
        );
        return Vec::new();
    }
    let mut current = vec![root.to_path_buf()];
    let last = search.levels.len().saturating_sub(1);
    for (depth, level) in search.levels.iter().enumerate() {
        let mut next = Vec::new();
        for folder in &current {
            let entries = match fs::read_dir(folder) {
                Ok(entries) => entries,
                Err(err) => {
                    tracing::debug!("search path: skipping {}: {err}", folder.display());
                    continue;
                }
            };
            let mut matched: Vec<(String, PathBuf)> = entries
                .filter_map(Result::ok)
                .filter_map(|entry| {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    level.is_match(&name).then(|| (name, entry.path()))
                })
                .collect();
            matched.sort();
            for (_, path) in matched {
                // fs::metadata follows links; a broken link is nothing found.
                match fs::metadata(&path) {
                    Ok(meta) if depth < last && !meta.is_dir() => {}
                    Ok(_) => next.push(path),
                    Err(_) => {}
                }
            }
        }
        current = next;
    }
    // The same installation reached through a link and directly is offered once.
    let mut seen = HashSet::new();
    current.retain(|path| seen.insert(fs::canonicalize(path).unwrap_or_else(|_| path.clone())));
    current
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn search(root: &Path, levels: &[&str], version: &str) -> SearchPath {
        SearchPath {
            root: root.to_path_buf(),
            levels: levels
                .iter()
                .map(|l| Regex::new(&format!("^(?:{l})")).unwrap())
                .collect(),
            version_expression: Regex::new(version).unwrap(),
            launch_arguments: Vec::new(),
        }
    }

    fn touch(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "").unwrap();
    }

    #[test]
    fn walks_levels_and_orders_versions_numerically() {
        let tmp = tempfile::tempdir().unwrap();
        for version in ["9", "10", "2.5", "10.1"] {
            touch(&tmp.path().join(format!("app{version}/bin/app")));
        }
        touch(&tmp.path().join("app11/bin/other"));
        touch(&tmp.path().join("app12/lib/app"));
        touch(&tmp.path().join("notapp3/bin/app"));
        // A file where a folder level is expected is not walked into.
        touch(&tmp.path().join("app13"));
        let found = find_installations(&search(
            tmp.path(),
            &["app.+", "bin", "app$"],
            r"app(?P<version>\d+(\.\d+)*)",
        ));
        let versions: Vec<&str> = found.iter().map(|i| i.version.as_str()).collect();
        assert_eq!(versions, ["10.1", "10", "9", "2.5"]);
        assert_eq!(found[0].path, tmp.path().join("app10.1/bin/app"));
    }

    #[test]
    fn missing_root_and_unmatched_version() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(
            find_installations(&search(&tmp.path().join("none"), &["x"], "(?P<version>x)"))
                .is_empty()
        );
        touch(&tmp.path().join("tool/run"));
        let found = find_installations(&search(
            tmp.path(),
            &["tool", "run"],
            r"tool(?P<version>\d+)",
        ));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].version, UNKNOWN_VERSION);
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_and_reached_once() {
        let tmp = tempfile::tempdir().unwrap();
        touch(&tmp.path().join("real/app1/bin/app"));
        fs::create_dir_all(tmp.path().join("apps")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("real/app1"), tmp.path().join("apps/app1"))
            .unwrap();
        std::os::unix::fs::symlink(
            tmp.path().join("real/app1"),
            tmp.path().join("apps/app1-again"),
        )
        .unwrap();
        // A loop and a dangling link are harmless.
        std::os::unix::fs::symlink(tmp.path().join("apps"), tmp.path().join("apps/app-loop"))
            .unwrap();
        std::os::unix::fs::symlink(tmp.path().join("gone"), tmp.path().join("apps/app-gone"))
            .unwrap();
        let found = find_installations(&search(
            &tmp.path().join("apps"),
            &["app.*", "bin", "app"],
            r"app(?P<version>\d+)",
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, tmp.path().join("apps/app1/bin/app"));
    }
}
