//! `ftrack-connect plugins`: every plugin and whether it loaded, from the running host when
//! there is one.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use connect_plugins::{PluginReport, PluginStatus};

use super::target::Target;
use super::{fail, PluginPaths};

/// `plugins`' options.
#[derive(clap::Args)]
pub struct PluginsArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
    /// Load the plugins here even if a host is running.
    #[arg(long)]
    standalone: bool,
    #[command(flatten)]
    plugin_paths: PluginPaths,
}

/// Lists the plugins.
pub fn run(args: &PluginsArgs, first: &PluginPaths, data_dir: &Path) -> ExitCode {
    let options = args.plugin_paths.host_options(first, data_dir);
    let target = Target::find(args.standalone, data_dir, &options);
    let reports = match target.plugins() {
        Ok(reports) => reports,
        Err(err) => return fail(&err.to_string()),
    };
    let server = (!args.json).then(|| target.server()).flatten();
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
    if let Some(server) = server {
        let text = |key: &str| server[key].as_str().unwrap_or("?").to_string();
        let _ = writeln!(
            out,
            "server {}: event hub {}",
            text("url"),
            text("event_hub")
        );
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
    let mut heading = report.name.clone();
    // A folder without `-x.y.z` has no version: nothing is shown rather than a placeholder.
    if let Some(version) = &report.version {
        heading = format!("{heading} {version}");
    }
    // A folder with nothing this host runs shows no kind rather than a wrong one.
    if let Some(kind) = report.kind {
        let kind = serde_json::to_value(kind).expect("kinds serialize");
        heading = format!("{heading} [{}]", kind.as_str().unwrap_or_default());
    }
    let mut entry = format!("{heading} {status}\n    {}\n", report.path);
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
