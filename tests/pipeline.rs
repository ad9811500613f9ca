//! `ftrack-connect pipeline definitions` through the real binary: FTRACK_DEFINITION_PATH read
//! directly (no host runs), against ftrack's own schemas and definitions
//! (`../shared/fixtures/ftrack-connect-pipeline`, read in place) and broken copies written
//! to a temporary folder. Then the pipeline host the resident `run` starts: found by
//! `pipeline hosts` (through the running host and through the server's hub), and by the
//! real Python `ftrack_api` client through the local server, which gets the framework's
//! discover reply and changes the host's context.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::kit::{eventually, Captured, Running, Sandbox};

/// ftrack's pipeline fixtures, in the project's shared material: `$FTRACK_SHARED_DIR`, else
/// `../shared` next to the workspace, else `/work/shared` (where CI's clean clones find it).
fn fixtures() -> PathBuf {
    let relative = "fixtures/ftrack-connect-pipeline";
    [
        std::env::var_os("FTRACK_SHARED_DIR").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")),
        Some(PathBuf::from("/work/shared")),
    ]
    .into_iter()
    .flatten()
    .map(|dir| dir.join(relative))
    .find(|path| path.is_dir())
    .unwrap_or_else(|| panic!("no {relative} in ../shared or /work/shared: set FTRACK_SHARED_DIR"))
}

/// The definition repository's folder: its 1.2.0 schemas and its 69 definitions.
fn definition_folder() -> PathBuf {
    fixtures().join("definition/resource/definitions")
}

/// A fixture file, parsed.
pub(crate) fn fixture(relative: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join(relative)).unwrap()).unwrap()
}

/// `pipeline definitions ARGS` with FTRACK_DEFINITION_PATH set to `paths`.
fn definitions(s: &Sandbox, paths: &[PathBuf], args: &[&str]) -> Captured {
    s.command()
        .env(
            "FTRACK_DEFINITION_PATH",
            std::env::join_paths(paths).unwrap(),
        )
        .args(["pipeline", "definitions"])
        .args(args)
        .output()
        .expect("binary runs")
        .into()
}

/// The listing's lines as (name, type, host type).
fn listed(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .map(|line| {
            let columns: Vec<&str> = line
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            assert_eq!(columns.len(), 3, "{line:?}");
            (columns[0].into(), columns[1].into(), columns[2].into())
        })
        .collect()
}

/// Copies the python definitions and the pipeline 1.3.0 schemas into `dir`.
pub(crate) fn python_folder(dir: &Path) {
    let copies = [
        (
            fixtures().join("pipeline/resource/definitions/schema"),
            "schema",
        ),
        (
            definition_folder().join("publisher/python"),
            "publisher/python",
        ),
        (definition_folder().join("loader/python"), "loader/python"),
        (definition_folder().join("opener/python"), "opener/python"),
    ];
    for (source, target) in copies {
        let target = dir.join(target);
        std::fs::create_dir_all(&target).unwrap();
        for entry in std::fs::read_dir(source).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn pipeline_definitions_lists_every_real_definition() {
    let s = Sandbox::new();
    let out = definitions(&s, &[definition_folder()], &[]).success();
    assert_eq!(out.stderr, "", "nothing dropped");
    let all = listed(&out.stdout);
    assert_eq!(all.len(), 69, "{}", out.stdout);
    assert!(all.contains(&("File Publisher".into(), "publisher".into(), "python".into())));
    // Publishers first, then loaders, openers and asset managers, as the host serves them.
    let kinds: Vec<&str> = all.iter().map(|(_, kind, _)| kind.as_str()).collect();
    let mut sorted = kinds.clone();
    let order = ["publisher", "loader", "opener", "asset_manager"];
    sorted.sort_by_key(|kind| order.iter().position(|o| o == kind));
    assert_eq!(kinds, sorted);

    let out = definitions(&s, &[definition_folder()], &["--host-type", "python"]).success();
    assert_eq!(
        listed(&out.stdout),
        [
            ("File Publisher", "publisher", "python"),
            ("File Loader", "loader", "python"),
            ("File Opener", "opener", "python"),
            ("default", "asset_manager", "python"),
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );

    let out = definitions(
        &s,
        &[definition_folder()],
        &["--type", "loader", "--host-type", "maya"],
    )
    .success();
    let loaders = listed(&out.stdout);
    assert_eq!(loaders.len(), 6, "{}", out.stdout);
    assert!(loaders
        .iter()
        .all(|(_, kind, host)| kind == "loader" && host == "maya"));

    let out = definitions(&s, &[definition_folder()], &["--type", "renderer"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}

#[test]
fn pipeline_definitions_drops_a_broken_definition_with_file_and_json_path() {
    let s = Sandbox::new();
    let dir = s.path().join("definitions");
    python_folder(&dir);
    let mut broken =
        fixture("definition/resource/definitions/publisher/python/file-python-publish.json");
    broken["name"] = json!("Broken Publisher");
    broken["components"][0]["stages"][1]["plugins"][0]["options"] = json!(["not", "an", "object"]);
    std::fs::write(
        dir.join("publisher/python/broken-python-publish.json"),
        serde_json::to_string_pretty(&broken).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("loader/python/half.json"),
        "{\"type\": \"loader\",",
    )
    .unwrap();

    let out = definitions(&s, std::slice::from_ref(&dir), &[]).success();
    assert_eq!(
        listed(&out.stdout),
        [
            ("File Publisher", "publisher", "python"),
            ("File Loader", "loader", "python"),
            ("File Opener", "opener", "python"),
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(
        lines[0].starts_with(
            "dropped publisher/python/broken-python-publish.json: \
             /components/0/stages/1/plugins/0/options: "
        ),
        "{}",
        out.stderr
    );
    assert!(
        lines[0].contains("is not of type \"object\""),
        "{}",
        out.stderr
    );
    assert!(
        lines[0].ends_with(&format!("(in {})", dir.display())),
        "{}",
        out.stderr
    );
    assert!(
        lines[1].starts_with("dropped loader/python/half.json: line 1 column 18: not JSON"),
        "{}",
        out.stderr
    );
}

#[test]
fn pipeline_definitions_json_is_the_augmented_form_the_framework_sends() {
    let s = Sandbox::new();
    // The recording's definition: the fixture's, with its context and files.
    let dir = s.path().join("definitions");
    std::fs::create_dir_all(dir.join("publisher/python")).unwrap();
    let mut definition =
        fixture("definition/resource/definitions/publisher/python/file-python-publish.json");
    let context = &mut definition["contexts"][0]["stages"][0]["plugins"][0]["options"];
    context["context_id"] = json!("aaaaaaaa-0000-0000-0000-00000000task");
    context["asset_name"] = json!("myAsset");
    definition["components"][0]["stages"][0]["plugins"][0]["options"]["path"] =
        json!("/tmp/WORK/render_v001.exr");
    definition["components"][1]["stages"][0]["plugins"][0]["options"]["path"] =
        json!("/tmp/WORK/thumb.png");
    std::fs::write(
        dir.join("publisher/python/file-python-publish.json"),
        serde_json::to_string(&definition).unwrap(),
    )
    .unwrap();
    // The pipeline 1.3.0 schemas (which the recording used) first on the path, this folder
    // next: it has no schema/ of its own.
    let paths = [fixtures().join("pipeline/resource/definitions"), dir];
    let out = definitions(&s, &paths, &["--json", "--type", "publisher"]).success();
    assert_eq!(out.stderr, "");
    let printed: Value = serde_json::from_str(&out.stdout).unwrap();
    let recorded = fixture("pipeline_trace/augmented_file_publisher_definition.json");
    assert_eq!(printed, json!([recorded]));
    // Written in the framework's key order too.
    assert_eq!(
        out.stdout.trim_end(),
        serde_json::to_string_pretty(&json!([recorded])).unwrap()
    );
}

#[test]
fn pipeline_definitions_needs_the_definition_path() {
    let s = Sandbox::new();
    let out = s.capture(&["pipeline", "definitions"]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("FTRACK_DEFINITION_PATH is not set"),
        "{}",
        out.stderr
    );
}

/// The resident host with `env`, once it runs and its pipeline host has started; the
/// pipeline host's log line.
fn resident(s: &Sandbox, env: &[(&str, &str)]) -> (Running, String) {
    let mut host = Running::start_with(s, &["run"], env);
    let line = host.wait_for_any_order("pipeline host ");
    host.wait_for_any_order("is running");
    (host, line)
}

/// `pipeline hosts` lines as (id, host types, context, definitions).
fn hosts_listed(stdout: &str) -> Vec<(String, String, String, String)> {
    stdout
        .lines()
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(words.len(), 6, "{line:?}");
            assert_eq!((words[2], words[5]), ("context", "definitions"), "{line:?}");
            (
                words[0].into(),
                words[1].into(),
                words[3].into(),
                words[4].into(),
            )
        })
        .collect()
}

/// Whether `id` is as the framework makes a python host's: `python-<32 hex digits>`.
fn is_python_host_id(id: &str) -> bool {
    id.strip_prefix("python-").is_some_and(|hex| {
        hex.len() == 32 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
    })
}

/// A client of the framework in Python (`ftrack_api`, through the server's hub, as the
/// framework's clients in REMOTE mode): discovers the hosts, then asks the first to change
/// its context to argv[1] and waits for the host to say so. Prints
/// `{"host": <discover reply>, "changed": [<host.context.change data.pipeline>]}`.
const PYTHON_CLIENT: &str = r#"
import json, sys
import ftrack_api.event.base
from hub_kit import close_sessions, pipeline_host, pump, session

Event = ftrack_api.event.base.Event

s = session("pipeline client")
host = pipeline_host(s)
changed = []
s.event_hub.subscribe(
    "topic=ftrack.pipeline.host.context.change and data.pipeline.host_id=%s" % host["host_id"],
    lambda event: changed.append(event["data"]["pipeline"]))
s.event_hub.publish(Event(topic="ftrack.pipeline.client.context.change",
                          data={"pipeline": {"host_id": host["host_id"], "context_id": sys.argv[1]}}))
pump(s, lambda: changed, "the host says its context changed")
print(json.dumps({"host": host, "changed": changed}))
close_sessions()
"#;

#[cfg(unix)]
#[test]
fn pipeline_hosts_finds_the_resident_python_host_locally_through_the_server_and_from_python() {
    let s = Sandbox::new();
    let definitions = definition_folder().display().to_string();
    let (mut host, line) = resident(
        &s,
        &[
            ("FTRACK_DEFINITION_PATH", &definitions),
            ("FTRACK_CONTEXTID", "ctx-1"),
            ("FTRACK_TASKID", "task-1"),
        ],
    );
    let id = line
        .split("pipeline host ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    assert!(is_python_host_id(&id), "{line}");
    // The loader and opener need plugins nobody serves here: not kept, as by the framework.
    assert!(
        line.contains("serves 2 definitions (from FTRACK_DEFINITION_PATH, 2 not kept)"),
        "{line}"
    );
    let missing = host.wait_for_any_order("not serving");
    assert!(
        missing.contains("file-python-") && missing.contains(") not found for host type python"),
        "{missing}"
    );

    // Through the running host.
    let out = s.capture(&["pipeline", "hosts"]).success();
    let expected = (id.clone(), "python".into(), "ctx-1".into(), "2".into());
    assert_eq!(hosts_listed(&out.stdout), std::slice::from_ref(&expected));
    let out = s.capture(&["pipeline", "hosts", "--json"]).success();
    let replies: Value = serde_json::from_str(&out.stdout).unwrap();
    let reply = &replies[0];
    assert_eq!(replies.as_array().unwrap().len(), 1, "{replies}");
    let recorded = fixture("pipeline_trace/host_discover_reply.json");
    assert_reply_shape(reply, &recorded);
    let names = |kind: &str| -> Vec<String> {
        reply["definition"][kind]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("publisher"), ["File Publisher"]);
    assert!(names("loader").is_empty() && names("opener").is_empty());
    assert_eq!(names("asset_manager"), ["default"]);

    // Through the server's hub, as a client in another process asks.
    host.wait_for_any_order(": connected");
    let out = s
        .capture(&["pipeline", "hosts", "--via-server", "--wait", "1"])
        .success();
    assert_eq!(hosts_listed(&out.stdout), [expected]);

    // The framework's client in Python, with a user of its own on the local server.
    let server_data = s.user_data_dir().join("server").display().to_string();
    let added = s
        .capture(&["server", "user", "add", "pipeline", "--data", &server_data])
        .success();
    let key = added.stdout.split_whitespace().last().unwrap().to_string();
    let status: Value =
        serde_json::from_str(&s.capture(&["status", "--json"]).success().stdout).unwrap();
    let url = status["server"]["url"].as_str().unwrap().to_string();
    let kit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python");
    let run = std::process::Command::new(crate::server_api::python())
        .args(["-c", PYTHON_CLIENT, "ctx-2"])
        .env("PYTHONPATH", &kit)
        .env("HOME", s.home())
        .env("FTRACK_SERVER", &url)
        .env("FTRACK_API_USER", "pipeline")
        .env("FTRACK_API_KEY", &key)
        .env_remove("FTRACK_EVENT_PLUGIN_PATH")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let run = crate::server_api::passed("the Python pipeline client", run.into());
    let seen: Value = serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
    assert_reply_shape(&seen["host"], &recorded);
    assert_eq!(seen["host"]["host_id"], id.as_str());
    assert_eq!(seen["host"]["definition"], reply["definition"]);
    assert_eq!(
        seen["changed"],
        json!([{"host_id": id, "context_id": "ctx-2"}])
    );
    let out = s.capture(&["pipeline", "hosts"]).success();
    assert_eq!(hosts_listed(&out.stdout)[0].2, "ctx-2");

    host.signal(libc::SIGTERM);
    let (code, stderr) = host.finish();
    assert_eq!(code, Some(0), "{stderr}");
}

/// `reply` has the recorded discover reply's shape: its keys in order, the definition's
/// keys, the schemas of the same titles with every `$ref` resolved, and the host name made
/// from the host types.
fn assert_reply_shape(reply: &Value, recorded: &Value) {
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(reply), keys(recorded));
    assert_eq!(keys(&reply["definition"]), keys(&recorded["definition"]));
    assert!(is_python_host_id(reply["host_id"].as_str().unwrap()));
    assert!(reply["host_name"].as_str().unwrap().starts_with("python-"));
    let titles = |v: &Value| {
        let mut titles: Vec<String> = v["definition"]["schema"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["title"].as_str().unwrap().to_string())
            .collect();
        titles.sort();
        titles
    };
    assert_eq!(titles(reply), titles(recorded));
    assert!(!reply.to_string().contains("$ref"));
}

#[cfg(unix)]
#[test]
fn pipeline_hosts_without_definitions_or_a_running_host() {
    let s = Sandbox::new();
    let out = s.capture(&["pipeline", "hosts"]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("no ftrack-connect host is running"),
        "{}",
        out.stderr
    );

    // No definition path: the host is there, with none; its context from FTRACK_TASKID.
    let (host, line) = resident(&s, &[("FTRACK_TASKID", "task-7"), ("FTRACK_CONTEXTID", "")]);
    assert!(
        line.contains("serves 0 definitions (FTRACK_DEFINITION_PATH is not set)"),
        "{line}"
    );
    let out = s.capture(&["pipeline", "hosts"]).success();
    let listed = hosts_listed(&out.stdout);
    assert_eq!(listed.len(), 1, "{}", out.stdout);
    assert!(is_python_host_id(&listed[0].0));
    assert_eq!((&*listed[0].2, &*listed[0].3), ("task-7", "0"));
    host.signal(libc::SIGTERM);
    assert_eq!(host.finish().0, Some(0));
}

/// The resident host serving the python definitions (and the pipeline 1.3.0 schemas), with
/// a project `show/sq/sh010/comp` made on its local server by the real `ftrack_api`: the host,
/// the python user's environment, and the task's id.
fn studio_host(s: &Sandbox) -> (Running, Vec<(&'static str, String)>, String) {
    studio_host_serving(s, 1)
}

/// As [`studio_host`], with `definitions` publisher definitions served (those written to
/// `definitions/publisher/python` of the sandbox beforehand too).
pub(crate) fn studio_host_serving(
    s: &Sandbox,
    definitions: usize,
) -> (Running, Vec<(&'static str, String)>, String) {
    let folder = s.path().join("definitions");
    python_folder(&folder);
    let folder = folder.display().to_string();
    let (mut host, line) = resident(s, &[("FTRACK_DEFINITION_PATH", &folder)]);
    // The loader and opener need plugins nobody ships here: dropped, as the framework does.
    assert!(
        line.contains(&format!("serves {definitions} definitions")),
        "{line}"
    );
    host.wait_for_any_order(": connected");
    let server_data = s.user_data_dir().join("server").display().to_string();
    let added = s
        .capture(&["server", "user", "add", "pipeline", "--data", &server_data])
        .success();
    let key = added.stdout.split_whitespace().last().unwrap().to_string();
    let status: Value =
        serde_json::from_str(&s.capture(&["status", "--json"]).success().stdout).unwrap();
    let env = vec![
        (
            "FTRACK_SERVER",
            status["server"]["url"].as_str().unwrap().to_string(),
        ),
        ("FTRACK_API_USER", "pipeline".to_string()),
        ("FTRACK_API_KEY", key),
    ];
    std::fs::create_dir_all(s.home().join(".cache")).unwrap();
    let task = readback(s, &env, &["setup", "show"]);
    (host, env, task)
}

/// `tests/python/publish_readback.py ARGS` with the real `ftrack_api`: what it printed.
pub(crate) fn readback(s: &Sandbox, env: &[(&str, String)], args: &[&str]) -> String {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/publish_readback.py");
    let output = std::process::Command::new(crate::server_api::python())
        .arg(script)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("HOME", s.home())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let output = crate::server_api::passed("publish_readback.py", output.into());
    output.stdout.trim().to_string()
}

#[cfg(unix)]
#[test]
fn pipeline_run_publishes_with_the_file_publisher_definition_from_another_process() {
    let s = Sandbox::new();
    let (host, env, task) = studio_host(&s);
    let approved = readback(&s, &env, &["status", "Approved"]);
    // What that host serves, asked through the server as a client asks.
    let hosts: Value =
        serde_json::from_str(&s.capture(&["pipeline", "hosts", "--json"]).success().stdout)
            .unwrap();
    let id = hosts[0]["host_id"].as_str().unwrap();
    let out = s
        .capture(&["pipeline", "definitions", "--host", id])
        .success();
    let served = [("File Publisher".into(), "publisher".into(), "python".into())];
    assert_eq!(listed(&out.stdout), served);
    let out = s.capture(&["pipeline", "definitions", "--host", "python-nope"]);
    assert!(
        out.stderr.contains("no pipeline host python-nope answered"),
        "{}",
        out.stderr
    );
    let render = s.write("renders/plate_v001.exr", &"exr".repeat(1000));
    let thumbnail = s.write("renders/thumb.png", "png bytes");
    let set = |assignment: String| ["--set".to_string(), assignment];
    let mut args: Vec<String> = ["pipeline", "run", "File Publisher", "--context"]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("Task:{task}"), "--json".into()])
        .collect();
    for assignment in [
        format!("components.main.collector.path={}", render.display()),
        format!(
            "components.thumbnail.collector.path={}",
            thumbnail.display()
        ),
        "contexts.main.context.asset_name=plate".into(),
        "contexts.main.context.comment=first pass".into(),
        format!("contexts.main.context.status_id={approved}"),
    ] {
        args.extend(set(assignment));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = s.capture(&args).success();
    // Each plugin shown as it ended, in the framework's order.
    let shown: Vec<&str> = out
        .stderr
        .lines()
        .filter(|line| line.trim_start().starts_with("ok "))
        .map(|line| line.split_whitespace().nth(3).unwrap())
        .collect();
    assert_eq!(
        shown,
        [
            "common_passthrough_publisher_context",
            "common_path_publisher_collector",
            "common_file_exists_publisher_validator",
            "common_passthrough_publisher_exporter",
            "common_path_publisher_collector",
            "common_file_exists_publisher_validator",
            "common_passthrough_publisher_exporter",
            "common_passthrough_publisher_pre_finalizer",
            "common_passthrough_publisher_finalizer",
            "common_passthrough_publisher_post_finalizer",
        ],
        "{}",
        out.stderr
    );
    // The answer is the framework's: the finalizers' group results.
    let answer: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let steps: Vec<(&str, &str)> = answer
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            (
                step["name"].as_str().unwrap(),
                step["type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("main", "component"),
            ("thumbnail", "component"),
            ("main", "finalizer")
        ]
    );
    let finalizer = &answer[2]["result"][1]["result"][0]["result"];
    assert_eq!(finalizer["component_names"], json!(["main", "thumbnail"]));

    // What the real ftrack_api reads back.
    let asset_id = finalizer["asset_id"].as_str().unwrap();
    let back: Value = serde_json::from_str(&readback(&s, &env, &[asset_id])).unwrap();
    assert_eq!(
        back["asset"],
        json!({"name": "plate", "type": "scene", "parent": "sh010"})
    );
    let version = &back["versions"][0];
    assert_eq!(back["versions"].as_array().unwrap().len(), 1);
    assert_eq!(version["comment"], "first pass");
    assert_eq!(version["task"], "comp");
    assert_eq!(version["status"], "Approved");
    assert_eq!(version["is_published"], true);
    assert_eq!(version["thumbnail_size"], json!("png bytes".len()));
    let components = version["components"].as_array().unwrap();
    assert_eq!(
        components.len(),
        1,
        "the thumbnail is the version's picture: {back}"
    );
    assert_eq!(components[0]["name"], "main");
    assert_eq!(components[0]["size"], json!(3000));
    assert_eq!(components[0]["locations"][0]["sizes"], json!([3000]));
    // Files are the studio's: none deleted.
    assert!(thumbnail.is_file() && render.is_file());

    // The host kept every notification: `pipeline logs` reads them, no host needed.
    let logged: Value = eventually("the run's 20 notifications in the log", || {
        let out = s.capture(&["pipeline", "logs", "--json"]).success();
        let logged: Value = serde_json::from_str(&out.stdout).unwrap();
        (logged.as_array().unwrap().len() == 20).then_some(logged)
    });
    let finalized = &logged[17];
    assert_eq!(
        (
            finalized["plugin_name"].as_str(),
            finalized["status"].as_str()
        ),
        (
            Some("common_passthrough_publisher_finalizer"),
            Some("SUCCESS_STATUS")
        )
    );
    assert_eq!(finalized["result"]["run"]["asset_id"], asset_id);
    let out = s
        .capture(&[
            "pipeline",
            "logs",
            "--plugin",
            "common_path_publisher_collector",
        ])
        .success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    assert!(
        lines[1].contains("common_path_publisher_collector (publisher.collector)  SUCCESS_STATUS"),
        "{}",
        out.stdout
    );

    host.signal(libc::SIGTERM);
    let (code, stderr) = host.finish();
    assert_eq!(code, Some(0), "{stderr}");
}

#[cfg(unix)]
#[test]
fn pipeline_run_reports_the_failing_validator_and_publishes_nothing() {
    let s = Sandbox::new();
    let (host, env, task) = studio_host(&s);
    let missing = s.path().join("renders/missing.exr").display().to_string();
    let context = format!("Task:{task}");
    let path = format!("components.main.collector.path={missing}");
    let out = s.capture(&[
        "pipeline",
        "run",
        "File Publisher",
        "--context",
        &context,
        "--set",
        &path,
    ]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let error = out
        .stderr
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(
        error.contains("common_file_exists_publisher_validator")
            && error.contains(&format!("{missing} does not exist"))
            && error.contains("step main, stage validator"),
        "{error}"
    );
    assert!(out.stderr.contains("FAILED"), "{}", out.stderr);
    assert_eq!(readback(&s, &env, &["assets", "show"]), "[]");
    let refused = eventually("the validator's failure in the log", || {
        let out = s
            .capture(&["pipeline", "logs", "--status", "ERROR_STATUS"])
            .success();
        (!out.stdout.is_empty()).then_some(out.stdout)
    });
    assert!(
        refused.contains("common_file_exists_publisher_validator")
            && refused.contains("does not exist"),
        "{refused}"
    );

    // Mistakes are said before anything runs: a step that is not there, a wrong context.
    let wrong = s.capture(&[
        "pipeline",
        "run",
        "File Publisher",
        "--context",
        &context,
        "--set",
        "components.render.collector.path=/a.exr",
    ]);
    assert_eq!(wrong.code, Some(1));
    assert!(
        wrong
            .stderr
            .contains("no step \"render\" (it has: main, thumbnail)"),
        "{}",
        wrong.stderr
    );
    let wrong = s.capture(&[
        "pipeline",
        "run",
        "File Publisher",
        "--context",
        "Task:nope",
    ]);
    assert!(
        wrong.stderr.contains("the server has no Task with that id"),
        "{}",
        wrong.stderr
    );
    let wrong = s.capture(&[
        "pipeline",
        "run",
        "Nope",
        "--context",
        &context,
        "--wait",
        "1",
    ]);
    assert!(
        wrong.stderr.contains("serves: File Publisher"),
        "{}",
        wrong.stderr
    );

    host.signal(libc::SIGTERM);
    let (code, stderr) = host.finish();
    assert_eq!(code, Some(0), "{stderr}");
}

/// A studio's own pipeline plugins in a definition of its own: a native validator
/// (`plugins/studio-naming`) and a Rhai pre-finalizer, run with the shipped ones; each
/// refusal reaches `pipeline run` with the plugin's name and reason (and the script's line).
#[cfg(unix)]
#[test]
fn studio_pipeline_plugins_in_rhai_and_native_code_run_and_refuse_by_name() {
    let s = Sandbox::new();
    crate::native_plugins::install(&s, "studio-naming", "studio-naming");
    s.hook(
        "studio-rules",
        "rules.rhai",
        r#"fn register(session) {
    session.pipeline.plugin("publisher.pre_finalizer", "studio_comment_publisher_pre_finalizer", |event| {
        if event.data.settings.context_data.comment == "" {
            throw "a publish needs a comment";
        }
        #{}
    });
}
"#,
    );
    let mut definition =
        fixture("definition/resource/definitions/publisher/python/file-python-publish.json");
    definition["name"] = json!("Studio Publisher");
    definition["components"][0]["stages"][1]["plugins"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "naming", "plugin": "studio_naming_publisher_validator"}));
    definition["finalizers"][0]["stages"][0]["plugins"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "comment", "plugin": "studio_comment_publisher_pre_finalizer"}));
    s.write(
        "definitions/publisher/python/studio-publish.json",
        &definition.to_string(),
    );
    let (host, env, task) = studio_host_serving(&s, 2);
    let approved = readback(&s, &env, &["status", "Approved"]);
    let context = format!("Task:{task}");
    let thumbnail = s.write("renders/thumb.png", "png");
    let run = |file: &str, comment: &str| {
        let path = s.write(&format!("renders/{file}"), "exr");
        s.capture(&[
            "pipeline",
            "run",
            "Studio Publisher",
            "--context",
            &context,
            "--set",
            &format!("components.main.collector.path={}", path.display()),
            "--set",
            &format!(
                "components.thumbnail.collector.path={}",
                thumbnail.display()
            ),
            "--set",
            &format!("contexts.main.context.comment={comment}"),
            "--set",
            &format!("contexts.main.context.status_id={approved}"),
        ])
    };
    let error = |out: &Captured| -> String {
        assert_eq!(out.code, Some(1), "{}", out.stderr);
        out.stderr
            .lines()
            .find(|line| line.starts_with("error: "))
            .unwrap_or_else(|| panic!("{}", out.stderr))
            .to_string()
    };

    let refused = error(&run("plate final_v001.exr", "first"));
    assert!(
        refused.contains("studio_naming_publisher_validator")
            && refused.contains("plate final_v001.exr: a published file name has no spaces"),
        "{refused}"
    );
    let refused = error(&run("plate_v001.exr", ""));
    assert!(
        refused.contains("studio_comment_publisher_pre_finalizer")
            && refused.contains("a publish needs a comment")
            && refused.contains("rules.rhai:4"),
        "{refused}"
    );
    assert_eq!(readback(&s, &env, &["assets", "show"]), "[]");

    let out = run("plate_v001.exr", "first").success();
    for plugin in [
        "studio_naming_publisher_validator",
        "studio_comment_publisher_pre_finalizer",
    ] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains(plugin) && l.trim_start().starts_with("ok")),
            "{plugin}: {}",
            out.stderr
        );
    }
    assert!(
        out.stdout.starts_with("published version "),
        "{}",
        out.stdout
    );
    drop(host);
}
