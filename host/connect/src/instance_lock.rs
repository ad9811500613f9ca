//! One resident host per user, unless `--allow-multiple` says otherwise.
//!
//! The lock is an OS file lock (`flock` on Unix, `LockFileEx` on Windows) on a file in the user
//! data directory, not the mere existence of the file: the OS releases it when the process dies,
//! however it dies, so a lock left behind by a crashed host never blocks the next start. The
//! file holds the owner's pid, for the message a second instance prints.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another host of this user holds it.
    #[error(
        "ftrack-connect is already running for this user{} (lock file {path}); \
         pass --allow-multiple to start another instance",
        .pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Held {
        /// The lock file.
        path: PathBuf,
        /// The process that holds it, when the file says.
        pid: Option<u32>,
    },
    /// The lock file could not be created or locked.
    #[error("cannot use lock file {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// Held while the host runs; dropping it releases the lock and removes the file.
#[derive(Debug)]
pub struct InstanceLock {
    file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// Takes the lock in `dir`, or says who holds it.
    pub fn acquire(dir: &Path) -> Result<InstanceLock, LockError> {
        let path = dir.join("ftrack-connect.lock");
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(LockError::Held {
                    pid: text.trim().parse().ok(),
                    path,
                });
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(io(err)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(InstanceLock { file, path })
    }
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_and_names_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let first = InstanceLock::acquire(dir.path()).unwrap();
        let err = InstanceLock::acquire(dir.path()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("--allow-multiple"), "{text}");
        assert!(text.contains(&std::process::id().to_string()), "{text}");
        drop(first);
        InstanceLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn leftover_file_without_lock_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ftrack-connect.lock"), "999999").unwrap();
        InstanceLock::acquire(dir.path()).unwrap();
    }
}
