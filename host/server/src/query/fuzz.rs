//! Property tests of [`parse`]: whatever the text, parsing never panics and ends in bounded
//! time; whatever it accepts prints (with `Display`) as text that parses back to the same
//! query; and every query the generators build survives the same round trip.
//!
//! The server parses whatever a client sends, so the first group feeds it random text,
//! random soup of the language's own tokens (keywords in any case, operators, quotes,
//! parentheses, values) and random stacks of nesting around the depth limit. The second group
//! builds [`Query`] trees directly, with keyword-named attributes, every value kind (strings
//! holding quotes, backslashes and control characters; numbers beyond `i64`), subqueries and
//! nesting, to pin down that `Display` is the inverse of `parse`.
//!
//! Each property runs from 64 to 1,000 cases by default, a few seconds in a debug build;
//! `PROPTEST_CASES=20000 cargo test --release -p connect-server fuzz::` runs a long campaign
//! (the variable replaces every property's default).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::select;

use super::*;

/// A liveness bound for one case, not a speed check.
const BOUND: Duration = Duration::from_secs(10);

/// `default` cases, unless `PROPTEST_CASES` says otherwise.
fn cases(default: u32) -> ProptestConfig {
    if std::env::var_os("PROPTEST_CASES").is_some() {
        ProptestConfig::default()
    } else {
        ProptestConfig::with_cases(default)
    }
}

/// Parses `text` and checks what every outcome must satisfy: bounded time, an error inside
/// the text on one line, or a query whose canonical text parses back to it.
fn parse_checked(text: &str) -> Result<Result<Query, QueryError>, TestCaseError> {
    let started = Instant::now();
    let parsed = parse(text);
    let took = started.elapsed();
    prop_assert!(took < BOUND, "parsing took {:?}", took);
    match &parsed {
        Ok(query) => {
            let canonical = query.to_string();
            let again = parse(&canonical);
            prop_assert_eq!(again.as_ref(), Ok(query), "printed as {:?}", canonical);
        }
        Err(error) => {
            let column = error.column();
            prop_assert!(
                column >= 1 && column <= text.chars().count() + 1,
                "column {}",
                column
            );
            let shown = error.to_string();
            prop_assert!(!shown.contains(['\n', '\r']), "{:?}", shown);
            prop_assert!(
                shown.contains(&format!("at column {column}")),
                "{:?}",
                shown
            );
        }
    }
    Ok(parsed)
}

// ----- Text generators -------------------------------------------------------------------

/// One token of the language, or of something near it.
fn token() -> impl Strategy<Value = String> {
    const KEYWORDS: &[&str] = &[
        "select",
        "from",
        "where",
        "and",
        "or",
        "not",
        "is",
        "is_not",
        "in",
        "not_in",
        "like",
        "not_like",
        "has",
        "any",
        "after",
        "before",
        "greater_than",
        "less_than",
        "order",
        "by",
        "asc",
        "desc",
        "ascending",
        "descending",
        "offset",
        "limit",
        "none",
        "null",
        "true",
        "false",
    ];
    let keyword = (select(KEYWORDS), any::<bool>()).prop_map(|(keyword, upper)| {
        if upper {
            keyword.to_uppercase()
        } else {
            keyword.to_string()
        }
    });
    let symbol = select(&["=", "!=", "<", ">", "<=", ">=", "(", ")", ",", "!", "()"][..]);
    prop_oneof![
        4 => keyword,
        3 => symbol.prop_map(str::to_string),
        2 => "[a-z_]{1,6}(\\.[a-z_]{1,6}){0,2}",
        1 => "[A-Z][a-zA-Z]{0,8}",
        1 => "-?[0-9]{1,22}(\\.[0-9]{1,3})?",
        1 => "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        2 => "\"([^\"\\\\]|\\\\.){0,8}\"",
        1 => "'[^']{0,6}'",
        1 => "[\"'\\\\~@%é\u{0}\u{7f}\u{2028}]",
    ]
}

/// Tokens joined by nothing, a space or other white space, sometimes behind a real start.
fn token_soup() -> impl Strategy<Value = String> {
    let separator = select(&["", " ", " ", " ", "\n", "\t"][..]);
    let prefix = select(&["", "", "select a, b.c from T where ", "T where ", "select "][..]);
    (prefix, prop::collection::vec((token(), separator), 0..40)).prop_map(|(prefix, tokens)| {
        let mut text = prefix.to_string();
        for (token, separator) in tokens {
            text.push_str(&token);
            text.push_str(separator);
        }
        text
    })
}

/// Openers that each add one nesting level, with what closes them.
const OPENERS: &[(&str, &str)] = &[
    ("(", ")"),
    ("not ", ""),
    ("p has (", ")"),
    ("p any (", ")"),
    ("a in (select a from T where ", ")"),
];

/// One edit of a query's text, at a word chosen by the index.
#[derive(Debug, Clone)]
enum Edit {
    Drop,
    Repeat,
    /// Joins the word to the next one (no space between).
    Join,
    Uppercase,
    Insert(String),
}

/// A generated query's canonical text with a few words edited: near-valid input, which
/// reaches deeper into the grammar than soup does, and is accepted often enough to check the
/// round trip of what the parser accepts.
fn edited_query() -> impl Strategy<Value = String> {
    let edit = prop_oneof![
        1 => Just(Edit::Drop),
        1 => Just(Edit::Repeat),
        2 => Just(Edit::Join),
        1 => Just(Edit::Uppercase),
        1 => token().prop_map(Edit::Insert),
    ];
    let edits = prop::collection::vec((any::<prop::sample::Index>(), edit), 0..4);
    (query_with(filter()), edits).prop_map(|(query, edits)| {
        let text = query.to_string();
        let mut words: Vec<String> = text.split(' ').map(str::to_string).collect();
        for (index, edit) in edits {
            let at = index.index(words.len());
            match edit {
                Edit::Drop if words.len() > 1 => drop(words.remove(at)),
                Edit::Drop => {}
                Edit::Repeat => words.insert(at, words[at].clone()),
                Edit::Join if at + 1 < words.len() => {
                    let next = words.remove(at + 1);
                    words[at].push_str(&next);
                }
                Edit::Join => {}
                Edit::Uppercase => words[at] = words[at].to_uppercase(),
                Edit::Insert(token) => words.insert(at, token),
            }
        }
        words.join(" ")
    })
}

// ----- Tree generators -------------------------------------------------------------------

/// Attribute names, often ones that are also keywords.
fn identifier() -> impl Strategy<Value = String> {
    const KEYWORDS: &[&str] = &[
        "from",
        "select",
        "where",
        "and",
        "or",
        "order",
        "by",
        "limit",
        "offset",
        "asc",
        "desc",
        "descending",
        "is",
        "in",
        "has",
        "any",
        "like",
        "none",
        "to",
    ];
    prop_oneof![
        3 => "[a-z_][a-z0-9_]{0,8}",
        1 => "[A-Z_][A-Za-z0-9_]{0,5}",
        1 => select(KEYWORDS).prop_map(str::to_string),
    ]
}

fn path() -> impl Strategy<Value = Path> {
    prop::collection::vec(identifier(), 1..4).prop_map(Path::new)
}

/// A path that can start a condition: any but `not`, which would start a negation.
fn condition_path() -> impl Strategy<Value = Path> {
    path().prop_filter("`not` starts a negation", |path| {
        !(path.segments.len() == 1 && path.segments[0].eq_ignore_ascii_case("not"))
    })
}

fn entity_type() -> impl Strategy<Value = String> {
    "[A-Z][A-Za-z0-9_]{0,12}".prop_filter("reserved", |name| {
        ![
            "select", "from", "where", "and", "or", "not", "order", "by", "offset", "limit",
        ]
        .iter()
        .any(|reserved| name.eq_ignore_ascii_case(reserved))
    })
}

fn value() -> impl Strategy<Value = Value> {
    let bare = prop_oneof![
        "[+-]?[0-9]{1,25}(\\.[0-9]{1,6})?",
        "(none|None|NULL|null|true|True|FALSE|false)",
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[a-zA-Z0-9_.@/:+%#*-]{1,16}",
        "[\\p{L}\\p{N}]{1,8}",
    ];
    prop_oneof![
        2 => any::<String>().prop_map(Value::String),
        1 => "[\"'\\\\ a]{0,6}".prop_map(Value::String),
        3 => bare.prop_map(|text: String| Value::bare(&text)),
        1 => any::<i64>().prop_map(|value| Value::Integer { value, text: value.to_string() }),
    ]
}

fn compare_op() -> impl Strategy<Value = CompareOp> {
    use CompareOp::*;
    select(&[Eq, Ne, Gt, Lt, Ge, Le, Like, NotLike][..])
}

/// A query around `filter`: every clause optional, `order by` in both directions.
fn query_with(filter: BoxedStrategy<Filter>) -> impl Strategy<Value = Query> {
    let direction = select(&[Direction::Ascending, Direction::Descending][..]);
    (
        prop::collection::vec(path(), 0..4),
        entity_type(),
        prop::option::of(filter),
        prop::collection::vec((path(), direction), 0..3),
        prop::option::of(any::<u64>()),
        prop::option::of(any::<u64>()),
    )
        .prop_map(
            |(projections, entity_type, filter, order_by, offset, limit)| Query {
                projections,
                entity_type,
                filter,
                order_by,
                offset,
                limit,
            },
        )
}

fn filter() -> BoxedStrategy<Filter> {
    let leaf = prop_oneof![
        4 => (condition_path(), compare_op(), value())
            .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        2 => (condition_path(), any::<bool>(), prop::collection::vec(value(), 0..4)).prop_map(
            |(path, negated, values)| Filter::In { path, negated, set: InSet::Values(values) }
        ),
        1 => (condition_path(), any::<bool>()).prop_map(|(path, any)| if any {
            Filter::Any { path, filter: None }
        } else {
            Filter::Has { path, filter: None }
        }),
    ];
    leaf.prop_recursive(4, 48, 4, |inner| {
        let relation = (condition_path(), any::<bool>(), inner.clone());
        let subquery = (condition_path(), any::<bool>(), query_with(inner.clone()));
        prop_oneof![
            inner
                .clone()
                .prop_map(|filter| Filter::Not(Box::new(filter))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
            relation.prop_map(|(path, any, filter)| {
                let filter = Some(Box::new(filter));
                if any {
                    Filter::Any { path, filter }
                } else {
                    Filter::Has { path, filter }
                }
            }),
            subquery.prop_map(|(path, negated, query)| Filter::In {
                path,
                negated,
                set: InSet::Subquery(Box::new(query)),
            }),
        ]
    })
    .boxed()
}

// ----- Properties --------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(1000))]

    #[test]
    fn any_text(text in any::<String>()) {
        let _ = parse_checked(&text)?;
    }

    #[test]
    fn any_text_after_a_real_start(text in "\\PC{0,60}") {
        let _ = parse_checked(&format!("select a from T where {text}"))?;
    }

    #[test]
    fn token_soups(text in token_soup()) {
        let _ = parse_checked(&text)?;
    }

    #[test]
    fn edited_queries(text in edited_query()) {
        let _ = parse_checked(&text)?;
    }
}

proptest! {
    #![proptest_config(cases(200))]

    /// Random stacks of openers around the limit: accepted exactly up to `MAX_DEPTH` levels.
    #[test]
    fn nesting_around_the_limit(
        stack in prop::collection::vec(select(OPENERS), MAX_DEPTH - 3..MAX_DEPTH + 4),
    ) {
        let mut text = "select a from T where ".to_string();
        for (open, _) in &stack {
            text.push_str(open);
        }
        text.push_str("a is 1");
        for (_, close) in stack.iter().rev() {
            text.push_str(close);
        }
        let parsed = parse_checked(&text)?;
        prop_assert_eq!(parsed.is_ok(), stack.len() <= MAX_DEPTH, "{}", text);
        if let Err(error) = parsed {
            prop_assert!(error.message().starts_with("nested too deeply"), "{}", error);
        }
    }

}

proptest! {
    #![proptest_config(cases(32))]

    /// Far too deep, and long: an error in bounded time, never a stack overflow.
    #[test]
    fn hostile_nesting(
        stack in prop::collection::vec(select(OPENERS), 1_000..20_000),
    ) {
        let mut text = "T where ".to_string();
        for (open, _) in &stack {
            text.push_str(open);
        }
        let error = parse_checked(&text)?.expect_err("too deep");
        prop_assert!(error.message().starts_with("nested too deeply"), "{}", error);
    }
}

proptest! {
    #![proptest_config(cases(500))]

    /// Generated trees print as text that parses back to the same tree.
    #[test]
    fn generated_queries_round_trip(query in query_with(filter())) {
        let text = query.to_string();
        let started = Instant::now();
        let parsed = parse(&text);
        prop_assert!(started.elapsed() < BOUND);
        prop_assert_eq!(parsed, Ok(query), "text {:?}", text);
    }
}

proptest! {
    #![proptest_config(cases(64))]

    /// Long inputs: many conditions and long lists are not limited, and stay linear.
    #[test]
    fn long_flat_queries(
        count in 1_000usize..20_000,
        separator in select(&[" and ", " or ", " AND "][..]),
    ) {
        let conditions: Vec<String> = (0..count).map(|index| format!("a{index} is {index}")).collect();
        let values: Vec<String> = (0..count).map(|index| format!("\"{index}\"")).collect();
        let text = format!(
            "select a from T where {} and id in ({})",
            conditions.join(separator),
            values.join(",")
        );
        let query = parse_checked(&text)?.expect("a long query parses");
        prop_assert!(query.filter.is_some());
    }
}
