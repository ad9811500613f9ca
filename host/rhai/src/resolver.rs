//! `import`: resolving modules inside the plugin's `resource/` and `dependencies/` folders,
//! never outside the plugin folder.

use super::*;

/// Resolves `import "name"` inside one plugin's library folders, never outside its root.
pub(crate) struct PluginModuleResolver {
    pub(crate) folders: PluginFolders,
    pub(crate) cache: Mutex<HashMap<PathBuf, SharedModule>>,
    pub(crate) loading: Mutex<HashSet<PathBuf>>,
}

impl PluginModuleResolver {
    pub(crate) fn new(folders: PluginFolders) -> Self {
        PluginModuleResolver {
            folders,
            cache: Mutex::default(),
            loading: Mutex::default(),
        }
    }

    /// The file `import "name"` refers to, or why there is none.
    pub(crate) fn locate(&self, name: &str) -> Result<PathBuf, String> {
        let mut relative = PathBuf::from(name);
        if relative.extension().is_none() {
            relative.set_extension("rhai");
        }
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(format!(
                "import \"{name}\" must be a path inside the plugin's resource/ or dependencies/ folder"
            ));
        }
        if self.folders.library_dirs.is_empty() {
            return Err(format!(
                "cannot import \"{name}\": this hook has no resource/ or dependencies/ folder to import from"
            ));
        }
        for dir in &self.folders.library_dirs {
            let candidate = dir.join(&relative);
            if let Ok(real) = candidate.canonicalize() {
                // A symlink may point anywhere: judge where the file really is.
                if !real.starts_with(&self.folders.root) {
                    return Err(format!(
                        "import \"{name}\" resolves to {} outside the plugin folder {}",
                        real.display(),
                        self.folders.root.display()
                    ));
                }
                if real.is_file() {
                    return Ok(real);
                }
            }
        }
        Err(format!(
            "module \"{name}\" not found in {}",
            self.folders
                .library_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(" or ")
        ))
    }
}

impl ModuleResolver for PluginModuleResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> RhaiResult<SharedModule> {
        let fail = |message: String| {
            Err(Box::new(EvalAltResult::ErrorInModule(
                path.to_string(),
                Box::new(EvalAltResult::ErrorRuntime(message.into(), Position::NONE)),
                pos,
            )))
        };
        let file = match self.locate(path) {
            Ok(file) => file,
            Err(message) => return fail(message),
        };
        if let Some(module) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&file)
        {
            return Ok(module.clone());
        }
        if !self
            .loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(file.clone())
        {
            return fail(format!("circular import of {}", file.display()));
        }
        let result: RhaiResult<SharedModule> = (|| {
            let display = file.display().to_string();
            let text = std::fs::read_to_string(&file).map_err(|err| {
                Box::new(EvalAltResult::ErrorRuntime(
                    format!("cannot read {display}: {err}").into(),
                    pos,
                ))
            })?;
            let mut ast = engine.compile(&text).map_err(|err| {
                let error = ScriptError::from_parse(&display, err);
                Box::new(EvalAltResult::ErrorRuntime(error.to_string().into(), pos))
            })?;
            ast.set_source(display);
            let mut module = Module::eval_ast_as_new(Scope::new(), &ast, engine)?;
            module.build_index();
            Ok(SharedModule::new(module))
        })();
        self.loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&file);
        let module = result?;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(file, module.clone());
        Ok(module)
    }
}
