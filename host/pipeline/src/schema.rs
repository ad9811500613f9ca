//! The schemas of the `schema/` folders: one per definition type, found by its `title`
//! (`Publisher`, `Loader`, `Opener`, `Asset_manager`, lower-cased, as the framework matches
//! them), each compiled once for validating and augmenting every definition of its type.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::augment::Augmenter;
use crate::definition::DefinitionType;
use crate::error::{DefinitionError, Problem};

/// One schema and the definition type it is for.
#[derive(Debug)]
pub struct Schema {
    kind: DefinitionType,
    root: PathBuf,
    file: PathBuf,
    augmenter: Augmenter,
}

impl Schema {
    /// The schema `value` read from `file` (relative to `root`): its title must name a
    /// definition type and it must compile.
    pub fn new(root: &Path, file: &Path, value: Value) -> Result<Schema, DefinitionError> {
        let fail = |problem| DefinitionError::new(root, file, problem);
        let title = value["title"].as_str().unwrap_or_default();
        let kind = DefinitionType::from_schema_title(title)
            .ok_or_else(|| fail(Problem::UnknownSchemaTitle(title.to_string())))?;
        let augmenter = Augmenter::new(value).map_err(|e| fail(Problem::BadSchema(e)))?;
        Ok(Schema {
            kind,
            root: root.to_path_buf(),
            file: file.to_path_buf(),
            augmenter,
        })
    }

    /// The definition type it is for.
    pub fn kind(&self) -> DefinitionType {
        self.kind
    }

    /// The schema's JSON, as read (its `$ref`s unresolved).
    pub fn value(&self) -> &Value {
        self.augmenter.schema()
    }

    /// The folder of the definition path it was found in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Its file, relative to [`Schema::root`] (`schema/publisher-schema.json`).
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// What validates and augments definitions of its type.
    pub fn augmenter(&self) -> &Augmenter {
        &self.augmenter
    }
}
