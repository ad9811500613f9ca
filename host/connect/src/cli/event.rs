//! `ftrack-connect event`: publish an event, watch the events passing through the running
//! host, or test an expression against events read from stdin.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use connect_core::Expression;
use connect_event::Event;
use ftrack_connect::endpoint::Client;
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
        #[arg(long)]
        standalone: bool,
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
            plugin_paths,
        } => {
            let event = match event_from_flags(topic, data, source, target) {
                Ok(event) => event,
                Err(message) => return usage_error(&message),
            };
            let options = plugin_paths.host_options(first, data_dir);
            let target = Target::find(standalone, data_dir, &options);
            let outcome = target.publish_as_text(event);
            target.finish();
            match outcome {
                Ok(results) => {
                    println!("{results}");
                    ExitCode::SUCCESS
                }
                Err(err) => fail(&err.to_string()),
            }
        }
        EventCommand::Watch { expression } => watch(data_dir, expression),
        EventCommand::Match { expression } => match_lines(&expression),
    }
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
