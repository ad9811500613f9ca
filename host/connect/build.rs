//! Lays out `ftrack-connect`'s code for its start-up: hands `startup-order.txt` (the functions
//! a start runs, in order; written by `scripts/startup-order.sh`) to the linker, which places
//! them together at the start of the program's code. A 200-folder start then faults in about
//! 20 pages of code instead of 118, and its peak memory is 10.6 MB instead of 17.3: fewer pages
//! to map, and to unmap when it ends (docs/benchmarks.md).
//!
//! Only LLVM's linker (and mold) read such a file (`--symbol-ordering-file`); Rust's own
//! toolchains link with it on x86_64 Linux, other set-ups may not. So the linker is asked
//! first, by linking an empty program with the option: a linker that does not know it
//! (GNU ld, Apple's, Microsoft's) builds the program as it always did.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn main() {
    let order = Path::new(&env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join("startup-order.txt");
    println!("cargo:rerun-if-changed=startup-order.txt");
    println!("cargo:rerun-if-changed=build.rs");
    if !order.is_file() {
        return;
    }
    let args = [
        format!("-Wl,--symbol-ordering-file={}", order.display()),
        // The file names functions of one build; another build may lack some.
        "-Wl,--no-warn-symbol-ordering".to_string(),
    ];
    if linker_accepts(&args) {
        for arg in args {
            println!("cargo:rustc-link-arg-bin=ftrack-connect={arg}");
        }
    }
}

/// Whether the target's linker, as rustc runs it with this build's flags, links an empty
/// program given `args`.
fn linker_accepts(args: &[String]) -> bool {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let source = out.join("order_probe.rs");
    if std::fs::write(&source, "fn main() {}\n").is_err() {
        return false;
    }
    let mut rustc = Command::new(env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()));
    rustc
        .arg("--target")
        .arg(env::var("TARGET").expect("set by cargo"))
        .arg("-o")
        .arg(out.join("order_probe"))
        .arg(&source);
    // The linker and flags this build gives rustc.
    if let Some(linker) = env::var_os("RUSTC_LINKER") {
        rustc.arg("-C").arg({
            let mut arg = std::ffi::OsString::from("linker=");
            arg.push(linker);
            arg
        });
    }
    if let Ok(flags) = env::var("CARGO_ENCODED_RUSTFLAGS") {
        rustc.args(flags.split('\x1f').filter(|flag| !flag.is_empty()));
    }
    for arg in args {
        rustc.arg("-C").arg(format!("link-arg={arg}"));
    }
    rustc
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
