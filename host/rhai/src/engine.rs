//! Each plugin's Rhai engine: the shared standard library, the limits, the plugin's import
//! resolver and log sinks, and the API scripts see.

use super::*;

/// A compiled module shared between imports (Rhai's `Shared<Module>` with the `sync` feature).
pub(crate) type SharedModule = Arc<Module>;

/// Operations a single script call (a `register`, a handler) may run before it is stopped.
/// About a second of busy work: far beyond what any hook needs, short enough that an endless
/// loop is reported instead of freezing the host.
pub const MAX_OPERATIONS: u64 = 20_000_000;

/// The size of each engine's string interner (Rhai's default for `Engine::new`).
pub(crate) const STRINGS_INTERNED: usize = 256;

/// Where a plugin's scripts live: imports resolve in `library_dirs` and never leave `root`.
#[derive(Debug, Clone)]
pub struct PluginFolders {
    /// The plugin folder, canonical: nothing imported may lie outside it.
    pub root: PathBuf,
    /// `resource/` and `dependencies/`, in the order imports are looked up.
    pub library_dirs: Vec<PathBuf>,
}

/// Rhai's standard library, built once and shared by every plugin's engine.
///
/// `Engine::new` builds a fresh copy of it (thousands of functions) per engine: with one engine
/// per plugin, that was most of the start-up time and memory of a host with 200 plugins.
pub(crate) fn standard_package() -> SharedModule {
    static PACKAGE: OnceLock<SharedModule> = OnceLock::new();
    PACKAGE
        .get_or_init(|| StandardPackage::new().as_shared_module())
        .clone()
}

/// Builds the engine for one plugin: what `Engine::new` sets up, with the shared standard
/// library, this plugin's import resolver and log sinks.
pub fn plugin_engine(plugin: &PluginTag, folders: &PluginFolders) -> Engine {
    let mut engine = Engine::new_raw();
    engine.set_max_strings_interned(STRINGS_INTERNED);
    engine.register_global_module(standard_package());
    engine.set_max_operations(MAX_OPERATIONS);
    // Rhai's defaults (64, and 32 inside functions) reject ordinary hooks that nest a closure
    // with an interpolated string in a call; these still bound the parser's recursion.
    engine.set_max_expr_depths(256, 128);
    engine.set_module_resolver(PluginModuleResolver::new(folders.clone()));
    let name = plugin.name.clone();
    engine.on_print(move |text| tracing::info!(plugin = &*name, "[{name}] {text}"));
    let name = plugin.name.clone();
    engine.on_debug(move |text, source, pos| {
        let at = match (source, pos.line()) {
            (Some(source), Some(line)) => format!(" ({source}:{line})"),
            _ => String::new(),
        };
        tracing::debug!(plugin = &*name, "[{name}] {text}{at}")
    });
    register_api(&mut engine);
    engine
}

pub(crate) fn register_api(engine: &mut Engine) {
    engine
        .register_type_with_name::<ScriptSession>("Session")
        .register_get("event_hub", |s: &mut ScriptSession| s.event_hub.clone())
        .register_get("api_user", |s: &mut ScriptSession| s.api_user.clone())
        .register_get("server_url", |s: &mut ScriptSession| s.server_url.clone());

    // The hub is taken by value (a cheap clone of two weak references), not `&mut`: a
    // callback closure usually captures the very `hub` variable the method is called on, and
    // Rhai refuses to lend a captured value mutably while the closure holds it.
    engine
        .register_type_with_name::<ScriptHub>("EventHub")
        .register_fn("subscribe", |h: ScriptHub, e: &str, cb: FnPtr| {
            h.subscribe(e, cb, RhaiMap::new(), DEFAULT_PRIORITY)
        })
        .register_fn("subscribe", |h: ScriptHub, e: &str, cb: FnPtr, p: i64| {
            h.subscribe(e, cb, RhaiMap::new(), p)
        })
        .register_fn(
            "subscribe",
            |h: ScriptHub, e: &str, cb: FnPtr, s: RhaiMap| h.subscribe(e, cb, s, DEFAULT_PRIORITY),
        )
        .register_fn(
            "subscribe",
            |h: ScriptHub, e: &str, cb: FnPtr, s: RhaiMap, p: i64| h.subscribe(e, cb, s, p),
        )
        .register_fn("unsubscribe", |h: ScriptHub, id: &str| {
            let (hub, _) = h.parts()?;
            hub.unsubscribe(id)
                .or_else(|e| runtime_error(e.to_string()))
        })
        .register_fn("publish", |h: ScriptHub, event: Dynamic| {
            h.publish(event, false).map(|_| ())
        })
        .register_fn(
            "publish",
            |h: ScriptHub, event: Dynamic, synchronous: bool| h.publish(event, synchronous),
        )
        .register_fn(
            "publish",
            |h: ScriptHub, event: Dynamic, on_reply: FnPtr| h.publish_with_reply(event, on_reply),
        );

    engine
        .register_type_with_name::<ScriptEvent>("Event")
        .register_get("id", |e: &mut ScriptEvent| e.get("id"))
        .register_get("topic", |e: &mut ScriptEvent| e.get("topic"))
        .register_get("target", |e: &mut ScriptEvent| e.get("target"))
        .register_get("in_reply_to_event", |e: &mut ScriptEvent| {
            e.get("in_reply_to_event")
        })
        .register_get("sent", |e: &mut ScriptEvent| e.get("sent"))
        .register_get_set(
            "data",
            |e: &mut ScriptEvent| e.get("data"),
            |e: &mut ScriptEvent, v: Dynamic| e.set("data", v),
        )
        .register_get_set(
            "source",
            |e: &mut ScriptEvent| e.get("source"),
            |e: &mut ScriptEvent, v: Dynamic| e.set("source", v),
        )
        .register_indexer_get_set(
            |e: &mut ScriptEvent, field: &str| e.get(field),
            |e: &mut ScriptEvent, field: &str, v: Dynamic| e.set(field, v),
        )
        .register_fn("stop", |e: &mut ScriptEvent| e.lock().stopped = true)
        .register_fn("is_stopped", |e: &mut ScriptEvent| e.lock().stopped)
        .register_fn("to_string", |e: &mut ScriptEvent| e.to_string())
        .register_fn("to_debug", |e: &mut ScriptEvent| e.to_string());
}
