//! What Rhai alone costs for the `discover-fanout` hook, with nothing of the host around it:
//! one script function called from Rust in a loop, through the same entry point the host uses
//! (`Engine::call_fn_with_options` on the hook's AST), on a plugin's engine and on a plain
//! `Engine::new()`. It bounds what any host can reach with Rhai hooks (`docs/benchmarks.md`).
//!
//! `cargo run --release -p ftrack-connect --example rhai_floor`

use std::time::Instant;

use connect_core::PluginTag;
use connect_rhai::{plugin_engine, PluginFolders};
use rhai::{CallFnOptions, Dynamic, Engine, Scope};

/// The allocator the `ftrack-connect` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CALLS: u32 = 1_000_000;

fn main() {
    let folders = PluginFolders {
        root: std::env::temp_dir(),
        library_dirs: Vec::new(),
    };
    let engines = [
        (
            "plugin engine",
            plugin_engine(&PluginTag::new("floor"), &folders),
        ),
        ("Engine::new()", Engine::new()),
    ];
    let bodies = [
        ("returning ()", "()"),
        (
            "returning one action item",
            r#"#{ items: [#{ label: "App 1", actionIdentifier: "app-1", variant: "1.1" }] }"#,
        ),
    ];
    for (engine_name, engine) in &engines {
        for (what, body) in bodies {
            let ast = engine
                .compile(format!("fn discover(event) {{ {body} }}"))
                .expect("the hook compiles");
            let start = Instant::now();
            for _ in 0..CALLS {
                let result: Dynamic = engine
                    .call_fn_with_options(
                        CallFnOptions::new().eval_ast(false),
                        &mut Scope::new(),
                        &ast,
                        "discover",
                        (Dynamic::UNIT,),
                    )
                    .expect("the hook runs");
                let _ = std::hint::black_box(result);
            }
            let micros = start.elapsed().as_secs_f64() * 1e6 / f64::from(CALLS);
            println!("{engine_name}, {what}: {micros:.3} us per call");
        }
    }
}
