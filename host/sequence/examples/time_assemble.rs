//! connect-sequence's side of `scripts/bench-sequences.sh`: times [`assemble`] on a file of
//! paths, in process, as `scripts/bench_sequences.py time` times Python clique 1.6.1's.
//!
//! ```sh
//! cargo run --release -p connect-sequence --example time_assemble -- PATHS ROUNDS [DIGITS_PATHS]
//! ```
//!
//! PATHS holds one path a line (`bench_sequences.py generate` writes it). Each workload runs
//! once to warm up, then ROUNDS times; one line each, as the Python side prints them:
//! `WORKLOAD MEDIAN_MS ms (rounds MS...) checksum COLLECTIONS/INDEXES/REMAINDER/CRC32`.
//!
//! - `frames-dropzone`: the frames pattern, padded when ambiguous, on every path (Connect
//!   25.11's drop zone: `clique.assemble(paths, patterns=[PATTERNS['frames']],
//!   assume_padded_when_ambiguous=True)`);
//! - `digits-default`: clique's defaults (every number) on the first DIGITS_PATHS paths (all
//!   if not given), as many as clique can do in the time;
//! - `digits-default-all`, only when DIGITS_PATHS leaves some out: the same on every path.
//!
//! Only the call is timed (its result is dropped outside the timing). The checksum is the
//! number of collections, the total of their indexes, the remainder's length and the CRC-32
//! of every collection as clique's `str()` writes it followed by the remainder, one a line.

use std::time::Instant;

use connect_sequence::{assemble, Assembly, Options, Pattern};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !(2..=3).contains(&args.len()) {
        eprintln!("usage: time_assemble PATHS ROUNDS [DIGITS_PATHS]");
        std::process::exit(2);
    }
    let text = std::fs::read_to_string(&args[0]).unwrap_or_else(|e| panic!("{}: {e}", args[0]));
    // One path a line, as Python's `split('\n')` reads them (a path may end in '\r').
    let mut paths: Vec<String> = text.split('\n').map(str::to_string).collect();
    if paths.last().is_some_and(String::is_empty) {
        paths.pop();
    }
    let rounds: usize = args[1].parse().expect("ROUNDS is a number");
    let digits_paths = args
        .get(2)
        .map_or(paths.len(), |n| {
            n.parse().expect("DIGITS_PATHS is a number")
        })
        .min(paths.len());

    let frames = Options {
        patterns: Some(vec![Pattern::Frames]),
        assume_padded_when_ambiguous: true,
        ..Options::default()
    };
    let digits = Options::default();
    time("frames-dropzone", &paths, &frames, rounds);
    time("digits-default", &paths[..digits_paths], &digits, rounds);
    if digits_paths < paths.len() {
        time("digits-default-all", &paths, &digits, rounds);
    }
}

/// Times `assemble(paths, options)` `rounds` times after a warm-up; prints the median.
fn time(name: &str, paths: &[String], options: &Options, rounds: usize) {
    let sums = checksum(&assemble(paths, options).expect("assemble"));
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        let result = assemble(paths, options).expect("assemble");
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(
            checksum(&result),
            sums,
            "{name}: answered differently between rounds"
        );
        drop(result);
    }
    let written: Vec<String> = times.iter().map(|t| format!("{t:.1}")).collect();
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    let median = if sorted.is_empty() {
        f64::NAN
    } else if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    };
    println!(
        "{name} {median:.3} ms (rounds {}) checksum {sums}",
        written.join(" ")
    );
}

/// `COLLECTIONS/INDEXES/REMAINDER/CRC32`, as `bench_sequences.py` writes it.
fn checksum(assembly: &Assembly) -> String {
    let mut lines: Vec<String> = assembly.collections.iter().map(|c| c.to_string()).collect();
    lines.extend(assembly.remainder.iter().cloned());
    let indexes: usize = assembly.collections.iter().map(|c| c.indexes.len()).sum();
    format!(
        "{}/{}/{}/{:08x}",
        assembly.collections.len(),
        indexes,
        assembly.remainder.len(),
        crc32(lines.join("\n").as_bytes())
    )
}

/// zlib's CRC-32 (as Python's `zlib.crc32`), bit by bit: the checksum is outside the timing.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}
