use super::*;
use std::env::consts::DLL_SUFFIX;
use tempfile::TempDir;

fn touch(path: &Path) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, "").unwrap();
}

fn mkdir(path: &Path) {
    fs::create_dir_all(path).unwrap();
}

#[cfg(unix)]
fn symlink(target: impl AsRef<Path>, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

fn roots(roots: &[&Path]) -> SearchPaths {
    SearchPaths {
        plugin_roots: roots.iter().map(|p| p.to_path_buf()).collect(),
        hook_dirs: Vec::new(),
    }
}

fn hook_dirs(dirs: &[&Path]) -> SearchPaths {
    SearchPaths {
        plugin_roots: Vec::new(),
        hook_dirs: dirs.iter().map(|p| p.to_path_buf()).collect(),
    }
}

fn names(discovery: &Discovery) -> Vec<&str> {
    discovery.plugins.iter().map(|p| p.name.as_str()).collect()
}

fn plugin<'a>(discovery: &'a Discovery, path: &Path) -> &'a DiscoveredPlugin {
    discovery
        .plugins
        .iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("no plugin at {}: {discovery:#?}", path.display()))
}

/// Hook paths relative to `base`, with `/` separators.
fn rel_hooks(hooks: &[HookFile], base: &Path) -> Vec<String> {
    hooks
        .iter()
        .map(|h| {
            let rel = h.path.strip_prefix(base).unwrap();
            rel.to_string_lossy().replace('\\', "/")
        })
        .collect()
}

fn native(stem: &str) -> String {
    format!("{stem}{DLL_SUFFIX}")
}

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap()
}

fn assert_contains(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "{haystack:?} should contain {needle:?}"
    );
}

fn assert_some_contains(messages: &[String], needle: &str) {
    assert!(
        messages.iter().any(|m| m.contains(needle)),
        "{messages:#?} should have one containing {needle:?}"
    );
}

#[test]
fn empty_and_missing_entries_are_skipped_silently() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    touch(&root.join("p/hook/a.rhai"));
    let hooks = tmp.path().join("hooks");
    touch(&hooks.join("h.rhai"));
    let missing = tmp.path().join("missing");
    let paths = SearchPaths {
        plugin_roots: vec![PathBuf::new(), "  ".into(), missing.clone(), root.clone()],
        hook_dirs: vec![
            PathBuf::new(),
            missing.join("deeper"),
            hooks.clone(),
            " ".into(),
        ],
    };
    let found = discover(&paths);
    assert_eq!(names(&found), ["p", "h"]);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    assert!(found.plugins.iter().all(|p| p.skipped.is_none()));
    assert!(found.plugins.iter().all(|p| p.problems.is_empty()));
}

#[test]
fn entries_are_trimmed() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    touch(&root.join("p/hook/a.rhai"));
    let padded = format!(" {}\t", root.display());
    let found = discover(&roots(&[Path::new(&padded)]));
    assert_eq!(names(&found), ["p"]);
    assert_eq!(found.plugins[0].path, root.join("p"));
}

#[test]
fn a_file_given_as_a_directory_is_reported() {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("file.rhai");
    touch(&file);
    let found = discover(&SearchPaths {
        plugin_roots: vec![file.clone()],
        hook_dirs: vec![file.clone()],
    });
    assert!(found.plugins.is_empty());
    assert_eq!(found.problems.len(), 2, "{:?}", found.problems);
    assert_some_contains(&found.problems, "not a folder");
}

#[cfg(unix)]
#[test]
fn the_same_root_or_hook_dir_reached_twice_is_used_once() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    touch(&root.join("p/hook/a.rhai"));
    let root_link = tmp.path().join("root-link");
    symlink(&root, &root_link);
    let hooks = tmp.path().join("hooks");
    touch(&hooks.join("h.rhai"));
    let hooks_link = tmp.path().join("hooks-link");
    symlink(&hooks, &hooks_link);

    let paths = SearchPaths {
        plugin_roots: vec![
            root.clone(),
            root.join("../root"),
            root.join("."),
            root_link.clone(),
        ],
        hook_dirs: vec![hooks.clone(), hooks.join("../hooks"), hooks_link.clone()],
    };
    let found = discover(&paths);
    assert_eq!(names(&found), ["p", "h"]);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    // The first spelling is the one used for reporting.
    assert_eq!(found.plugins[0].path, root.join("p"));
    assert_eq!(found.plugins[1].path, hooks.join("h.rhai"));

    // The first occurrence may be the symlink: then that is the spelling kept.
    let found = discover(&roots(&[&root_link, &root]));
    assert_eq!(found.plugins.len(), 1);
    assert_eq!(found.plugins[0].path, root_link.join("p"));
    assert_eq!(found.plugins[0].root, canonical(&root.join("p")));
}

#[test]
fn load_order_is_roots_in_order_then_folders_by_name_then_hook_dirs() {
    let tmp = TempDir::new().unwrap();
    let first = tmp.path().join("first");
    let second = tmp.path().join("second");
    for name in ["b", "a", "B", "a_b", "a-b"] {
        touch(&first.join(name).join("hook/x.rhai"));
    }
    touch(&second.join("0").join("hook/x.rhai"));
    let h1 = tmp.path().join("h1");
    let h2 = tmp.path().join("h2");
    touch(&h1.join("one.rhai"));
    touch(&h2.join("two.rhai"));
    touch(&h2.join("three.rhai"));

    let paths = SearchPaths {
        // The second root comes first: given order beats names.
        plugin_roots: vec![second.clone(), first.clone()],
        hook_dirs: vec![h2.clone(), h1.clone()],
    };
    let found = discover(&paths);
    // Byte order: "B" < "a" < "a-b" < "a_b" < "b".
    assert_eq!(
        names(&found),
        ["0", "B", "a", "a-b", "a_b", "b", "three", "two", "one"]
    );
    assert!(found.plugins.iter().all(|p| p.skipped.is_none()));
}

/// Builds a hook tree exercising the walk order, returns the expected order.
#[cfg(unix)]
fn build_walk_tree(dir: &Path, outside: &Path) -> Vec<&'static str> {
    for file in [
        "z.rhai",
        "a.rhai",
        "sub_b/x.rhai",
        "sub_a/y.rhai",
        "sub_a/deep/q.rhai",
        "sub_a/b.rhai",
        "sub_a/zz/r.rhai",
        "Upper.rhai",
    ] {
        touch(&dir.join(file));
    }
    touch(&outside.join("folder/o.rhai"));
    touch(&outside.join("file.rhai"));
    // A symlinked folder sorts with the folders, a symlinked file with the files.
    symlink(outside.join("folder"), &dir.join("l_link"));
    symlink(outside.join("file.rhai"), &dir.join("c_link.rhai"));
    vec![
        "Upper.rhai",
        "a.rhai",
        "c_link.rhai",
        "z.rhai",
        "l_link/o.rhai",
        "sub_a/b.rhai",
        "sub_a/y.rhai",
        "sub_a/deep/q.rhai",
        "sub_a/zz/r.rhai",
        "sub_b/x.rhai",
    ]
}

#[cfg(unix)]
#[test]
fn walks_files_before_sub_folders_sorted_by_name() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    let hook = root.join("p/hook");
    let expected = build_walk_tree(&hook, &tmp.path().join("outside1"));
    let found = discover(&roots(&[&root]));
    assert_eq!(found.plugins.len(), 1);
    assert_eq!(rel_hooks(&found.plugins[0].hooks, &hook), expected);

    // The same order for a hook directory, one plugin per file.
    let hooks = tmp.path().join("hooks");
    let expected = build_walk_tree(&hooks, &tmp.path().join("outside2"));
    let found = discover(&hook_dirs(&[&hooks]));
    let paths: Vec<HookFile> = found.plugins.iter().map(|p| p.hooks[0].clone()).collect();
    assert_eq!(rel_hooks(&paths, &hooks), expected);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
}

#[test]
fn roots_hold_only_folders_and_skip_dot_folders() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    touch(&root.join("p/hook/a.rhai"));
    touch(&root.join(".git/hook/a.rhai"));
    touch(&root.join(".cache/hook/a.rhai"));
    touch(&root.join("README.md"));
    touch(&root.join("loose.rhai"));
    touch(&root.join(format!("loose{DLL_SUFFIX}")));
    let found = discover(&roots(&[&root]));
    assert_eq!(names(&found), ["p"]);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
}

#[test]
fn dot_entries_inside_hook_folders_are_skipped() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    let hook = root.join("p/hook");
    touch(&hook.join("a.rhai"));
    touch(&hook.join(".hidden.rhai"));
    touch(&hook.join(".git/objects/x.rhai"));
    let found = discover(&roots(&[&root]));
    assert_eq!(rel_hooks(&found.plugins[0].hooks, &hook), ["a.rhai"]);
}

#[test]
fn parses_folder_names() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("my-tools-1.2.3", "my-tools", Some("1.2.3")),
        ("my-tools-1.2.3-linux", "my-tools", Some("1.2.3")),
        ("my-tools-1.2.3-x86_64", "my-tools", Some("1.2.3")),
        ("my-tools-1.2", "my-tools", Some("1.2")),
        ("my-tools-1.2.3.4", "my-tools", Some("1.2.3.4")),
        (
            "ftrack-application-launcher-1.0.6",
            "ftrack-application-launcher",
            Some("1.0.6"),
        ),
        ("plugin-24.0.0rc1", "plugin", Some("24.0.0rc1")),
        ("plugin-24.0.0rc1-windows", "plugin", Some("24.0.0rc1")),
        ("my-1.0-tools-2.0", "my-1.0-tools", Some("2.0")),
        ("maya2024-tools", "maya2024-tools", None),
        ("tools-2024", "tools-2024", None),
        ("tools", "tools", None),
        ("my_tools", "my_tools", None),
        ("-1.0", "-1.0", None),
        ("tools-1.2.3-", "tools-1.2.3-", None),
        ("tools-1.2.", "tools-1.2.", None),
        ("tools-1.2.3-linux-x86", "tools-1.2.3-linux-x86", None),
        ("tools-v1.2", "tools-v1.2", None),
        ("werkzeug-1.0.dev1", "werkzeug-1.0.dev1", None),
        (
            "\u{1F642}-tools-2.0-\u{e9}t\u{e9}",
            "\u{1F642}-tools",
            Some("2.0"),
        ),
        ("", "", None),
        ("-", "-", None),
        ("a--1.0", "a-", Some("1.0")),
    ];
    for &(folder, name, version) in cases {
        let parsed = parse_folder_name(folder);
        assert_eq!(
            (parsed.0.as_str(), parsed.1.as_deref()),
            (name, version),
            "parsing {folder:?}"
        );
    }
}

#[test]
fn only_the_newest_version_of_a_name_loads() {
    let tmp = TempDir::new().unwrap();
    let first = tmp.path().join("first");
    let second = tmp.path().join("second");
    for folder in [
        "tools-1.9.2",
        "same-1.0",
        "plain",
        "dup-1.0",
        "dup-1.0.0",
        "plat-1.0.0-linux",
        "plat-1.1.0-windows",
        "maya2024-tools",
    ] {
        touch(&first.join(folder).join("hook/a.rhai"));
    }
    for folder in [
        "tools-1.10.0",
        "tools",
        "same-1.0",
        "plain",
        "maya2024-tools-1.0",
    ] {
        touch(&second.join(folder).join("hook/a.rhai"));
    }
    let found = discover(&roots(&[&first, &second]));
    let skipped = |path: PathBuf| plugin(&found, &path).skipped.clone();

    let newest = first.join("tools-1.9.2");
    assert_eq!(plugin(&found, &newest).version.as_deref(), Some("1.9.2"));
    assert_eq!(skipped(second.join("tools-1.10.0")), None);
    let older = format!(
        "older than version 1.10.0 at {}",
        second.join("tools-1.10.0").display()
    );
    assert_eq!(skipped(newest), Some(older.clone()));
    assert_eq!(skipped(second.join("tools")), Some(older));

    // Ties: the earlier root wins, then the earlier name in the same root.
    assert_eq!(skipped(first.join("same-1.0")), None);
    assert_eq!(
        skipped(second.join("same-1.0")),
        Some(format!(
            "same plugin already found at {}",
            first.join("same-1.0").display()
        ))
    );
    assert_eq!(skipped(first.join("plain")), None);
    assert_eq!(
        skipped(second.join("plain")),
        Some(format!(
            "same plugin already found at {}",
            first.join("plain").display()
        ))
    );
    assert_eq!(skipped(first.join("dup-1.0")), None);
    assert_eq!(
        skipped(first.join("dup-1.0.0")),
        Some(format!(
            "same plugin already found at {}",
            first.join("dup-1.0").display()
        ))
    );

    // Platform suffixes are not part of the version.
    assert_eq!(skipped(first.join("plat-1.1.0-windows")), None);
    assert_contains(
        &skipped(first.join("plat-1.0.0-linux")).unwrap(),
        "older than version 1.1.0",
    );

    // Digits in a name do not make a version; a versioned copy beats an unversioned one.
    let unversioned = plugin(&found, &first.join("maya2024-tools"));
    assert_eq!(unversioned.name, "maya2024-tools");
    assert_eq!(unversioned.version, None);
    assert_contains(
        unversioned.skipped.as_deref().unwrap(),
        "older than version 1.0 at",
    );
    assert_eq!(skipped(second.join("maya2024-tools-1.0")), None);

    // Skipped plugins keep their position in load order.
    assert_eq!(found.plugins.len(), 13);
    assert_eq!(found.plugins[0].path, first.join("dup-1.0"));
}

#[test]
fn hooks_come_only_from_the_hook_folder() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    let p = root.join("p-1.0.0");
    touch(&p.join("hook/a.rhai"));
    touch(&p.join("hook").join(native("b")));
    touch(&p.join("hook/c.pyw"));
    touch(&p.join("hook/c.pyc"));
    touch(&p.join("hook/README"));
    touch(&p.join("hook/notes.txt"));
    touch(&p.join("hook/archive.rhai.bak"));
    mkdir(&p.join("hook/folder.rhai"));
    touch(&p.join("resource/r.rhai"));
    touch(&p.join("dependencies/d.rhai"));
    touch(&p.join("top.rhai"));
    touch(&root.join("q/dependencies/d.rhai"));
    touch(&root.join("q/hook/q.rhai"));
    touch(&root.join("r/resource"));
    touch(&root.join("r/hook/r.rhai"));

    let found = discover(&roots(&[&root]));
    let p_plugin = plugin(&found, &p);
    assert_eq!(p_plugin.name, "p");
    assert_eq!(p_plugin.layout, PluginLayout::Folder);
    assert_eq!(p_plugin.root, canonical(&p));
    assert_eq!(
        p_plugin.hooks,
        [
            HookFile {
                path: p.join("hook/a.rhai"),
                kind: HookKind::Rhai
            },
            HookFile {
                path: p.join("hook").join(native("b")),
                kind: HookKind::Native
            },
        ]
    );
    assert_eq!(
        p_plugin.library_dirs,
        [
            canonical(&p.join("resource")),
            canonical(&p.join("dependencies"))
        ]
    );
    assert_eq!(p_plugin.skipped, None);
    assert!(p_plugin.problems.is_empty(), "{:?}", p_plugin.problems);

    let q = plugin(&found, &root.join("q"));
    assert_eq!(q.library_dirs, [canonical(&root.join("q/dependencies"))]);
    // A plain file named `resource` is not a library folder.
    assert!(plugin(&found, &root.join("r")).library_dirs.is_empty());
}

#[test]
fn folders_named_in_a_plugin_are_followed_through_links_to_their_real_paths() {
    // Plain folders are known from one listing of the plugin folder; links are looked at.
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    let elsewhere = tmp.path().join("elsewhere");
    touch(&elsewhere.join("shared-resource/r.rhai"));
    touch(&elsewhere.join("shared-hook/h.rhai"));
    mkdir(&elsewhere.join("shared-launch"));
    touch(&elsewhere.join("plugin/hook/p.rhai"));
    let linked = root.join("linked-1.0.0");
    touch(&linked.join("dependencies/d.rhai"));
    symlink(elsewhere.join("shared-resource"), &linked.join("resource"));
    symlink(elsewhere.join("shared-hook"), &linked.join("hook"));
    symlink(elsewhere.join("shared-launch"), &linked.join("launch"));
    // The plugin folder itself through a link.
    symlink(elsewhere.join("plugin"), &root.join("via-link-2.0.0"));

    let found = discover(&roots(&[&root]));
    let plugin_linked = plugin(&found, &linked);
    assert_eq!(
        plugin_linked.library_dirs,
        [
            canonical(&elsewhere.join("shared-resource")),
            canonical(&linked.join("dependencies"))
        ]
    );
    assert_eq!(rel_hooks(&plugin_linked.hooks, &linked), ["hook/h.rhai"]);
    assert_eq!(plugin_linked.launch_dir, Some(linked.join("launch")));
    assert!(
        plugin_linked.problems.is_empty(),
        "{:?}",
        plugin_linked.problems
    );
    let via_link = plugin(&found, &root.join("via-link-2.0.0"));
    assert_eq!(via_link.root, canonical(&elsewhere.join("plugin")));
    assert_eq!(via_link.skipped, None);
    assert_eq!(
        rel_hooks(&via_link.hooks, &root.join("via-link-2.0.0")),
        ["hook/p.rhai"]
    );
}

#[test]
fn folders_without_hooks_are_skipped_with_a_reason() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    touch(&root.join("no-hook/resource/x.rhai"));
    touch(&root.join("no-hook/hook.rhai"));
    for file in ["a.pyc", "README"] {
        touch(&root.join("no-runnable/hook").join(file));
    }
    mkdir(&root.join("empty/hook"));
    touch(&root.join("hook-file/hook"));

    let found = discover(&roots(&[&root]));
    let reason = |name: &str| plugin(&found, &root.join(name)).skipped.clone().unwrap();
    assert_contains(&reason("no-hook"), "no hook/ folder");
    assert_eq!(reason("no-runnable"), "no hooks in hook/");
    assert_eq!(reason("empty"), "no hooks in hook/");
    assert_contains(&reason("hook-file"), "is not a folder");
    assert!(found.plugins.iter().all(|p| p.hooks.is_empty()));
    assert!(found.problems.is_empty(), "{:?}", found.problems);
}

#[test]
fn python_hooks_are_found_as_ftrack_finds_them() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    for file in ["b.py", "a.py", "sub/c.py", "a.pyc", "x.rhai"] {
        touch(&root.join("tools/hook").join(file));
    }
    touch(&root.join("tools/dependencies/helper.py"));
    let found = discover(&roots(&[&root]));
    let tools = plugin(&found, &root.join("tools"));
    let hooks: Vec<_> = tools
        .hooks
        .iter()
        .map(|h| {
            (
                h.path
                    .strip_prefix(root.join("tools/hook"))
                    .unwrap()
                    .to_owned(),
                h.kind,
            )
        })
        .collect();
    assert_eq!(
        hooks,
        [
            (PathBuf::from("a.py"), HookKind::Python),
            (PathBuf::from("b.py"), HookKind::Python),
            (PathBuf::from("x.rhai"), HookKind::Rhai),
            (PathBuf::from("sub/c.py"), HookKind::Python),
        ]
    );
    // A hook directory's Python files are plugins of their own.
    let py_hooks = tmp.path().join("py-hooks");
    touch(&py_hooks.join("a.py"));
    touch(&py_hooks.join("b.py"));
    let found = discover(&hook_dirs(&[&py_hooks]));
    let names: Vec<_> = found.plugins.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
}

#[test]
fn hook_dirs_yield_one_plugin_per_hook_file() {
    let tmp = TempDir::new().unwrap();
    let hooks = tmp.path().join("hooks");
    touch(&hooks.join("a.rhai"));
    touch(&hooks.join("sub").join(native("b")));
    touch(&hooks.join("sub/c.txt"));
    touch(&hooks.join("readme.md"));
    touch(&hooks.join("two.dots.rhai"));
    let found = discover(&hook_dirs(&[&hooks]));
    assert_eq!(names(&found), ["a", "two.dots", "b"]);
    for p in &found.plugins {
        assert_eq!(p.layout, PluginLayout::HookFile);
        assert_eq!(p.version, None);
        assert_eq!(p.root, canonical(&hooks));
        assert!(p.library_dirs.is_empty());
        assert_eq!(p.skipped, None);
        assert_eq!(p.hooks.len(), 1);
        assert_eq!(p.hooks[0].path, p.path);
    }
    assert_eq!(found.plugins[0].path, hooks.join("a.rhai"));
    assert_eq!(found.plugins[0].hooks[0].kind, HookKind::Rhai);
    assert_eq!(found.plugins[2].path, hooks.join("sub").join(native("b")));
    assert_eq!(found.plugins[2].hooks[0].kind, HookKind::Native);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
}

#[cfg(unix)]
#[test]
fn a_hook_file_reached_twice_loads_once() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    let p_hook = root.join("p/hook");
    touch(&p_hook.join("a.rhai"));
    touch(&p_hook.join("b.rhai"));
    // Inside one plugin: `two` is `one` again.
    touch(&root.join("q/hook/one/x.rhai"));
    symlink("one", &root.join("q/hook/two"));
    // Another plugin whose hook/ is p's.
    mkdir(&root.join("r"));
    symlink(&p_hook, &root.join("r/hook"));
    // p's hook/ also listed as a hook directory, through a symlink.
    let alias = tmp.path().join("alias");
    symlink(&p_hook, &alias);

    let paths = SearchPaths {
        plugin_roots: vec![root.clone()],
        hook_dirs: vec![alias.clone()],
    };
    let found = discover(&paths);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    let p = plugin(&found, &root.join("p"));
    assert_eq!(rel_hooks(&p.hooks, &p_hook), ["a.rhai", "b.rhai"]);
    assert_eq!(p.skipped, None);

    let q = plugin(&found, &root.join("q"));
    assert_eq!(rel_hooks(&q.hooks, &root.join("q/hook")), ["one/x.rhai"]);
    assert_eq!(q.skipped, None);

    let r = plugin(&found, &root.join("r"));
    assert!(r.hooks.is_empty());
    assert_eq!(
        r.skipped,
        Some(format!(
            "already loaded from {}",
            p_hook.join("a.rhai").display()
        ))
    );

    for (file, first) in [("a.rhai", "a.rhai"), ("b.rhai", "b.rhai")] {
        let again = plugin(&found, &alias.join(file));
        assert_eq!(again.layout, PluginLayout::HookFile);
        assert!(again.hooks.is_empty());
        assert_eq!(
            again.skipped,
            Some(format!(
                "already loaded from {}",
                p_hook.join(first).display()
            ))
        );
    }
    assert_eq!(found.plugins.len(), 5);
}

#[test]
fn skipped_plugins_do_not_claim_hooks() {
    // An older version's hooks are not loaded, so the same file in a hook dir still is.
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    touch(&root.join("t-1.0/hook/old.rhai"));
    touch(&root.join("t-2.0/hook/new.rhai"));
    let found = discover(&SearchPaths {
        plugin_roots: vec![root.clone()],
        hook_dirs: vec![root.join("t-1.0/hook")],
    });
    assert_eq!(names(&found), ["t", "t", "old"]);
    assert!(found.plugins[0].skipped.is_some());
    assert_eq!(found.plugins[1].skipped, None);
    assert_eq!(found.plugins[2].skipped, None);
}

#[cfg(unix)]
#[test]
fn symlink_loops_are_reported_and_discovery_goes_on() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    let hook = root.join("p/hook");
    touch(&hook.join("a.rhai"));
    touch(&hook.join("sub/b.rhai"));
    symlink("..", &hook.join("sub/up"));
    symlink("self.rhai", &hook.join("self.rhai"));
    touch(&root.join("z/hook/z.rhai"));
    // Loops at root level.
    symlink("selfloop", &root.join("selfloop"));
    let root_loop = tmp.path().join("root-loop");
    symlink("root-loop", &root_loop);
    let hooks = tmp.path().join("hooks");
    touch(&hooks.join("h.rhai"));
    symlink(".", &hooks.join("again"));

    let paths = SearchPaths {
        plugin_roots: vec![root_loop.clone(), root.clone()],
        hook_dirs: vec![hooks.clone()],
    };
    let found = discover(&paths);
    let p = plugin(&found, &root.join("p"));
    assert_eq!(rel_hooks(&p.hooks, &hook), ["a.rhai", "sub/b.rhai"]);
    assert_eq!(p.skipped, None);
    assert_eq!(p.problems.len(), 2, "{:?}", p.problems);
    assert_some_contains(
        &p.problems,
        &format!(
            "symlink loop: {} leads back to",
            hook.join("sub/up").display()
        ),
    );
    assert_some_contains(
        &p.problems,
        &format!(
            "cannot read {}: symlink loop",
            hook.join("self.rhai").display()
        ),
    );
    assert_eq!(plugin(&found, &root.join("z")).skipped, None);
    assert_eq!(plugin(&found, &hooks.join("h.rhai")).skipped, None);

    assert_eq!(found.problems.len(), 3, "{:?}", found.problems);
    assert_some_contains(
        &found.problems,
        &format!(
            "cannot use plugin directory {}: symlink loop",
            root_loop.display()
        ),
    );
    assert_some_contains(
        &found.problems,
        &format!(
            "cannot read {}: symlink loop",
            root.join("selfloop").display()
        ),
    );
    assert_some_contains(
        &found.problems,
        &format!(
            "symlink loop: {} leads back to",
            hooks.join("again").display()
        ),
    );
}

#[cfg(unix)]
#[test]
fn broken_symlinks_are_reported() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    touch(&root.join("p/hook/a.rhai"));
    symlink("missing.rhai", &root.join("p/hook/gone.rhai"));
    // Editors leave dangling dot-links (`.#file`): ignored like any dot entry.
    symlink("user@host.1234", &root.join("p/hook/.#a.rhai"));
    symlink("missing", &root.join("dangling"));
    mkdir(&root.join("q"));
    symlink("missing", &root.join("q/hook"));

    let found = discover(&roots(&[&root]));
    assert_eq!(
        found.problems,
        [format!(
            "broken symlink {} (points to missing missing)",
            root.join("dangling").display()
        )]
    );
    let p = plugin(&found, &root.join("p"));
    assert_eq!(p.hooks.len(), 1);
    assert_eq!(
        p.problems,
        [format!(
            "broken symlink {} (points to missing missing.rhai)",
            root.join("p/hook/gone.rhai").display()
        )]
    );
    let q = plugin(&found, &root.join("q"));
    assert_some_contains(&q.problems, "broken symlink");
    assert_contains(q.skipped.as_deref().unwrap(), "cannot read hook/");
}

/// Creates `levels` nested folders of 200-character names below `base` (with `*at`
/// calls, as the full path ends up longer than `PATH_MAX`), returns the deepest path.
#[cfg(target_os = "linux")]
fn make_deep_dir(base: &Path, levels: usize) -> PathBuf {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let name = "d".repeat(200);
    let c_name = CString::new(name.as_str()).unwrap();
    let c_base = CString::new(base.as_os_str().as_bytes()).unwrap();
    let flags = libc::O_RDONLY | libc::O_DIRECTORY;
    // SAFETY: plain libc calls on valid NUL-terminated strings and descriptors we own.
    unsafe {
        let mut fd = libc::open(c_base.as_ptr(), flags);
        assert!(fd >= 0);
        for _ in 0..levels {
            assert_eq!(libc::mkdirat(fd, c_name.as_ptr(), 0o755), 0);
            let next = libc::openat(fd, c_name.as_ptr(), flags);
            libc::close(fd);
            assert!(next >= 0);
            fd = next;
        }
        libc::close(fd);
    }
    let mut path = base.to_path_buf();
    for _ in 0..levels {
        path.push(&name);
    }
    path
}

/// Unreadable folders, in a way that fails even for root (whom `chmod 000` does not
/// stop): paths longer than `PATH_MAX` cannot be opened by anyone.
#[cfg(target_os = "linux")]
#[test]
fn unreadable_folders_are_reported_even_as_root() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    let hook = root.join("p/hook");
    touch(&hook.join("a.rhai"));
    mkdir(&hook.join("deep"));
    touch(&hook.join("z/z.rhai"));
    let deep = make_deep_dir(&hook.join("deep"), 25);
    assert!(fs::read_dir(&deep).is_err());
    let hooks = tmp.path().join("hooks");
    mkdir(&hooks);
    let deep_root = make_deep_dir(&hooks, 25);

    let paths = SearchPaths {
        plugin_roots: vec![deep_root.clone(), root.clone()],
        hook_dirs: vec![deep_root.clone()],
    };
    let found = discover(&paths);
    let p = plugin(&found, &root.join("p"));
    // The readable hooks, before and after the unreadable folder, still load.
    assert_eq!(rel_hooks(&p.hooks, &hook), ["a.rhai", "z/z.rhai"]);
    assert_eq!(p.skipped, None);
    assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
    assert_contains(&p.problems[0], "cannot read ");
    assert_contains(&p.problems[0], "File name too long");

    assert_eq!(found.problems.len(), 2, "{:?}", found.problems);
    assert_contains(&found.problems[0], "cannot use plugin directory ");
    assert_contains(&found.problems[1], "cannot use hook directory ");
    assert!(found
        .problems
        .iter()
        .all(|m| m.contains("File name too long")));
}

/// Permission-denied folders: asserted as such only when they really are unreadable
/// (not as root); otherwise their hooks must simply be found.
#[cfg(unix)]
#[test]
fn permission_denied_folders_are_reported() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    let hook = root.join("p/hook");
    touch(&hook.join("a.rhai"));
    touch(&hook.join("locked/x.rhai"));
    touch(&root.join("q/hook/q.rhai"));
    let locked = [hook.join("locked"), root.join("q")];
    for dir in &locked {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o000)).unwrap();
    }
    let enforced = fs::read_dir(&locked[0]).is_err();
    let found = discover(&roots(&[&root]));
    for dir in &locked {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }

    let p = plugin(&found, &root.join("p"));
    let q = plugin(&found, &root.join("q"));
    if enforced {
        assert_eq!(rel_hooks(&p.hooks, &hook), ["a.rhai"]);
        assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
        assert_contains(
            &p.problems[0],
            &format!("cannot read {}: ", locked[0].display()),
        );
        assert_contains(q.skipped.as_deref().unwrap(), "cannot read hook/");
        assert_some_contains(&q.problems, "cannot read ");
    } else {
        assert_eq!(rel_hooks(&p.hooks, &hook), ["a.rhai", "locked/x.rhai"]);
        assert_eq!(q.skipped, None);
    }
}

#[cfg(unix)]
#[test]
fn odd_names_do_not_panic() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    let folder = root.join(OsStr::from_bytes(b"\xff\xfe-1.0"));
    touch(&folder.join("hook").join(OsStr::from_bytes(b"\xff.rhai")));
    touch(&root.join("with space-2.0-linux/hook/ok.rhai"));
    touch(&root.join("\u{1F642}/hook/\u{e9}.rhai"));
    let hooks = tmp.path().join(OsStr::from_bytes(b"hooks\x80"));
    touch(&hooks.join(OsStr::from_bytes(b"\xfe.rhai")));
    touch(&hooks.join(OsStr::from_bytes(b"\xfe.txt")));
    symlink(
        OsStr::from_bytes(b"\xf0missing"),
        &root.join(OsStr::from_bytes(b"\xf1")),
    );

    let found = discover(&SearchPaths {
        plugin_roots: vec![root.clone()],
        hook_dirs: vec![hooks.clone()],
    });
    assert_eq!(
        names(&found),
        ["with space", "\u{1F642}", "\u{FFFD}\u{FFFD}", "\u{FFFD}"]
    );
    let odd = plugin(&found, &folder);
    assert_eq!(odd.version.as_deref(), Some("1.0"));
    assert_eq!(odd.hooks.len(), 1);
    assert!(found.plugins.iter().all(|p| p.skipped.is_none()));
    assert_eq!(found.problems.len(), 1, "{:?}", found.problems);
    assert_contains(&found.problems[0], "broken symlink");
}

#[cfg(unix)]
#[test]
fn a_hook_folder_of_plain_files_is_listed_as_the_walk_finds_it() {
    let tmp = TempDir::new().unwrap();
    let hook = tmp.path().join("p/hook");
    for name in [
        "b.rhai",
        "a.py",
        ".hidden.rhai",
        "README",
        "c.rhai.bak",
        "A.rhai",
    ] {
        touch(&hook.join(name));
    }
    touch(&hook.join(native("z")));
    let real = canonical(&hook);
    let list = |dir: &Path| {
        let folder = HookFolder::open(dir).ok()?;
        list_flat_hooks(folder, dir, &real)
    };
    let listed = list(&hook).expect("plain files only");
    let walked = walk_hooks(&hook, &real);
    assert_eq!(
        rel_hooks(&listed.hooks, &hook),
        ["A.rhai", "a.py", "b.rhai", &native("z")]
    );
    assert_eq!(listed.hooks, walked.hooks);
    assert_eq!(listed.resolved, walked.resolved);
    assert!(listed.problems.is_empty() && walked.problems.is_empty());

    // Anything but plain files is left to the walk.
    mkdir(&hook.join("sub"));
    assert!(list(&hook).is_none());
    std::fs::remove_dir(hook.join("sub")).unwrap();
    symlink("b.rhai", &hook.join("link.rhai"));
    assert!(list(&hook).is_none());
}

#[cfg(unix)]
#[test]
fn a_hook_folder_opens_only_as_a_plain_folder_and_says_why_not() {
    let tmp = TempDir::new().unwrap();
    let folder = tmp.path().join("folder");
    mkdir(&folder);
    touch(&tmp.path().join("file"));
    symlink(&folder, &tmp.path().join("link"));
    symlink(tmp.path().join("missing"), &tmp.path().join("broken"));
    assert!(HookFolder::open(&folder).is_ok());
    let why_not = |name: &str| {
        HookFolder::open(&tmp.path().join(name))
            .err()
            .map(|e| e.kind())
    };
    // Only a name that is not there at all is absent: a broken link is looked at closer.
    assert_eq!(why_not("missing"), Some(io::ErrorKind::NotFound));
    for name in ["file", "link", "broken"] {
        let kind = why_not(name);
        assert!(
            kind.is_some_and(|kind| kind != io::ErrorKind::NotFound),
            "{name}: {kind:?}"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_plugin_folder_linked_twice_loads_its_plain_hook_folder_once() {
    // `q` is `p` through a link: its plain `hook/` is read in one listing, and its files'
    // real paths, below p's, make them p's.
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    touch(&root.join("p/hook/a.rhai"));
    symlink("p", &root.join("q"));
    let found = discover(&roots(&[&root]));
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    assert_eq!(plugin(&found, &root.join("p")).skipped, None);
    let q = plugin(&found, &root.join("q"));
    assert!(q.hooks.is_empty());
    assert_eq!(
        q.skipped,
        Some(format!(
            "already loaded from {}",
            root.join("p/hook/a.rhai").display()
        ))
    );
}
