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
