//! Property tests for subscription expressions: parsing any text, matching any JSON, and
//! writing an expression back out never panic, and what is written reads back the same.

use connect_core::expression::{Condition, Expression, Operator};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Fragments of the expression language, valid and not, to build likely-parseable text.
const TOKENS: &[&str] = &[
    "topic",
    "data.x",
    "source.user.username",
    "a",
    "b.c",
    "not",
    "and",
    "or",
    "NOT",
    "And",
    "oR",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "!",
    "(",
    ")",
    "x",
    "ftrack.*",
    "*",
    "a*b",
    "10",
    "\"a b\"",
    "'it''s'",
    "\"a\"\"b\"",
    "\"\\x41\"",
    "\"\\x\"",
    "\"",
    "'",
    "\"\"",
    "''",
    "\\",
    "$",
    ":",
    ",",
    "@",
    "+",
    "-",
    "_",
    ".",
    "é",
    "ı",
    "\u{a0}",
];

const SEPARATORS: &[&str] = &["", " ", " ", "  ", "\t", "\n", "\r\n", "\u{1c}"];

/// Text assembled from the language's tokens and whitespace.
fn token_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(TOKENS),
            prop::sample::select(SEPARATORS),
        ),
        0..16,
    )
    .prop_map(|parts| {
        parts
            .into_iter()
            .map(|(token, separator)| format!("{token}{separator}"))
            .collect()
    })
}

/// Text that is mostly valid: conditions joined by keywords, with some parentheses.
fn condition_text() -> impl Strategy<Value = String> {
    let condition = (
        prop::sample::select(&["topic", "data.x", "a", "not", "data.list", "x.y.z"][..]),
        prop::sample::select(&["=", "!=", "<", "<=", ">", ">="][..]),
        prop::sample::select(&["a", "abc", "ftrack.*", "*", "1", "\"a b\"", "'x'", "\"\""][..]),
    )
        .prop_map(|(key, operator, value)| format!("{key}{operator}{value}"));
    prop::collection::vec(
        (
            prop::sample::select(&["", "not ", "(", "not (", "NOT not "][..]),
            condition,
            prop::sample::select(&["", ")", "))"][..]),
            prop::sample::select(&[" and ", " or ", " AND ", "\tor\n"][..]),
        ),
        1..6,
    )
    .prop_map(|parts| {
        let mut text = String::new();
        for (index, (open, condition, close, keyword)) in parts.iter().enumerate() {
            if index > 0 {
                text.push_str(keyword);
            }
            text.push_str(open);
            text.push_str(condition);
            text.push_str(close);
        }
        text
    })
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), token_text(), condition_text()]
}

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(
            &["topic", "data", "source", "x", "y", "z", "list", "a", "not", "", "Topic"][..]
        )
        .prop_map(str::to_owned),
        1 => "[a-z.]{0,4}",
    ]
}

fn json_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(&["a", "abc", "ftrack.update", "", "*", "a b", "1"][..])
            .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from), // non-finite numbers become null
        json_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((json_key(), inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((json_key(), json_value()), 0..6)
        .prop_map(|entries| entries.into_iter().collect())
}

/// Expression trees built directly, with keys and values the language can write.
fn expression_tree() -> impl Strategy<Value = Expression> {
    let condition = (
        // A key starting with `not.` cannot be written: `not.x=1` reads as `not .x=1`.
        "[A-Za-z0-9_.]{1,8}".prop_filter("not a `not.` key", |k| {
            !k.to_ascii_lowercase().starts_with("not.")
        }),
        prop::sample::select(
            &[
                Operator::Eq,
                Operator::Ne,
                Operator::Gt,
                Operator::Ge,
                Operator::Lt,
                Operator::Le,
            ][..],
        ),
        prop_oneof![
            "[A-Za-z0-9,./*@+_-]{1,6}",
            "[ a-z:()='é]{0,6}",
            "[ a-z:()=\"é]{0,6}",
            "[a-z ]{0,3}(\\\\[a-wyz\\\\])+",
        ],
    )
        .prop_map(|(key, operator, value)| {
            Expression::Condition(Condition {
                path: key.split('.').map(str::to_owned).collect(),
                operator,
                value,
            })
        });
    condition.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expression::Not(Box::new(e))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expression::All),
            prop::collection::vec(inner, 2..4).prop_map(Expression::Any),
        ]
    })
}

// proptest's default of 256 cases per property (`PROPTEST_CASES` overrides it).
proptest! {
    #[test]
    fn parsing_any_text_never_panics_and_display_reads_back(text in any_text()) {
        if let Ok(expression) = Expression::parse(&text) {
            let shown = expression.to_string();
            prop_assert_eq!(Expression::parse(&shown), Ok(expression), "{:?} -> {:?}", text, shown);
        }
    }

    #[test]
    fn matching_any_json_never_panics(text in condition_text(), object in json_object()) {
        if let Ok(expression) = Expression::parse(&text) {
            let matched = expression.matches(&object);
            prop_assert_eq!(expression.matches(&Value::Object(object)), matched);
        }
    }

    #[test]
    fn built_trees_display_read_back_and_match(
        expression in expression_tree(),
        object in json_object(),
    ) {
        let shown = expression.to_string();
        prop_assert_eq!(Expression::parse(&shown), Ok(expression.clone()), "{}", shown);
        let _ = expression.matches(&object);
        let _ = expression.topic_filter();
    }
}

/// Hostile nesting: deep parentheses and `not`s, unbalanced or not, and very long inputs.
fn hostile_text() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["(", "not ", "not(", "((", "( "]),
        0usize..5000,
        prop::sample::select(vec!["a=1", "", "a=", "\"", "topic=x and"]),
        prop::sample::select(vec![")", "", " )", "))"]),
        0usize..5000,
    )
        .prop_map(|(open, depth, middle, close, closing)| {
            format!("{}{middle}{}", open.repeat(depth), close.repeat(closing))
        })
}

proptest! {
    /// No nesting overflows the stack, and none takes long: the parser refuses nesting past
    /// its limit at the first character beyond it.
    #[test]
    fn hostile_nesting_is_refused_not_overflowed(text in hostile_text()) {
        let started = std::time::Instant::now();
        let _ = Expression::parse(&text);
        // A liveness bound (ftrack's own parser is exponential in the depth), not a speed
        // goal: a linear parser takes microseconds on 20,000 characters.
        prop_assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
