//! Unit tests of refused queries: each error's message and 1-based column (unknown operator,
//! unclosed parenthesis, missing value, trailing garbage, empty input, bad names and
//! strings), one-line display, and the nesting limit with the stack it needs.

use super::tests::{err, filter};
use super::*;

#[test]
fn error_unknown_operator() {
    let error = err("select name from Task where name ~ 5");
    assert_eq!(error.column(), 34);
    assert_eq!(
        error.message(),
        "expected an operator after 'name', found '~'"
    );
    assert_eq!(
        error.to_string(),
        "expected an operator after 'name', found '~' at column 34: ~ 5"
    );
    let error = err("Task where name contains \"x\"");
    assert_eq!(error.column(), 17);
    assert!(error
        .message()
        .starts_with("expected an operator after 'name'"));
    let error = err("Task where a ! 1");
    assert_eq!(error.column(), 14);
    assert!(error.message().contains("'!'"), "{error}");
}

#[test]
fn error_unclosed_parenthesis() {
    let error = err("Task where (a is 1 and b is 2");
    assert_eq!(error.column(), 30);
    assert_eq!(
        error.to_string(),
        "expected 'and', 'or' or ')' to close the '(' at column 12 after '2', found the end of \
         the query at column 30"
    );
    let error = err("Task where a in (1, 2");
    assert_eq!(error.column(), 22);
    assert!(
        error.message().starts_with("expected ',' or ')'"),
        "{error}"
    );
    let error = err("Task where p has (a is 1");
    assert_eq!(error.column(), 25);
}

#[test]
fn error_missing_value() {
    let error = err("Task where name is");
    assert_eq!(error.column(), 19);
    assert_eq!(
        error.message(),
        "expected a value after 'is', found the end of the query"
    );
    let error = err("Task where name is and b is 1");
    // `and` is a bare value there, so the error is at `b`.
    assert_eq!(error.column(), 24);
    let error = err("Task where name = )");
    assert_eq!(error.column(), 19);
    assert!(
        error.message().starts_with("expected a value after '='"),
        "{error}"
    );
}

#[test]
fn error_trailing_garbage() {
    let error = err("Task where a is 1 b");
    assert_eq!(error.column(), 19);
    assert_eq!(
        error.message(),
        "expected 'and', 'or', 'order by', 'offset', 'limit' or the end of the query after \
         '1', found 'b'"
    );
    let error = err("Task foo");
    assert_eq!(error.column(), 6);
    assert!(
        error.message().starts_with("expected 'where', 'order by'"),
        "{error}"
    );
    let error = err("Task limit 1 limit 2");
    assert_eq!(
        (error.column(), error.message()),
        (14, "'limit' given twice")
    );
    let error = err("Task order by a order by b");
    assert_eq!(error.column(), 17);
    let error = err("Task limit -1");
    assert_eq!(error.column(), 12);
    let error = err("Task where a is 1)");
    assert_eq!(error.column(), 18);
}

#[test]
fn error_empty_and_truncated_input() {
    for text in ["", "   ", "\n"] {
        let error = err(text);
        assert_eq!(error.column(), text.chars().count() + 1);
        assert_eq!(
            error.message(),
            "expected 'select' or an entity type, found the end of the query"
        );
    }
    assert_eq!(err("select").column(), 7);
    assert_eq!(
        err("select a").message(),
        "expected ',' or 'from' after 'a', found the end of the query"
    );
    assert_eq!(err("select a from").column(), 14);
    assert_eq!(err("select a from where").column(), 15);
    assert_eq!(err("Task where").column(), 11);
    assert_eq!(err("Task where ()").column(), 13);
    assert_eq!(err("Task order").column(), 11);
    assert_eq!(err("Task order by").column(), 14);
    assert_eq!(err("Task order by a,").column(), 17);
    assert_eq!(err("select a, from T").column(), 16);
}

#[test]
fn error_bad_names_and_strings() {
    let error = err("Task where a..b is 1");
    assert_eq!(error.column(), 12);
    assert!(
        error.message().starts_with("expected a condition"),
        "{error}"
    );
    assert_eq!(err("select 1a from T").column(), 8);
    assert_eq!(err("select a from Ta-sk").column(), 15);
    let error = err("Task where a is \"open");
    assert_eq!(error.column(), 17);
    assert_eq!(error.message(), "unclosed string (no closing \")");
    // A later unreadable character does not hide an earlier error.
    assert_eq!(err("Task where a ~ 1 and b is \"open").column(), 14);
    let error = err("Task where a is 1\u{0}");
    assert_eq!(error.column(), 18);
    assert!(error.message().contains("U+0000"), "{error}");
}

#[test]
fn error_columns_count_characters() {
    let error = err("Task where a is é ~");
    assert_eq!(error.column(), 19);
    let error = err("Task where a is \"ééé\" ~ 1");
    assert_eq!(error.column(), 23);
    assert_eq!(error.excerpt(), "~ 1");
}

#[test]
fn error_messages_stay_on_one_line() {
    let error = err("Task where a is 1\nand\n(b\nis\n2\n\n");
    let text = error.to_string();
    assert!(!text.contains('\n'), "{text:?}");
    let long = format!("Task where a is 1 \"{}\n\"", "x".repeat(100));
    let text = err(&long).to_string();
    assert!(!text.contains('\n') && text.len() < 200, "{text:?}");
}

#[test]
fn nesting_is_bounded() {
    let nested = |open: &str, depth: usize, close: &str| {
        format!(
            "T where {}a is 1{}",
            open.repeat(depth),
            close.repeat(depth)
        )
    };
    // Exactly the limit parses; one more is an error at the level that overflows.
    // (opening text, its closing text, where the token counted as the level starts in it)
    let kinds = [
        ("(", ")", 0),
        ("not ", "", 0),
        ("p has (", ")", 2),
        ("p any (", ")", 2),
    ];
    for (open, close, keyword) in kinds {
        assert!(parse(&nested(open, MAX_DEPTH, close)).is_ok(), "{open}");
        let error = err(&nested(open, MAX_DEPTH + 1, close));
        assert!(error.message().starts_with("nested too deeply"), "{error}");
        let column = 9 + MAX_DEPTH * open.chars().count() + keyword;
        assert_eq!(error.column(), column, "{open}");
    }
    let mut subquery = "select a from T".to_string();
    for _ in 0..MAX_DEPTH {
        subquery = format!("select a from T where a in ({subquery})");
    }
    // MAX_DEPTH nested subqueries: accepted.
    assert!(parse(&subquery).is_ok());
    let deeper = format!("select a from T where a in ({subquery})");
    assert!(err(&deeper).message().starts_with("nested too deeply"));
    // Far beyond the limit: an error, not a stack overflow.
    let hostile = format!("T where {}", "(not ".repeat(1_000_000));
    assert!(err(&hostile).message().starts_with("nested too deeply"));
    // Long flat chains are not limited.
    let chain = format!("T where {}a is 1", "a is 1 and ".repeat(100_000));
    assert!(matches!(filter(&chain), Filter::And(list) if list.len() == 100_001));
}

#[test]
fn the_depth_limit_keeps_the_stack_small() {
    // The deepest accepted queries, parsed, printed and dropped on a 1 MiB stack in a debug
    // build (the deepest, 64 nested subqueries, needs about 640 KiB there and 130 KiB in a
    // release build; tokio's workers have 2 MiB).
    let mut texts = Vec::new();
    for (open, close) in [("(", ")"), ("not ", ""), ("p any (", ")")] {
        let depth = MAX_DEPTH;
        texts.push(format!(
            "T where {}a is 1{}",
            open.repeat(depth),
            close.repeat(depth)
        ));
    }
    let mut subquery = "select a from T where a in (b) or p has (c is 1)".to_string();
    for _ in 0..MAX_DEPTH - 1 {
        subquery = format!("select a from T where a in ({subquery})");
    }
    texts.push(subquery);
    let worker = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            for text in texts {
                let query = parse(&text).expect("at the limit");
                assert_eq!(parse(&query.to_string()).as_ref(), Ok(&query));
            }
        });
    worker.expect("a thread").join().expect("no stack overflow");
}
