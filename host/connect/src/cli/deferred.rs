//! Subcommands whose arguments clap builds only when the command line names them.
//!
//! Why: clap's derive builds the whole command tree (every subcommand's arguments, their help,
//! their value parsers) before it reads the first word of the command line, though a command
//! line names one subcommand. With thirteen subcommands that was about 0.1 ms of the 0.35 to
//! 0.45 ms `Cli::parse` took, on every start (`docs/benchmarks.md`, "Start-up: the command line
//! built as needed, a lighter listing").
//! A variant holding [`Deferred<T>`] instead of `T` hands clap `T`'s arguments (or, for a
//! subcommand enum, `T`'s subcommands) as a function to call when it descends into that
//! subcommand ([`clap::Command::defer`]); names, `about` lines and aliases stay eager, so
//! `--help`, suggestions and errors read as before.

use std::ops::Deref;

use clap::{ArgMatches, Args, Command, FromArgMatches, Subcommand};

/// `T`, as a subcommand's arguments or subcommands that clap adds only once that subcommand is
/// the one parsed. Reads as `T` ([`Deref`]).
pub struct Deferred<T>(pub T);

impl<T> Deref for Deferred<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: FromArgMatches> FromArgMatches for Deferred<T> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(matches).map(Deferred)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }
}

impl<T: Args> Args for Deferred<T> {
    fn augment_args(cmd: Command) -> Command {
        cmd.defer(|cmd| keeping_about(cmd, T::augment_args))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        cmd.defer(|cmd| keeping_about(cmd, T::augment_args_for_update))
    }

    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }
}

impl<T: Subcommand> Subcommand for Deferred<T> {
    fn augment_subcommands(cmd: Command) -> Command {
        cmd.defer(|cmd| keeping_about(cmd, T::augment_subcommands))
    }

    fn augment_subcommands_for_update(cmd: Command) -> Command {
        cmd.defer(|cmd| keeping_about(cmd, T::augment_subcommands_for_update))
    }

    fn has_subcommand(name: &str) -> bool {
        T::has_subcommand(name)
    }
}

/// `augment(cmd)` with `cmd`'s own `about` lines: the variant's doc comment, which clap's derive
/// sets after the arguments, where a deferred `augment` would replace it with the doc comment of
/// the arguments' type.
fn keeping_about(cmd: Command, augment: fn(Command) -> Command) -> Command {
    let about = cmd.get_about().cloned();
    let long_about = cmd.get_long_about().cloned();
    let cmd = augment(cmd);
    let cmd = match about {
        Some(about) => cmd.about(about),
        None => cmd.about(None::<&str>),
    };
    match long_about {
        Some(long_about) => cmd.long_about(long_about),
        None => cmd.long_about(None::<&str>),
    }
}
