//! `ftrack-connect status`: who is signed in where, whether the event hub is connected, and
//! how many plugins loaded, as the running host sees it. Without a running host it says so,
//! with the sign-in `run` would use, and exits with status 3 (as service tools do for "not
//! running"); it never contacts a server itself.

use std::path::Path;
use std::process::ExitCode;

use ftrack_connect::credentials;
use ftrack_connect::endpoint::Client;
use serde_json::Value;

use super::fail;

/// `status`'s options.
#[derive(clap::Args)]
pub struct StatusArgs {
    /// Print the status as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit status when no host runs.
const NOT_RUNNING: u8 = 3;

/// Runs `status`.
pub fn run(args: &StatusArgs, data_dir: &Path) -> ExitCode {
    let Some(client) = Client::find(data_dir) else {
        let identity = credentials::current(data_dir);
        let would = if identity.server_url.is_empty() {
            format!(
                "nobody signed in: `run` would serve the local ftrack server as {}",
                identity.api_user
            )
        } else if identity.api_key.is_none() {
            format!(
                "{} is named but no API key is given: `run` would run without a server",
                identity.server_url
            )
        } else {
            format!(
                "`run` would connect to {} as {}",
                identity.server_url, identity.api_user
            )
        };
        outln!("no ftrack-connect host is running for this user; {would}");
        return ExitCode::from(NOT_RUNNING);
    };
    let status = match client.status() {
        Ok(status) => status,
        Err(err) => return fail(&err.to_string()),
    };
    if args.json {
        outln!("{status:#}");
        return ExitCode::SUCCESS;
    }
    let text = |value: &Value| value.as_str().unwrap_or("?").to_string();
    outln!("host: running (pid {})", status["pid"]);
    match status["server"].as_object() {
        Some(server) => {
            let how = match server["sign_in"].as_str() {
                Some("local server") => "the local server this host serves".to_string(),
                Some(from) => format!("sign-in from {from}"),
                None => "?".into(),
            };
            outln!(
                "server: {} as {} ({how})",
                text(&server["url"]),
                text(&server["api_user"])
            );
            outln!("event hub: {}", text(&server["event_hub"]));
        }
        None => outln!(
            "server: none (running locally as {})",
            text(&status["api_user"])
        ),
    }
    let plugins = &status["plugins"];
    outln!(
        "plugins: {} loaded, {} failed, {} skipped",
        plugins["loaded"],
        plugins["failed"],
        plugins["skipped"]
    );
    ExitCode::SUCCESS
}
