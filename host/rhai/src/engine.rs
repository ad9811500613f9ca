//! Each plugin's Rhai engine: the shared standard library, the limits, the plugin's import
//! resolver and log sinks, and the API scripts see.
//!
//! The limits keep a hook from taking the host down. A script that reaches one fails like any
//! script error, saying which limit and its value (`error.rs`) and where the handler was
//! (`hook.rs`):
//! - operations: a loop that never ends;
//! - the sizes of strings, arrays and maps: a value that grows without end (doubled in a loop,
//!   a string or an array reaches gigabytes in a few dozen operations, which the operations
//!   limit does not notice);
//! - call depth and native stack: a recursion that never ends, or calls nested in expressions
//!   nested in calls, which would overflow the thread's stack and abort the process.
//!
//! Rhai checks the sizes of a value as a whole, nested arrays and maps included, after each
//! operation that makes or changes one and on the result of every function call (reading
//! `event.data` included); a method that changes an array (`push`) so costs the array's size,
//! and building an array of n items with it n²/2 steps. It does not count map keys, nor values
//! held by function pointers and closures, and several values may be alive at once (a
//! variable in each frame of a recursion): the limits bound what one value takes, not what a
//! script takes in all.

use super::*;

/// A compiled module shared between imports (Rhai's `Shared<Module>` with the `sync` feature).
pub(crate) type SharedModule = Arc<Module>;

/// Operations a single script call (a `register`, a handler) may run before it is stopped.
/// About a second of busy work: far beyond what any hook needs, short enough that an endless
/// loop is reported instead of freezing the host.
pub const MAX_OPERATIONS: u64 = 20_000_000;

/// Bytes of text one value may hold: a string, or all the strings inside an array or map
/// together (Rhai counts nested containers as one value). Event data of a few MB passes with
/// room to spare; a string doubled in a loop stops here instead of at the machine's memory.
pub const MAX_STRING_SIZE: usize = 16 << 20;

/// Items one array may hold, those of the arrays inside it included (and the bytes of BLOBs).
/// A million items take 16 MB (up to 80 MB when they are empty maps or arrays): about ten times
/// the items of a few MB of JSON.
pub const MAX_ARRAY_SIZE: usize = 1_000_000;

/// Entries one map may hold, those of the maps inside it included. Rhai's maps cost about
/// 200 bytes an entry in maps of a few entries and up to 1 KB in maps of one, so this bounds
/// one map to 50-250 MB; typical JSON objects of a few MB have well under this.
pub const MAX_MAP_SIZE: usize = 250_000;

/// Function calls nested inside a handler: deeper than hooks recurse (nested data, folder
/// trees), and the same in release and debug builds (Rhai's default is 64, or 8 in a debug
/// build). Each frame may hold values up to the sizes above, and takes native stack: about
/// 4 KB in a release build, 27 KB in a debug build, well within [`MAX_NATIVE_STACK`].
pub const MAX_CALL_LEVELS: usize = 32;

/// Native stack the scripts running on one thread may use, counted from where the first of
/// them began. Calls nested inside expressions nested inside calls use it up long before the
/// call depth limit (a call inside 60 nested calls takes about 160 KB in a release build and
/// 850 KB in a debug build), and a thread that runs out of stack aborts the whole process. The
/// host's handler threads have `connect_core::HANDLER_THREAD_STACK` (64 MiB); any other
/// thread has at least Rust's default of 2 MiB: this leaves that half. (The rest of the large
/// stacks is for what no script limit sees: Rhai's recursive clone, check and drop of
/// deeply nested data.)
pub const MAX_NATIVE_STACK: usize = 1 << 20;

/// The token the progress callback stops a script with when it reached its stack floor.
const OUT_OF_STACK: &str = "connect-rhai: out of native stack";

thread_local! {
    /// The lowest stack address the scripts running on this thread may reach; 0 when none
    /// runs.
    static STACK_FLOOR: Cell<usize> = const { Cell::new(0) };
}

/// The address of the current stack frame, near enough.
#[inline(always)]
fn stack_address() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// The native stack the scripts on this thread may use while it lives: [`MAX_NATIVE_STACK`]
/// from here down, unless a script further up this thread's stack claimed it already (a
/// handler that published synchronously: the scripts it leads to share its budget).
pub(crate) struct StackBudget {
    outermost: bool,
}

impl StackBudget {
    pub(crate) fn claim() -> StackBudget {
        let outermost = STACK_FLOOR.with(|floor| {
            let unclaimed = floor.get() == 0;
            if unclaimed {
                // Stacks grow downwards on the platforms the host runs on.
                floor.set(stack_address().saturating_sub(MAX_NATIVE_STACK).max(1));
            }
            unclaimed
        });
        StackBudget { outermost }
    }
}

impl Drop for StackBudget {
    fn drop(&mut self) {
        if self.outermost {
            STACK_FLOOR.with(|floor| floor.set(0));
        }
    }
}

/// Rhai's progress callback, called on every operation: stops the script when it went below
/// its stack floor (every nested expression and call is an operation).
fn check_stack(_operations: u64) -> Option<Dynamic> {
    let floor = STACK_FLOOR.with(Cell::get);
    (floor != 0 && stack_address() < floor).then(|| Dynamic::from(OUT_OF_STACK))
}

/// Whether `token`, which stopped a script, is the stack guard's.
pub(crate) fn is_out_of_stack(token: &Dynamic) -> bool {
    token
        .read_lock::<ImmutableString>()
        .is_some_and(|text| text.as_str() == OUT_OF_STACK)
}

/// The size of each engine's string interner: none. Rhai's default (256, as `Engine::new`
/// sets) shares the strings a script repeats, but gives each engine a table of about 5 KiB
/// on the first repeat; with one engine per plugin, that was 1 MiB and a tenth of the time
/// of a 200-plugin start (peak memory 19.0 -> 18.0 MiB, median 17.4 -> 16.0 ms), against a
/// few bytes per repeated name in a hook.
pub(crate) const STRINGS_INTERNED: usize = 0;

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

/// Builds what every plugin's engine shares, Rhai's standard library and the script API, if
/// nothing has yet. The first engine would otherwise build them (about 0.7 ms) while the other
/// threads loading plugins wait for it; a command that will load plugins calls this on a
/// thread that has nothing else to do, while it discovers them.
pub fn build_shared_modules() {
    standard_package();
    api_module();
}

/// Builds the engine for one plugin: what `Engine::new` sets up, with the shared standard
/// library, this plugin's import resolver and log sinks.
pub fn plugin_engine(plugin: &PluginTag, folders: &PluginFolders) -> Engine {
    let mut engine = Engine::new_raw();
    engine.set_max_strings_interned(STRINGS_INTERNED);
    engine.register_global_module(standard_package());
    engine.set_max_operations(MAX_OPERATIONS);
    engine.set_max_string_size(MAX_STRING_SIZE);
    engine.set_max_array_size(MAX_ARRAY_SIZE);
    engine.set_max_map_size(MAX_MAP_SIZE);
    engine.set_max_call_levels(MAX_CALL_LEVELS);
    engine.on_progress(check_stack);
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
    engine.register_global_module(api_module());
    engine
}

/// The script API (`session`, its hub, events, server calls, pipeline plugins), built once
/// and shared by every plugin's engine, as the standard library is: registered on each engine
/// it cost 10 µs and 20 KiB a plugin, the largest part of an engine.
pub(crate) fn api_module() -> SharedModule {
    static MODULE: OnceLock<SharedModule> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            let mut module = Module::new();
            register_api(&mut ApiModule(&mut module));
            module.build_index();
            module.into()
        })
        .clone()
}

/// A module taking the script API with `Engine`'s registration calls (the same functions,
/// registered into a module of the global namespace instead of one engine).
pub(crate) struct ApiModule<'m>(&'m mut Module);

impl ApiModule<'_> {
    pub(crate) fn register_type_with_name<T: Variant + Clone>(&mut self, name: &str) -> &mut Self {
        self.0.set_custom_type::<T>(name);
        self
    }

    pub(crate) fn register_fn<A: 'static, const N: usize, const X: bool, R, const F: bool>(
        &mut self,
        name: &str,
        func: impl RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
    ) -> &mut Self
    where
        R: Variant + Clone,
    {
        FuncRegistration::new(name)
            .in_global_namespace()
            .set_into_module(self.0, func);
        self
    }

    pub(crate) fn register_get<A: 'static, const N: usize, const X: bool, R, const F: bool>(
        &mut self,
        name: &str,
        get: impl RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
    ) -> &mut Self
    where
        R: Variant + Clone,
    {
        FuncRegistration::new_getter(name).set_into_module(self.0, get);
        self
    }

    pub(crate) fn register_get_set<
        A: 'static,
        const N: usize,
        const X: bool,
        R: Variant + Clone,
        const F: bool,
        B: 'static,
        const M: usize,
        const Y: bool,
        const G: bool,
    >(
        &mut self,
        name: &str,
        get: impl RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
        set: impl RhaiNativeFunc<B, M, Y, (), G> + Send + Sync + 'static,
    ) -> &mut Self {
        FuncRegistration::new_getter(name).set_into_module(self.0, get);
        FuncRegistration::new_setter(name).set_into_module(self.0, set);
        self
    }

    pub(crate) fn register_indexer_get_set<
        A: 'static,
        const N: usize,
        const X: bool,
        R: Variant + Clone,
        const F: bool,
        B: 'static,
        const M: usize,
        const Y: bool,
        const G: bool,
    >(
        &mut self,
        get: impl RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
        set: impl RhaiNativeFunc<B, M, Y, (), G> + Send + Sync + 'static,
    ) -> &mut Self {
        FuncRegistration::new_index_getter().set_into_module(self.0, get);
        FuncRegistration::new_index_setter().set_into_module(self.0, set);
        self
    }
}

pub(crate) fn register_api(engine: &mut ApiModule<'_>) {
    engine
        .register_type_with_name::<ScriptSession>("Session")
        .register_get("event_hub", |s: &mut ScriptSession| s.event_hub.clone())
        .register_get("api_user", |s: &mut ScriptSession| s.api_user.clone())
        .register_get("server_url", |s: &mut ScriptSession| s.server_url.clone())
        .register_get("pipeline", |s: &mut ScriptSession| ScriptPipeline {
            hub: s.event_hub.clone(),
        });
    register_server_api(engine);
    register_pipeline_api(engine);

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
