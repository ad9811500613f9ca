//! The workspace's layout rules (README, "Project layout"), checked: which crate may depend on
//! which (directly, and for the outside crates a crate must not use, indirectly too), no
//! import cycle between the modules of a crate, no source file over 1,000 lines, and every
//! library crate documented.
//!
//! The crates come from `cargo metadata`, not from a list here, so that a crate added later is
//! checked without anyone remembering to add it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Each crate of the host and the plugin API, with the workspace crates it may depend on and
/// the outside crates it must not.
const RULES: &[(&str, &[&str], &[&str])] = &[
    ("connect-event", &[], &["abi_stable", "rhai", "tokio"]),
    ("connect-plugin-abi", &[], &["rhai", "tokio"]),
    (
        "connect-plugin-api",
        &["connect-event", "connect-plugin-abi"],
        &["rhai", "tokio"],
    ),
    (
        "connect-core",
        &["connect-event"],
        &[
            "rhai",
            "abi_stable",
            "tokio",
            // Network I/O, at any level: clients, servers, sockets, TLS.
            "reqwest",
            "ureq",
            "hyper",
            "hyper-util",
            "h2",
            "axum",
            "tungstenite",
            "tokio-tungstenite",
            "mio",
            "socket2",
            "rustls",
            "native-tls",
            "openssl",
        ],
    ),
    (
        "connect-plugins",
        &["connect-core", "connect-event"],
        &["rhai", "abi_stable", "tokio"],
    ),
    (
        "connect-rhai",
        &["connect-core", "connect-event", "connect-plugins"],
        &["abi_stable", "tokio"],
    ),
    (
        "connect-native",
        &[
            "connect-core",
            "connect-event",
            "connect-plugins",
            "connect-plugin-abi",
        ],
        &["rhai", "tokio"],
    ),
    ("connect-pipe", &[], &["rhai", "abi_stable", "tokio"]),
    (
        "connect-sequence",
        &[],
        &["rhai", "abi_stable", "tokio", "serde"],
    ),
    (
        "connect-isolate",
        &[
            "connect-core",
            "connect-event",
            "connect-plugins",
            "connect-plugin-abi",
            "connect-native",
            "connect-pipe",
        ],
        &["rhai", "tokio"],
    ),
    (
        "connect-python",
        &[
            "connect-core",
            "connect-event",
            "connect-plugins",
            "connect-pipe",
        ],
        &["rhai", "abi_stable", "tokio"],
    ),
    (
        "connect-publisher",
        &["connect-core", "connect-ftrack-api", "connect-sequence"],
        &["rhai", "abi_stable", "axum", "rusqlite"],
    ),
    (
        "connect-ftrack-api",
        &["connect-core"],
        &["rhai", "abi_stable", "axum", "rusqlite"],
    ),
    (
        "connect-hub-client",
        &["connect-core", "connect-event"],
        &["rhai", "abi_stable", "axum", "rusqlite"],
    ),
    (
        "connect-remote",
        &[
            "connect-core",
            "connect-event",
            "connect-plugins",
            "connect-ftrack-api",
            "connect-hub-client",
        ],
        &["rhai", "abi_stable", "axum", "rusqlite"],
    ),
    (
        "connect-server",
        &["connect-core", "connect-event"],
        &["rhai", "abi_stable"],
    ),
    ("connect-window", &[], &["rhai", "abi_stable", "rusqlite"]),
    (
        "connect-pipeline",
        &["connect-core", "connect-event"],
        &["rhai", "abi_stable", "tokio", "axum", "reqwest"],
    ),
    (
        "connect-launcher",
        &["connect-core", "connect-event"],
        &["rhai", "abi_stable", "tokio"],
    ),
    (
        "ftrack-connect",
        &[
            "connect-core",
            "connect-event",
            "connect-plugins",
            "connect-rhai",
            "connect-native",
            "connect-isolate",
            "connect-python",
            "connect-sequence",
            "connect-publisher",
            "connect-launcher",
            "connect-server",
            "connect-ftrack-api",
            "connect-hub-client",
            "connect-remote",
            "connect-window",
            "connect-pipeline",
        ],
        &[],
    ),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `cargo metadata` of the workspace: its own packages only (`no_deps`), or with the resolved
/// graph of every dependency, for the platform the tests run on (the other platforms'
/// packages need not be downloaded, and are never built here).
fn metadata(no_deps: bool) -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace())
        .args(["metadata", "--format-version", "1", "--offline"]);
    if no_deps {
        command.arg("--no-deps");
    } else {
        command.args(["--filter-platform", &host_triple()]);
    }
    let output = command.output().expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The platform the tests run on, as `rustc -vV` names it.
fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let output = Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

/// Every workspace package with its normal (not dev, not build) dependencies.
fn packages() -> BTreeMap<String, Vec<String>> {
    metadata(true)["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| {
            let dependencies = package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            (package["name"].as_str().unwrap().to_string(), dependencies)
        })
        .collect()
}

/// Every crate each workspace package pulls in, at any depth, by name: normal and build
/// dependencies, as `cargo tree` shows them (dev-dependencies never reach a user). The
/// features are the whole workspace's, so this may see more than one crate's build alone
/// would, never less.
fn transitive_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let metadata = metadata(false);
    let names: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let edges: BTreeMap<&str, Vec<&str>> = metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            let deps = node["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|dep| {
                    dep["dep_kinds"].as_array().unwrap().iter().any(|kind| {
                        kind["kind"].is_null() || kind["kind"].as_str() == Some("build")
                    })
                })
                .map(|dep| dep["pkg"].as_str().unwrap())
                .collect();
            (node["id"].as_str().unwrap(), deps)
        })
        .collect();
    metadata["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|member| {
            let mut seen = BTreeSet::new();
            let mut next = vec![member.as_str().unwrap()];
            while let Some(id) = next.pop() {
                for dep in edges.get(id).into_iter().flatten() {
                    if seen.insert(*dep) {
                        next.push(dep);
                    }
                }
            }
            let name = names[member.as_str().unwrap()].to_string();
            (name, seen.iter().map(|id| names[id].to_string()).collect())
        })
        .collect()
}

#[test]
fn crates_depend_only_on_what_the_layout_allows() {
    let packages = packages();
    let workspace_crates: Vec<&String> = packages.keys().collect();
    let mut broken = Vec::new();
    for (name, dependencies) in &packages {
        let rule = RULES.iter().find(|(crate_name, _, _)| crate_name == name);
        for dependency in dependencies {
            let allowed = match rule {
                Some((_, allowed, forbidden)) => {
                    if forbidden.contains(&dependency.as_str()) {
                        false
                    } else {
                        !workspace_crates.contains(&dependency)
                            || allowed.contains(&dependency.as_str())
                    }
                }
                // Native plugins (examples, fixtures) build against the SDK alone: nothing in
                // the host may force them to be rebuilt.
                None => {
                    !workspace_crates.contains(&dependency) || dependency == "connect-plugin-api"
                }
            };
            if !allowed {
                broken.push(format!("{name} depends on {dependency}"));
            }
        }
    }
    assert!(broken.is_empty(), "against the layout rules: {broken:?}");
    for (name, _, _) in RULES {
        assert!(
            packages.contains_key(*name),
            "no crate {name} in the workspace"
        );
    }
}

#[test]
fn crates_do_not_pull_in_what_they_must_not_use_even_indirectly() {
    // `connect-core` builds without Rhai, abi_stable, tokio or any network crate: not just in
    // its own Cargo.toml, but through whatever it depends on.
    let reached = transitive_dependencies();
    let mut broken = Vec::new();
    for (name, _, forbidden) in RULES {
        let Some(dependencies) = reached.get(*name) else {
            panic!("no crate {name} in the resolved graph");
        };
        for dependency in forbidden.iter().filter(|f| dependencies.contains(**f)) {
            broken.push(format!("{name} pulls in {dependency}"));
        }
    }
    assert!(
        broken.is_empty(),
        "against the layout rules (see `cargo tree -p <crate> -i <dependency>`): {broken:?}"
    );
    // The check sees something: the core reaches the event crate, and the binary everything.
    assert!(reached["connect-core"].contains("connect-event"));
    assert!(reached["ftrack-connect"].contains("tokio"));
}

/// Every Rust source file of the workspace but the build output.
fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && !name.to_string_lossy().starts_with('.') {
                sources(&path, found);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_source_file_is_over_a_thousand_lines_and_library_crates_are_documented() {
    let root = workspace();
    let mut files = Vec::new();
    for top in ["host", "plugin-api", "plugins", "tests"] {
        sources(&root.join(top), &mut files);
    }
    assert!(files.len() > 50, "found only {} files", files.len());
    let long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).unwrap().lines().count();
            (lines > 1000).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these: {long:?}");

    // Every library crate (`lib` targets; the native plugins are `cdylib`s that export one
    // root module and nothing to document).
    let libraries = library_roots();
    assert!(libraries.len() >= 19, "found only {libraries:?}");
    for (library, root) in libraries {
        let lib = std::fs::read_to_string(&root).unwrap();
        assert!(lib.starts_with("//!"), "{library}: no crate doc");
        assert!(
            lib.contains("#![deny(missing_docs)]"),
            "{library}: missing docs allowed"
        );
    }
}

/// The root file of every workspace target of `kinds`, by crate name (`ftrack-connect`'s
/// binary as `ftrack-connect (bin)`).
fn targets(kinds: &[&str]) -> BTreeMap<String, PathBuf> {
    let metadata = metadata(true);
    let mut found = BTreeMap::new();
    for package in metadata["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        for target in package["targets"].as_array().unwrap() {
            let Some(kind) = target["kind"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .find(|kind| kinds.contains(kind))
            else {
                continue;
            };
            let label = match kind {
                "lib" => name.to_string(),
                other => format!("{name} ({other})"),
            };
            let root = PathBuf::from(target["src_path"].as_str().unwrap());
            found.insert(label, root);
        }
    }
    found
}

fn library_roots() -> BTreeMap<String, PathBuf> {
    targets(&["lib"])
}

#[test]
fn no_crate_has_an_import_cycle_between_its_modules() {
    // Libraries, the binary (its `cli` modules) and the native plugins; not tests or benches.
    let crates = targets(&["lib", "bin", "cdylib"]);
    assert!(crates.len() >= 20, "found only {crates:?}");
    let mut cycles = Vec::new();
    for (name, root) in &crates {
        for cycle in module_cycles(root) {
            cycles.push(format!("{name}: {cycle}"));
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles between modules (move what both sides need into a module of its \
         own, below both):\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_cycle_check_sees_cycles_through_every_kind_of_path_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "lib.rs",
            "//! `crate::b` in a doc is no import.\nmod a;\nmod b;\nmod c;\npub use a::A;",
        ),
        (
            "a.rs",
            "use crate::{b::B, c};\nconst S: &str = \"crate::c\";",
        ),
        ("b.rs", "mod inner;\npub struct B;"),
        // A nested module's `super::super` reaches the root's children.
        ("b/inner.rs", "fn f() -> super::super::a::A { todo!() }"),
        // A test module's `super` is its own file; a macro's `$crate` is its caller's crate.
        (
            "c.rs",
            "#[cfg(test)]\nmod tests {\n    use super::*;\n}\n\
             macro_rules! m { () => { $crate::b::B } }",
        ),
    ];
    std::fs::create_dir(dir.path().join("b")).unwrap();
    for (name, code) in files {
        std::fs::write(dir.path().join(name), code).unwrap();
    }
    assert_eq!(
        module_cycles(&dir.path().join("lib.rs")),
        ["a → b → a (a.rs:1, b/inner.rs:1)"]
    );
}

/// One module of a crate: its path from the crate root, its file, and its code without
/// comments and literals.
struct Module {
    path: Vec<String>,
    file: PathBuf,
    code: String,
}

/// Every module of the crate rooted at `root` that has a file of its own, found by following
/// `mod name;` from the root as rustc does.
fn crate_modules(root: &Path) -> Vec<Module> {
    let mut modules = Vec::new();
    let mut next = vec![(Vec::new(), root.to_path_buf())];
    while let Some((path, file)) = next.pop() {
        let code = strip_comments_and_literals(&std::fs::read_to_string(&file).unwrap());
        let tokens = tokens(&code);
        // A root or `mod.rs` holds its children beside it; `a.rs` holds them in `a/`.
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let dir = if path.is_empty() || stem == "mod" {
            file.parent().unwrap().to_path_buf()
        } else {
            file.parent().unwrap().join(&stem)
        };
        for window in tokens.windows(3) {
            if let [(_, Token::Ident(kw)), (_, Token::Ident(child)), (_, Token::Semi)] = window {
                if kw == "mod" {
                    let child_file = [
                        dir.join(format!("{child}.rs")),
                        dir.join(child).join("mod.rs"),
                    ]
                    .into_iter()
                    .find(|candidate| candidate.is_file())
                    .unwrap_or_else(|| panic!("{}: no file for `mod {child};`", file.display()));
                    let mut child_path = path.clone();
                    child_path.push(child.clone());
                    next.push((child_path, child_file));
                }
            }
        }
        modules.push(Module { path, file, code });
    }
    modules
}

/// The import cycles among the modules of the crate rooted at `root`, each as
/// `a → b → a (a.rs:3, b.rs:7)`. An edge is a `crate::`, `self::` or `super::` path in one
/// module naming another module that is not its ancestor or descendant, counted between the
/// two children of their closest common ancestor: `crate::hub::index` in `expression/parse.rs`
/// is the edge `expression → hub`. The crate root and a module's own file are where the
/// facade (`pub use`) lives, not nodes: children may use what their parent re-exports.
fn module_cycles(root: &Path) -> Vec<String> {
    let modules = crate_modules(root);
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    // Per common ancestor: the edges between its children, each with where it was first seen.
    let mut graphs: BTreeMap<Vec<String>, BTreeMap<(String, String), String>> = BTreeMap::new();
    for module in &modules {
        let file = module
            .file
            .strip_prefix(root.parent().unwrap())
            .unwrap_or(&module.file);
        for (from, target, line) in references(module) {
            // The module the path names: its longest prefix that is one.
            let target: Vec<String> = (0..=target.len())
                .rev()
                .map(|n| target[..n].to_vec())
                .find(|prefix| known.contains(prefix))
                .unwrap_or_default();
            let common = from.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common < from.len() && common < target.len() {
                graphs
                    .entry(from[..common].to_vec())
                    .or_default()
                    .entry((from[common].clone(), target[common].clone()))
                    .or_insert_with(|| format!("{}:{line}", file.display()));
            }
        }
    }
    let mut found = Vec::new();
    for (parent, edges) in &graphs {
        let prefix: String = parent.iter().map(|p| format!("{p}::")).collect();
        for (group, cycle) in cycles(edges) {
            let names: Vec<String> = cycle.iter().map(|m| format!("{prefix}{m}")).collect();
            let places: Vec<&str> = cycle
                .windows(2)
                .map(|pair| edges[&(pair[0].clone(), pair[1].clone())].as_str())
                .collect();
            let mut said = format!("{} ({})", names.join(" → "), places.join(", "));
            let others: Vec<String> = group
                .iter()
                .filter(|m| !cycle.contains(m))
                .map(|m| format!("{prefix}{m}"))
                .collect();
            if !others.is_empty() {
                said += &format!("; {} in the same tangle", others.join(", "));
            }
            found.push(said);
        }
    }
    found
}

/// Each group of modules that reach each other (Tarjan's strongly connected components), with
/// the shortest cycle from its first module back to it (that module repeated at the end).
fn cycles(edges: &BTreeMap<(String, String), String>) -> Vec<(Vec<String>, Vec<String>)> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().push(to);
        next.entry(to).or_default();
    }
    struct Tarjan<'a> {
        next: &'a BTreeMap<&'a str, Vec<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        groups: Vec<BTreeSet<&'a str>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            for &w in &self.next[v] {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    self.low.insert(v, self.low[v].min(self.low[w]));
                } else if self.stack.contains(&w) {
                    self.low.insert(v, self.low[v].min(self.index[w]));
                }
            }
            if self.low[v] == self.index[v] {
                let at = self.stack.iter().rposition(|m| *m == v).unwrap();
                let group: BTreeSet<&str> = self.stack.drain(at..).collect();
                if group.len() > 1 {
                    self.groups.push(group);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        next: &next,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        groups: Vec::new(),
    };
    for &module in next.keys() {
        if !tarjan.index.contains_key(module) {
            tarjan.visit(module);
        }
    }
    // Within a group, the shortest way from its first module back to itself.
    tarjan
        .groups
        .iter()
        .map(|group| {
            let start = *group.first().unwrap();
            let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
            let mut queue = std::collections::VecDeque::from([start]);
            'search: while let Some(v) = queue.pop_front() {
                for &w in &next[v] {
                    if !group.contains(w) || came_from.contains_key(w) {
                        continue;
                    }
                    came_from.insert(w, v);
                    if w == start {
                        break 'search;
                    }
                    queue.push_back(w);
                }
            }
            let mut cycle = vec![start.to_string()];
            let mut at = came_from[start];
            while at != start {
                cycle.push(at.to_string());
                at = came_from[at];
            }
            cycle.push(start.to_string());
            cycle.reverse();
            (group.iter().map(|m| m.to_string()).collect(), cycle)
        })
        .collect()
}

/// The module paths `module` names with `crate::`, `self::` and `super::` paths (in `use`
/// and in code, groups `{a, b::c}` included), each with the module it is named from (inline
/// `mod tests { .. }` blocks included) and its line.
fn references(module: &Module) -> Vec<(Vec<String>, Vec<String>, usize)> {
    let tokens = tokens(&module.code);
    let mut found = Vec::new();
    // Inline modules open here: their names, and the brace depth inside each.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < tokens.len() {
        let (line, token) = &tokens[i];
        match token {
            Token::Open => {
                depth += 1;
                if let (Some((_, Token::Ident(name))), Some((_, Token::Ident(kw)))) = (
                    i.checked_sub(1).map(|j| &tokens[j]),
                    i.checked_sub(2).map(|j| &tokens[j]),
                ) {
                    if kw == "mod" {
                        inline.push((name.clone(), depth));
                    }
                }
            }
            Token::Close => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth -= 1;
            }
            Token::Ident(kw)
                if matches!(kw.as_str(), "crate" | "self" | "super")
                    && tokens.get(i + 1).map(|t| &t.1) == Some(&Token::PathSep)
                    && (i == 0 || tokens[i - 1].1 != Token::Dollar) =>
            {
                let here: Vec<String> = module
                    .path
                    .iter()
                    .cloned()
                    .chain(inline.iter().map(|(name, _)| name.clone()))
                    .collect();
                let mut base = if kw == "crate" {
                    Vec::new()
                } else {
                    here.clone()
                };
                if kw == "super" {
                    base.pop();
                }
                // The rest of the path: more `super`s, names, and perhaps a group.
                let mut j = i + 1;
                let mut names = Vec::new();
                while tokens.get(j).map(|t| &t.1) == Some(&Token::PathSep) {
                    match tokens.get(j + 1).map(|t| &t.1) {
                        Some(Token::Ident(s)) if s == "super" && names.is_empty() => {
                            base.pop();
                        }
                        Some(Token::Ident(name)) => names.push(name.clone()),
                        Some(Token::Open) => {
                            for item in group_heads(&tokens, j + 1) {
                                let mut target = base.clone();
                                target.extend(names.iter().cloned());
                                target.push(item);
                                found.push((here.clone(), target, *line));
                            }
                            break;
                        }
                        _ => break,
                    }
                    j += 2;
                }
                base.extend(names);
                found.push((here, base, *line));
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// The first name of each item of the group that opens at `tokens[open]`:
/// `{a, b::c, d::{e}}` gives a, b, d (`self` adds nothing: the path before the group counts).
fn group_heads(tokens: &[(usize, Token)], open: usize) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    for (_, token) in &tokens[open..] {
        match token {
            Token::Open => {
                depth += 1;
                item_start = depth == 1;
            }
            Token::Close => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Token::Comma if depth == 1 => item_start = true,
            Token::Ident(name) if item_start && depth == 1 => {
                if name != "self" {
                    heads.push(name.clone());
                }
                item_start = false;
            }
            _ => item_start = false,
        }
    }
    heads
}

/// What a path is made of; everything else is `Other`.
#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Semi,
    Dollar,
    Other,
}

/// The tokens of code without comments and literals, each with its line.
fn tokens(code: &str) -> Vec<(usize, Token)> {
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < chars.len() {
        let c = chars[i];
        let token = match c {
            '\n' => {
                line += 1;
                i += 1;
                continue;
            }
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                tokens.push((line, Token::Ident(chars[start..i].iter().collect())));
                continue;
            }
            ':' if chars.get(i + 1) == Some(&':') => {
                i += 1;
                Token::PathSep
            }
            '{' => Token::Open,
            '}' => Token::Close,
            ',' => Token::Comma,
            ';' => Token::Semi,
            '$' => Token::Dollar,
            _ => Token::Other,
        };
        tokens.push((line, token));
        i += 1;
    }
    tokens
}

/// `source` with comments, strings and character literals blanked (lines kept), so that a
/// path in a doc comment or a string is not taken for an import.
fn strip_comments_and_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    // Blanks `chars[from..to]`, keeping its newlines.
    let blank = |out: &mut String, from: usize, to: usize| {
        out.extend(chars[from..to.min(chars.len())].iter().map(|c| {
            if *c == '\n' {
                '\n'
            } else {
                ' '
            }
        }));
    };
    let ident = |at: usize| chars[at].is_alphanumeric() || chars[at] == '_';
    let mut i = 0;
    while i < chars.len() {
        let rest = &chars[i..];
        let start = i;
        if rest.starts_with(&['/', '/']) {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if rest.starts_with(&['/', '*']) {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i..].starts_with(&['/', '*']) {
                    depth += 1;
                    i += 2;
                } else if chars[i..].starts_with(&['*', '/']) {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if (c_is(rest, 'r') || c_is(rest, 'b') || c_is(rest, 'c'))
            && (i == 0 || !ident(i - 1))
            && raw_string_start(rest).is_some()
        {
            let (hashes, open) = raw_string_start(rest).unwrap();
            i += open;
            while i < chars.len()
                && !(chars[i] == '"'
                    && chars[i + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|c| **c == '#')
                        .count()
                        == hashes)
            {
                i += 1;
            }
            i += 1 + hashes;
        } else if chars[i] == '"'
            || ((c_is(rest, 'b') || c_is(rest, 'c'))
                && rest.get(1) == Some(&'"')
                && (i == 0 || !ident(i - 1)))
        {
            i += if chars[i] == '"' { 1 } else { 2 };
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if chars[i] == '\'' && (rest.get(1) == Some(&'\\') || rest.get(2) == Some(&'\'')) {
            // A character literal ('a', '\n', '\'', '\u{1F600}'); a lifetime has no closing
            // quote. An escape's first character is never the closing quote.
            i += if chars[i + 1] == '\\' { 3 } else { 2 };
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        blank(&mut out, start, i);
    }
    out
}

fn c_is(rest: &[char], c: char) -> bool {
    rest.first() == Some(&c)
}

/// For a raw string starting at `rest` (`r"`, `r#"`, `br##"`, ...): its number of `#`s and
/// the length of its opening.
fn raw_string_start(rest: &[char]) -> Option<(usize, usize)> {
    let after_prefix = match rest {
        ['r', ..] => 1,
        ['b' | 'c', 'r', ..] => 2,
        _ => return None,
    };
    let hashes = rest[after_prefix..]
        .iter()
        .take_while(|c| **c == '#')
        .count();
    (rest.get(after_prefix + hashes) == Some(&'"')).then_some((hashes, after_prefix + hashes + 1))
}
