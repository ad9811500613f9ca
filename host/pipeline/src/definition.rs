//! A kept definition: its type, name and host type, the augmented JSON the framework's
//! clients and engines read, and a typed view of its steps, stages and plugins.
//!
//! The JSON stays the truth (it is what goes over the event hub, unchanged); the view only
//! borrows from it, so that the two can never disagree.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::Value;

/// The four kinds of definition (the framework's `DEFINITION_TYPES`): each has its folder on
/// the definition path, its schema (whose `title` lower-cased is the type) and its engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DefinitionType {
    /// `publisher`: publishes components of the open work.
    Publisher,
    /// `loader`: loads published components into the application.
    Loader,
    /// `opener`: opens a published scene.
    Opener,
    /// `asset_manager`: lists and acts on what the application has loaded.
    AssetManager,
}

impl DefinitionType {
    /// Every type, in the order listings show them (the host's discover reply's order).
    pub const ALL: [DefinitionType; 4] = [
        DefinitionType::Publisher,
        DefinitionType::Loader,
        DefinitionType::Opener,
        DefinitionType::AssetManager,
    ];

    /// The type's name, which is also its folder and its `type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            DefinitionType::Publisher => "publisher",
            DefinitionType::Loader => "loader",
            DefinitionType::Opener => "opener",
            DefinitionType::AssetManager => "asset_manager",
        }
    }

    /// The type a schema is for: its `title`, lower-cased (`Asset_manager`).
    pub fn from_schema_title(title: &str) -> Option<DefinitionType> {
        title.to_lowercase().parse().ok()
    }

    /// Whether definitions of this type are made of steps, stages and plugins (the asset
    /// manager is made of actions and resolvers instead).
    pub fn has_steps(self) -> bool {
        self != DefinitionType::AssetManager
    }
}

impl fmt::Display for DefinitionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DefinitionType {
    type Err = String;

    fn from_str(text: &str) -> Result<DefinitionType, String> {
        DefinitionType::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "{text:?} is not a definition type (publisher, loader, opener, asset_manager)"
                )
            })
    }
}

/// The three groups of steps, run in this order by the engines (`STEP_GROUPS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepGroup {
    /// `contexts`: where to publish or what to load.
    Contexts,
    /// `components`: one step per component.
    Components,
    /// `finalizers`: what happens once every component is through.
    Finalizers,
}

impl StepGroup {
    /// The groups in the order they run.
    pub const ALL: [StepGroup; 3] = [
        StepGroup::Contexts,
        StepGroup::Components,
        StepGroup::Finalizers,
    ];

    /// The group's key in a definition.
    pub fn key(self) -> &'static str {
        match self {
            StepGroup::Contexts => "contexts",
            StepGroup::Components => "components",
            StepGroup::Finalizers => "finalizers",
        }
    }
}

/// A valid, augmented definition.
#[derive(Debug, Clone)]
pub struct Definition {
    kind: DefinitionType,
    root: PathBuf,
    file: PathBuf,
    value: Value,
}

impl Definition {
    /// A definition of `kind` from `file` (relative to `root`), already augmented and
    /// validated (its `name` and `host_type` are strings: the schemas require them).
    pub(crate) fn new(kind: DefinitionType, root: &Path, file: &Path, value: Value) -> Self {
        Definition {
            kind,
            root: root.to_path_buf(),
            file: file.to_path_buf(),
            value,
        }
    }

    /// Its type (the folder it was found in, which its schema made sure its `type` says).
    pub fn kind(&self) -> DefinitionType {
        self.kind
    }

    /// Its `name`, which clients show and `pipeline run` picks it by.
    pub fn name(&self) -> &str {
        self.value["name"].as_str().unwrap_or_default()
    }

    /// Its `host_type` (`python`, `maya`...).
    pub fn host_type(&self) -> &str {
        self.value["host_type"].as_str().unwrap_or_default()
    }

    /// Its `asset_type`, if it has one (the asset manager has none).
    pub fn asset_type(&self) -> Option<&str> {
        self.value["asset_type"].as_str()
    }

    /// The engine that runs it (`_config.engine_type`).
    pub fn engine_type(&self) -> &str {
        self.value["_config"]["engine_type"]
            .as_str()
            .unwrap_or(self.kind.as_str())
    }

    /// The `FTRACK_DEFINITION_PATH` folder it was found in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Its file, relative to [`Definition::root`].
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The augmented JSON, as the framework's clients receive it.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The augmented JSON, owned.
    pub fn into_value(self) -> Value {
        self.value
    }

    /// Its steps, group by group in the order they run (none for the asset manager).
    pub fn steps(&self) -> Vec<Step<'_>> {
        if !self.kind.has_steps() {
            return Vec::new();
        }
        let mut steps = Vec::new();
        for group in StepGroup::ALL {
            let Some(items) = self.value[group.key()].as_array() else {
                continue;
            };
            for (index, value) in items.iter().enumerate() {
                steps.push(Step::new(group, index, value));
            }
        }
        steps
    }

    /// Every plugin entry of every stage of every step, in order.
    pub fn plugins(&self) -> Vec<Plugin<'_>> {
        self.steps()
            .into_iter()
            .flat_map(|step| step.stages.into_iter().flat_map(|stage| stage.plugins))
            .collect()
    }
}

/// One step of a definition.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    /// Its group.
    pub group: StepGroup,
    /// Its index in the group.
    pub index: usize,
    /// Its `name` (`main`, `thumbnail`...).
    pub name: &'a str,
    /// Its `type` (`context`, `component`, `finalizer`).
    pub step_type: &'a str,
    /// Whether it runs (`enabled`).
    pub enabled: bool,
    /// Whether the user may switch it off (`optional`).
    pub optional: bool,
    /// Its stages, in the definition's order.
    pub stages: Vec<Stage<'a>>,
    /// Its JSON.
    pub value: &'a Value,
}

impl<'a> Step<'a> {
    fn new(group: StepGroup, index: usize, value: &'a Value) -> Step<'a> {
        let pointer = format!("/{}/{index}", group.key());
        let stages = value["stages"]
            .as_array()
            .map(|stages| {
                stages
                    .iter()
                    .enumerate()
                    .map(|(i, stage)| Stage::new(&format!("{pointer}/stages/{i}"), stage))
                    .collect()
            })
            .unwrap_or_default();
        Step {
            group,
            index,
            name: value["name"].as_str().unwrap_or_default(),
            step_type: value["type"].as_str().unwrap_or_default(),
            enabled: value["enabled"].as_bool().unwrap_or(true),
            optional: value["optional"].as_bool().unwrap_or(false),
            stages,
            value,
        }
    }
}

/// One stage of a step.
#[derive(Debug, Clone)]
pub struct Stage<'a> {
    /// Its `name` (`collector`, `validator`...), which with the definition's type makes its
    /// plugins' `plugin_type` (`publisher.collector`).
    pub name: &'a str,
    /// Whether it runs (`enabled`).
    pub enabled: bool,
    /// Its plugins, in order.
    pub plugins: Vec<Plugin<'a>>,
    /// Its JSON.
    pub value: &'a Value,
}

impl<'a> Stage<'a> {
    fn new(pointer: &str, value: &'a Value) -> Stage<'a> {
        let name = value["name"].as_str().unwrap_or_default();
        let plugins = value["plugins"]
            .as_array()
            .map(|plugins| {
                plugins
                    .iter()
                    .enumerate()
                    .map(|(i, plugin)| Plugin::new(format!("{pointer}/plugins/{i}"), name, plugin))
                    .collect()
            })
            .unwrap_or_default();
        Stage {
            name,
            enabled: value["enabled"].as_bool().unwrap_or(true),
            plugins,
            value,
        }
    }
}

/// One plugin entry of a stage.
#[derive(Debug, Clone)]
pub struct Plugin<'a> {
    /// The JSON pointer to the entry in the definition.
    pub pointer: String,
    /// The name of the stage it is in.
    pub stage: &'a str,
    /// Its `name` (a label: `collect from given path`).
    pub name: &'a str,
    /// The pipeline plugin it runs (its `plugin` key: `common_path_publisher_collector`).
    pub plugin: &'a str,
    /// The method called (`default_method`, `run` unless said).
    pub default_method: &'a str,
    /// Whether it runs (`enabled`).
    pub enabled: bool,
    /// Its JSON.
    pub value: &'a Value,
}

impl<'a> Plugin<'a> {
    fn new(pointer: String, stage: &'a str, value: &'a Value) -> Plugin<'a> {
        Plugin {
            pointer,
            stage,
            name: value["name"].as_str().unwrap_or_default(),
            plugin: value["plugin"].as_str().unwrap_or_default(),
            default_method: value["default_method"].as_str().unwrap_or("run"),
            enabled: value["enabled"].as_bool().unwrap_or(true),
            value,
        }
    }

    /// The plugin's `options` (empty when it has none).
    pub fn options(&self) -> Option<&'a serde_json::Map<String, Value>> {
        self.value["options"].as_object()
    }
}
