//! `ftrack-connect pipeline run`: runs a definition on a pipeline host, as the framework's
//! clients do, through the server's event hub (the signed-in server, else the local server
//! the running host serves), so the host may be in any process or machine linked to it.
//!
//! It is a client of the framework (`connect_pipeline::client::Client`) over the server's
//! event hub (`server_transport`):
//!
//! 1. It asks for the hosts (`ftrack.pipeline.host.discover`, again until one serving the
//!    definition answers, or `--wait` passes) and takes the one named by `--host`, else the
//!    first serving a definition of that name; from then on it hears that host's
//!    notifications.
//! 2. It sets the options (`--set`), the context plugins' `context_id` (`--context`, checked
//!    against the server first: a wrong id is said before anything runs) and asks the host
//!    to run it (`ftrack.pipeline.host.run`), printing each plugin as it ends, from the
//!    host's notifications.
//! 3. The host's answer decides the exit status: 0 when every stage succeeded (the
//!    finalizers' results printed), 1 with the failing plugin's name and message.

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connect_event::Event;
use connect_ftrack_api::{quoted, Client as ApiClient};
use connect_pipeline::client::{
    set_context, set_option, Client, HostConnection, OptionPath, RunOutcome,
};
use connect_pipeline::{topics, DefinitionType};
use ftrack_connect::locations;
use serde_json::{json, Value};

use super::server_transport::ServerTransport;
use super::{fail, usage_error};

/// `pipeline run`'s options.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The definition's name, e.g. "File Publisher" (`pipeline definitions` lists them).
    definition: String,
    /// What it runs against, TYPE:ID (e.g. Task:3f2a…): the context plugins' context_id.
    #[arg(long, value_name = "TYPE:ID")]
    context: String,
    /// The host to run it on (`pipeline hosts` lists them); else the first serving it.
    #[arg(long, value_name = "HOST_ID")]
    host: Option<String>,
    /// Set an option on every plugin of one stage of one step, e.g.
    /// components.main.collector.path=/renders/a.png (the value is JSON when it parses as
    /// JSON, else text; repeatable).
    #[arg(long = "set", value_name = "STEP_TYPE.STEP.STAGE.OPTION=VALUE")]
    set: Vec<String>,
    /// Print the host's answer as JSON on stdout (the progress stays on stderr).
    #[arg(long)]
    json: bool,
    /// How long to look for the host, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = super::wait_seconds)]
    wait: Duration,
}

/// `pipeline resolve`'s options.
#[derive(clap::Args)]
pub struct ResolveArgs {
    /// The task whose dependencies are resolved, Task:ID.
    #[arg(long, value_name = "TYPE:ID")]
    context: String,
    /// The host to ask (`pipeline hosts` lists them); else the first with an asset manager.
    #[arg(long, value_name = "HOST_ID")]
    host: Option<String>,
    /// Print the resolver's reply as JSON.
    #[arg(long)]
    json: bool,
    /// How long to look for the host, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = super::wait_seconds)]
    wait: Duration,
}

/// How long a run may take before the command stops waiting for its answer.
const RUN_TIME_OUT: Duration = Duration::from_secs(3600);

/// Runs `pipeline run`.
pub fn run(args: &RunArgs) -> ExitCode {
    let (context_type, context_id) = match context(&args.context) {
        Ok(context) => context,
        Err(why) => return usage_error(&why),
    };
    let wait = args.wait;
    let mut settings = Vec::new();
    for set in &args.set {
        match parse_set(set) {
            Ok(setting) => settings.push(setting),
            Err(why) => return usage_error(&format!("--set {set}: {why}")),
        }
    }
    let data_dir = locations::user_data_dir();
    match run_on_host(args, wait, (context_type, context_id), &settings, &data_dir) {
        Ok(code) => code,
        Err(why) => fail(&why),
    }
}

/// `--context TYPE:ID`, both parts given.
fn context(text: &str) -> Result<(&str, &str), String> {
    text.split_once(':')
        .filter(|(kind, id)| !kind.is_empty() && !id.is_empty())
        .ok_or_else(|| format!("--context {text:?} is not TYPE:ID (e.g. Task:3f2a…)"))
}

/// `STEP_TYPE.STEP.STAGE.OPTION=VALUE`: the value JSON when it parses, else text.
fn parse_set(text: &str) -> Result<(OptionPath, Value), String> {
    let (path, value) = text
        .split_once('=')
        .ok_or("not STEP_TYPE.STEP.STAGE.OPTION=VALUE")?;
    let path: OptionPath = path.parse()?;
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into()));
    Ok((path, value))
}

/// Says why `--context` names nothing on the server, before anything runs.
fn check_context(data_dir: &Path, context_type: &str, context_id: &str) -> Result<(), String> {
    if !context_type
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(format!(
            "--context {context_type}:{context_id}: {context_type:?} is not an entity type"
        ));
    }
    let (url, user, key) = super::event::server_sign_in(data_dir)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start: {err}"))?;
    let api = ApiClient::new(&url, &user, key).map_err(|e| e.to_string())?;
    let found = runtime
        .block_on(api.query(&format!(
            "select id from {context_type} where id is {}",
            quoted(context_id)
        )))
        .map_err(|err| format!("--context {context_type}:{context_id}: {err}"))?;
    if found.is_empty() {
        return Err(format!(
            "--context {context_type}:{context_id}: the server has no {context_type} with that id"
        ));
    }
    Ok(())
}

fn run_on_host(
    args: &RunArgs,
    wait: Duration,
    (context_type, context_id): (&str, &str),
    settings: &[(OptionPath, Value)],
    data_dir: &Path,
) -> Result<ExitCode, String> {
    check_context(data_dir, context_type, context_id)?;
    let client = Client::new(Arc::new(ServerTransport::connect(data_dir)?));
    let host = find_host(
        &client,
        args.host.as_deref(),
        |host| host.definition(&args.definition).is_some(),
        &format!("{:?}", args.definition),
        wait,
    )?;
    client
        .change_host(host.clone())
        .map_err(|e| e.to_string())?;
    let mut definition = host.definition(&args.definition).cloned().ok_or_else(|| {
        format!(
            "the host {} has no definition {:?}",
            host.id(),
            args.definition
        )
    })?;
    set_context(&mut definition, context_id);
    for (path, value) in settings {
        set_option(&mut definition, path, value.clone())?;
    }
    client
        .change_definition(definition)
        .map_err(|e| e.to_string())?;
    eprintln!(
        "running {:?} on {} against {context_type} {context_id}",
        args.definition,
        host.id()
    );
    let progress = Mutex::new(Progress::default());
    client.on_notification(move |event| {
        progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .show(event)
    });
    let outcome = client
        .run_definition(RUN_TIME_OUT)
        .map_err(|e| e.to_string())?;
    Ok(report(outcome, args.json))
}

/// Asks for the hosts until one named `host` (any, when `None`) that `serves` answers, or
/// `wait` passes; `what` says what it must serve, for the error.
fn find_host(
    client: &Client,
    host: Option<&str>,
    serves: impl Fn(&HostConnection) -> bool,
    what: &str,
    wait: Duration,
) -> Result<HostConnection, String> {
    let until = Instant::now() + wait;
    let mut seen: Vec<HostConnection> = Vec::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let hosts = client.discover_hosts(left).map_err(|e| e.to_string())?;
        for found in hosts {
            if host.is_none_or(|id| id == found.id()) && serves(&found) {
                return Ok(found);
            }
            let host = found;
            if !seen.iter().any(|h| h.id() == host.id()) {
                seen.push(host);
            }
        }
        if Instant::now() >= until {
            break;
        }
        std::thread::sleep(Duration::from_millis(250).min(until - Instant::now()));
    }
    let wanted = match host {
        Some(id) => format!("the host {id} serving {what}"),
        None => format!("a host serving {what}"),
    };
    let found = if seen.is_empty() {
        "no pipeline host answered (is `ftrack-connect run` running, or an application with \
         the framework?)"
            .to_string()
    } else {
        let listed: Vec<String> = seen
            .iter()
            .map(|host| {
                let names: Vec<&str> = host
                    .definitions(None)
                    .iter()
                    .filter_map(|d| d["name"].as_str())
                    .collect();
                format!("{} serves: {}", host.id(), names.join(", "))
            })
            .collect();
        listed.join("; ")
    };
    Err(format!(
        "found no {wanted} within {:.0} s: {found}",
        wait.as_secs_f64()
    ))
}

/// Prints each plugin as it ends, with its step and stage (from the progress notifications).
#[derive(Default)]
struct Progress {
    step: String,
}

impl Progress {
    fn show(&mut self, event: &Event) {
        let pipeline = &event.data["pipeline"];
        let text = |key: &str| pipeline[key].as_str().unwrap_or_default().to_string();
        if event.topic == topics::CLIENT_PROGRESS_NOTIFICATION {
            self.step = format!("{} {}", text("step_type"), text("step_name"));
            return;
        }
        let status = text("status");
        if status == "RUNNING_STATUS" {
            return;
        }
        let seconds = pipeline["execution_time"].as_f64().unwrap_or(0.0);
        let mark = if status == "SUCCESS_STATUS" {
            "ok"
        } else {
            "FAILED"
        };
        let mut line = format!(
            "  {mark:<6} {:<20} {} ({}, {seconds:.2} s)",
            self.step,
            text("plugin_name"),
            text("plugin_type"),
        );
        if status != "SUCCESS_STATUS" {
            line.push_str(&format!(": {status}: {}", text("message")));
        }
        eprintln!("{line}");
    }
}

/// Prints the outcome; the exit status.
fn report(outcome: RunOutcome, json: bool) -> ExitCode {
    if json {
        let answer = match &outcome {
            RunOutcome::Done(value) | RunOutcome::Failed(value) => value,
        };
        outln!("{answer}");
    }
    match &outcome {
        RunOutcome::Done(_) => {
            if !json {
                for result in outcome.finalizer_results() {
                    match result["asset_version_id"].as_str() {
                        Some(version) => outln!(
                            "published version {version} (v{}) with {}: {}",
                            result["version"],
                            result["component_names"]
                                .as_array()
                                .map(|names| names
                                    .iter()
                                    .filter_map(Value::as_str)
                                    .collect::<Vec<_>>()
                                    .join(", "))
                                .unwrap_or_default(),
                            result["url"].as_str().unwrap_or_default()
                        ),
                        None => outln!("{result}"),
                    }
                }
            }
            eprintln!("done: every stage succeeded");
            ExitCode::SUCCESS
        }
        RunOutcome::Failed(reply) => {
            eprintln!(
                "error: {}",
                reply["message"]
                    .as_str()
                    .unwrap_or("the host refused the run")
            );
            ExitCode::from(1)
        }
    }
}

/// How long the asset manager's resolver may take.
const RESOLVE_TIME_OUT: Duration = Duration::from_secs(300);

/// Runs `pipeline resolve`: the host's asset manager resolves what the task depends on with
/// its definition's resolver (`resolve_dependencies`).
pub fn resolve(args: &ResolveArgs) -> ExitCode {
    let (context_type, context_id) = match context(&args.context) {
        Ok(context) => context,
        Err(why) => return usage_error(&why),
    };
    let wait = args.wait;
    let data_dir = locations::user_data_dir();
    let resolved = (|| -> Result<Value, String> {
        check_context(&data_dir, context_type, context_id)?;
        let client = Client::asset_manager(Arc::new(ServerTransport::connect(&data_dir)?));
        let has_resolver = |host: &HostConnection| {
            host.definitions(Some(DefinitionType::AssetManager))
                .iter()
                .any(|d| d["resolvers"]["resolve_dependencies"].is_array())
        };
        let what = "an asset manager definition with a resolver";
        let host = find_host(&client, args.host.as_deref(), has_resolver, what, wait)?;
        client.change_host(host).map_err(|e| e.to_string())?;
        let definition = client
            .definitions()
            .into_iter()
            .find(|d| d["resolvers"]["resolve_dependencies"].is_array())
            .ok_or("the host has no asset manager definition with a resolver")?;
        let resolver = definition["resolvers"]["resolve_dependencies"][0].clone();
        client
            .resolve_dependencies(context_id, &resolver, json!({}), RESOLVE_TIME_OUT)
            .map_err(|e| e.to_string())
    })();
    let reply = match resolved {
        Ok(reply) => reply,
        Err(why) => return fail(&why),
    };
    if args.json {
        outln!("{reply}");
    }
    if reply["status"] != "SUCCESS_STATUS" {
        return fail(&format!(
            "{} ({}): {}",
            reply["plugin_name"].as_str().unwrap_or("the resolver"),
            reply["status"].as_str().unwrap_or("no status"),
            reply["message"].as_str().unwrap_or_default()
        ));
    }
    if !args.json {
        let versions = reply["result"]["run"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for version in &versions {
            let text = |key: &str| version[key].as_str().unwrap_or("-").to_string();
            outln!(
                "{}  {}  v{}  ({})  {}",
                text("asset_type"),
                text("asset_name"),
                version["version"],
                text("task_name"),
                text("asset_version_id")
            );
        }
        eprintln!("{} dependencies", versions.len());
    }
    ExitCode::SUCCESS
}
