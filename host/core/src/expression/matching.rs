//! Matching an expression against an event, with ftrack's rules for what each comparison
//! means and where ftrack would raise.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::*;

impl Expression {
    /// Whether the expression matches `fields`.
    ///
    /// Where ftrack would raise (see the module documentation), this is `false`.
    /// Matching does not allocate.
    pub fn matches<F: Fields + ?Sized>(&self, fields: &F) -> bool {
        let result = match self.eval(fields) {
            // ftrack evaluates every condition, so any condition it would raise on makes the
            // whole expression raise; short-circuiting may have skipped some, so look again.
            Ok(true) if !self.evaluates_all_when(true) => {
                self.find_invalid(fields).map_or(Ok(true), Err)
            }
            other => other,
        };
        match result {
            Ok(matched) => matched,
            Err(invalid) => {
                tracing::debug!(
                    condition = %invalid.condition,
                    reason = invalid.reason,
                    "subscription expression does not match: a comparison is not possible"
                );
                false
            }
        }
    }

    /// Evaluates with short-circuits; `Err` when a condition that was evaluated is one ftrack
    /// would raise on.
    pub(super) fn eval<F: Fields + ?Sized>(&self, fields: &F) -> Result<bool, Invalid<'_>> {
        match self {
            Expression::Condition(condition) => condition.eval(fields),
            Expression::Not(child) => child.eval(fields).map(|matched| !matched),
            Expression::All(children) => {
                for child in children {
                    if !child.eval(fields)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Expression::Any(children) => {
                for child in children {
                    if child.eval(fields)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
        }
    }

    /// Whether [`Expression::eval`] returning `result` has evaluated every condition, so
    /// none can be left for [`Expression::find_invalid`] to find: `a and b` is true only
    /// after both were evaluated, while `a or b` stops at a true `a`. Deciding this walks the
    /// tree without looking up any field, which the second evaluation would.
    pub(super) fn evaluates_all_when(&self, result: bool) -> bool {
        match self {
            Expression::Condition(_) => true,
            Expression::Not(child) => child.evaluates_all_when(!result),
            Expression::All(children) => {
                result && children.iter().all(|child| child.evaluates_all_when(true))
            }
            Expression::Any(children) => {
                !result && children.iter().all(|child| child.evaluates_all_when(false))
            }
        }
    }

    /// The first condition anywhere in the tree that ftrack would raise on.
    pub(super) fn find_invalid<F: Fields + ?Sized>(&self, fields: &F) -> Option<Invalid<'_>> {
        match self {
            Expression::Condition(condition) => condition.eval(fields).err(),
            Expression::Not(child) => child.find_invalid(fields),
            Expression::All(children) | Expression::Any(children) => {
                children.iter().find_map(|child| child.find_invalid(fields))
            }
        }
    }
}

/// A comparison ftrack would raise on.
pub(super) struct Invalid<'a> {
    condition: &'a Condition,
    reason: &'static str,
}

pub(super) fn push_unique(into: &mut Vec<String>, from: Vec<String>) {
    for item in from {
        if !into.contains(&item) {
            into.push(item);
        }
    }
}

impl Condition {
    pub(super) fn topic_filter(&self) -> TopicFilter {
        if self.path.len() != 1 || self.path[0] != "topic" || self.operator != Operator::Eq {
            return TopicFilter::Any;
        }
        let (exact, containing) = match self.wildcard() {
            // `topic=""` raises in ftrack: it never matches.
            _ if self.value.is_empty() => (vec![], vec![]),
            Some("") => return TopicFilter::Any,
            Some(needle) => (vec![], vec![needle.to_owned()]),
            None => (vec![self.value.clone()], vec![]),
        };
        TopicFilter::OneOf { exact, containing }
    }

    /// The text before a trailing wildcard `*`, when this condition is a wildcard test.
    pub(super) fn wildcard(&self) -> Option<&str> {
        match self.operator {
            Operator::Eq => self.value.strip_suffix('*'),
            _ => None,
        }
    }

    fn lookup<'f, F: Fields + ?Sized>(&self, fields: &'f F) -> Option<FieldRef<'f>> {
        let (first, rest) = self.path.split_first()?;
        let mut found = fields.root(first)?;
        for step in rest {
            let object = match found {
                FieldRef::Object(object) | FieldRef::Json(Value::Object(object)) => object,
                _ => return None,
            };
            found = FieldRef::Json(object.get(step.as_str())?);
        }
        Some(found)
    }

    pub(super) fn eval<F: Fields + ?Sized>(&self, fields: &F) -> Result<bool, Invalid<'_>> {
        let Some(found) = self.lookup(fields) else {
            return Ok(false);
        };
        self.compare(found).map_err(|reason| Invalid {
            condition: self,
            reason,
        })
    }

    fn compare(&self, found: FieldRef<'_>) -> Result<bool, &'static str> {
        let found = match found {
            FieldRef::Str(text) => Found::Str(text),
            FieldRef::Json(Value::String(text)) => Found::Str(text),
            FieldRef::Object(object) | FieldRef::Json(Value::Object(object)) => {
                Found::Object(object)
            }
            FieldRef::Json(Value::Array(list)) => Found::List(list),
            FieldRef::Json(_) => Found::Scalar,
        };
        let value = self.value.as_str();
        match self.operator {
            Operator::Eq if value.is_empty() => Err("'=' with an empty value"),
            Operator::Eq => match (self.wildcard(), found) {
                (Some(needle), Found::Str(text)) => Ok(text.contains(needle)),
                (Some(needle), Found::List(list)) => {
                    Ok(list.iter().any(|item| item.as_str() == Some(needle)))
                }
                (Some(needle), Found::Object(object)) => Ok(object.contains_key(needle)),
                (Some(_), Found::Scalar) => Err("a wildcard against a number, boolean or null"),
                (None, Found::Str(text)) => Ok(text == value),
                (None, _) => Ok(false),
            },
            Operator::Ne => Ok(!matches!(found, Found::Str(text) if text == value)),
            Operator::Gt | Operator::Ge | Operator::Lt | Operator::Le => {
                let Found::Str(text) = found else {
                    return Err("an ordering comparison against a value that is not a string");
                };
                let ordering = text.cmp(value);
                Ok(match self.operator {
                    Operator::Gt => ordering == Ordering::Greater,
                    Operator::Ge => ordering != Ordering::Less,
                    Operator::Lt => ordering == Ordering::Less,
                    _ => ordering != Ordering::Greater,
                })
            }
        }
    }
}

/// The kinds of value a condition can find, as far as comparison cares.
#[derive(Clone, Copy)]
enum Found<'a> {
    Str(&'a str),
    List(&'a [Value]),
    Object(&'a Map<String, Value>),
    /// A number, boolean or null.
    Scalar,
}
