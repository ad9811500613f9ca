//! `ftrack-connect plugin`: create a plugin folder, or show where plugins go.

use std::path::PathBuf;
use std::process::ExitCode;

use ftrack_connect::{locations, scaffold};

use super::fail;

/// `plugin`'s subcommands.
#[derive(clap::Subcommand)]
pub enum PluginCommand {
    /// Create a plugin folder with a working hook.
    New {
        /// The plugin's name: a letter, then letters, digits, `-` and `_` (names its folder).
        name: String,
        /// A native (Rust) plugin crate instead of a Rhai hook.
        #[arg(long)]
        native: bool,
        /// Where to create it (default: the default plugin directory).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print (and create) the default plugin directory.
    Dir,
}

/// Runs a `plugin` subcommand.
pub fn run(command: PluginCommand) -> ExitCode {
    match command {
        PluginCommand::New { name, native, dir } => {
            let dir = dir.unwrap_or_else(locations::default_plugin_dir);
            match scaffold::new_plugin(&name, &dir, native) {
                Ok(folder) => {
                    outln!("{}", folder.display());
                    ExitCode::SUCCESS
                }
                Err(err) => fail(&err.to_string()),
            }
        }
        PluginCommand::Dir => {
            let dir = locations::default_plugin_dir();
            match std::fs::create_dir_all(&dir) {
                Ok(()) => {
                    outln!("{}", dir.display());
                    ExitCode::SUCCESS
                }
                Err(err) => fail(&format!("cannot create {}: {err}", dir.display())),
            }
        }
    }
}
