//! [`assemble`]: items grouped into collections exactly as clique 1.6.1's `assemble` groups
//! them, with its quirks (they are what Connect's publisher shows and ftrack_api stores).
//!
//! The steps, in clique's order:
//!
//! 1. Every match of every pattern in every item gives a key (head, tail, padding), the
//!    padding being the width of a number written with leading zeros, else 0, and the
//!    number is added to the key's collection. Head and tail are lower-cased when matching
//!    ignores case. Items nothing matched are the remainder, in input order.
//! 2. Collections come in the order their key was first seen.
//! 3. An unpadded collection's numbers as wide as a padded collection's padding (same head
//!    and tail) are copied into it; one whose numbers were all copied is dropped, one only
//!    partly copied keeps them all (an item may then be in two collections).
//! 4. Collections with fewer than `minimum_items` numbers are dropped; their items join
//!    the remainder, re-written from the collection (so lower-cased when matching ignores
//!    case), once, unless a kept collection has them.
//! 5. With `assume_padded_when_ambiguous`, a kept unpadded collection whose first and last
//!    numbers are as wide gets that width as padding (`1-3` becomes `%01d`).

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use regex::{Regex, RegexBuilder};

use crate::collection::Collection;
use crate::index::Index;
use crate::SequenceError;

/// clique's `DIGITS_PATTERN`: a number, with its leading zeros as `padding`.
pub const DIGITS: &str = r"(?P<index>(?P<padding>0*)\d+)";

/// clique's `PATTERNS['frames']`: `.0001.` before an extension (`.exr`, `.tar.gz`, `.bgeo.sc`).
pub const FRAMES: &str = r"\.(?P<index>(?P<padding>0*)\d+)\.\D+\d?$";

/// clique's `PATTERNS['versions']`: `v001`.
pub const VERSIONS: &str = r"v(?P<index>(?P<padding>0*)\d+)";

/// What to look for in items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// [`FRAMES`].
    Frames,
    /// [`VERSIONS`].
    Versions,
    /// [`DIGITS`]: every number.
    Digits,
    /// A regular expression with the groups `index` and `padding` (as [`DIGITS`] has them).
    Custom(String),
}

impl Pattern {
    /// `frames`, `versions` or `digits` by name; anything else is a regular expression.
    pub fn named(name: &str) -> Pattern {
        match name {
            "frames" => Pattern::Frames,
            "versions" => Pattern::Versions,
            "digits" => Pattern::Digits,
            other => Pattern::Custom(other.to_string()),
        }
    }

    fn source(&self) -> &str {
        match self {
            Pattern::Frames => FRAMES,
            Pattern::Versions => VERSIONS,
            Pattern::Digits => DIGITS,
            Pattern::Custom(source) => source,
        }
    }

    fn compile(&self, case_sensitive: bool) -> Result<Regex, SequenceError> {
        let source = self.source();
        // Python's `$` also matches before a final newline; Rust's only at the end.
        let translated = match self {
            Pattern::Frames => source.trim_end_matches('$').to_string() + r"\n?\z",
            _ => source.to_string(),
        };
        let regex = RegexBuilder::new(&translated)
            .case_insensitive(!case_sensitive)
            .build()
            .map_err(|e| SequenceError::Pattern {
                pattern: source.to_string(),
                reason: e.to_string(),
            })?;
        let names: Vec<&str> = regex.capture_names().flatten().collect();
        if !names.contains(&"index") || !names.contains(&"padding") {
            return Err(SequenceError::Pattern {
                pattern: source.to_string(),
                reason: "it needs the groups (?P<index>...) and (?P<padding>...), as \
                         (?P<index>(?P<padding>0*)\\d+)"
                    .into(),
            });
        }
        Ok(regex)
    }
}

/// How [`assemble`] groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// What to look for; `None`: every number ([`Pattern::Digits`]). An empty list groups
    /// nothing.
    pub patterns: Option<Vec<Pattern>>,
    /// Collections with fewer numbers are dropped (their items join the remainder).
    pub minimum_items: usize,
    /// Whether `A.0001.exr` and `a.0002.exr` are apart.
    pub case_sensitive: bool,
    /// Whether `1000-1010` is `%04d` (else `%d`, clique's default).
    pub assume_padded_when_ambiguous: bool,
}

impl Default for Options {
    /// clique's defaults: every number, at least 2 items, case-sensitive, unpadded when
    /// ambiguous.
    fn default() -> Options {
        Options {
            patterns: None,
            minimum_items: 2,
            case_sensitive: true,
            assume_padded_when_ambiguous: false,
        }
    }
}

/// What [`assemble`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembly {
    /// The collections, in clique's order.
    pub collections: Vec<Collection>,
    /// The items in no collection, in clique's order.
    pub remainder: Vec<String>,
}

/// A collection being built: its key, and its numbers as found.
struct Building {
    head: String,
    tail: String,
    padding: usize,
    indexes: Vec<Index>,
}

/// Where one match of a pattern is in an item: the index's byte range, and whether it is
/// written with leading zeros (clique's `padding` group matched something).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Found {
    start: usize,
    end: usize,
    padded: bool,
}

/// A compiled pattern. The built-in ones are matched by hand: their regular expressions,
/// searched with captures, were most of `assemble`'s time (a drop of 100,000 paths took
/// 67 ms, a fifth of clique's). `tests/properties.rs` checks each against its expression.
enum Matcher {
    /// [`FRAMES`]: at most one match, found from the end.
    Frames,
    /// [`VERSIONS`]; `V` too when matching ignores case.
    Versions { case_sensitive: bool },
    /// [`DIGITS`]: every run of digits.
    Digits,
    /// Anything else.
    Regex(Regex),
}

impl Matcher {
    fn new(pattern: &Pattern, case_sensitive: bool) -> Result<Matcher, SequenceError> {
        Ok(match pattern {
            Pattern::Frames => Matcher::Frames,
            Pattern::Versions => Matcher::Versions { case_sensitive },
            Pattern::Digits => Matcher::Digits,
            Pattern::Custom(_) => Matcher::Regex(pattern.compile(case_sensitive)?),
        })
    }

    /// Calls `found` for each match in `item`, left to right, as `finditer` would.
    fn each(&self, item: &str, found: &mut dyn FnMut(Found)) {
        match self {
            Matcher::Frames => {
                if let Some(at) = find_frame(item) {
                    found(at);
                }
            }
            Matcher::Versions { case_sensitive } => {
                let mut from = 0;
                while let Some(offset) = item[from..]
                    .find(|c| c == 'v' || (!case_sensitive && c == 'V'))
                    .map(|offset| from + offset)
                {
                    let end = digits_from(item, offset + 1);
                    if end > offset + 1 {
                        found(number(item, offset + 1, end));
                        from = end;
                    } else {
                        from = offset + 1;
                    }
                }
            }
            Matcher::Digits => {
                let mut chars = item.char_indices().peekable();
                while let Some((start, c)) = chars.next() {
                    if !is_digit(c) {
                        continue;
                    }
                    let mut end = start + c.len_utf8();
                    while let Some(&(at, c)) = chars.peek() {
                        if !is_digit(c) {
                            break;
                        }
                        end = at + c.len_utf8();
                        chars.next();
                    }
                    found(number(item, start, end));
                }
            }
            Matcher::Regex(regex) => {
                for captures in regex.captures_iter(item) {
                    if let (Some(index), Some(padding)) =
                        (captures.name("index"), captures.name("padding"))
                    {
                        found(Found {
                            start: index.start(),
                            end: index.end(),
                            padded: !padding.as_str().is_empty(),
                        });
                    }
                }
            }
        }
    }

    fn source(&self) -> &str {
        match self {
            Matcher::Frames => FRAMES,
            Matcher::Versions { .. } => VERSIONS,
            Matcher::Digits => DIGITS,
            Matcher::Regex(regex) => regex.as_str(),
        }
    }
}

/// `\d`, as the expressions (and Python's `re`) read it: any Unicode decimal digit.
fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && crate::index::is_digit(c))
}

/// Where the run of digits starting at byte `from` of `item` ends (`from` if none).
fn digits_from(item: &str, from: usize) -> usize {
    item[from..]
        .char_indices()
        .find(|&(_, c)| !is_digit(c))
        .map_or(item.len(), |(offset, _)| from + offset)
}

/// The digits `item[start..end]` as a match of `(?P<index>(?P<padding>0*)\d+)`: the
/// padding group matches something when the number starts with `0` and has another digit.
fn number(item: &str, start: usize, end: usize) -> Found {
    let digits = &item[start..end];
    Found {
        start,
        end,
        padded: digits.starts_with('0') && digits.chars().nth(1).is_some(),
    }
}

/// [`FRAMES`] (`\.(?P<index>0*\d+)\.\D+\d?$`, `$` as Python's) in `item`, found from
/// the end: the tail after the second dot is non-digits, then at most one digit, then at
/// most a newline. Only one dot can start such a tail after a digit, so there is at most one
/// match, the number between that dot and the dot before it.
fn find_frame(item: &str) -> Option<Found> {
    if let Ok(found) = find_frame_ascii(item.as_bytes()) {
        return found;
    }
    let mut back = item.char_indices().rev().peekable();
    // The optional last digit (before an optional final newline).
    let mut tail_end = item.len();
    match back.peek() {
        Some(&(_, '\n')) => {
            let mut ahead = back.clone();
            ahead.next();
            if let Some((at, c)) = ahead.next() {
                if is_digit(c) {
                    tail_end = at;
                    back = ahead;
                }
            }
        }
        Some(&(at, c)) if is_digit(c) => {
            tail_end = at;
            back.next();
        }
        _ => {}
    }
    // The non-digits before it, back to the dot after the number.
    let mut dot = None;
    for (at, c) in back.by_ref() {
        if is_digit(c) {
            break;
        }
        dot = Some((at, c));
    }
    let (dot, c) = dot?;
    if c != '.' || dot + 1 >= tail_end || dot == 0 {
        return None;
    }
    // The number, back to the dot before it.
    let start = item[..dot]
        .char_indices()
        .rev()
        .find(|&(_, c)| !is_digit(c));
    match start {
        Some((at, '.')) if at + 1 < dot => Some(number(item, at + 1, dot)),
        _ => None,
    }
}

/// [`find_frame`] byte by byte, for the usual case of ASCII where it looks (the end of a
/// path); `Err` if it meets a byte of a non-ASCII character there, which may be a digit.
fn find_frame_ascii(item: &[u8]) -> Result<Option<Found>, NotAscii> {
    let mut tail_end = item.len();
    match item {
        [.., last] | [.., last, b'\n'] if !last.is_ascii() => return Err(NotAscii),
        [.., digit, b'\n'] if digit.is_ascii_digit() => tail_end -= 2,
        [.., digit] if digit.is_ascii_digit() => tail_end -= 1,
        _ => {}
    }
    // The non-digits before it, back to the dot after the number.
    let dot = match item[..tail_end]
        .iter()
        .rposition(|b| b.is_ascii_digit() || !b.is_ascii())
    {
        Some(at) if !item[at].is_ascii() => return Err(NotAscii),
        Some(digit) => digit + 1,
        None => return Ok(None),
    };
    if dot + 1 >= tail_end || item[dot] != b'.' {
        return Ok(None);
    }
    // The number, back to the dot before it.
    let Some(start) = item[..dot].iter().rposition(|b| !b.is_ascii_digit()) else {
        return Ok(None);
    };
    if !item[start].is_ascii() {
        return Err(NotAscii);
    }
    if item[start] != b'.' {
        return Ok(None);
    }
    let (start, end) = (start + 1, dot);
    Ok(Some(Found {
        start,
        end,
        padded: item[start] == b'0' && end - start > 1,
    }))
}

/// [`find_frame_ascii`] met part of a non-ASCII character.
struct NotAscii;

/// The collections being built and where each key is, found without making the key's
/// strings (most matches add to a collection that exists).
#[derive(Default)]
struct Builder {
    building: Vec<Building>,
    by_hash: HashMap<u64, Vec<usize>>,
    hasher: foldhash::fast::FixedState,
    /// The last collection added to: drops list a sequence's items together.
    last: Option<usize>,
}

impl Builder {
    fn add(&mut self, head: &str, tail: &str, padding: usize, number: Index) {
        let same = |b: &Building| b.padding == padding && b.head == head && b.tail == tail;
        if let Some(at) = self.last.filter(|&at| same(&self.building[at])) {
            self.building[at].indexes.push(number);
            return;
        }
        let hash = self.hasher.hash_one((head, tail, padding));
        let bucket = self.by_hash.entry(hash).or_default();
        let at = match bucket.iter().copied().find(|&at| same(&self.building[at])) {
            Some(at) => at,
            None => {
                self.building.push(Building {
                    head: head.to_string(),
                    tail: tail.to_string(),
                    padding,
                    indexes: Vec::new(),
                });
                bucket.push(self.building.len() - 1);
                self.building.len() - 1
            }
        };
        self.building[at].indexes.push(number);
        self.last = Some(at);
    }

    /// The collections in the order their keys were first seen. Their numbers are as
    /// found (a number found twice is there twice): [`Collection::new`] sorts them once.
    fn finish(self) -> Vec<Building> {
        self.building
    }
}

/// Groups `items` into collections, as clique's `assemble` (see the module documentation).
pub fn assemble<I, S>(items: I, options: &Options) -> Result<Assembly, SequenceError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let patterns = match &options.patterns {
        Some(patterns) if patterns.is_empty() => {
            return Ok(Assembly {
                collections: Vec::new(),
                remainder: items.into_iter().map(|i| i.as_ref().to_string()).collect(),
            })
        }
        Some(patterns) => patterns.clone(),
        None => vec![Pattern::Digits],
    };
    let matchers = patterns
        .iter()
        .map(|pattern| Matcher::new(pattern, options.case_sensitive))
        .collect::<Result<Vec<_>, _>>()?;

    let mut builder = Builder::default();
    let mut remainder: Vec<String> = Vec::new();
    let mut error = None;
    for item in items {
        let item = item.as_ref();
        let mut matched = false;
        for matcher in &matchers {
            matcher.each(item, &mut |found| {
                let digits = &item[found.start..found.end];
                let Some(number) = Index::parse(digits) else {
                    error.get_or_insert_with(|| SequenceError::Pattern {
                        pattern: matcher.source().to_string(),
                        reason: format!("its index {digits:?} in {item:?} is not a number"),
                    });
                    return;
                };
                let padding = if found.padded {
                    digits.chars().count()
                } else {
                    0
                };
                let (head, tail) = (&item[..found.start], &item[found.end..]);
                if options.case_sensitive {
                    builder.add(head, tail, padding, number);
                } else {
                    builder.add(&head.to_lowercase(), &tail.to_lowercase(), padding, number);
                }
                matched = true;
            });
            if let Some(error) = error.take() {
                return Err(error);
            }
        }
        if !matched {
            remainder.push(item.to_string());
        }
    }

    let mut building = builder.finish();
    let fully_merged = merge_into_padded(&mut building);
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for (at, collection) in building.into_iter().enumerate() {
        if fully_merged.contains(&at) {
            continue;
        }
        let collection = Collection::new(
            collection.head,
            collection.tail,
            collection.padding,
            collection.indexes,
        );
        if collection.indexes.len() >= options.minimum_items {
            kept.push(collection);
        } else {
            dropped.push(collection);
        }
    }
    add_dropped_items(&mut remainder, &dropped, &kept);

    if options.assume_padded_when_ambiguous {
        for collection in &mut kept {
            if collection.padding != 0 {
                continue;
            }
            if let (Some(first), Some(last)) =
                (collection.indexes.first(), collection.indexes.last())
            {
                if first.digits() == last.digits() {
                    collection.padding = first.digits();
                }
            }
        }
    }
    Ok(Assembly {
        collections: kept,
        remainder,
    })
}

/// Step 3: copies unpadded numbers into padded collections of their width; returns the
/// unpadded collections whose numbers were all copied into one.
fn merge_into_padded(building: &mut [Building]) -> HashSet<usize> {
    let mut unpadded: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (at, collection) in building.iter().enumerate() {
        if collection.padding == 0 {
            unpadded
                .entry((collection.head.as_str(), collection.tail.as_str()))
                .or_default()
                .push(at);
        }
    }
    let mut copies: Vec<(usize, Vec<Index>, usize)> = Vec::new();
    for (at, collection) in building.iter().enumerate() {
        if collection.padding == 0 {
            continue;
        }
        let key = (collection.head.as_str(), collection.tail.as_str());
        for &candidate in unpadded.get(&key).into_iter().flatten() {
            let wide: Vec<Index> = building[candidate]
                .indexes
                .iter()
                .filter(|index| index.digits() == collection.padding)
                .cloned()
                .collect();
            copies.push((at, wide, candidate));
        }
    }
    let mut fully_merged = HashSet::new();
    for (at, wide, candidate) in copies {
        if wide.len() == building[candidate].indexes.len() {
            fully_merged.insert(candidate);
        }
        building[at].indexes.extend(wide);
    }
    fully_merged
}

/// Step 4: the items of dropped collections join the remainder, once each, unless a kept
/// collection has them.
fn add_dropped_items(remainder: &mut Vec<String>, dropped: &[Collection], kept: &[Collection]) {
    if dropped.is_empty() {
        return;
    }
    let held = HeldItems::new(kept);
    let mut candidates: Vec<String> = Vec::new();
    let mut chosen: HashSet<String, foldhash::fast::FixedState> = HashSet::default();
    for collection in dropped {
        for item in collection.members() {
            if !chosen.contains(&item) && !held.holds(&item) {
                chosen.insert(item.clone());
                candidates.push(item);
            }
        }
    }
    // Those already in the remainder stay where they are. Only items as long as a
    // candidate can be one, which spares hashing most of the remainder.
    let lengths: HashSet<usize> = candidates.iter().map(String::len).collect();
    for item in remainder.iter() {
        if lengths.contains(&item.len()) {
            chosen.remove(item);
        }
    }
    remainder.extend(candidates.into_iter().filter(|item| chosen.contains(item)));
}

/// Whether a kept collection has an item, as clique's `in` decides: head, the number
/// written as the collection writes it, tail. Looked up by head at each place the item has
/// a digit (where a written number can start), rather than writing out every kept item.
struct HeldItems<'a> {
    kept: &'a [Collection],
    by_head: HashMap<&'a str, Vec<&'a Collection>, foldhash::fast::FixedState>,
}

impl<'a> HeldItems<'a> {
    fn new(kept: &'a [Collection]) -> HeldItems<'a> {
        let mut by_head: HashMap<&str, Vec<&Collection>, _> = HashMap::default();
        for collection in kept {
            by_head
                .entry(collection.head())
                .or_default()
                .push(collection);
        }
        HeldItems { kept, by_head }
    }

    fn holds(&self, item: &str) -> bool {
        if item.ends_with('\n') {
            // `$` may match before the newline: clique's own test.
            return self.kept.iter().any(|collection| collection.contains(item));
        }
        item.char_indices()
            .filter(|(_, c)| c.is_ascii_digit())
            .filter_map(|(at, _)| Some((at, self.by_head.get(&item[..at])?)))
            .any(|(at, collections)| {
                let rest = &item[at..];
                collections.iter().any(|collection| {
                    let Some(written) = rest.strip_suffix(collection.tail()) else {
                        return false;
                    };
                    let padding = collection.padding;
                    written.bytes().all(|b| b.is_ascii_digit())
                        && Index::parse(written).is_some_and(|index| {
                            (padding == 0 || index.digits() <= padding)
                                && index.padded(padding) == written
                                && collection.indexes.contains(&index)
                        })
                })
            })
    }
}
