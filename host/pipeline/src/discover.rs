//! Finding the definitions on `FTRACK_DEFINITION_PATH`, as the framework's host collects
//! them (`definition/collect.py`, `definition/validate.py`, `host/validation.py`), and
//! keeping the ones it would keep.
//!
//! Each folder of the path may hold `schema/`, `publisher/`, `loader/`, `opener/` and
//! `asset_manager/`, searched recursively for `*.json` (by convention a folder per host type:
//! `publisher/python/file-python-publish.json`). A definition's type is the folder it is in.
//! Then, in the framework's order:
//!
//! 1. definitions whose `host_type` is not one of the host's are left out (not an error:
//!    another host serves them);
//! 2. a definition other than an asset manager whose `asset_type` the server does not know
//!    is dropped — when the server's asset types are given ([`Options::asset_types`]);
//! 3. each definition is augmented and validated with the schema of its type
//!    ([`crate::augment`]), and dropped with every value at fault if invalid;
//! 4. a publisher, loader or opener one of whose plugins no pipeline plugin answers for is
//!    dropped — when the registered plugins are given ([`Options::plugins`]; the command
//!    line, which runs no host, gives none and so drops nothing on that ground).
//!
//! Unlike the framework, which logs and forgets, every file not kept is reported with the
//! reason ([`Discovery::dropped`]). Two deliberate differences: a definition of a type no
//! schema was found for is dropped (the framework passed it on unchecked), and a second
//! schema for a type is reported and not used, the first found on the path winning (the
//! framework fails on it), so that a studio's folder first on the path can override a
//! schema.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::definition::{Definition, DefinitionType};
use crate::error::{DefinitionError, MissingPlugin, Problem};
use crate::schema::Schema;

/// The environment variable listing the definition folders (separated as `PATH` is).
pub const DEFINITION_PATH_VARIABLE: &str = "FTRACK_DEFINITION_PATH";

/// The schemas' folder in each definition folder.
const SCHEMA_FOLDER: &str = "schema";

/// The folders of `FTRACK_DEFINITION_PATH`, in order (empty entries skipped).
pub fn definition_paths_from_env() -> Vec<PathBuf> {
    std::env::var_os(DEFINITION_PATH_VARIABLE)
        .map(|paths| {
            std::env::split_paths(&paths)
                .filter(|path| !path.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a pipeline plugin answers for a plugin entry of a definition (the framework asks
/// with a synchronous `ftrack.pipeline.discover` event per entry and host type).
pub trait PluginLookup {
    /// Whether `query`'s plugin is registered for its plugin type and host type.
    fn has_plugin(&self, query: &PluginQuery<'_>) -> bool;
}

/// What the framework's `ftrack.pipeline.discover` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginQuery<'a> {
    /// The plugin's name (the entry's `plugin`).
    pub plugin_name: &'a str,
    /// `<definition type>.<stage name>` (`publisher.collector`).
    pub plugin_type: String,
    /// One host type of the host.
    pub host_type: &'a str,
}

/// Plugins known by name only, whatever their type and host type.
impl PluginLookup for BTreeSet<String> {
    fn has_plugin(&self, query: &PluginQuery<'_>) -> bool {
        self.contains(query.plugin_name)
    }
}

impl<F: Fn(&PluginQuery<'_>) -> bool> PluginLookup for F {
    fn has_plugin(&self, query: &PluginQuery<'_>) -> bool {
        self(query)
    }
}

/// What to keep.
#[derive(Default)]
pub struct Options<'a> {
    /// The host's types (`["python"]`): definitions for others are left out. `None`: all.
    pub host_types: Option<Vec<String>>,
    /// The definition types wanted. `None`: all.
    pub kinds: Option<Vec<DefinitionType>>,
    /// The server's asset type short names (`select short from AssetType`). `None`: no
    /// server to ask, so no definition is dropped for its asset type.
    pub asset_types: Option<BTreeSet<String>>,
    /// The registered pipeline plugins. `None`: not known (no host), so no definition is
    /// dropped for a missing plugin.
    pub plugins: Option<&'a dyn PluginLookup>,
}

/// What [`discover`] found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// The schemas in use, one per type found.
    pub schemas: Vec<Schema>,
    /// The definitions kept, augmented, by type (publisher, loader, opener, asset manager)
    /// then in the order found.
    pub definitions: Vec<Definition>,
    /// Every schema or definition file not kept, and why.
    pub dropped: Vec<DefinitionError>,
}

impl Discovery {
    /// The schema for `kind`, if one was found.
    pub fn schema(&self, kind: DefinitionType) -> Option<&Schema> {
        self.schemas.iter().find(|schema| schema.kind() == kind)
    }

    /// The kept definitions of `kind`.
    pub fn of_kind(&self, kind: DefinitionType) -> impl Iterator<Item = &Definition> {
        self.definitions.iter().filter(move |d| d.kind() == kind)
    }
}

/// A JSON file found below a definition folder.
struct Found {
    root: PathBuf,
    file: PathBuf,
    value: Value,
}

/// Finds, validates and augments the definitions below `paths`.
pub fn discover(paths: &[PathBuf], options: &Options<'_>) -> Discovery {
    let mut discovery = Discovery::default();
    for root in paths {
        for found in collect(root, Path::new(SCHEMA_FOLDER), &mut discovery.dropped) {
            add_schema(&mut discovery, found);
        }
    }
    let wanted = |kind: &DefinitionType| options.kinds.as_ref().is_none_or(|k| k.contains(kind));
    for kind in DefinitionType::ALL.iter().filter(|k| wanted(k)) {
        for root in paths {
            let folder = Path::new(kind.as_str());
            for found in collect(root, folder, &mut discovery.dropped) {
                match keep(&discovery, *kind, found, options) {
                    Ok(Some(definition)) => discovery.definitions.push(definition),
                    Ok(None) => {}
                    Err(error) => discovery.dropped.push(error),
                }
            }
        }
    }
    for error in &discovery.dropped {
        tracing::debug!("definition file not kept: {error}");
    }
    discovery
}

/// Adds a schema unless its type has one already.
fn add_schema(discovery: &mut Discovery, found: Found) {
    let schema = match Schema::new(&found.root, &found.file, found.value) {
        Ok(schema) => schema,
        Err(error) => return discovery.dropped.push(error),
    };
    if let Some(first) = discovery.schema(schema.kind()) {
        let problem = Problem::DuplicateSchema {
            kind: schema.kind(),
            first: first.root().join(first.file()),
        };
        discovery
            .dropped
            .push(DefinitionError::new(&found.root, &found.file, problem));
        return;
    }
    discovery.schemas.push(schema);
}

/// The definition `found` of `kind` if kept; `None` if it is for another host.
fn keep(
    discovery: &Discovery,
    kind: DefinitionType,
    found: Found,
    options: &Options<'_>,
) -> Result<Option<Definition>, DefinitionError> {
    let fail = |problem| DefinitionError::new(&found.root, &found.file, problem);
    // As the framework compares: `str(definition.get('host_type'))`.
    let host_type = match &found.value["host_type"] {
        Value::String(text) => text.clone(),
        Value::Null => "None".to_string(),
        other => other.to_string(),
    };
    if let Some(host_types) = &options.host_types {
        if !host_types.contains(&host_type) {
            return Ok(None);
        }
    }
    if let (Some(asset_types), true) = (&options.asset_types, kind.has_steps()) {
        let asset_type = found.value["asset_type"].as_str().unwrap_or_default();
        if !asset_types.contains(asset_type) {
            return Err(fail(Problem::UnknownAssetType(asset_type.to_string())));
        }
    }
    let schema = discovery
        .schema(kind)
        .ok_or_else(|| fail(Problem::NoSchema(kind)))?;
    let value = schema
        .augmenter()
        .augment(&found.value)
        .map_err(|violations| fail(Problem::Invalid(violations)))?;
    let definition = Definition::new(kind, &found.root, &found.file, value);
    if let Some(plugins) = options.plugins {
        // The framework asks under each of the host's types, the last first; without a
        // host, under the definition's own.
        let host_types = options
            .host_types
            .clone()
            .unwrap_or_else(|| vec![host_type.clone()]);
        for plugin in definition.plugins() {
            let plugin_type = format!("{kind}.{}", plugin.stage);
            let found_it = host_types.iter().rev().any(|host_type| {
                plugins.has_plugin(&PluginQuery {
                    plugin_name: plugin.plugin,
                    plugin_type: plugin_type.clone(),
                    host_type,
                })
            });
            if !found_it {
                return Err(fail(Problem::PluginNotFound(Box::new(MissingPlugin {
                    pointer: plugin.pointer.clone(),
                    plugin: plugin.plugin.to_string(),
                    plugin_type,
                    host_types,
                }))));
            }
        }
    }
    Ok(Some(definition))
}

/// Every `*.json` below `root/folder`, read, in name order (the framework's `os.walk`
/// order is the file system's; ours is stable). Files that cannot be read or parsed go to
/// `dropped`.
fn collect(root: &Path, folder: &Path, dropped: &mut Vec<DefinitionError>) -> Vec<Found> {
    let mut files = Vec::new();
    walk(root, folder, &mut files, 0);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(root.join(&file)) {
            Ok(text) => text,
            Err(error) => {
                dropped.push(DefinitionError::new(root, &file, Problem::Read(error)));
                continue;
            }
        };
        match serde_json::from_str(&text) {
            Ok(value) => found.push(Found {
                root: root.to_path_buf(),
                file,
                value,
            }),
            Err(error) => {
                // serde_json's message ends with the position, which is said already.
                let mut message = error.to_string();
                if let Some(at) = message.rfind(" at line ") {
                    message.truncate(at);
                }
                let problem = Problem::Parse {
                    line: error.line(),
                    column: error.column(),
                    message,
                };
                dropped.push(DefinitionError::new(root, &file, problem));
            }
        }
    }
    found
}

/// Adds the `*.json` files below `root/relative` to `files` (relative to `root`). Like
/// `os.walk`, symbolic links to folders are not followed (a loop cannot be walked forever).
fn walk(root: &Path, relative: &Path, files: &mut Vec<PathBuf>, depth: usize) {
    const MAX_DEPTH: usize = 32;
    let Ok(entries) = std::fs::read_dir(root.join(relative)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = relative.join(entry.file_name());
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            if depth < MAX_DEPTH {
                walk(root, &path, files, depth + 1);
            }
        } else if entry.file_name().to_string_lossy().ends_with(".json")
            && root.join(&path).is_file()
        {
            files.push(path);
        }
    }
}

#[cfg(test)]
mod tests;
