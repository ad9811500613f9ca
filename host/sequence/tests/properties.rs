//! Properties clique's rules imply, on generated drops: nothing is lost, a collection holds
//! its own items, and what is written reads back the same.

use connect_sequence::{assemble, parse, Index, Options, Pattern, DEFAULT_FORMAT};
use proptest::prelude::*;

/// A drop: a few sequences (any padding, holes) and single files, shuffled, ASCII names
/// without the characters clique's format uses (`%`, `[`, `]`).
fn drop_of_paths() -> impl Strategy<Value = Vec<String>> {
    let name = "[a-zA-Z_/ ]{0,6}[a-zA-Z]{0,3}";
    let extension = prop_oneof![
        Just(".exr".to_string()),
        Just(".dpx".to_string()),
        Just(".tar.gz".to_string()),
        Just(".mov".to_string()),
        Just("".to_string()),
        Just(".v2".to_string()),
    ];
    let sequence = (
        name,
        prop_oneof![Just("."), Just("_"), Just("")],
        extension.clone(),
        0usize..6,
        0u64..2000,
        proptest::collection::btree_set(0u64..40, 1..12),
    )
        .prop_map(|(head, separator, tail, padding, start, offsets)| {
            offsets
                .into_iter()
                .map(|offset| format!("{head}{separator}{:0padding$}{tail}", start + offset))
                .collect::<Vec<_>>()
        });
    let single = (name, extension).prop_map(|(name, tail)| vec![format!("{name}{tail}")]);
    proptest::collection::vec(prop_oneof![sequence, single], 1..6)
        .prop_map(|groups| groups.into_iter().flatten().collect::<Vec<_>>())
        .prop_shuffle()
}

fn options() -> impl Strategy<Value = Options> {
    (
        prop_oneof![
            Just(None),
            Just(Some(vec![Pattern::Frames])),
            Just(Some(vec![Pattern::Digits])),
            Just(Some(vec![Pattern::Frames, Pattern::Versions])),
        ],
        1usize..4,
        any::<bool>(),
    )
        .prop_map(|(patterns, minimum_items, assume_padded)| Options {
            patterns,
            minimum_items,
            case_sensitive: true,
            assume_padded_when_ambiguous: assume_padded,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Every path is in the remainder or is an item of a collection, and nothing else is.
    #[test]
    fn nothing_is_lost_and_nothing_is_made_up(paths in drop_of_paths(), options in options()) {
        let assembly = assemble(&paths, &options).unwrap();
        for path in &paths {
            let kept = assembly.remainder.contains(path)
                || assembly.collections.iter().any(|c| c.members().any(|m| &m == path));
            prop_assert!(kept, "{path} lost: {assembly:?}");
        }
        for item in assembly.collections.iter().flat_map(|c| c.members()).chain(assembly.remainder.clone()) {
            prop_assert!(paths.contains(&item), "{item} made up: {assembly:?}");
        }
    }

    /// A collection holds each of its items, with its number.
    #[test]
    fn collections_hold_their_items(paths in drop_of_paths(), options in options()) {
        let assembly = assemble(&paths, &options).unwrap();
        for collection in &assembly.collections {
            prop_assert!(collection.indexes.len() >= options.minimum_items);
            for index in &collection.indexes {
                let item = collection.item(index);
                prop_assert!(collection.contains(&item), "{collection} lacks {item}");
            }
        }
    }

    /// What a collection is written as reads back as the same collection.
    #[test]
    fn written_collections_read_back(paths in drop_of_paths(), options in options()) {
        let assembly = assemble(&paths, &options).unwrap();
        for collection in &assembly.collections {
            let written = collection.format(DEFAULT_FORMAT).unwrap();
            let read = parse(&written, DEFAULT_FORMAT).unwrap();
            prop_assert_eq!(&read, collection, "{}", written);
            let holes = collection.holes().unwrap();
            prop_assert!(holes.indexes.iter().all(|i| !collection.indexes.contains(i)));
        }
    }

    /// Indexes order, step and read back as the integers they write.
    #[test]
    fn indexes_are_integers(digits in "[0-9]{1,60}") {
        let index = Index::parse(&digits).unwrap();
        let trimmed = digits.trim_start_matches('0');
        let canonical = if trimmed.is_empty() { "0" } else { trimmed };
        prop_assert_eq!(index.to_string(), canonical);
        prop_assert_eq!(index.digits(), canonical.len());
        let next = index.next();
        prop_assert!(next > index);
        prop_assert_eq!(next.prev(), Some(index.clone()));
        prop_assert_eq!(Index::parse(&next.to_string()), Some(next));
    }
}

/// Items made of what clique's patterns look at: digits (ASCII and Arabic-Indic, zeros
/// among them), dots, `v` and `V`, newlines, other letters.
fn tricky_items() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec("[0012.vVa_\n\u{660}\u{661}x]{0,12}", 1..8)
}

/// The built-in patterns are matched by hand (for speed); as expressions given as custom
/// patterns, they must group every drop the same. (`$` in `FRAMES` is Python's: it also
/// matches before a final newline, which Rust's `$` does not; written out here.)
#[test]
fn built_in_patterns_match_as_their_expressions() {
    let frames = connect_sequence::FRAMES.trim_end_matches('$').to_string() + r"\n?\z";
    let pairs = [
        (Pattern::Frames, Pattern::Custom(frames)),
        (
            Pattern::Versions,
            Pattern::Custom(connect_sequence::VERSIONS.into()),
        ),
        (
            Pattern::Digits,
            Pattern::Custom(connect_sequence::DIGITS.into()),
        ),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(3000));
    runner
        .run(
            &(tricky_items(), any::<bool>(), 1usize..3),
            |(items, case_sensitive, minimum_items)| {
                for (built_in, expression) in &pairs {
                    let options = |pattern: &Pattern| Options {
                        patterns: Some(vec![pattern.clone()]),
                        minimum_items,
                        case_sensitive,
                        assume_padded_when_ambiguous: false,
                    };
                    prop_assert_eq!(
                        assemble(&items, &options(built_in)).unwrap(),
                        assemble(&items, &options(expression)).unwrap(),
                        "{:?} on {:?}",
                        built_in,
                        items
                    );
                }
                Ok(())
            },
        )
        .unwrap();
}
