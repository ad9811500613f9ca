//! `ftrack-connect plugin new`: a new plugin folder with a working hook, from a template.
//!
//! A Rhai plugin is ready as written: the host loads it on its next start (or at once under
//! `run --watch`). A native plugin is a standalone Cargo crate whose `hook/` folder is where
//! its built library goes; `connect-plugin-api` is referenced by path, at the copy this
//! `ftrack-connect` was built from.

use std::path::{Path, PathBuf};

/// Where `connect-plugin-api` was when this binary was built.
const PLUGIN_API_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugin-api/sdk");

/// Why `plugin new` made no plugin.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name cannot name a plugin folder.
    #[error("invalid plugin name {0:?}: use letters, digits, '-' and '_', starting with a letter")]
    InvalidName(String),
    /// The folder exists.
    #[error("{0} already exists: choose another name or remove it")]
    Exists(PathBuf),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// Creates plugin `name` in `dir`; returns the plugin folder.
pub fn new_plugin(name: &str, dir: &Path, native: bool) -> Result<PathBuf, ScaffoldError> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(ScaffoldError::InvalidName(name.to_string()));
    }
    let folder = dir.join(name);
    if folder.exists() {
        return Err(ScaffoldError::Exists(folder));
    }
    let snake = name.replace('-', "_");
    let files: Vec<(PathBuf, String)> = if native {
        let api = Path::new(PLUGIN_API_DIR);
        let api = api.canonicalize().unwrap_or_else(|_| api.to_path_buf());
        vec![
            (
                folder.join("Cargo.toml"),
                NATIVE_CARGO
                    .replace("{name}", name)
                    .replace("{api}", &api.display().to_string().replace('\\', "/")),
            ),
            (
                folder.join("src/lib.rs"),
                NATIVE_LIB.replace("{name}", name),
            ),
            (
                folder.join("hook/README.md"),
                NATIVE_HOOK_README.replace("{lib}", &library_file(&snake)),
            ),
        ]
    } else {
        vec![(
            folder.join(format!("hook/{snake}.rhai")),
            RHAI_HOOK.replace("{name}", name),
        )]
    };
    for (path, text) in files {
        let io = |source| ScaffoldError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(path.parent().expect("files are in folders")).map_err(io)?;
        std::fs::write(&path, text).map_err(io)?;
    }
    Ok(folder)
}

/// The file name cargo gives the library of crate `snake` on this platform.
pub fn library_file(snake: &str) -> String {
    format!(
        "{}{snake}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

const RHAI_HOOK: &str = r#"// {name}: offers an action on any selection and answers its launch.
//
// `ftrack-connect event publish ftrack.action.discover` shows what it offers; edit and save
// while `ftrack-connect run --watch` runs to see each change at once.

fn discover(event) {
    let selection = event.data.selection ?? [];
    #{ items: [#{ label: "{name}", actionIdentifier: "{name}", description: `For ${selection.len()} selected entities` }] }
}

fn launch(event) {
    #{ success: true, message: "{name} ran" }
}

fn register(session) {
    session.event_hub.subscribe("topic=ftrack.action.discover", Fn("discover"));
    session.event_hub.subscribe("topic=ftrack.action.launch and data.actionIdentifier={name}", Fn("launch"));
}
"#;

const NATIVE_CARGO: &str = r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
connect-plugin-api = { path = "{api}" }
abi_stable = "0.11"

# A crate of its own, even when created inside another workspace.
[workspace]
"#;

const NATIVE_LIB: &str = r#"//! {name}: a native ftrack-connect plugin. Build with `cargo build --release`, then copy the
//! library from `target/release/` into `hook/` (see hook/README.md).

use connect_plugin_api::author::{json, Error, Session};

fn register(session: &Session) -> Result<(), Error> {
    session.subscribe("topic=ftrack.action.discover", |event| {
        let selected = event.data["selection"].as_array().map_or(0, Vec::len);
        Ok(json!({"items": [{
            "label": "{name}",
            "actionIdentifier": "{name}",
            "description": format!("For {selected} selected entities"),
        }]}))
    })?;
    session.subscribe(
        "topic=ftrack.action.launch and data.actionIdentifier={name}",
        |_event| Ok(json!({"success": true, "message": "{name} ran"})),
    )?;
    Ok(())
}

connect_plugin_api::export_plugin!(register);
"#;

const NATIVE_HOOK_README: &str = "Put the built library here:\n\n    cargo build --release && cp target/release/{lib} hook/\n\n`ftrack-connect run --watch` loads each new copy as it arrives.\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_existing_folders_kept() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            new_plugin("../evil", dir.path(), false),
            Err(ScaffoldError::InvalidName(_))
        ));
        let folder = new_plugin("my-tool", dir.path(), false).unwrap();
        assert!(folder.join("hook/my_tool.rhai").is_file());
        assert!(matches!(
            new_plugin("my-tool", dir.path(), true),
            Err(ScaffoldError::Exists(_))
        ));
    }
}
