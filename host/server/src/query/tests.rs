//! Unit tests: every query string of docs/ftrack-server-protocol.md (4.1, 4.2) and of ftrack's
//! own querying guide, each operator, value kind and tolerance, clauses and canonical text.
//! The errors, their columns and the nesting limit are in `tests_errors`.

use super::*;

const UUID: &str = "3f2a9e1c-0c5d-11e4-9b6c-20c9d0831e59";
const UUID2: &str = "4b3c0f2d-1d6e-11e4-8c7d-31d0e1942f60";

/// Parses `text`, failing the test with the error; also checks that the canonical text reads
/// back to the same query.
fn q(text: &str) -> Query {
    let query = parse(text).unwrap_or_else(|error| panic!("{text:?}: {error}"));
    let canonical = query.to_string();
    let again = parse(&canonical).unwrap_or_else(|error| panic!("{canonical:?}: {error}"));
    assert_eq!(again, query, "{text:?} printed as {canonical:?}");
    query
}

pub(super) fn filter(text: &str) -> Filter {
    q(text).filter.expect("a where clause")
}

pub(super) fn err(text: &str) -> QueryError {
    match parse(text) {
        Ok(query) => panic!("{text:?} parsed as {query:?}"),
        Err(error) => error,
    }
}

fn paths(list: &[&str]) -> Vec<Path> {
    list.iter().map(|path| Path::dotted(path)).collect()
}

fn cmp(path: &str, op: CompareOp, value: Value) -> Filter {
    Filter::Compare {
        path: Path::dotted(path),
        op,
        value,
    }
}

fn is(path: &str, value: Value) -> Filter {
    cmp(path, CompareOp::Eq, value)
}

fn string(text: &str) -> Value {
    Value::String(text.into())
}

fn word(text: &str) -> Value {
    Value::Word(text.into())
}

fn int(value: i64) -> Value {
    Value::Integer {
        value,
        text: value.to_string(),
    }
}

fn values(set: &[Value]) -> InSet {
    InSet::Values(set.to_vec())
}

// ----- 4.1: what the Python client generates ---------------------------------------------

#[test]
fn default_projections_and_paging() {
    let query = q("select id, name, parent_id from Task offset 500 limit 500");
    assert_eq!(query.projections, paths(&["id", "name", "parent_id"]));
    assert_eq!(query.entity_type, "Task");
    assert_eq!(query.filter, None);
    assert_eq!((query.offset, query.limit), (Some(500), Some(500)));

    let query = q("select id from Task where name is \"a\" offset 0 limit 500");
    assert_eq!(query.filter, Some(is("name", string("a"))));
    assert_eq!((query.offset, query.limit), (Some(0), Some(500)));
}

#[test]
fn first_and_one() {
    let query = q("select id from Task where name is \"a\" offset 3 limit 1");
    assert_eq!((query.offset, query.limit), (Some(3), Some(1)));
    let query = q("select id from Task limit 1");
    assert_eq!((query.offset, query.limit), (None, Some(1)));
    let query = q("select id from Location where name is \"ftrack.origin\" limit 2");
    assert_eq!(query.limit, Some(2));
    assert_eq!(query.filter, Some(is("name", string("ftrack.origin"))));
}

#[test]
fn populate_one_with_an_unquoted_uuid() {
    let query = q(&format!("select a, b.c from Task where id is {UUID}"));
    assert_eq!(query.projections, paths(&["a", "b.c"]));
    assert_eq!(query.filter, Some(is("id", word(UUID))));
}

#[test]
fn populate_many_without_spaces() {
    let query = q(&format!(
        "select name from Task where id in ({UUID},{UUID2},c)"
    ));
    assert_eq!(
        query.filter,
        Some(Filter::In {
            path: Path::dotted("id"),
            negated: false,
            set: values(&[word(UUID), word(UUID2), word("c")]),
        })
    );
}

#[test]
fn populate_composite_key_without_space_before_and() {
    let one = is("parent_id", string("X"));
    let key = is("key", string("k1"));
    let query = q("select value from Metadata where (parent_id is \"X\"and key is \"k1\")");
    assert_eq!(query.projections, paths(&["value"]));
    assert_eq!(
        query.filter,
        Some(Filter::And(vec![one.clone(), key.clone()]))
    );

    let text = "select value from Metadata where (parent_id is \"X\"and key is \"k1\") or \
                (parent_id is \"Y\"and key is \"k2\")";
    let two = Filter::And(vec![is("parent_id", string("Y")), is("key", string("k2"))]);
    assert_eq!(
        filter(text),
        Filter::Or(vec![Filter::And(vec![one, key]), two])
    );
}

#[test]
fn reference_auto_load() {
    let query = q(&format!(
        "select parent.context_type, parent.id, parent.name from Task where id is {UUID}"
    ));
    assert_eq!(
        query.projections,
        paths(&["parent.context_type", "parent.id", "parent.name"])
    );
    assert_eq!(query.projections[2].segments, ["parent", "name"]);
}

#[test]
fn session_get_in_parentheses() {
    let query = q(&format!(
        "select id, name from Task where (id is \"{UUID}\")"
    ));
    assert_eq!(query.filter, Some(is("id", string(UUID))));
    let query = q(&format!("Task where (id is \"{UUID}\")"));
    assert!(query.projections.is_empty());
}

#[test]
fn session_ensure() {
    let query = q("User where username is \"martin\" and n is 5 limit 2");
    assert!(query.projections.is_empty());
    assert_eq!(query.entity_type, "User");
    assert_eq!(
        query.filter,
        Some(Filter::And(vec![
            is("username", string("martin")),
            is("n", int(5))
        ]))
    );
    assert_eq!(query.limit, Some(2));
    // Python's str() of a datetime (quoted), a float, a bool and None.
    let text = "select id from Timelog where start is \"2024-01-31T10:00:00\" and \
                duration is 1.5 and is_billable is True and comment is None";
    let Some(Filter::And(operands)) = q(text).filter else {
        panic!("an and");
    };
    assert_eq!(operands[0], is("start", string("2024-01-31T10:00:00")));
    let decimal = Value::Decimal {
        value: 1.5,
        text: "1.5".into(),
    };
    assert_eq!(operands[1], is("duration", decimal));
    let yes = Value::Bool {
        value: true,
        text: "True".into(),
    };
    assert_eq!(operands[2], is("is_billable", yes));
    let none = Value::Null {
        text: "None".into(),
    };
    assert_eq!(operands[3], is("comment", none));
}

#[test]
fn locations() {
    let text = format!(
        "select component_id, resource_identifier from ComponentLocation where location_id is \
         {UUID} and component_id in ({UUID}, {UUID2})"
    );
    let query = q(&text);
    assert_eq!(
        query.projections,
        paths(&["component_id", "resource_identifier"])
    );
    assert_eq!(
        query.filter,
        Some(Filter::And(vec![
            is("location_id", word(UUID)),
            Filter::In {
                path: Path::dotted("component_id"),
                negated: false,
                set: values(&[word(UUID), word(UUID2)]),
            },
        ]))
    );
    let query = q(&format!(
        "ComponentLocation where component_id is {UUID} and location_id is {UUID2}"
    ));
    assert_eq!(query.entity_type, "ComponentLocation");
    assert!(matches!(query.filter, Some(Filter::And(ref list)) if list.len() == 2));
}

#[test]
fn availability_and_settings() {
    let query = q(&format!(
        "select component_locations.location_id from FileComponent where id is {UUID}"
    ));
    assert_eq!(
        query.projections,
        paths(&["component_locations.location_id"])
    );
    let query = q(&format!(
        "select members, component_locations.location_id from ContainerComponent where id is {UUID}"
    ));
    assert_eq!(query.projections.len(), 2);
    let query = q(
        "select key, project_id, id, object_type_id, entity_type, is_hierarchical \
                   from CustomAttributeConfiguration",
    );
    assert_eq!(query.projections.len(), 6);
    assert_eq!(query.entity_type, "CustomAttributeConfiguration");
    assert_eq!(query.filter, None);
    let text =
        "select value from Setting where name is \"storage_scenario\" and group is \"STORAGE\"";
    assert_eq!(
        filter(text),
        Filter::And(vec![
            is("name", string("storage_scenario")),
            is("group", string("STORAGE"))
        ])
    );
}

#[test]
fn timer_schema_and_structure() {
    assert_eq!(
        filter(&format!("Timer where user_id = \"{UUID}\"")),
        is("user_id", string(UUID))
    );
    let query = q(&format!(
        "select task_status from SchemaStatus where schema_id is {UUID}"
    ));
    assert_eq!(query.projections, paths(&["task_status"]));
    let query = q(&format!(
        "select task_type from SchemaType where schema_id is {UUID}"
    ));
    assert_eq!(query.entity_type, "SchemaType");
    let query = q(&format!("select link from AssetVersion where id is {UUID}"));
    assert_eq!(query.filter, Some(is("id", word(UUID))));
}

#[test]
fn empty_default_projections_and_keyword_named_attributes() {
    // `', '.join([])` for a type without default projections.
    let query = q("select  from Task where id is 1");
    assert!(query.projections.is_empty());
    assert_eq!(query.entity_type, "Task");
    // AssetVersionLink and TypedContextLink have an attribute called `from`.
    let query = q(&format!(
        "select from from AssetVersionLink where id is {UUID}"
    ));
    assert_eq!(query.projections, paths(&["from"]));
    let query =
        q("select from, to, from.name from TypedContextLink where from.id is 1 order by from");
    assert_eq!(query.projections, paths(&["from", "to", "from.name"]));
    assert_eq!(query.filter, Some(is("from.id", int(1))));
    assert_eq!(
        query.order_by,
        [(Path::dotted("from"), Direction::Ascending)]
    );
}

// ----- 4.2: what Connect and the publisher send -------------------------------------------

#[test]
fn connect_entity_tree() {
    let query = q("select id, full_name, name from Project where status is active");
    assert_eq!(query.filter, Some(is("status", word("active"))));
    let query = q(&format!(
        "select name, object_type_id, object_type.name, object_type.is_leaf, object_type.icon \
         from TypedContext where parent_id is {UUID}"
    ));
    assert_eq!(query.projections.len(), 5);
    assert_eq!(query.projections[4], Path::new(["object_type", "icon"]));
}

#[test]
fn connect_user_tasks() {
    let text = "select project, priority, assignments.resource.username, link, status.name from \
                Task where assignments any (resource.username = \"u\") and status.name not_in \
                (\"Omitted\", \"On Hold\", \"Completed\") and project.status is \"active\" \
                order by priority.sort limit 10";
    let query = q(text);
    assert_eq!(
        query.projections[2],
        Path::dotted("assignments.resource.username")
    );
    assert_eq!(
        query.filter,
        Some(Filter::And(vec![
            Filter::Any {
                path: Path::dotted("assignments"),
                filter: Some(Box::new(is("resource.username", string("u")))),
            },
            Filter::In {
                path: Path::dotted("status.name"),
                negated: true,
                set: values(&[string("Omitted"), string("On Hold"), string("Completed")]),
            },
            is("project.status", string("active")),
        ]))
    );
    assert_eq!(
        query.order_by,
        [(Path::dotted("priority.sort"), Direction::Ascending)]
    );
    assert_eq!(query.limit, Some(10));
    // The same over several lines, as the publisher's documentation shows it.
    let multiline = text
        .replace(" from Task ", "\nfrom Task\n")
        .replace(" order", "\norder");
    assert_eq!(q(&multiline), query);
}

#[test]
fn connect_actions_and_selectors() {
    assert_eq!(
        filter("select id from User where username=\"u\""),
        is("username", string("u"))
    );
    let text = format!(
        "select value from Metadata where key is \"k\" and parent_type is \"User\" and \
         parent_id is \"{UUID}\""
    );
    assert!(matches!(filter(&text), Filter::And(list) if list.len() == 3));
    assert_eq!(
        filter(&format!("select name from Asset where parent.id is {UUID}")),
        is("parent.id", word(UUID))
    );
    let query = q("select id, name from AssetType");
    assert_eq!(query.projections, paths(&["id", "name"]));
    assert_eq!(query.filter, None);
    assert_eq!(
        filter("Location where name is \"ftrack.origin\""),
        is("name", string("ftrack.origin"))
    );
    assert_eq!(
        filter(&format!("TypedContext where id is {UUID}")),
        is("id", word(UUID))
    );
    assert_eq!(
        filter(&format!("Task where id={UUID}")),
        is("id", word(UUID))
    );
}

#[test]
fn querying_guide_examples() {
    assert_eq!(q("Project"), Query::new("Project"));
    let text = "Project where status is active and (name like \"%thrones\" or full_name like \
                \"%thrones\")";
    let like = |path: &str| cmp(path, CompareOp::Like, string("%thrones"));
    assert_eq!(
        filter(text),
        Filter::And(vec![
            is("status", word("active")),
            Filter::Or(vec![like("name"), like("full_name")])
        ])
    );
    assert_eq!(
        filter("Task where timelogs.start >= \"2015-06-01T00:00:00+01:00\""),
        cmp(
            "timelogs.start",
            CompareOp::Ge,
            string("2015-06-01T00:00:00+01:00")
        )
    );
    assert_eq!(
        filter("Note where author has (first_name is \"Jane\" and last_name is \"Doe\")"),
        Filter::Has {
            path: Path::dotted("author"),
            filter: Some(Box::new(Filter::And(vec![
                is("first_name", string("Jane")),
                is("last_name", string("Doe"))
            ]))),
        }
    );
    assert_eq!(
        filter("Project where metadata any (key=some_key and value=some_value)"),
        Filter::Any {
            path: Path::dotted("metadata"),
            filter: Some(Box::new(Filter::And(vec![
                is("key", word("some_key")),
                is("value", word("some_value"))
            ]))),
        }
    );
    assert_eq!(
        filter("User where not timelogs any ()"),
        Filter::Not(Box::new(Filter::Any {
            path: Path::dotted("timelogs"),
            filter: None
        }))
    );
}

// ----- Operators, values, precedence --------------------------------------------------------

#[test]
fn every_operator_spelling() {
    use CompareOp::*;
    let cases = [
        ("=", Eq),
        ("is", Eq),
        ("IS", Eq),
        ("!=", Ne),
        ("is_not", Ne),
        (">", Gt),
        ("after", Gt),
        ("greater_than", Gt),
        ("<", Lt),
        ("before", Lt),
        ("less_than", Lt),
        (">=", Ge),
        ("<=", Le),
        ("like", Like),
        ("not_like", NotLike),
        ("not like", NotLike),
        ("Not_Like", NotLike),
    ];
    for (spelling, op) in cases {
        assert_eq!(
            filter(&format!("T where a {spelling} 1")),
            cmp("a", op, int(1))
        );
        // Symbols need no spaces around them.
        if !spelling.starts_with(char::is_alphabetic) {
            assert_eq!(
                filter(&format!("T where a{spelling}1")),
                cmp("a", op, int(1))
            );
        }
    }
    for (spelling, negated) in [
        ("in", false),
        ("not_in", true),
        ("not in", true),
        ("IN", false),
    ] {
        let expected = Filter::In {
            path: Path::dotted("a"),
            negated,
            set: values(&[int(1), string("2")]),
        };
        assert_eq!(
            filter(&format!("T where a {spelling} (1, \"2\")")),
            expected
        );
    }
}

#[test]
fn every_value_kind() {
    let value = |text: &str| match filter(&format!("T where a is {text}")) {
        Filter::Compare { value, .. } => value,
        other => panic!("{other:?}"),
    };
    assert_eq!(value("\"x y\""), string("x y"));
    assert_eq!(value("'x y'"), string("x y"));
    assert_eq!(value(r#""say \"hi\"""#), string("say \"hi\""));
    assert_eq!(value(r#"'it\'s'"#), string("it's"));
    assert_eq!(value(r#""a\\b""#), string("a\\b"));
    assert_eq!(value(r#""C:\temp\x""#), string(r"C:\temp\x"));
    assert_eq!(value(r#""it's""#), string("it's"));
    assert_eq!(value("''"), string(""));
    assert_eq!(value("\"5\""), string("5"));
    assert_eq!(value("5"), int(5));
    let minus = Value::Integer {
        value: -12,
        text: "-12".into(),
    };
    assert_eq!(value("-12"), minus);
    let decimal = Value::Decimal {
        value: -0.25,
        text: "-0.25".into(),
    };
    assert_eq!(value("-0.25"), decimal);
    let huge = "123456789012345678901234567890";
    assert!(
        matches!(value(huge), Value::Decimal { value, ref text } if value > 1e29 && text == huge)
    );
    assert!(matches!(value("none"), Value::Null { .. }));
    assert!(matches!(value("NULL"), Value::Null { .. }));
    assert!(matches!(value("true"), Value::Bool { value: true, .. }));
    assert!(matches!(value("False"), Value::Bool { value: false, .. }));
    for bare in [
        UUID,
        "active",
        "a.b@c.d",
        "some_key",
        "path/to:thing+1",
        "1.2.3",
        "5a",
        "-",
        "1.",
        "x%",
        "été",
    ] {
        assert_eq!(value(bare), word(bare), "{bare}");
    }
    // Both forms keep their text.
    assert_eq!(value("007").text(), "007");
    assert_eq!(value("\"007\"").text(), "007");
    assert!(value("\"007\"").is_quoted() && !value("007").is_quoted());
}

#[test]
fn and_binds_tighter_than_or() {
    let (a, b, c) = (is("a", int(1)), is("b", int(2)), is("c", int(3)));
    assert_eq!(
        filter("T where a is 1 or b is 2 and c is 3"),
        Filter::Or(vec![a.clone(), Filter::And(vec![b.clone(), c.clone()])])
    );
    assert_eq!(
        filter("T where a is 1 and b is 2 or c is 3"),
        Filter::Or(vec![Filter::And(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        filter("T where (a is 1 or b is 2) and c is 3"),
        Filter::And(vec![Filter::Or(vec![a.clone(), b.clone()]), c.clone()])
    );
    // Chains are flat; parentheses nest.
    assert_eq!(
        filter("T where a is 1 AND b is 2 And c is 3"),
        Filter::And(vec![a.clone(), b.clone(), c.clone()])
    );
    assert_eq!(
        filter("T where (a is 1 and b is 2) and c is 3"),
        Filter::And(vec![Filter::And(vec![a, b]), c])
    );
}

#[test]
fn not_prefix() {
    let (a, b) = (is("a", int(1)), is("b", int(2)));
    let not = |filter: Filter| Filter::Not(Box::new(filter));
    assert_eq!(filter("T where not a is 1"), not(a.clone()));
    assert_eq!(
        filter("T where not a is 1 and b is 2"),
        Filter::And(vec![not(a.clone()), b.clone()])
    );
    assert_eq!(
        filter("T where NOT (a is 1 or b is 2)"),
        not(Filter::Or(vec![a.clone(), b.clone()]))
    );
    assert_eq!(filter("T where not not a is 1"), not(not(a)));
    assert_eq!(
        filter("T where not parent has (b is 2)"),
        not(Filter::Has {
            path: Path::dotted("parent"),
            filter: Some(Box::new(b))
        })
    );
}

#[test]
fn nested_relations() {
    let text = "Task where parent has (parent has (name is \"sq\") and children any (status.name \
                is \"Done\" and not assignments any ())) or ancestors any (name like \"ep%\")";
    let inner = Filter::And(vec![
        Filter::Has {
            path: Path::dotted("parent"),
            filter: Some(Box::new(is("name", string("sq")))),
        },
        Filter::Any {
            path: Path::dotted("children"),
            filter: Some(Box::new(Filter::And(vec![
                is("status.name", string("Done")),
                Filter::Not(Box::new(Filter::Any {
                    path: Path::dotted("assignments"),
                    filter: None,
                })),
            ]))),
        },
    ]);
    assert_eq!(
        filter(text),
        Filter::Or(vec![
            Filter::Has {
                path: Path::dotted("parent"),
                filter: Some(Box::new(inner)),
            },
            Filter::Any {
                path: Path::dotted("ancestors"),
                filter: Some(Box::new(cmp("name", CompareOp::Like, string("ep%")))),
            },
        ])
    );
    assert_eq!(
        filter("Task where parent has ()"),
        Filter::Has {
            path: Path::dotted("parent"),
            filter: None
        }
    );
}

#[test]
fn subquery_and_empty_lists() {
    let query =
        q("Task where project_id in (select id from Project where status is active) limit 3");
    let Some(Filter::In {
        set: InSet::Subquery(sub),
        negated: false,
        ..
    }) = query.filter
    else {
        panic!("a subquery");
    };
    assert_eq!(sub.projections, paths(&["id"]));
    assert_eq!(sub.entity_type, "Project");
    assert_eq!(sub.filter, Some(is("status", word("active"))));
    assert_eq!(query.limit, Some(3));
    // `select` alone, or followed by a comma, is a word in the list.
    assert_eq!(
        filter("T where a in (select)"),
        Filter::In {
            path: Path::dotted("a"),
            negated: false,
            set: values(&[word("select")])
        }
    );
    assert!(matches!(
        filter("T where a in (select, b)"),
        Filter::In { set: InSet::Values(list), .. } if list.len() == 2
    ));
    assert_eq!(
        filter("T where a not_in ()"),
        Filter::In {
            path: Path::dotted("a"),
            negated: true,
            set: values(&[])
        }
    );
    // A subquery with its own clauses, and one nested in another.
    let query = q(
        "T where a in (select b from U where c not_in (select d from V) order by b desc \
                   limit 1)",
    );
    let canonical = query.to_string();
    assert!(canonical.contains("(select d from V)"), "{canonical}");
    assert!(
        canonical.contains("order by b descending limit 1)"),
        "{canonical}"
    );
}

// ----- Tolerances, clauses, case ----------------------------------------------------------

#[test]
fn spacing_tolerances() {
    let spaced = filter("T where a is \"x\" and b in (1, 2) and c = 3");
    assert_eq!(filter("T where a is \"x\"and b in (1,2) and c=3"), spaced);
    assert_eq!(filter("T where a is\"x\"and b in(1,2)and c=3"), spaced);
    assert_eq!(
        filter("T  where\ta is \"x\"\n and b in ( 1 , 2 ) and c =3 "),
        spaced
    );
    assert_eq!(filter("T where (a is \"x\")and(b in (1,2))and c=3"), spaced);
    assert_eq!(
        filter("T where a !=\"x\""),
        cmp("a", CompareOp::Ne, string("x"))
    );
    assert_eq!(filter("T where a>=-1"), cmp("a", CompareOp::Ge, int(-1)));
    assert_eq!(
        filter("T where email is a.b@c.d"),
        is("email", word("a.b@c.d"))
    );
}

#[test]
fn keywords_are_case_insensitive() {
    let lower = q("select a from T where not b is 1 or c in (2) order by a desc offset 1 limit 2");
    let upper = q("SELECT a FROM T WHERE NOT b IS 1 OR c IN (2) ORDER BY a DESC OFFSET 1 LIMIT 2");
    assert_eq!(lower, upper);
    // Names keep their case.
    assert_eq!(q("select Name from task").projections, paths(&["Name"]));
    assert_eq!(q("select Name from task").entity_type, "task");
}

#[test]
fn order_by_offset_limit() {
    let query = q("select a from T order by a, b.c descending, d asc, e DESC, f ascending");
    assert_eq!(
        query.order_by,
        [
            (Path::dotted("a"), Direction::Ascending),
            (Path::dotted("b.c"), Direction::Descending),
            (Path::dotted("d"), Direction::Ascending),
            (Path::dotted("e"), Direction::Descending),
            (Path::dotted("f"), Direction::Ascending),
        ]
    );
    let query = q("T where a is 1 order by a offset 10 limit 5");
    assert_eq!(
        (query.offset, query.limit, query.order_by.len()),
        (Some(10), Some(5), 1)
    );
    // Any order: the Python client appends offset and limit to whatever it was given.
    let reordered = q("T where a is 1 limit 5 offset 10 order by a");
    assert_eq!(reordered, query);
    assert_eq!(q("T limit 0").limit, Some(0));
    assert_eq!(q("T offset 18446744073709551615").offset, Some(u64::MAX));
    assert_eq!(q("T order by a").to_string(), "T order by a");
    assert_eq!(
        q("select a,b from T where x=1 order by a desc,b offset 1 limit 2").to_string(),
        "select a, b from T where x is 1 order by a descending, b offset 1 limit 2"
    );
}

#[test]
fn canonical_text() {
    let text = "select a from T where not (a is 1 or b is 'x\"y') and c any () and (d is 1 and \
                e != none) order by a limit 1";
    assert_eq!(
        q(text).to_string(),
        "select a from T where not (a is 1 or b is \"x\\\"y\") and c any () and (d is 1 and \
         e is_not none) order by a limit 1"
    );
}
