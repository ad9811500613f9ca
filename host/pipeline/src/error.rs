//! Why a schema or definition file was not kept: always the file (relative to the
//! `FTRACK_DEFINITION_PATH` folder it was found in, as studios lay their folders out) and,
//! when the fault is a value, the JSON path to it, so that the author can go straight to it.

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::definition::DefinitionType;

/// A file that was not kept, and why.
#[derive(Debug, Error)]
#[error("{}: {problem}", file.display())]
pub struct DefinitionError {
    /// The `FTRACK_DEFINITION_PATH` folder the file was found in.
    pub root: PathBuf,
    /// The file, relative to `root` (e.g. `publisher/python/file-python-publish.json`).
    pub file: PathBuf,
    /// What is wrong with it.
    pub problem: Problem,
}

impl DefinitionError {
    /// `problem` with `file` below `root`.
    pub fn new(root: &Path, file: &Path, problem: Problem) -> DefinitionError {
        DefinitionError {
            root: root.to_path_buf(),
            file: file.to_path_buf(),
            problem,
        }
    }

    /// The file's full path.
    pub fn path(&self) -> PathBuf {
        self.root.join(&self.file)
    }
}

/// What is wrong with a schema or definition file.
#[derive(Debug, Error)]
pub enum Problem {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Read(#[source] std::io::Error),
    /// The file is not JSON.
    #[error("line {line} column {column}: not JSON: {message}")]
    Parse {
        /// The line of the fault (1-based).
        line: usize,
        /// The column of the fault (1-based).
        column: usize,
        /// serde_json's description.
        message: String,
    },
    /// The definition does not satisfy its schema (after the schema's defaults were filled
    /// in, as the framework validates): every value at fault.
    #[error("{}", join(.0))]
    Invalid(Vec<Violation>),
    /// The framework drops a definition whose asset type the server does not know.
    #[error("/asset_type: {0:?} is not an asset type of the server")]
    UnknownAssetType(String),
    /// A plugin of the definition is not registered: the definition could not run.
    #[error("{0}")]
    PluginNotFound(Box<MissingPlugin>),
    /// No schema of the definition's type was found on the path: nothing to validate it
    /// with (the framework kept such definitions as they were; we do not hand an engine a
    /// definition nothing has checked).
    #[error("no {0} schema found in any schema/ folder")]
    NoSchema(DefinitionType),
    /// A schema's title names no definition type.
    #[error("/title: {0:?} names no definition type (publisher, loader, opener, asset_manager)")]
    UnknownSchemaTitle(String),
    /// A second schema for a type: the first found is used (the framework fails on this).
    #[error("another {kind} schema was found first ({}): this one is not used", first.display())]
    DuplicateSchema {
        /// The type.
        kind: DefinitionType,
        /// The schema in use.
        first: PathBuf,
    },
    /// The schema is not a schema the validator accepts.
    #[error("not a usable JSON schema: {0}")]
    BadSchema(String),
}

/// A plugin entry no registered pipeline plugin answers for.
#[derive(Debug, Error)]
#[error(
    "{pointer}: plugin {plugin:?} ({plugin_type}) not found for host type {}",
    host_types.join(", ")
)]
pub struct MissingPlugin {
    /// The JSON path of the plugin entry.
    pub pointer: String,
    /// The plugin's name (its `plugin` key).
    pub plugin: String,
    /// `<definition type>.<stage name>`, as the framework asks for it.
    pub plugin_type: String,
    /// The host types it was looked for under.
    pub host_types: Vec<String>,
}

/// One value at fault: its JSON path (a JSON pointer, `/` for the whole document) and what
/// is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The JSON pointer to the value (`""` for the whole document).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: {}", self.message)
    }
}

/// Violations one after the other.
fn join(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(Violation::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
