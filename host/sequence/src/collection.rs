//! A [`Collection`]: items that differ only by a number, as clique's `Collection` is, with
//! its formats (`{head}{padding}{tail} [{ranges}]`), membership, iteration and [`parse`].

use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex::Regex;

use crate::format::{pieces, Piece};
use crate::index::Index;
use crate::SequenceError;

/// clique's default format: `/r/f.%04d.exr [1-3, 5]`.
pub const DEFAULT_FORMAT: &str = "{head}{padding}{tail} [{ranges}]";

/// The most indexes [`parse`] or [`Collection::holes`] will spell out: a range written as
/// `[1-99999999999]` is refused rather than filling the memory (clique would try).
pub const MAX_SPELLED_OUT: usize = 10_000_000;

/// Items `head` + number + `tail`, the number written with `padding` digits (zeros in
/// front), or as it is when `padding` is 0.
#[derive(Debug, Clone)]
pub struct Collection {
    head: String,
    tail: String,
    /// 0: unpadded.
    pub padding: usize,
    /// The numbers, ascending.
    pub indexes: BTreeSet<Index>,
    /// `^head(?P<index>(?P<padding>0*)\d+?)tail$`, made when first needed.
    expression: OnceLock<Regex>,
}

impl PartialEq for Collection {
    fn eq(&self, other: &Collection) -> bool {
        self.head == other.head
            && self.tail == other.tail
            && self.padding == other.padding
            && self.indexes == other.indexes
    }
}

impl Eq for Collection {}

impl Collection {
    /// A collection of `indexes`.
    pub fn new(
        head: impl Into<String>,
        tail: impl Into<String>,
        padding: usize,
        indexes: impl IntoIterator<Item = Index>,
    ) -> Collection {
        Collection {
            head: head.into(),
            tail: tail.into(),
            padding,
            indexes: indexes.into_iter().collect(),
            expression: OnceLock::new(),
        }
    }

    /// What comes before the number.
    pub fn head(&self) -> &str {
        &self.head
    }

    /// What comes after it.
    pub fn tail(&self) -> &str {
        &self.tail
    }

    /// The item for `index`: head, the number padded, tail.
    pub fn item(&self, index: &Index) -> String {
        format!("{}{}{}", self.head, index.padded(self.padding), self.tail)
    }

    /// Every item, in index order.
    pub fn members(&self) -> impl Iterator<Item = String> + '_ {
        self.indexes.iter().map(|index| self.item(index))
    }

    /// The number `item` has as one of this collection's items, whether or not the
    /// collection holds it (clique's `match`): `head`, then digits padded as this collection
    /// pads, then `tail`, and nothing else. `None` if `item` has another shape.
    pub fn number_of(&self, item: &str) -> Option<Index> {
        let expression = self.expression.get_or_init(|| {
            // Python's `$` also matches before a final newline.
            Regex::new(&format!(
                r"^{}(?P<index>(?P<padding>0*)\d+?){}\n?\z",
                regex::escape(&self.head),
                regex::escape(&self.tail)
            ))
            .expect("escaped text makes a valid expression")
        });
        let captures = expression.captures(item)?;
        let index = captures.name("index")?.as_str();
        let padded = !captures.name("padding")?.as_str().is_empty();
        if self.padding == 0 {
            if padded {
                return None;
            }
        } else if index.chars().count() != self.padding {
            return None;
        }
        Index::parse(index)
    }

    /// Whether `item` is one of its items (clique's `in`).
    pub fn contains(&self, item: &str) -> bool {
        self.number_of(item)
            .is_some_and(|index| self.indexes.contains(&index))
    }

    /// Whether its indexes have no gap.
    pub fn is_contiguous(&self) -> bool {
        self.runs().len() <= 1
    }

    /// Its indexes as runs of consecutive numbers: (first, last) of each.
    fn runs(&self) -> Vec<(&Index, &Index)> {
        let mut runs: Vec<(&Index, &Index)> = Vec::new();
        let mut expected: Option<Index> = None;
        for index in &self.indexes {
            match (runs.last_mut(), &expected) {
                (Some(run), Some(next)) if next == index => run.1 = index,
                _ => runs.push((index, index)),
            }
            expected = Some(index.next());
        }
        runs
    }

    /// The gaps between its indexes, as (first, last) missing number of each.
    fn gaps(&self) -> Vec<(Index, Index)> {
        let runs = self.runs();
        runs.windows(2)
            .map(|pair| {
                let first = pair[0].1.next();
                let last = pair[1]
                    .0
                    .prev()
                    .expect("a run after another starts above 0");
                (first, last)
            })
            .collect()
    }

    /// The collection of the missing indexes (clique's `holes()`): an error past
    /// [`MAX_SPELLED_OUT`] of them.
    pub fn holes(&self) -> Result<Collection, SequenceError> {
        let mut missing = BTreeSet::new();
        for (first, last) in self.gaps() {
            spell_out(&first, &last, &mut missing)?;
        }
        Ok(Collection::new(
            self.head.clone(),
            self.tail.clone(),
            self.padding,
            missing,
        ))
    }

    /// One collection per run of consecutive indexes (clique's `separate()`); one empty
    /// collection when it has none.
    pub fn separate(&self) -> Vec<Collection> {
        let runs = self.runs();
        if runs.is_empty() {
            return vec![Collection::new(
                self.head.clone(),
                self.tail.clone(),
                self.padding,
                [],
            )];
        }
        runs.into_iter()
            .map(|(first, last)| {
                let mut indexes = BTreeSet::new();
                spell_out(first, last, &mut indexes).expect("a run of indexes it holds");
                Collection::new(self.head.clone(), self.tail.clone(), self.padding, indexes)
            })
            .collect()
    }

    /// Written by `pattern`, as clique's `format`: `{head}`, `{tail}`, `{padding}` (`%04d`,
    /// `%d`), `{range}` (`1-10`, `7` or nothing), `{ranges}` (`1-3, 5, 7-9`), `{holes}` (the
    /// missing ones, as ranges).
    pub fn format(&self, pattern: &str) -> Result<String, SequenceError> {
        let mut out = String::new();
        for piece in pieces(pattern)? {
            match piece {
                Piece::Text(text) => out.push_str(&text),
                Piece::Field("head") => out.push_str(&self.head),
                Piece::Field("tail") => out.push_str(&self.tail),
                Piece::Field("padding") => match self.padding {
                    0 => out.push_str("%d"),
                    width => out.push_str(&format!("%0{width}d")),
                },
                Piece::Field("range") => out.push_str(&self.range()),
                Piece::Field("ranges") => out.push_str(&written(&self.runs())),
                Piece::Field("holes") => {
                    let gaps = self.gaps();
                    let gaps: Vec<(&Index, &Index)> = gaps.iter().map(|(a, b)| (a, b)).collect();
                    out.push_str(&written(&gaps));
                }
                Piece::Field(other) => {
                    return Err(SequenceError::Format {
                        pattern: pattern.to_string(),
                        reason: format!("no field {{{other}}}"),
                    })
                }
            }
        }
        Ok(out)
    }

    /// `first-last`, the one index, or nothing.
    fn range(&self) -> String {
        match (self.indexes.first(), self.indexes.last()) {
            (Some(first), Some(last)) if first == last => first.to_string(),
            (Some(first), Some(last)) => format!("{first}-{last}"),
            _ => String::new(),
        }
    }
}

impl std::fmt::Display for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            &self
                .format(DEFAULT_FORMAT)
                .expect("the default format is valid"),
        )
    }
}

/// Runs written as clique writes them: `1-3, 5, 7-9`.
fn written(runs: &[(&Index, &Index)]) -> String {
    let parts: Vec<String> = runs
        .iter()
        .map(|(first, last)| {
            if first == last {
                first.to_string()
            } else {
                format!("{first}-{last}")
            }
        })
        .collect();
    parts.join(", ")
}

/// Adds `first..=last` to `into`, refusing more than [`MAX_SPELLED_OUT`] in all.
fn spell_out(first: &Index, last: &Index, into: &mut BTreeSet<Index>) -> Result<(), SequenceError> {
    let mut index = first.clone();
    while index <= *last {
        if into.len() >= MAX_SPELLED_OUT {
            return Err(SequenceError::TooMany {
                limit: MAX_SPELLED_OUT,
            });
        }
        let next = index.next();
        into.insert(index);
        index = next;
    }
    Ok(())
}

/// Reads a collection written by `pattern` (clique's `parse`; its default is
/// [`DEFAULT_FORMAT`]): `/r/f.%04d.exr [1-3, 5]`. A value that does not match (a plain
/// path, as ftrack_api tells a file from a sequence) is [`SequenceError::NoMatch`].
pub fn parse(value: &str, pattern: &str) -> Result<Collection, SequenceError> {
    const FIELDS: [(&str, &str); 6] = [
        ("head", r"(?P<head>.*)"),
        ("tail", r"(?P<tail>.*)"),
        ("padding", r"%(?P<padding>\d*)d"),
        ("range", r"(?P<range>\d+-\d+)?"),
        ("ranges", r"(?P<ranges>[\d ,\-]+)?"),
        ("holes", r"(?P<holes>[\d ,\-]+)"),
    ];
    // As clique does: the pattern escaped, then each `{field}` in it replaced.
    let mut expression = String::from("^");
    let mut rest = pattern;
    while !rest.is_empty() {
        let next = FIELDS
            .iter()
            .filter_map(|(name, regex)| {
                let token = format!("{{{name}}}");
                rest.find(&token).map(|at| (at, token.len(), *regex))
            })
            .min_by_key(|(at, _, _)| *at);
        match next {
            Some((at, length, regex)) => {
                expression.push_str(&regex::escape(&rest[..at]));
                expression.push_str(regex);
                rest = &rest[at + length..];
            }
            None => {
                expression.push_str(&regex::escape(rest));
                rest = "";
            }
        }
    }
    expression.push_str(r"\n?\z");
    let expression = Regex::new(&expression).map_err(|e| SequenceError::Format {
        pattern: pattern.to_string(),
        reason: e.to_string(),
    })?;
    let no_match = || SequenceError::NoMatch {
        value: value.to_string(),
        pattern: pattern.to_string(),
    };
    let captures = expression.captures(value).ok_or_else(no_match)?;
    let text = |name: &str| captures.name(name).map(|m| m.as_str());
    let padding = match text("padding") {
        None | Some("") => 0,
        Some(digits) => Index::parse(digits)
            .and_then(|index| index.to_string().parse().ok())
            .ok_or_else(no_match)?,
    };
    let mut collection = Collection::new(
        text("head").unwrap_or(""),
        text("tail").unwrap_or(""),
        padding,
        [],
    );
    if let Some(range) = text("range") {
        let (first, last) = range.split_once('-').ok_or_else(no_match)?;
        let (first, last) = (integer(first, value)?, integer(last, value)?);
        spell_out(&first, &last, &mut collection.indexes)?;
    }
    if let Some(ranges) = text("ranges") {
        for (first, last) in listed(ranges, value)? {
            spell_out(&first, &last, &mut collection.indexes)?;
        }
    }
    if expression.capture_names().flatten().any(|n| n == "holes") {
        let mut holes = BTreeSet::new();
        for (first, last) in listed(text("holes").unwrap_or(""), value)? {
            spell_out(&first, &last, &mut holes)?;
        }
        for hole in holes {
            if !collection.indexes.remove(&hole) {
                return Err(SequenceError::NotInCollection {
                    value: value.to_string(),
                    index: hole.to_string(),
                });
            }
        }
    }
    Ok(collection)
}

/// `1-3, 5` as (first, last) pairs, as clique reads them: each comma-separated part split
/// on `-` at most twice, the first two numbers a range (a third is ignored), one a single
/// index; anything else is not a number.
fn listed(text: &str, value: &str) -> Result<Vec<(Index, Index)>, SequenceError> {
    text.split(',')
        .map(|part| {
            let numbers: Vec<&str> = part.trim().splitn(3, '-').collect();
            let first = integer(numbers[0], value)?;
            let last = match numbers.get(1) {
                Some(last) => integer(last, value)?,
                None => first.clone(),
            };
            Ok((first, last))
        })
        .collect()
}

/// Python's `int` of text: digits, white space around them allowed.
fn integer(text: &str, value: &str) -> Result<Index, SequenceError> {
    Index::parse(text.trim()).ok_or_else(|| SequenceError::NotANumber {
        value: value.to_string(),
        text: text.to_string(),
    })
}
