//! The built-in application launcher through the real binary: launcher configs in plugins'
//! `launch/` folders and in FTRACK_APPLICATION_LAUNCHER_CONFIG_PATHS, installed versions found
//! on disk, context filtering, launch hooks, and fake installed programs (shell scripts) that
//! record how they were started: arguments, environment, working folder and session.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::kit::{os_key, wait_for_file, wait_for_record, Captured, Sandbox};
use base64::Engine as _;
use serde_json::{json, Value};

/// A plugin folder with a hook (so discovery loads it) and, in `launch/`, the given files.
fn launch_plugin(s: &Sandbox, folder: &str, files: &[(&str, &str)]) {
    s.hook(folder, "noop.rhai", "fn register(session) {}");
    for (name, text) in files {
        s.write(&format!("plugins/{folder}/launch/{name}"), text);
    }
}

/// A config for "Painter", installed as `apps/painter<version>/bin/painter`.
fn painter_config(s: &Sandbox) -> Value {
    json!({
        "identifier": "studio-launch-painter",
        "applicationIdentifier": "painter_{variant}",
        "label": "Painter",
        "icon": "default",
        "variant": "{version}",
        "context": ["Task"],
        "search_path": {
            os_key(): {
                "prefix": [s.path().join("apps"), "painter\\d.*"],
                "expression": ["bin", "painter$"],
                "version_expression": "painter(?P<version>\\d+(\\.\\d+)*)",
                "launch_arguments": ["--no-splash"]
            }
        }
    })
}

/// Installs fake painter versions; returns the program paths.
fn install_painters(s: &Sandbox, versions: &[&str]) -> Vec<PathBuf> {
    versions
        .iter()
        .map(|v| s.fake_program(&format!("apps/painter{v}/bin/painter")))
        .collect()
}

/// `actions --json` for a selection: the flat item array.
fn discover(s: &Sandbox, selection: &[&str]) -> Vec<Value> {
    let mut args = vec!["actions", "--json"];
    for entity in selection {
        args.extend(["--selection", entity]);
    }
    let Captured { stdout, stderr, .. } = s.capture(&args).success();
    let items: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}); stderr: {stderr}"));
    items.as_array().unwrap().clone()
}

fn field<'a>(items: &'a [Value], key: &str) -> Vec<&'a str> {
    items
        .iter()
        .map(|i| i[key].as_str().unwrap_or(""))
        .collect()
}

/// Runs `actions launch` with `args` and the extra environment `env`.
fn launch(s: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Captured {
    let mut command = s.command();
    command.args(["actions", "launch"]).args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("binary runs").into()
}

#[test]
fn installed_versions_are_offered_newest_first() {
    let s = Sandbox::new();
    install_painters(&s, &["9", "10", "2.5"]);
    // Not matching a level: another program in bin/, a folder without the version digits.
    s.fake_program("apps/painter11/bin/other");
    s.fake_program("apps/painterX/bin/painter");
    // Reached through a link: links are followed.
    let real = s.fake_program("elsewhere/painter-real/bin/painter");
    std::os::unix::fs::symlink(
        real.parent().unwrap().parent().unwrap(),
        s.path().join("apps/painter12"),
    )
    .unwrap();
    // An unreadable folder is skipped (when running as root it is simply empty).
    let locked = s.path().join("apps/painter13");
    std::fs::create_dir_all(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    launch_plugin(
        &s,
        "studio-apps",
        &[("painter.json", &painter_config(&s).to_string())],
    );

    let items = discover(&s, &["Task:t1"]);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(field(&items, "version"), ["12", "10", "9", "2.5"]);
    assert_eq!(field(&items, "variant"), ["12", "10", "9", "2.5"]);
    assert_eq!(
        field(&items, "applicationIdentifier"),
        ["painter_12", "painter_10", "painter_9", "painter_2.5"]
    );
    for item in &items {
        assert_eq!(item["label"], "Painter");
        assert_eq!(item["actionIdentifier"], "studio-launch-painter");
        assert_eq!(item["icon"], "default");
        assert!(item["host"].as_str().is_some_and(|h| !h.is_empty()));
    }

    // The raw reply, as a UI gets it: one reply with all items.
    let (results, _) = s.publish_with(
        "ftrack.action.discover",
        &[
            "--data",
            r#"{"selection": [{"entityType": "Task", "entityId": "t1"}]}"#,
        ],
    );
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["items"].as_array().unwrap().len(), 4);
}

#[test]
fn offered_only_for_a_matching_context() {
    let s = Sandbox::new();
    install_painters(&s, &["1"]);
    s.fake_program("apps/viewer/viewer3");
    let viewer = json!({
        "identifier": "studio-launch-viewer",
        "applicationIdentifier": "viewer_{variant}",
        "label": "Viewer",
        "variant": "{version}",
        "context": null,
        "search_path": {os_key(): {"prefix": [s.path().join("apps"), "viewer"], "expression": ["viewer\\d"]}}
    });
    let mut shots = painter_config(&s);
    shots["identifier"] = json!("studio-launch-shot-painter");
    shots["context"] = json!([null, "Shot"]);
    launch_plugin(
        &s,
        "studio-apps",
        &[
            ("painter.json", &painter_config(&s).to_string()),
            ("shots.json", &shots.to_string()),
            ("viewer.json", &viewer.to_string()),
        ],
    );
    let offered = |selection: &[&str]| {
        let mut ids: Vec<String> = discover(&s, selection)
            .iter()
            .map(|i| i["actionIdentifier"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let all_three = [
        "studio-launch-painter",
        "studio-launch-shot-painter",
        "studio-launch-viewer",
    ];
    assert_eq!(offered(&["Task:t1"]), [all_three[0], all_three[2]]);
    // Entity types compare case-insensitively (the web UI says "task").
    assert_eq!(offered(&["task:t1"]), [all_three[0], all_three[2]]);
    assert_eq!(offered(&["TASK:t1"]), [all_three[0], all_three[2]]);
    assert_eq!(offered(&["Shot:s1"]), [all_three[1], all_three[2]]);
    // Every selected entity must suit the context.
    assert_eq!(offered(&["Task:t1", "Shot:s1"]), [all_three[2]]);
    // Nothing selected: `null` in the context list, or a null context.
    assert_eq!(offered(&[]), [all_three[1], all_three[2]]);
    assert_eq!(offered(&["Project:p1"]), [all_three[2]]);
}

#[test]
fn configs_from_plugin_folders_and_config_paths_in_json_and_yaml() {
    let s = Sandbox::new();
    install_painters(&s, &["3"]);
    s.fake_program("apps/viewer/viewer7");
    // Connect 26's YAML, with keys this host does not use.
    let yaml = format!(
        "type: launch_config\nname: studio-viewer\nidentifier: studio-launch-viewer\n\
         applicationIdentifier: viewer_{{variant}}\nlabel: Viewer\nvariant: \"{{version}}\"\n\
         context: [Task]\nsearch_path:\n  {}:\n    prefix: [{}, viewer]\n    expression: [viewer\\d]\n\
         extensions_path: [extensions/common]\n",
        os_key(),
        s.path().join("apps").display()
    );
    launch_plugin(&s, "studio-viewer-2.0.0", &[("viewer.yaml", &yaml)]);
    // An older version of the same plugin is not loaded, nor are its configs read.
    let mut old = painter_config(&s);
    old["identifier"] = json!("old-launcher");
    launch_plugin(&s, "studio-viewer-1.0.0", &[("old.json", &old.to_string())]);
    // The older launcher's config folder.
    s.write("configs/painter.json", &painter_config(&s).to_string());
    let config_paths = format!("{}:{}", s.path().join("configs").display(), "");

    let mut command = s.command();
    command
        .args(["actions", "--json", "--selection", "Task:t1"])
        .env("FTRACK_APPLICATION_LAUNCHER_CONFIG_PATHS", &config_paths);
    let stdout = Captured::from(command.output().unwrap()).success().stdout;
    let items: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    let mut ids: Vec<&str> = field(&items, "applicationIdentifier");
    ids.sort();
    assert_eq!(ids, ["painter_3", "viewer_7"]);
}

#[test]
fn launch_starts_the_program_with_the_task_context() {
    let s = Sandbox::new();
    let programs = install_painters(&s, &["9", "10"]);
    let mut config = painter_config(&s);
    config["environment_variables"] = json!({
        "STUDIO_TOOLS.prepend": ["/tools/a", "/tools/b"],
        "PAINTER_MODE.set": "batch",
    });
    launch_plugin(&s, "studio-apps", &[("painter.json", &config.to_string())]);
    let hooks = s.path().join("event-hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let env = [
        ("FTRACK_SERVER", "https://studio.example.com"),
        ("FTRACK_API_KEY", "s3cr3t-api-key"),
        ("FTRACK_EVENT_PLUGIN_PATH", hooks.to_str().unwrap()),
        ("STUDIO_TOOLS", "/tools/base"),
        ("FROM_THE_HOST", "inherited"),
    ];
    let Captured { stdout, stderr, .. } = launch(
        &s,
        &[
            "studio-launch-painter",
            "--variant",
            "10",
            "--selection",
            "Task:t1",
        ],
        &env,
    )
    .success();
    assert_eq!(stdout.trim(), "Painter 10 application started.");

    let record = wait_for_record(&programs[1]);
    assert_eq!(record.args, ["--no-splash"]);
    assert_eq!(
        Path::new(&record.cwd),
        programs[1].parent().unwrap().canonicalize().unwrap()
    );
    let var = |name: &str| record.env.get(name).map(String::as_str);
    assert_eq!(var("FTRACK_SERVER"), Some("https://studio.example.com"));
    assert_eq!(var("FTRACK_API_USER"), Some("alice"));
    assert_eq!(var("FTRACK_API_KEY"), Some("s3cr3t-api-key"));
    assert_eq!(var("FTRACK_EVENT_PLUGIN_PATH"), None);
    assert_eq!(var("FROM_THE_HOST"), Some("inherited"));
    assert_eq!(var("STUDIO_TOOLS"), Some("/tools/a:/tools/b:/tools/base"));
    assert_eq!(var("PAINTER_MODE"), Some("batch"));
    let event = base64::engine::general_purpose::STANDARD
        .decode(var("FTRACK_CONNECT_EVENT").expect("FTRACK_CONNECT_EVENT"))
        .unwrap();
    let context: Value = serde_json::from_slice(&event).unwrap();
    assert_eq!(
        context["selection"],
        json!([{"entityType": "Task", "entityId": "t1"}])
    );
    assert_eq!(context["actionIdentifier"], "studio-launch-painter");
    assert_eq!(context["applicationIdentifier"], "painter_10");
    assert_eq!(context["source"]["user"]["username"], "alice");
    // Only the chosen version ran.
    assert!(!PathBuf::from(format!("{}.record", programs[0].display())).exists());

    // The key reached the program, and nothing else.
    let log = std::fs::read_to_string(s.user_data_dir().join("log/ftrack_connect.log"))
        .unwrap_or_default();
    for text in [&stdout, &stderr, &log] {
        assert!(
            !text.contains("s3cr3t-api-key"),
            "the API key leaked: {text}"
        );
    }
    assert!(!String::from_utf8_lossy(&event).contains("s3cr3t-api-key"));
}

#[test]
fn launch_hooks_change_command_and_environment() {
    let s = Sandbox::new();
    let programs = install_painters(&s, &["10"]);
    launch_plugin(
        &s,
        "studio-apps",
        &[("painter.json", &painter_config(&s).to_string())],
    );
    s.hook(
        "studio-env",
        "launch_env.rhai",
        r#"
        fn adjust(event) {
            event.data.command.push("--from-hook");
            event.data.options.env.HOOK_SET = "by-hook";
            event.data.options.env.remove("REMOVE_ME");
            let env = event.data.options.env;
            event.data.options.env.HOOK_SAW = `${event.data.platform} ${event.data.application.version} ${event.data.context.selection[0].entityId} key:${"FTRACK_API_KEY" in env}`;
            #{ integration: #{
                name: "studio",
                env: #{
                    "APPEND_PATH": "/appended",
                    "APPEND_EXPLICIT.append": "/explicit",
                    "PREPEND_PATH.prepend": "/first",
                    "SET_VAR.set": "exact",
                    "UNSET_VAR.unset": "",
                    "NEW_PATH.append": "/new",
                },
                launch_arguments: ["--from-integration", "scene file.ma"],
            } }
        }
        fn register(session) {
            session.event_hub.subscribe(
                "topic=ftrack.connect.application.launch and data.application.identifier=painter_*",
                Fn("adjust"));
        }"#,
    );
    let env = [
        ("FTRACK_API_KEY", "s3cr3t-api-key"),
        ("APPEND_PATH", "/orig"),
        ("APPEND_EXPLICIT", "/orig"),
        ("PREPEND_PATH", "/orig"),
        ("SET_VAR", "old"),
        ("UNSET_VAR", "gone"),
        ("REMOVE_ME", "x"),
    ];
    launch(
        &s,
        &["studio-launch-painter", "--selection", "Task:t1"],
        &env,
    )
    .success();
    let record = wait_for_record(&programs[0]);
    assert_eq!(
        record.args,
        [
            "--no-splash",
            "--from-hook",
            "--from-integration",
            "scene file.ma"
        ]
    );
    let var = |name: &str| record.env.get(name).map(String::as_str);
    assert_eq!(var("HOOK_SET"), Some("by-hook"));
    assert_eq!(var("REMOVE_ME"), None);
    let platform = if cfg!(target_os = "macos") {
        "darwin"
    } else {
        "linux"
    };
    // Hooks see the application, platform and context, but never the API key.
    assert_eq!(
        var("HOOK_SAW"),
        Some(format!("{platform} 10 t1 key:false").as_str())
    );
    assert_eq!(var("APPEND_PATH"), Some("/orig:/appended"));
    assert_eq!(var("APPEND_EXPLICIT"), Some("/orig:/explicit"));
    assert_eq!(var("PREPEND_PATH"), Some("/first:/orig"));
    assert_eq!(var("SET_VAR"), Some("exact"));
    assert_eq!(var("UNSET_VAR"), None);
    assert_eq!(var("NEW_PATH"), Some("/new"));
    // The key is still given to the program.
    assert_eq!(var("FTRACK_API_KEY"), Some("s3cr3t-api-key"));
}

#[test]
fn the_program_outlives_the_host_in_its_own_session() {
    let s = Sandbox::new();
    let programs = install_painters(&s, &["10"]);
    launch_plugin(
        &s,
        "studio-apps",
        &[("painter.json", &painter_config(&s).to_string())],
    );
    let go = s.path().join("go");
    // `output()` returns once the host exited and closed its stdout and stderr: the program,
    // still waiting for `go`, holds neither.
    launch(
        &s,
        &["studio-launch-painter", "--selection", "Task:t1"],
        &[("FAKE_WAIT_FOR", go.to_str().unwrap())],
    )
    .success();
    let record = wait_for_record(&programs[0]);
    // SAFETY: getsid(0) only reads this process's session id.
    let test_session = unsafe { libc::getsid(0) } as u32;
    assert_ne!(
        record.sid, test_session,
        "the program shares the host's session"
    );
    assert_eq!(
        record.sid, record.pid,
        "the program leads a session of its own"
    );
    // The host is gone; the program still runs, and goes on when told.
    // SAFETY: kill with signal 0 only checks that the process exists.
    assert_eq!(unsafe { libc::kill(record.pid as i32, 0) }, 0);
    std::fs::write(&go, "").unwrap();
    let survived = wait_for_file(&PathBuf::from(format!(
        "{}.survived",
        programs[0].display()
    )));
    assert_eq!(survived.trim(), "alive");
}

#[test]
fn a_program_that_cannot_start_is_reported_with_the_os_error() {
    let s = Sandbox::new();
    let programs = install_painters(&s, &["10"]);
    std::fs::set_permissions(&programs[0], std::fs::Permissions::from_mode(0o644)).unwrap();
    launch_plugin(
        &s,
        "studio-apps",
        &[("painter.json", &painter_config(&s).to_string())],
    );
    let Captured {
        code,
        stdout,
        stderr,
    } = launch(
        &s,
        &["studio-launch-painter", "--selection", "Task:t1"],
        &[],
    );
    assert_eq!(code, Some(1), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stderr.contains("launch failed: Painter 10 application could not be started: ")
            && stderr.contains("Permission denied"),
        "{stderr}"
    );

    // The reply a UI gets.
    let data = json!({
        "actionIdentifier": "studio-launch-painter",
        "applicationIdentifier": "painter_10",
        "selection": [{"entityType": "Task", "entityId": "t1"}],
    });
    let results = s.publish("ftrack.action.launch", &data.to_string());
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["success"], false);
    assert!(results[0]["message"]
        .as_str()
        .unwrap()
        .contains("Permission denied (os error 13)"));

    // Unknown versions and unsuitable selections are answered, not ignored.
    let unknown =
        json!({"actionIdentifier": "studio-launch-painter", "applicationIdentifier": "painter_99"});
    let results = s.publish("ftrack.action.launch", &unknown.to_string());
    assert_eq!(results[0]["success"], false);
    assert!(results[0]["message"].as_str().unwrap().contains(
        "painter_99 application not found for action studio-launch-painter (installed: painter_10)"
    ));
    let shot = json!({
        "actionIdentifier": "studio-launch-painter", "applicationIdentifier": "painter_10",
        "selection": [{"entityType": "Shot", "entityId": "s1"}],
    });
    let results = s.publish("ftrack.action.launch", &shot.to_string());
    assert_eq!(
        results[0]["message"],
        "Painter 10 is not offered for this selection (it needs Task)"
    );
}

#[test]
fn bad_configs_are_reported_and_skipped() {
    let s = Sandbox::new();
    install_painters(&s, &["10"]);
    let mut missing_key = painter_config(&s);
    missing_key["identifier"] = json!("missing-key");
    missing_key
        .as_object_mut()
        .unwrap()
        .remove("applicationIdentifier");
    let mut bad_regex = painter_config(&s);
    bad_regex["identifier"] = json!("bad-regex");
    bad_regex["search_path"][os_key()]["expression"] = json!(["bin", "painter("]);
    launch_plugin(
        &s,
        "studio-apps",
        &[
            ("painter.json", &painter_config(&s).to_string()),
            (
                "bad-json.json",
                "{\n  \"identifier\": \"bad-json\",\n  oops\n}\n",
            ),
            (
                "bad-yaml.yaml",
                "identifier: bad-yaml\nlabel: \"unterminated\n",
            ),
            ("missing-key.json", &missing_key.to_string()),
            ("bad-regex.json", &bad_regex.to_string()),
            ("notes.txt", "not a config: ignored"),
        ],
    );
    s.write("configs/broken.yml", "identifier: x\n");

    let config_paths =
        std::env::join_paths([s.path().join("configs"), s.path().join("missing")]).unwrap();
    let mut command = s.command();
    command
        .args(["plugins", "--json"])
        .env("FTRACK_APPLICATION_LAUNCHER_CONFIG_PATHS", config_paths);
    let Captured { stdout, stderr, .. } = Captured::from(command.output().unwrap()).success();
    let plugins: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    let entry = |name: &str| plugins.iter().find(|p| p["name"] == name).unwrap().clone();

    let apps = entry("studio-apps");
    assert_eq!(apps["status"], "loaded");
    let warnings: Vec<&str> = apps["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(warnings.len(), 4, "{warnings:#?}");
    let launch_dir = s.plugins().join("studio-apps/launch");
    let about = |file: &str| {
        let prefix = format!("launcher config {}: ", launch_dir.join(file).display());
        warnings
            .iter()
            .find_map(|w| w.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no warning about {file}: {warnings:#?}"))
    };
    let json = about("bad-json.json");
    assert!(
        json.starts_with("not valid JSON: ") && json.contains("line 3 column 3"),
        "{json}"
    );
    let yaml = about("bad-yaml.yaml");
    assert!(
        yaml.starts_with("not valid YAML: ") && yaml.contains("line 2 column 8"),
        "{yaml}"
    );
    assert!(
        about("missing-key.json").contains("missing field `applicationIdentifier`"),
        "{warnings:#?}"
    );
    assert_eq!(
        about("bad-regex.json"),
        format!(
            "search_path.{}.expression[1]: invalid regular expression \"painter(\": unclosed group",
            os_key()
        )
    );
    // Every problem is also in the log file, naming the file; `plugins` lists them once,
    // not again on stderr.
    let log = std::fs::read_to_string(s.user_data_dir().join("log/ftrack_connect.log")).unwrap();
    for file in [
        "bad-json.json",
        "bad-yaml.yaml",
        "missing-key.json",
        "bad-regex.json",
    ] {
        let path = launch_dir.join(file).display().to_string();
        assert!(log.contains(&path), "{log}");
        assert!(!stderr.contains(&path), "{stderr}");
    }

    // A config from the config paths is the launcher's own problem.
    let launcher = entry("application-launcher");
    let launcher_warnings = launcher["warnings"].as_array().unwrap();
    assert_eq!(launcher_warnings.len(), 2, "{launcher_warnings:?}");
    let warning = launcher_warnings[0].as_str().unwrap();
    assert!(
        warning.starts_with(&format!(
            "launcher config {}: missing field `label`",
            s.path().join("configs/broken.yml").display()
        )),
        "{warning}"
    );
    assert_eq!(
        launcher_warnings[1],
        format!(
            "launcher config folder {} (from FTRACK_APPLICATION_LAUNCHER_CONFIG_PATHS) does not exist",
            s.path().join("missing").display()
        )
    );

    // The good config still works.
    let items = discover(&s, &["Task:t1"]);
    assert_eq!(field(&items, "applicationIdentifier"), ["painter_10"]);
}

#[test]
fn the_launcher_is_listed_as_a_built_in_plugin() {
    let s = Sandbox::new();
    let launcher = s.plugin("application-launcher");
    assert_eq!(launcher["kind"], "native");
    assert_eq!(launcher["path"], "<built-in>/application-launcher");
    assert_eq!(launcher["status"], "loaded");
    assert_eq!(launcher["subscriptions"], 0);

    // Two handlers (discover, launch) per action; configs sharing an identifier share them.
    let mut viewer = painter_config(&s);
    viewer["identifier"] = json!("studio-launch-viewer");
    let mut second_painter = painter_config(&s);
    second_painter["label"] = json!("Painter (beta)");
    launch_plugin(
        &s,
        "studio-apps",
        &[
            ("painter.json", &painter_config(&s).to_string()),
            ("painter-beta.json", &second_painter.to_string()),
            ("viewer.json", &viewer.to_string()),
        ],
    );
    assert_eq!(s.plugin("application-launcher")["subscriptions"], 4);
}

#[test]
fn integrations_decide_what_is_offered_and_which_environment_applies() {
    let s = Sandbox::new();
    let programs = install_painters(&s, &["10"]);
    let mut config = painter_config(&s);
    config["integrations"] = json!({"pipeline": ["studio-pipeline"]});
    launch_plugin(&s, "studio-apps", &[("painter.json", &config.to_string())]);
    // Without the integration, the application is not offered.
    assert!(discover(&s, &["Task:t1"]).is_empty());

    s.hook(
        "studio-pipeline",
        "pipeline.rhai",
        r#"
        fn register(session) {
            session.event_hub.subscribe(
                "topic=ftrack.connect.application.discover and data.application.identifier=painter_*",
                |event| #{ integration: #{ name: "studio-pipeline", version: "1.0" } });
            session.event_hub.subscribe(
                "topic=ftrack.connect.application.launch and data.application.identifier=painter_*",
                |event| #{ integration: #{ name: "studio-pipeline", env: #{ "PIPELINE.set": "on" } } });
            // An integration the config does not ask for: its environment does not apply.
            session.event_hub.subscribe(
                "topic=ftrack.connect.application.launch",
                |event| #{ integration: #{ name: "other", env: #{ "OTHER.set": "on" } } });
        }"#,
    );
    let items = discover(&s, &["Task:t1"]);
    assert_eq!(field(&items, "variant"), ["10 [pipeline]"]);
    assert_eq!(
        field(&items, "applicationIdentifier"),
        ["painter_10 [pipeline]"]
    );
    assert_eq!(
        items[0]["integrations"],
        json!({"pipeline": ["studio-pipeline"]})
    );

    launch(
        &s,
        &[
            "studio-launch-painter",
            "--variant",
            "10 [pipeline]",
            "--selection",
            "Task:t1",
        ],
        &[],
    )
    .success();
    let record = wait_for_record(&programs[0]);
    assert_eq!(record.env.get("PIPELINE").map(String::as_str), Some("on"));
    assert_eq!(record.env.get("OTHER"), None);
}

/// The warnings (`warning`-level lines) in `text` that contain every one of `parts`.
fn warnings_with<'a>(text: &'a str, parts: &[&str]) -> Vec<&'a str> {
    text.lines()
        .filter(|line| line.contains("WARN") || line.contains("warning"))
        .filter(|line| parts.iter().all(|part| line.contains(part)))
        .collect()
}

/// Asserts that the log file holds one warning with each `(source, key)`, and stderr at most
/// one; returns the log (it keeps every run's lines: call this after the first run).
#[track_caller]
fn logged_once(s: &Sandbox, stderr: &str, expected: &[(&str, &str)]) -> String {
    let log = std::fs::read_to_string(s.user_data_dir().join("log/ftrack_connect.log")).unwrap();
    for (source, key) in expected {
        let found = warnings_with(&log, &[source, key]).len();
        assert_eq!(found, 1, "one warning about {key} from {source}:\n{log}");
        assert!(warnings_with(stderr, &[source, key]).len() <= 1, "{stderr}");
    }
    log
}

/// The `warnings` of plugin `name` in `plugins --json`.
fn plugin_warnings(s: &Sandbox, name: &str) -> Vec<String> {
    let warnings = s.plugin(name)["warnings"].as_array().unwrap().clone();
    warnings
        .iter()
        .map(|w| w.as_str().unwrap().into())
        .collect()
}

/// A plugin folder with a launch hook for painter: `body` is its handler's, which gets `event`.
fn painter_launch_hook(s: &Sandbox, body: &str) {
    let subscribe = "session.event_hub.subscribe(\"topic=ftrack.connect.application.launch \
                     and data.application.identifier=painter_*\", Fn(\"adjust\"));";
    let hook = format!("fn adjust(event) {{ {body} }}\nfn register(session) {{ {subscribe} }}");
    s.hook("studio-env", "launch_env.rhai", &hook);
}

/// A name with `=` reaches a program cut at the `=` (`A=B.set: x` gives it `A` holding `B=x`),
/// a NUL byte makes the OS refuse the whole start, and an empty name is no variable. Such
/// entries are left out wherever they come from, each with a warning naming its source; the
/// rest of the environment applies and the program starts.
#[test]
fn environment_names_with_equals_or_nul_are_refused_and_the_rest_applies() {
    let s = Sandbox::new();
    let programs = install_painters(&s, &["10"]);
    let mut config = painter_config(&s);
    config["environment_variables"] = json!({
        "A=B.set": "from-config",
        "NUL\u{0}NAME.set": "from-config",
        "": "from-config",
        "CONFIG_OK.set": "applied",
    });
    launch_plugin(&s, "studio-apps", &[("painter.json", &config.to_string())]);
    painter_launch_hook(
        &s,
        r#"
            event.data.options.env["C=D"] = "from-hook";
            event.data.options.env["NUL\x00HOOK"] = "from-hook";
            event.data.options.env.HOOK_OK = "applied";
            #{ integration: #{ name: "studio", env: #{
                "E=F.set": "from-integration",
                "NUL\x00INTEGRATION.prepend": "from-integration",
                "INTEGRATION_OK.set": "applied",
            } } }"#,
    );

    let args = ["studio-launch-painter", "--selection", "Task:t1"];
    let Captured { stderr, .. } = launch(&s, &args, &[]).success();
    let record = wait_for_record(&programs[0]);
    for name in ["CONFIG_OK", "HOOK_OK", "INTEGRATION_OK"] {
        assert_eq!(record.env.get(name).map(String::as_str), Some("applied"));
    }
    let leaked: Vec<_> = record
        .env
        .iter()
        .filter(|(_, v)| v.contains("from-"))
        .collect();
    assert!(
        leaked.is_empty(),
        "refused entries reached the program: {leaked:?}"
    );

    let file = s
        .plugins()
        .join("studio-apps/launch/painter.json")
        .display()
        .to_string();
    logged_once(
        &s,
        &stderr,
        &[
            (file.as_str(), r#""A=B.set""#),
            (file.as_str(), r#""NUL\0NAME.set""#),
            (file.as_str(), r#"environment_variables "": "#),
            ("data.options.env", r#""C=D""#),
            ("data.options.env", r#""NUL\0HOOK""#),
            ("integration studio", r#""E=F.set""#),
            ("integration studio", r#""NUL\0INTEGRATION.prepend""#),
        ],
    );

    // The config's problems are its plugin's warnings; the config itself is used.
    let warnings = plugin_warnings(&s, "studio-apps");
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    let prefix = format!("launcher config {file}: environment_variables ");
    assert!(
        warnings.iter().all(|w| w.starts_with(&prefix)),
        "{warnings:#?}"
    );
    assert_eq!(
        field(&discover(&s, &["Task:t1"]), "applicationIdentifier"),
        ["painter_10"]
    );
}

/// Launcher configs and launch hooks cannot replace who the program acts for: the signed-in
/// server, user and key win, and each attempt is one warning naming its source and the
/// variable, never the value. `FTRACK_CONNECT_ALLOW_CREDENTIALS_OVERRIDE=1` lets them.
#[test]
fn configs_and_hooks_cannot_replace_the_signed_in_credentials() {
    let s = Sandbox::new();
    let programs = install_painters(&s, &["10"]);
    let mut config = painter_config(&s);
    config["environment_variables"] = json!({
        "FTRACK_API_KEY.set": "config-secret",
        "FTRACK_SERVER.set": "https://config.example.com",
        "FTRACK_API_OTHER": "config-secret",
        "CONFIG_OK.set": "applied",
    });
    launch_plugin(&s, "studio-apps", &[("painter.json", &config.to_string())]);
    painter_launch_hook(
        &s,
        r#"
            event.data.options.env.FTRACK_API_USER = "hook-user";
            event.data.options.env.FTRACK_APIKEY = "hook-secret";
            event.data.options.env.HOOK_OK = "applied";
            #{ integration: #{ name: "studio", env: #{
                "FTRACK_API_KEY.set": "integration-secret",
                "FTRACK_SERVER.unset": "",
                "INTEGRATION_OK.set": "applied",
            } } }"#,
    );
    let signed_in = [
        ("FTRACK_SERVER", "https://studio.example.com"),
        ("FTRACK_API_KEY", "s3cr3t-api-key"),
    ];
    let args = ["studio-launch-painter", "--selection", "Task:t1"];
    let record_file = PathBuf::from(format!("{}.record", programs[0].display()));
    let log_file = s.user_data_dir().join("log/ftrack_connect.log");
    let secrets = [
        "s3cr3t-api-key",
        "config-secret",
        "hook-secret",
        "integration-secret",
    ];
    let no_secret_in = |texts: &[&str]| {
        for (text, secret) in texts.iter().flat_map(|t| secrets.map(|s| (t, s))) {
            assert!(!text.contains(secret), "{secret} reached a log: {text}");
        }
    };

    let Captured { stdout, stderr, .. } = launch(&s, &args, &signed_in).success();
    let record = wait_for_record(&programs[0]);
    let var = |name: &str| record.env.get(name).map(String::as_str);
    assert_eq!(var("FTRACK_SERVER"), Some("https://studio.example.com"));
    assert_eq!(var("FTRACK_API_USER"), Some("alice"));
    assert_eq!(var("FTRACK_API_KEY"), Some("s3cr3t-api-key"));
    assert_eq!(var("FTRACK_APIKEY"), Some("s3cr3t-api-key"));
    assert_eq!(var("FTRACK_API_OTHER"), None);
    for name in ["CONFIG_OK", "HOOK_OK", "INTEGRATION_OK"] {
        assert_eq!(var(name), Some("applied"));
    }
    let file = s
        .plugins()
        .join("studio-apps/launch/painter.json")
        .display()
        .to_string();
    let attempts = [
        (file.as_str(), r#""FTRACK_API_KEY.set""#),
        (file.as_str(), r#""FTRACK_SERVER.set""#),
        (file.as_str(), r#""FTRACK_API_OTHER""#),
        ("data.options.env", r#""FTRACK_API_USER""#),
        ("data.options.env", r#""FTRACK_APIKEY""#),
        ("integration studio", r#""FTRACK_API_KEY.set""#),
        ("integration studio", r#""FTRACK_SERVER.unset""#),
    ];
    let log = logged_once(&s, &stderr, &attempts);
    let refusals = warnings_with(&log, &["FTRACK_CONNECT_ALLOW_CREDENTIALS_OVERRIDE=1"]);
    assert_eq!(
        refusals.len(),
        attempts.len(),
        "each says how to allow it:\n{log}"
    );
    // The config's attempts are its plugin's warnings.
    let warnings = plugin_warnings(&s, "studio-apps").join("\n");
    for variable in ["FTRACK_API_KEY", "FTRACK_SERVER", "FTRACK_API_OTHER"] {
        assert!(warnings.contains(variable), "{warnings}");
    }
    let log = std::fs::read_to_string(&log_file).unwrap();
    no_secret_in(&[&stdout, &stderr, &log, &warnings]);

    // With the opt-in, configs and hooks apply in their usual order, without warnings.
    std::fs::remove_file(&record_file).unwrap();
    let mut env = signed_in.to_vec();
    env.push(("FTRACK_CONNECT_ALLOW_CREDENTIALS_OVERRIDE", "1"));
    let Captured { stdout, stderr, .. } = launch(&s, &args, &env).success();
    let record = wait_for_record(&programs[0]);
    let var = |name: &str| record.env.get(name).map(String::as_str);
    assert_eq!(var("FTRACK_SERVER"), None);
    assert_eq!(var("FTRACK_API_USER"), Some("hook-user"));
    assert_eq!(var("FTRACK_API_KEY"), Some("integration-secret"));
    assert_eq!(var("FTRACK_APIKEY"), Some("hook-secret"));
    assert_eq!(var("FTRACK_API_OTHER"), Some("config-secret"));
    let this_run = std::fs::read_to_string(&log_file).unwrap()[log.len()..].to_string();
    for text in [&stderr, &this_run] {
        assert!(warnings_with(text, &["FTRACK_"]).is_empty(), "{text}");
    }
    assert!(
        this_run.contains(
            "FTRACK_CONNECT_ALLOW_CREDENTIALS_OVERRIDE=1: launcher configs and \
                           launch hooks may change the signed-in credentials"
        ),
        "the opt-in is in the log:\n{this_run}"
    );
    no_secret_in(&[&stdout, &stderr, &this_run]);
}

/// Configs that would make reading them slow or costly are refused, each naming its file, in
/// bounded time, and the others work: a regular expression that compiles to megabytes, YAML
/// nested in thousands of brackets (its scanner is quadratic in that nesting), YAML aliases
/// that expand to billions of values, a file far bigger than any config.
#[test]
fn costly_configs_are_refused_with_their_path() {
    let s = Sandbox::new();
    install_painters(&s, &["10"]);
    let mut big_regex = painter_config(&s);
    big_regex["identifier"] = json!("big-regex");
    big_regex["search_path"][os_key()]["expression"] = json!(["bin", "\\w{100}"]);
    let mut huge = painter_config(&s);
    huge["identifier"] = json!("huge");
    huge["description"] = json!("x".repeat(300 << 10));
    let valid_yaml = format!(
        "identifier: y\nlabel: Y\napplicationIdentifier: y\nsearch_path:\n  {}: {{prefix: [/opt], expression: [y]}}\n",
        os_key()
    );
    let nested = format!("{}1{}", "{a: ".repeat(20_000), "}".repeat(20_000));
    let deep = format!("{valid_yaml}environment_variables: {nested}\n");
    let mut aliases = format!("{valid_yaml}integrations:\n  l0: &l0 [x, x, x, x, x, x, x, x]\n");
    for level in 1..12 {
        let alias = format!("*l{}", level - 1);
        let list = [alias.as_str(); 10].join(", ");
        aliases.push_str(&format!("  l{level}: &l{level} [{list}]\n"));
    }
    launch_plugin(
        &s,
        "studio-apps",
        &[
            ("painter.json", &painter_config(&s).to_string()),
            ("big-regex.json", &big_regex.to_string()),
            ("huge.json", &huge.to_string()),
            ("deep.yaml", &deep),
            ("aliases.yaml", &aliases),
        ],
    );

    let started = std::time::Instant::now();
    let warnings = plugin_warnings(&s, "studio-apps");
    // Liveness only: before the limits, the deep file alone took seconds, a deeper one minutes.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    assert_eq!(warnings.len(), 4, "{warnings:#?}");
    let launch_dir = s.plugins().join("studio-apps/launch");
    let about = |file: &str| {
        let prefix = format!("launcher config {}: ", launch_dir.join(file).display());
        let found = warnings.iter().find_map(|w| w.strip_prefix(&prefix));
        found.unwrap_or_else(|| panic!("no warning about {file}: {warnings:#?}"))
    };
    let regex = format!(
        "search_path.{}.expression[1]: invalid regular expression \"\\\\w{{100}}\": too big: it \
         compiles to more than 2 MiB",
        os_key()
    );
    assert!(about("big-regex.json").starts_with(&regex), "{warnings:#?}");
    assert_eq!(
        about("huge.json"),
        "too big: more than 256 KiB (a launcher config is a few KiB)"
    );
    let brackets = "not read: more than 512 `[` and `{` (the next at line 6";
    assert!(about("deep.yaml").starts_with(brackets), "{warnings:#?}");
    assert_eq!(
        about("aliases.yaml"),
        "not read: its aliases (`*name`) expand to too many values (at most 524288)"
    );
    assert_eq!(
        field(&discover(&s, &["Task:t1"]), "applicationIdentifier"),
        ["painter_10"]
    );
}
