//! Installing a plugin from a `.zip` into the plugin directory, and removing one: what the
//! window's Plugins tab does when a pipeline engineer drops an archive on it.
//!
//! An archive comes from anywhere, so nothing in it is trusted:
//!
//! - every entry must stay inside the new plugin folder: no absolute path, no `..`, no link
//!   (a link could point anywhere once unpacked); one such entry refuses the whole archive;
//! - at most [`MAX_ENTRIES`] entries and [`MAX_UNPACKED_BYTES`] unpacked, counted as they are
//!   written (an entry's declared size is not believed);
//! - it is unpacked into a hidden folder beside the others (discovery skips hidden folders)
//!   and renamed into place only when complete: a failed install leaves nothing, and the
//!   watcher never sees half a plugin;
//! - a plugin folder of the same name is never replaced unless the caller says so (the window
//!   asks the user first); when it is, the old folder is moved aside before the new one goes
//!   in, and deleted after.
//!
//! The plugin folder's name is the archive's single top-level folder when it has one
//! (`studio-tools-1.2.0/hook/...`), else the archive's file name without `.zip`.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// The most entries an archive may have.
pub const MAX_ENTRIES: usize = 10_000;

/// The most bytes an archive may unpack to.
pub const MAX_UNPACKED_BYTES: u64 = 512 << 20;

/// Why an archive was not installed, or a plugin not removed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// Not a zip archive, or a damaged one.
    #[error("{archive} is not a zip archive that can be read: {why}")]
    NotZip {
        /// The archive's file name.
        archive: String,
        /// What the zip reader said.
        why: String,
    },
    /// An entry would land outside the plugin folder, or is a link.
    #[error("{archive}: entry {entry:?} {why}; nothing was installed")]
    UnsafeEntry {
        /// The archive's file name.
        archive: String,
        /// The entry's name as the archive gives it.
        entry: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Too many entries or too many bytes.
    #[error("{archive} is too large: {why}; nothing was installed")]
    TooLarge {
        /// The archive's file name.
        archive: String,
        /// Which limit.
        why: String,
    },
    /// No plugin folder name can be made from the archive.
    #[error("{archive}: cannot name the plugin folder {name:?} (letters, digits, '-', '_' and '.' only, not starting with '.')")]
    BadName {
        /// The archive's file name.
        archive: String,
        /// The name it would have had.
        name: String,
    },
    /// A plugin folder of that name exists and was not to be replaced.
    #[error("a plugin folder {name:?} exists already in {}", dir.display())]
    Exists {
        /// The plugin folder's name.
        name: String,
        /// The plugin directory.
        dir: PathBuf,
    },
    /// The plugin is not in the plugin directory, so it is not this tab's to remove.
    #[error("{} is not in the plugin directory {}: remove it there yourself", folder.display(), dir.display())]
    NotInstalledHere {
        /// The plugin's folder.
        folder: PathBuf,
        /// The plugin directory.
        dir: PathBuf,
    },
    /// The file system refused.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// What was being written or moved.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Unpacks the zip archive `bytes` (named `archive`, for messages and the folder name) into a
/// new folder of `plugin_dir`; its path. `replace` allows replacing a folder of that name.
pub fn install_zip(
    bytes: &[u8],
    archive: &str,
    plugin_dir: &Path,
    replace: bool,
) -> Result<PathBuf, InstallError> {
    install_zip_within(bytes, archive, plugin_dir, replace, MAX_UNPACKED_BYTES)
}

/// [`install_zip`] with `limit` unpacked bytes.
fn install_zip_within(
    bytes: &[u8],
    archive: &str,
    plugin_dir: &Path,
    replace: bool,
    limit: u64,
) -> Result<PathBuf, InstallError> {
    let not_zip = |why: String| InstallError::NotZip {
        archive: archive.to_string(),
        why,
    };
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| not_zip(e.to_string()))?;
    if zip.len() > MAX_ENTRIES {
        return Err(InstallError::TooLarge {
            archive: archive.to_string(),
            why: format!("{} entries, at most {MAX_ENTRIES}", zip.len()),
        });
    }
    let entries = checked_entries(&mut zip, archive)?;
    let (name, strip) = folder_name(&entries, archive);
    if !is_plain_name(&name) {
        return Err(InstallError::BadName {
            archive: archive.to_string(),
            name,
        });
    }
    let target = plugin_dir.join(&name);
    if target.exists() && !replace {
        return Err(InstallError::Exists {
            name,
            dir: plugin_dir.to_path_buf(),
        });
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io { path, source }
    };
    std::fs::create_dir_all(plugin_dir).map_err(io(plugin_dir))?;
    let staging = plugin_dir.join(format!(
        ".installing-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let unpacked = unpack(&mut zip, &entries, strip, &staging, archive, limit);
    if let Err(err) = unpacked {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(err);
    }
    let aside = plugin_dir.join(format!(
        ".removing-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let replaced = target.exists();
    if replaced {
        if let Err(source) = std::fs::rename(&target, &aside) {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(InstallError::Io {
                path: target,
                source,
            });
        }
    }
    if let Err(source) = std::fs::rename(&staging, &target) {
        if replaced {
            let _ = std::fs::rename(&aside, &target);
        }
        let _ = std::fs::remove_dir_all(&staging);
        return Err(InstallError::Io {
            path: target,
            source,
        });
    }
    if replaced {
        let _ = std::fs::remove_dir_all(&aside);
    }
    Ok(target)
}

/// Removes the plugin folder `folder`, which must be directly in `plugin_dir`.
pub fn remove_plugin(folder: &Path, plugin_dir: &Path) -> Result<(), InstallError> {
    let not_here = || InstallError::NotInstalledHere {
        folder: folder.to_path_buf(),
        dir: plugin_dir.to_path_buf(),
    };
    let (Ok(folder_real), Ok(dir_real)) = (folder.canonicalize(), plugin_dir.canonicalize()) else {
        return Err(not_here());
    };
    if folder_real.parent() != Some(dir_real.as_path()) || !folder_real.is_dir() {
        return Err(not_here());
    }
    // Moved aside first: the watcher sees the plugin go at once, never half deleted.
    let name = folder_real
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    let aside = dir_real.join(format!(
        ".removing-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::rename(&folder_real, &aside).map_err(|source| InstallError::Io {
        path: folder_real.clone(),
        source,
    })?;
    std::fs::remove_dir_all(&aside).map_err(|source| InstallError::Io {
        path: aside,
        source,
    })
}

/// One entry to unpack: its index, its safe relative path, whether it is a folder, its mode.
struct Entry {
    index: usize,
    path: PathBuf,
    is_dir: bool,
    executable: bool,
}

/// Every entry, checked: relative, inside, not a link; or the first that is not.
fn checked_entries(
    zip: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>,
    archive: &str,
) -> Result<Vec<Entry>, InstallError> {
    let mut entries = Vec::with_capacity(zip.len());
    for index in 0..zip.len() {
        let file = zip.by_index(index).map_err(|e| InstallError::NotZip {
            archive: archive.to_string(),
            why: e.to_string(),
        })?;
        let unsafe_entry = |why| InstallError::UnsafeEntry {
            archive: archive.to_string(),
            entry: file.name().to_string(),
            why,
        };
        let path = Path::new(file.name());
        let plain = path
            .components()
            .all(|part| matches!(part, Component::Normal(_) | Component::CurDir));
        if !plain || file.name().contains('\\') || file.name().contains('\0') {
            return Err(unsafe_entry("would be written outside the plugin folder"));
        }
        let mode = file.unix_mode().unwrap_or(0);
        if file.is_symlink() || mode & 0o170000 == 0o120000 {
            return Err(unsafe_entry(
                "is a link (plugins are unpacked without links)",
            ));
        }
        entries.push(Entry {
            index,
            path: path
                .components()
                .filter(|part| matches!(part, Component::Normal(_)))
                .collect(),
            is_dir: file.is_dir(),
            executable: mode & 0o111 != 0,
        });
    }
    entries.retain(|entry| !entry.path.as_os_str().is_empty());
    Ok(entries)
}

/// The plugin folder's name, and whether the entries' first component is that folder (to be
/// stripped) rather than content.
fn folder_name(entries: &[Entry], archive: &str) -> (String, bool) {
    let first = |entry: &Entry| {
        entry
            .path
            .components()
            .next()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
    };
    let top = entries.first().and_then(first);
    // `hook/...` alone is a plugin's content, not a folder named "hook".
    let layout_folder = top
        .as_deref()
        .is_some_and(|top| PLUGIN_LAYOUT.contains(&top));
    let one_folder = !layout_folder
        && top.as_ref().is_some_and(|top| {
            entries.iter().all(|entry| {
                first(entry).as_ref() == Some(top)
                    && (entry.is_dir || entry.path.components().count() > 1)
            })
        });
    match top {
        Some(top) if one_folder => (top, true),
        _ => {
            let file_name = Path::new(archive)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let stem = file_name
                .strip_suffix(".zip")
                .or_else(|| file_name.strip_suffix(".ZIP"))
                .unwrap_or(&file_name);
            (stem.to_string(), false)
        }
    }
}

/// The folders of a plugin folder's layout (a top-level folder of one of these names is
/// content, not the plugin folder).
const PLUGIN_LAYOUT: [&str; 5] = ["hook", "launch", "resource", "dependencies", "plugin"];

/// Whether `name` may name a plugin folder.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Writes every entry under `staging`, counting the bytes as they are written.
fn unpack(
    zip: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>,
    entries: &[Entry],
    strip: bool,
    staging: &Path,
    archive: &str,
    limit: u64,
) -> Result<(), InstallError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io { path, source }
    };
    std::fs::create_dir_all(staging).map_err(io(staging))?;
    let mut written: u64 = 0;
    for entry in entries {
        let relative: PathBuf = if strip {
            entry.path.components().skip(1).collect()
        } else {
            entry.path.clone()
        };
        if relative.as_os_str().is_empty() {
            continue;
        }
        let path = staging.join(&relative);
        if entry.is_dir {
            std::fs::create_dir_all(&path).map_err(io(&path))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let file = zip
            .by_index(entry.index)
            .map_err(|e| InstallError::NotZip {
                archive: archive.to_string(),
                why: e.to_string(),
            })?;
        let room = limit - written;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io(&path))?;
        let copied = std::io::copy(&mut file.take(room + 1), &mut out).map_err(|source| {
            match source.kind() {
                std::io::ErrorKind::InvalidData => InstallError::NotZip {
                    archive: archive.to_string(),
                    why: source.to_string(),
                },
                _ => InstallError::Io {
                    path: path.clone(),
                    source,
                },
            }
        })?;
        written += copied;
        if written > limit {
            return Err(InstallError::TooLarge {
                archive: archive.to_string(),
                why: format!("more than {} MiB unpacked", limit >> 20),
            });
        }
        #[cfg(unix)]
        if entry.executable {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A zip of `(name, contents)` entries; a name ending in `/` is a folder.
    fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        for (name, text) in entries {
            if let Some(folder) = name.strip_suffix('/') {
                out.add_directory(folder, options).unwrap();
            } else {
                out.start_file(*name, options).unwrap();
                out.write_all(text.as_bytes()).unwrap();
            }
        }
        out.finish().unwrap().into_inner()
    }

    #[test]
    fn a_plugin_folder_is_unpacked_whole_and_never_overwritten_unasked() {
        let dir = tempfile::tempdir().unwrap();
        let archive = zip_of(&[
            ("tools-1.0.0/", ""),
            ("tools-1.0.0/hook/tools.rhai", "fn register(session) {}"),
        ]);
        let folder = install_zip(&archive, "download.zip", dir.path(), false).unwrap();
        assert_eq!(folder, dir.path().join("tools-1.0.0"));
        assert!(folder.join("hook/tools.rhai").is_file());
        let again = install_zip(&archive, "download.zip", dir.path(), false).unwrap_err();
        assert!(matches!(again, InstallError::Exists { .. }), "{again}");
        let newer = zip_of(&[("tools-1.0.0/hook/new.rhai", "fn register(session) {}")]);
        install_zip(&newer, "download.zip", dir.path(), true).unwrap();
        assert!(folder.join("hook/new.rhai").is_file());
        assert!(
            !folder.join("hook/tools.rhai").exists(),
            "replaced, not merged"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "nothing left aside");
    }

    #[test]
    fn loose_files_go_in_a_folder_named_after_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let archive = zip_of(&[("hook/a.rhai", "fn register(session) {}")]);
        let folder = install_zip(&archive, "/downloads/shots-2.1.zip", dir.path(), false).unwrap();
        assert_eq!(folder, dir.path().join("shots-2.1"));
        assert!(folder.join("hook/a.rhai").is_file());
    }

    #[test]
    fn an_entry_escaping_the_folder_refuses_the_whole_archive() {
        for bad in ["../evil.rhai", "/etc/evil", "a/../../evil", "a\\..\\evil"] {
            let dir = tempfile::tempdir().unwrap();
            let archive = zip_of(&[("ok/hook/a.rhai", ""), (bad, "x")]);
            let err = install_zip(&archive, "bad.zip", dir.path(), false).unwrap_err();
            assert!(
                matches!(err, InstallError::UnsafeEntry { .. }),
                "{bad}: {err}"
            );
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "{bad}");
        }
    }

    #[test]
    fn a_link_or_a_bomb_is_refused_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        out.add_symlink(
            "p/link",
            "/etc/passwd",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        let archive = out.finish().unwrap().into_inner();
        let err = install_zip(&archive, "link.zip", dir.path(), false).unwrap_err();
        assert!(err.to_string().contains("is a link"), "{err}");

        let big = "0".repeat(1 << 20);
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        out.start_file("bomb/zeros", options).unwrap();
        for _ in 0..9 {
            out.write_all(big.as_bytes()).unwrap();
        }
        let archive = out.finish().unwrap().into_inner();
        assert!(archive.len() < 64 << 10, "a small archive");
        let err = install_zip_within(&archive, "bomb.zip", dir.path(), false, 8 << 20).unwrap_err();
        assert!(matches!(err, InstallError::TooLarge { .. }), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let err = install_zip(b"not a zip", "x.zip", dir.path(), false).unwrap_err();
        assert!(matches!(err, InstallError::NotZip { .. }), "{err}");
    }

    #[test]
    fn only_plugins_in_the_plugin_directory_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let plugins = dir.path().join("plugins");
        std::fs::create_dir_all(plugins.join("mine/hook")).unwrap();
        std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
        remove_plugin(&plugins.join("mine"), &plugins).unwrap();
        assert!(!plugins.join("mine").exists());
        let err = remove_plugin(&dir.path().join("elsewhere"), &plugins).unwrap_err();
        assert!(
            matches!(err, InstallError::NotInstalledHere { .. }),
            "{err}"
        );
        assert!(dir.path().join("elsewhere").exists());
    }
}
