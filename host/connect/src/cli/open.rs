//! `ftrack-connect open`: opens the running host's window in the browser, signed in.
//!
//! It asks the host (over its token-checked endpoint) for a sign-in link that works once and
//! for a minute, and starts the browser on it (see [`super::browser`]); with `--print`, or
//! when no browser starts, it prints the link instead.

use std::path::Path;
use std::process::ExitCode;

use ftrack_connect::endpoint::Client;

use super::{browser, fail};

/// `open`'s options.
#[derive(clap::Args)]
pub struct OpenArgs {
    /// Print the sign-in link instead of starting a browser.
    #[arg(long)]
    print: bool,
}

/// Runs `open`.
pub fn run(args: &OpenArgs, data_dir: &Path) -> ExitCode {
    let Some(client) = Client::find(data_dir) else {
        return fail("no ftrack-connect is running: start it with `ftrack-connect run`");
    };
    let url = match client.window_link() {
        Ok(url) => url,
        Err(err) => return fail(&err.to_string()),
    };
    if args.print {
        outln!("{url}");
        return ExitCode::SUCCESS;
    }
    match browser::open(&url) {
        Ok(command) => {
            eprintln!("opened the window with {}", command.replace(&url, "<link>"));
        }
        Err(why) => {
            outln!("{url}");
            eprintln!(
                "no browser could be started ({}): open the link above, within a minute \
                 (it works once)",
                why.replace(&url, "<link>")
            );
        }
    }
    ExitCode::SUCCESS
}
