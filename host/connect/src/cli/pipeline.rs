//! `ftrack-connect pipeline`: ftrack's pipeline framework (ftrack-connect-pipeline) from the
//! command line.
//!
//! `definitions` reads `FTRACK_DEFINITION_PATH` itself, with `connect-pipeline`'s discovery,
//! rather than asking a running host: a studio checking the definitions it writes needs no
//! host, no application and no server for it. What it lists is what a host would serve,
//! augmented the same way, with two checks left to the host: the asset types (the server
//! knows them) and the plugins (the host registers them), so a definition is not dropped
//! here on either ground.
//!
//! `hosts` asks for the pipeline hosts as the framework's clients do: it publishes
//! `ftrack.pipeline.host.discover` (data `{}`) in the running host, whose own pipeline host
//! (the framework's standalone `python` host, started by `run` with
//! [`start_standalone_host`]) answers, or, with `--via-server`, through the server's event
//! hub, where every host linked to it answers, in whatever process or machine.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use connect_core::EventHub;
use connect_event::Event;
use connect_pipeline::client::{Client as PipelineClient, LogViewerClient};
use connect_pipeline::host::host_types_of;
use connect_pipeline::log::LogQuery;
use connect_pipeline::{
    context_id_from_env, definition_paths_from_env, discover, serve_definition_paths,
    DefinitionType, HostConfig, Options, PipelineHost, STANDALONE_HOST_TYPE,
};
use ftrack_connect::endpoint::Client;
use ftrack_connect::locations;
use serde_json::{json, Value};

use super::fail;
use super::server_transport::ServerTransport;

/// `pipeline`'s subcommands.
#[derive(clap::Subcommand)]
pub enum PipelineCommand {
    /// List the definitions found on FTRACK_DEFINITION_PATH, validated against their
    /// schemas (one line each: name, type, host type); the files not kept, with the reason,
    /// on stderr. Asset types and plugins are not checked (no server, no host).
    Definitions(DefinitionsArgs),
    /// Find the pipeline hosts (ftrack.pipeline.host.discover), one line each: id, host
    /// types, context, number of definitions. Asks the running host, or with --via-server
    /// every host linked to the ftrack server.
    Hosts(HostsArgs),
    /// Run a definition on a pipeline host through the ftrack server's event hub (the host
    /// may be in another process), showing each plugin as it ends; exit status 0 only when
    /// every stage succeeded.
    Run(super::pipeline_run::RunArgs),
    /// Resolve what a task depends on with a host's asset manager (its definition's
    /// resolver): the latest version of each asset of the asset types the task's type needs,
    /// one line each (asset type, name, version, task, version id).
    Resolve(super::pipeline_run::ResolveArgs),
    /// Show what the pipeline hosts of this user logged of their plugins' runs (the
    /// notification log), oldest first: time, host, plugin, status, duration, message.
    Logs(LogsArgs),
}

/// `pipeline logs`' options.
#[derive(clap::Args)]
pub struct LogsArgs {
    /// Only this host's.
    #[arg(long, value_name = "HOST_ID")]
    host: Option<String>,
    /// Only this plugin's.
    #[arg(long, value_name = "NAME")]
    plugin: Option<String>,
    /// Only with this status (SUCCESS_STATUS, ERROR_STATUS, EXCEPTION_STATUS, ...).
    #[arg(long)]
    status: Option<String>,
    /// The last N entries.
    #[arg(long, value_name = "N", default_value_t = 50)]
    limit: usize,
    /// Print the entries as JSON (`{time, host_id, plugin_name, plugin_type, method,
    /// status, message, duration, result}`).
    #[arg(long)]
    json: bool,
}

/// `pipeline hosts`' options.
#[derive(clap::Args)]
pub struct HostsArgs {
    /// Ask through the ftrack server's event hub, as a client in another process does (the
    /// signed-in server, else the local server the running host serves).
    #[arg(long)]
    via_server: bool,
    /// With --via-server: how long to collect replies, in seconds.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value = "2",
        value_parser = super::wait_seconds,
        requires = "via_server"
    )]
    wait: Duration,
    /// Print the hosts' replies as the framework's clients receive them (a JSON array of
    /// `{host_id, host_name, context_id, definition}`).
    #[arg(long)]
    json: bool,
}

/// `pipeline definitions`' options.
#[derive(clap::Args)]
pub struct DefinitionsArgs {
    /// Only definitions of this type: publisher, loader, opener or asset_manager.
    #[arg(long = "type", value_name = "TYPE")]
    kind: Option<DefinitionType>,
    /// Only definitions for this host type, e.g. python (repeatable).
    #[arg(long = "host-type", value_name = "HOST_TYPE")]
    host_types: Vec<String>,
    /// The definitions this pipeline host serves (`pipeline hosts` lists them), asked
    /// through the server's event hub, instead of reading FTRACK_DEFINITION_PATH.
    #[arg(long, value_name = "HOST_ID")]
    host: Option<String>,
    /// Print the definitions as the framework's clients receive them: a JSON array of the
    /// augmented definitions.
    #[arg(long)]
    json: bool,
}

/// Runs a `pipeline` subcommand.
pub fn run(command: PipelineCommand) -> ExitCode {
    match command {
        PipelineCommand::Definitions(args) => definitions(&args),
        PipelineCommand::Hosts(args) => hosts(&args),
        PipelineCommand::Run(args) => super::pipeline_run::run(&args),
        PipelineCommand::Logs(args) => logs(&args),
        PipelineCommand::Resolve(args) => super::pipeline_run::resolve(&args),
    }
}

/// Starts the framework's standalone host (type `python`) on the resident host's hub, with
/// the definitions on FTRACK_DEFINITION_PATH (possibly none) of the server's `asset_types`
/// (when known); says so in one log line. `None` (logged) if it cannot subscribe.
pub fn start_standalone_host(
    hub: &Arc<EventHub>,
    asset_types: Option<BTreeSet<String>>,
    data_dir: &Path,
) -> Option<PipelineHost> {
    let paths = definition_paths_from_env();
    let listed = !paths.is_empty();
    if let Err(err) = serve_definition_paths(hub, paths) {
        tracing::error!("no pipeline host: {err}");
        return None;
    }
    let config = HostConfig {
        host_types: vec![STANDALONE_HOST_TYPE.to_string()],
        context_id: context_id_from_env(),
        asset_types,
        // As the framework: a definition whose plugins nobody answers for is dropped (the
        // shipped ones are subscribed by then, and the hooks' since loading).
        check_plugins: true,
        log_path: Some(locations::pipeline_log_file(data_dir)),
    };
    let host = match PipelineHost::start(hub, config) {
        Ok(host) => host,
        Err(err) => {
            tracing::error!("no pipeline host: {err}");
            return None;
        }
    };
    let from = if listed {
        format!(
            "from {}, {} not kept",
            connect_pipeline::DEFINITION_PATH_VARIABLE,
            host.dropped().len()
        )
    } else {
        format!("{} is not set", connect_pipeline::DEFINITION_PATH_VARIABLE)
    };
    tracing::info!(
        "pipeline host {} serves {} definitions ({from})",
        host.id(),
        host.definition_count()
    );
    // Each said: a missing plugin or asset type is only known here, not to
    // `pipeline definitions`.
    for dropped in host.dropped() {
        tracing::warn!("pipeline host: not serving {dropped}");
    }
    Some(host)
}

/// `pipeline hosts`.
fn hosts(args: &HostsArgs) -> ExitCode {
    let data_dir = locations::user_data_dir();
    let event = Event::new(connect_pipeline::topics::HOST_DISCOVER).with_data(json!({}));
    let replies = if args.via_server {
        match super::event::replies_via_server(event, args.wait, &data_dir) {
            Ok(replies) => replies,
            Err(why) => return fail(&why),
        }
    } else {
        let Some(client) = Client::find(&data_dir) else {
            return fail(
                "no ftrack-connect host is running for this user (start one with \
                 `ftrack-connect run`, or ask every host linked to the server with --via-server)",
            );
        };
        match client.publish(event) {
            Ok(replies) => replies,
            Err(err) => return fail(&err.to_string()),
        }
    };
    // One per host: a host answers each discover once, but a reply may come twice.
    let mut seen = BTreeSet::new();
    let hosts: Vec<Value> = replies
        .into_iter()
        .filter(|reply| {
            reply["host_id"]
                .as_str()
                .is_some_and(|id| seen.insert(id.to_string()))
        })
        .collect();
    if args.json {
        outln!("{}", Value::Array(hosts));
        return ExitCode::SUCCESS;
    }
    for host in &hosts {
        let id = host["host_id"].as_str().unwrap_or_default();
        let definitions: usize = ["publisher", "loader", "opener", "asset_manager"]
            .iter()
            .filter_map(|kind| host["definition"][kind].as_array())
            .map(Vec::len)
            .sum();
        outln!(
            "{id}  {}  context {}  {definitions} definitions",
            host_types_of(id).join(","),
            host["context_id"].as_str().unwrap_or("-"),
        );
    }
    ExitCode::SUCCESS
}

/// `pipeline logs`: reads the log file itself, so it works with no host running.
fn logs(args: &LogsArgs) -> ExitCode {
    let path = locations::pipeline_log_file(&locations::user_data_dir());
    if !path.is_file() {
        return fail(&format!(
            "no pipeline log yet ({}): a pipeline host keeps one once it runs plugins",
            path.display()
        ));
    }
    let query = LogQuery {
        host_id: args.host.clone(),
        plugin_name: args.plugin.clone(),
        status: args.status.clone(),
        limit: Some(args.limit),
    };
    let entries = match LogViewerClient::open(&path).and_then(|viewer| viewer.logs(&query)) {
        Ok(entries) => entries,
        Err(err) => return fail(&err.to_string()),
    };
    if args.json {
        match serde_json::to_string(&entries) {
            Ok(text) => outln!("{text}"),
            Err(err) => return fail(&err.to_string()),
        }
        return ExitCode::SUCCESS;
    }
    for entry in &entries {
        let line = format!(
            "{}  {}  {} ({})  {}  {:.3} s  {}",
            rfc3339(entry.time),
            entry.host_id,
            entry.plugin_name,
            entry.plugin_type,
            entry.status,
            entry.duration,
            entry.message
        );
        outln!("{}", printable(&line));
    }
    ExitCode::SUCCESS
}

/// `text` with its control characters (a terminal's escape sequences among them) written
/// as escapes: a plugin's message is not the terminal's to obey.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Seconds since 1970 as an RFC 3339 time to the second (UTC).
fn rfc3339(seconds: f64) -> String {
    let time = std::time::UNIX_EPOCH + Duration::from_secs_f64(seconds.max(0.0));
    humantime::format_rfc3339_seconds(time).to_string()
}

/// `pipeline definitions`.
fn definitions(args: &DefinitionsArgs) -> ExitCode {
    if let Some(host) = &args.host {
        return served_definitions(args, host);
    }
    let paths = definition_paths_from_env();
    if paths.is_empty() {
        return fail(&format!(
            "{} is not set: it lists the folders holding schema/, publisher/, loader/, \
             opener/ and asset_manager/",
            connect_pipeline::DEFINITION_PATH_VARIABLE
        ));
    }
    let options = Options {
        host_types: (!args.host_types.is_empty()).then(|| args.host_types.clone()),
        kinds: args.kind.map(|kind| vec![kind]),
        // No server and no host here: see the module's documentation.
        asset_types: None,
        plugins: None,
    };
    let discovery = discover(&paths, &options);
    for error in &discovery.dropped {
        eprintln!("dropped {error} (in {})", error.root.display());
    }
    if args.json {
        let values: Vec<&serde_json::Value> =
            discovery.definitions.iter().map(|d| d.value()).collect();
        match serde_json::to_string_pretty(&values) {
            Ok(text) => outln!("{text}"),
            Err(err) => return fail(&format!("cannot write the definitions: {err}")),
        }
        return ExitCode::SUCCESS;
    }
    let lines: Vec<[&str; 3]> = discovery
        .definitions
        .iter()
        .map(|d| [d.name(), d.kind().as_str(), d.host_type()])
        .collect();
    print_definitions(&lines);
    ExitCode::SUCCESS
}

/// One line per definition: name, type, host type, in columns.
fn print_definitions(lines: &[[&str; 3]]) {
    let width = lines
        .iter()
        .map(|[name, _, _]| name.chars().count())
        .max()
        .unwrap_or(0);
    for [name, kind, host_type] in lines {
        outln!("{name:<width$}  {kind:<13}  {host_type}");
    }
}

/// `pipeline definitions --host ID`: what that host serves, asked as a client asks.
fn served_definitions(args: &DefinitionsArgs, host_id: &str) -> ExitCode {
    let data_dir = locations::user_data_dir();
    let transport = match ServerTransport::connect(&data_dir) {
        Ok(transport) => transport,
        Err(why) => return fail(&why),
    };
    let client = PipelineClient::new(Arc::new(transport));
    let hosts = match client.discover_hosts(Duration::from_secs(5)) {
        Ok(hosts) => hosts,
        Err(err) => return fail(&err.to_string()),
    };
    let Some(host) = hosts.into_iter().find(|h| h.id() == host_id) else {
        return fail(&format!(
            "no pipeline host {host_id} answered (`ftrack-connect pipeline hosts --via-server` \
             lists those that do)"
        ));
    };
    let definitions: Vec<&Value> = host
        .definitions(args.kind)
        .into_iter()
        .filter(|d| {
            args.host_types.is_empty()
                || d["host_type"]
                    .as_str()
                    .is_some_and(|t| args.host_types.iter().any(|h| h == t))
        })
        .collect();
    if args.json {
        outln!(
            "{}",
            Value::Array(definitions.into_iter().cloned().collect())
        );
        return ExitCode::SUCCESS;
    }
    let text = |d: &&Value, key: &str| d[key].as_str().unwrap_or("-").to_string();
    let owned: Vec<[String; 3]> = definitions
        .iter()
        .map(|d| [text(d, "name"), text(d, "type"), text(d, "host_type")])
        .collect();
    let lines: Vec<[&str; 3]> = owned
        .iter()
        .map(|[a, b, c]| [a.as_str(), b.as_str(), c.as_str()])
        .collect();
    print_definitions(&lines);
    ExitCode::SUCCESS
}
