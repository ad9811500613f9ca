//! Checks `Expression` against cases judged by ftrack_api 3.1.0 itself.
//!
//! `tests/data/expression_corpus.json` is written by `scripts/gen_expression_corpus.py` with
//! the reference implementation: each case is an expression, an event (a JSON object) and
//! what ftrack's `Parser` did: `parse-error`, `match`, `no-match`, or `raises` (the match
//! raised). Parse errors and match results must agree exactly; where ftrack raises, the
//! expression must simply not match.

use connect_core::expression::Expression;
use serde_json::Value;

const CORPUS: &str = include_str!("../data/expression_corpus.json");

#[test]
fn every_corpus_case_agrees_with_ftrack() {
    let cases: Vec<Value> = serde_json::from_str(CORPUS).expect("corpus is JSON");
    assert!(cases.len() > 100, "corpus has only {} cases", cases.len());
    let mut mismatches = Vec::new();
    for case in &cases {
        let text = case["expression"].as_str().expect("expression is a string");
        let event = &case["event"];
        let expected = case["outcome"].as_str().expect("outcome is a string");
        let actual = match Expression::parse(text) {
            Err(_) => "parse-error",
            Ok(expression) if expression.matches(event) => "match",
            Ok(_) => "no-match",
        };
        let agrees = match expected {
            "raises" => actual == "no-match",
            "parse-error" | "match" | "no-match" => actual == expected,
            other => panic!("unknown outcome {other:?} for {text:?}"),
        };
        if !agrees {
            let detail = match Expression::parse(text) {
                Ok(expression) => format!("parsed as {expression:?}"),
                Err(error) => format!("error: {error}"),
            };
            mismatches.push(format!(
                "expression {text:?}\n  event    {event}\n  ftrack   {expected}\n  ours     {actual} ({detail})"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} corpus cases disagree with ftrack:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
}
