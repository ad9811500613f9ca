//! Launching one installed version: the command and environment, the
//! `ftrack.connect.application.launch` hooks, and the detached start.
//!
//! The order, which decides who wins, is:
//!
//! 1. the host's environment, without `FTRACK_EVENT_PLUGIN_PATH` (the host's hooks are not
//!    the application's) and without any API key;
//! 2. `FTRACK_SERVER` (when known), `FTRACK_API_USER` and `FTRACK_CONNECT_EVENT` (base64 of
//!    the JSON launch context: the action event's data, selection included, and its source);
//! 3. the config's `environment_variables`;
//! 4. handlers of `ftrack.connect.application.launch`, which may change `data.command` and
//!    `data.options` (`env`, `cwd`) in place;
//! 5. the `integration.env` of their replies (see [`super::environment`]), and their
//!    `integration.launch_arguments` appended to the command;
//! 6. `FTRACK_API_KEY` (and the legacy `FTRACK_APIKEY`); with the opt-in below, unless a
//!    config or hook set one.
//!
//! The API key is added last, outside the event, so that hooks (and anything that logs an
//! event) never see it: Rhai hooks are deliberately not given the key anywhere else either.
//!
//! The credentials (`FTRACK_SERVER`, `FTRACK_API_USER`, the key, any `FTRACK_API_*`: see
//! [`environment::is_credential`]) are the signed-in user's: steps 3 to 5 may not change them.
//! The config's attempts were left out when it was read; a hook's change to them in
//! `data.options.env` is undone and its `integration.env` entries for them are not applied,
//! each attempt logged as a warning that names the hook's part and the variable, never the
//! value. With [`Credentials::Overridable`] (the host's opt-in) they apply in the order above,
//! and a key set by a config or hook replaces the signed-in one.
//!
//! Every variable name is checked ([`environment::check_name`]); an entry the OS could not pass
//! on is left out with a warning naming where it came from, and the program starts with the
//! rest.
//!
//! For a config with `integrations`, only the `integration.env` of the integrations it names
//! apply, and only for groups whose integrations all answered, as in ftrack; without
//! `integrations`, every reply's `integration.env` applies.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::PathBuf;

use base64::Engine as _;
use connect_event::payloads::{ApplicationLaunch, IntegrationChanges, LaunchOptions};
use connect_event::Event;
use serde_json::{json, Map, Value};

use super::environment::{self, check_name, is_credential, value_text, Credentials};
use super::spawn::spawn_detached;
use super::{is_bundle, LauncherConfig, Offer, Shared};
use connect_event::topics;

/// Variables the launched program never inherits from the host.
const NOT_INHERITED: &[&str] = &[
    "FTRACK_EVENT_PLUGIN_PATH",
    "FTRACK_API_KEY",
    "FTRACK_APIKEY",
];

/// Why a program was not started; the message completes "Maya 2024 could not be started: ".
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The host is going away.
    #[error("the host is shutting down")]
    ShuttingDown,
    /// A hook of `ftrack.connect.application.launch` left the launch data unusable.
    #[error("a launch hook left {field} that is not {expected}")]
    HookChange {
        /// The field, as `data.options.env.NAME`.
        field: String,
        /// What it must be.
        expected: String,
    },
    /// The working folder is not a folder (else the OS would report it as a missing program).
    #[error("its working folder {} (data.options.cwd) is not a folder", .0.display())]
    NotAFolder(PathBuf),
    /// The OS could not start the program.
    #[error("{program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// What the OS said.
        source: std::io::Error,
    },
}

impl LaunchError {
    fn hook_change(field: impl Into<String>, expected: impl Into<String>) -> Self {
        LaunchError::HookChange {
            field: field.into(),
            expected: expected.into(),
        }
    }
}

/// Starts `offer` for `context`; returns the process id, or why it could not start.
pub(super) fn start(
    shared: &Shared,
    config: &LauncherConfig,
    offer: &Offer,
    context: Value,
) -> Result<u32, LaunchError> {
    let hub = shared.hub.upgrade().ok_or(LaunchError::ShuttingDown)?;
    let (mut env, opaque) = host_environment();
    if !shared.identity.server_url.is_empty() {
        env.insert("FTRACK_SERVER".into(), json!(shared.identity.server_url));
    }
    env.insert("FTRACK_API_USER".into(), json!(shared.identity.api_user));
    let encoded = base64::engine::general_purpose::STANDARD.encode(context.to_string());
    env.insert("FTRACK_CONNECT_EVENT".into(), json!(encoded));
    // The config's entries were checked when it was read (its credentials withheld unless
    // allowed): nothing is expected to be refused here.
    for problem in environment::apply_all(&mut env, &config.environment, shared.credentials) {
        tracing::warn!(
            "launcher config {}: environment_variables {problem}",
            config.file.display()
        );
    }

    let mut command = Vec::new();
    let path = offer.path.to_string_lossy().into_owned();
    if shared.platform == "darwin" && is_bundle(&offer.path) {
        command.push("open".to_string());
    }
    command.push(path);
    if let Some(search) = &config.search_path {
        command.extend(search.launch_arguments.iter().cloned());
    }
    // The UI may ask for more arguments in the action's data, as ftrack's launcher allows.
    if let Some(Value::Array(extra)) = context.get("launchArguments") {
        command.extend(extra.iter().filter_map(|a| value_text(a).ok()));
    }
    let cwd = offer
        .path
        .parent()
        .map(|p| p.to_string_lossy().into_owned());

    // The credentials as the hooks are given them: the signed-in values (with the config's
    // changes when the host allows them).
    let given: Map<String, Value> = env
        .iter()
        .filter(|(name, _)| is_credential(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let data = ApplicationLaunch {
        command,
        options: LaunchOptions { env, cwd },
        application: offer.application.clone(),
        context,
        integration: IntegrationChanges::default(),
        platform: shared.platform.to_string(),
    };
    let data = serde_json::to_value(data).expect("launch data is JSON");
    let mut event = Event::new(topics::APPLICATION_LAUNCH).with_data(data);
    let results = hub.publish(&mut event);

    let mut command = strings(&event.data["command"])
        .filter(|command| !command.is_empty())
        .ok_or_else(|| LaunchError::hook_change("data.command", "a non-empty list of texts"))?;
    let options = event.data["options"]
        .as_object()
        .ok_or_else(|| LaunchError::hook_change("data.options", "a map"))?;
    let mut env = match options.get("env") {
        Some(Value::Object(env)) => conform(env)?,
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(LaunchError::hook_change("data.options.env", "a map")),
    };
    if shared.credentials == Credentials::Protected {
        keep_credentials(&mut env, &given);
    }
    let integrations: Vec<&Map<String, Value>> = results
        .iter()
        .filter_map(|result| result.get("integration")?.as_object())
        .collect();
    for integration in env_sources(config, &integrations) {
        if let Some(Value::Object(edits)) = integration.get("env") {
            let name = integration
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("(no name)");
            for problem in environment::apply_all(&mut env, edits, shared.credentials) {
                tracing::warn!("integration {name}: env {problem}");
            }
        }
    }
    for integration in &integrations {
        if let Some(arguments) = integration.get("launch_arguments").and_then(strings) {
            command.extend(arguments);
        }
    }
    let cwd = match options.get("cwd") {
        Some(Value::String(cwd)) if !cwd.is_empty() => Some(PathBuf::from(cwd)),
        _ => None,
    };
    if let Some(cwd) = cwd.as_ref().filter(|cwd| !cwd.is_dir()) {
        // Else the OS reports a bad working folder as if the program were missing.
        return Err(LaunchError::NotAFolder(cwd.clone()));
    }

    let mut variables: Vec<(OsString, OsString)> = env
        .iter()
        .filter_map(|(key, value)| Some((key.into(), value.as_str()?.into())))
        .collect();
    // The host's variables that are not valid Unicode, unless a config or hook set the same
    // name (the later setting wins, as for every other variable).
    variables.extend(
        opaque
            .into_iter()
            .filter(|(key, _)| !key.to_str().is_some_and(|key| env.contains_key(key))),
    );
    if let Some(key) = &shared.identity.api_key {
        for name in ["FTRACK_API_KEY", "FTRACK_APIKEY"] {
            // Protected, `env` holds no key: configs' and hooks' attempts were undone.
            if !env.contains_key(name) {
                variables.push((name.into(), key.expose().into()));
            }
        }
    }
    let program = command.remove(0);
    tracing::debug!("starting {program} with {} arguments", command.len());
    spawn_detached(&program, &command, &variables, cwd.as_deref())
        .map_err(|source| LaunchError::Spawn { program, source })
}

/// The host's environment as a JSON map for the launch event, and the variables that are not
/// valid Unicode (passed on to the program untouched; hooks cannot see them).
fn host_environment() -> (Map<String, Value>, Vec<(OsString, OsString)>) {
    let mut env = Map::new();
    let mut opaque = Vec::new();
    for (key, value) in std::env::vars_os() {
        if key.to_str().is_some_and(|key| NOT_INHERITED.contains(&key)) {
            continue;
        }
        match (key.into_string(), value.into_string()) {
            (Ok(key), Ok(value)) => {
                env.insert(key, Value::String(value));
            }
            (key, value) => opaque.push((
                key.map_or_else(|k| k, OsString::from),
                value.map_or_else(|v| v, OsString::from),
            )),
        }
    }
    (env, opaque)
}

/// The environment a hook left, as texts: numbers and booleans written out, lists joined as
/// path lists, `null` removing the variable. A name or value the OS could not pass on is left
/// out with a warning (the launch goes on, as for the config's and `integration.env`'s); a
/// value that is no text at all is the hook's error.
fn conform(env: &Map<String, Value>) -> Result<Map<String, Value>, LaunchError> {
    let mut conformed = Map::new();
    for (key, value) in env {
        if value.is_null() {
            continue;
        }
        if let Err(reason) = check_name(key) {
            tracing::warn!("a launch hook's data.options.env {key:?}: {reason}");
            continue;
        }
        let text = value_text(value).map_err(|expected| {
            LaunchError::hook_change(format!("data.options.env.{key}"), expected)
        })?;
        if text.contains('\0') {
            tracing::warn!(
                "a launch hook's data.options.env {key:?}: the value contains a NUL byte"
            );
            continue;
        }
        conformed.insert(key.clone(), Value::String(text));
    }
    Ok(conformed)
}

/// Undoes the hooks' changes to the credentials in `env`: each credential is set back to its
/// value in `given` (the environment the hooks were given), or removed when it had none; each
/// change is one warning naming the variable, never either value.
fn keep_credentials(env: &mut Map<String, Value>, given: &Map<String, Value>) {
    let changed: Vec<String> = env
        .keys()
        .chain(given.keys())
        .filter(|name| is_credential(name) && env.get(*name) != given.get(*name))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for name in changed {
        tracing::warn!(
            "a launch hook's data.options.env {name:?}: {}",
            Credentials::refusal(&name)
        );
        match given.get(&name) {
            Some(value) => env.insert(name, value.clone()),
            None => env.remove(&name),
        };
    }
}

/// A list of texts (numbers written out), or None.
fn strings(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|item| match item {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        })
        .collect()
}

/// The integrations whose `env` applies; see the module documentation.
fn env_sources<'a>(
    config: &LauncherConfig,
    integrations: &[&'a Map<String, Value>],
) -> Vec<&'a Map<String, Value>> {
    if config.integrations.is_empty() {
        return integrations.to_vec();
    }
    let name_of = |integration: &Map<String, Value>| -> Option<String> {
        integration.get("name")?.as_str().map(str::to_string)
    };
    let answered: HashSet<String> = integrations.iter().filter_map(|i| name_of(i)).collect();
    let mut sources = Vec::new();
    for (group, names) in &config.integrations {
        let missing: Vec<&String> = names.iter().filter(|n| !answered.contains(*n)).collect();
        if !missing.is_empty() {
            tracing::warn!(
                "launcher config {}: integration group {group} ignored, {missing:?} did not answer",
                config.file.display()
            );
            continue;
        }
        for name in names {
            if let Some(integration) = integrations
                .iter()
                .find(|i| name_of(i).as_deref() == Some(name))
            {
                sources.push(*integration);
            }
        }
    }
    sources
}
