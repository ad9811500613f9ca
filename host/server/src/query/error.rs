//! Why a query was refused, and where.
//!
//! The error is for people reading a server log or a client's exception: it says what the
//! parser expected, names what it found, and points at a 1-based character column with a
//! short excerpt of the query there, all on one line whatever the query holds (control
//! characters, newlines and other white space in excerpts are shown as spaces).

use std::fmt::{self, Display, Formatter};

/// How many characters of the query the excerpt shows.
const EXCERPT_CHARS: usize = 24;

/// A query that could not be parsed: what was expected, and the column where parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    message: String,
    column: usize,
    excerpt: String,
}

impl QueryError {
    /// An error `message` at byte offset `byte` (1-based character `column`) of `text`.
    pub(crate) fn new(message: String, text: &str, byte: usize, column: usize) -> Self {
        let rest = text.get(byte..).unwrap_or("");
        let mut excerpt: String = rest
            .chars()
            .take(EXCERPT_CHARS)
            .map(|c| {
                if c.is_control() || c.is_whitespace() {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        if rest.chars().nth(EXCERPT_CHARS).is_some() {
            excerpt.push('…');
        }
        QueryError {
            message,
            column,
            excerpt,
        }
    }

    /// What went wrong, without the position: `expected an operator after 'name', found …`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The 1-based column, in characters, where parsing stopped (one past the last character
    /// when the query ended too soon).
    pub fn column(&self) -> usize {
        self.column
    }

    /// Up to the first 24 characters of the query from the column on (empty at its end).
    pub fn excerpt(&self) -> &str {
        &self.excerpt
    }
}

impl Display for QueryError {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} at column {}", self.message, self.column)?;
        // At the end of the query there is nothing to show (the message says so).
        if !self.excerpt.is_empty() {
            write!(f, ": {}", self.excerpt)?;
        }
        Ok(())
    }
}

impl std::error::Error for QueryError {}

/// `text` quoted for a message: at most 32 characters, on one line.
pub(crate) fn quote(text: &str) -> String {
    let mut quoted: String = text
        .chars()
        .take(32)
        .map(|c| {
            if c.is_control() || c.is_whitespace() {
                ' '
            } else {
                c
            }
        })
        .collect();
    if text.chars().nth(32).is_some() {
        quoted.push('…');
    }
    format!("'{quoted}'")
}
