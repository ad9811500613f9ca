//! What a client changes in a definition before running it, as its widgets would: an
//! option of one stage's plugins ([`set_option`] at an [`OptionPath`]) and the context
//! plugins' `context_id` ([`set_context`]).

use std::str::FromStr;

use serde_json::{json, Map, Value};

use crate::engine::STEP_GROUPS;

/// Where an option is set: `STEP_TYPE.STEP.STAGE.OPTION`, e.g. `components.main.collector.path`
/// (STEP_TYPE is `contexts`, `components` or `finalizers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionPath {
    /// `contexts`, `components` or `finalizers`.
    pub group: String,
    /// The step's name.
    pub step: String,
    /// The stage's name.
    pub stage: String,
    /// The option.
    pub option: String,
}

impl FromStr for OptionPath {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.splitn(4, '.').collect();
        let [group, step, stage, option] = parts.as_slice() else {
            return Err(format!(
                "{text:?} is not STEP_TYPE.STEP.STAGE.OPTION (e.g. components.main.collector.path)"
            ));
        };
        if !STEP_GROUPS.contains(group) {
            return Err(format!(
                "{text:?}: the step type is {group:?}, not one of {}",
                STEP_GROUPS.join(", ")
            ));
        }
        if [step, stage, option].iter().any(|part| part.is_empty()) {
            return Err(format!(
                "{text:?}: a step, a stage and an option are needed"
            ));
        }
        Ok(OptionPath {
            group: group.to_string(),
            step: step.to_string(),
            stage: stage.to_string(),
            option: option.to_string(),
        })
    }
}

impl std::fmt::Display for OptionPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{}.{}.{}",
            self.group, self.step, self.stage, self.option
        )
    }
}

/// Sets `options[path.option] = value` on every plugin of the stage `path.stage` of the
/// step `path.step` in `definition[path.group]`; how many plugins. An error names what does
/// not exist and what does.
pub fn set_option(
    definition: &mut Value,
    path: &OptionPath,
    value: Value,
) -> Result<usize, String> {
    let steps = definition
        .get_mut(&path.group)
        .and_then(Value::as_array_mut)
        .ok_or_else(|| format!("the definition has no {}", path.group))?;
    let names = |items: &[Value]| -> String {
        items
            .iter()
            .filter_map(|item| item["name"].as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let known_steps = names(steps);
    let step = steps
        .iter_mut()
        .find(|step| step["name"] == path.step.as_str())
        .ok_or_else(|| {
            format!(
                "{path}: the definition's {} have no step {:?} (it has: {known_steps})",
                path.group, path.step
            )
        })?;
    let stages = step
        .get_mut("stages")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| format!("{path}: the step {:?} has no stages", path.step))?;
    let known_stages = names(stages);
    let stage = stages
        .iter_mut()
        .find(|stage| stage["name"] == path.stage.as_str())
        .ok_or_else(|| {
            format!(
                "{path}: the step {:?} has no stage {:?} (it has: {known_stages})",
                path.step, path.stage
            )
        })?;
    let plugins = stage
        .get_mut("plugins")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| format!("{path}: the stage {:?} has no plugins", path.stage))?;
    let mut count = 0;
    for options in plugins.iter_mut().filter_map(options_of) {
        options.insert(path.option.clone(), value.clone());
        count += 1;
    }
    Ok(count)
}

/// A plugin entry's `options`, made an empty map when missing or not a map; `None` when the
/// entry is not a map (then it is no plugin to set anything on).
fn options_of(plugin: &mut Value) -> Option<&mut Map<String, Value>> {
    let plugin = plugin.as_object_mut()?;
    let options = plugin.entry("options").or_insert_with(|| json!({}));
    if !options.is_object() {
        *options = json!({});
    }
    options.as_object_mut()
}

/// Sets `context_id` on every context plugin (every plugin of the `contexts` steps' stages);
/// how many.
pub fn set_context(definition: &mut Value, context_id: &str) -> usize {
    let mut count = 0;
    let stages = definition
        .get_mut("contexts")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(|step| step.get_mut("stages").and_then(Value::as_array_mut))
        .flatten();
    for stage in stages {
        let plugins = stage.get_mut("plugins").and_then(Value::as_array_mut);
        for options in plugins.into_iter().flatten().filter_map(options_of) {
            options.insert("context_id".into(), json!(context_id));
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn publisher() -> Value {
        fixtures::json("pipeline_trace/augmented_file_publisher_definition.json")
    }

    #[test]
    fn options_are_set_on_the_stage_named_and_mistakes_say_what_exists() {
        let mut definition = publisher();
        let path: OptionPath = "components.main.collector.path".parse().unwrap();
        assert_eq!(set_option(&mut definition, &path, json!("/r/a.exr")), Ok(1));
        let plugin = &definition["components"][0]["stages"][0]["plugins"][0];
        assert_eq!(plugin["options"]["path"], "/r/a.exr");
        // The thumbnail step's collector is another.
        assert_ne!(
            definition["components"][1]["stages"][0]["plugins"][0]["options"]["path"],
            "/r/a.exr"
        );

        let wrong: OptionPath = "components.render.collector.path".parse().unwrap();
        let err = set_option(&mut definition, &wrong, json!(1)).unwrap_err();
        assert!(
            err.contains("no step \"render\" (it has: main, thumbnail)"),
            "{err}"
        );
        let wrong: OptionPath = "components.main.gather.path".parse().unwrap();
        let err = set_option(&mut definition, &wrong, json!(1)).unwrap_err();
        assert!(
            err.contains("(it has: collector, validator, exporter)"),
            "{err}"
        );
        for bad in [
            "components.main.path",
            "parts.main.collector.path",
            "contexts..c.x",
        ] {
            assert!(bad.parse::<OptionPath>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_context_reaches_every_context_plugin() {
        let mut definition = publisher();
        assert_eq!(set_context(&mut definition, "task-1"), 1);
        let plugin = &definition["contexts"][0]["stages"][0]["plugins"][0];
        assert_eq!(plugin["options"]["context_id"], "task-1");
    }
}
