//! Filling a definition with its schema's defaults exactly as the framework does, then
//! validating it.
//!
//! The framework never validates the file as written: it builds Python classes from the
//! schema with python_jsonschema_objects 0.3.12 (`ObjectBuilder(schema).build_classes()`),
//! instantiates the definition's type with the definition, and keeps `serialize()`'s output
//! (`definition/validate.py`). So what clients receive, and what must validate, is the
//! definition *with the defaults filled in*: a stage written as `{"name": "collector",
//! "plugins": [...]}` only satisfies the schema (which requires `type` and `category`) once
//! `type: collector` and `category: stage` are filled in. This module reproduces what that
//! library does with these schemas, on the schema read as it reads it ([`crate::inherit`]):
//!
//! * a property that is absent gets a deep copy of its `default`, unless that default is
//!   `null` (the library skips those), and the default is itself filled (`_config: {}` becomes
//!   `{type: config, engine_type: publisher}`); a property given as `null` is left out, and
//!   not defaulted (the library skips `None` values, then does not serialize them);
//! * `oneOf` (the stages of a step) takes the first alternative that is valid once filled, as
//!   the library's `TypeProxy` does;
//! * an object's keys are written as `serialize()` writes them: first those its schema does
//!   not declare, in the order written, then the declared ones in the schema's order
//!   (parents' properties first); values the schema leaves open (what is inside a plugin's
//!   `options`) are copied as written.
//!
//! The filled definition is then validated with the `jsonschema` crate (draft 4, the
//! framework's jsonschema 2.6.0's draft). Where no alternative of a `oneOf` fits, the
//! violations reported are those of the alternative that came closest (fewest violations),
//! so that an author is pointed at the bad value (`/components/0/stages/0/plugins/0/plugin`)
//! rather than at the whole stage.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, ValidationError, Validator};
use serde_json::{Map, Value};

use crate::error::Violation;
use crate::inherit;

/// How deep nested values are followed: far beyond any real schema,
/// and a bound on a schema that refers to itself.
const MAX_DEPTH: usize = 64;

/// The longest message kept from the validator: some quote the whole value at fault.
const MAX_MESSAGE: usize = 240;

/// A schema compiled for filling in and validating the definitions of its type.
pub struct Augmenter {
    /// The schema as given.
    schema: Value,
    /// The schema as the framework reads it ([`crate::inherit::flatten`]).
    flat: Value,
    validator: Validator,
    /// The validators of `oneOf` alternatives, compiled when first needed.
    alternatives: Mutex<HashMap<String, Arc<Option<Validator>>>>,
}

impl fmt::Debug for Augmenter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Augmenter")
            .field("title", &self.schema["title"])
            .finish_non_exhaustive()
    }
}

/// A `oneOf` that no alternative satisfied: where, and the alternative filled in (the
/// closest one).
type Miss = (String, usize);

impl Augmenter {
    /// Compiles `schema` (draft 4; references within the schema only: nothing is fetched).
    pub fn new(schema: Value) -> Result<Augmenter, String> {
        let flat = inherit::flatten(&schema);
        let validator = compile(&flat)?;
        Ok(Augmenter {
            schema,
            flat,
            validator,
            alternatives: Mutex::new(HashMap::new()),
        })
    }

    /// The schema, as given.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// `definition` with the schema's defaults filled in, if it is then valid; otherwise
    /// every value at fault.
    pub fn augment(&self, definition: &Value) -> Result<Value, Vec<Violation>> {
        let mut value = definition.clone();
        let mut misses = Vec::new();
        self.fill(&mut value, &self.flat, "", &mut misses, 0);
        let mut violations = Vec::new();
        for error in self.validator.iter_errors(&value) {
            explain(&error, &misses, &mut violations);
        }
        if violations.is_empty() {
            Ok(value)
        } else {
            Err(violations)
        }
    }

    /// Fills `value` (at `pointer`) with the defaults of `node`.
    fn fill(
        &self,
        value: &mut Value,
        node: &Value,
        pointer: &str,
        misses: &mut Vec<Miss>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        let node = inherit::resolve(node, &self.flat);
        if let Some(alternatives) = node.get("anyOf").and_then(Value::as_array) {
            self.fill_one_of(value, alternatives, pointer, misses, depth);
            return;
        }
        match value {
            Value::Object(map) => self.fill_object(map, node, pointer, misses, depth),
            Value::Array(items) => {
                let Some(item_node) = node.get("items").filter(|i| i.is_object()) else {
                    return;
                };
                for (index, item) in items.iter_mut().enumerate() {
                    let at = format!("{pointer}/{index}");
                    self.fill(item, item_node, &at, misses, depth + 1);
                }
            }
            _ => {}
        }
    }

    /// Fills an object of a class (a schema with `properties` or of type `object`): the
    /// keys it does not declare as written, then its declared properties in the schema's
    /// order, absent ones from their defaults; `null`s left out.
    fn fill_object(
        &self,
        map: &mut Map<String, Value>,
        node: &Value,
        pointer: &str,
        misses: &mut Vec<Miss>,
        depth: usize,
    ) {
        let properties = node.get("properties").and_then(Value::as_object);
        if properties.is_none() && node.get("type").and_then(Value::as_str) != Some("object") {
            return;
        }
        let empty = Map::new();
        let properties = properties.unwrap_or(&empty);
        let mut written: Vec<(String, Option<Value>)> = std::mem::take(map)
            .into_iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(key, value)| (key, Some(value)))
            .collect();
        for (key, value) in &mut written {
            if !properties.contains_key(key) {
                if let Some(value) = value.take() {
                    map.insert(key.clone(), value);
                }
            }
        }
        for (name, detail) in properties {
            let at = format!("{pointer}/{}", escape(name));
            let value = match written.iter_mut().find(|(key, _)| key == name) {
                Some((_, value)) => value.take(),
                None => detail.get("default").filter(|d| !d.is_null()).cloned(),
            };
            if let Some(mut value) = value {
                self.fill(&mut value, detail, &at, misses, depth + 1);
                map.insert(name.clone(), value);
            }
        }
    }

    /// Fills `value` with the first alternative it satisfies once filled; with the closest
    /// one when none fits (and says so in `misses`).
    fn fill_one_of(
        &self,
        value: &mut Value,
        alternatives: &[Value],
        pointer: &str,
        misses: &mut Vec<Miss>,
        depth: usize,
    ) {
        let mut closest: Option<(usize, Value, Vec<Miss>, usize)> = None;
        for (index, alternative) in alternatives.iter().enumerate() {
            let mut trial = value.clone();
            let mut trial_misses = Vec::new();
            self.fill(
                &mut trial,
                alternative,
                pointer,
                &mut trial_misses,
                depth + 1,
            );
            let faults = match &*self.alternative(alternative) {
                Some(validator) => validator.iter_errors(&trial).count(),
                None => usize::MAX,
            };
            if faults == 0 {
                *value = trial;
                misses.extend(trial_misses);
                return;
            }
            if closest.as_ref().is_none_or(|c| faults < c.3) {
                closest = Some((index, trial, trial_misses, faults));
            }
        }
        if let Some((index, trial, trial_misses, _)) = closest {
            *value = trial;
            misses.push((pointer.to_string(), index));
            misses.extend(trial_misses);
        }
    }

    /// The validator of one `oneOf` alternative, with the schema's definitions to refer to.
    fn alternative(&self, alternative: &Value) -> Arc<Option<Validator>> {
        let key = alternative.to_string();
        let mut cache = self
            .alternatives
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .entry(key)
            .or_insert_with(|| {
                let mut schema = Map::new();
                if let Some(definitions) = self.flat.get("definitions") {
                    schema.insert("definitions".into(), definitions.clone());
                }
                schema.insert("allOf".into(), Value::Array(vec![alternative.clone()]));
                Arc::new(compile(&Value::Object(schema)).ok())
            })
            .clone()
    }
}

/// Compiles a schema as the framework's validator read them (draft 4).
fn compile(schema: &Value) -> Result<Validator, String> {
    jsonschema::options()
        .with_draft(Draft::Draft4)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// `name` as a JSON pointer segment.
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// The violations an error stands for: for a `oneOf` no alternative satisfied, those of the
/// alternative that was filled in (the closest), so the path reaches the bad value.
fn explain(error: &ValidationError<'_>, misses: &[Miss], out: &mut Vec<Violation>) {
    let pointer = error.instance_path().as_str().to_string();
    if let ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } =
        error.kind()
    {
        let chosen = misses
            .iter()
            .find(|(at, _)| *at == pointer)
            .map(|(_, index)| *index)
            .or_else(|| (0..context.len()).min_by_key(|index| context[*index].len()));
        if let Some(errors) = chosen.and_then(|index| context.get(index)) {
            if !errors.is_empty() {
                for inner in errors {
                    // The alternatives' errors are located in the whole document, or within
                    // the value the `oneOf` is about; either way the path is made whole.
                    let inner_pointer = inner.instance_path().as_str();
                    if inner_pointer.starts_with(&pointer) {
                        explain(inner, misses, out);
                    } else {
                        let mut nested = Vec::new();
                        explain(inner, misses, &mut nested);
                        for violation in nested {
                            push(
                                out,
                                Violation {
                                    pointer: format!("{pointer}{}", violation.pointer),
                                    message: violation.message,
                                },
                            );
                        }
                    }
                }
                return;
            }
        }
    }
    push(
        out,
        Violation {
            pointer,
            message: shorten(error.to_string()),
        },
    );
}

/// Adds a violation once.
fn push(out: &mut Vec<Violation>, violation: Violation) {
    if !out.contains(&violation) {
        out.push(violation);
    }
}

/// A message cut to [`MAX_MESSAGE`] characters.
fn shorten(message: String) -> String {
    if message.chars().count() <= MAX_MESSAGE {
        return message;
    }
    let mut short: String = message.chars().take(MAX_MESSAGE).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests;
