#!/usr/bin/env python3
"""Write tests/data/expression_corpus.json: subscription expression cases judged by ftrack.

Run it with a Python that has the reference implementation installed, from anywhere:

    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install ftrack-python-api==3.1.0
    /tmp/ref/bin/python scripts/gen_expression_corpus.py

Each case is {"expression": str, "event": object, "outcome": ...}, where the outcome is what
ftrack_api 3.1.0's own ``Parser`` does with it:

* "parse-error": ``Parser().parse(expression)`` raised (a ParseError, or the AttributeError
  that ftrack raises for an empty expression);
* "raises": it parsed, but ``.match(event)`` raised (TypeError, IndexError, ...);
* "match" / "no-match": what ``.match(event)`` returned.

The cases are generated systematically (keys x operators x values x event value types,
nesting, and/or/not, whitespace, keyword case, quoting, malformed text) with a fixed seed,
so the output is the same on every run. tests/expression_corpus.rs checks the Rust
implementation against every case. Regenerate after changing this script and commit both.
"""

import itertools
import json
import pathlib
import random
import sys

from ftrack_api.event.expression import Parser

OUTPUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "expression_corpus.json"

rng = random.Random(20240531)
parser = Parser()
cases = []
seen = set()


def judge(expression, event):
    try:
        parsed = parser.parse(expression)
    except Exception:  # ParseError, or AttributeError for empty text
        return "parse-error"
    try:
        return "match" if parsed.match(event) else "no-match"
    except Exception:
        return "raises"


def add(expression, event=None):
    """Add one case (duplicates are skipped)."""
    event = {"topic": "ftrack.test"} if event is None else event
    key = (expression, json.dumps(event, sort_keys=True))
    if key in seen:
        return
    seen.add(key)
    cases.append({"expression": expression, "event": event, "outcome": judge(expression, event)})


OPERATORS = ["=", "!=", "<", "<=", ">", ">="]

# What the event holds at the key, by kind. None of them is missing: that is MISSING below.
EVENT_VALUES = {
    "equal string": "abc",
    "greater string": "abd",
    "lesser string": "abb",
    "containing string": "xabcx",
    "upper-case string": "ABC",
    "empty string": "",
    "integer": 10,
    "float": 1.5,
    "true": True,
    "false": False,
    "null": None,
    "list with string": ["abc", "x"],
    "list without string": [1, "y"],
    "empty list": [],
    "object with key": {"abc": 1},
    "empty object": {},
}
MISSING = object()

# The value as written in the expression.
EXPRESSION_VALUES = [
    "abc",
    '"abc"',
    "'abc'",
    "ab*",
    "bc*",
    '"b*"',
    "*",
    "a*c",
    "*c",
    '""',
    "''",
    "10",
    "1.5",
    "true",
    "null",
    "ABC",
    "abc.def-1,2@x+y/z_",
]


def event_with(path, value):
    """An event with `value` at the dotted `path` (nothing there for MISSING)."""
    event = {"topic": "ftrack.test", "data": {}}
    if value is MISSING:
        return event
    steps = path.split(".")
    target = event
    for step in steps[:-1]:
        target = target.setdefault(step, {})
        if not isinstance(target, dict):
            return event
    target[steps[-1]] = value
    return event


def conditions_matrix():
    """Every operator against every kind of event value, with sampled expression values."""
    kinds = list(EVENT_VALUES.items()) + [("missing", MISSING)]
    for operator, (_, value) in itertools.product(OPERATORS, kinds):
        for written in rng.sample(EXPRESSION_VALUES, 3):
            add("data.x" + operator + written, event_with("data.x", value))
    # Every written value with = and != against a string and against the value it names.
    for written in EXPRESSION_VALUES:
        for operator in ["=", "!="]:
            add("data.x" + operator + written, event_with("data.x", "abc"))
            add("topic" + operator + written, {"topic": written.strip("\"'")})


def key_paths():
    nested = {
        "topic": "ftrack.test",
        "data": {
            "a": {"b": {"c": "deep"}},
            "list": [{"a": "b"}, "x"],
            "text": "abc",
            "n": 1,
            "z": None,
            "": {"e": "empty-step"},
            "Case": "upper",
        },
        "source": {"user": {"username": "alice"}, "id": "src1"},
        "not": "k",
        "and": "k",
        "or": "k",
    }
    for key in [
        "data.a.b.c",
        "data.a.b",
        "data.a.x.c",
        "data.list.a",
        "data.list.0",
        "data.text.a",
        "data.n.a",
        "data.z.a",
        "data..e",
        "data.case",
        "data.Case",
        "Data.Case",
        "source.user.username",
        "source.user",
        "missing",
        "missing.deeper",
        "not",
        "and",
        "or",
        ".x",
        "data.",
    ]:
        for operator, written in [("=", "deep"), ("!=", "deep"), ("=", "upper"), ("!=", "x"),
                                  ("=", "k"), ("=", "a*"), ("<", "m"), ("=", "empty-step")]:
            if rng.random() < 0.55:
                add(key + operator + written, nested)


# Conditions whose outcome against BOOLEAN_EVENT is known: true, false, raising.
BOOLEAN_EVENT = {"topic": "ftrack.update", "data": {"n": 3, "name": "b", "tags": ["x"]}}
TRUE_ATOMS = ["topic=ftrack.update", "data.name>a", "data.tags=x*", "topic=update*", "data.n!=3"]
FALSE_ATOMS = ["topic=other", "data.name<a", "data.missing!=1", "data.n=3", "topic=Ftrack*"]
RAISING_ATOMS = ["data.n<5", "data.n=3*", 'data.name=""', "data.tags>=a"]
SHAPES = [
    "{0}",
    "not {0}",
    "not not {0}",
    "{0} and {1}",
    "{0} or {1}",
    "{0} and {1} and {2}",
    "{0} or {1} or {2}",
    "{0} or {1} and {2}",
    "{0} and {1} or {2}",
    "({0} or {1}) and {2}",
    "{0} and ({1} or {2})",
    "not {0} and {1}",
    "not ({0} and {1})",
    "not ({0} or {1}) or {2}",
    "{0} and not {1}",
    "(({0}))",
    "({0} and ({1} or not {2}))",
]


def boolean_structure():
    atoms = TRUE_ATOMS + FALSE_ATOMS
    for shape in SHAPES:
        for _ in range(6):
            add(shape.format(*(rng.choice(atoms) for _ in range(3))), BOOLEAN_EVENT)
        # And once with a raising condition somewhere.
        picked = [rng.choice(atoms) for _ in range(3)]
        picked[rng.randrange(shape.count("{"))] = rng.choice(RAISING_ATOMS)
        add(shape.format(*picked), BOOLEAN_EVENT)


def odd_case(word):
    return "".join(c.upper() if rng.random() < 0.5 else c for c in word)


def spacing():
    """Whitespace between tokens and keyword case."""
    spaces = [" ", "  ", "\t", "\n", "\r\n", " \t "]
    event = {"topic": "ftrack.update", "data": {"x": "1", "y": "2"}}

    def s():
        return rng.choice(spaces + [" "] * 4)

    for _ in range(40):
        expression = (
            rng.choice(["", " ", "\t", "\n", "\u00a0", "\x1c"])
            + "topic" + rng.choice(["", " ", "\t"]) + "=" + rng.choice(["", " ", "\t"]) + "ftrack.*"
            + s() + odd_case(rng.choice(["and", "or"])) + s()
            + odd_case("not") + s() + "(data.x" + s() + rng.choice(["=", "!="]) + s() + "1"
            + s() + odd_case(rng.choice(["and", "or"])) + s() + "data.y=2)"
            + rng.choice(["", " ", "\t", "\n", "\u3000"])
        )
        add(expression, event)
    # Keywords glued to their neighbours, or not whole words.
    for expression in [
        "(topic=ftrack.update)and(data.x=1)",
        "(topic=ftrack.update)or(data.x=1)",
        'topic="ftrack.update"and data.x=1',
        "not(data.x=2)",
        "nottopic=x",
        "not_x=1",
        "not.x=1",
        "topic=ftrack.update and.x=1",
        "topic=ftrack.update andy=1",
        "topic=ftrack.update AND data.x=1",
        "topic=ftrack.update\u00a0and data.x=1",
        "topic=ftrack.update and\u0131 data.x=1",
        "topic=ftrack.update\x0band data.x=1",
        "not=x",
        "not =x",
        "not not=x",
        "and=x",
        "or=x or or=y",
        "topic=ftrack.update and and=x",
        "topic=ftrack.update or=x",
        "NOT NOT topic=ftrack.update",
        "nOt topic=ftrack.update",
    ]:
        add(expression, event)
        add(expression, {"topic": "x", "not": "x", "and": "x", "or": "y", ".x": "1", "x": "1"})


def quoting():
    written_forms = [
        ('"a b"', "a b"),
        ("'a b'", "a b"),
        ('"a:b"', "a:b"),
        ('"Mega Modeling"', "Mega Modeling"),
        ('"tab\there"', "tab\there"),
        ('"tab\there"', "tab    here"),
        ('"12345\tx"', "12345        x"),
        ('"C:\\\\temp"', "C:\\\\temp"),
        ('"C:\\\\temp"', "C:\\temp"),
        ('"C:\\temp"', "C:\\temp"),
        ("'say \"hi\"'", 'say "hi"'),
        ('"it\'s"', "it's"),
        ('"a""b"', 'a""b'),
        ('"a""b"', 'a"b'),
        ("'it''s'", "it''s"),
        ('"\\"x\\""', '\\"x\\"'),
        ('"\\x41"', "\\x41"),
        ('"\\x41"', "A"),
        ('"line\\\nbreak"', "line\\\nbreak"),
        ('"\u00e9t\u00e9"', "\u00e9t\u00e9"),
        ('"\u00e9*"', "caf\u00e9!"),
        ('"*"', "x"),
        ('"a b*"', "xa bx"),
        ('""', ""),
        ("''", "x"),
        # Malformed quoting.
        ('"abc', "abc"),
        ("'abc", "abc"),
        ('"a""', 'a"'),
        ('"\\x"', "\\x"),
        ('"\\xg"', "\\xg"),
        ('"b\\"', "b\\"),
        ('"a\nb"', "a\nb"),
        ('"a\rb"', "a\rb"),
        ("'a\"", "a"),
        ('"a"b', "ab"),
    ]
    for written, held in written_forms:
        for operator in ["=", "!="]:
            add("data.label" + operator + written, {"topic": "t", "data": {"label": held}})


def realistic():
    events = [
        {"topic": "ftrack.action.discover", "data": {"selection": [{"entityId": "1", "entityType": "task"}]},
         "source": {"id": "s1", "user": {"username": "alice"}}, "target": "", "in_reply_to_event": None},
        {"topic": "ftrack.action.launch", "data": {"actionIdentifier": "my-action", "variant": "2024"},
         "source": {"id": "s2", "user": {"username": "bob"}}, "target": "", "in_reply_to_event": None},
        {"topic": "ftrack.meta.reply", "data": {}, "source": {"id": "hub"}, "target": "id=s1",
         "in_reply_to_event": "e1"},
        {"topic": "ftrack.connect.discover", "data": {}, "source": {"user": {"username": "alice"}}},
    ]
    for expression in [
        "topic=ftrack.action.discover",
        "topic=ftrack.action.discover and source.user.username=alice",
        "topic=ftrack.action.launch and data.actionIdentifier=my-action and source.user.username=bob",
        "topic=ftrack.action.*",
        "topic=action*",
        "topic=ftrack.meta.reply and in_reply_to_event=e1",
        "in_reply_to_event!=e1",
        "id=s1",
        "target=id=s1",
        'target="id=s1"',
        "topic=ftrack.connect.discover and source.user.username=alice",
        "topic=ftrack.action.discover or topic=ftrack.action.launch",
        "data.variant>=2023",
        "data.variant<2023",
        "data.selection=*",
        "data.selection.entityId=1",
        "topic=*",
        "topic!=ftrack.meta.reply",
        "not topic=ftrack.meta.*",
    ]:
        for event in events:
            add(expression, event)


MALFORMED = [
    "",
    " ",
    "\t\n",
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
    "topic=>x",
    "topic<>x",
    "topic!x",
    "topic!==x",
    "topic=<x",
    "()",
    "(())",
    "not",
    "not not",
    "topic=x or",
    "or topic=x",
    "topic=x and and topic=y",
    "topic=x or or topic=y",
    "topic=x not topic=y",
    "topic=x (topic=y)",
    "(topic=x)(topic=y)",
    "topic=x and ()",
    "topic x",
    "topic",
    "to pic=x",
    "topic=x,y z",
    "topic=#x",
    "topic=x;",
    "topic=\u00e9",
    "\u00e9=x",
    "data-x=1",
    "data/x=1",
    "data x=1",
    "topic=x\u00a0",
    "topic\u00a0=x",
    "topic=x and\u00a0topic=y",
]


def malformed():
    for expression in MALFORMED:
        add(expression)
    # Random single-character damage to valid expressions.
    valid = [
        "topic=ftrack.action.discover and source.user.username=alice",
        "not (data.x=1 or data.y!=2) and topic=ftrack.*",
        'data.label="Mega Modeling" or data.label=\'x y\'',
        "topic>=a and topic<b",
    ]
    junk = list("()=!<>\"' \t.*ax$:,@+-_")
    for _ in range(80):
        text = rng.choice(valid)
        at = rng.randrange(len(text))
        if rng.random() < 0.5:
            text = text[:at] + text[at + 1:]
        else:
            text = text[:at] + rng.choice(junk) + text[at:]
        add(text, {"topic": "ftrack.action.discover", "data": {"x": "1", "y": "2", "label": "x y"},
                   "source": {"user": {"username": "alice"}}})


def main():
    conditions_matrix()
    key_paths()
    boolean_structure()
    spacing()
    quoting()
    realistic()
    malformed()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with OUTPUT.open("w", encoding="utf-8", newline="\n") as out:
        out.write("[\n")
        out.write(",\n".join(json.dumps(case, ensure_ascii=False) for case in cases))
        out.write("\n]\n")
    counts = {}
    for case in cases:
        counts[case["outcome"]] = counts.get(case["outcome"], 0) + 1
    print(f"wrote {len(cases)} cases to {OUTPUT}: "
          + ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())), file=sys.stderr)


if __name__ == "__main__":
    main()
