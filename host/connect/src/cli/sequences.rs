//! `ftrack-connect sequences`: groups paths into file sequences as Connect's drop zone does
//! (clique 1.6.1's `assemble`, `connect-sequence`), for scripts and for checking what a
//! publish will make of a folder.
//!
//! Defaults are the drop zone's since Connect 25.11: the `frames` pattern, and ambiguous
//! numbers taken as padded (`1000-1010` is `%04d`, `1-3` is `%01d`);
//! `--no-assume-padded` gives the older drop zone (and clique's own default), where they
//! are unpadded (`%d`).

use std::io::{BufRead, Write};
use std::process::ExitCode;

use connect_sequence::{assemble, Collection, Options, Pattern, DEFAULT_FORMAT};
use serde::Serialize;
use serde_json::value::RawValue;

use super::{fail, USAGE_ERROR};

/// `sequences`' options.
#[derive(clap::Args)]
pub struct SequencesArgs {
    /// `frames` (the default), `versions`, `digits` (every number), or a regular expression
    /// with the groups (?P<index>...) and (?P<padding>...) (repeatable).
    #[arg(long = "pattern", value_name = "NAME_OR_REGEX")]
    patterns: Vec<String>,
    /// Collections with fewer items are not collections: their paths stay single.
    #[arg(long, value_name = "N", default_value_t = 2)]
    minimum_items: usize,
    /// `A.0001.exr` and `a.0002.exr` belong together (collections are then lower-case).
    #[arg(long)]
    case_insensitive: bool,
    /// Take ambiguous numbers (`1000-1010`) as padded, as Connect 25.11's drop zone (default).
    #[arg(long, overrides_with = "no_assume_padded")]
    assume_padded: bool,
    /// Take ambiguous numbers as unpadded, as the drop zone before Connect 25.11.
    #[arg(long)]
    no_assume_padded: bool,
    /// How each collection is written (clique's fields: {head}, {padding}, {tail},
    /// {range}, {ranges}, {holes}).
    #[arg(long, value_name = "FMT", default_value = DEFAULT_FORMAT)]
    format: String,
    /// Print {"collections": [{head, tail, padding, indexes}], "remainder": [...]}.
    #[arg(long)]
    json: bool,
    /// The paths; read one per line from standard input when none are given.
    paths: Vec<String>,
}

/// `--json`'s output.
#[derive(Serialize)]
struct Output<'a> {
    collections: Vec<CollectionJson<'a>>,
    remainder: &'a [String],
}

/// A collection in `--json`'s output; indexes are numbers of any size.
#[derive(Serialize)]
struct CollectionJson<'a> {
    head: &'a str,
    tail: &'a str,
    padding: usize,
    indexes: Vec<Box<RawValue>>,
}

/// Runs `sequences`.
pub fn run(args: &SequencesArgs) -> ExitCode {
    let paths = if args.paths.is_empty() {
        match read_lines() {
            Ok(paths) => paths,
            Err(err) => return fail(&format!("cannot read paths from standard input: {err}")),
        }
    } else {
        args.paths.clone()
    };
    let patterns = if args.patterns.is_empty() {
        vec![Pattern::Frames]
    } else {
        args.patterns.iter().map(|p| Pattern::named(p)).collect()
    };
    let options = Options {
        patterns: Some(patterns),
        minimum_items: args.minimum_items,
        case_sensitive: !args.case_insensitive,
        assume_padded_when_ambiguous: !args.no_assume_padded,
    };
    let assembly = match assemble(&paths, &options) {
        Ok(assembly) => assembly,
        Err(err) => return usage(&err.to_string()),
    };
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let output = Output {
            collections: assembly.collections.iter().map(to_json).collect(),
            remainder: &assembly.remainder,
        };
        // Written as is (not through a JSON value): indexes of any size stay exact.
        let json = serde_json::to_string(&output).expect("strings and digits are JSON");
        writeln!(out, "{json}")
    } else {
        let mut lines = Vec::new();
        for collection in &assembly.collections {
            match collection.format(&args.format) {
                Ok(line) => lines.push(line),
                Err(err) => return usage(&err.to_string()),
            }
        }
        lines.extend(assembly.remainder);
        lines.iter().try_for_each(|line| writeln!(out, "{line}"))
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`| head`) is not our failure.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => fail(&format!("cannot write: {err}")),
    }
}

fn to_json(collection: &Collection) -> CollectionJson<'_> {
    CollectionJson {
        head: collection.head(),
        tail: collection.tail(),
        padding: collection.padding,
        indexes: collection
            .indexes
            .iter()
            .map(|index| RawValue::from_string(index.to_string()).expect("digits are JSON"))
            .collect(),
    }
}

/// Standard input's lines, without their line ends; empty lines are no paths.
fn read_lines() -> std::io::Result<Vec<String>> {
    let mut paths = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if !line.is_empty() {
            paths.push(line.to_string());
        }
    }
    Ok(paths)
}

fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(USAGE_ERROR)
}
