//! The parser: tokens to a [`Query`], by recursive descent.
//!
//! One function per rule of the grammar (see the module above), each reading from the current
//! token. Keywords are not reserved by the tokenizer: a word is a keyword only where the
//! grammar expects one, so attributes may be called `from` or `limit`, and any word can be a
//! bare value. The few places where a keyword and a name could both fit are settled by
//! looking one token ahead:
//!
//! - `select from T` is an empty projection list (what the Python client sends for a type
//!   without default projections), but `select from from T` and `select from, to from T`
//!   project the attribute `from`;
//! - `in (select …)` is a subquery, but `in (select)` and `in (select, x)` list the word;
//! - `not` starts a negation where a condition may start, and is the first half of
//!   `not in` / `not like` after a path.
//!
//! Every rule that recurses (parentheses, `not`, `has`, `any`, subqueries) goes through
//! `Parser::enter`, which refuses to go deeper than `MAX_DEPTH`: hostile input gets an error,
//! not a stack overflow. The work that does not recurse (projections, clauses, operators,
//! value lists, error messages) is kept out of line, so that a level costs the stack about
//! 1 to 2 KiB in a release build (5 to 10 KiB in a debug build). Lists (`and`/`or` chains,
//! projections, values) are loops, so their length is limited only by the input.

use super::ast::{CompareOp, Direction, Filter, InSet, Path, Query, Value};
use super::error::{quote, QueryError};
use super::lex::{tokenize, Tok, Token};
use super::MAX_DEPTH;

/// Words that cannot name an entity type, since they would make the query ambiguous.
const RESERVED: &[&str] = &[
    "select", "from", "where", "and", "or", "not", "order", "by", "offset", "limit",
];

/// What must follow a query: the end of the text, or the `)` closing a subquery.
#[derive(Clone, Copy, PartialEq)]
enum Terminator {
    End,
    Close,
}

/// The clause a query's parse ended with, for the "expected …" message after it.
#[derive(Clone, Copy, PartialEq)]
enum Last {
    EntityType,
    Filter,
    OrderBy { direction_given: bool },
    OffsetOrLimit,
}

/// What follows a condition's path.
enum Operator {
    Compare(CompareOp),
    In { negated: bool },
    Relation { any: bool },
}

/// The parser's state: the tokens and the position of the current one.
pub(crate) struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    position: usize,
}

impl<'a> Parser<'a> {
    /// A parser of `text`, at its first token.
    pub(crate) fn new(text: &'a str) -> Self {
        Parser {
            text,
            tokens: tokenize(text),
            position: 0,
        }
    }

    /// Parses the whole text as one query.
    pub(crate) fn parse(mut self) -> Result<Query, QueryError> {
        self.query(0, Terminator::End)
    }

    // ----- Token access -------------------------------------------------------------------

    /// The token `ahead` places after the current one (the last token past the end).
    fn peek_at(&self, ahead: usize) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.position + ahead).min(last)]
    }

    fn current(&self) -> &Token {
        self.peek_at(0)
    }

    /// Moves to the next token; stays on the last one (`End` or `Bad`).
    fn advance(&mut self) {
        if self.position + 1 < self.tokens.len() {
            self.position += 1;
        }
    }

    /// Whether the token `ahead` places on is the word `keyword` (any case).
    fn keyword_at(&self, ahead: usize, keyword: &str) -> bool {
        matches!(&self.peek_at(ahead).tok, Tok::Word(word) if word.eq_ignore_ascii_case(keyword))
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        self.keyword_at(0, keyword)
    }

    fn at(&self, tok: &Tok) -> bool {
        self.current().tok == *tok
    }

    /// An error at the current token: "`expected` after <previous>, found <current>", or the
    /// tokenizer's complaint if the current token is one.
    #[cold]
    #[inline(never)]
    fn error(&self, expected: &str) -> QueryError {
        let token = self.current();
        let message = match &token.tok {
            Tok::Bad(why) => why.clone(),
            found => {
                let mut message = expected.to_string();
                if self.position > 0 {
                    message.push_str(" after ");
                    message.push_str(&describe(&self.tokens[self.position - 1].tok));
                }
                message.push_str(", found ");
                message.push_str(&describe(found));
                message
            }
        };
        self.error_at(token, message)
    }

    #[cold]
    #[inline(never)]
    fn error_at(&self, token: &Token, message: String) -> QueryError {
        QueryError::new(message, self.text, token.byte, token.column)
    }

    /// Consumes the current token if it is `tok`, or fails with `expected`.
    fn expect(&mut self, tok: &Tok, expected: &str) -> Result<(), QueryError> {
        if self.at(tok) {
            self.advance();
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    /// One nesting level deeper than `depth`, opened by the current token; fails past
    /// [`MAX_DEPTH`].
    fn enter(&self, depth: usize) -> Result<usize, QueryError> {
        if depth >= MAX_DEPTH {
            return Err(self.too_deep());
        }
        Ok(depth + 1)
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&self) -> QueryError {
        let message = format!(
            "nested too deeply: more than {MAX_DEPTH} levels of parentheses, 'not', 'has', \
             'any' and subqueries"
        );
        self.error_at(self.current(), message)
    }

    // ----- Query --------------------------------------------------------------------------

    /// `[select <paths> from] <Type> [where <filter>] {order by … | offset N | limit N}`,
    /// followed by `terminator` (which is left for the caller).
    ///
    /// Only the `where` clause recurses, so everything else is in helpers kept out of line:
    /// the frames of the recursive functions stay small (see `MAX_DEPTH`).
    fn query(&mut self, depth: usize, terminator: Terminator) -> Result<Query, QueryError> {
        let projections = self.projections()?;
        let entity_type = self.entity_type(projections.is_some())?;
        let mut query = Query::new(entity_type);
        query.projections = projections.unwrap_or_default();
        let mut last = Last::EntityType;
        if self.at_keyword("where") {
            self.advance();
            query.filter = Some(self.filter(depth)?);
            last = Last::Filter;
        }
        self.clauses(&mut query, last, terminator)?;
        Ok(query)
    }

    /// `select <paths> from`, if there: `None` without `select`.
    #[inline(never)]
    fn projections(&mut self) -> Result<Option<Vec<Path>>, QueryError> {
        if !self.at_keyword("select") {
            return Ok(None);
        }
        self.advance();
        let mut projections = Vec::new();
        let empty_list = self.at_keyword("from")
            && matches!(&self.peek_at(1).tok, Tok::Word(word) if !word.eq_ignore_ascii_case("from"));
        if !empty_list {
            loop {
                projections.push(self.path("an attribute path to select")?);
                if !self.at(&Tok::Comma) {
                    break;
                }
                self.advance();
            }
        }
        if !self.at_keyword("from") {
            return Err(self.error("expected ',' or 'from'"));
        }
        self.advance();
        Ok(Some(projections))
    }

    /// `order by`, `offset` and `limit` in any order, then `terminator`; `last` is the clause
    /// before them.
    #[inline(never)]
    fn clauses(
        &mut self,
        query: &mut Query,
        mut last: Last,
        terminator: Terminator,
    ) -> Result<(), QueryError> {
        let mut seen_order_by = false;
        loop {
            let clause = self.current().clone();
            if self.at_keyword("order") {
                if seen_order_by {
                    return Err(self.error_at(&clause, "'order by' given twice".into()));
                }
                seen_order_by = true;
                self.advance();
                if !self.at_keyword("by") {
                    return Err(self.error("expected 'by'"));
                }
                self.advance();
                loop {
                    let path = self.path("an attribute path to order by")?;
                    let direction = self.direction();
                    last = Last::OrderBy {
                        direction_given: direction.is_some(),
                    };
                    query.order_by.push((path, direction.unwrap_or_default()));
                    if !self.at(&Tok::Comma) {
                        break;
                    }
                    self.advance();
                }
            } else if self.at_keyword("offset") || self.at_keyword("limit") {
                let is_offset = self.at_keyword("offset");
                let slot = if is_offset {
                    &mut query.offset
                } else {
                    &mut query.limit
                };
                if slot.is_some() {
                    let name = if is_offset { "offset" } else { "limit" };
                    return Err(self.error_at(&clause, format!("'{name}' given twice")));
                }
                self.advance();
                let count = match &self.current().tok {
                    Tok::Word(word) if word.bytes().all(|b| b.is_ascii_digit()) => {
                        word.parse::<u64>().ok()
                    }
                    _ => None,
                };
                let Some(count) = count else {
                    return Err(self.error("expected a whole number from 0 to 2^64-1"));
                };
                *slot = Some(count);
                self.advance();
                last = Last::OffsetOrLimit;
            } else {
                break;
            }
        }
        let done = match terminator {
            Terminator::End => self.at(&Tok::End),
            Terminator::Close => self.at(&Tok::Close),
        };
        if done {
            return Ok(());
        }
        let mut expected: Vec<&str> = Vec::new();
        match last {
            Last::EntityType => expected.push("'where'"),
            Last::Filter => expected.extend(["'and'", "'or'"]),
            Last::OrderBy { direction_given } => {
                expected.push("','");
                if !direction_given {
                    expected.push("'ascending', 'descending'");
                }
            }
            Last::OffsetOrLimit => {}
        }
        if !seen_order_by {
            expected.push("'order by'");
        }
        if query.offset.is_none() {
            expected.push("'offset'");
        }
        if query.limit.is_none() {
            expected.push("'limit'");
        }
        let end = match terminator {
            Terminator::End => "the end of the query",
            Terminator::Close => "')' to close the subquery",
        };
        Err(self.error(&format!("expected {} or {end}", expected.join(", "))))
    }

    /// The entity type after `from` (or first, without `select`).
    fn entity_type(&mut self, selected: bool) -> Result<String, QueryError> {
        let expected = if selected || self.position > 0 {
            "expected an entity type"
        } else {
            "expected 'select' or an entity type"
        };
        match &self.current().tok {
            Tok::Word(word)
                if is_identifier(word)
                    && !RESERVED.iter().any(|r| word.eq_ignore_ascii_case(r)) =>
            {
                let word = word.clone();
                self.advance();
                Ok(word)
            }
            _ => Err(self.error(expected)),
        }
    }

    /// An optional `ascending` / `asc` / `descending` / `desc`.
    fn direction(&mut self) -> Option<Direction> {
        let direction = if self.at_keyword("ascending") || self.at_keyword("asc") {
            Direction::Ascending
        } else if self.at_keyword("descending") || self.at_keyword("desc") {
            Direction::Descending
        } else {
            return None;
        };
        self.advance();
        Some(direction)
    }

    /// A dotted attribute path: one word whose `.`-separated parts are identifiers.
    fn path(&mut self, what: &str) -> Result<Path, QueryError> {
        match &self.current().tok {
            Tok::Word(word) if word.split('.').all(is_identifier) => {
                let path = Path::dotted(word);
                self.advance();
                Ok(path)
            }
            _ => Err(self.error(&format!("expected {what}"))),
        }
    }

    // ----- Filter -------------------------------------------------------------------------

    /// `conjunction {or conjunction}`: `or` binds loosest.
    fn filter(&mut self, depth: usize) -> Result<Filter, QueryError> {
        let first = self.conjunction(depth)?;
        if !self.at_keyword("or") {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.at_keyword("or") {
            self.advance();
            operands.push(self.conjunction(depth)?);
        }
        Ok(Filter::Or(operands))
    }

    /// `unary {and unary}`.
    fn conjunction(&mut self, depth: usize) -> Result<Filter, QueryError> {
        let first = self.unary(depth)?;
        if !self.at_keyword("and") {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.at_keyword("and") {
            self.advance();
            operands.push(self.unary(depth)?);
        }
        Ok(Filter::And(operands))
    }

    /// `not unary | '(' filter ')' | condition`.
    fn unary(&mut self, depth: usize) -> Result<Filter, QueryError> {
        if self.at_keyword("not") {
            let depth = self.enter(depth)?;
            self.advance();
            return Ok(Filter::Not(Box::new(self.unary(depth)?)));
        }
        if self.at(&Tok::Open) {
            let depth = self.enter(depth)?;
            let open = self.current().column;
            self.advance();
            let inner = self.filter(depth)?;
            if !self.at(&Tok::Close) {
                return Err(self.unclosed(open));
            }
            self.advance();
            return Ok(inner);
        }
        self.condition(depth)
    }

    #[cold]
    #[inline(never)]
    fn unclosed(&self, open: usize) -> QueryError {
        self.error(&format!(
            "expected 'and', 'or' or ')' to close the '(' at column {open}"
        ))
    }

    /// `path operator value`, `path [not_]in (…)`, `path has|any (…)`.
    #[inline(never)]
    fn condition(&mut self, depth: usize) -> Result<Filter, QueryError> {
        let path = self.path("a condition (an attribute path, 'not' or '(')")?;
        match self.operator()? {
            Operator::Compare(op) => {
                let value = self.value()?;
                Ok(Filter::Compare { path, op, value })
            }
            Operator::In { negated } => self.in_set(path, negated, depth),
            Operator::Relation { any } => self.relation(path, any, depth),
        }
    }

    /// The operator after a condition's path. A comparison is consumed; `in` and the
    /// relations stop on their last word, which opens their nesting level.
    #[inline(never)]
    fn operator(&mut self) -> Result<Operator, QueryError> {
        let compare = |op| Ok(Operator::Compare(op));
        let operator = match &self.current().tok {
            Tok::Symbol(symbol) => compare(match *symbol {
                "=" => CompareOp::Eq,
                "!=" => CompareOp::Ne,
                ">" => CompareOp::Gt,
                "<" => CompareOp::Lt,
                ">=" => CompareOp::Ge,
                _ => CompareOp::Le,
            }),
            Tok::Word(word) => match word.to_ascii_lowercase().as_str() {
                "is" => compare(CompareOp::Eq),
                "is_not" => compare(CompareOp::Ne),
                "after" | "greater_than" => compare(CompareOp::Gt),
                "before" | "less_than" => compare(CompareOp::Lt),
                "like" => compare(CompareOp::Like),
                "not_like" => compare(CompareOp::NotLike),
                "not" if self.keyword_at(1, "like") => {
                    self.advance();
                    compare(CompareOp::NotLike)
                }
                "in" => return Ok(Operator::In { negated: false }),
                "not_in" => return Ok(Operator::In { negated: true }),
                "not" if self.keyword_at(1, "in") => {
                    self.advance();
                    return Ok(Operator::In { negated: true });
                }
                "has" => return Ok(Operator::Relation { any: false }),
                "any" => return Ok(Operator::Relation { any: true }),
                _ => Err(()),
            },
            _ => Err(()),
        };
        match operator {
            Ok(operator) => {
                self.advance();
                Ok(operator)
            }
            Err(()) => Err(self.error("expected an operator")),
        }
    }

    /// A quoted string or a bare word, classified.
    fn value(&mut self) -> Result<Value, QueryError> {
        let value = match &self.current().tok {
            Tok::Str(text) => Value::String(text.clone()),
            Tok::Word(word) => Value::bare(word),
            _ => return Err(self.error("expected a value")),
        };
        self.advance();
        Ok(value)
    }

    /// The `(…)` after `in` / `not_in` (the current token): values, or a subquery.
    fn in_set(&mut self, path: Path, negated: bool, depth: usize) -> Result<Filter, QueryError> {
        self.advance();
        self.expect(&Tok::Open, "expected '('")?;
        let subquery =
            self.at_keyword("select") && !matches!(self.peek_at(1).tok, Tok::Comma | Tok::Close);
        let set = if subquery {
            let depth = self.enter(depth)?;
            InSet::Subquery(Box::new(self.query(depth, Terminator::Close)?))
        } else {
            InSet::Values(self.values()?)
        };
        self.advance();
        Ok(Filter::In { path, negated, set })
    }

    /// `[value {, value}]` up to the `)`, which is left for the caller.
    #[inline(never)]
    fn values(&mut self) -> Result<Vec<Value>, QueryError> {
        let mut values = Vec::new();
        if !self.at(&Tok::Close) {
            loop {
                values.push(self.value()?);
                if !self.at(&Tok::Comma) {
                    break;
                }
                self.advance();
            }
        }
        if !self.at(&Tok::Close) {
            return Err(self.error("expected ',' or ')'"));
        }
        Ok(values)
    }

    /// The `(…)` after `has` / `any` (the current token).
    fn relation(&mut self, path: Path, any: bool, depth: usize) -> Result<Filter, QueryError> {
        let depth = self.enter(depth)?;
        self.advance();
        self.expect(&Tok::Open, "expected '('")?;
        let filter = if self.at(&Tok::Close) {
            None
        } else {
            Some(Box::new(self.filter(depth)?))
        };
        self.expect(&Tok::Close, "expected 'and', 'or' or ')'")?;
        Ok(if any {
            Filter::Any { path, filter }
        } else {
            Filter::Has { path, filter }
        })
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`: an attribute or entity type name.
fn is_identifier(word: &str) -> bool {
    let mut bytes = word.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A token as a message names it.
fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(word) => quote(word),
        Tok::Str(text) => format!("the string {}", quote(text)),
        Tok::Open => "'('".into(),
        Tok::Close => "')'".into(),
        Tok::Comma => "','".into(),
        Tok::Symbol(symbol) => format!("'{symbol}'"),
        Tok::Bad(_) => "unreadable text".into(),
        Tok::End => "the end of the query".into(),
    }
}
