//! Hostile launcher configs through [`parse`]: whatever a file holds, reading it never panics,
//! never overflows the stack and finishes in bounded time, and what it accepts is safe to use.
//!
//! Configs come from plugin folders and shared folders many people write to, and the host reads
//! them all when it starts: one that crashed or hung the parser would take every action down
//! with it. The generators aim at the parsers' soft spots: random text, JSON- and YAML-like
//! token soup, documents nested far deeper than serde's recursion limits (128 levels), numbers
//! beyond `i64` and `f64`, YAML aliases, regular expressions that compile to huge automata,
//! and hostile `environment_variables` keys.
//!
//! By default each property runs from 32 cases (deep documents, up to the size limit) to 1,000
//! (random text), so that the module takes a few seconds in a debug build;
//! `PROPTEST_CASES=20000 cargo test --release -p connect-launcher fuzz` runs a long campaign
//! (the variable replaces every property's default).

use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::json;

use super::*;

mod generators;
use generators::*;

/// A liveness bound for one case, not a speed check: the slowest cases (YAML at the limits of
/// [`syntax`]) take about a second in a debug build.
const BOUND: Duration = Duration::from_secs(20);

const FILE: &str = "/studio/plugin/launch/fuzz.json";

/// Marks every generated environment value: no warning may quote it (values may be keys).
const SECRET: &str = "fuzz-secret";

/// `default` cases, unless `PROPTEST_CASES` is set (`with_cases` alone would ignore it).
fn cases(default: u32) -> ProptestConfig {
    if std::env::var_os("PROPTEST_CASES").is_some() {
        ProptestConfig::default()
    } else {
        ProptestConfig::with_cases(default)
    }
}

/// Parses `text` and checks what every outcome must satisfy; returns the result.
fn parse_checked(format: Format, text: &str) -> Result<Option<LauncherConfig>, TestCaseError> {
    let started = Instant::now();
    let parsed = parse(Path::new(FILE), format, text, "linux");
    let took = started.elapsed();
    prop_assert!(took < BOUND, "parsing took {:?}", took);
    let config = match parsed {
        Ok(config) => config,
        Err(err) => {
            prop_assert_eq!(&err.file, Path::new(FILE));
            prop_assert!(!err.message.is_empty());
            prop_assert!(err.to_string().starts_with(FILE), "{}", err);
            if err.message.contains("invalid regular expression") {
                prop_assert!(err.message.starts_with("search_path.linux."), "{}", err);
            }
            return Ok(None);
        }
    };
    for (key, value) in &config.environment {
        prop_assert!(
            environment::check_entry(key, value).is_ok(),
            "{:?} kept",
            key
        );
    }
    for warning in &config.warnings {
        prop_assert!(warning.starts_with("environment_variables "), "{}", warning);
        prop_assert!(!warning.contains(SECRET), "a value in {}", warning);
    }
    let mut protected = config.clone();
    for warning in protected.withhold_credentials(Credentials::Protected) {
        prop_assert!(!warning.contains(SECRET), "a value in {}", warning);
    }
    for key in protected.environment.keys() {
        let (name, _) = environment::parse_key(key).unwrap();
        prop_assert!(!is_credential(name), "{:?} kept", key);
    }
    // What was accepted matches in bounded time too (the regex crate is linear-time).
    if let Some(search) = &config.search_path {
        let started = Instant::now();
        let name = "painter2024.1v3-".repeat(256);
        for level in &search.levels {
            let _ = level.is_match(&name);
        }
        let _ = search
            .version_expression
            .captures(&format!("/opt/{name}/bin/{name}"));
        let took = started.elapsed();
        prop_assert!(took < BOUND, "matching took {:?}", took);
    }
    Ok(Some(config))
}

proptest! {
    #![proptest_config(cases(1000))]

    #[test]
    fn any_text_as_json_or_yaml(text in any_text()) {
        parse_checked(Format::Json, &text)?;
        parse_checked(Format::Yaml, &text)?;
    }
}

proptest! {
    // Up to 256 KiB each, some at the limits: the slowest cases of the module.
    #![proptest_config(cases(32))]

    #[test]
    fn deeply_nested_documents((format, text) in deep_document()) {
        parse_checked(format, &text)?;
    }
}

proptest! {
    #![proptest_config(cases(200))]

    #[test]
    fn hostile_configs((format, text) in hostile_config()) {
        parse_checked(format, &text)?;
    }

    /// Every bad entry of `environment_variables` is one warning naming its key; the others
    /// are kept as written.
    #[test]
    fn hostile_environment_variables((format, text, written) in hostile_environment()) {
        let config = parse_checked(format, &text)?;
        let config = config.ok_or_else(|| TestCaseError::fail(format!("refused: {text}")))?;
        for (key, value) in &written {
            match environment::check_entry(key, value) {
                Ok(_) => prop_assert_eq!(config.environment.get(key), Some(value)),
                Err(_) => {
                    prop_assert!(!config.environment.contains_key(key));
                    let quoted = format!("environment_variables {key:?}: ");
                    prop_assert_eq!(
                        config.warnings.iter().filter(|w| w.starts_with(&quoted)).count(),
                        1,
                        "{:?}", config.warnings
                    );
                }
            }
        }
        prop_assert_eq!(config.environment.len() + config.warnings.len(), written.len());
    }
}

/// The deepest document of every shape that is not refused for its size, in every place:
/// the generator reaches those only sometimes.
#[test]
fn the_deepest_documents_of_every_shape() {
    let mut slowest = (Duration::ZERO, String::new());
    for &shape in SHAPES {
        for closed in [true, false] {
            if !closed && !shape.has_brackets() {
                continue;
            }
            for key in PLACES {
                let mut depth = 200_000;
                let text = loop {
                    let text = shape.document(depth, closed, key);
                    if text.len() <= MAX_CONFIG_BYTES {
                        break text;
                    }
                    depth = depth * 3 / 4;
                };
                let started = Instant::now();
                parse_checked(shape.format(), &text)
                    .unwrap_or_else(|e| panic!("{shape:?} in {key:?}: {e}"));
                let took = started.elapsed();
                if took > slowest.0 {
                    slowest = (took, format!("{shape:?} {depth} deep in {key:?}"));
                }
            }
        }
    }
    eprintln!("slowest: {} in {:?}", slowest.1, slowest.0);
}

/// The YAML that costs its parser the most among what the limits let through: the most
/// nested flow maps, then the rest of the size limit in one flow list (every token costs
/// time in proportion to the nesting); and an alias bomb.
#[test]
fn the_slowest_yaml_a_config_may_be() {
    let head = format!("{}[", "{a: ".repeat(MAX_YAML_BRACKETS - 1));
    let nested = format!("{head}{}", "1,".repeat((MAX_CONFIG_BYTES - head.len()) / 2));
    // Values before the aliases raise serde_norway's limit, which grows with the document.
    let bomb = Shape::YamlAliases.document(40, true, "");
    let bomb = format!("filler: [{}]{bomb}", "x,".repeat(120_000));
    for text in [nested, bomb] {
        assert!(text.len() <= MAX_CONFIG_BYTES);
        let started = Instant::now();
        let err = parse(Path::new(FILE), Format::Yaml, &text, "linux").err();
        eprintln!("{:?}: {:?}", started.elapsed(), err.map(|e| e.message));
        assert!(started.elapsed() < BOUND);
    }
}

/// A regular expression too big to compile is refused with the file and the key, quickly, and
/// the message quotes no more than the start of a long pattern.
#[test]
fn too_big_regular_expressions_are_refused_with_their_file_and_key() {
    let long = format!("{}{{1000}}", "a".repeat(100_000));
    let patterns = [
        r"a{1000}{1000}",
        r"\w{100}",
        r"\pL{65535}",
        r"x{4294967295}",
        r"((((a{100}){100}){100}){100})",
        r"(\w{100}|\d{100}|\s{100}){100}",
        long.as_str(),
    ];
    for pattern in patterns {
        let config = json!({
            "identifier": "x", "label": "X", "applicationIdentifier": "x",
            "search_path": {"linux": {"prefix": ["/opt"], "expression": ["ok", pattern]}},
        });
        let started = Instant::now();
        let err = parse(Path::new(FILE), Format::Json, &config.to_string(), "linux").unwrap_err();
        let took = started.elapsed();
        assert!(took < BOUND, "{pattern}: {took:?}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "{FILE}: search_path.linux.expression[1]: invalid regular expression "
            )),
            "{text}"
        );
        assert!(
            text.contains("too big: it compiles to more than 2 MiB"),
            "{text}"
        );
        assert!(text.len() < 500, "{text}");
    }
    // Patterns that big programs really use still compile.
    for pattern in [r"[\w ]+\.exe", r"(?i)maya\d{4}(\.\d+)?", r".{1000}"] {
        assert!(
            patterns::compile("x", pattern, pattern, REGEX_SIZE_LIMIT).is_ok(),
            "{pattern}"
        );
    }
}
