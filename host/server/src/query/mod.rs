//! ftrack's query language: text in, a typed [`Query`] out, or a [`QueryError`] saying where
//! parsing stopped.
//!
//! ftrack's clients do not build queries with a grammar: the Python API and Connect format
//! strings, and the server is the only parser. So this one is written against what the
//! clients actually send (docs/ftrack-server-protocol.md, section 4), odd spacing included:
//! `(parent_id is "X"and key is "k1")`, `id in (a,b)`, `username="u"`, `id=<uuid>`,
//! unquoted uuids, `None` and `True` as Python prints them, `offset N limit M` appended after
//! an `order by`. It knows nothing about the schema: the compiler (a later step) resolves
//! paths and types, which is why bare values keep their source text.
//!
//! # Grammar
//!
//! ```text
//! query      = [ "select" [ path { "," path } ] "from" ] TYPE
//!              [ "where" filter ] { "order" "by" order { "," order } | "offset" N | "limit" N }
//! order      = path [ "ascending" | "asc" | "descending" | "desc" ]
//! filter     = conjunction { "or" conjunction }
//! conjunction= unary { "and" unary }
//! unary      = "not" unary | "(" filter ")" | condition
//! condition  = path compare value
//!            | path ( "in" | "not_in" | "not" "in" ) "(" ( [ value { "," value } ] | query ) ")"
//!            | path ( "has" | "any" ) "(" [ filter ] ")"
//! compare    = "=" | "is" | "!=" | "is_not" | ">" | "after" | "greater_than"
//!            | "<" | "before" | "less_than" | ">=" | "<=" | "like" | "not_like" | "not" "like"
//! value      = STRING | WORD
//! path       = WORD made of identifiers joined by "."
//! ```
//!
//! Keywords are case-insensitive; `order by`, `offset` and `limit` may come in any order,
//! each at most once. A subquery (`id in (select id from Task where …)`) is a full query.
//!
//! # Layout
//!
//! - `lex`: text to tokens (where the spacing tolerances live);
//! - `parse`: tokens to the tree, by recursive descent;
//! - `ast`: the tree, and its canonical text (`Display`), which parses back to an equal tree;
//! - `error`: [`QueryError`], with a column and an excerpt.
//!
//! Nesting (parentheses, `not`, `has`, `any`, subqueries) is limited to [`MAX_DEPTH`] levels,
//! so no input can overflow the stack; nothing else is limited. No input panics: the
//! property tests in `fuzz` feed the parser random text and random token soup.

mod ast;
mod error;
mod lex;
mod parse;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_errors;

pub use ast::{CompareOp, Direction, Filter, InSet, Path, Query, Value};
pub use error::QueryError;

/// How deeply parentheses, `not`, `has`, `any` and subqueries may nest. The clients' own
/// queries nest two or three levels; 64 leaves room for any hand-written query while keeping
/// the parser's recursion (a few small frames per level) far from the stack's limit.
pub const MAX_DEPTH: usize = 64;

/// Parses one query.
///
/// ```
/// use connect_server::query::{parse, Filter};
///
/// let query = parse("select name from Task where id is 3f2a9e1c limit 1").unwrap();
/// assert_eq!(query.entity_type, "Task");
/// assert_eq!(query.limit, Some(1));
/// assert!(matches!(query.filter, Some(Filter::Compare { .. })));
/// ```
pub fn parse(text: &str) -> Result<Query, QueryError> {
    parse::Parser::new(text).parse()
}
