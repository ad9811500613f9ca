//! A plugin's `hook/` folder, opened as a plain folder (reached through no link) and listed:
//! the one file-system access discovery makes for most plugins beyond the `lstat`s of
//! [`super::Listing`].
//!
//! On Unix the folder is opened at once with `O_NOFOLLOW` (a link, a file or a missing name
//! fails to open, and says which), and listed from that handle with `getdents` directly: two
//! system calls a plugin fewer than an `lstat` and then `fs::read_dir` (whose `opendir`
//! also asks the folder's `fstat`): 6.8 against 5.1 µs a folder on this project's machine,
//! about a quarter of discovery's file-system time (`docs/benchmarks.md`). Elsewhere it is
//! the `lstat` and `fs::read_dir`.

use std::ffi::OsString;
use std::io;
use std::path::Path;

/// An open `hook/` folder that is a plain folder, not a link.
pub(super) struct HookFolder {
    #[cfg(unix)]
    handle: rustix::fs::Dir,
    #[cfg(not(unix))]
    path: std::path::PathBuf,
}

impl HookFolder {
    /// Opens `path` if it is a plain folder. The error's kind tells why not: `NotFound` when
    /// nothing has that name (a broken link is found, and fails with another kind); any other
    /// kind when it is a link, not a folder, or cannot be opened: look closer, following
    /// links.
    pub(super) fn open(path: &Path) -> io::Result<HookFolder> {
        #[cfg(unix)]
        {
            use rustix::fs::{openat, Mode, OFlags, CWD};
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let handle = openat(CWD, path, flags, Mode::empty())?;
            Ok(HookFolder {
                handle: rustix::fs::Dir::new(handle)?,
            })
        }
        #[cfg(not(unix))]
        {
            match std::fs::symlink_metadata(path) {
                Ok(meta) if meta.is_dir() => Ok(HookFolder {
                    path: path.to_path_buf(),
                }),
                Ok(_) => Err(io::ErrorKind::Other.into()),
                Err(err) => Err(err),
            }
        }
    }

    /// The names of the folder's entries, in the order listed, when each is a plain file;
    /// `None` when one is anything else (a folder, a link, a type the listing does not
    /// tell) or the folder cannot be read.
    pub(super) fn plain_file_names(self) -> Option<Vec<OsString>> {
        let mut names = Vec::new();
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            for entry in self.handle {
                let entry = entry.ok()?;
                let name = entry.file_name().to_bytes();
                if name == b"." || name == b".." {
                    continue;
                }
                if entry.file_type() != rustix::fs::FileType::RegularFile {
                    return None;
                }
                names.push(std::ffi::OsStr::from_bytes(name).to_os_string());
            }
        }
        #[cfg(not(unix))]
        {
            for entry in std::fs::read_dir(&self.path).ok()? {
                let entry = entry.ok()?;
                if !entry.file_type().ok()?.is_file() {
                    return None;
                }
                names.push(entry.file_name());
            }
        }
        Some(names)
    }
}
