"""Generates the corpus `connect-sequence` is checked against, from the real clique 1.6.1.

    $(./scripts/python-ref.sh) scripts/gen_clique_corpus.py > tests/data/clique/corpus.json

Each case records its input and what clique answered: for `assemble`, the collections
(head, tail, padding, indexes, `format()`, `format('{holes}')`, `format('{range}')`, members)
and the remainder, or the error; for `format`, `parse` and `contains`, the same. Indexes are
written as strings (clique's are Python ints, of any size). Hand-written cases cover each rule
clique has; seeded random ones mix sequences, holes, paddings, versions and odd names. The
output is deterministic: run it again and nothing changes.
"""

import json
import random
import sys

import clique

SEED = 20261205


def collection_record(collection):
    return {
        "head": collection.head,
        "tail": collection.tail,
        "padding": collection.padding,
        "indexes": [str(i) for i in collection.indexes],
        "format": collection.format(),
        "holes": collection.format("{holes}"),
        "range": collection.format("{range}"),
        "members": list(collection),
    }


def assemble_case(name, items, patterns=None, minimum_items=2, case_sensitive=True,
                  assume_padded=False):
    case = {
        "name": name,
        "items": items,
        "patterns": patterns,
        "minimum_items": minimum_items,
        "case_sensitive": case_sensitive,
        "assume_padded": assume_padded,
    }
    try:
        collections, remainder = clique.assemble(
            items,
            patterns=patterns,
            minimum_items=minimum_items,
            case_sensitive=case_sensitive,
            assume_padded_when_ambiguous=assume_padded,
        )
        case["collections"] = [collection_record(c) for c in collections]
        case["remainder"] = remainder
    except Exception as error:  # clique's own errors are part of its behaviour
        case["error"] = type(error).__name__
    return case


FRAMES = clique.PATTERNS["frames"]
VERSIONS = clique.PATTERNS["versions"]
DIGITS = clique.DIGITS_PATTERN


def handwritten():
    seq = lambda head, tail, indexes, pad=4: [
        "{0}{1:0{2}d}{3}".format(head, i, pad, tail) for i in indexes
    ]
    cases = [
        assemble_case("empty", []),
        assemble_case("default_simple", seq("/r/f.", ".exr", [1, 2, 3])),
        assemble_case("frames_simple", seq("/r/f.", ".exr", [1, 2, 3, 5, 9]), [FRAMES]),
        assemble_case("frames_tail_rules", ["a.0001.mp4", "a.0002.mp4", "b.0001.tar.gz",
                      "b.0002.tar.gz", "c.0001.h264", "c.0002.h264", "d.0001", "d.0002",
                      "e.0001.bgeo.sc", "e.0002.bgeo.sc"], [FRAMES]),
        assemble_case("frames_digit_after_dot_in_tail", ["f.0001.1.exr", "f.0001.2.exr"],
                      [FRAMES]),
        assemble_case("underscore_frame_separator", seq("f_", ".exr", [1, 2]), [FRAMES]),
        assemble_case("frames_dotted_hidden_head", seq(".f.", ".exr", [1, 2]), [FRAMES]),
        assemble_case("frames_negative", ["f.-001.exr", "f.-002.exr"], [FRAMES]),
        assemble_case("default_negative", ["f.-001.exr", "f.-002.exr"]),
        assemble_case("frames_zero_and_double_zero", ["f.0.exr", "f.1.exr", "g.00.exr",
                      "g.01.exr"], [FRAMES]),
        assemble_case("frames_padding_mismatch_singletons", ["f.1.exr", "f.01.exr",
                      "f.001.exr"], [FRAMES]),
        assemble_case("frames_padding_mismatch_3_vs_4", seq("f.", ".exr", [1, 2], 3)
                      + seq("f.", ".exr", [3, 4], 4), [FRAMES]),
        assemble_case("frames_padding_partial_merge", ["f.0999.exr", "f.1000.exr",
                      "f.10000.exr", "f.10001.exr"], [FRAMES]),
        assemble_case("frames_padding_full_merge", ["f.0998.exr", "f.0999.exr",
                      "f.1000.exr", "f.1001.exr"], [FRAMES]),
        assemble_case("default_padding_boundary_overlap", ["f0999", "f1000", "f10000",
                      "f10001"]),
        assemble_case("frames_assume_padded_single_digit", seq("f.", ".exr", [1, 2, 3], 0),
                      [FRAMES], assume_padded=True),
        assemble_case("frames_assume_padded_1000", seq("f.", ".exr", [1000, 1001, 1002], 0),
                      [FRAMES], assume_padded=True),
        assemble_case("frames_assume_padded_999_1001", seq("f.", ".exr", [999, 1000, 1001],
                      0), [FRAMES], assume_padded=True),
        assemble_case("frames_assume_padded_after_minimum", seq("f.", ".exr", [1000], 0),
                      [FRAMES], assume_padded=True),
        assemble_case("frames_case_insensitive_remainder_lowercased", ["Plate.0001.EXR",
                      "other.0001.exr", "Other.0002.EXR"], [FRAMES], case_sensitive=False),
        assemble_case("versions_case_sensitive", ["a_v001.ma", "a_V002.ma", "a_v003.ma"],
                      [VERSIONS]),
        assemble_case("versions_case_insensitive", ["a_v001.ma", "a_V002.ma", "a_v003.ma"],
                      [VERSIONS], case_sensitive=False),
        assemble_case("frames_multiple_collections_one_dir", seq("/r/a.", ".exr", [1, 2])
                      + seq("/r/b.", ".dpx", [7]) + ["/r/readme.txt"]
                      + seq("/r/c.", ".exr", [3]), [FRAMES]),
        assemble_case("duplicates_in_input", ["x.txt", "x.txt", "f.0001.exr", "f.0001.exr",
                      "f.0002.exr"], [FRAMES]),
        assemble_case("large_index", ["f.{0}.exr".format(10 ** 12 + i) for i in range(3)]
                      + ["g.{0}.exr".format(2 ** 130 + i) for i in range(2)], [FRAMES]),
        assemble_case("huge_padded_index", ["h.{0:045d}.exr".format(i) for i in range(3)],
                      [FRAMES]),
        assemble_case("empty_patterns", ["f.0001.exr", "f.0002.exr"], []),
        assemble_case("minimum_one", ["f.0001.exr", "solo.12.exr", "none.exr"], [FRAMES],
                      minimum_items=1),
        assemble_case("minimum_three", seq("f.", ".exr", [1, 2]) + seq("g.", ".exr",
                      [1, 2, 3]), [FRAMES], minimum_items=3),
        assemble_case("minimum_zero", ["none.exr"], [FRAMES], minimum_items=0),
        assemble_case("custom_regex", ["shot010_comp_v003.nk", "shot010_comp_v004.nk",
                      "shot020_comp_v001.nk"], [r"_v(?P<index>(?P<padding>0*)\d+)\.nk$"]),
        assemble_case("custom_regex_two_patterns", ["a.0001.exr", "a.0002.exr",
                      "b_v01.ma", "b_v02.ma"], [FRAMES, VERSIONS]),
        assemble_case("default_many_digit_groups", ["s010_v01_0001.exr", "s010_v01_0002.exr",
                      "s010_v02_0001.exr"]),
        assemble_case("default_single_item_two_groups", ["v01_0001.exr"]),
        assemble_case("unicode_names", seq("/r/été ", ".exr", [1, 2]) + seq("/r/ΣΊΣΥΦΟΣ.",
                      ".EXR", [1, 2]), [FRAMES], case_sensitive=False),
        assemble_case("unicode_digits", ["f.\u0661\u0662.exr", "f.\u0661\u0663.exr",
                      "f.\uff11\uff12.exr"], [FRAMES]),
        assemble_case("spaces_and_brackets", seq("/r/my shot [final] (2).", ".exr",
                      [10, 11, 13])),
        assemble_case("holes_wide", seq("f.", ".exr", [1, 2, 5, 6, 7, 100, 1000, 1002]),
                      [FRAMES]),
        assemble_case("zero_padding_index_zero", ["f.0000.exr", "f.0001.exr"], [FRAMES]),
        assemble_case("windows_paths", seq("C:\\shots\\s010\\f.", ".exr", [1, 2])),
    ]
    return cases


WORDS = ["plate", "comp", "render", "beauty", "Shot", "FX", "bg", "v", "take", "été",
         "data", "cache", "proxy", "final", "ΣΊΣΥΦΟΣ", "a", "B", "x1", "2k"]
EXTENSIONS = [".exr", ".dpx", ".png", ".jpg", ".tif", ".mov", ".mp4", ".EXR", ".tar.gz",
              ".bgeo.sc", ".h264", "", ".1", ".abc", ".vdb", ".txt"]
SEPARATORS = [".", "_", "-", "", " ", "."]


def random_name(rng):
    parts = [rng.choice(WORDS) for _ in range(rng.randint(1, 3))]
    name = rng.choice(["_", "-", "", "."]).join(parts)
    if rng.random() < 0.3:
        name += "{0}".format(rng.randint(0, 120))
    return name


def random_sequence(rng):
    folder = rng.choice(["/r/", "/mnt/shows/abc/s010/", "", "C:\\out\\", "/r/v002/"])
    head = folder + random_name(rng) + rng.choice(SEPARATORS)
    tail = rng.choice(SEPARATORS[:1] + [""]) and rng.choice(EXTENSIONS) or rng.choice(EXTENSIONS)
    padding = rng.choice([0, 0, 2, 3, 4, 4, 4, 5, 6, 8])
    start = rng.choice([0, 1, 1, 1001, 990, 9990, 95, rng.randint(0, 20000)])
    count = rng.randint(1, 25)
    indexes = list(range(start, start + count))
    if rng.random() < 0.5:
        holes = rng.randint(1, max(1, count // 3))
        for _ in range(holes):
            if indexes:
                indexes.pop(rng.randrange(len(indexes)))
    items = ["{0}{1:0{2}d}{3}".format(head, i, padding, tail) for i in indexes]
    if rng.random() < 0.2:
        items = [item.upper() if rng.random() < 0.5 else item for item in items]
    return items


def random_case(rng, number):
    items = []
    for _ in range(rng.randint(1, 5)):
        items.extend(random_sequence(rng))
    for _ in range(rng.randint(0, 5)):
        items.append(random_name(rng) + rng.choice(EXTENSIONS))
    if rng.random() < 0.3:
        items.append("{0}_v{1:03d}.ma".format(random_name(rng), rng.randint(1, 20)))
    rng.shuffle(items)
    patterns = rng.choice([None, None, [FRAMES], [FRAMES], [VERSIONS], [FRAMES, VERSIONS],
                           [DIGITS]])
    return assemble_case(
        "random_{0:04d}".format(number),
        items,
        patterns,
        minimum_items=rng.choice([1, 2, 2, 2, 3]),
        case_sensitive=rng.random() < 0.8,
        assume_padded=rng.random() < 0.4,
    )


def format_cases(rng):
    patterns = ["{head}{padding}{tail} [{ranges}]", "{head}{padding}{tail}", "{holes}",
                "{range}", "{ranges}", "{head}", "{tail}", "{padding}",
                "{head}#{tail} ({range}) holes: {holes}", "literal text", "{{head}} {head}"]
    cases = []
    shapes = [("f.", ".exr", 4, [1, 2, 3]), ("f.", ".exr", 0, []), ("f.", ".exr", 0, [7]),
              ("f.", ".exr", 3, [1, 3, 5, 6, 7, 10]), ("", "", 0, [1, 2, 4]),
              ("a b ", " c", 2, [0, 99, 100])]
    for head, tail, padding, indexes in shapes:
        collection = clique.Collection(head, tail, padding, indexes)
        for pattern in patterns:
            try:
                text = collection.format(pattern)
            except Exception as error:
                text = None
            cases.append({"head": head, "tail": tail, "padding": padding,
                          "indexes": [str(i) for i in indexes], "pattern": pattern,
                          "text": text})
    return cases


def parse_cases():
    values = [
        ("/r/f.%04d.exr [1-3]", None), ("/r/f.%04d.exr [1-3, 5, 7-8]", None),
        ("/r/f.%d.exr [ 1 - 3 ,5 ]", None), ("/r/f.0001.exr", None), ("file.txt", None),
        ("/r/f.%04d.exr [3-1]", None), ("/tmp/%d dir/f.%03d.exr [1-2]", None),
        ("/r/f.%04d.exr []", None), ("/r/f.%04d.exr", None), ("/r/f.%04d.exr [1,,2]", None),
        ("/r/f.%04d.exr [1-2-3]", None),
        ("f.%04d.exr 1-5 [2]", "{head}{padding}{tail} {range} [{holes}]"),
        ("f.%04d.exr 1-5 [9]", "{head}{padding}{tail} {range} [{holes}]"),
        ("f.%d.exr", "{head}{padding}{tail}"), ("x", "{head}"),
        ("f.%03d.exr [\u0661-\u0663]", None),
    ]
    cases = []
    for value, pattern in values:
        case = {"value": value, "pattern": pattern}
        try:
            collection = (clique.parse(value) if pattern is None
                          else clique.parse(value, pattern))
            case["collection"] = collection_record(collection)
        except Exception as error:
            case["error"] = type(error).__name__
        cases.append(case)
    return cases


def contains_cases():
    collection = clique.Collection("/r/f.", ".exr", 4, [1, 2, 3])
    unpadded = clique.Collection("f", "1.exr", 0, [1, 2, 11, 21])
    items = [(collection, x) for x in ["/r/f.0001.exr", "/r/f.0004.exr", "/r/f.001.exr",
                                        "/r/f.00001.exr", "/r/f.0001.exr\n", "/r/f.0001.EXR",
                                        "x/r/f.0001.exr"]]
    items += [(unpadded, x) for x in ["f11.exr", "f111.exr", "f211.exr", "f011.exr",
                                       "f1.exr"]]
    cases = []
    for c, item in items:
        match = c.match(item)
        cases.append({"head": c.head, "tail": c.tail, "padding": c.padding,
                      "indexes": [str(i) for i in c.indexes], "item": item,
                      "contains": item in c,
                      "match_index": match.group("index") if match else None})
    return cases


def main():
    rng = random.Random(SEED)
    corpus = {
        "clique": clique.__version__,
        "assemble": handwritten() + [random_case(rng, n) for n in range(400)],
        "format": format_cases(rng),
        "parse": parse_cases(),
        "contains": contains_cases(),
    }
    json.dump(corpus, sys.stdout, ensure_ascii=False, indent=0, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
