//! `connect-pipeline`: ftrack's pipeline framework (ftrack-connect-pipeline 1.3.0), as the
//! project implements it. This part holds its **definitions**.
//!
//! A definition is a JSON file telling a pipeline host what to run for a publish, a load, an
//! open or the asset manager: steps (`contexts`, `components`, `finalizers`) made of stages
//! made of plugins. Studios write them by hand, leaving out what the framework fills in, so
//! the framework checks each one against the JSON schema of its type and *augments* it with
//! the schema's defaults (`enabled`, `optional`, `visible`, `editable`, `category`, `type`,
//! `default_method`, `options`, `stage_order`, `discoverable`, `_config`...). Clients and
//! engines only ever see the augmented form, so it must be what the framework produces, key
//! for key: Python clients talking to our host read it, and the engines rely on every key.
//!
//! * [`discover`] walks the `FTRACK_DEFINITION_PATH` folders (`schema/`, `publisher/`,
//!   `loader/`, `opener/`, `asset_manager/`), filters by host type and asset type, and keeps
//!   the valid definitions; every file it does not keep is in [`Discovery::dropped`] with
//!   the reason ([`DefinitionError`]: the file and the JSON path of the bad value);
//! * [`Schema`] is one schema of the `schema/` folder and the type it is for;
//! * [`inherit`] reads a schema as the framework did (`allOf` as inheritance);
//! * [`augment`] fills a definition with its schema's defaults as python_jsonschema_objects
//!   did for the framework, then validates the result;
//! * [`Definition`] is a kept definition: its [`DefinitionType`], name, host type, the
//!   augmented JSON and a typed view of its steps, stages and plugins.
//!
//! * [`host`] is the pipeline host: a [`PipelineHost`] on a `connect_core::EventHub`,
//!   discoverable by the framework's clients (`ftrack.pipeline.host.discover`) with its id,
//!   context and definitions, following context changes, running what its clients ask
//!   (`ftrack.pipeline.host.run`) with the [`engine`]s; [`topics`] are the framework's.
//!
//! No I/O but reading the definition folders; the host is given its event hub (no network,
//! no async runtime here).

#![deny(missing_docs)]

pub mod augment;
pub mod client;
pub mod definition;
pub mod discover;
pub mod engine;
pub mod error;
pub mod host;
pub mod inherit;
pub mod log;
pub mod plugin;
pub mod schema;
pub mod topics;

pub use augment::Augmenter;
pub use definition::{Definition, DefinitionType, Plugin, Stage, Step, StepGroup};
pub use discover::{
    definition_paths_from_env, discover, Discovery, Options, PluginLookup, PluginQuery,
    DEFINITION_PATH_VARIABLE,
};
pub use engine::{Engine, RunError};
pub use error::{DefinitionError, MissingPlugin, Problem, Violation};
pub use host::{
    context_id_from_env, serve_definition_paths, HostConfig, PipelineHost, STANDALONE_HOST_TYPE,
};
pub use plugin::{PluginCall, PluginFailure, PluginFn, PluginSpec};
pub use schema::Schema;

/// The fixtures of ftrack's own schemas and definitions, for the tests: `../shared` next to
/// the workspace.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::path::PathBuf;

    /// `fixtures/ftrack-connect-pipeline` of the project's shared material: in
    /// `$FTRACK_SHARED_DIR`, else `../shared` next to the workspace, else `/work/shared`
    /// (where CI's clean clones of the project find it).
    pub fn root() -> PathBuf {
        let relative = "fixtures/ftrack-connect-pipeline";
        let candidates = [
            std::env::var_os("FTRACK_SHARED_DIR").map(PathBuf::from),
            Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")),
            Some(PathBuf::from("/work/shared")),
        ];
        candidates
            .into_iter()
            .flatten()
            .map(|dir| dir.join(relative))
            .find(|path| path.is_dir())
            .unwrap_or_else(|| {
                panic!(
                    "the pipeline fixtures ({relative}) are not in ../shared or /work/shared: \
                     set FTRACK_SHARED_DIR to the folder that has fixtures/"
                )
            })
    }

    /// The definition repository's 1.2.0 folder (its schemas and every definition).
    pub fn definitions() -> PathBuf {
        root().join("definition/resource/definitions")
    }

    /// The pipeline 1.3.0 folder (its schemas only).
    pub fn pipeline() -> PathBuf {
        root().join("pipeline/resource/definitions")
    }

    /// A fixture file, parsed.
    pub fn json(relative: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(root().join(relative)).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}
