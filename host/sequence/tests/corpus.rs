//! `connect-sequence` against what the real clique 1.6.1 answered
//! (`tests/data/clique/corpus.json`, written by `scripts/gen_clique_corpus.py`): every case
//! must agree, to the letter.

use std::path::Path;

use connect_sequence::{assemble, parse, Collection, Index, Options, Pattern, DEFAULT_FORMAT};
use serde_json::Value;

fn corpus() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/clique/corpus.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("the corpus is JSON")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn indexes(value: &Value) -> Vec<Index> {
    strings(value)
        .iter()
        .map(|i| Index::parse(i).unwrap())
        .collect()
}

/// The corpus's record of a collection, from ours.
fn record(collection: &Collection) -> Value {
    serde_json::json!({
        "head": collection.head(),
        "tail": collection.tail(),
        "padding": collection.padding,
        "indexes": collection.indexes.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
        "format": collection.format(DEFAULT_FORMAT).unwrap(),
        "holes": collection.format("{holes}").unwrap(),
        "range": collection.format("{range}").unwrap(),
        "members": collection.members().collect::<Vec<_>>(),
    })
}

fn collection_from(case: &Value) -> Collection {
    Collection::new(
        case["head"].as_str().unwrap(),
        case["tail"].as_str().unwrap(),
        case["padding"].as_u64().unwrap() as usize,
        indexes(&case["indexes"]),
    )
}

#[test]
fn the_corpus_was_written_by_clique_1_6_1() {
    assert_eq!(corpus()["clique"], "1.6.1");
}

#[test]
fn assemble_agrees_with_clique() {
    let corpus = corpus();
    let cases = corpus["assemble"].as_array().unwrap();
    assert!(cases.len() > 400);
    let mut disagreements = Vec::new();
    for case in cases {
        let options = Options {
            patterns: case["patterns"].as_array().map(|patterns| {
                strings(&Value::from(patterns.clone()))
                    .iter()
                    .map(|p| {
                        // The corpus holds the patterns' text; ours by name where clique's.
                        match p.as_str() {
                            connect_sequence::FRAMES => Pattern::Frames,
                            connect_sequence::VERSIONS => Pattern::Versions,
                            connect_sequence::DIGITS => Pattern::Digits,
                            other => Pattern::Custom(other.to_string()),
                        }
                    })
                    .collect()
            }),
            minimum_items: case["minimum_items"].as_u64().unwrap() as usize,
            case_sensitive: case["case_sensitive"].as_bool().unwrap(),
            assume_padded_when_ambiguous: case["assume_padded"].as_bool().unwrap(),
        };
        let ours = assemble(strings(&case["items"]), &options);
        let expected = serde_json::json!({
            "collections": case["collections"],
            "remainder": case["remainder"],
        });
        let got = match &ours {
            Ok(assembly) => serde_json::json!({
                "collections": assembly.collections.iter().map(record).collect::<Vec<_>>(),
                "remainder": assembly.remainder,
            }),
            Err(err) => serde_json::json!({"error": err.to_string()}),
        };
        if got != expected {
            disagreements.push(format!(
                "{}:\n  clique: {expected}\n  ours:   {got}",
                case["name"]
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n")
    );
}

#[test]
fn format_agrees_with_clique() {
    let corpus = corpus();
    for case in corpus["format"].as_array().unwrap() {
        let collection = collection_from(case);
        let pattern = case["pattern"].as_str().unwrap();
        let ours = collection.format(pattern).ok();
        assert_eq!(ours.as_deref(), case["text"].as_str(), "{case}");
    }
}

#[test]
fn parse_agrees_with_clique() {
    let corpus = corpus();
    for case in corpus["parse"].as_array().unwrap() {
        let value = case["value"].as_str().unwrap();
        let pattern = case["pattern"].as_str().unwrap_or(DEFAULT_FORMAT);
        match (parse(value, pattern), case.get("collection")) {
            (Ok(ours), Some(theirs)) => assert_eq!(record(&ours), *theirs, "{case}"),
            (Err(_), None) => {}
            (ours, _) => panic!("{case}: ours {ours:?}"),
        }
    }
}

#[test]
fn membership_agrees_with_clique() {
    let corpus = corpus();
    for case in corpus["contains"].as_array().unwrap() {
        let collection = collection_from(case);
        let item = case["item"].as_str().unwrap();
        assert_eq!(
            collection.contains(item),
            case["contains"].as_bool().unwrap(),
            "{case}"
        );
        let theirs = case["match_index"]
            .as_str()
            .map(|i| Index::parse(i).unwrap());
        assert_eq!(collection.number_of(item), theirs, "{case}");
    }
}
