//! Subscription expressions: which events a subscriber wants.
//!
//! A plugin subscribes with a small expression such as
//! `topic=ftrack.action.discover and source.user.username=alice`, and every event published
//! on the hub is tested against it. The language is ftrack's own (ftrack_api 3.1.0,
//! `ftrack_api.event.expression`), and existing plugins depend on its quirks, so this module
//! parses and matches exactly as ftrack does. It is written from ftrack's documented and
//! observed behaviour rather than translated from its source, and it is checked against a
//! corpus of cases computed by the real ftrack parser (`tests/expression_corpus.rs`).
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

use std::cmp::Ordering;
use std::fmt;

use connect_plugin_api::Event;
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

impl Expression {
    /// Parses `text` exactly as ftrack_api 3.1.0 does.
    ///
    /// Leading and trailing whitespace is ignored; empty text is an error (as in ftrack).
    pub fn parse(text: &str) -> Result<Expression, ExpressionError> {
        Parser::new(text).parse_all()
    }

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

    /// Evaluates with short-circuits; `Err` when a condition that was evaluated is one ftrack
    /// would raise on.
    fn eval<F: Fields + ?Sized>(&self, fields: &F) -> Result<bool, Invalid<'_>> {
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
    fn evaluates_all_when(&self, result: bool) -> bool {
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
    fn find_invalid<F: Fields + ?Sized>(&self, fields: &F) -> Option<Invalid<'_>> {
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
struct Invalid<'a> {
    condition: &'a Condition,
    reason: &'static str,
}

fn push_unique(into: &mut Vec<String>, from: Vec<String>) {
    for item in from {
        if !into.contains(&item) {
            into.push(item);
        }
    }
}

impl Condition {
    fn topic_filter(&self) -> TopicFilter {
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
    fn wildcard(&self) -> Option<&str> {
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

    fn eval<F: Fields + ?Sized>(&self, fields: &F) -> Result<bool, Invalid<'_>> {
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

/// Whether `value` inside `quote`s reads back as exactly `value`.
fn quotes_cleanly(value: &str, quote: char) -> bool {
    if value.contains('\t') {
        return false;
    }
    let mut chars = Vec::with_capacity(value.len() + 2);
    chars.push(quote);
    chars.extend(value.chars());
    chars.push(quote);
    matches!(scan_quoted(&chars, 0), Ok(close) if close == chars.len() - 1)
}

/// Characters of an unquoted value.
fn is_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_,./*@+".contains(c)
}

/// Characters of a key.
fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Characters that may not follow (or precede) a keyword. These are pyparsing's keyword
/// characters, compared after upper-casing, which adds dotless `ı` and long `ſ`.
fn is_keyword_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '\u{131}' | '\u{17f}')
}

/// Whitespace between tokens (after tab expansion, tabs are spaces already).
fn is_token_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Python's `str.isspace`, which ftrack's `strip()` uses on the whole expression.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Where a quoted value stopped being valid.
enum QuoteStop {
    /// At this index, where a closing quote was expected.
    Unclosed(usize),
    /// At this index, after `\x`, where a hex digit was expected.
    BadHexEscape(usize),
}

/// Scans the quoted value whose opening quote is at `start`; returns the index of its
/// closing quote. Inside: any character but the quote, a line break or a backslash; a
/// doubled quote; a backslash and any character but `x`; or `\x` and hex digits.
fn scan_quoted(chars: &[char], start: usize) -> Result<usize, QuoteStop> {
    let quote = chars[start];
    let mut at = start + 1;
    loop {
        match chars.get(at) {
            None | Some('\n' | '\r') => return Err(QuoteStop::Unclosed(at)),
            Some(&c) if c == quote => {
                if chars.get(at + 1) == Some(&quote) {
                    at += 2;
                } else {
                    return Ok(at);
                }
            }
            Some('\\') => match chars.get(at + 1) {
                None => return Err(QuoteStop::Unclosed(at + 1)),
                Some('x') => {
                    let digits = chars[at + 2..]
                        .iter()
                        .take_while(|c| c.is_ascii_hexdigit())
                        .count();
                    if digits == 0 {
                        return Err(QuoteStop::BadHexEscape(at + 2));
                    }
                    at += 2 + digits;
                }
                Some(_) => at += 2,
            },
            Some(_) => at += 1,
        }
    }
}

/// A parse failure at a character index of the prepared text.
struct Failure {
    at: usize,
    expected: String,
}

type Parsed = Result<Expression, Failure>;

/// Recursive-descent parser over the stripped, tab-expanded characters of the expression.
struct Parser {
    chars: Vec<char>,
    /// The 1-based column in the original text of each character, and of the end.
    columns: Vec<usize>,
    pos: usize,
    depth: usize,
}

impl Parser {
    /// Strips Python whitespace from both ends and expands tabs, as ftrack (and pyparsing)
    /// do before parsing, remembering where each character came from.
    fn new(text: &str) -> Parser {
        let original: Vec<char> = text.chars().collect();
        let start = original
            .iter()
            .position(|&c| !is_python_space(c))
            .unwrap_or(original.len());
        let end = original
            .iter()
            .rposition(|&c| !is_python_space(c))
            .map_or(start, |last| last + 1);
        let mut chars = Vec::with_capacity(end - start);
        let mut columns = Vec::with_capacity(end - start + 1);
        let mut line_column = 0;
        for (index, &c) in original.iter().enumerate().take(end).skip(start) {
            match c {
                '\t' => {
                    let spaces = 8 - line_column % 8;
                    chars.resize(chars.len() + spaces, ' ');
                    columns.resize(columns.len() + spaces, index + 1);
                    line_column += spaces;
                }
                _ => {
                    chars.push(c);
                    columns.push(index + 1);
                    line_column = if matches!(c, '\n' | '\r') {
                        0
                    } else {
                        line_column + 1
                    };
                }
            }
        }
        columns.push(if start == end { 1 } else { end + 1 });
        Parser {
            chars,
            columns,
            pos: 0,
            depth: 0,
        }
    }

    fn parse_all(mut self) -> Result<Expression, ExpressionError> {
        let result = self.parse_or().and_then(|expression| {
            self.skip_space();
            if self.pos == self.chars.len() {
                Ok(expression)
            } else {
                Err(self.fail_after_operand("end of input"))
            }
        });
        result.map_err(|failure| ExpressionError {
            column: self.columns[failure.at],
            expected: failure.expected,
            found: self.describe(failure.at),
        })
    }

    fn parse_or(&mut self) -> Parsed {
        let first = self.parse_and()?;
        self.parse_chain(first, "or", Parser::parse_and, Expression::Any)
    }

    fn parse_and(&mut self) -> Parsed {
        let first = self.parse_not()?;
        self.parse_chain(first, "and", Parser::parse_not, Expression::All)
    }

    /// The rest of `first (keyword operand)*`. Once a keyword is read, a failing operand
    /// fails the whole parse (nothing else can follow `and`/`or` at that point).
    fn parse_chain(
        &mut self,
        first: Expression,
        keyword: &str,
        operand: fn(&mut Parser) -> Parsed,
        combine: fn(Vec<Expression>) -> Expression,
    ) -> Parsed {
        let mut items = Vec::new();
        loop {
            let before = self.pos;
            self.skip_space();
            if !self.at_keyword(keyword) {
                self.pos = before;
                break;
            }
            self.pos += keyword.len();
            items.push(operand(self)?);
        }
        if items.is_empty() {
            Ok(first)
        } else {
            items.insert(0, first);
            Ok(combine(items))
        }
    }

    fn parse_not(&mut self) -> Parsed {
        self.skip_space();
        let start = self.pos;
        if !self.at_keyword("not") {
            return self.parse_atom();
        }
        self.enter(start)?;
        self.pos += 3;
        let negated = self.parse_not();
        self.depth -= 1;
        match negated {
            Ok(child) => Ok(Expression::Not(Box::new(child))),
            // `not` that cannot start a negation may be a key: `not=x`.
            Err(not_failure) => {
                self.pos = start;
                self.parse_atom().map_err(|key_failure| {
                    if key_failure.at > not_failure.at {
                        key_failure
                    } else {
                        not_failure
                    }
                })
            }
        }
    }

    fn parse_atom(&mut self) -> Parsed {
        self.skip_space();
        if self.peek() != Some('(') {
            return self.parse_condition();
        }
        let open = self.pos;
        self.enter(open)?;
        self.pos += 1;
        let inner = self.parse_or();
        self.depth -= 1;
        let inner = inner?;
        self.skip_space();
        if self.peek() == Some(')') {
            self.pos += 1;
            Ok(inner)
        } else {
            let closing = format!("')' to close '(' at column {}", self.columns[open]);
            Err(self.fail_after_operand(&closing))
        }
    }

    fn parse_condition(&mut self) -> Parsed {
        let key_start = self.pos;
        let key_end = self.scan(key_start, is_key_char);
        if key_end == key_start {
            return Err(self.fail(
                key_start,
                "a condition (key, operator, value), 'not' or '('",
            ));
        }
        let key: String = self.chars[key_start..key_end].iter().collect();
        self.pos = key_end;
        self.skip_space();
        let operator = match (self.peek(), self.chars.get(self.pos + 1)) {
            (Some('!'), Some('=')) => Operator::Ne,
            (Some('>'), Some('=')) => Operator::Ge,
            (Some('<'), Some('=')) => Operator::Le,
            (Some('='), _) => Operator::Eq,
            (Some('>'), _) => Operator::Gt,
            (Some('<'), _) => Operator::Lt,
            _ => {
                let expected = format!("an operator (=, !=, <, <=, >, >=) after the key '{key}'");
                return Err(self.fail(self.pos, &expected));
            }
        };
        self.pos += operator.as_str().len();
        self.skip_space();
        let value = self.parse_value(operator)?;
        Ok(Expression::Condition(Condition {
            path: key.split('.').map(str::to_owned).collect(),
            operator,
            value,
        }))
    }

    fn parse_value(&mut self, operator: Operator) -> Result<String, Failure> {
        let start = self.pos;
        match self.peek() {
            Some('"' | '\'') => match scan_quoted(&self.chars, start) {
                Ok(close) => {
                    self.pos = close + 1;
                    Ok(self.chars[start + 1..close].iter().collect())
                }
                Err(QuoteStop::Unclosed(at)) => {
                    let expected = format!(
                        "a closing {} for the value quoted at column {}",
                        self.chars[start], self.columns[start]
                    );
                    Err(self.fail(at, &expected))
                }
                Err(QuoteStop::BadHexEscape(at)) => {
                    Err(self.fail(at, "hex digits after '\\x' in a quoted value"))
                }
            },
            _ => {
                let end = self.scan(start, is_value_char);
                if end == start {
                    let expected = format!("a value after '{operator}'");
                    return Err(self.fail(start, &expected));
                }
                self.pos = end;
                Ok(self.chars[start..end].iter().collect())
            }
        }
    }

    /// Counts one more level of `(` or `not` nesting opened at `at`.
    fn enter(&mut self, at: usize) -> Result<(), Failure> {
        if self.depth == MAX_DEPTH {
            let expected = format!("at most {MAX_DEPTH} nested levels of '(' and 'not'");
            return Err(self.fail(at, &expected));
        }
        self.depth += 1;
        Ok(())
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        let end = self.pos + keyword.len();
        end <= self.chars.len()
            && self.chars[self.pos..end]
                .iter()
                .zip(keyword.chars())
                .all(|(c, k)| c.to_ascii_lowercase() == k)
            && !self.chars.get(end).is_some_and(|&c| is_keyword_char(c))
            && !(self.pos > 0 && is_keyword_char(self.chars[self.pos - 1]))
    }

    /// The failure for what follows a complete operand: it should be `and`, `or` or
    /// `closing`.
    fn fail_after_operand(&self, closing: &str) -> Failure {
        let mut expected = format!("'and', 'or' or {closing}");
        // `topic=a:b`: the value stopped at a character it may not hold unquoted.
        let glued = self.pos > 0 && is_value_char(self.chars[self.pos - 1]);
        if glued
            && self
                .peek()
                .is_some_and(|c| !is_value_char(c) && !"()".contains(c))
        {
            expected.push_str(" (quote a value with characters other than A-Za-z0-9-_,./*@+)");
        }
        self.fail(self.pos, &expected)
    }

    fn fail(&self, at: usize, expected: &str) -> Failure {
        Failure {
            at,
            expected: expected.to_owned(),
        }
    }

    /// How an error message shows what is at `at`.
    fn describe(&self, at: usize) -> String {
        match self.chars.get(at) {
            None => "end of input".to_owned(),
            Some('\n' | '\r') => "a line break".to_owned(),
            Some(&c) if is_value_char(c) => {
                let end = self.scan(at, is_value_char).min(at + 24);
                let word: String = self.chars[at..end].iter().collect();
                format!("'{word}'")
            }
            Some(c) => format!("'{}'", c.escape_debug()),
        }
    }

    fn scan(&self, from: usize, accept: fn(char) -> bool) -> usize {
        from + self.chars[from..]
            .iter()
            .take_while(|&&c| accept(c))
            .count()
    }

    fn skip_space(&mut self) {
        self.pos = self.scan(self.pos, is_token_space);
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Expression {
        Expression::parse(text).unwrap_or_else(|error| panic!("{text:?}: {error}"))
    }

    fn error(text: &str) -> ExpressionError {
        match Expression::parse(text) {
            Ok(expression) => panic!("{text:?} parsed as {expression:?}"),
            Err(error) => error,
        }
    }

    fn matches(text: &str, candidate: Value) -> bool {
        parse(text).matches(&candidate)
    }

    fn cond(key: &str, operator: Operator, value: &str) -> Expression {
        Expression::Condition(Condition {
            path: key.split('.').map(str::to_owned).collect(),
            operator,
            value: value.to_owned(),
        })
    }

    fn eq(key: &str, value: &str) -> Expression {
        cond(key, Operator::Eq, value)
    }

    fn not(expression: Expression) -> Expression {
        Expression::Not(Box::new(expression))
    }

    fn exact(topics: &[&str]) -> TopicFilter {
        TopicFilter::OneOf {
            exact: topics.iter().map(|t| t.to_string()).collect(),
            containing: vec![],
        }
    }

    #[test]
    fn parse_errors_of_the_semantics_doc() {
        for text in [
            "topic=",
            "=x",
            "topic==x",
            "topic=a b",
            "topic=a:b",
            "topic=a$b",
            "(topic=x",
            "topic=x)",
            "topic=x and",
            "and topic=x",
            "invalid",
            "key=value nor other=value",
        ] {
            error(text);
        }
    }

    #[test]
    fn parse_errors_say_where_and_what() {
        let e = error("topic=");
        assert_eq!(
            e.to_string(),
            "column 7: expected a value after '=', found end of input"
        );
        let e = error("=x");
        assert_eq!((e.column, e.found.as_str()), (1, "'='"));
        assert_eq!(error("topic==x").column, 7);
        let e = error("topic=a b");
        assert_eq!((e.column, e.found.as_str()), (9, "'b'"));
        let e = error("topic=a:b");
        assert_eq!(e.column, 8);
        assert!(e.expected.contains("quote"), "{e}");
        assert_eq!(error("topic=a$b").found, "'$'");
        let e = error("(topic=x");
        assert_eq!(e.column, 9);
        assert!(e.expected.contains("')' to close '(' at column 1"), "{e}");
        assert_eq!(error("topic=x)").found, "')'");
        assert_eq!(error("topic=x and").column, 12);
        assert_eq!(error("and topic=x").column, 5);
        assert_eq!(error("invalid").column, 8);
        assert_eq!(error("key=value nor other=value").found, "'nor'");
        // Columns count characters of the text as given, leading whitespace included.
        assert_eq!(error("  \ttopic=").column, 10);
        assert_eq!(error("é=1 é").column, 1);
        let e = error(r#"a="abc"#);
        assert_eq!(e.column, 7);
        assert!(e.expected.contains("quoted at column 3"), "{e}");
        assert_eq!(error("a=\"a\nb\"").found, "a line break");
        assert!(error(r#"a="\xg""#).expected.contains("hex"));
    }

    #[test]
    fn empty_or_blank_text_is_an_error() {
        for text in ["", "   ", "\t\n", "\u{1c}"] {
            assert_eq!(error(text).column, 1, "{text:?}");
        }
    }

    #[test]
    fn valid_examples_of_the_semantics_doc() {
        assert_eq!(parse(r#"topic="a:b""#), eq("topic", "a:b"));
        assert_eq!(
            parse(r#"data.label="Mega Modeling""#),
            eq("data.label", "Mega Modeling")
        );
        assert_eq!(
            parse("data.application.identifier=maya_2024").to_string(),
            "data.application.identifier=maya_2024"
        );
        let e = parse("topic=ftrack.* and not data.x=1");
        assert_eq!(
            e,
            Expression::All(vec![eq("topic", "ftrack.*"), not(eq("data.x", "1"))])
        );
        assert!(e.matches(&json!({"topic": "ftrack.update", "data": {}})));
    }

    #[test]
    fn operators_longest_first() {
        for (text, operator) in [
            ("a=b", Operator::Eq),
            ("a!=b", Operator::Ne),
            ("a>b", Operator::Gt),
            ("a>=b", Operator::Ge),
            ("a<b", Operator::Lt),
            ("a<=b", Operator::Le),
        ] {
            assert_eq!(parse(text), cond("a", operator, "b"));
        }
        for text in ["a=>b", "a<>b", "a!b", "a!==b", "a=<b"] {
            error(text);
        }
    }

    #[test]
    fn precedence_not_then_and_then_or() {
        assert_eq!(
            parse("a=1 or b=2 and c=3"),
            Expression::Any(vec![
                eq("a", "1"),
                Expression::All(vec![eq("b", "2"), eq("c", "3")])
            ])
        );
        assert_eq!(
            parse("not a=1 and b=2"),
            Expression::All(vec![not(eq("a", "1")), eq("b", "2")])
        );
        assert_eq!(
            parse("(a=1 or b=2) and c=3"),
            Expression::All(vec![
                Expression::Any(vec![eq("a", "1"), eq("b", "2")]),
                eq("c", "3")
            ])
        );
        // Chains are flat; parentheses nest but add no node.
        assert_eq!(
            parse("a=1 and b=2 and c=3"),
            Expression::All(vec![eq("a", "1"), eq("b", "2"), eq("c", "3")])
        );
        assert_eq!(
            parse("a=1 and (b=2 and c=3)"),
            Expression::All(vec![
                eq("a", "1"),
                Expression::All(vec![eq("b", "2"), eq("c", "3")])
            ])
        );
        assert_eq!(parse("((a=1))"), eq("a", "1"));
        assert_eq!(
            parse("not (a=1 and b=2)"),
            not(Expression::All(vec![eq("a", "1"), eq("b", "2")]))
        );
        assert!(!matches("a=1 or b=2 and c=3", json!({"b": "2"})));
        assert!(matches("a=1 or b=2 and c=3", json!({"a": "1"})));
    }

    #[test]
    fn not_not_is_legal() {
        assert_eq!(parse("not not a=b"), not(not(eq("a", "b"))));
        assert!(matches("not not a=b", json!({"a": "b"})));
        assert!(!matches("not a=b", json!({"a": "b"})));
        assert_eq!(parse("not(a=b)"), not(eq("a", "b")));
    }

    #[test]
    fn keywords_are_case_insensitive_and_whole_words() {
        assert_eq!(
            parse("A=b AND c=d Or NOT e=f"),
            Expression::Any(vec![
                Expression::All(vec![eq("A", "b"), eq("c", "d")]),
                not(eq("e", "f"))
            ])
        );
        assert_eq!(parse("nottopic=x"), eq("nottopic", "x"));
        assert_eq!(parse("not_x=1"), eq("not_x", "1"));
        assert_eq!(
            parse(r#"a="x"and b=c"#),
            Expression::All(vec![eq("a", "x"), eq("b", "c")])
        );
        assert_eq!(
            parse("(a=b)or(c=d)"),
            Expression::Any(vec![eq("a", "b"), eq("c", "d")])
        );
        error("a=b andı c=d");
    }

    #[test]
    fn keywords_can_be_keys() {
        assert_eq!(parse("not=x"), eq("not", "x"));
        assert_eq!(parse("not =x"), eq("not", "x"));
        assert_eq!(parse("not not=x"), not(eq("not", "x")));
        assert_eq!(parse("and=x"), eq("and", "x"));
        assert_eq!(
            parse("or=c or or=d"),
            Expression::Any(vec![eq("or", "c"), eq("or", "d")])
        );
        // `.` may follow a keyword: ftrack reads `not.x=1` as `not .x=1`.
        assert_eq!(parse("not.x=1"), not(eq(".x", "1")));
        error("a=b or=c");
    }

    #[test]
    fn whitespace_tabs_and_line_breaks_between_tokens() {
        let expected = Expression::All(vec![eq("a", "b"), eq("c", "d")]);
        assert_eq!(parse("a = b and c = d"), expected);
        assert_eq!(parse("\ta\t=\tb\tand\tc=d\t"), expected);
        assert_eq!(parse("a=b\r\n and\nc=d"), expected);
        assert_eq!(parse("\u{a0}\u{1c}a=b and c=d\u{3000}"), expected);
        // Other whitespace only counts at the ends.
        error("a=b\u{a0}and c=d");
        error("a=b\u{b}and c=d");
    }

    #[test]
    fn quoting_both_kinds_keeps_backslashes() {
        assert_eq!(parse(r#"a="b c""#), eq("a", "b c"));
        assert_eq!(parse("a='b c'"), eq("a", "b c"));
        assert_eq!(parse(r#"a='say "hi"'"#), eq("a", r#"say "hi""#));
        assert_eq!(parse(r#"a="it's""#), eq("a", "it's"));
        assert_eq!(parse(r#"a="C:\\temp\n""#), eq("a", r"C:\\temp\n"));
        assert_eq!(parse(r#"a="\"quoted\"""#), eq("a", r#"\"quoted\""#));
        assert_eq!(parse(r#"a='\x4f'"#), eq("a", r"\x4f"));
        assert_eq!(parse("a=\"x\\\ny\""), eq("a", "x\\\ny"));
        // A doubled quote stands for itself and stays doubled.
        assert_eq!(parse(r#"a="a""b""#), eq("a", r#"a""b"#));
        assert_eq!(parse("a='it''s'"), eq("a", "it''s"));
        for text in [r#"a="b\""#, r#"a="\x""#, r#"a="a"""#, "a='b", "a=\"b\rc\""] {
            error(text);
        }
        assert!(matches(
            r#"data.path="C:\\temp""#,
            json!({"data": {"path": r"C:\\temp"}})
        ));
    }

    #[test]
    fn tabs_in_quoted_values_become_spaces_like_ftrack() {
        assert_eq!(parse("a=\"x\ty\""), eq("a", "x    y"));
        assert_eq!(parse("\ta=\"x\ty\""), eq("a", "x    y"));
        assert_eq!(parse("a=\"1234\ty\""), eq("a", "1234 y"));
        assert_eq!(parse("a=\"12345\ty\""), eq("a", "12345        y"));
        assert!(!matches("a=\"x\ty\"", json!({"a": "x\ty"})));
    }

    #[test]
    fn wildcard_is_a_trailing_substring_test() {
        assert!(matches(
            "topic=action*",
            json!({"topic": "ftrack.action.discover"})
        ));
        assert!(matches("topic=ftrack.*", json!({"topic": "ftrack.update"})));
        assert!(!matches("topic=ftrack.*", json!({"topic": "ftrack"})));
        assert!(matches("topic=*", json!({"topic": "anything"})));
        assert!(matches("topic=*", json!({"topic": ""})));
        assert!(matches(r#"topic="b c*""#, json!({"topic": "ab cd"})));
        assert!(!matches("topic=action*", json!({"topic": "Action"})));
    }

    #[test]
    fn star_elsewhere_is_literal() {
        assert!(!matches("topic=a*b", json!({"topic": "axb"})));
        assert!(matches("topic=a*b", json!({"topic": "a*b"})));
        assert!(!matches("topic=*a", json!({"topic": "ba"})));
        assert!(matches("topic=*a", json!({"topic": "*a"})));
    }

    #[test]
    fn not_equal_with_star_is_literal() {
        assert!(matches("topic!=a*", json!({"topic": "abc"})));
        assert!(!matches("topic!=a*", json!({"topic": "a*"})));
        assert!(!matches("topic>a*", json!({"topic": "a*"})));
        assert!(matches("topic>=a*", json!({"topic": "a*"})));
    }

    #[test]
    fn wildcard_against_lists_and_objects_tests_membership() {
        let candidate = json!({"data": {"tags": ["x", "yz", 1], "map": {"x": 1}}});
        assert!(parse("data.tags=x*").matches(&candidate));
        assert!(!parse("data.tags=y*").matches(&candidate));
        assert!(!parse("data.tags=1*").matches(&candidate));
        assert!(!parse("data.tags=*").matches(&candidate));
        assert!(parse("data.map=x*").matches(&candidate));
        assert!(!parse("data.map=y*").matches(&candidate));
        // Without the wildcard a list never equals a string.
        assert!(!parse("data.tags=x").matches(&candidate));
        assert!(parse("data.tags!=x").matches(&candidate));
    }

    #[test]
    fn missing_keys_are_false_even_with_not_equal() {
        let candidate = json!({"topic": "t", "data": {}});
        for text in [
            "data.x=1",
            "data.x!=1",
            "nothing!=1",
            "data.x<1",
            "data.x=*",
            "data.x=\"\"",
        ] {
            assert!(!parse(text).matches(&candidate), "{text}");
        }
        assert!(parse("not data.x=1").matches(&candidate));
    }

    #[test]
    fn steps_into_lists_or_strings_are_missing() {
        let candidate = json!({"data": {"list": [{"a": "b"}], "text": "abc", "n": 1, "z": null}});
        for text in [
            "data.list.a=b",
            "data.list.0=b",
            "data.list.a!=b",
            "data.text.a!=x",
            "data.n.a!=x",
            "data.z.a!=x",
            "data.list.a<x",
        ] {
            assert!(!parse(text).matches(&candidate), "{text}");
        }
        assert!(!parse("x.y!=1").matches(&json!([1, 2])));
        assert!(!parse("x!=1").matches(&json!("x")));
    }

    #[test]
    fn numbers_booleans_and_null_with_each_operator() {
        for value in [
            json!(10),
            json!(1.5),
            json!(true),
            json!(false),
            json!(null),
        ] {
            let candidate = json!({ "id": value });
            let text = value.to_string();
            assert!(
                !parse(&format!("id={text}")).matches(&candidate),
                "= {text}"
            );
            assert!(
                parse(&format!("id!={text}")).matches(&candidate),
                "!= {text}"
            );
            for operator in ["<", "<=", ">", ">="] {
                // ftrack raises a TypeError here; this is simply no match.
                let expression = parse(&format!("id{operator}{text}"));
                assert!(!expression.matches(&candidate), "{operator} {text}");
                assert!(!parse(&format!("not id{operator}{text}")).matches(&candidate));
            }
            assert!(!parse("id=1*").matches(&candidate), "wildcard {text}");
            assert!(!parse("id=*").matches(&candidate), "wildcard {text}");
            assert!(parse("id!=1*").matches(&candidate), "!= wildcard {text}");
        }
        for value in [json!([1]), json!({"a": 1})] {
            assert!(!parse("x<a").matches(&json!({ "x": value })));
        }
    }

    #[test]
    fn an_invalid_comparison_anywhere_means_no_match() {
        // ftrack evaluates every condition and raises on any invalid one.
        let candidate = json!({"topic": "t", "n": 3});
        assert!(!parse("topic=t or n<5").matches(&candidate));
        assert!(!parse("not n<5").matches(&candidate));
        assert!(!parse("n<5 or topic=t").matches(&candidate));
        assert!(!parse("topic=t and not (n=* and topic=x)").matches(&candidate));
        assert!(parse("topic=t or missing<5").matches(&candidate));
    }

    #[test]
    fn empty_quoted_value() {
        assert_eq!(parse(r#"data.label="""#), eq("data.label", ""));
        assert_eq!(parse("data.label=''"), eq("data.label", ""));
        // ftrack raises for `=` with an empty value: no match, whatever the event holds.
        assert!(!matches(r#"data.label="""#, json!({"data": {"label": ""}})));
        assert!(!matches(
            r#"not data.label="""#,
            json!({"data": {"label": "x"}})
        ));
        assert!(matches(
            r#"data.label!="""#,
            json!({"data": {"label": "x"}})
        ));
        assert!(!matches(
            r#"data.label!="""#,
            json!({"data": {"label": ""}})
        ));
        assert!(matches(r#"data.label>="""#, json!({"data": {"label": ""}})));
    }

    #[test]
    fn keys_are_case_sensitive() {
        assert!(!matches("Topic=a", json!({"topic": "a"})));
        assert!(matches("Topic=a", json!({"Topic": "a"})));
        assert!(!matches("topic=A", json!({"topic": "a"})));
    }

    #[test]
    fn dotted_keys_keep_empty_steps() {
        assert_eq!(parse("a..b=c"), eq("a..b", "c"));
        assert!(matches("a..b=c", json!({"a": {"": {"b": "c"}}})));
        assert!(matches(".=c", json!({"": {"": "c"}})));
    }

    #[test]
    fn comparisons_are_lexicographic() {
        let candidate = json!({"name": "b", "v": "10"});
        assert!(matches("name>a", candidate.clone()));
        assert!(!matches("name>b", candidate.clone()));
        assert!(matches("name>=b", candidate.clone()));
        assert!(matches("name<c", candidate.clone()));
        assert!(matches("name<=b", candidate.clone()));
        assert!(!matches("name<B", candidate.clone()));
        assert!(matches("name>B", candidate.clone()));
        // Strings, not numbers: "10" < "9".
        assert!(matches("v<9", candidate.clone()));
        assert!(matches("name>\"a\u{e9}\"", json!({"name": "b"})) == ("b" > "a\u{e9}"));
        assert!(matches("name>\"\u{ff}\"", json!({"name": "\u{1f600}"})));
    }

    #[test]
    fn event_fields_look_like_ftrack_event_dict() {
        let mut event = Event::new("ftrack.action.discover").with_data(json!({"x": {"y": "z"}}));
        event
            .source
            .insert("user".into(), json!({"username": "alice"}));
        event.target = "id=abc".into();
        assert!(parse("topic=ftrack.action.discover").matches(&event));
        assert!(parse(&format!("id={}", event.id)).matches(&event));
        assert!(parse("data.x.y=z").matches(&event));
        assert!(parse("source.user.username=alice").matches(&event));
        assert!(parse(r#"target="id=abc""#).matches(&event));
        // Unset fields are null: present, not equal to anything, `!=` true.
        assert!(parse("in_reply_to_event!=x").matches(&event));
        assert!(parse("sent!=x").matches(&event));
        assert!(!parse("in_reply_to_event<x").matches(&event));
        assert!(!parse("stopped!=x").matches(&event));
        assert!(!parse("inReplyToEvent!=x").matches(&event));
        event.in_reply_to_event = Some("abc".into());
        event.sent = Some(json!("2024"));
        assert!(parse("in_reply_to_event=abc").matches(&event));
        assert!(parse("sent=2024").matches(&event));
        assert!(!parse("topic.x!=1").matches(&event));
    }

    #[test]
    fn maps_and_values_are_fields() {
        let value = json!({"a": "b"});
        let map = value.as_object().unwrap().clone();
        let expression = parse("a=b");
        assert!(expression.matches(&value));
        assert!(expression.matches(&map));
        assert!(!expression.matches(&json!(null)));
    }

    #[test]
    fn equals_builds_a_literal_condition() {
        let built = Expression::equals("source.id", "a b:c");
        assert_eq!(built, eq("source.id", "a b:c"));
        assert!(built.matches(&json!({"source": {"id": "a b:c"}})));
        assert_eq!(parse(&built.to_string()), built);
        for value in [r#"say "x""#, "it's", r"C:\\temp", "", "not", "*"] {
            let built = Expression::equals("label", value);
            assert_eq!(parse(&built.to_string()), built, "{built}");
        }
    }

    #[test]
    fn display_reads_back() {
        for text in [
            "a=b",
            "not not a=b",
            "a=1 or b=2 and c=3",
            "(a=1 or b=2) and c=3",
            "a=1 and (b=2 and c=3)",
            "a=1 or (b=2 or c=3)",
            "not (a=1 or b=2)",
            r#"a="b c" and d='say "x"' and e="" and f="a""b""#,
            "not=x and and=y or or=z",
            "not.x=1",
            "a=\"x\\\ny\"",
        ] {
            let expression = parse(text);
            let shown = expression.to_string();
            assert_eq!(parse(&shown), expression, "{text} -> {shown}");
        }
        assert_eq!(parse("a = 'b'  AND\tc=d").to_string(), "a=b and c=d");
        assert_eq!("a=b".parse::<Expression>(), Ok(eq("a", "b")));
    }

    #[test]
    fn nesting_is_linear_and_limited() {
        let deep = format!("{}a=b{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(parse(&deep), eq("a", "b"));
        let too_deep = format!(
            "{}a=b{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(error(&too_deep).expected.contains("nested"));
        let nots = format!("{}a=b", "not ".repeat(MAX_DEPTH + 1));
        error(&nots);
        let long = vec!["a=b"; 10_000].join(" or ");
        assert!(parse(&long).matches(&json!({"a": "b"})));
    }

    #[test]
    fn after_topic_drops_the_topic_test_the_index_made() {
        let rest = |text: &str| parse(text).after_topic().map(|e| e.to_string());
        assert_eq!(rest("topic=a"), None);
        assert_eq!(rest("topic=a and data.x=1").as_deref(), Some("data.x=1"));
        assert_eq!(
            rest("data.y=2 and topic=a and data.x=1").as_deref(),
            Some("data.y=2 and data.x=1")
        );
        assert_eq!(
            rest("topic=a or data.x=1").as_deref(),
            Some("topic=a or data.x=1")
        );
        assert_eq!(
            rest("topic=a* and data.x=1").as_deref(),
            Some("topic=a* and data.x=1")
        );
        assert_eq!(rest("data.x=1").as_deref(), Some("data.x=1"));
        // Whatever is left, it matches exactly the events on the topic the whole one does.
        let event = |topic: &str, x: i64| Event::new(topic).with_data(serde_json::json!({"x": x}));
        for text in [
            "topic=a and data.x=1",
            "topic=a and not data.x=2",
            "topic=a and (data.x=1 or data.y=1)",
        ] {
            let whole = parse(text);
            let rest = whole.after_topic();
            for x in [1, 2] {
                let on_topic = event("a", x);
                assert_eq!(
                    rest.as_ref().is_none_or(|rest| rest.matches(&on_topic)),
                    whole.matches(&on_topic),
                    "{text} on {x}"
                );
            }
        }
    }

    #[test]
    fn only_topic_is_an_exact_topic_test_alone() {
        let only = |text: &str| parse(text).only_topic().map(str::to_owned);
        assert_eq!(
            only("topic=ftrack.action.discover").as_deref(),
            Some("ftrack.action.discover")
        );
        assert_eq!(only("topic='a b'").as_deref(), Some("a b"));
        assert_eq!(only("topic=a*"), None);
        assert_eq!(only("topic!=a"), None);
        assert_eq!(only("topic=a and data.x=1"), None);
        assert_eq!(only("topic=a or topic=b"), None);
        assert_eq!(only("not topic=a"), None);
        assert_eq!(only("topic.x=a"), None);
    }

    #[test]
    fn topic_filter_cases() {
        let filter = |text: &str| parse(text).topic_filter();
        assert_eq!(filter("topic=a"), exact(&["a"]));
        assert_eq!(filter("topic=a*b"), exact(&["a*b"]));
        assert_eq!(
            filter("topic=ftrack.action.*"),
            TopicFilter::OneOf {
                exact: vec![],
                containing: vec!["ftrack.action.".into()]
            }
        );
        assert_eq!(filter("topic=*"), TopicFilter::Any);
        assert_eq!(filter(r#"topic="""#), exact(&[]));
        for text in [
            "data.x=1",
            "not topic=x",
            "topic!=x",
            "topic>x",
            "Topic=x",
            "topic.x=y",
            "topic=a or data.x=1",
            "not not topic=x",
        ] {
            assert_eq!(filter(text), TopicFilter::Any, "{text}");
        }
        assert_eq!(filter("topic=a and data.x=1"), exact(&["a"]));
        assert_eq!(
            filter("data.x=1 and topic=a*"),
            TopicFilter::OneOf {
                exact: vec![],
                containing: vec!["a".into()]
            }
        );
        assert_eq!(filter("topic=a* and topic=abc"), exact(&["abc"]));
        assert_eq!(filter("topic=a or topic=b or topic=a"), exact(&["a", "b"]));
        assert_eq!(
            filter("topic=a or (topic=b* and x=1)"),
            TopicFilter::OneOf {
                exact: vec!["a".into()],
                containing: vec!["b".into()]
            }
        );
        assert_eq!(filter("(topic=a or topic=b) and topic=c"), exact(&["c"]));
        assert_eq!(filter("(topic=a or topic=b) and x=1"), exact(&["a", "b"]));
        assert_eq!(Expression::All(vec![]).topic_filter(), TopicFilter::Any);
        assert_eq!(Expression::Any(vec![]).topic_filter(), exact(&[]));
    }

    #[test]
    fn topic_filter_guarantee_holds_on_samples() {
        let topics = ["a", "b", "abc", "ftrack.action.discover", "", "x*"];
        for text in [
            "topic=a",
            "topic=a* and x!=1",
            "topic=b or topic=c*",
            "(topic=a or topic=b*) and not topic=b",
            "topic=x* or topic=ftrack.*",
        ] {
            let expression = parse(text);
            let TopicFilter::OneOf { exact, containing } = expression.topic_filter() else {
                panic!("{text} should be constrained");
            };
            for topic in topics {
                if expression.matches(&json!({ "topic": topic, "x": "2" })) {
                    assert!(
                        exact.iter().any(|e| e == topic)
                            || containing.iter().any(|c| topic.contains(c.as_str())),
                        "{text} matched {topic}"
                    );
                }
            }
        }
    }
}
