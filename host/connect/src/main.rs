//! `ftrack-connect`: the command line of the Rust host for ftrack Connect plugins. The
//! subcommands are in `cli/`, one module each.

mod cli;

/// mimalloc: a publish allocates many small maps and strings, and glibc's allocator was a
/// fifth of the time of a 200-hook fan-out (`docs/benchmarks.md`). Version 2 without
/// transparent huge pages (`host/connect/Cargo.toml`): v3 freed and re-made a page on every
/// publish of the dispatch workload, and huge pages raised a short command's peak memory by
/// half.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
