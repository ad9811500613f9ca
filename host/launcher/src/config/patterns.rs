//! A search path's regular expressions, compiled within limits.
//!
//! A config's patterns are compiled when the host loads, for every config, so what one pattern
//! may cost is bounded: the regex crate refuses a pattern whose compiled form would pass a size
//! limit, after a few tens of milliseconds at most, and that refusal is reported like any other
//! invalid pattern (file, key, the pattern's start). Matching needs no limit: the crate matches
//! in time linear in the length of the path.

use std::path::PathBuf;

use regex::{Regex, RegexBuilder};

use super::{RawSearchPath, SearchPath, DEFAULT_VERSION_EXPRESSION};

/// The most memory one regular expression of a config may compile to. The regex crate's
/// default (10 MiB) lets an eight-character pattern such as `\w{100}` compile to 5 MiB (and as
/// much again for its reverse); 2 MiB is still some 40 times what the largest patterns of real
/// configs need (`[\w ]+\.exe`, with Unicode's `\w`: 50 KiB).
pub const REGEX_SIZE_LIMIT: usize = 2 << 20;

/// What all the regular expressions of one config may compile to together: each of its `n`
/// patterns may take `REGEX_BUDGET / n` (and no more than [`REGEX_SIZE_LIMIT`]). Without it a
/// file of a thousand small but costly levels (`\w{40}`, 2 MiB each) would take gigabytes; with
/// it a config of up to 3 levels gives each the full 2 MiB, and one of 160 levels still gives
/// each the 50 KiB of `[\w ]+\.exe`.
pub const REGEX_BUDGET: usize = 8 << 20;

/// How much of a pattern a message quotes: a pattern can be any length.
const QUOTED_PATTERN: usize = 120;

/// Compiles this platform's search path entry of a config (`key` is `search_path.linux`).
pub(super) fn compile_search_path(
    key: &str,
    entry: RawSearchPath,
    platform: &str,
) -> Result<SearchPath, String> {
    let mut prefix = entry.prefix.into_iter();
    let Some(mut root) = prefix.next() else {
        return Err(format!(
            "{key}.prefix is empty; its first item must be the folder the search starts in"
        ));
    };
    // On Windows `C:` means the current folder of drive C; ftrack reads it as `C:\`.
    if platform == "windows" && root.ends_with(':') {
        root.push('\\');
    }
    let rest: Vec<String> = prefix.collect();
    let patterns = rest.len() + entry.expression.len() + 1;
    let limit = (REGEX_BUDGET / patterns).min(REGEX_SIZE_LIMIT);
    let prefix_levels = rest
        .iter()
        .enumerate()
        .map(|(i, e)| (format!("{key}.prefix[{}]", i + 1), e));
    let expression_levels = entry
        .expression
        .iter()
        .enumerate()
        .map(|(i, e)| (format!("{key}.expression[{i}]"), e));
    let levels = prefix_levels
        .chain(expression_levels)
        .map(|(name, pattern)| compile(&name, &format!("^(?:{pattern})"), pattern, limit))
        .collect::<Result<Vec<_>, _>>()?;
    let version_pattern = entry
        .version_expression
        .unwrap_or_else(|| DEFAULT_VERSION_EXPRESSION.to_string());
    let name = format!("{key}.version_expression");
    let version_expression = compile(&name, &version_pattern, &version_pattern, limit)?;
    if !version_expression
        .capture_names()
        .any(|group| group == Some("version"))
    {
        return Err(format!(
            "{name} {} has no group named `version`, such as (?P<version>\\d+)",
            quoted(&version_pattern)
        ));
    }
    Ok(SearchPath {
        root: PathBuf::from(root),
        levels,
        version_expression,
        launch_arguments: entry.launch_arguments.unwrap_or_default(),
    })
}

/// Compiles `pattern` (as `written` in the file, for the message) within `limit` bytes.
pub(super) fn compile(
    name: &str,
    pattern: &str,
    written: &str,
    limit: usize,
) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(limit)
        .build()
        .map_err(|err| {
            let reason = match err {
                regex::Error::CompiledTooBig(_) => {
                    let shared = if limit < REGEX_SIZE_LIMIT {
                        format!("; the config's patterns share {} MiB", REGEX_BUDGET >> 20)
                    } else {
                        String::new()
                    };
                    format!(
                        "too big: it compiles to more than {}{shared} (look for large \
                         repetitions such as `{{1000}}`, or of Unicode classes such as \
                         `\\w{{100}}`)",
                        size(limit)
                    )
                }
                // The message spans lines, with a caret under the pattern; its last line says
                // what is wrong.
                err => {
                    let text = err.to_string();
                    text.lines()
                        .rev()
                        .find_map(|line| line.trim().strip_prefix("error: "))
                        .unwrap_or(text.trim())
                        .to_string()
                }
            };
            format!(
                "{name}: invalid regular expression {}: {reason}",
                quoted(written)
            )
        })
}

/// `pattern` quoted for a message, cut after [`QUOTED_PATTERN`] characters.
fn quoted(pattern: &str) -> String {
    match pattern.char_indices().nth(QUOTED_PATTERN) {
        Some((end, _)) => format!("{:?}...", &pattern[..end]),
        None => format!("{pattern:?}"),
    }
}

/// `2 MiB`, `1638 KiB`: MiB when whole, else KiB (rounded down).
fn size(bytes: usize) -> String {
    const MIB: usize = 1 << 20;
    if bytes >= MIB && bytes & (MIB - 1) == 0 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(prefix: &[&str], expression: &[&str]) -> RawSearchPath {
        RawSearchPath {
            prefix: prefix.iter().map(|s| s.to_string()).collect(),
            expression: expression.iter().map(|s| s.to_string()).collect(),
            version_expression: None,
            launch_arguments: None,
        }
    }

    #[test]
    fn a_pattern_too_big_is_refused_with_its_key() {
        let err = compile_search_path(
            "search_path.linux",
            entry(&["/opt"], &[r"\w{100}"]),
            "linux",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "search_path.linux.expression[0]: invalid regular expression \"\\\\w{100}\": too big: \
             it compiles to more than 2 MiB (look for large repetitions such as `{1000}`, or of \
             Unicode classes such as `\\w{100}`)"
        );
    }

    /// Many levels share the budget: each is allowed less, and the message says why.
    #[test]
    fn the_levels_of_a_config_share_a_budget() {
        let costly = vec![r"\w{10}"; 200];
        let err = compile_search_path("search_path.linux", entry(&["/opt"], &costly), "linux")
            .unwrap_err();
        assert!(
            err.starts_with("search_path.linux.expression[0]: invalid regular expression")
                && err.contains(
                    "too big: it compiles to more than 40 KiB; the config's patterns share 8 MiB"
                ),
            "{err}"
        );
        let plain = vec!["bin"; 200];
        assert!(
            compile_search_path("search_path.linux", entry(&["/opt"], &plain), "linux").is_ok()
        );
    }

    #[test]
    fn long_patterns_are_quoted_in_part() {
        let long = format!("({}", "a".repeat(10_000));
        let err = compile("x", &long, &long, REGEX_SIZE_LIMIT).unwrap_err();
        assert!(err.len() < 300, "{err}");
        assert!(err.ends_with("aaa\"...: unclosed group"), "{err}");
    }
}
