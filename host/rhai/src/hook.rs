//! A compiled hook file, its `register(session)`, and the handlers it subscribes; the hook's
//! functions run as top-level code, so that the errors of Rhai's limits say where they were.

use super::*;

/// One compiled hook file with the engine of its plugin.
pub struct CompiledHook {
    pub(crate) engine: Arc<Engine>,
    pub(crate) ast: AST,
    pub(crate) path: String,
    /// `path` as Rhai's source of the running code, made once rather than on each call.
    source: ImmutableString,
    pub(crate) plugin: PluginTag,
    /// The plugin's session with the server, shared by its hooks (`api.rs`).
    pub(crate) api: PluginApi,
    /// The hook's functions as top-level code, made as handlers ask for them.
    functions: Mutex<ScriptFunctions>,
    /// The constants the script's top level defines, which its functions read as
    /// `global::NAME`; set when `register` runs the top level.
    constants: OnceLock<Option<GlobalConstants>>,
}

/// Rhai's table of a script's global constants (`rhai::eval::SharedGlobalConstants`).
type GlobalConstants = Arc<std::sync::RwLock<std::collections::BTreeMap<ImmutableString, Dynamic>>>;

/// A hook's functions as top-level code ([`ScriptFunction`]) by name and number of
/// parameters; `None` for one the script does not define.
type ScriptFunctions = HashMap<(String, usize), Option<Arc<ScriptFunction>>>;

impl CompiledHook {
    /// Compiles the hook at `path` (once; every handler shares the result).
    pub fn compile(
        engine: Arc<Engine>,
        plugin: PluginTag,
        path: &Path,
    ) -> Result<CompiledHook, ScriptError> {
        let file = path.display().to_string();
        let text = read_hook_text(path).map_err(|err| ScriptError {
            file: file.clone(),
            line: None,
            column: None,
            message: format!("cannot read: {err}"),
        })?;
        Self::compile_source(engine, plugin, &file, &text)
    }

    /// Compiles hook source `text`; `file` names it in errors and logs.
    pub fn compile_source(
        engine: Arc<Engine>,
        plugin: PluginTag,
        file: &str,
        text: &str,
    ) -> Result<CompiledHook, ScriptError> {
        let mut ast = engine
            .compile(text)
            .map_err(|err| ScriptError::from_parse(file, err))?;
        ast.set_source(file);
        Ok(CompiledHook {
            engine,
            ast,
            path: file.to_string(),
            source: file.into(),
            plugin,
            api: PluginApi::default(),
            functions: Mutex::new(HashMap::new()),
            constants: OnceLock::new(),
        })
    }

    /// The script's function `name` of `arity` parameters, as top-level code; `None` when the
    /// script does not define it (it is a module's, or Rhai's).
    pub(crate) fn function(&self, name: &str, arity: usize) -> Option<Arc<ScriptFunction>> {
        let mut functions = self.functions.lock().unwrap_or_else(|e| e.into_inner());
        functions
            .entry((name.to_string(), arity))
            .or_insert_with(|| ScriptFunction::find(&self.ast, name, arity).map(Arc::new))
            .clone()
    }

    /// Whether the script defines `fn register(session)`, which makes it a plugin hook.
    pub fn defines_register(&self) -> bool {
        self.ast
            .iter_functions()
            .any(|f| f.name == "register" && f.params.len() == 1)
    }

    /// Runs the script's top level and then `register(session)`. The session's server calls
    /// (`session.query`, ...) go through an `ApiSession` over `info.api` that this hook shares
    /// with the other hooks of its plugin when the loader loaded it (a hook compiled alone has
    /// one of its own); without `info.api` they fail, saying the host is not signed in.
    pub fn register(
        self: &Arc<Self>,
        hub: &Arc<EventHub>,
        info: &SessionInfo,
    ) -> Result<(), ScriptError> {
        let event_hub = ScriptHub {
            hub: Arc::downgrade(hub),
            hook: Arc::downgrade(self),
        };
        let session = ScriptSession::new(event_hub, info, self.api.session(info));
        let _stack = StackBudget::claim();
        let fail = |err: Box<EvalAltResult>| ScriptError::from_eval(&self.path, &err);
        // The top level first, as a call would run it: it defines the global constants. A
        // hook of functions only (most) has none to define: nothing to run.
        let mut scope = Scope::new();
        if self.ast.statements().is_empty() {
            let _ = self.constants.set(None);
        } else {
            let _ = self
                .run_statements(self.ast.statements(), &mut scope)
                .map_err(fail)?;
        }
        // Found for this one call, not kept with the handlers' functions: `register` runs once
        // per load, and the kept copies were 140 KiB of a 200-plugin start's 2.7 MiB heap.
        match ScriptFunction::find(&self.ast, "register", 1) {
            Some(register) => register.call(self, [Dynamic::from(session)]),
            // A `register` of a module the script imports.
            None => self.engine.call_fn_with_options::<Dynamic>(
                CallFnOptions::new().eval_ast(false),
                &mut scope,
                &self.ast,
                "register",
                (session,),
            ),
        }
        .map(|_| ())
        .map_err(fail)
    }

    /// Runs `statements` as this script's top-level code in `scope`, with its functions and
    /// global constants, as `Engine::eval_ast_with_scope` would but for those constants:
    /// that is what lets a function run as top-level code ([`ScriptFunction`]) read them.
    /// The first run (the script's own top level) is the one that defines them.
    fn run_statements(&self, statements: &[Stmt], scope: &mut Scope) -> RhaiResult<Dynamic> {
        let mut global = self.engine.new_global_runtime_state();
        global.lib.push(self.ast.shared_lib().clone());
        global.source = Some(self.source.clone());
        global.constants = self.constants.get().cloned().flatten();
        // Rhai's only way to run statements with a runtime state of the caller's making;
        // deprecated since 1.12 but kept (and pinned by Cargo.lock).
        #[allow(deprecated)]
        let outcome =
            self.engine
                .eval_statements_raw(&mut global, &mut Caches::new(), scope, statements);
        let _ = self.constants.set(global.constants);
        outcome
    }
}

/// The text of the hook file at `path`.
///
/// Read into room for most hooks, without `fs::read_to_string`'s `stat` of the file to size
/// its buffer: a fifth of the system calls of reading a hook, one per plugin at start-up.
/// A longer file grows the buffer as it is read.
fn read_hook_text(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    /// Room for most hooks in one read.
    const USUAL_HOOK_SIZE: usize = 8 * 1024;
    let mut text = String::with_capacity(USUAL_HOOK_SIZE);
    // `take` hides the file from `read_to_string`'s size hint, which would `stat` it.
    std::fs::File::open(path)?
        .take(u64::MAX)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// A function of a hook's script made the top level of an AST of its own, and run as such
/// with its parameters as the variables of the scope.
///
/// Why: Rhai passes the errors of its limits (operations, call depth, sizes) up through every
/// function call unchanged but for their position, which each call replaces with its own call
/// site, and last with the host's call, which has none. Called as a function, a handler
/// stopped in an endless loop could only name its file. Run as top-level code, its body keeps
/// the position: the statement it was running, or its call that never came back. It costs
/// nothing per call (the statements are copied once), and spares looking the function up by
/// name on each call as `FnPtr::call` does (a quarter of the cost of a small handler).
///
/// The same statements run in the same scope layout as in a call, so they behave the same:
/// the scope holds only the parameters, in order (a closure's captured variables first), as
/// Rhai's call puts them.
pub(crate) struct ScriptFunction {
    /// The function's name (`anon$...` for a closure), for the chain of calls in errors.
    pub(crate) name: ImmutableString,
    /// Its parameters, in order.
    params: Vec<ImmutableString>,
    /// Its statements, with the script's functions.
    body: AST,
    /// Where its body starts: where a failure found after it returned is reported.
    pub(crate) at: Position,
}

impl ScriptFunction {
    /// The function `name` of `arity` parameters that the script `ast` defines.
    pub(crate) fn find(ast: &AST, name: &str, arity: usize) -> Option<ScriptFunction> {
        let def = ast
            .iter_fn_def()
            .find(|def| def.name == name && def.params.len() == arity)?;
        // Rhai hands out a function's statements only by walking an AST: one that holds just
        // this function, whose top-level nodes are then exactly the body's statements.
        let mut alone = Module::new();
        alone.set_script_fn(def.clone());
        let mut statements = Vec::new();
        AST::new_from_module(alone).walk(&mut |path: &[ASTNode]| {
            if let [ASTNode::Stmt(statement)] = path {
                statements.push((*statement).clone());
            }
            true
        });
        let mut body = AST::new(statements, ast.shared_lib().clone());
        if let Some(source) = ast.source() {
            body.set_source(source);
        }
        Some(ScriptFunction {
            name: def.name.clone(),
            params: def.params.iter().cloned().collect(),
            body,
            at: def.body.start_position(),
        })
    }

    /// Runs the function with `args`, one for each parameter; its errors are named after it
    /// as Rhai names a called function's.
    pub(crate) fn call(
        &self,
        hook: &CompiledHook,
        args: impl IntoIterator<Item = Dynamic>,
    ) -> RhaiResult<Dynamic> {
        let mut scope = Scope::new();
        for (number, (param, value)) in self.params.iter().zip(args).enumerate() {
            // As Rhai's call checks: a captured variable still in use by the closure that
            // holds it (which is running: the event it published led back here).
            if value.is_locked() {
                let what = format!("argument #{} of function '{}'", number + 1, self.name);
                // Reported where the function starts: it never ran.
                return Err(EvalAltResult::ErrorDataRace(what, self.at).into());
            }
            scope.push_dynamic(param.as_str(), value);
        }
        hook.run_statements(self.body.statements(), &mut scope)
            .map_err(|err| {
                let name = self.name.to_string();
                EvalAltResult::ErrorInFunctionCall(name, hook.path.clone(), err, Position::NONE)
                    .into()
            })
    }
}

/// A subscription's callback in a script.
pub(crate) struct ScriptHandler {
    pub(crate) hook: Arc<CompiledHook>,
    pub(crate) callback: FnPtr,
    /// The callback's function when the hook's own script defines it, run as top-level code
    /// ([`ScriptFunction`]); `None` for a function of a module or of Rhai's library, which is
    /// called through the pointer.
    function: Option<Arc<ScriptFunction>>,
}

impl ScriptHandler {
    pub(crate) fn new(hook: Arc<CompiledHook>, callback: FnPtr) -> Self {
        // The event comes after what the pointer curries (a closure's captured variables).
        let function = hook.function(callback.fn_name(), callback.curry().len() + 1);
        ScriptHandler {
            hook,
            callback,
            function,
        }
    }

    /// Calls the script with the event object the Rhai handlers of the dispatch share, and
    /// copies what the script changed back into the event.
    pub(crate) fn run(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        let (_, dispatch) = call.form(DispatchEvent::new);
        let (shared, event) = (dispatch.event.clone(), dispatch.value.clone());
        let stack = StackBudget::claim();
        let outcome = match &self.function {
            Some(function) => {
                let args = self.callback.curry().iter().cloned().chain([event]);
                function.call(&self.hook, args)
            }
            None => self
                .callback
                .call::<Dynamic>(&self.hook.engine, &self.hook.ast, (event,)),
        };
        drop(stack);
        let written = shared.write_back(call);
        self.result(outcome, written)
    }

    /// The handler's reply, or why it failed: its error first, then what it left that JSON
    /// cannot hold (in the event, then in its result).
    pub(crate) fn result(
        &self,
        outcome: RhaiResult<Dynamic>,
        written: Result<(), String>,
    ) -> Result<Reply, HandlerError> {
        let value = outcome.map_err(|err| {
            HandlerError(ScriptError::from_eval(&self.hook.path, &err).to_string())
        })?;
        written.map_err(|what| self.failure(what))?;
        ScriptValue::reply(value)
            .map_err(|err| self.failure(format!("the handler's result is not JSON: {err}")))
    }

    /// A failure found once the handler returned: reported where its function starts.
    fn failure(&self, message: String) -> HandlerError {
        let (name, at) = match &self.function {
            Some(function) => (function.name.as_str(), function.at),
            None => (self.callback.fn_name(), Position::NONE),
        };
        let message = format!("{message} ({})", ScriptError::call_name(name));
        HandlerError(ScriptError::at(&self.hook.path, at, message).to_string())
    }
}

impl Handler for ScriptHandler {
    fn handle(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        self.run(call)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::HubIdentity;
    use serde_json::json;

    /// The hook `source` (as `hook.rhai`) of a plugin of its own, registered on a new hub.
    fn registered(source: &str) -> (Arc<EventHub>, Arc<CompiledHook>) {
        let tag = PluginTag::new("test");
        let folders = PluginFolders {
            root: PathBuf::from("/nowhere"),
            library_dirs: Vec::new(),
        };
        let engine = Arc::new(plugin_engine(&tag, &folders));
        let hook = CompiledHook::compile_source(engine, tag, "hook.rhai", source).unwrap();
        let (hub, hook) = (
            Arc::new(EventHub::new(HubIdentity::local("alice"))),
            Arc::new(hook),
        );
        hook.register(&hub, &SessionInfo::default()).unwrap();
        (hub, hook)
    }

    fn publish(hub: &EventHub, data: Value) -> Vec<Value> {
        hub.publish(&mut Event::new("t").with_data(data))
    }

    /// What the handler made of the script function `name` answers, or why it fails.
    fn answer(hook: &Arc<CompiledHook>, name: &str, data: Value) -> Result<Value, String> {
        let handler = ScriptHandler::new(hook.clone(), FnPtr::new(name).unwrap());
        let mut event = Event::new("t").with_data(data);
        call_once(&handler, &mut event)
            .map(Reply::into_json)
            .map_err(|e| e.0)
    }

    #[test]
    fn handlers_run_as_their_functions_would() {
        let (hub, _) = registered(
            r#"
            fn add(n, event) { n + event.data.x }
            fn early(e) { if e.data.x > 0 { return "positive"; } "not positive" }
            fn twice(f, x) { f.call(f.call(x)) }
            fn register(session) {
                let count = 0;
                let step = 100;
                session.event_hub.subscribe("topic=t", |e| { count += 1; count }, 1);
                session.event_hub.subscribe("topic=t", Fn("add").curry(10), 2);
                session.event_hub.subscribe("topic=t", Fn("early"), 3);
                session.event_hub.subscribe("topic=t", |e| {
                    let inner = |x| x + step;
                    twice(inner, e.data.x)
                }, 4);
            }"#,
        );
        // The closure's captured `count` lives on between calls, as in a call of the closure.
        assert_eq!(
            publish(&hub, json!({"x": 1})),
            vec![json!(1), json!(11), json!("positive"), json!(201)]
        );
        assert_eq!(
            publish(&hub, json!({"x": -1})),
            vec![json!(2), json!(9), json!("not positive"), json!(199)]
        );
    }

    #[test]
    fn the_handlers_of_a_dispatch_share_one_event_as_the_hub_holds_it() {
        let (hub, _) = registered(
            r#"
            fn register(session) {
                let kept = [];
                session.event_hub.subscribe("topic=t", |e| { kept.push(e); e.data = #{ x: 1.0 / 0.0 }; 0 }, 1);
                session.event_hub.subscribe("topic=t", |e| { kept.push(e); e.data.x }, 2);
                session.event_hub.subscribe("topic=t", |e| { e.data = #{ x: e.data.x + 1 }; 0 }, 3);
                session.event_hub.subscribe("topic=t", |e| {
                    kept.push(e);
                    [kept.len(), kept[0].data.x, kept[2].data.x, kept[0].id == kept[2].id]
                }, 4);
            }"#,
        );
        // The first handler's data is not JSON: it fails, and the next one reads the event as
        // the hub holds it, not what the failed handler assigned. The third changes the data:
        // the fourth sees the change, while what the first two kept still reads the data
        // before it.
        assert_eq!(
            publish(&hub, json!({"x": 5})),
            vec![json!(5), json!(0), json!([3, 5, 6, true])]
        );
    }

    #[test]
    fn the_limits_say_where_the_handler_was() {
        let (_, hook) = registered(
            "fn spin(event) {\n    let n = 0;\n    while true { n += 1; }\n}\n\
             fn helper(n) {\n    helper(n + 1)\n}\n\
             fn recurse(event) {\n    let start = 1;\n    helper(start)\n}\n\
             fn register(session) {}",
        );
        let error = answer(&hook, "spin", json!({})).unwrap_err();
        assert!(error.starts_with("hook.rhai:3:"), "{error}");
        assert!(error.contains("operations"), "{error}");
        // The call in the handler that never came back.
        let error = answer(&hook, "recurse", json!({})).unwrap_err();
        assert!(
            error.starts_with("hook.rhai:10:5: stack overflow"),
            "{error}"
        );
        assert!(error.ends_with("(in function 'recurse')"), "{error}");
    }

    #[test]
    fn results_json_cannot_hold_are_reported_where_the_handler_starts() {
        let (_, hook) =
            registered("fn register(session) {}\nfn ratio(event) {\n    [event.data.x / 0.0]\n}");
        assert_eq!(
            answer(&hook, "ratio", json!({"x": 1.5})).unwrap_err(),
            "hook.rhai:2:17: the handler's result is not JSON: JSON has no infinity or NaN \
             (inf) at [0] (in function 'ratio')"
        );
    }
}
