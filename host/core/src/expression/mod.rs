//! Subscription expressions: which events a subscriber wants.
//!
//! A plugin subscribes with a small expression such as
//! `topic=ftrack.action.discover and source.user.username=alice`, and every event published
//! on the hub is tested against it. The language is ftrack's own (ftrack_api 3.1.0,
//! `ftrack_api.event.expression`), and existing plugins depend on its quirks, so this module
//! parses and matches exactly as ftrack does. It is written from ftrack's documented and
//! observed behaviour rather than translated from its source, and it is checked against a
//! corpus of cases computed by the real ftrack parser (`tests/expressions/corpus.rs`).
//!
//! The module is in three parts: this file (the expression tree, what it requires of a
//! topic, how it is written back), [`parse`](self::parse) (text to tree) and `matching` (tree
//! against an event).
//!
//! # The language
//!
//! ```text
//! expression := or_expr
//! or_expr    := and_expr ( "or" and_expr )*
//! and_expr   := not_expr ( "and" not_expr )*
//! not_expr   := "not" not_expr | "(" expression ")" | condition
//! condition  := key operator value
//! key        := [A-Za-z0-9_.]+                 a dotted path: data.application.identifier
//! operator   := "!=" | ">=" | "<=" | "=" | ">" | "<"
//! value      := '...' | "..." | [A-Za-z0-9\-_,./*@+]+
//! ```
//!
//! Keywords are case-insensitive and must not run into a following letter, digit, `_` or `$`
//! (`nottopic=x` is one key, but `not.x=1` is `not .x=1`). Where `not` cannot start a
//! negation it is an ordinary key: `not=x` is the condition on the key `not`; `and=x` and
//! `or=x` are keys in the same way. Space, tab, newline and carriage return may
//! separate tokens. Quoted values keep their content verbatim, backslashes included; a
//! backslash escapes the next character (`\x` needs hex digits after it) and a doubled quote
//! stands for itself (`"a""b"` is the value `a""b`). Like ftrack, tabs are expanded to spaces
//! (tab stops of 8) before parsing, so a tab inside a quoted value becomes spaces.
//!
//! # Matching
//!
//! A condition looks its key up in the event, step by step through nested JSON objects. A
//! missing key, or a step into anything but an object, makes the condition false, for `!=`
//! too. The value is always a string:
//!
//! * against a string: `=` and `!=` compare exactly (case-sensitive); `<`, `<=`, `>`, `>=`
//!   compare lexicographically by code point;
//! * against anything else: `=` is false and `!=` is true;
//! * a trailing `*` with `=` is a wildcard: `topic=action*` is true when the topic *contains*
//!   `action` (a substring test, not a prefix test); against a list it tests membership of
//!   the string, against an object whether it has that key. A `*` anywhere else, or with
//!   another operator, is literal.
//!
//! # Where this differs from ftrack
//!
//! Some comparisons make ftrack raise at match time, which fails the whole publish: a number,
//! boolean, null, list or object with `<`, `<=`, `>`, `>=`; a wildcard against a number,
//! boolean or null; and `=` with an empty quoted value. ftrack evaluates every condition of
//! an expression (its `and` and `or` do not short-circuit), so it raises whenever any
//! condition of the expression does. Here such an expression simply does not match the event
//! (logged at debug level), even where the condition sits under a `not` or in an `or` whose
//! other branch is true, and dispatch carries on. Parse errors say where (1-based
//! character column) and what was expected. ftrack's parser also takes time exponential in
//! the nesting depth of parentheses; this one is linear, and refuses nesting deeper than
//! [`MAX_DEPTH`].

use std::fmt;

use connect_event::Event;
use serde_json::{Map, Value};

/// How deeply `(` and `not` may nest before [`Expression::parse`] refuses the expression.
///
/// ftrack itself cannot parse even ten nested parentheses in reasonable time, so no working
/// subscription comes close; the limit keeps hostile input from exhausting the stack.
pub const MAX_DEPTH: usize = 64;

/// A parsed subscription expression.
///
/// The tree has the shape ftrack's parser gives it: `a and b and c` is one [`Expression::All`]
/// with three children, parentheses add no node of their own, and `(a and b) and c` nests.
/// It is public so that the hub can analyse a subscription (see [`Expression::topic_filter`])
/// and the host can build one in code without quoting issues (see [`Expression::equals`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Expression {
    /// `or`: true when any child is true (never, with no children).
    Any(Vec<Expression>),
    /// `and`: true when every child is true (always, with no children).
    All(Vec<Expression>),
    /// `not`: true when the child is false.
    Not(Box<Expression>),
    /// A single `key operator value` test.
    Condition(Condition),
}

/// One `key operator value` test.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The key split on `.`: `data.application.identifier` is `["data", "application",
    /// "identifier"]`. Empty steps are kept (`a..b` looks up the key `""` in the middle).
    pub path: Vec<String>,
    /// How the event's value is compared with [`Condition::value`].
    pub operator: Operator,
    /// The value as written, without its quotes; a trailing `*` is kept (it is the wildcard
    /// when [`Condition::operator`] is [`Operator::Eq`]).
    pub value: String,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `=`: equal, or with a trailing `*`, contains.
    Eq,
    /// `!=`: not equal.
    Ne,
    /// `>`: lexicographically greater.
    Gt,
    /// `>=`: lexicographically greater or equal.
    Ge,
    /// `<`: lexicographically less.
    Lt,
    /// `<=`: lexicographically less or equal.
    Le,
}

impl Operator {
    /// The operator as written in an expression.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::Lt => "<",
            Operator::Le => "<=",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an expression requires of an event's `topic`, so that the hub can index
/// subscriptions by topic instead of testing every one on every publish.
///
/// Guarantee: if [`Expression::topic_filter`] is `OneOf { exact, containing }` and the
/// expression matches an event, then the event's topic is a string that equals one of
/// `exact` or contains one of `containing` as a substring. (A plain JSON candidate whose
/// `topic` is a list or an object can also satisfy a wildcard through membership; an
/// [`Event`]'s topic is always a string.) Both lists empty means the expression never
/// matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicFilter {
    /// No guarantee: there is no topic condition, or it is negated (`not topic=x`,
    /// `topic!=x`), or it is an `or` with an unconstrained branch.
    Any,
    /// The topic equals one of `exact` or contains one of `containing`.
    OneOf {
        /// Topics matched exactly.
        exact: Vec<String>,
        /// Substrings, one of which the topic contains.
        containing: Vec<String>,
    },
}

/// Why an expression could not be parsed.
///
/// `column` is the 1-based character column in the text given to [`Expression::parse`],
/// leading whitespace included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: expected {expected}, found {found}")]
pub struct ExpressionError {
    /// 1-based character column of the problem.
    pub column: usize,
    /// What would have been valid there, e.g. `a value after '='`.
    pub expected: String,
    /// What was there instead, e.g. `'b'` or `end of input`.
    pub found: String,
}

/// A value found at the first step of a key path; see [`Fields`].
#[derive(Debug, Clone, Copy)]
pub enum FieldRef<'a> {
    /// A string.
    Str(&'a str),
    /// Any JSON value (an object is walked further by later path steps).
    Json(&'a Value),
    /// A JSON object.
    Object(&'a Map<String, Value>),
}

/// Something an expression can be matched against.
///
/// Only the first step of a dotted key is looked up here; the remaining steps go through
/// nested JSON objects. Implemented for JSON objects ([`Value`], [`Map`]) and for [`Event`],
/// which looks like ftrack's event dict.
pub trait Fields {
    /// The value of the top-level field `key`, if there is one.
    fn root(&self, key: &str) -> Option<FieldRef<'_>>;
}

impl Fields for Value {
    /// Object key lookup; a non-object has no fields.
    fn root(&self, key: &str) -> Option<FieldRef<'_>> {
        self.as_object()?.get(key).map(FieldRef::Json)
    }
}

impl Fields for Map<String, Value> {
    fn root(&self, key: &str) -> Option<FieldRef<'_>> {
        self.get(key).map(FieldRef::Json)
    }
}

static NULL: Value = Value::Null;

impl Fields for Event {
    /// The fields of ftrack's event dict: `id`, `topic`, `target` (strings), `data`, `source`,
    /// `in_reply_to_event` and `sent` (null when unset). Nothing else, `stopped` included.
    fn root(&self, key: &str) -> Option<FieldRef<'_>> {
        Some(match key {
            "id" => FieldRef::Str(&self.id),
            "topic" => FieldRef::Str(&self.topic),
            "target" => FieldRef::Str(&self.target),
            "data" => FieldRef::Json(&self.data),
            "source" => FieldRef::Object(&self.source),
            "in_reply_to_event" => match &self.in_reply_to_event {
                Some(id) => FieldRef::Str(id),
                None => FieldRef::Json(&NULL),
            },
            "sent" => FieldRef::Json(self.sent.as_ref().unwrap_or(&NULL)),
            _ => return None,
        })
    }
}

mod matching;
mod parse;
#[cfg(test)]
mod tests;

use matching::push_unique;
use parse::{is_value_char, quotes_cleanly, Parser};

impl Expression {
    /// Parses `text` exactly as ftrack_api 3.1.0 does.
    ///
    /// Leading and trailing whitespace is ignored; empty text is an error (as in ftrack).
    pub fn parse(text: &str) -> Result<Expression, ExpressionError> {
        Parser::new(text).parse_all()
    }

    /// The condition `key=value`, built without parsing: `key` is split on `.` and `value`
    /// is taken literally, as if quoted (so, as in ftrack, a trailing `*` is still a
    /// wildcard).
    pub fn equals(key: &str, value: &str) -> Expression {
        Expression::Condition(Condition {
            path: key.split('.').map(str::to_owned).collect(),
            operator: Operator::Eq,
            value: value.to_owned(),
        })
    }

    /// What the expression requires of the event's `topic`; see [`TopicFilter`].
    ///
    /// For `and`, one constrained branch suffices (the most selective is chosen); for `or`,
    /// every branch must be constrained and the result is their union. `topic=*` matches
    /// every string and so constrains nothing.
    pub fn topic_filter(&self) -> TopicFilter {
        match self {
            Expression::Condition(condition) => condition.topic_filter(),
            Expression::Not(_) => TopicFilter::Any,
            Expression::All(children) => children
                .iter()
                .map(Expression::topic_filter)
                .filter_map(|filter| match filter {
                    TopicFilter::Any => None,
                    TopicFilter::OneOf { exact, containing } => Some((exact, containing)),
                })
                // Prefer exact topics only, then the fewest entries.
                .min_by_key(|(exact, containing)| {
                    (!containing.is_empty(), exact.len() + containing.len())
                })
                .map_or(TopicFilter::Any, |(exact, containing)| TopicFilter::OneOf {
                    exact,
                    containing,
                }),
            Expression::Any(children) => {
                let mut all_exact = Vec::new();
                let mut all_containing = Vec::new();
                for child in children {
                    match child.topic_filter() {
                        TopicFilter::Any => return TopicFilter::Any,
                        TopicFilter::OneOf { exact, containing } => {
                            push_unique(&mut all_exact, exact);
                            push_unique(&mut all_containing, containing);
                        }
                    }
                }
                TopicFilter::OneOf {
                    exact: all_exact,
                    containing: all_containing,
                }
            }
        }
    }

    /// The topic this expression is exactly a test for (`topic=ftrack.action.discover`, the
    /// most common subscription): it matches every event on that topic and nothing else, so a
    /// hub that looked the event up by topic need not evaluate it.
    pub fn only_topic(&self) -> Option<&str> {
        let Expression::Condition(condition) = self else {
            return None;
        };
        let TopicFilter::OneOf { exact, containing } = condition.topic_filter() else {
            return None;
        };
        // Checked on a real event rather than assumed: whatever the operator and value, it
        // must accept its own topic.
        let only = condition.path.len() == 1
            && containing.is_empty()
            && exact.len() == 1
            && self.matches(&Event::new(exact[0].as_str()));
        only.then_some(condition.value.as_str())
    }

    /// What is left to test of this expression for an event already known to be on the one
    /// topic [`Expression::topic_filter`] names: `None` for `topic=x` alone, `data.y=1` for
    /// `topic=x and data.y=1` (the usual shape of a subscription), the whole expression
    /// otherwise. Removing the topic test changes no result: it is true for that topic and
    /// cannot raise.
    pub fn after_topic(&self) -> Option<Expression> {
        if self.only_topic().is_some() {
            return None;
        }
        let whole = Some(self.clone());
        let (Expression::All(children), TopicFilter::OneOf { exact, containing }) =
            (self, self.topic_filter())
        else {
            return whole;
        };
        let [topic] = exact.as_slice() else {
            return whole;
        };
        let Some(at) = children
            .iter()
            .position(|child| child.only_topic() == Some(topic.as_str()))
        else {
            return whole;
        };
        if !containing.is_empty() {
            return whole;
        }
        let mut rest = children.clone();
        rest.remove(at);
        Some(match rest.len() {
            1 => rest.remove(0),
            _ => Expression::All(rest),
        })
    }
}

impl std::str::FromStr for Expression {
    type Err = ExpressionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Expression::parse(text)
    }
}

/// Writes a form that [`Expression::parse`] reads back to an equal expression, for every
/// expression `parse` can return. Hand-built expressions that the language cannot express
/// are still written, but will not read back: an `and`/`or` with fewer than two children; a
/// key that is empty, has characters other than `[A-Za-z0-9_.]` or starts with `not.` (read
/// as `not .`); a value with a tab, a line break not escaped by a backslash, a trailing odd
/// backslash, a `\x` without hex digits, or both kinds of lone quote.
impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expression::Condition(condition) => condition.fmt(f),
            Expression::Not(child) => {
                f.write_str("not ")?;
                write_operand(f, child, false)
            }
            Expression::All(children) => write_joined(f, children, " and ", false),
            Expression::Any(children) => write_joined(f, children, " or ", true),
        }
    }
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    children: &[Expression],
    separator: &str,
    bare_all: bool,
) -> fmt::Result {
    if children.is_empty() {
        return f.write_str("()");
    }
    for (index, child) in children.iter().enumerate() {
        if index > 0 {
            f.write_str(separator)?;
        }
        write_operand(f, child, bare_all)?;
    }
    Ok(())
}

/// Writes `expression` as an operand, in parentheses where it would otherwise merge with
/// the surrounding `and`/`or` (an `and` needs none inside an `or`).
fn write_operand(
    f: &mut fmt::Formatter<'_>,
    expression: &Expression,
    bare_all: bool,
) -> fmt::Result {
    match expression {
        Expression::All(_) if bare_all => write!(f, "{expression}"),
        Expression::All(_) | Expression::Any(_) => write!(f, "({expression})"),
        _ => write!(f, "{expression}"),
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, step) in self.path.iter().enumerate() {
            if index > 0 {
                f.write_str(".")?;
            }
            f.write_str(step)?;
        }
        f.write_str(self.operator.as_str())?;
        let value = self.value.as_str();
        if !value.is_empty() && value.chars().all(is_value_char) {
            return f.write_str(value);
        }
        let quote = if quotes_cleanly(value, '"') || !quotes_cleanly(value, '\'') {
            '"'
        } else {
            '\''
        };
        write!(f, "{quote}{value}{quote}")
    }
}
