//! Launcher configs: the JSON and YAML files that describe each launchable program.
//!
//! The format is ftrack's application launcher's (`ftrack-semantics.md` §7), kept key for key
//! so that studios' existing configs work unchanged; keys this host does not use (Connect 26's
//! `type`, `name`, `extensions_path`, ...) are ignored. A file is parsed and checked completely
//! when the host loads: syntax, required keys, key types, every regular expression of this
//! platform's search path. A file that fails any of that is reported with its path (and line
//! and column where the parser gives them) and skipped, so that a mistake shows up at start-up
//! rather than as an action that silently never appears.
//!
//! Reading any file is bounded in time and memory, whatever it holds (the host reads them all
//! when it starts): at most [`MAX_CONFIG_BYTES`]; YAML with at most [`MAX_YAML_BRACKETS`]
//! brackets and [`MAX_YAML_VALUES`] values once its aliases are expanded; each regular
//! expression compiled within [`REGEX_SIZE_LIMIT`], a config's within [`REGEX_BUDGET`]. A file
//! past a limit is refused like any other bad config. The property tests in `config/fuzz.rs`
//! feed `parse` hostile text.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::environment::{self, is_credential, Credentials};

mod patterns;
mod syntax;
pub use patterns::{REGEX_BUDGET, REGEX_SIZE_LIMIT};
pub use syntax::{MAX_CONFIG_BYTES, MAX_YAML_BRACKETS, MAX_YAML_VALUES};

/// ftrack's default `version_expression`: the last run of digits (with dots and the letters
/// `v`, `a`, `b`, `c`) in the matched path, `.../folder/v1.8v2b1/app` giving `1.8v2b1`.
pub const DEFAULT_VERSION_EXPRESSION: &str = r"(?P<version>\d[\d.vabc]*?)[^\d]*$";

/// The priority of a config that gives none: after every other subscriber, as ftrack's
/// `sys.maxsize` makes it.
pub const LAST_PRIORITY: i64 = i64::MAX;

/// The `search_path` key for this OS: `linux`, `windows` or `darwin`, as Python's
/// `platform.system().lower()` names them (and the OS name elsewhere).
pub fn platform() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// Which selections a config's action is offered for (`context`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context {
    /// `context: null` (or no `context`): offered whatever is selected, nothing included.
    Any,
    /// A list of entity types: offered when every selected entity has one of these types
    /// (compared case-insensitively, as the web UI sends `task` where the API says `Task`;
    /// entity type names are ASCII identifiers). A `null` in the list, as ftrack allows, also
    /// offers it when nothing is selected.
    Types {
        /// The entity types, lower-cased.
        names: Vec<String>,
        /// Whether a `null` in the list also offers it with nothing selected.
        allow_empty: bool,
    },
}

impl Context {
    /// Whether a selection (`[{entityType, entityId}]`) qualifies.
    pub fn accepts(&self, selection: &[Value]) -> bool {
        match self {
            Context::Any => true,
            Context::Types { names, allow_empty } => {
                if selection.is_empty() {
                    return *allow_empty;
                }
                selection.iter().all(|entity| {
                    entity
                        .get("entityType")
                        .and_then(Value::as_str)
                        .is_some_and(|kind| {
                            names.iter().any(|name| name.eq_ignore_ascii_case(kind))
                        })
                })
            }
        }
    }

    /// The entity types, for messages.
    pub fn describe(&self) -> String {
        match self {
            Context::Any => "any selection".into(),
            Context::Types { names, allow_empty } => {
                let mut text = names.join(", ");
                if *allow_empty {
                    text.push_str(", or nothing");
                }
                text
            }
        }
    }
}

/// Where one program is looked for on this platform (a config's `search_path.<platform>`).
#[derive(Debug, Clone)]
pub struct SearchPath {
    /// The first `prefix` item: a literal folder where the search starts.
    pub root: PathBuf,
    /// One regular expression per path level below the root (the rest of `prefix`, then
    /// `expression`), each anchored at the start of a directory entry's name, as Python's
    /// `re.match` is.
    pub levels: Vec<Regex>,
    /// Finds the version in a matched path; has a group named `version`.
    pub version_expression: Regex,
    /// Added to the command after the program.
    pub launch_arguments: Vec<String>,
}

/// One checked launcher config.
#[derive(Debug, Clone)]
pub struct LauncherConfig {
    /// The file it was read from.
    pub file: PathBuf,
    /// The action's `actionIdentifier`; configs sharing one form one action.
    pub identifier: String,
    /// Template: `{version}` and `{variant}` are replaced per installed version.
    pub label: String,
    /// Template such as `maya_{variant}`: names one installed version at launch.
    pub application_identifier: String,
    /// A known icon name (`maya`, `nuke`, ...) or a URL; `default` when not given.
    pub icon: String,
    /// Template, usually `{version}`; empty when not given.
    pub variant: String,
    /// Template for the item's description.
    pub description: Option<String>,
    /// Which selections the action is offered for.
    pub context: Context,
    /// Subscription priority of the action's handlers.
    pub priority: i64,
    /// `{group: [integration names]}` in file order; empty when not given.
    pub integrations: Vec<(String, Vec<String>)>,
    /// This platform's search path; None when the config has none for this platform (the
    /// program is then simply not offered here).
    pub search_path: Option<SearchPath>,
    /// Connect 26's `environment_variables`, in file order, keys as written (with their
    /// `.append`/`.prepend`/`.set`/`.unset` suffixes); only the entries that passed
    /// [`environment::check_entry`].
    pub environment: Map<String, Value>,
    /// What was left out of the config (its entries that could not be used), each completing
    /// "launcher config FILE: ". The config is used without them.
    pub warnings: Vec<String>,
}

impl LauncherConfig {
    /// Removes the `environment` entries that change a credential ([`is_credential`]) unless
    /// `credentials` allows that; returns a warning for each, as [`LauncherConfig::warnings`].
    ///
    /// Done when the configs are read, not at each launch, so that the attempt shows in
    /// `plugins` and is logged once, next to the config's other problems.
    pub fn withhold_credentials(&mut self, credentials: Credentials) -> Vec<String> {
        if credentials == Credentials::Overridable {
            return Vec::new();
        }
        let mut warnings = Vec::new();
        self.environment
            .retain(|key, _| match environment::parse_key(key) {
                Ok((name, _)) if is_credential(name) => {
                    warnings.push(format!(
                        "environment_variables {key:?}: {}",
                        Credentials::refusal(name)
                    ));
                    false
                }
                _ => true,
            });
        warnings
    }
}

/// Why a file is not a usable launcher config. Displays as `file: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// What is wrong, with line and column or the key.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

/// A config as written; [`parse`] checks it into a [`LauncherConfig`].
#[derive(Deserialize)]
struct RawConfig {
    identifier: String,
    label: String,
    #[serde(rename = "applicationIdentifier")]
    application_identifier: String,
    #[serde(default)]
    icon: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    context: Option<Vec<Option<String>>>,
    #[serde(default)]
    priority: Option<i64>,
    #[serde(default)]
    integrations: Option<Map<String, Value>>,
    search_path: BTreeMap<String, RawSearchPath>,
    #[serde(default)]
    environment_variables: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
struct RawSearchPath {
    prefix: Vec<String>,
    expression: Vec<String>,
    #[serde(default)]
    version_expression: Option<String>,
    #[serde(default)]
    launch_arguments: Option<Vec<String>>,
}

/// The file formats a config may be written in, by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.json`.
    Json,
    /// `.yaml` or `.yml`.
    Yaml,
}

impl Format {
    /// `.json`, `.yaml` or `.yml` (any case); None for any other file.
    pub fn of(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "json" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }
}

/// Parses and checks the config `text` read from `file`, for `platform` (see [`platform`]).
pub fn parse(
    file: &Path,
    format: Format,
    text: &str,
    platform: &str,
) -> Result<LauncherConfig, ConfigError> {
    let error = |message: String| ConfigError {
        file: file.to_path_buf(),
        message,
    };
    let raw = syntax::deserialize(format, text).map_err(error)?;
    check(file, raw, platform).map_err(error)
}

fn check(file: &Path, mut raw: RawConfig, platform: &str) -> Result<LauncherConfig, String> {
    if raw.identifier.trim().is_empty() {
        return Err("`identifier` is empty".into());
    }
    let context = match raw.context {
        None => Context::Any,
        Some(types) if types.is_empty() => {
            return Err(
                "`context` is an empty list, so the action could never be offered; \
                        use null for an action that needs no selection"
                    .into(),
            )
        }
        Some(types) => Context::Types {
            allow_empty: types.iter().any(Option::is_none),
            names: types.into_iter().flatten().collect(),
        },
    };
    let mut integrations = Vec::new();
    for (group, names) in raw.integrations.unwrap_or_default() {
        let names = match names {
            Value::Array(names) => names
                .into_iter()
                .map(|name| match name {
                    Value::String(name) => Ok(name),
                    other => Err(other),
                })
                .collect::<Result<Vec<_>, _>>(),
            other => Err(other),
        };
        match names {
            Ok(names) => integrations.push((group, names)),
            Err(found) => {
                return Err(format!(
                    "integrations.{group}: expected a list of integration names, found {found}"
                ))
            }
        }
    }
    // Other platforms' entries were checked for shape; only this one's patterns compile.
    let search_path = match raw.search_path.remove(platform) {
        Some(entry) => Some(patterns::compile_search_path(
            &format!("search_path.{platform}"),
            entry,
            platform,
        )?),
        None => None,
    };
    let (environment, warnings) = checked_environment(raw.environment_variables);
    if search_path.is_none() {
        tracing::debug!(
            "launcher config {}: no search_path for {platform}, nothing to offer here",
            file.display()
        );
    }
    Ok(LauncherConfig {
        file: file.to_path_buf(),
        identifier: raw.identifier,
        label: raw.label,
        application_identifier: raw.application_identifier,
        icon: raw.icon.unwrap_or_else(|| "default".into()),
        variant: raw.variant.unwrap_or_default(),
        description: raw.description,
        context,
        priority: raw.priority.unwrap_or(LAST_PRIORITY),
        integrations,
        search_path,
        environment,
        warnings,
    })
}

/// The entries of `environment_variables` that can be applied, and a warning for each of the
/// others.
///
/// A bad entry (a name with `=` or a NUL byte, an unknown action, a value that is not text)
/// leaves the rest of the config usable, unlike a bad regular expression: the search needs
/// every level, but the program still starts without one of its variables, most often well
/// enough to work or to show what is missing. Refusing the whole config would take the
/// application away from every artist over one mistyped entry; the warning, in `plugins` and
/// the log at start-up, names the file and the key, so the pipeline engineer sees it first.
fn checked_environment(raw: Option<Map<String, Value>>) -> (Map<String, Value>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut environment = raw.unwrap_or_default();
    environment.retain(|key, value| match environment::check_entry(key, value) {
        Ok(_) => true,
        Err(problem) => {
            warnings.push(format!("environment_variables {problem}"));
            false
        }
    });
    (environment, warnings)
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_json(text: &str) -> Result<LauncherConfig, String> {
        parse(Path::new("c.json"), Format::Json, text, "linux").map_err(|e| e.message)
    }

    const MINIMAL: &str = r#"{
        "identifier": "launch-painter", "label": "Painter", "applicationIdentifier": "painter_{variant}",
        "search_path": {"linux": {"prefix": ["/opt"], "expression": ["painter.*"]}}
    }"#;

    #[test]
    fn minimal_config_gets_ftrack_defaults() {
        let config = parse_json(MINIMAL).unwrap();
        assert_eq!(config.icon, "default");
        assert_eq!(config.variant, "");
        assert_eq!(config.context, Context::Any);
        assert_eq!(config.priority, LAST_PRIORITY);
        let search = config.search_path.unwrap();
        assert_eq!(search.root, PathBuf::from("/opt"));
        assert!(search.levels[0].is_match("painter2024"));
        // Anchored at the start only, as Python's re.match.
        assert!(!search.levels[0].is_match("my-painter"));
        let found = search
            .version_expression
            .captures("/opt/app/v1.8v2b1/app")
            .unwrap();
        assert_eq!(&found["version"], "1.8v2b1");
    }

    #[test]
    fn yaml_with_connect_26_extra_keys() {
        let text = "type: launch_config\nname: framework-maya\nidentifier: launch-maya\n\
                    label: Maya\napplicationIdentifier: maya_{variant}\ncontext: [Task, null]\n\
                    priority: 100\nintegrations:\n  framework: [framework-maya]\n\
                    search_path:\n  linux:\n    prefix: [/, usr]\n    expression: [maya$]\n\
                    extensions_path: [a]\n";
        let config = parse(Path::new("m.yaml"), Format::Yaml, text, "linux").unwrap();
        assert_eq!(
            config.context,
            Context::Types {
                names: vec!["Task".into()],
                allow_empty: true
            }
        );
        assert_eq!(config.priority, 100);
        assert_eq!(
            config.integrations,
            vec![("framework".to_string(), vec!["framework-maya".to_string()])]
        );
    }

    #[test]
    fn context_compares_entity_types_case_insensitively() {
        let context = Context::Types {
            names: vec!["Task".into()],
            allow_empty: false,
        };
        assert!(context.accepts(&[json!({"entityType": "TASK", "entityId": "1"})]));
        assert!(!context.accepts(&[json!({"entityType": "task"}), json!({"entityType": "Shot"})]));
        assert!(!context.accepts(&[]));
        assert!(Context::Any.accepts(&[]));
    }

    #[test]
    fn errors_name_the_key_and_position() {
        let missing = parse_json(r#"{"identifier": "x", "label": "X", "search_path": {}}"#);
        assert!(
            missing
                .as_ref()
                .unwrap_err()
                .contains("missing field `applicationIdentifier`"),
            "{missing:?}"
        );
        let syntax = parse_json("{\n  \"identifier\": \"x\",\n  oops\n}").unwrap_err();
        assert!(syntax.contains("line 3 column 3"), "{syntax}");
        let bad_regex = parse_json(&MINIMAL.replace("painter.*", "painter(")).unwrap_err();
        assert!(
            bad_regex.starts_with(
                "search_path.linux.expression[0]: invalid regular expression \"painter(\""
            ),
            "{bad_regex}"
        );
        let wrong_type = parse_json(&MINIMAL.replace(r#"["/opt"]"#, r#""/opt""#)).unwrap_err();
        assert!(
            wrong_type.starts_with("search_path.linux.prefix: invalid type"),
            "{wrong_type}"
        );
        let no_group = parse_json(&MINIMAL.replace(
            r#""expression": ["painter.*"]"#,
            r#""expression": ["painter.*"], "version_expression": "\\d+""#,
        ))
        .unwrap_err();
        assert!(no_group.contains("no group named `version`"), "{no_group}");
        let trailing = parse_json(&format!("{MINIMAL} x")).unwrap_err();
        assert!(trailing.starts_with("not valid JSON"), "{trailing}");
    }

    #[test]
    fn other_platforms_are_checked_for_shape_but_not_compiled() {
        let text = MINIMAL.replace(
            r#""linux""#,
            r#""windows": {"prefix": ["C:"], "expression": ["(unclosed"]}, "linux""#,
        );
        assert!(parse_json(&text).is_ok());
        let windows = parse(Path::new("c.json"), Format::Json, &text, "windows").unwrap_err();
        assert!(windows
            .message
            .contains("search_path.windows.expression[0]"));
        let broken = MINIMAL.replace(r#""linux""#, r#""darwin": {"prefix": 3}, "linux""#);
        assert!(parse_json(&broken)
            .unwrap_err()
            .starts_with("search_path.darwin.prefix: invalid type"));
    }
}
