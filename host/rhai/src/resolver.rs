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

#[cfg(test)]
mod tests {
    use super::*;

    /// A plugin folder with `resource/` and `dependencies/`, and a file outside it.
    struct Plugin {
        dir: tempfile::TempDir,
    }

    impl Plugin {
        fn new() -> Plugin {
            let dir = tempfile::tempdir().unwrap();
            for folder in ["plugin/resource/util", "plugin/dependencies", "outside"] {
                std::fs::create_dir_all(dir.path().join(folder)).unwrap();
            }
            Plugin { dir }
        }

        fn root(&self) -> PathBuf {
            self.dir.path().join("plugin").canonicalize().unwrap()
        }

        fn write(&self, relative: &str, text: &str) -> PathBuf {
            let path = self.dir.path().join(relative);
            std::fs::write(&path, text).unwrap();
            path
        }

        fn folders(&self) -> PluginFolders {
            let root = self.root();
            PluginFolders {
                library_dirs: vec![root.join("resource"), root.join("dependencies")],
                root,
            }
        }

        fn resolver(&self) -> PluginModuleResolver {
            PluginModuleResolver::new(self.folders())
        }

        /// Runs `script` with this plugin's engine; its value, or the error's text.
        fn run(&self, script: &str) -> Result<i64, String> {
            let engine = plugin_engine(&PluginTag::new("test"), &self.folders());
            engine.eval::<i64>(script).map_err(|err| err.to_string())
        }
    }

    #[test]
    fn modules_resolve_in_resource_then_dependencies_and_in_sub_folders() {
        let plugin = Plugin::new();
        plugin.write("plugin/resource/both.rhai", "fn f() { 1 }");
        plugin.write("plugin/dependencies/both.rhai", "fn f() { 2 }");
        plugin.write("plugin/dependencies/deps_only.rhai", "fn f() { 3 }");
        plugin.write("plugin/resource/util/math.rhai", "fn f() { 4 }");
        let resolver = plugin.resolver();
        let root = plugin.root();
        assert_eq!(
            resolver.locate("both").unwrap(),
            root.join("resource/both.rhai")
        );
        assert_eq!(
            resolver.locate("deps_only").unwrap(),
            root.join("dependencies/deps_only.rhai")
        );
        assert_eq!(
            resolver.locate("util/math.rhai").unwrap(),
            root.join("resource/util/math.rhai")
        );
        assert_eq!(
            plugin.run(r#"import "both" as b; import "util/math" as m; b::f() * 10 + m::f()"#),
            Ok(14)
        );
    }

    #[test]
    fn paths_that_leave_the_library_folders_are_refused() {
        let plugin = Plugin::new();
        let outside = plugin.write("outside/secret.rhai", "fn f() { 1 }");
        let resolver = plugin.resolver();
        for name in ["../../outside/secret", "../resource/x", "/etc/passwd"] {
            let err = resolver.locate(name).unwrap_err();
            assert!(err.contains("must be a path inside"), "{name}: {err}");
        }
        let absolute = outside.display().to_string();
        assert!(resolver.locate(&absolute).is_err(), "{absolute}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_out_of_the_plugin_folder_is_refused_one_inside_is_followed() {
        let plugin = Plugin::new();
        let outside = plugin.write("outside/secret.rhai", "fn f() { 1 }");
        let root = plugin.root();
        std::os::unix::fs::symlink(&outside, root.join("resource/escape.rhai")).unwrap();
        let inside = plugin.write("plugin/dependencies/real.rhai", "fn f() { 2 }");
        std::os::unix::fs::symlink(&inside, root.join("resource/alias.rhai")).unwrap();
        let resolver = plugin.resolver();
        let err = resolver.locate("escape").unwrap_err();
        assert!(err.contains("outside the plugin folder"), "{err}");
        assert_eq!(
            resolver.locate("alias").unwrap(),
            inside.canonicalize().unwrap()
        );
    }

    #[test]
    fn missing_modules_and_hooks_without_library_folders_say_where_they_looked() {
        let plugin = Plugin::new();
        let err = plugin.resolver().locate("nothing").unwrap_err();
        assert!(
            err.contains("not found in") && err.contains("resource"),
            "{err}"
        );
        let bare = PluginModuleResolver::new(PluginFolders {
            root: plugin.root(),
            library_dirs: Vec::new(),
        });
        let err = bare.locate("anything").unwrap_err();
        assert!(
            err.contains("no resource/ or dependencies/ folder"),
            "{err}"
        );
    }

    #[test]
    fn circular_imports_are_an_error_and_modules_are_compiled_once() {
        let plugin = Plugin::new();
        plugin.write("plugin/resource/a.rhai", r#"import "b" as b; fn f() { 1 }"#);
        plugin.write("plugin/resource/b.rhai", r#"import "a" as a; fn f() { 2 }"#);
        let err = plugin.run(r#"import "a" as a; a::f()"#).unwrap_err();
        assert!(err.contains("circular import"), "{err}");

        plugin.write("plugin/resource/c.rhai", "fn f() { 3 }");
        let engine = plugin_engine(&PluginTag::new("test"), &plugin.folders());
        let first = r#"import "c" as c; c::f()"#;
        assert_eq!(engine.eval::<i64>(first).unwrap(), 3);
        // Changed on disk: the engine keeps the module it compiled (a reload makes a new
        // engine, and so sees the change).
        plugin.write("plugin/resource/c.rhai", "fn f() { 4 }");
        assert_eq!(engine.eval::<i64>(first).unwrap(), 3);
    }
}
