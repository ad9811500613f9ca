//! `ftrack-connect pipeline`: ftrack's pipeline framework (ftrack-connect-pipeline) from the
//! command line.
//!
//! `definitions` reads `FTRACK_DEFINITION_PATH` itself, with `connect-pipeline`'s discovery,
//! rather than asking a running host: a studio checking the definitions it writes needs no
//! host, no application and no server for it. What it lists is what a host would serve,
//! augmented the same way, with two checks left to the host: the asset types (the server
//! knows them) and the plugins (the host registers them), so a definition is not dropped
//! here on either ground.

use std::process::ExitCode;

use connect_pipeline::{definition_paths_from_env, discover, DefinitionType, Options};

use super::fail;

/// `pipeline`'s subcommands.
#[derive(clap::Subcommand)]
pub enum PipelineCommand {
    /// List the definitions found on FTRACK_DEFINITION_PATH, validated against their
    /// schemas (one line each: name, type, host type); the files not kept, with the reason,
    /// on stderr. Asset types and plugins are not checked (no server, no host).
    Definitions(DefinitionsArgs),
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
    /// Print the definitions as the framework's clients receive them: a JSON array of the
    /// augmented definitions.
    #[arg(long)]
    json: bool,
}

/// Runs a `pipeline` subcommand.
pub fn run(command: PipelineCommand) -> ExitCode {
    match command {
        PipelineCommand::Definitions(args) => definitions(&args),
    }
}

/// `pipeline definitions`.
fn definitions(args: &DefinitionsArgs) -> ExitCode {
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
            Ok(text) => println!("{text}"),
            Err(err) => return fail(&format!("cannot write the definitions: {err}")),
        }
        return ExitCode::SUCCESS;
    }
    let width = discovery
        .definitions
        .iter()
        .map(|d| d.name().chars().count())
        .max()
        .unwrap_or(0);
    for definition in &discovery.definitions {
        println!(
            "{:<width$}  {:<13}  {}",
            definition.name(),
            definition.kind().as_str(),
            definition.host_type()
        );
    }
    ExitCode::SUCCESS
}
