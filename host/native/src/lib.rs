//! `connect-native`: the loader of native plugins, `cdylib`s built against the stable ABI of
//! `connect-plugin-abi` (with the `connect-plugin-api` SDK).
//!
//! Each library is loaded from a private copy at a unique path. The dynamic loader hands back
//! the already-loaded library for a path it has seen, so a rebuilt plugin at the same path
//! would silently stay the old one; a fresh copy per load avoids that (and lets hot reload
//! switch versions). The copy is removed once loaded on Unix (the mapping stays).
//!
//! Loading goes through `lib_header_from_path` and `init_root_module` rather than
//! `RootModule::load_from_*`: those cache one module per interface type, so every plugin after
//! the first would come back as the first. abi_stable checks the plugin's `connect-plugin-api`
//! version and then the layout of every type that crosses; a mismatch is reported in one
//! line (the full report goes to the log) and the host goes on. Loaded libraries are never
//! unloaded: handlers point into them.
#![deny(missing_docs)]

use std::cell::OnceCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use abi_stable::library::{lib_header_from_path, LibraryError};
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RErr, ROk, RResult, RStr, RString};
use connect_core::{
    EventHub, Handler, HandlerCall, HandlerError, PluginTag, Reply, ResultForm, SubscribeOptions,
};
use connect_event::Event;
use connect_plugin_abi::{
    DispatchedEvent, DispatchedEvent_TO, EventHandlerBox, HostSession, HostSession_TO,
    PluginModRef, PublishOutcome,
};
use connect_plugins::{
    DiscoveredPlugin, HookKind, LoadError, Loader, PluginLoad, PreparedHook, SessionInfo,
};
use serde::de::IgnoredAny;
use serde_json::Value;

/// The loader of native plugins (library files in a plugin's `hook/`).
#[derive(Debug, Clone)]
pub struct NativeLoader {
    /// A private folder where each library is copied to be loaded (see the crate doc).
    pub copy_dir: PathBuf,
}

impl Loader for NativeLoader {
    fn kind(&self) -> HookKind {
        HookKind::Native
    }

    fn begin(&self, _plugin: &DiscoveredPlugin, tag: &PluginTag) -> Box<dyn PluginLoad + '_> {
        Box::new(NativePluginLoad {
            loader: self,
            tag: tag.clone(),
        })
    }
}

struct NativePluginLoad<'a> {
    loader: &'a NativeLoader,
    tag: PluginTag,
}

impl PluginLoad for NativePluginLoad<'_> {
    fn prepare(&mut self, path: &Path) -> Result<Option<Box<dyn PreparedHook>>, LoadError> {
        let module = load(path, &self.loader.copy_dir).map_err(LoadError::new)?;
        Ok(Some(Box::new(PreparedLibrary {
            module,
            tag: self.tag.clone(),
        })))
    }
}

/// A loaded library ready for its `register`.
struct PreparedLibrary {
    module: NativeModule,
    tag: PluginTag,
}

impl PreparedHook for PreparedLibrary {
    fn register(&self, hub: &Arc<EventHub>, session: &SessionInfo) -> Result<(), LoadError> {
        self.module
            .register(hub, &self.tag, session)
            .map_err(LoadError::new)
    }

    fn mapped_bytes(&self) -> Option<u64> {
        Some(self.module.size())
    }

    fn declared_version(&self) -> Option<String> {
        Some(self.module.declared().1)
    }
}

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
    /// abi_stable refused the library: why, in one line (see [`describe`]).
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
    let header = lib_header_from_path(&copy);
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

    /// Runs the plugin's `register` with a session on `hub`.
    pub fn register(
        &self,
        hub: &Arc<EventHub>,
        plugin: &PluginTag,
        info: &SessionInfo,
    ) -> Result<(), NativeLoadError> {
        let session = HostSession_TO::from_ptr(
            abi_stable::std_types::RArc::new(NativeSession {
                hub: Arc::downgrade(hub),
                plugin: plugin.clone(),
                info: info.clone(),
            }),
            TD_Opaque,
        );
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
fn mapped_bytes(path: &Path) -> Option<u64> {
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

/// Copies `path` into `dir` under a name no earlier load has used.
fn private_copy(path: &Path, dir: &Path) -> std::io::Result<PathBuf> {
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
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
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
fn describe(path: &Path, copy: &Path, err: &LibraryError) -> String {
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
            tracing::error!("{file}: abi_stable's layout report:\n{report}");
            format!(
                "{file} does not match this host's plugin interface: {} (full report in the log)",
                layout_summary(&report)
            )
        }
        other => {
            let text = other.to_string();
            tracing::error!("{file}: {text}");
            format!(
                "{file} cannot be loaded: {}",
                text.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
            )
        }
    }
}

/// Says which platform a library was built for, when its header shows it is not this one.
/// (glibc reports an ELF for another machine as "No such file or directory".)
fn foreign_platform(path: &Path) -> Option<String> {
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
fn layout_summary(report: &str) -> String {
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
    use abi_stable::std_types::RNone;
    use connect_core::EventForms;
    use connect_plugin_abi::{DispatchedEventRef, EventHandler, EventHandler_TO, HandlerOutcome};

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

    /// A plugin's handler that answers the length of the event text, reading it or not.
    struct Peek {
        reads: bool,
    }

    impl EventHandler for Peek {
        fn handle(&self, event: DispatchedEventRef<'_>) -> RResult<HandlerOutcome, RString> {
            let len = if self.reads { event.json().len() } else { 0 };
            ROk(HandlerOutcome {
                result: len.to_string().into(),
                data: RNone,
                stop: false,
            })
        }
    }

    #[test]
    fn the_event_is_written_only_when_a_handler_asks_and_then_once() {
        let handler = |reads| NativeHandler(EventHandler_TO::from_value(Peek { reads }, TD_Opaque));
        let (ignorer, reader) = (handler(false), handler(true));
        let mut event = Event::new("t");
        let mut forms = EventForms::default();
        let written = |event: &mut Event, forms: &mut EventForms| {
            let mut call = HandlerCall::new(event, forms);
            let (_, text) = call.form(|_| EventText::default());
            text.0.get().map(|text| text.as_ref().unwrap().as_ptr())
        };
        let call = |handler: &NativeHandler, event: &mut Event, forms: &mut EventForms| {
            handler.handle(&mut HandlerCall::new(event, forms)).unwrap()
        };

        call(&ignorer, &mut event, &mut forms);
        assert_eq!(written(&mut event, &mut forms), None);

        let len = serde_json::to_string(&event).unwrap().len();
        let first = call(&reader, &mut event, &mut forms);
        assert_eq!(first, serde_json::json!(len));
        let text = written(&mut event, &mut forms);
        assert!(text.is_some());
        call(&reader, &mut event, &mut forms);
        assert_eq!(
            written(&mut event, &mut forms),
            text,
            "the text is shared, not rewritten"
        );
    }
}

/// The session a native plugin gets: the hub, weakly (the plugin may keep the session).
#[derive(Clone)]
struct NativeSession {
    hub: Weak<EventHub>,
    plugin: PluginTag,
    info: SessionInfo,
}

impl NativeSession {
    fn hub(&self) -> Result<Arc<EventHub>, RString> {
        self.hub
            .upgrade()
            .ok_or_else(|| RString::from("the host is shutting down"))
    }
}

/// Runs `f`, turning a panic into an error: host code called from a plugin must not unwind
/// into it.
fn guarded<T>(f: impl FnOnce() -> Result<T, RString>) -> RResult<T, RString> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.into(),
        Err(_) => RErr(RString::from("the host failed while handling this call")),
    }
}

impl HostSession for NativeSession {
    fn subscribe(
        &self,
        expression: RStr<'_>,
        priority: i64,
        handler: EventHandlerBox,
    ) -> RResult<RString, RString> {
        guarded(|| {
            let options = SubscribeOptions {
                priority,
                plugin: Some(self.plugin.clone()),
                ..Default::default()
            };
            self.hub()?
                .subscribe(
                    expression.as_str(),
                    Arc::new(NativeHandler(handler)),
                    options,
                )
                .map(RString::from)
                .map_err(|e| e.to_string().into())
        })
    }

    fn unsubscribe(&self, id: RStr<'_>) -> RResult<(), RString> {
        guarded(|| {
            self.hub()?
                .unsubscribe(id.as_str())
                .map_err(|e| e.to_string().into())
        })
    }

    fn publish(&self, event: RStr<'_>) -> RResult<PublishOutcome, RString> {
        guarded(|| {
            let mut event: Event = serde_json::from_str(event.as_str())
                .map_err(|e| RString::from(format!("invalid event: {e}")))?;
            let results = self.hub()?.publish_replies(&mut event);
            let results = serde_json::to_string(&results)
                .map_err(|e| RString::from(format!("results are not JSON: {e}")))?;
            Ok(PublishOutcome {
                results: results.into(),
                data: event.data.to_string().into(),
            })
        })
    }

    fn api_user(&self) -> RString {
        self.info.api_user.as_str().into()
    }

    fn server_url(&self) -> RString {
        self.info.server_url.as_str().into()
    }
}

/// A plugin's handler, as the hub calls it: the event crosses as JSON text, written only if
/// the handler asks for it.
struct NativeHandler(EventHandlerBox);

/// The [`EventForms`] entry of native handlers: the event as JSON text, written when the
/// first native handler of a dispatch asks for it and shared by the others until one
/// changes `data`.
#[derive(Default)]
struct EventText(OnceCell<Result<String, String>>);

/// What a native handler is called with: the event, and where its text is (or will be) kept.
struct EventView<'a> {
    event: &'a Event,
    text: &'a EventText,
}

impl DispatchedEvent for EventView<'_> {
    fn json(&self) -> RStr<'_> {
        match self.text.0.get_or_init(|| event_text(self.event)) {
            Ok(text) => text.as_str().into(),
            // The plugin fails to parse this; `run` reports the real error instead.
            Err(_) => RStr::from(""),
        }
    }
}

impl NativeHandler {
    /// Calls the plugin with a view of the event whose text is shared with the other native
    /// handlers of the dispatch, and applies its outcome to the event.
    fn run(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        let (event, text) = call.form(|_| EventText::default());
        let view = EventView { event, text };
        let outcome = self
            .0
            .handle(DispatchedEvent_TO::from_ptr(&view, TD_Opaque));
        if let Some(Err(err)) = text.0.get() {
            return Err(HandlerError(err.clone()));
        }
        let outcome = outcome
            .into_result()
            .map_err(|err| HandlerError(err.into_string()))?;
        if outcome.stop {
            call.stop();
        }
        if let Some(data) = outcome.data.into_option() {
            call.event_mut().data = serde_json::from_str(&data)
                .map_err(|e| HandlerError(format!("the handler's event data is not JSON: {e}")))?;
        }
        // Checked here, parsed only if a reader wants a JSON value (see `connect_core::reply`).
        NativeText::checked(outcome.result)
            .map(Reply::form)
            .map_err(|e| HandlerError(format!("the handler's result is not JSON: {e}")))
    }
}

/// A native handler's result: JSON text, checked to be well formed, kept in the plugin's own
/// string (copying it into a `String` was a tenth of the cost of a native dispatch).
#[derive(Debug)]
pub struct NativeText(RString);

impl NativeText {
    /// `text` if it is one JSON value; why not otherwise.
    pub fn checked(text: impl Into<RString>) -> Result<NativeText, serde_json::Error> {
        let text = text.into();
        serde_json::from_str::<IgnoredAny>(&text)?;
        Ok(NativeText(text))
    }
}

impl ResultForm for NativeText {
    fn is_null(&self) -> bool {
        self.0.trim() == "null"
    }

    fn to_json(&self) -> Value {
        serde_json::from_str(&self.0).expect("NativeText holds checked JSON")
    }

    fn json_text(&self) -> Option<&str> {
        Some(&self.0)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

fn event_text(event: &Event) -> Result<String, String> {
    serde_json::to_string(event).map_err(|e| e.to_string())
}

impl Handler for NativeHandler {
    fn handle(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        self.run(call)
    }
}
