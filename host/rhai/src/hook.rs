//! A compiled hook file, its `register(session)`, and the handlers it subscribes.

use super::*;

/// One compiled hook file with the engine of its plugin.
pub struct CompiledHook {
    pub(crate) engine: Arc<Engine>,
    pub(crate) ast: AST,
    pub(crate) path: String,
    pub(crate) plugin: PluginTag,
}

impl CompiledHook {
    /// Compiles the hook at `path` (once; every handler shares the result).
    pub fn compile(
        engine: Arc<Engine>,
        plugin: PluginTag,
        path: &Path,
    ) -> Result<CompiledHook, ScriptError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| ScriptError {
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
            plugin,
        })
    }

    /// Whether the script defines `fn register(session)`, which makes it a plugin hook.
    pub fn defines_register(&self) -> bool {
        self.ast
            .iter_functions()
            .any(|f| f.name == "register" && f.params.len() == 1)
    }

    /// Runs the script's top level and then `register(session)`.
    pub fn register(
        self: &Arc<Self>,
        hub: &Arc<EventHub>,
        info: &SessionInfo,
    ) -> Result<(), ScriptError> {
        let session = ScriptSession {
            event_hub: ScriptHub {
                hub: Arc::downgrade(hub),
                hook: Arc::downgrade(self),
            },
            api_user: info.api_user.as_str().into(),
            server_url: info.server_url.as_str().into(),
        };
        self.engine
            .call_fn::<Dynamic>(&mut Scope::new(), &self.ast, "register", (session,))
            .map(|_| ())
            .map_err(|err| ScriptError::from_eval(&self.path, &err))
    }
}

/// A subscription's callback in a script.
pub(crate) struct ScriptHandler {
    pub(crate) hook: Arc<CompiledHook>,
    pub(crate) callback: FnPtr,
    /// The callback names a function of the hook's own script and curries nothing, so it is
    /// called by name in the hook's AST: `FnPtr::call` resolves the name through every module
    /// on each call, a quarter of the cost of a small handler.
    pub(crate) direct: bool,
}

impl ScriptHandler {
    /// Calls the script with the event as Rhai values, shared with the other Rhai handlers of
    /// the dispatch, and copies what the script changed back into the event.
    pub(crate) fn run(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        let (event, snapshot) =
            call.form(|event| SharedSnapshot(Arc::new(ScriptSnapshot::new(event))));
        let shared = ScriptEvent::new(snapshot.0.clone(), event.is_stopped());
        let outcome = if self.direct {
            let name = self.callback.fn_name();
            self.hook
                .engine
                .call_fn_with_options::<Dynamic>(
                    rhai::CallFnOptions::new().eval_ast(false),
                    &mut Scope::new(),
                    &self.hook.ast,
                    name,
                    (shared.clone(),),
                )
                // `call_fn` drops the frame naming the function; errors name it as for any call.
                .map_err(|err| {
                    EvalAltResult::ErrorInFunctionCall(
                        name.into(),
                        self.hook.path.clone(),
                        err,
                        Position::NONE,
                    )
                    .into()
                })
        } else {
            self.callback
                .call::<Dynamic>(&self.hook.engine, &self.hook.ast, (shared.clone(),))
        };
        shared.write_back(call)?;
        self.result(outcome)
    }

    pub(crate) fn result(&self, outcome: RhaiResult<Dynamic>) -> Result<Reply, HandlerError> {
        let value = outcome.map_err(|err| {
            HandlerError(ScriptError::from_eval(&self.hook.path, &err).to_string())
        })?;
        ScriptValue::reply(value).map_err(|err| {
            HandlerError(format!(
                "{}: handler returned a value that is not JSON: {err}",
                self.hook.path
            ))
        })
    }
}

impl Handler for ScriptHandler {
    fn handle(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        self.run(call)
    }
}
