//! Loading a library: a private copy, abi_stable's checks, and one line saying why a library
//! was refused.

use super::*;
use connect_core::LOG_FILE_ONLY;

/// Why a native library was not loaded. Each message is one line that names the file.
#[derive(Debug, thiserror::Error)]
pub enum NativeLoadError {
    /// The library could not be copied to the private folder it is loaded from.
    #[error("cannot copy {} to load it: {source}", path.display())]
    Copy {
        /// The library.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// abi_stable refused the library: why, in one line (the full report goes to the log).
    #[error("{0}")]
    Refused(String),
    /// The plugin's `register` returned an error (or panicked, which the SDK turns into one).
    #[error("{}: register failed: {message}", path.display())]
    Register {
        /// The library.
        path: PathBuf,
        /// The plugin's message.
        message: String,
    },
}

/// A native plugin's root module, loaded and checked.
pub struct NativeModule {
    module: PluginModRef,
    path: PathBuf,
    /// Bytes of address space the library's mappings take (what stays mapped once loaded).
    size: u64,
}

/// Loads the library at `path` from a fresh copy in `copy_dir`; the error is one line.
pub fn load(path: &Path, copy_dir: &Path) -> Result<NativeModule, NativeLoadError> {
    let copy = private_copy(path, copy_dir).map_err(|source| NativeLoadError::Copy {
        path: path.to_path_buf(),
        source,
    })?;
    // Opening runs the library's constructors, before anything can be checked; one that
    // crashes takes the process with it. The marker tells the next command which it was.
    tracing::info!("opening native library {}", path.display());
    let marker = OpeningMarker::write(copy_dir, path);
    let header = lib_header_from_path(&copy);
    drop(marker);
    let size =
        mapped_bytes(&copy).unwrap_or_else(|| std::fs::metadata(path).map_or(0, |m| m.len()));
    if cfg!(unix) {
        let _ = std::fs::remove_file(&copy);
    }
    let module = header
        .and_then(|header| header.init_root_module::<PluginModRef>())
        .map_err(|err| NativeLoadError::Refused(describe(path, &copy, &err)))?;
    Ok(NativeModule {
        module,
        path: path.to_path_buf(),
        size,
    })
}

impl NativeModule {
    /// The name and version the plugin declares.
    pub fn declared(&self) -> (String, String) {
        (
            self.module.name().to_string(),
            self.module.version().to_string(),
        )
    }

    /// Bytes of address space the library is mapped in (on Linux; elsewhere its file size).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Runs the plugin's `register` with a session on `hub`; its server calls go to an
    /// [`ApiSession`] of its own over `info.api`.
    pub fn register(
        &self,
        hub: &Arc<EventHub>,
        plugin: &PluginTag,
        info: &SessionInfo,
    ) -> Result<(), NativeLoadError> {
        let api = info.api.clone().map(ApiSession::new);
        self.register_sharing(hub, plugin, info, api)
    }

    /// As [`NativeModule::register`], with the plugin's server calls going to `api` (which
    /// the plugin's other libraries share); `None`: the host has no server.
    pub(crate) fn register_sharing(
        &self,
        hub: &Arc<EventHub>,
        plugin: &PluginTag,
        info: &SessionInfo,
        api: Option<ApiSession>,
    ) -> Result<(), NativeLoadError> {
        self.register_with(HostSession_TO::from_ptr(
            abi_stable::std_types::RArc::new(NativeSession {
                hub: Arc::downgrade(hub),
                plugin: plugin.clone(),
                info: info.clone(),
                api,
            }),
            TD_Opaque,
        ))
    }

    /// Runs the plugin's `register` with a session of the caller's making (an isolated
    /// plugin's child process, whose session forwards to the host).
    pub fn register_with(&self, session: HostSessionBox) -> Result<(), NativeLoadError> {
        match (self.module.register())(session) {
            ROk(()) => Ok(()),
            RErr(err) => Err(NativeLoadError::Register {
                path: self.path.clone(),
                message: err.into_string(),
            }),
        }
    }
}

/// How much address space the mappings of the loaded library at `path` take, from
/// `/proc/self/maps` (debug sections are in the file but never mapped, so the file size would
/// overstate it). `None` where there is no such file.
pub(crate) fn mapped_bytes(path: &Path) -> Option<u64> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let wanted = path.to_str()?;
    let total = maps
        .lines()
        .filter(|line| line.ends_with(wanted))
        .filter_map(|line| {
            let (start, end) = line.split_whitespace().next()?.split_once('-')?;
            let start = u64::from_str_radix(start, 16).ok()?;
            let end = u64::from_str_radix(end, 16).ok()?;
            Some(end.saturating_sub(start))
        })
        .sum();
    Some(total)
}

/// `opening-<pid>` in the copy folder, holding the path of the library this process is
/// opening, while it does.
pub(crate) struct OpeningMarker(Option<PathBuf>);

impl OpeningMarker {
    const PREFIX: &'static str = "opening-";

    pub(crate) fn write(copy_dir: &Path, library: &Path) -> OpeningMarker {
        let marker = copy_dir.join(format!("{}{}", Self::PREFIX, std::process::id()));
        let written = std::fs::write(&marker, library.as_os_str().as_encoded_bytes());
        OpeningMarker(written.ok().map(|()| marker))
    }

    /// Reports (and removes) the markers of processes that died while opening a library.
    pub(crate) fn report_left_behind(copy_dir: &Path) {
        let Ok(entries) = std::fs::read_dir(copy_dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix(Self::PREFIX)
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == std::process::id() || process_is_alive(pid) {
                continue;
            }
            let library = std::fs::read_to_string(entry.path()).unwrap_or_default();
            tracing::warn!(
                "an earlier ftrack-connect (pid {pid}) died while opening the native library \
                 {library}: code the library runs as it is loaded probably crashed it; move \
                 the library out of its plugin folder"
            );
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl Drop for OpeningMarker {
    fn drop(&mut self) {
        if let Some(marker) = self.0.take() {
            let _ = std::fs::remove_file(marker);
        }
    }
}

/// Whether a process with this id runs (on Unix; elsewhere, assumed to).
fn process_is_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = i32::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks that the process exists and may be signalled.
        let found = unsafe { libc::kill(pid, 0) } == 0;
        found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Copies `path` into `dir` under a name no earlier load has used.
pub(crate) fn private_copy(path: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    static LOADS: AtomicU64 = AtomicU64::new(0);
    create_private_dir(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let copy = dir.join(format!(
        "{}-{}-{name}",
        std::process::id(),
        LOADS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::copy(path, &copy)?;
    Ok(copy)
}

/// The copies are code the host will run: nobody else may write there.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// One line saying why `path` (loaded from `copy`) could not be loaded; the whole story goes
/// to the log.
pub(crate) fn describe(path: &Path, copy: &Path, err: &LibraryError) -> String {
    let file = path.display();
    match err {
        LibraryError::OpenError { err, .. } => {
            let reason = foreign_platform(path).unwrap_or_else(|| {
                err.to_string()
                    .replace(&copy.display().to_string(), &file.to_string())
            });
            format!(
                "{file} is not a library this host can load ({} {}): {reason}",
                std::env::consts::OS,
                std::env::consts::ARCH
            )
        }
        LibraryError::GetSymbolError { .. } => format!(
            "{file} is not an ftrack-connect native plugin: it exports no root module \
             (export one with connect_plugin_api::export_plugin!)"
        ),
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => format!(
            "{file} was built against connect-plugin-api {actual_version}, which this host \
             ({expected_version}) cannot load: rebuild it against connect-plugin-api {expected_version}"
        ),
        LibraryError::AbiInstability(report) => {
            let report = report.to_string();
            // Many lines, for whoever debugs the plugin: the log file, not every command's
            // stderr.
            tracing::info!(target: LOG_FILE_ONLY, "{file}: abi_stable's layout report:\n{report}");
            format!(
                "{file} does not match this host's plugin interface: {} (full report in the log)",
                layout_summary(&report)
            )
        }
        other => {
            let text = other.to_string();
            tracing::info!(target: LOG_FILE_ONLY, "{file}: {text}");
            format!(
                "{file} cannot be loaded: {}",
                text.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
            )
        }
    }
}

/// Says which platform a library was built for, when its header shows it is not this one.
/// (glibc reports an ELF for another machine as "No such file or directory".)
pub(crate) fn foreign_platform(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut header = [0u8; 20];
    std::fs::File::open(path)
        .ok()?
        .read_exact(&mut header)
        .ok()?;
    let found = match header {
        [0x7f, b'E', b'L', b'F', ..] => {
            let machine = u16::from_le_bytes([header[18], header[19]]);
            let arch = match machine {
                0x03 => "x86",
                0x28 => "arm",
                0x3e => "x86_64",
                0xb7 => "aarch64",
                0xf3 => "riscv",
                _ => "an unknown machine",
            };
            if cfg!(target_os = "linux") && arch == std::env::consts::ARCH {
                return None;
            }
            format!("an ELF library for {arch}")
        }
        [b'M', b'Z', ..] => "a Windows DLL".to_string(),
        [0xcf, 0xfa, 0xed, 0xfe, ..] | [0xca, 0xfe, 0xba, 0xbe, ..] => {
            "a macOS library".to_string()
        }
        _ => return None,
    };
    Some(format!("it is {found}"))
}

/// abi_stable's layout report ends with an `Error:` block saying what differs; that block on
/// one line, or the last line that says anything.
pub(crate) fn layout_summary(report: &str) -> String {
    let lines: Vec<&str> = report.lines().map(str::trim).collect();
    match lines.iter().rposition(|l| l.starts_with("Error:")) {
        Some(start) => lines[start..]
            .iter()
            .take_while(|l| !l.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" "),
        None => lines
            .iter()
            .rfind(|l| l.chars().any(char::is_alphanumeric))
            .unwrap_or(&"layout mismatch")
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_summary_keeps_the_error_block() {
        let report = "Compared <this>:\n  lots\n\nError:mismatched package\nExpected:\n    a\nFound:\n    b\n\n";
        assert_eq!(
            layout_summary(report),
            "Error:mismatched package Expected: a Found: b"
        );
        assert_eq!(layout_summary("x\n---\nlast words\n===\n"), "last words");
    }
}
