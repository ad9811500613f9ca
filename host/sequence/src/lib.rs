//! `connect-sequence`: file sequences found exactly as clique 1.6.1 finds them.
//!
//! Connect's publisher turns a drop of files into components with clique: `render.0001.exr`
//! to `render.0100.exr` become one collection, `/r/render.%04d.exr [1-100]`, which
//! `ftrack_api` stores as a sequence component. What clique decides (which numbers group,
//! which padding, in which order, what is left over) is what studios' existing versions
//! look like, so this crate decides the same, quirks included, and is checked against a
//! corpus the real clique wrote (`tests/data/clique/corpus.json`,
//! `scripts/gen_clique_corpus.py`).
//!
//! * [`assemble`] groups items into [`Collection`]s and a remainder ([`Options`]: patterns,
//!   minimum items, case, padding when ambiguous);
//! * [`Collection`] formats (`{head}{padding}{tail} [{ranges}]`, `{holes}`, ...), holds
//!   ([`Collection::contains`]) and lists its items;
//! * [`parse`] reads a formatted collection back.
//!
//! Paths in, collections out: no I/O. Regular expressions are Rust's (`regex`), which for
//! clique's patterns behave as Python's: `\d` is any Unicode decimal digit (read as Python's
//! `int` reads it), `$` also matches before a final newline in the built-in patterns.
//!
//! ```
//! use connect_sequence::{assemble, parse, Options, DEFAULT_FORMAT};
//!
//! let files = [
//!     "/r/shot.0001.exr",
//!     "/r/shot.0002.exr",
//!     "/r/shot.0003.exr",
//!     "/r/notes.txt",
//! ];
//! let assembly = assemble(files, &Options::default())?;
//! assert_eq!(
//!     assembly.collections[0].to_string(),
//!     "/r/shot.%04d.exr [1-3]"
//! );
//! assert_eq!(assembly.remainder, ["/r/notes.txt"]);
//!
//! // And back: the collection `ftrack_api` stores, read as clique reads it.
//! let collection = parse("/r/shot.%04d.exr [1-3]", DEFAULT_FORMAT)?;
//! assert!(collection.contains("/r/shot.0002.exr"));
//! # Ok::<(), connect_sequence::SequenceError>(())
//! ```

#![deny(missing_docs)]

mod assemble;
mod collection;
mod format;
mod index;

pub use assemble::{assemble, Assembly, Options, Pattern, DIGITS, FRAMES, VERSIONS};
pub use collection::{parse, Collection, DEFAULT_FORMAT, MAX_SPELLED_OUT};
pub use index::Index;

/// What went wrong, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    /// A pattern for [`assemble`] that is not one.
    #[error("pattern {pattern:?}: {reason}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// Why.
        reason: String,
    },
    /// A format (`{head}{padding}{tail}`) that is not one.
    #[error("format {pattern:?}: {reason}")]
    Format {
        /// The format as given.
        pattern: String,
        /// Why.
        reason: String,
    },
    /// [`parse`]: the value is not written by the format (a plain path, not a collection).
    #[error("{value:?} is not written as {pattern:?}")]
    NoMatch {
        /// The value.
        value: String,
        /// The format.
        pattern: String,
    },
    /// [`parse`]: a range or index that is not a number (`1--3`, an empty part).
    #[error("{value:?}: {text:?} is not a number")]
    NotANumber {
        /// The value.
        value: String,
        /// The part that is not a number.
        text: String,
    },
    /// [`parse`]: a hole that is not among the indexes.
    #[error("{value:?}: the hole {index} is not in the collection")]
    NotInCollection {
        /// The value.
        value: String,
        /// The hole.
        index: String,
    },
    /// More indexes than [`MAX_SPELLED_OUT`] to write out.
    #[error("more than {limit} indexes to spell out")]
    TooMany {
        /// The limit.
        limit: usize,
    },
}
