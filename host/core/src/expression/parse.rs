//! Parsing expression text into an [`Expression`], exactly as ftrack_api 3.1.0's parser reads
//! it, with errors that say at which column what was expected.

use super::*;

/// Whether `value` inside `quote`s reads back as exactly `value`.
pub(super) fn quotes_cleanly(value: &str, quote: char) -> bool {
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
pub(super) fn is_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_,./*@+".contains(c)
}

/// Characters of a key.
pub(super) fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Characters that may not follow (or precede) a keyword. These are pyparsing's keyword
/// characters, compared after upper-casing, which adds dotless `ı` and long `ſ`.
pub(super) fn is_keyword_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '\u{131}' | '\u{17f}')
}

/// Whitespace between tokens (after tab expansion, tabs are spaces already).
pub(super) fn is_token_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Python's `str.isspace`, which ftrack's `strip()` uses on the whole expression.
pub(super) fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Where a quoted value stopped being valid.
pub(super) enum QuoteStop {
    /// At this index, where a closing quote was expected.
    Unclosed(usize),
    /// At this index, after `\x`, where a hex digit was expected.
    BadHexEscape(usize),
}

/// Scans the quoted value whose opening quote is at `start`; returns the index of its
/// closing quote. Inside: any character but the quote, a line break or a backslash; a
/// doubled quote; a backslash and any character but `x`; or `\x` and hex digits.
pub(super) fn scan_quoted(chars: &[char], start: usize) -> Result<usize, QuoteStop> {
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
pub(super) struct Failure {
    at: usize,
    expected: String,
}

type Parsed = Result<Expression, Failure>;

/// Recursive-descent parser over the stripped, tab-expanded characters of the expression.
pub(super) struct Parser {
    chars: Vec<char>,
    /// The 1-based column in the original text of each character, and of the end.
    columns: Vec<usize>,
    pos: usize,
    depth: usize,
}

impl Parser {
    /// Strips Python whitespace from both ends and expands tabs, as ftrack (and pyparsing)
    /// do before parsing, remembering where each character came from.
    pub(super) fn new(text: &str) -> Parser {
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

    pub(super) fn parse_all(mut self) -> Result<Expression, ExpressionError> {
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
