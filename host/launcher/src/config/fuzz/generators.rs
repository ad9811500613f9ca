//! The generators of hostile configs for [`super`]: text, token soup, deep documents, odd
//! regular expressions, hostile environment entries, and whole configs built from them.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::SECRET;
use crate::config::Format;

/// Fragments of JSON, YAML and launcher configs, valid and not.
pub(super) const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ": ",
    ",",
    "\"",
    "'",
    "\n",
    "\n  ",
    "\n    ",
    "- ",
    "? ",
    "#",
    "---\n",
    "...\n",
    "|\n",
    ">-\n",
    "&a ",
    "*a",
    "&b [*a, *a, *a]",
    "!!str ",
    "!!int ",
    "!!binary ",
    "!!map ",
    "!<tag:yaml.org,2002:seq> ",
    "%YAML 1.2\n",
    "\\",
    "\\u0000",
    "\\ud800",
    "\t",
    "\r",
    "\u{feff}",
    "\u{0}",
    "é",
    "\"identifier\"",
    "identifier",
    "\"label\"",
    "label",
    "applicationIdentifier",
    "\"applicationIdentifier\"",
    "search_path",
    "\"search_path\"",
    "linux",
    "\"linux\"",
    "prefix",
    "expression",
    "version_expression",
    "launch_arguments",
    "environment_variables",
    "\"environment_variables\"",
    "context",
    "priority",
    "integrations",
    "\"x\"",
    "x",
    "\"/opt\"",
    "null",
    "~",
    "true",
    "yes",
    "no",
    "1",
    "-0",
    "1e400",
    "-1e400",
    "1e-400",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "123456789012345678901234567890",
    "0x7fffffffffffffff",
    "0o17",
    ".inf",
    "-.inf",
    ".nan",
    "NaN",
    "1_000",
    "\"(a{1000}){1000}\"",
    "\"\\\\w{100}\"",
    "\"(?P<version>\\\\d+)\"",
    "\"(\"",
    "\"A=B.set\"",
    "\"FTRACK_API_KEY.set\"",
];

pub(super) fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..80).prop_map(|tokens| tokens.concat())
}

pub(super) fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\[\\]{}:,\"'\\-&*!|>?#%@` \n\t\\\\a-z0-9.]{0,300}",
        token_soup(),
    ]
}

/// The shapes of deep nesting, each written in the format it belongs to.
#[derive(Debug, Clone, Copy)]
pub(super) enum Shape {
    JsonArrays,
    JsonObjects,
    YamlFlowMaps,
    /// `- - - 1`: nested block sequences on one line.
    YamlBlockSequences,
    /// `a:\n  a:\n    ...`: quadratic in size, so kept shallower.
    YamlBlockMaps,
    /// Anchors whose aliases repeat the level before ten times (a "billion laughs"); eight
    /// levels stand for 10^8 values, past every limit.
    YamlAliases,
}

pub(super) const SHAPES: &[Shape] = &[
    Shape::JsonArrays,
    Shape::JsonObjects,
    Shape::YamlFlowMaps,
    Shape::YamlBlockSequences,
    Shape::YamlBlockMaps,
    Shape::YamlAliases,
];

impl Shape {
    pub(super) fn format(self) -> Format {
        match self {
            Shape::JsonArrays | Shape::JsonObjects => Format::Json,
            _ => Format::Yaml,
        }
    }

    /// Whether it is written with brackets, which it may leave unclosed.
    pub(super) fn has_brackets(self) -> bool {
        matches!(
            self,
            Shape::JsonArrays | Shape::JsonObjects | Shape::YamlFlowMaps
        )
    }

    /// A value nested `depth` levels deep; without its closing brackets unless `closed`.
    fn nested(self, depth: usize, closed: bool) -> String {
        let close = |text: &str| {
            if closed {
                text.repeat(depth)
            } else {
                String::new()
            }
        };
        match self {
            Shape::JsonArrays => format!("{}{}", "[".repeat(depth), close("]")),
            Shape::JsonObjects => format!("{}1{}", "{\"a\":".repeat(depth), close("}")),
            Shape::YamlFlowMaps => format!("{}1{}", "{a: ".repeat(depth), close("}")),
            Shape::YamlBlockSequences => format!("{}1", "- ".repeat(depth)),
            Shape::YamlBlockMaps => (0..depth.min(400))
                .map(|level| format!("\n{}a:", "  ".repeat(level)))
                .collect::<String>(),
            Shape::YamlAliases => {
                let mut text = String::from("\nl0: &l0 [x, x, x, x, x, x, x, x, x, x]");
                for level in 1..depth.min(8) {
                    let previous = format!("*l{}", level - 1);
                    let list = [previous.as_str(); 10].join(", ");
                    text.push_str(&format!("\nl{level}: &l{level} [{list}]"));
                }
                text
            }
        }
    }

    /// The nested value as a whole document (`key` empty) or as the value of `key` in an
    /// otherwise valid config.
    pub(super) fn document(self, depth: usize, closed: bool, key: &str) -> String {
        let nested = self.nested(depth, closed);
        if key.is_empty() {
            return nested;
        }
        let value = match self {
            // Block collections start on the next line, indented.
            Shape::YamlBlockSequences => format!("\n  {nested}"),
            Shape::YamlBlockMaps | Shape::YamlAliases => nested.replace('\n', "\n  "),
            _ => format!(" {nested}"),
        };
        place(self.format(), key, &value)
    }
}

/// Where a deep value goes: the whole document, or the value of one of a config's keys.
pub(super) const PLACES: &[&str] = &[
    "",
    "environment_variables",
    "context",
    "integrations",
    "priority",
    "identifier",
    "search_path",
];

/// `value` (with the space or line break that goes before it) as the value of `key` in an
/// otherwise valid config.
fn place(format: Format, key: &str, value: &str) -> String {
    let value = if key == "search_path" {
        // One level further in: a platform's entry.
        match format {
            Format::Json => format!(" {{\"linux\":{value}}}"),
            Format::Yaml => format!("\n  linux:{}", value.replace('\n', "\n  ")),
        }
    } else {
        value.to_string()
    };
    match format {
        Format::Json => {
            let search = r#" {"linux": {"prefix": ["/opt"], "expression": ["x"]}}"#;
            let search = if key == "search_path" {
                value.as_str()
            } else {
                search
            };
            let extra = if key == "search_path" || key == "identifier" {
                String::new()
            } else {
                format!(", \"{key}\":{value}")
            };
            let identifier = if key == "identifier" {
                value.as_str()
            } else {
                " \"x\""
            };
            format!(
                "{{\"identifier\":{identifier}, \"label\": \"X\", \"applicationIdentifier\": \
                 \"x\", \"search_path\":{search}{extra}}}"
            )
        }
        Format::Yaml => {
            let mut text = String::from("label: X\napplicationIdentifier: x\n");
            for (name, default) in [
                ("identifier", " x"),
                (
                    "search_path",
                    "\n  linux: {prefix: [/opt], expression: [x]}",
                ),
            ] {
                let own = if name == key { value.as_str() } else { default };
                text.push_str(&format!("{name}:{own}\n"));
            }
            if key != "identifier" && key != "search_path" {
                text.push_str(&format!("{key}:{value}\n"));
            }
            text
        }
    }
}

pub(super) fn deep_document() -> impl Strategy<Value = (Format, String)> {
    (
        prop::sample::select(SHAPES),
        prop_oneof![1usize..200, 200usize..100_000],
        any::<bool>(),
        prop::sample::select(PLACES),
    )
        .prop_map(|(shape, depth, closed, key)| {
            (shape.format(), shape.document(depth, closed, key))
        })
}

/// Regular expressions that are too big, refused, unsupported (look-around,
/// back-references), or merely unusual.
const PATTERNS: &[&str] = &[
    r"a{1000}{1000}",
    r"\w{100}",
    r"(\w{100}|\d{100}|\s{100}){100}",
    r"\pL{65535}",
    r"x{4294967295}",
    r"x{4294967296}",
    r"((((a{100}){100}){100}){100})",
    r"[\p{Any}--\p{L}]{1000}",
    r"(?i)(?u)\w{50}",
    r".{1000}{100}",
    r"(a*)*b",
    r"(?:x+x+)+y",
    r"(a|aa)+$",
    r"(?<=a)b",
    r"(a)\1",
    r"\",
    r"[",
    r"(?P<version>",
    r"(?P<version>\d+)(?P<version>\d+)",
    r"(?P<version>)",
    "",
    "\u{0}",
    r"[^\x00-\x{10FFFF}]",
    r"\p{NotAProperty}",
    r"(?x) # a comment ( not a group",
];

pub(super) fn pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(PATTERNS).prop_map(String::from),
        "[a-z\\\\(){}\\[\\]*+?|.^$0-9,:<>P\\-wdspLu=!&~ ]{0,40}",
        (
            1usize..6,
            prop::sample::select(&["a", r"\w", ".", r"\d", "[a-z]", r"\pL"][..]),
            1u32..2000,
        )
            .prop_map(|(depth, atom, count)| {
                (0..depth).fold(atom.to_string(), |p, _| format!("(?:{p}){{{count}}}"))
            }),
        (1usize..400).prop_map(|depth| format!("{}a{}", "(".repeat(depth), ")".repeat(depth))),
    ]
}

pub(super) fn env_key() -> impl Strategy<Value = String> {
    let known = &[
        "FTRACK_API_KEY.set",
        "FTRACK_APIKEY.unset",
        "FTRACK_SERVER",
        "ftrack_api_user.set",
        "FTRACK_API_X.prepend",
        "A=B.set",
        "=",
        "",
        ".set",
        "\u{0}",
        "PATH.pop",
        "A.sideways",
    ][..];
    prop_oneof![
        "[A-Za-z_=\u{0}. ]{0,12}(\\.(set|append|prepend|unset|pop|sideways))?",
        prop::sample::select(known).prop_map(String::from),
        any::<String>(),
    ]
}

pub(super) fn env_value() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        json!(SECRET),
        json!([SECRET, 1, true]),
        json!([[SECRET]]),
        json!([{ "k": SECRET }]),
        json!({ "k": SECRET }),
        json!(format!("a\u{0}{SECRET}")),
        Value::Null,
        json!(1.5),
        json!(u64::MAX),
    ])
}

/// Written in place of a config's `priority`, as text: numbers serde cannot hold among them.
const NUMBERS: &[&str] = &[
    "100",
    "-1",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "1e400",
    "-1e400",
    "1e-400",
    "0.5",
    "123456789012345678901234567890",
    "0x10",
    ".inf",
    ".nan",
    "1_000",
    "null",
    "\"100\"",
    "-0",
];

const PRIORITY: &str = "PRIORITY-PLACEHOLDER";

/// A config with every key present and hostile values, as JSON or YAML.
pub(super) fn hostile_config() -> impl Strategy<Value = (Format, String)> {
    (
        any::<String>(),
        prop::collection::vec(pattern(), 0..3),
        prop::collection::vec(pattern(), 0..3),
        prop::option::of(pattern()),
        prop::collection::vec((env_key(), env_value()), 0..8),
        prop::sample::select(NUMBERS),
        prop::sample::select(vec![
            json!(null),
            json!([]),
            json!([null]),
            json!(["Task", 1]),
        ]),
        prop::sample::select(vec![json!(null), json!({"g": ["a"]}), json!({"g": "a"})]),
        any::<bool>(),
    )
        .prop_map(
            |(identifier, prefix, expression, version, env, priority, context, groups, yaml)| {
                let mut prefix_levels = vec![json!("/opt")];
                prefix_levels.extend(prefix.into_iter().map(Value::String));
                let mut linux = json!({"prefix": prefix_levels, "expression": expression});
                if let Some(version) = version {
                    linux["version_expression"] = json!(version);
                }
                let config = json!({
                    "identifier": identifier, "label": "X", "applicationIdentifier": "x_{variant}",
                    "priority": PRIORITY, "context": context, "integrations": groups,
                    "search_path": {"linux": linux},
                    "environment_variables": env.into_iter().collect::<Map<_, _>>(),
                });
                let (format, text) = written(&config, yaml);
                let text = text.replace(&format!("\"{PRIORITY}\""), priority);
                (format, text.replace(PRIORITY, priority))
            },
        )
}

/// A valid config whose `environment_variables` are hostile; and those as written.
pub(super) fn hostile_environment() -> impl Strategy<Value = (Format, String, Map<String, Value>)> {
    (
        prop::collection::vec((env_key(), env_value()), 0..12),
        any::<bool>(),
    )
        .prop_map(|(env, yaml)| {
            let environment: Map<String, Value> = env.into_iter().collect();
            let config = json!({
                "identifier": "x", "label": "X", "applicationIdentifier": "x",
                "search_path": {"linux": {"prefix": ["/opt"], "expression": ["x"]}},
                "environment_variables": environment,
            });
            let (format, text) = written(&config, yaml);
            (format, text, environment)
        })
}

/// `config` as the text of a YAML or a JSON file.
pub(super) fn written(config: &Value, yaml: bool) -> (Format, String) {
    if yaml {
        (Format::Yaml, serde_norway::to_string(config).expect("YAML"))
    } else {
        (Format::Json, config.to_string())
    }
}
