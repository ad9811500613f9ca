//! `ftrack-connect plugins`: every plugin and whether it loaded, from the running host when
//! there is one.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use connect_plugins::{PluginReport, PluginStatus};
use ftrack_connect::host::HostOptions;

use super::fail;
use super::target::Target;

/// `plugins`' options.
#[derive(clap::Args)]
pub struct PluginsArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
    /// Load the plugins here even if a host is running.
    #[arg(long)]
    standalone: bool,
}

/// Lists the plugins.
pub fn run(args: &PluginsArgs, data_dir: &Path, options: &HostOptions) -> ExitCode {
    let target = Target::find(args.standalone, data_dir, options);
    let reports = match target.plugins() {
        Ok(reports) => reports,
        Err(err) => return fail(&err.to_string()),
    };
    target.finish();
    let mut out = std::io::stdout().lock();
    if args.json {
        let text = serde_json::to_string_pretty(&reports).expect("reports serialize");
        let _ = writeln!(out, "{text}");
        return ExitCode::SUCCESS;
    }
    for report in &reports {
        let _ = write!(out, "{}", table_entry(report));
    }
    ExitCode::SUCCESS
}

/// One plugin as the table shows it: name, version, kind and status, then the path and every
/// note on lines of their own.
fn table_entry(report: &PluginReport) -> String {
    let status = match report.status {
        PluginStatus::Loaded => format!("loaded, {} subscriptions", report.subscriptions),
        PluginStatus::Failed => "FAILED".to_string(),
        PluginStatus::Skipped => "skipped".to_string(),
    };
    let kind = serde_json::to_value(report.kind).expect("kinds serialize");
    let mut entry = format!(
        "{} {} [{}] {status}\n    {}\n",
        report.name,
        report.version.as_deref().unwrap_or("-"),
        kind.as_str().unwrap_or("-"),
        report.path
    );
    let notes = report
        .error
        .iter()
        .chain(&report.reason)
        .chain(&report.warnings);
    for note in notes {
        entry.push_str(&format!("    {note}\n"));
    }
    entry
}
