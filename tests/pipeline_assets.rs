//! The asset manager of the resident host's pipeline host, from the command line: `pipeline
//! resolve` asks it (through the server's event hub) what a task depends on, answered by the
//! shipped resolver of the framework's `asset_manager/python` definition from what the real
//! `ftrack_api` made on the local server.

use serde_json::{json, Value};

use crate::kit::Sandbox;
use crate::pipeline::studio_host_serving;

/// Made with the real `ftrack_api` on the show `studio_host_serving` made: a lighting and a
/// modeling task on sh010, the asset types `geometry` and `rig`, and under sh010 the
/// geometry `chair` (v1, v2), `table` (v1) and `scratch_tmp` (v1), and the rig `puppet` (v1),
/// all from the modeling task. The ids by name.
const MAKE_ASSETS: &str = r#"
import json, ftrack_api
s = ftrack_api.Session(auto_connect_event_hub=False)
shot = s.query('Shot where name is "sh010" and project.name is "show"').one()
def task_type(name):
    return s.query('Type where name is "{0}"'.format(name)).one()
def asset_type(short):
    found = s.query('AssetType where short is "{0}"'.format(short)).first()
    return found or s.create("AssetType", {"name": short.title(), "short": short})
lighting = s.create("Task", {"name": "lighting", "parent": shot, "type": task_type("Lighting")})
modeling = s.create("Task", {"name": "modeling", "parent": shot, "type": task_type("Modeling")})
ids = {"lighting": lighting["id"], "modeling": modeling["id"]}
for name, short, count in [("chair", "geometry", 2), ("table", "geometry", 1),
                           ("scratch_tmp", "geometry", 1), ("puppet", "rig", 1)]:
    asset = s.create("Asset", {"name": name, "type": asset_type(short), "parent": shot})
    ids[name] = asset["id"]
    for number in range(1, count + 1):
        version = s.create("AssetVersion", {"asset": asset, "task": modeling, "version": number})
        ids["{0}_v{1}".format(name, number)] = version["id"]
s.commit()
print(json.dumps(ids))
"#;

#[cfg(unix)]
#[test]
fn pipeline_resolve_lists_the_latest_versions_a_task_depends_on() {
    let s = Sandbox::new();
    // The framework's asset manager definition, its lighting entry excluding scratch assets.
    let mut manager = crate::pipeline::fixture(
        "definition/resource/definitions/asset_manager/python/asset_manager_python.json",
    );
    let lighting =
        &mut manager["resolvers"]["resolve_dependencies"][0]["options"]["task_types"]["lighting"];
    for entry in lighting["asset_types"].as_array_mut().unwrap() {
        entry["filters"]["asset_names_exclude"] = json!(["scratch"]);
    }
    s.write(
        "definitions/asset_manager/python/asset_manager_python.json",
        &manager.to_string(),
    );
    let (host, env, comp) = studio_host_serving(&s, 2);
    let script = s.write("make_assets.py", MAKE_ASSETS);
    let ids: Value = serde_json::from_str(&readback_script(&s, &env, &script)).unwrap();
    let lighting = format!("Task:{}", ids["lighting"].as_str().unwrap());

    let out = s
        .capture(&["pipeline", "resolve", "--context", &lighting, "--json"])
        .success();
    let reply: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(
        reply["plugin_name"], "common_default_am_resolver",
        "{reply}"
    );
    let found: Vec<(String, String, u64)> = reply["result"]["run"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["asset_name"].as_str().unwrap().into(),
                v["asset_version_id"].as_str().unwrap().into(),
                v["version"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("chair".into(), ids["chair_v2"].as_str().unwrap().into(), 2),
            ("table".into(), ids["table_v1"].as_str().unwrap().into(), 1),
        ],
        "the latest geometry, scratch excluded; no rig for lighting"
    );
    let out = s
        .capture(&["pipeline", "resolve", "--context", &lighting])
        .success();
    assert!(
        out.stdout.starts_with("geometry  chair  v2  (modeling)"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("2 dependencies"), "{}", out.stderr);

    // A task type the definition does not list depends on nothing.
    let comp = format!("Task:{comp}");
    let out = s
        .capture(&["pipeline", "resolve", "--context", &comp])
        .success();
    assert!(
        out.stdout.is_empty() && out.stderr.contains("0 dependencies"),
        "{}",
        out.stderr
    );

    // The framework's client in Python asks the asset manager to update the chair (v1), as
    // another user of the server first (refused: the host runs its own user's requests
    // only), then as the host's user: the shipped action answers with the latest version.
    let kit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python");
    let ask_as = |user_env: &[(&str, String)]| -> Value {
        let run = std::process::Command::new(crate::server_api::python())
            .args(["-c", PYTHON_UPDATE])
            .args([
                ids["chair"].as_str().unwrap(),
                ids["chair_v1"].as_str().unwrap(),
            ])
            .env("PYTHONPATH", &kit)
            .env("HOME", s.home())
            .envs(user_env.iter().map(|(k, v)| (*k, v.as_str())))
            .env_remove("FTRACK_EVENT_PLUGIN_PATH")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let run = crate::server_api::passed("the Python asset manager client", run.into());
        serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap()
    };
    let refused = ask_as(&env);
    assert_eq!(refused["status"], "ERROR_STATUS", "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("runs only") && message.contains("not \"pipeline\"'s"),
        "{message}"
    );

    let status: Value =
        serde_json::from_str(&s.capture(&["status", "--json"]).success().stdout).unwrap();
    let host_key = std::fs::read_to_string(s.user_data_dir().join("server/host-key")).unwrap();
    let as_host = [
        ("FTRACK_SERVER", env[0].1.clone()),
        (
            "FTRACK_API_USER",
            status["server"]["api_user"].as_str().unwrap().to_string(),
        ),
        ("FTRACK_API_KEY", host_key.trim().to_string()),
    ];
    let reply = ask_as(&as_host);
    assert_eq!(
        reply["plugin_name"], "common_update_latest_am_action",
        "{reply}"
    );
    assert_eq!(reply["status"], "SUCCESS_STATUS", "{reply}");
    let updated = &reply["result"]["run"]["assets"][0];
    assert_eq!(updated["version_id"], ids["chair_v1"]);
    assert_eq!(updated["latest_version_id"], ids["chair_v2"]);
    assert_eq!(updated["latest_version"], 2);
    drop(host);
}

/// The framework's asset manager client in Python (`ftrack_api` through the server's hub):
/// finds the host, sends `update_assets` with its definition's update action for the asset
/// argv[1] at version argv[2], and prints the host's reply.
const PYTHON_UPDATE: &str = r#"
import json, sys
import ftrack_api.event.base
from hub_kit import close_sessions, pipeline_host, pump, session

Event = ftrack_api.event.base.Event

s = session("asset manager client")
host = pipeline_host(s, lambda host: host.get("definition", {}).get("asset_manager"),
                     "a pipeline host with an asset manager replies")
update = host["definition"]["asset_manager"][0]["actions"]["update"][0]
answers = []
s.event_hub.publish(
    Event(topic="ftrack.pipeline.host.run", data={"pipeline": {
        "host_id": host["host_id"], "engine_type": "asset_manager",
        "data": {"method": "update_assets", "plugin": update,
                 "assets": [{"asset_id": sys.argv[1], "version_id": sys.argv[2]}]}}}),
    on_reply=lambda reply: answers.append(reply["data"]))
pump(s, lambda: answers, "the asset manager answers")
print(json.dumps(answers[0]))
close_sessions()
"#;

/// Runs a Python script file with the real `ftrack_api` as the pipeline user: what it printed.
fn readback_script(s: &Sandbox, env: &[(&str, String)], script: &std::path::Path) -> String {
    let output = std::process::Command::new(crate::server_api::python())
        .arg(script)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("HOME", s.home())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let output = crate::server_api::passed("make_assets.py", output.into());
    output.stdout.trim().to_string()
}
