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

use std::collections::{BTreeSet, HashMap, HashSet};

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

/// A collection being built: its key, and its numbers.
struct Building {
    head: String,
    tail: String,
    padding: usize,
    indexes: BTreeSet<Index>,
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
    let compiled = patterns
        .iter()
        .map(|pattern| pattern.compile(options.case_sensitive))
        .collect::<Result<Vec<_>, _>>()?;

    let mut building: Vec<Building> = Vec::new();
    let mut keys: HashMap<(String, String, usize), usize> = HashMap::new();
    let mut remainder: Vec<String> = Vec::new();
    for item in items {
        let item = item.as_ref();
        let mut matched = false;
        for regex in &compiled {
            for captures in regex.captures_iter(item) {
                let (Some(index), Some(padding)) =
                    (captures.name("index"), captures.name("padding"))
                else {
                    continue;
                };
                let number =
                    Index::parse(index.as_str()).ok_or_else(|| SequenceError::Pattern {
                        pattern: regex.as_str().to_string(),
                        reason: format!(
                            "its index {:?} in {item:?} is not a number",
                            index.as_str()
                        ),
                    })?;
                let mut head = item[..index.start()].to_string();
                let mut tail = item[index.end()..].to_string();
                if !options.case_sensitive {
                    head = head.to_lowercase();
                    tail = tail.to_lowercase();
                }
                let padding = if padding.as_str().is_empty() {
                    0
                } else {
                    index.as_str().chars().count()
                };
                let at = *keys.entry((head, tail, padding)).or_insert_with_key(
                    |(head, tail, padding)| {
                        building.push(Building {
                            head: head.clone(),
                            tail: tail.clone(),
                            padding: *padding,
                            indexes: BTreeSet::new(),
                        });
                        building.len() - 1
                    },
                );
                building[at].indexes.insert(number);
                matched = true;
            }
        }
        if !matched {
            remainder.push(item.to_string());
        }
    }

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
    let mut seen: HashSet<String> = remainder.iter().cloned().collect();
    // What a kept collection holds, as clique's `in` sees it: head, the number written as
    // the collection writes it, tail.
    let held: HashSet<String> = kept
        .iter()
        .flat_map(|collection| {
            collection
                .indexes
                .iter()
                .filter(|index| collection.padding == 0 || index.digits() <= collection.padding)
                .map(|index| collection.item(index))
        })
        .collect();
    for collection in dropped {
        for item in collection.members() {
            if seen.contains(&item) {
                continue;
            }
            let in_kept = if item.ends_with('\n') {
                kept.iter().any(|collection| collection.contains(&item))
            } else {
                held.contains(&item)
            };
            if !in_kept {
                seen.insert(item.clone());
                remainder.push(item);
            }
        }
    }
}
