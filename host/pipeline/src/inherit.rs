//! The schemas read as the framework read them: `allOf` as class inheritance.
//!
//! The framework checks definitions with python_jsonschema_objects 0.3.12, which does not
//! read `allOf` as JSON Schema does (every sub-schema must hold). It builds a class per
//! schema and reads `allOf: [{"$ref": "#/definitions/Plugin"}]` as "a subclass of Plugin":
//!
//! * the properties are the parents' merged with the class's own, keyword by keyword, the
//!   class's keywords winning (`util.propmerge`): `ActionPlugin`'s `type` pattern `^action$`
//!   *replaces* `Plugin`'s `^base$` (read as JSON Schema, both would apply and no asset
//!   manager definition could ever be valid);
//! * the required properties are the parents' and the class's own;
//! * `additionalProperties` is the class's own, not inherited (so a step may carry the
//!   1.2.0 definitions' `selected`, which the 1.3.0 `Step` does not declare);
//! * `oneOf` takes the first alternative that fits (`TypeProxy`), which is `anyOf`.
//!
//! [`flatten`] rewrites a schema into plain JSON Schema with those meanings (no `allOf`
//! left, `oneOf` as `anyOf`), so that the `jsonschema` crate validates what the framework
//! accepted, and filling in defaults needs no inheritance of its own.

use serde_json::{Map, Value};

/// How deep schemas are rewritten: far beyond any real one; a bound on `$ref` loops.
const MAX_DEPTH: usize = 48;

/// `schema` with every `allOf` class flattened and `oneOf` read as `anyOf`.
pub fn flatten(schema: &Value) -> Value {
    flatten_node(schema, schema, 0)
}

/// `node` (of the schema `root`) flattened.
fn flatten_node(node: &Value, root: &Value, depth: usize) -> Value {
    let Value::Object(map) = node else {
        return node.clone();
    };
    if depth > MAX_DEPTH {
        return node.clone();
    }
    if let Some(parents) = map.get("allOf").and_then(Value::as_array) {
        return flatten_class(map, parents, root, depth);
    }
    let mut out = Map::new();
    for (keyword, value) in map {
        let value = match keyword.as_str() {
            "properties" | "definitions" | "patternProperties" => match value {
                Value::Object(entries) => Value::Object(
                    entries
                        .iter()
                        .map(|(k, v)| (k.clone(), flatten_node(v, root, depth + 1)))
                        .collect(),
                ),
                other => other.clone(),
            },
            "items" | "additionalProperties" | "not" => flatten_node(value, root, depth + 1),
            "oneOf" | "anyOf" => flatten_list(value, root, depth),
            _ => value.clone(),
        };
        let keyword = if keyword == "oneOf" { "anyOf" } else { keyword };
        out.insert(keyword.to_string(), value);
    }
    Value::Object(out)
}

/// Each schema of a list flattened (`items` as a list, `anyOf`...).
fn flatten_list(value: &Value, root: &Value, depth: usize) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| flatten_node(item, root, depth + 1))
                .collect(),
        ),
        other => flatten_node(other, root, depth + 1),
    }
}

/// A class with `allOf` parents, as one object schema.
fn flatten_class(map: &Map<String, Value>, parents: &[Value], root: &Value, depth: usize) -> Value {
    let mut properties: Vec<(String, Value)> = Vec::new();
    let mut required: Vec<Value> = Vec::new();
    for parent in parents {
        let parent = flatten_node(resolve(parent, root), root, depth + 1);
        if let Some(inherited) = parent.get("properties").and_then(Value::as_object) {
            for (name, detail) in inherited {
                merge(&mut properties, name, detail);
            }
        }
        for name in parent
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !required.contains(name) {
                required.push(name.clone());
            }
        }
    }
    if let Some(own) = map.get("properties").and_then(Value::as_object) {
        for (name, detail) in own {
            merge(
                &mut properties,
                name,
                &flatten_node(detail, root, depth + 1),
            );
        }
    }
    for name in map
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !required.contains(name) {
            required.push(name.clone());
        }
    }
    let mut own = map.clone();
    own.remove("allOf");
    own.remove("properties");
    own.remove("required");
    let mut out = match flatten_node(&Value::Object(own), root, depth + 1) {
        Value::Object(out) => out,
        _ => Map::new(),
    };
    out.entry("type").or_insert_with(|| "object".into());
    out.insert(
        "properties".into(),
        Value::Object(properties.into_iter().collect()),
    );
    if !required.is_empty() {
        out.insert("required".into(), Value::Array(required));
    }
    Value::Object(out)
}

/// Merges one property into `merged` as `propmerge` does: a new one at the end; for one
/// already there, each keyword of `detail` replaces the earlier one, except `type` (the
/// library only checks that they agree) and `enum` (it intersects them).
fn merge(merged: &mut Vec<(String, Value)>, name: &str, detail: &Value) {
    let Some((_, existing)) = merged.iter_mut().find(|(key, _)| key == name) else {
        merged.push((name.to_string(), detail.clone()));
        return;
    };
    let (Some(existing), Some(detail)) = (existing.as_object_mut(), detail.as_object()) else {
        return;
    };
    for (keyword, value) in detail {
        match (keyword.as_str(), existing.get(keyword), value) {
            ("type", Some(_), _) => {}
            ("enum", Some(Value::Array(before)), Value::Array(now)) => {
                let both: Vec<Value> = before.iter().filter(|v| now.contains(v)).cloned().collect();
                existing.insert(keyword.clone(), Value::Array(both));
            }
            _ => {
                existing.insert(keyword.clone(), value.clone());
            }
        }
    }
}

/// `node`, its `$ref`s followed within `root` (`#/definitions/...`).
pub fn resolve<'a>(mut node: &'a Value, root: &'a Value) -> &'a Value {
    for _ in 0..MAX_DEPTH {
        let Some(target) = node
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|reference| reference.strip_prefix('#'))
            .and_then(|pointer| root.pointer(pointer))
        else {
            break;
        };
        node = target;
    }
    node
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_subclass_overrides_its_parents_keywords_and_not_their_additional_properties() {
        let schema = json!({
            "definitions": {
                "Plugin": {
                    "type": "object", "additionalProperties": false, "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "type": {"type": "string", "pattern": "^base$", "default": "base"}
                    }
                },
                "Action": {
                    "allOf": [{"$ref": "#/definitions/Plugin"}],
                    "required": ["ui"],
                    "properties": {"type": {"pattern": "^action$"}, "ui": {"type": "string"}}
                }
            },
            "properties": {"steps": {"items": {"oneOf": [{"$ref": "#/definitions/Action"}]}}}
        });
        let flat = flatten(&schema);
        let action = &flat["definitions"]["Action"];
        assert_eq!(action.get("allOf"), None);
        assert_eq!(action["type"], "object");
        assert_eq!(action["required"], json!(["name", "ui"]));
        assert_eq!(action.get("additionalProperties"), None);
        assert_eq!(
            action["properties"]["type"],
            json!({"type": "string", "pattern": "^action$", "default": "base"})
        );
        let keys: Vec<&String> = action["properties"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["name", "type", "ui"]);
        assert_eq!(
            flat["properties"]["steps"]["items"],
            json!({"anyOf": [{"$ref": "#/definitions/Action"}]})
        );
    }
}
