//! The asset manager plugins of the standalone definition (`asset_manager/python`): what a
//! task depends on, and the latest versions of assets, from the server.
//!
//! `common_default_am_resolver` (`asset_manager.resolver`, the asset manager's
//! `resolve_dependencies`): for a task whose type is listed in the `task_types` option
//! (lower-cased, as `{"animation": {"asset_types": [{"asset_type": "rig", "filters":
//! {...}}]}}`), the latest version of each asset of those asset types in the task's parent
//! (where a shot's assets are), kept when the version's task name and the asset's name pass
//! the entry's filters (`task_names_include`/`_exclude`, `asset_names_include`/`_exclude`:
//! Python `re.match` patterns, matched at the start). Its value: `[{asset_version_id,
//! version, asset_id, asset_name, asset_type, task_name}]`, by asset type then name.
//!
//! `common_update_latest_am_action` (`asset_manager.action`, the asset manager's
//! `update_assets`): for each asset given (`{asset_id, version_id, ...}`), the asset with
//! `latest_version_id` and `latest_version`, the newest version of its asset.

use regex::Regex;
use serde_json::{json, Value};

use super::PublishWith;
use connect_ftrack_api::quoted;
use connect_pipeline::plugin::{PluginCall, PluginFailure};

/// One filter list of a resolver entry: the patterns, compiled as `re.match` reads them.
fn patterns(filters: &Value, key: &str) -> Result<Vec<Regex>, PluginFailure> {
    filters[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|pattern| {
            Regex::new(&format!("^(?:{pattern})")).map_err(|err| {
                PluginFailure::Refused(format!(
                    "the filter {key} has a bad pattern {pattern:?}: {err}"
                ))
            })
        })
        .collect()
}

/// Whether `name` passes `include` (one matches, or none given) and `exclude` (none matches).
fn passes(name: &str, include: &[Regex], exclude: &[Regex]) -> bool {
    (include.is_empty() || include.iter().any(|p| p.is_match(name)))
        && !exclude.iter().any(|p| p.is_match(name))
}

/// `common_default_am_resolver`'s run (see the module's documentation).
pub(super) fn resolve(with: &PublishWith, call: &PluginCall) -> Result<Value, PluginFailure> {
    let Some(context_id) = call.data["context_id"].as_str().filter(|id| !id.is_empty()) else {
        return Err(PluginFailure::Refused("no context_id to resolve".into()));
    };
    let query = |expression: String| with.query(expression);
    let tasks = query(format!(
        "select name, parent_id, type.name from Task where id is {}",
        quoted(context_id)
    ))?;
    let Some(task) = tasks.first() else {
        return Err(PluginFailure::Refused(format!(
            "{context_id} is not a task: dependencies are resolved for a task"
        )));
    };
    let task_type = task["type"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    let entries = call.options["task_types"][task_type.as_str()]["asset_types"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let parent = task["parent_id"].as_str().unwrap_or_default();
    let mut found = Vec::new();
    for entry in &entries {
        let Some(asset_type) = entry["asset_type"].as_str() else {
            continue;
        };
        let filters = &entry["filters"];
        let (task_in, task_out) = (
            patterns(filters, "task_names_include")?,
            patterns(filters, "task_names_exclude")?,
        );
        let (asset_in, asset_out) = (
            patterns(filters, "asset_names_include")?,
            patterns(filters, "asset_names_exclude")?,
        );
        let versions = query(format!(
            "select id, version, asset_id, asset.name, task.name from AssetVersion \
             where asset.parent.id is {} and asset.type.short is {}",
            quoted(parent),
            quoted(asset_type)
        ))?;
        // The latest version of each asset.
        let mut latest: Vec<&Value> = Vec::new();
        for version in &versions {
            let asset = &version["asset_id"];
            match latest.iter_mut().find(|kept| kept["asset_id"] == *asset) {
                Some(kept) if kept["version"].as_u64() < version["version"].as_u64() => {
                    *kept = version
                }
                Some(_) => {}
                None => latest.push(version),
            }
        }
        for version in latest {
            let asset_name = version["asset"]["name"].as_str().unwrap_or_default();
            let task_name = version["task"]["name"].as_str().unwrap_or_default();
            if passes(task_name, &task_in, &task_out) && passes(asset_name, &asset_in, &asset_out) {
                found.push(json!({
                    "asset_version_id": version["id"],
                    "version": version["version"],
                    "asset_id": version["asset_id"],
                    "asset_name": asset_name,
                    "asset_type": asset_type,
                    "task_name": task_name,
                }));
            }
        }
    }
    found.sort_by(|a, b| {
        (a["asset_type"].as_str(), a["asset_name"].as_str())
            .cmp(&(b["asset_type"].as_str(), b["asset_name"].as_str()))
    });
    Ok(Value::Array(found))
}

/// `common_update_latest_am_action`'s run (see the module's documentation).
pub(super) fn latest(with: &PublishWith, call: &PluginCall) -> Result<Value, PluginFailure> {
    let assets = call.data.as_array().cloned().unwrap_or_default();
    let mut updated = Vec::new();
    for mut asset in assets {
        let Some(asset_id) = asset["asset_id"].as_str().map(str::to_string) else {
            return Err(PluginFailure::Refused(format!(
                "an asset to update has no asset_id: {asset}"
            )));
        };
        let versions = with.query(format!(
            "select id, version from AssetVersion where asset_id is {}",
            quoted(&asset_id)
        ))?;
        let newest = versions.iter().max_by_key(|v| v["version"].as_u64());
        if let (Some(newest), Value::Object(fields)) = (newest, &mut asset) {
            fields.insert("latest_version_id".into(), newest["id"].clone());
            fields.insert("latest_version".into(), newest["version"].clone());
        }
        updated.push(asset);
    }
    Ok(json!({ "assets": updated }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_at_the_start_as_python_re_match() {
        let filters = json!({"include": [".*"], "exclude": [".^"], "plate": ["plate"]});
        let all = patterns(&filters, "include").unwrap();
        let none = patterns(&filters, "exclude").unwrap();
        assert!(passes("anything", &all, &none));
        let plate = patterns(&filters, "plate").unwrap();
        assert!(passes("plate_bg", &plate, &[]));
        assert!(
            !passes("bg_plate", &plate, &[]),
            "re.match anchors at the start"
        );
        assert!(!passes("plate", &all, &plate));
        let bad = patterns(&json!({"x": ["("]}), "x").unwrap_err();
        assert!(matches!(bad, PluginFailure::Refused(why) if why.contains("bad pattern")));
    }
}
