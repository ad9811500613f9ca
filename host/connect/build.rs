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
//!
//! It also links GCC's unwinder into the program on Linux ([`link_unwinder_statically`]),
//! which spares each start the loading of `libgcc_s`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn main() {
    let order = Path::new(&env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join("startup-order.txt");
    println!("cargo:rerun-if-changed=startup-order.txt");
    println!("cargo:rerun-if-changed=build.rs");
    link_unwinder_statically();
    if !order.is_file() {
        return;
    }
    let args = [
        format!("-Wl,--symbol-ordering-file={}", order.display()),
        // The file names functions of one build; another build may lack some.
        "-Wl,--no-warn-symbol-ordering".to_string(),
    ];
    if linker_accepts(
        &args
            .iter()
            .map(|arg| format!("link-arg={arg}"))
            .collect::<Vec<_>>(),
    ) {
        for arg in args {
            println!("cargo:rustc-link-arg-bin=ftrack-connect={arg}");
        }
    }
}

/// On Linux with glibc, links GCC's unwinder (`libgcc_eh.a`, what a panic unwinds with) into
/// the program rather than loading `libgcc_s.so` at each start: Rust's standard library asks
/// for the shared one, but this package's libraries come first on the link line, so the
/// static one answers and the shared one, no longer needed, is dropped. The shared library's
/// loading and its constructor (which asks the processor for its features: each `cpuid`
/// traps to the hypervisor on a VM, about 5 µs here) cost a Rust "hello world" 0.1 ms of its
/// 0.8. Native plugins still load `libgcc_s` for their own panics, which they catch
/// themselves (the SDK's guard): the two unwinders never meet.
fn link_unwinder_statically() {
    let gnu_linux = env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    let kind = "link-lib=static:-bundle=gcc_eh";
    if gnu_linux && linker_accepts(&[kind.to_string()]) {
        println!("cargo:rustc-{kind}");
    }
}

/// Whether the target's linker, as rustc runs it with this build's flags, links an empty
/// program given `options` (rustc's `-C` options, such as `link-arg=...`; or `link-lib=...`,
/// passed as `-l`).
fn linker_accepts(options: &[String]) -> bool {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let source = out.join("link_probe.rs");
    if std::fs::write(&source, "fn main() {}\n").is_err() {
        return false;
    }
    let mut rustc = Command::new(env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()));
    rustc
        .arg("--target")
        .arg(env::var("TARGET").expect("set by cargo"))
        .arg("-o")
        .arg(out.join("link_probe"))
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
    for option in options {
        match option.strip_prefix("link-lib=") {
            Some(lib) => rustc.arg("-l").arg(lib),
            None => rustc.arg("-C").arg(option),
        };
    }
    rustc
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
