//! `ftrack-connect event`: publish an event, watch the events passing through the running
//! host, or test an expression against events read from stdin.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connect_core::{ApiKey, Expression};
use connect_event::Event;
use connect_hub_client::HubClient;
use ftrack_connect::endpoint::Client;
use ftrack_connect::{credentials, local_server};
use serde_json::{Map, Value};

use super::target::Target;
use super::{fail, usage_error, PluginPaths};

/// `event`'s subcommands.
#[derive(clap::Subcommand)]
pub enum EventCommand {
    /// Publish one event synchronously and print the results as a JSON array (through the
    /// running host, if one runs).
    Publish {
        /// The event's topic, such as ftrack.action.discover.
        topic: String,
        /// The event's data, a JSON object.
        #[arg(long, value_name = "JSON")]
        data: Option<String>,
        /// The event's source, a JSON object (fields the hub fills stay as given).
        #[arg(long, value_name = "JSON")]
        source: Option<String>,
        /// A subscription expression matched against subscriber metadata.
        #[arg(long, value_name = "EXPR")]
        target: Option<String>,
        /// Load the plugins here even if a host is running.
        #[arg(long, conflicts_with = "via_server")]
        standalone: bool,
        /// Publish through the ftrack server's event hub, as the ftrack web page does, and
        /// print the replies that come back within --wait seconds (the signed-in server, else
        /// the local server the running host serves).
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
        #[command(flatten)]
        plugin_paths: PluginPaths,
    },
    /// Print every event passing through the running host (matching EXPRESSION) as JSON lines.
    Watch {
        /// A subscription expression such as 'topic=ftrack.action*'; every event when left out.
        expression: Option<String>,
    },
    /// Read events as JSON lines on stdin; print `true` or `false` for each.
    Match {
        /// The subscription expression to test, such as 'topic=ftrack.action.discover'.
        expression: String,
    },
}

/// Runs an `event` subcommand.
pub fn run(command: EventCommand, first: &PluginPaths, data_dir: &Path) -> ExitCode {
    match command {
        EventCommand::Publish {
            topic,
            data,
            source,
            target,
            standalone,
            via_server,
            wait,
            plugin_paths,
        } => {
            let event = match event_from_flags(topic, data, source, target) {
                Ok(event) => event,
                Err(message) => return usage_error(&message),
            };
            if via_server {
                return publish_via_server(event, wait, data_dir);
            }
            let options = plugin_paths.host_options(first, data_dir);
            let target = Target::find(standalone, data_dir, &options);
            let outcome = target.publish_as_text(event);
            target.finish();
            match outcome {
                Ok(results) => {
                    outln!("{results}");
                    ExitCode::SUCCESS
                }
                Err(err) => fail(&err.to_string()),
            }
        }
        EventCommand::Watch { expression } => watch(data_dir, expression),
        EventCommand::Match { expression } => match_lines(&expression),
    }
}

/// `event publish --via-server`: a client of the server's hub of its own publishes `event` and
/// prints the replies as one JSON array (each reply's `data`, in arrival order).
fn publish_via_server(event: Event, wait: Duration, data_dir: &Path) -> ExitCode {
    match replies_via_server(event, wait, data_dir) {
        Ok(replies) => {
            outln!("{}", Value::Array(replies));
            ExitCode::SUCCESS
        }
        Err(why) => fail(&why),
    }
}

/// Publishes `event` through the server's hub with a client of its own, as the web page
/// does: the replies' data that came back within `wait`, in arrival order.
pub(super) fn replies_via_server(
    event: Event,
    wait: Duration,
    data_dir: &Path,
) -> Result<Vec<Value>, String> {
    let (url, user, key) = server_sign_in(data_dir)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start: {err}"))?;
    let replies = Arc::new(Mutex::new(Vec::new()));
    runtime.block_on(async {
        let client = HubClient::start(&url, &user, key, Arc::new(|_| {}));
        if !client.wait_connected(Duration::from_secs(10)).await {
            return Err(format!(
                "cannot reach the event hub at {url}: {}",
                client.state()
            ));
        }
        let heard = replies.clone();
        let on_reply = Box::new(move |reply: Event| {
            heard
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(reply.data);
        });
        client
            .publish(event, Some(on_reply))
            .await
            .map_err(|e| e.to_string())?;
        tokio::time::sleep(wait).await;
        Ok(())
    })?;
    let replies = std::mem::take(&mut *replies.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(replies)
}

/// The server `--via-server` publishes through, and as whom: the sign-in `run` would use, or,
/// with nobody signed in, the local server of the running host with the host's own key.
pub(super) fn server_sign_in(data_dir: &Path) -> Result<(String, String, ApiKey), String> {
    let identity = credentials::current(data_dir);
    if let (false, Some(key)) = (identity.server_url.is_empty(), identity.api_key) {
        return Ok((identity.server_url, identity.api_user, key));
    }
    let not_served = "no sign-in with a key, and no running host serves the local server \
                      (start one with `ftrack-connect run`, or sign in)";
    let status = Client::find(data_dir)
        .ok_or(not_served)?
        .status()
        .map_err(|e| e.to_string())?;
    let server = &status["server"];
    if server["sign_in"] != "local server" {
        return Err(not_served.into());
    }
    let key = local_server::kept_key(data_dir).ok_or(not_served)?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Ok((text(&server["url"]), text(&server["api_user"]), key))
}

/// Parses `--data`/`--source`: a JSON object.
fn json_object(flag: &str, text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!("{flag} must be a JSON object, not {other}")),
        Err(err) => Err(format!("{flag} is not valid JSON: {err}")),
    }
}

/// The event `event publish` sends, from its flags; the error is for the user.
fn event_from_flags(
    topic: String,
    data: Option<String>,
    source: Option<String>,
    target: Option<String>,
) -> Result<Event, String> {
    let mut event = Event::new(topic);
    if let Some(data) = data {
        event.data = Value::Object(json_object("--data", &data)?);
    }
    if let Some(source) = source {
        event.source = json_object("--source", &source)?.into();
    }
    if let Some(target) = target {
        Expression::parse(&target).map_err(|e| format!("--target: {e}"))?;
        event.target = target;
    }
    Ok(event)
}

fn watch(data_dir: &Path, expression: Option<String>) -> ExitCode {
    if let Some(Err(err)) = expression.as_deref().map(Expression::parse) {
        return usage_error(&format!("invalid expression: {err}"));
    }
    let Some(client) = Client::find(data_dir) else {
        return fail(
            "no ftrack-connect host is running for this user (start one with `ftrack-connect run`)",
        );
    };
    let mut out = std::io::stdout().lock();
    let outcome = client.watch(expression.as_deref(), |line| {
        writeln!(out, "{line}").and_then(|_| out.flush()).is_ok()
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err.to_string()),
    }
}

fn match_lines(expression: &str) -> ExitCode {
    let expression = match Expression::parse(expression) {
        Ok(parsed) => parsed,
        Err(err) => return usage_error(&format!("invalid expression {expression:?}: {err}")),
    };
    let stdin = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    for (number, line) in stdin.lines().enumerate() {
        let answer = match line {
            Err(err) => format!("error: line {}: cannot read: {err}", number + 1),
            Ok(line) => match serde_json::from_str::<Value>(&line) {
                Ok(Value::Object(mut event)) => {
                    // Events captured off the wire name this field in camelCase.
                    if let Some(reply) = event.remove("inReplyToEvent") {
                        event.entry("in_reply_to_event").or_insert(reply);
                    }
                    expression.matches(&event).to_string()
                }
                Ok(_) => format!("error: line {}: not a JSON object", number + 1),
                Err(err) => format!("error: line {}: not JSON: {err}", number + 1),
            },
        };
        if writeln!(out, "{answer}").and_then(|_| out.flush()).is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}
