use super::*;
use serde_json::json;

fn parse(text: &str) -> Expression {
    Expression::parse(text).unwrap_or_else(|error| panic!("{text:?}: {error}"))
}

fn error(text: &str) -> ExpressionError {
    match Expression::parse(text) {
        Ok(expression) => panic!("{text:?} parsed as {expression:?}"),
        Err(error) => error,
    }
}

fn matches(text: &str, candidate: Value) -> bool {
    parse(text).matches(&candidate)
}

fn cond(key: &str, operator: Operator, value: &str) -> Expression {
    Expression::Condition(Condition {
        path: key.split('.').map(str::to_owned).collect(),
        operator,
        value: value.to_owned(),
    })
}

fn eq(key: &str, value: &str) -> Expression {
    cond(key, Operator::Eq, value)
}

fn not(expression: Expression) -> Expression {
    Expression::Not(Box::new(expression))
}

fn exact(topics: &[&str]) -> TopicFilter {
    TopicFilter::OneOf {
        exact: topics.iter().map(|t| t.to_string()).collect(),
        containing: vec![],
    }
}

#[test]
fn parse_errors_of_the_semantics_doc() {
    for text in [
        "topic=",
        "=x",
        "topic==x",
        "topic=a b",
        "topic=a:b",
        "topic=a$b",
        "(topic=x",
        "topic=x)",
        "topic=x and",
        "and topic=x",
        "invalid",
        "key=value nor other=value",
    ] {
        error(text);
    }
}

#[test]
fn parse_errors_say_where_and_what() {
    let e = error("topic=");
    assert_eq!(
        e.to_string(),
        "column 7: expected a value after '=', found end of input"
    );
    let e = error("=x");
    assert_eq!((e.column, e.found.as_str()), (1, "'='"));
    assert_eq!(error("topic==x").column, 7);
    let e = error("topic=a b");
    assert_eq!((e.column, e.found.as_str()), (9, "'b'"));
    let e = error("topic=a:b");
    assert_eq!(e.column, 8);
    assert!(e.expected.contains("quote"), "{e}");
    assert_eq!(error("topic=a$b").found, "'$'");
    let e = error("(topic=x");
    assert_eq!(e.column, 9);
    assert!(e.expected.contains("')' to close '(' at column 1"), "{e}");
    assert_eq!(error("topic=x)").found, "')'");
    assert_eq!(error("topic=x and").column, 12);
    assert_eq!(error("and topic=x").column, 5);
    assert_eq!(error("invalid").column, 8);
    assert_eq!(error("key=value nor other=value").found, "'nor'");
    // Columns count characters of the text as given, leading whitespace included.
    assert_eq!(error("  \ttopic=").column, 10);
    assert_eq!(error("é=1 é").column, 1);
    let e = error(r#"a="abc"#);
    assert_eq!(e.column, 7);
    assert!(e.expected.contains("quoted at column 3"), "{e}");
    assert_eq!(error("a=\"a\nb\"").found, "a line break");
    assert!(error(r#"a="\xg""#).expected.contains("hex"));
}

#[test]
fn empty_or_blank_text_is_an_error() {
    for text in ["", "   ", "\t\n", "\u{1c}"] {
        assert_eq!(error(text).column, 1, "{text:?}");
    }
}

#[test]
fn valid_examples_of_the_semantics_doc() {
    assert_eq!(parse(r#"topic="a:b""#), eq("topic", "a:b"));
    assert_eq!(
        parse(r#"data.label="Mega Modeling""#),
        eq("data.label", "Mega Modeling")
    );
    assert_eq!(
        parse("data.application.identifier=maya_2024").to_string(),
        "data.application.identifier=maya_2024"
    );
    let e = parse("topic=ftrack.* and not data.x=1");
    assert_eq!(
        e,
        Expression::All(vec![eq("topic", "ftrack.*"), not(eq("data.x", "1"))])
    );
    assert!(e.matches(&json!({"topic": "ftrack.update", "data": {}})));
}

#[test]
fn operators_longest_first() {
    for (text, operator) in [
        ("a=b", Operator::Eq),
        ("a!=b", Operator::Ne),
        ("a>b", Operator::Gt),
        ("a>=b", Operator::Ge),
        ("a<b", Operator::Lt),
        ("a<=b", Operator::Le),
    ] {
        assert_eq!(parse(text), cond("a", operator, "b"));
    }
    for text in ["a=>b", "a<>b", "a!b", "a!==b", "a=<b"] {
        error(text);
    }
}

#[test]
fn precedence_not_then_and_then_or() {
    assert_eq!(
        parse("a=1 or b=2 and c=3"),
        Expression::Any(vec![
            eq("a", "1"),
            Expression::All(vec![eq("b", "2"), eq("c", "3")])
        ])
    );
    assert_eq!(
        parse("not a=1 and b=2"),
        Expression::All(vec![not(eq("a", "1")), eq("b", "2")])
    );
    assert_eq!(
        parse("(a=1 or b=2) and c=3"),
        Expression::All(vec![
            Expression::Any(vec![eq("a", "1"), eq("b", "2")]),
            eq("c", "3")
        ])
    );
    // Chains are flat; parentheses nest but add no node.
    assert_eq!(
        parse("a=1 and b=2 and c=3"),
        Expression::All(vec![eq("a", "1"), eq("b", "2"), eq("c", "3")])
    );
    assert_eq!(
        parse("a=1 and (b=2 and c=3)"),
        Expression::All(vec![
            eq("a", "1"),
            Expression::All(vec![eq("b", "2"), eq("c", "3")])
        ])
    );
    assert_eq!(parse("((a=1))"), eq("a", "1"));
    assert_eq!(
        parse("not (a=1 and b=2)"),
        not(Expression::All(vec![eq("a", "1"), eq("b", "2")]))
    );
    assert!(!matches("a=1 or b=2 and c=3", json!({"b": "2"})));
    assert!(matches("a=1 or b=2 and c=3", json!({"a": "1"})));
}

#[test]
fn not_not_is_legal() {
    assert_eq!(parse("not not a=b"), not(not(eq("a", "b"))));
    assert!(matches("not not a=b", json!({"a": "b"})));
    assert!(!matches("not a=b", json!({"a": "b"})));
    assert_eq!(parse("not(a=b)"), not(eq("a", "b")));
}

#[test]
fn keywords_are_case_insensitive_and_whole_words() {
    assert_eq!(
        parse("A=b AND c=d Or NOT e=f"),
        Expression::Any(vec![
            Expression::All(vec![eq("A", "b"), eq("c", "d")]),
            not(eq("e", "f"))
        ])
    );
    assert_eq!(parse("nottopic=x"), eq("nottopic", "x"));
    assert_eq!(parse("not_x=1"), eq("not_x", "1"));
    assert_eq!(
        parse(r#"a="x"and b=c"#),
        Expression::All(vec![eq("a", "x"), eq("b", "c")])
    );
    assert_eq!(
        parse("(a=b)or(c=d)"),
        Expression::Any(vec![eq("a", "b"), eq("c", "d")])
    );
    error("a=b andı c=d");
}

#[test]
fn keywords_can_be_keys() {
    assert_eq!(parse("not=x"), eq("not", "x"));
    assert_eq!(parse("not =x"), eq("not", "x"));
    assert_eq!(parse("not not=x"), not(eq("not", "x")));
    assert_eq!(parse("and=x"), eq("and", "x"));
    assert_eq!(
        parse("or=c or or=d"),
        Expression::Any(vec![eq("or", "c"), eq("or", "d")])
    );
    // `.` may follow a keyword: ftrack reads `not.x=1` as `not .x=1`.
    assert_eq!(parse("not.x=1"), not(eq(".x", "1")));
    error("a=b or=c");
}

#[test]
fn whitespace_tabs_and_line_breaks_between_tokens() {
    let expected = Expression::All(vec![eq("a", "b"), eq("c", "d")]);
    assert_eq!(parse("a = b and c = d"), expected);
    assert_eq!(parse("\ta\t=\tb\tand\tc=d\t"), expected);
    assert_eq!(parse("a=b\r\n and\nc=d"), expected);
    assert_eq!(parse("\u{a0}\u{1c}a=b and c=d\u{3000}"), expected);
    // Other whitespace only counts at the ends.
    error("a=b\u{a0}and c=d");
    error("a=b\u{b}and c=d");
}

#[test]
fn quoting_both_kinds_keeps_backslashes() {
    assert_eq!(parse(r#"a="b c""#), eq("a", "b c"));
    assert_eq!(parse("a='b c'"), eq("a", "b c"));
    assert_eq!(parse(r#"a='say "hi"'"#), eq("a", r#"say "hi""#));
    assert_eq!(parse(r#"a="it's""#), eq("a", "it's"));
    assert_eq!(parse(r#"a="C:\\temp\n""#), eq("a", r"C:\\temp\n"));
    assert_eq!(parse(r#"a="\"quoted\"""#), eq("a", r#"\"quoted\""#));
    assert_eq!(parse(r#"a='\x4f'"#), eq("a", r"\x4f"));
    assert_eq!(parse("a=\"x\\\ny\""), eq("a", "x\\\ny"));
    // A doubled quote stands for itself and stays doubled.
    assert_eq!(parse(r#"a="a""b""#), eq("a", r#"a""b"#));
    assert_eq!(parse("a='it''s'"), eq("a", "it''s"));
    for text in [r#"a="b\""#, r#"a="\x""#, r#"a="a"""#, "a='b", "a=\"b\rc\""] {
        error(text);
    }
    assert!(matches(
        r#"data.path="C:\\temp""#,
        json!({"data": {"path": r"C:\\temp"}})
    ));
}

#[test]
fn tabs_in_quoted_values_become_spaces_like_ftrack() {
    assert_eq!(parse("a=\"x\ty\""), eq("a", "x    y"));
    assert_eq!(parse("\ta=\"x\ty\""), eq("a", "x    y"));
    assert_eq!(parse("a=\"1234\ty\""), eq("a", "1234 y"));
    assert_eq!(parse("a=\"12345\ty\""), eq("a", "12345        y"));
    assert!(!matches("a=\"x\ty\"", json!({"a": "x\ty"})));
}

#[test]
fn wildcard_is_a_trailing_substring_test() {
    assert!(matches(
        "topic=action*",
        json!({"topic": "ftrack.action.discover"})
    ));
    assert!(matches("topic=ftrack.*", json!({"topic": "ftrack.update"})));
    assert!(!matches("topic=ftrack.*", json!({"topic": "ftrack"})));
    assert!(matches("topic=*", json!({"topic": "anything"})));
    assert!(matches("topic=*", json!({"topic": ""})));
    assert!(matches(r#"topic="b c*""#, json!({"topic": "ab cd"})));
    assert!(!matches("topic=action*", json!({"topic": "Action"})));
}

#[test]
fn star_elsewhere_is_literal() {
    assert!(!matches("topic=a*b", json!({"topic": "axb"})));
    assert!(matches("topic=a*b", json!({"topic": "a*b"})));
    assert!(!matches("topic=*a", json!({"topic": "ba"})));
    assert!(matches("topic=*a", json!({"topic": "*a"})));
}

#[test]
fn not_equal_with_star_is_literal() {
    assert!(matches("topic!=a*", json!({"topic": "abc"})));
    assert!(!matches("topic!=a*", json!({"topic": "a*"})));
    assert!(!matches("topic>a*", json!({"topic": "a*"})));
    assert!(matches("topic>=a*", json!({"topic": "a*"})));
}

#[test]
fn wildcard_against_lists_and_objects_tests_membership() {
    let candidate = json!({"data": {"tags": ["x", "yz", 1], "map": {"x": 1}}});
    assert!(parse("data.tags=x*").matches(&candidate));
    assert!(!parse("data.tags=y*").matches(&candidate));
    assert!(!parse("data.tags=1*").matches(&candidate));
    assert!(!parse("data.tags=*").matches(&candidate));
    assert!(parse("data.map=x*").matches(&candidate));
    assert!(!parse("data.map=y*").matches(&candidate));
    // Without the wildcard a list never equals a string.
    assert!(!parse("data.tags=x").matches(&candidate));
    assert!(parse("data.tags!=x").matches(&candidate));
}

#[test]
fn missing_keys_are_false_even_with_not_equal() {
    let candidate = json!({"topic": "t", "data": {}});
    for text in [
        "data.x=1",
        "data.x!=1",
        "nothing!=1",
        "data.x<1",
        "data.x=*",
        "data.x=\"\"",
    ] {
        assert!(!parse(text).matches(&candidate), "{text}");
    }
    assert!(parse("not data.x=1").matches(&candidate));
}

#[test]
fn steps_into_lists_or_strings_are_missing() {
    let candidate = json!({"data": {"list": [{"a": "b"}], "text": "abc", "n": 1, "z": null}});
    for text in [
        "data.list.a=b",
        "data.list.0=b",
        "data.list.a!=b",
        "data.text.a!=x",
        "data.n.a!=x",
        "data.z.a!=x",
        "data.list.a<x",
    ] {
        assert!(!parse(text).matches(&candidate), "{text}");
    }
    assert!(!parse("x.y!=1").matches(&json!([1, 2])));
    assert!(!parse("x!=1").matches(&json!("x")));
}

#[test]
fn numbers_booleans_and_null_with_each_operator() {
    for value in [
        json!(10),
        json!(1.5),
        json!(true),
        json!(false),
        json!(null),
    ] {
        let candidate = json!({ "id": value });
        let text = value.to_string();
        assert!(
            !parse(&format!("id={text}")).matches(&candidate),
            "= {text}"
        );
        assert!(
            parse(&format!("id!={text}")).matches(&candidate),
            "!= {text}"
        );
        for operator in ["<", "<=", ">", ">="] {
            // ftrack raises a TypeError here; this is simply no match.
            let expression = parse(&format!("id{operator}{text}"));
            assert!(!expression.matches(&candidate), "{operator} {text}");
            assert!(!parse(&format!("not id{operator}{text}")).matches(&candidate));
        }
        assert!(!parse("id=1*").matches(&candidate), "wildcard {text}");
        assert!(!parse("id=*").matches(&candidate), "wildcard {text}");
        assert!(parse("id!=1*").matches(&candidate), "!= wildcard {text}");
    }
    for value in [json!([1]), json!({"a": 1})] {
        assert!(!parse("x<a").matches(&json!({ "x": value })));
    }
}

#[test]
fn an_invalid_comparison_anywhere_means_no_match() {
    // ftrack evaluates every condition and raises on any invalid one.
    let candidate = json!({"topic": "t", "n": 3});
    assert!(!parse("topic=t or n<5").matches(&candidate));
    assert!(!parse("not n<5").matches(&candidate));
    assert!(!parse("n<5 or topic=t").matches(&candidate));
    assert!(!parse("topic=t and not (n=* and topic=x)").matches(&candidate));
    assert!(parse("topic=t or missing<5").matches(&candidate));
}

#[test]
fn empty_quoted_value() {
    assert_eq!(parse(r#"data.label="""#), eq("data.label", ""));
    assert_eq!(parse("data.label=''"), eq("data.label", ""));
    // ftrack raises for `=` with an empty value: no match, whatever the event holds.
    assert!(!matches(r#"data.label="""#, json!({"data": {"label": ""}})));
    assert!(!matches(
        r#"not data.label="""#,
        json!({"data": {"label": "x"}})
    ));
    assert!(matches(
        r#"data.label!="""#,
        json!({"data": {"label": "x"}})
    ));
    assert!(!matches(
        r#"data.label!="""#,
        json!({"data": {"label": ""}})
    ));
    assert!(matches(r#"data.label>="""#, json!({"data": {"label": ""}})));
}

#[test]
fn keys_are_case_sensitive() {
    assert!(!matches("Topic=a", json!({"topic": "a"})));
    assert!(matches("Topic=a", json!({"Topic": "a"})));
    assert!(!matches("topic=A", json!({"topic": "a"})));
}

#[test]
fn dotted_keys_keep_empty_steps() {
    assert_eq!(parse("a..b=c"), eq("a..b", "c"));
    assert!(matches("a..b=c", json!({"a": {"": {"b": "c"}}})));
    assert!(matches(".=c", json!({"": {"": "c"}})));
}

#[test]
fn comparisons_are_lexicographic() {
    let candidate = json!({"name": "b", "v": "10"});
    assert!(matches("name>a", candidate.clone()));
    assert!(!matches("name>b", candidate.clone()));
    assert!(matches("name>=b", candidate.clone()));
    assert!(matches("name<c", candidate.clone()));
    assert!(matches("name<=b", candidate.clone()));
    assert!(!matches("name<B", candidate.clone()));
    assert!(matches("name>B", candidate.clone()));
    // Strings, not numbers: "10" < "9".
    assert!(matches("v<9", candidate.clone()));
    assert!(matches("name>\"a\u{e9}\"", json!({"name": "b"})) == ("b" > "a\u{e9}"));
    assert!(matches("name>\"\u{ff}\"", json!({"name": "\u{1f600}"})));
}

#[test]
fn event_fields_look_like_ftrack_event_dict() {
    let mut event = Event::new("ftrack.action.discover").with_data(json!({"x": {"y": "z"}}));
    event
        .source
        .insert("user".into(), json!({"username": "alice"}));
    event.target = "id=abc".into();
    assert!(parse("topic=ftrack.action.discover").matches(&event));
    assert!(parse(&format!("id={}", event.id)).matches(&event));
    assert!(parse("data.x.y=z").matches(&event));
    assert!(parse("source.user.username=alice").matches(&event));
    assert!(parse(r#"target="id=abc""#).matches(&event));
    // Unset fields are null: present, not equal to anything, `!=` true.
    assert!(parse("in_reply_to_event!=x").matches(&event));
    assert!(parse("sent!=x").matches(&event));
    assert!(!parse("in_reply_to_event<x").matches(&event));
    assert!(!parse("stopped!=x").matches(&event));
    assert!(!parse("inReplyToEvent!=x").matches(&event));
    event.in_reply_to_event = Some("abc".into());
    event.sent = Some(json!("2024"));
    assert!(parse("in_reply_to_event=abc").matches(&event));
    assert!(parse("sent=2024").matches(&event));
    assert!(!parse("topic.x!=1").matches(&event));
}

#[test]
fn maps_and_values_are_fields() {
    let value = json!({"a": "b"});
    let map = value.as_object().unwrap().clone();
    let expression = parse("a=b");
    assert!(expression.matches(&value));
    assert!(expression.matches(&map));
    assert!(!expression.matches(&json!(null)));
}

#[test]
fn equals_builds_a_literal_condition() {
    let built = Expression::equals("source.id", "a b:c");
    assert_eq!(built, eq("source.id", "a b:c"));
    assert!(built.matches(&json!({"source": {"id": "a b:c"}})));
    assert_eq!(parse(&built.to_string()), built);
    for value in [r#"say "x""#, "it's", r"C:\\temp", "", "not", "*"] {
        let built = Expression::equals("label", value);
        assert_eq!(parse(&built.to_string()), built, "{built}");
    }
}

#[test]
fn display_reads_back() {
    for text in [
        "a=b",
        "not not a=b",
        "a=1 or b=2 and c=3",
        "(a=1 or b=2) and c=3",
        "a=1 and (b=2 and c=3)",
        "a=1 or (b=2 or c=3)",
        "not (a=1 or b=2)",
        r#"a="b c" and d='say "x"' and e="" and f="a""b""#,
        "not=x and and=y or or=z",
        "not.x=1",
        "a=\"x\\\ny\"",
    ] {
        let expression = parse(text);
        let shown = expression.to_string();
        assert_eq!(parse(&shown), expression, "{text} -> {shown}");
    }
    assert_eq!(parse("a = 'b'  AND\tc=d").to_string(), "a=b and c=d");
    assert_eq!("a=b".parse::<Expression>(), Ok(eq("a", "b")));
}

#[test]
fn nesting_is_linear_and_limited() {
    let deep = format!("{}a=b{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(parse(&deep), eq("a", "b"));
    let too_deep = format!(
        "{}a=b{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(error(&too_deep).expected.contains("nested"));
    let nots = format!("{}a=b", "not ".repeat(MAX_DEPTH + 1));
    error(&nots);
    let long = vec!["a=b"; 10_000].join(" or ");
    assert!(parse(&long).matches(&json!({"a": "b"})));
}

#[test]
fn after_topic_drops_the_topic_test_the_index_made() {
    let rest = |text: &str| parse(text).after_topic().map(|e| e.to_string());
    assert_eq!(rest("topic=a"), None);
    assert_eq!(rest("topic=a and data.x=1").as_deref(), Some("data.x=1"));
    assert_eq!(
        rest("data.y=2 and topic=a and data.x=1").as_deref(),
        Some("data.y=2 and data.x=1")
    );
    assert_eq!(
        rest("topic=a or data.x=1").as_deref(),
        Some("topic=a or data.x=1")
    );
    assert_eq!(
        rest("topic=a* and data.x=1").as_deref(),
        Some("topic=a* and data.x=1")
    );
    assert_eq!(rest("data.x=1").as_deref(), Some("data.x=1"));
    // Whatever is left, it matches exactly the events on the topic the whole one does.
    let event = |topic: &str, x: i64| Event::new(topic).with_data(serde_json::json!({"x": x}));
    for text in [
        "topic=a and data.x=1",
        "topic=a and not data.x=2",
        "topic=a and (data.x=1 or data.y=1)",
    ] {
        let whole = parse(text);
        let rest = whole.after_topic();
        for x in [1, 2] {
            let on_topic = event("a", x);
            assert_eq!(
                rest.as_ref().is_none_or(|rest| rest.matches(&on_topic)),
                whole.matches(&on_topic),
                "{text} on {x}"
            );
        }
    }
}

#[test]
fn only_topic_is_an_exact_topic_test_alone() {
    let only = |text: &str| parse(text).only_topic().map(str::to_owned);
    assert_eq!(
        only("topic=ftrack.action.discover").as_deref(),
        Some("ftrack.action.discover")
    );
    assert_eq!(only("topic='a b'").as_deref(), Some("a b"));
    assert_eq!(only("topic=a*"), None);
    assert_eq!(only("topic!=a"), None);
    assert_eq!(only("topic=a and data.x=1"), None);
    assert_eq!(only("topic=a or topic=b"), None);
    assert_eq!(only("not topic=a"), None);
    assert_eq!(only("topic.x=a"), None);
}

#[test]
fn topic_filter_cases() {
    let filter = |text: &str| parse(text).topic_filter();
    assert_eq!(filter("topic=a"), exact(&["a"]));
    assert_eq!(filter("topic=a*b"), exact(&["a*b"]));
    assert_eq!(
        filter("topic=ftrack.action.*"),
        TopicFilter::OneOf {
            exact: vec![],
            containing: vec!["ftrack.action.".into()]
        }
    );
    assert_eq!(filter("topic=*"), TopicFilter::Any);
    assert_eq!(filter(r#"topic="""#), exact(&[]));
    for text in [
        "data.x=1",
        "not topic=x",
        "topic!=x",
        "topic>x",
        "Topic=x",
        "topic.x=y",
        "topic=a or data.x=1",
        "not not topic=x",
    ] {
        assert_eq!(filter(text), TopicFilter::Any, "{text}");
    }
    assert_eq!(filter("topic=a and data.x=1"), exact(&["a"]));
    assert_eq!(
        filter("data.x=1 and topic=a*"),
        TopicFilter::OneOf {
            exact: vec![],
            containing: vec!["a".into()]
        }
    );
    assert_eq!(filter("topic=a* and topic=abc"), exact(&["abc"]));
    assert_eq!(filter("topic=a or topic=b or topic=a"), exact(&["a", "b"]));
    assert_eq!(
        filter("topic=a or (topic=b* and x=1)"),
        TopicFilter::OneOf {
            exact: vec!["a".into()],
            containing: vec!["b".into()]
        }
    );
    assert_eq!(filter("(topic=a or topic=b) and topic=c"), exact(&["c"]));
    assert_eq!(filter("(topic=a or topic=b) and x=1"), exact(&["a", "b"]));
    assert_eq!(Expression::All(vec![]).topic_filter(), TopicFilter::Any);
    assert_eq!(Expression::Any(vec![]).topic_filter(), exact(&[]));
}

#[test]
fn topic_filter_guarantee_holds_on_samples() {
    let topics = ["a", "b", "abc", "ftrack.action.discover", "", "x*"];
    for text in [
        "topic=a",
        "topic=a* and x!=1",
        "topic=b or topic=c*",
        "(topic=a or topic=b*) and not topic=b",
        "topic=x* or topic=ftrack.*",
    ] {
        let expression = parse(text);
        let TopicFilter::OneOf { exact, containing } = expression.topic_filter() else {
            panic!("{text} should be constrained");
        };
        for topic in topics {
            if expression.matches(&json!({ "topic": topic, "x": "2" })) {
                assert!(
                    exact.iter().any(|e| e == topic)
                        || containing.iter().any(|c| topic.contains(c.as_str())),
                    "{text} matched {topic}"
                );
            }
        }
    }
}
