//! The parsed form of a query, and its canonical text.
//!
//! The tree mirrors the language rather than any SQL: a later step (the compiler) resolves
//! paths against the schema, so nothing here knows which attributes exist or what type they
//! have. That is why values keep their source text next to their parsed kind: `status is 5`
//! may compare a text column with the bare word `5`, and only the compiler can tell.
//!
//! `and` and `or` are n-ary (`a and b and c` is one [`Filter::And`] of three), so long chains
//! of conditions are a flat list, never a deep tree; parentheses in the source survive as
//! nesting (`(a and b) and c` is an `And` inside an `And`), so printing and reparsing gives
//! back the same tree. [`Query`]'s `Display` prints that canonical text: one spelling per
//! operator, strings always double-quoted, clauses in a fixed order.

use std::fmt::{self, Display, Formatter, Write};

/// One query: `select <projections> from <entity_type> where <filter> order by … offset … limit …`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The attributes to load, in the order written. Empty when the query has no `select`
    /// (`Task where …`, `Project`), or the `select` list was empty (`select from Task`, what
    /// the Python client sends for a type without default projections): the server then uses
    /// the type's default projections.
    pub projections: Vec<Path>,
    /// The entity type queried, as written (`Task`, `TypedContext`).
    pub entity_type: String,
    /// The `where` clause, if any.
    pub filter: Option<Filter>,
    /// The `order by` keys, most significant first.
    pub order_by: Vec<(Path, Direction)>,
    /// The `offset` clause, if any.
    pub offset: Option<u64>,
    /// The `limit` clause, if any.
    pub limit: Option<u64>,
}

impl Query {
    /// A query of every entity of `entity_type`, with no clauses (what `Project` parses to).
    pub fn new(entity_type: impl Into<String>) -> Self {
        Query {
            projections: Vec::new(),
            entity_type: entity_type.into(),
            filter: None,
            order_by: Vec::new(),
            offset: None,
            limit: None,
        }
    }
}

/// A dotted attribute path, such as `parent.parent.name` or `assignments.resource.username`:
/// each segment names an attribute of the entity the previous segments lead to.
///
/// Paths produced by the parser have at least one segment, and every segment is an
/// identifier (`[A-Za-z_][A-Za-z0-9_]*`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path {
    /// The attribute names, outermost first.
    pub segments: Vec<String>,
}

impl Path {
    /// A path of the given segments.
    pub fn new<S: Into<String>>(segments: impl IntoIterator<Item = S>) -> Self {
        Path {
            segments: segments.into_iter().map(Into::into).collect(),
        }
    }

    /// The path written `dotted` (`"parent.name"`), split at each `.`; not validated.
    pub fn dotted(dotted: &str) -> Self {
        Path::new(dotted.split('.'))
    }

    /// The first segment: the attribute of the queried (or related) entity itself.
    pub fn first(&self) -> &str {
        self.segments.first().map_or("", String::as_str)
    }
}

impl Display for Path {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (index, segment) in self.segments.iter().enumerate() {
            if index > 0 {
                f.write_char('.')?;
            }
            f.write_str(segment)?;
        }
        Ok(())
    }
}

/// The direction of one `order by` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Smallest first: the default, or `ascending` / `asc`.
    #[default]
    Ascending,
    /// Largest first: `descending` / `desc`.
    Descending,
}

/// A `where` expression.
///
/// Invariant of parsed trees: `And` and `Or` hold at least two operands.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`, for every operator with one value.
    Compare {
        /// The attribute compared (through relations and collections: "any element matches").
        path: Path,
        /// The operator.
        op: CompareOp,
        /// The value compared with.
        value: Value,
    },
    /// `path in (…)`, or `path not_in (…)` when `negated`.
    In {
        /// The attribute tested.
        path: Path,
        /// `not_in` rather than `in`.
        negated: bool,
        /// The values (or the subquery) tested against.
        set: InSet,
    },
    /// `path has (filter)`: the scalar relation `path` is set and its entity matches `filter`;
    /// `has ()` (no filter) only tests that it is set.
    Has {
        /// The relation.
        path: Path,
        /// The condition on the related entity.
        filter: Option<Box<Filter>>,
    },
    /// `path any (filter)`: some entity of the collection `path` matches `filter`; `any ()`
    /// (no filter) tests that the collection is not empty.
    Any {
        /// The collection.
        path: Path,
        /// The condition on its entities.
        filter: Option<Box<Filter>>,
    },
    /// `not filter`.
    Not(Box<Filter>),
    /// All of the operands hold.
    And(Vec<Filter>),
    /// At least one of the operands holds.
    Or(Vec<Filter>),
}

/// The operators that compare an attribute with one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `=`, `is`.
    Eq,
    /// `!=`, `is_not` (also `is not`).
    Ne,
    /// `>`, `after`, `greater_than`.
    Gt,
    /// `<`, `before`, `less_than`.
    Lt,
    /// `>=`.
    Ge,
    /// `<=`.
    Le,
    /// `like` (SQL pattern: `%` any run, `_` any one character).
    Like,
    /// `not_like` (also `not like`).
    NotLike,
}

impl CompareOp {
    /// The canonical spelling, the one [`Display`] prints.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "is",
            CompareOp::Ne => "is_not",
            CompareOp::Gt => ">",
            CompareOp::Lt => "<",
            CompareOp::Ge => ">=",
            CompareOp::Le => "<=",
            CompareOp::Like => "like",
            CompareOp::NotLike => "not_like",
        }
    }
}

/// What `in` / `not_in` test against.
#[derive(Debug, Clone, PartialEq)]
pub enum InSet {
    /// A list of values: `(a, "b", 3)`; may be empty (`()` matches nothing).
    Values(Vec<Value>),
    /// A subquery: `(select id from Task where …)`; its first projection gives the values.
    Subquery(Box<Query>),
}

/// A value on the right of an operator.
///
/// Quoted strings are always [`Value::String`], whatever they hold (`"5"` is text). Bare
/// words are classified, and keep their source text so that the compiler can still compare
/// them as text (`name is 5` against a text column, `id is 00042`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A quoted string (`"…"` or `'…'`), escapes resolved.
    String(String),
    /// A bare integer that fits `i64`: `5`, `-12`, `+3`.
    Integer {
        /// The parsed value.
        value: i64,
        /// The source text.
        text: String,
    },
    /// A bare decimal (`1.5`, `-0.25`), or a bare integer too large for `i64`.
    Decimal {
        /// The parsed value.
        value: f64,
        /// The source text.
        text: String,
    },
    /// A bare `true` or `false`, any case (the Python client writes `True`).
    Bool {
        /// The parsed value.
        value: bool,
        /// The source text.
        text: String,
    },
    /// A bare `none` or `null`, any case (the Python client writes `None`).
    Null {
        /// The source text.
        text: String,
    },
    /// Any other bare word: an unquoted uuid, `active`, `a.b@c.d`, `some_key`.
    Word(String),
}

impl Value {
    /// Classifies a bare word the way the parser does.
    pub fn bare(text: &str) -> Value {
        let text_owned = || text.to_string();
        if text.eq_ignore_ascii_case("none") || text.eq_ignore_ascii_case("null") {
            return Value::Null { text: text_owned() };
        }
        if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false") {
            let value = text.eq_ignore_ascii_case("true");
            return Value::Bool {
                value,
                text: text_owned(),
            };
        }
        let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
        let (whole, fraction) = match digits.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (digits, None),
        };
        let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        let fraction_ok = match fraction {
            Some(fraction) => all_digits(fraction),
            None => true,
        };
        if all_digits(whole) && fraction_ok {
            if fraction.is_none() {
                if let Ok(value) = text.parse::<i64>() {
                    return Value::Integer {
                        value,
                        text: text_owned(),
                    };
                }
            }
            if let Ok(value) = text.parse::<f64>() {
                return Value::Decimal {
                    value,
                    text: text_owned(),
                };
            }
        }
        Value::Word(text_owned())
    }

    /// The value as text: a string's content, or a bare value's source text.
    pub fn text(&self) -> &str {
        match self {
            Value::String(text) | Value::Word(text) => text,
            Value::Integer { text, .. }
            | Value::Decimal { text, .. }
            | Value::Bool { text, .. }
            | Value::Null { text } => text,
        }
    }

    /// Whether the value was quoted in the source.
    pub fn is_quoted(&self) -> bool {
        matches!(self, Value::String(_))
    }
}

impl Display for Value {
    /// A string double-quoted with `\"` and `\\` escaped; a bare value as its source text.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(text) => {
                f.write_char('"')?;
                for c in text.chars() {
                    if c == '"' || c == '\\' {
                        f.write_char('\\')?;
                    }
                    f.write_char(c)?;
                }
                f.write_char('"')
            }
            other => f.write_str(other.text()),
        }
    }
}

impl Display for Query {
    /// The canonical text: `parse` reads it back to an equal `Query` (for every query that
    /// `parse` produced, and every query whose names and bare words are ones it could produce).
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if !self.projections.is_empty() {
            f.write_str("select ")?;
            write_list(f, &self.projections)?;
            f.write_str(" from ")?;
        }
        f.write_str(&self.entity_type)?;
        if let Some(filter) = &self.filter {
            write!(f, " where {filter}")?;
        }
        if !self.order_by.is_empty() {
            f.write_str(" order by ")?;
            for (index, (path, direction)) in self.order_by.iter().enumerate() {
                if index > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{path}")?;
                if *direction == Direction::Descending {
                    f.write_str(" descending")?;
                }
            }
        }
        if let Some(offset) = self.offset {
            write!(f, " offset {offset}")?;
        }
        if let Some(limit) = self.limit {
            write!(f, " limit {limit}")?;
        }
        Ok(())
    }
}

fn write_list<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl Display for Filter {
    /// The canonical text, with parentheses exactly where the tree needs them: around an `or`
    /// inside an `and` or a `not`, around an `and` inside a `not`, and around an operand of
    /// the same kind as its parent (which only parentheses in the source can produce).
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Filter::In { path, negated, set } => {
                let op = if *negated { "not_in" } else { "in" };
                write!(f, "{path} {op} (")?;
                match set {
                    InSet::Values(values) => write_list(f, values)?,
                    InSet::Subquery(query) => {
                        // A subquery always starts with `select`, even without projections,
                        // since that is how the parser tells it from a list of values.
                        if query.projections.is_empty() {
                            f.write_str("select from ")?;
                        }
                        write!(f, "{query}")?;
                    }
                }
                f.write_char(')')
            }
            Filter::Has { path, filter } => write_relation(f, path, "has", filter.as_deref()),
            Filter::Any { path, filter } => write_relation(f, path, "any", filter.as_deref()),
            Filter::Not(inner) => {
                f.write_str("not ")?;
                write_operand(f, inner, matches!(**inner, Filter::And(_) | Filter::Or(_)))
            }
            Filter::And(operands) => write_chain(f, operands, " and ", |operand| {
                matches!(operand, Filter::And(_) | Filter::Or(_))
            }),
            Filter::Or(operands) => write_chain(f, operands, " or ", |operand| {
                matches!(operand, Filter::Or(_))
            }),
        }
    }
}

fn write_relation(
    f: &mut Formatter<'_>,
    path: &Path,
    keyword: &str,
    filter: Option<&Filter>,
) -> fmt::Result {
    write!(f, "{path} {keyword} (")?;
    if let Some(filter) = filter {
        write!(f, "{filter}")?;
    }
    f.write_char(')')
}

fn write_chain(
    f: &mut Formatter<'_>,
    operands: &[Filter],
    separator: &str,
    needs_parentheses: impl Fn(&Filter) -> bool,
) -> fmt::Result {
    for (index, operand) in operands.iter().enumerate() {
        if index > 0 {
            f.write_str(separator)?;
        }
        write_operand(f, operand, needs_parentheses(operand))?;
    }
    Ok(())
}

fn write_operand(f: &mut Formatter<'_>, operand: &Filter, parenthesise: bool) -> fmt::Result {
    if parenthesise {
        write!(f, "({operand})")
    } else {
        write!(f, "{operand}")
    }
}
