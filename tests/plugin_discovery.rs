//! Plugin discovery through the real binary: the environment variables, `--plugin-path`, the
//! default plugin directory, versions, dot folders, duplicates, load order and broken folders.

use crate::kit::{Captured, Sandbox};
use serde_json::{json, Value};

/// A hook that answers `topic=who` with `name`.
fn who(name: &str) -> String {
    format!(r#"fn register(session) {{ session.event_hub.subscribe("topic=who", |e| "{name}"); }}"#)
}

fn names(plugins: &[Value]) -> Vec<String> {
    plugins
        .iter()
        .filter(|p| !p["path"].as_str().unwrap().starts_with("<built-in>"))
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn plugins_json_reports_every_field() {
    let s = Sandbox::new();
    s.hook("my-tools-1.2.3", "a.rhai", &who("a"));
    s.write("plugins/my-tools-1.2.3/hook/action/b.rhai", &who("b"));
    let plugin = s.plugin("my-tools");
    assert_eq!(plugin["version"], "1.2.3");
    assert_eq!(plugin["kind"], "rhai");
    assert_eq!(plugin["status"], "loaded");
    assert_eq!(plugin["error"], Value::Null);
    assert_eq!(plugin["subscriptions"], 2);
    assert!(plugin["path"].as_str().unwrap().ends_with("my-tools-1.2.3"));
    // hook/ is walked recursively, a directory's files before its sub-folders.
    assert_eq!(s.publish("who", "{}"), vec![json!("a"), json!("b")]);
}

#[test]
fn default_hooks_are_listed_first() {
    let s = Sandbox::new();
    let (plugins, _) = s.plugins_json();
    let first = &plugins[0];
    assert_eq!(first["name"], "startup_checks");
    assert_eq!(first["status"], "loaded");
    assert!(first["path"]
        .as_str()
        .unwrap()
        .starts_with("<built-in>/hook/"));
}

#[test]
fn only_the_newest_version_loads() {
    let s = Sandbox::new();
    s.hook("tools-1.9.2", "h.rhai", &who("1.9.2"));
    s.hook("tools-1.10.0", "h.rhai", &who("1.10.0"));
    s.hook("tools-1.2", "h.rhai", &who("1.2"));
    assert_eq!(s.publish("who", "{}"), vec![json!("1.10.0")]);
    let (plugins, _) = s.plugins_json();
    let tools: Vec<_> = plugins.iter().filter(|p| p["name"] == "tools").collect();
    assert_eq!(tools.len(), 3);
    for p in &tools {
        let expected = if p["version"] == "1.10.0" {
            "loaded"
        } else {
            "skipped"
        };
        assert_eq!(p["status"], expected, "{p}");
    }
}

#[test]
fn search_order_cli_then_connect_path_then_event_path() {
    let s = Sandbox::new();
    s.write("cli/zeta/hook/h.rhai", &who("cli zeta"));
    s.hook("alpha", "h.rhai", &who("connect alpha"));
    s.write("second/beta/hook/h.rhai", &who("connect beta"));
    s.write("events/nested/deeper/late.rhai", &who("event late"));
    s.write("events/early.rhai", &who("event early"));
    let connect_path = std::env::join_paths([s.plugins(), s.path().join("second")]).unwrap();
    let output: Captured = s
        .command()
        .env("FTRACK_CONNECT_PLUGIN_PATH", connect_path)
        .env("FTRACK_EVENT_PLUGIN_PATH", s.path().join("events"))
        .args(["--plugin-path", s.path().join("cli").to_str().unwrap()])
        .args(["event", "publish", "who"])
        .output()
        .unwrap()
        .into();
    let results: Vec<Value> = serde_json::from_str(&output.success().stdout).unwrap();
    assert_eq!(
        results,
        vec![
            json!("cli zeta"),
            json!("connect alpha"),
            json!("connect beta"),
            json!("event early"),
            json!("event late")
        ]
    );
}

#[test]
fn default_plugin_dir_is_used_unless_connect_path_is_set() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.default_plugin_dir().join("home-plugin/hook")).unwrap();
    std::fs::write(
        s.default_plugin_dir().join("home-plugin/hook/h.rhai"),
        who("default"),
    )
    .unwrap();
    s.hook("env-plugin", "h.rhai", &who("env"));
    assert_eq!(s.publish("who", "{}"), vec![json!("env")]);
    let Captured { stdout, .. } = s
        .command()
        .env_remove("FTRACK_CONNECT_PLUGIN_PATH")
        .args(["event", "publish", "who"])
        .output()
        .unwrap()
        .into();
    let results: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(results, vec![json!("default")]);
}

#[test]
fn dot_folders_skipped_and_same_directory_registers_once() {
    let s = Sandbox::new();
    s.hook(".hidden", "h.rhai", &who("hidden"));
    s.hook("once", "h.rhai", &who("once"));
    let twice =
        std::env::join_paths([s.plugins(), s.plugins(), s.plugins().join("../plugins")]).unwrap();
    let Captured { stdout, .. } = s
        .command()
        .env("FTRACK_CONNECT_PLUGIN_PATH", twice)
        // The plugin's hook folder reached again as a hook directory.
        .env("FTRACK_EVENT_PLUGIN_PATH", s.plugins().join("once/hook"))
        .args(["event", "publish", "who"])
        .output()
        .unwrap()
        .into();
    let results: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(results, vec![json!("once")]);
    let (plugins, _) = s.plugins_json();
    assert!(!names(&plugins).contains(&".hidden".to_string()));
}

#[test]
fn many_plugins_prepared_on_every_core_still_load_and_warn_in_folder_order() {
    // Compiling goes to every core; registering, and so dispatch order among equal
    // priorities, and the warnings, must keep the folders' order.
    let s = Sandbox::new();
    let count = 40;
    for i in 0..count {
        s.hook(&format!("p{i:02}"), "a.rhai", &who(&format!("p{i:02}")));
        s.write(
            &format!("plugins/p{i:02}/hook/z_helpers.rhai"),
            "fn helper() { 1 }\n",
        );
    }
    let expected: Vec<Value> = (0..count).map(|i| json!(format!("p{i:02}"))).collect();
    let (results, stderr) = s.publish_with("who", &[]);
    assert_eq!(results, expected);
    let warned: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("defines no `fn register(session)`"))
        .collect();
    assert_eq!(warned.len(), count, "{stderr}");
    for (i, line) in warned.iter().enumerate() {
        assert!(line.contains(&format!("plugin 'p{i:02}'")), "{i}: {line}");
    }
}

#[test]
fn folders_without_runnable_hooks_are_reported_as_skipped() {
    let s = Sandbox::new();
    s.write(
        "plugins/python-only/hook/action.py",
        "def register(session): pass\n",
    );
    s.write("plugins/no-hook-folder/resource/x.rhai", "fn f() {}\n");
    s.hook("no-register", "h.rhai", "fn helper() { 1 }\n");
    let python = s.plugin("python-only");
    assert_eq!(python["status"], "skipped");
    assert!(
        python["reason"].as_str().unwrap().contains("Python"),
        "{python}"
    );
    assert_eq!(s.plugin("no-hook-folder")["status"], "skipped");
    let no_register = s.plugin("no-register");
    assert_eq!(no_register["status"], "skipped");
    assert!(
        no_register["reason"].as_str().unwrap().contains("register"),
        "{no_register}"
    );
}

#[cfg(unix)]
#[test]
fn symlink_loops_are_reported_not_fatal() {
    let s = Sandbox::new();
    s.hook("looped", "h.rhai", &who("looped"));
    std::os::unix::fs::symlink(
        s.plugins().join("looped/hook"),
        s.plugins().join("looped/hook/again"),
    )
    .unwrap();
    s.hook("fine", "h.rhai", &who("fine"));
    let (results, stderr) = s.publish_with("who", &[]);
    assert_eq!(results, vec![json!("fine"), json!("looped")]);
    assert!(stderr.to_lowercase().contains("loop"), "{stderr}");
    let looped = s.plugin("looped");
    assert_eq!(looped["status"], "loaded");
    assert!(
        !looped["warnings"].as_array().unwrap().is_empty(),
        "{looped}"
    );
}

#[cfg(unix)]
#[test]
fn unreadable_folders_are_reported_not_fatal() {
    use std::os::unix::fs::PermissionsExt;
    let s = Sandbox::new();
    s.hook("locked", "h.rhai", &who("locked"));
    s.write("plugins/locked/hook/sub/inner.rhai", &who("inner"));
    s.hook("open", "h.rhai", &who("open"));
    let sub = s.plugins().join("locked/hook/sub");
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads anything: take away the capabilities that let it, where setpriv can.
    let as_root = unsafe { libc::geteuid() } == 0;
    let output = if as_root {
        let mut command = std::process::Command::new("setpriv");
        command
            .args([
                "--inh-caps=-all",
                "--bounding-set=-dac_override,-dac_read_search",
                "--",
            ])
            .arg(crate::kit::BIN)
            .args(["event", "publish", "who"]);
        let base = s.command();
        for (key, value) in base.get_envs() {
            match value {
                Some(v) => command.env(key, v),
                None => command.env_remove(key),
            };
        }
        command.output().expect("setpriv runs")
    } else {
        s.command()
            .args(["event", "publish", "who"])
            .output()
            .unwrap()
    };
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let Captured { stdout, stderr, .. } = Captured::from(output).success();
    let results: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(results, vec![json!("locked"), json!("open")], "{stderr}");
    assert!(stderr.contains("ermission denied"), "{stderr}");
}

/// An integration that ships launcher configs and no hook is a plugin all the same: listed
/// with kind `launch`, its applications offered; a folder with nothing runnable shows no kind.
#[cfg(unix)]
#[test]
fn a_folder_with_only_launcher_configs_is_loaded_for_them() {
    let s = Sandbox::new();
    s.fake_program("apps/painter2/bin/painter");
    let config = json!({
        "identifier": "studio-launch-painter",
        "applicationIdentifier": "painter_{variant}",
        "label": "Painter",
        "variant": "{version}",
        "context": null,
        "search_path": {crate::kit::os_key(): {
            "prefix": [s.path().join("apps"), "painter\\d.*"],
            "expression": ["bin", "painter$"],
        }},
    });
    s.write(
        "plugins/painter-integration-1.0.0/launch/painter.json",
        &config.to_string(),
    );
    s.write(
        "plugins/python-only/hook/hook.py",
        "def register(session): pass\n",
    );
    let (plugins, _) = s.plugins_json();
    let entry = |name: &str| plugins.iter().find(|p| p["name"] == name).unwrap().clone();
    let integration = entry("painter-integration");
    assert_eq!(integration["kind"], "launch", "{integration}");
    assert_eq!(integration["status"], "loaded", "{integration}");
    assert_eq!(integration["reason"], Value::Null, "{integration}");
    let python = entry("python-only");
    assert_eq!(python["kind"], "python", "{python}");
    assert_eq!(python["status"], "skipped", "{python}");

    let listing = s.capture(&["plugins"]).success().stdout;
    assert!(
        listing.contains("painter-integration 1.0.0 [launch] loaded"),
        "{listing}"
    );
    assert!(
        listing.contains("python-only [python] skipped"),
        "{listing}"
    );

    let items: Vec<Value> =
        serde_json::from_str(&s.capture(&["actions", "--json"]).success().stdout).unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["label"], "Painter");
    assert_eq!(items[0]["variant"], "2");
}
