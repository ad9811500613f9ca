//! Studios' Python hooks through the real binary: `.py` files in plugin folders, run by the
//! real `ftrack_api` (the virtualenv `scripts/python-ref.sh` makes, shared with the server's
//! acceptance tests) in the host's Python bridge, next to Rhai and native hooks in one hub.

use std::path::Path;

use crate::kit::{eventually, wait_for_file, wait_for_record, Captured, Running, Sandbox};
use crate::native_plugins::install;
use serde_json::{json, Value};

/// The interpreter with `ftrack_api`, for `FTRACK_CONNECT_PYTHON`.
fn python() -> String {
    crate::server_api::python().display().to_string()
}

/// The binary in `s` with the Python bridge on the reference interpreter, and `args`.
fn capture(s: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Captured {
    s.command()
        .env("FTRACK_CONNECT_PYTHON", python())
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("binary runs")
        .into()
}

/// `event publish TOPIC --data DATA --standalone` with the Python bridge: (results, stderr).
fn publish(s: &Sandbox, topic: &str, data: Value) -> (Vec<Value>, String) {
    let data = data.to_string();
    let run = capture(
        s,
        &[
            "-v",
            "info",
            "event",
            "publish",
            topic,
            "--data",
            &data,
            "--standalone",
        ],
        &[],
    )
    .success();
    let results: Value = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr));
    (results.as_array().unwrap().clone(), run.stderr)
}

fn labels(results: &[Value]) -> Vec<String> {
    results
        .iter()
        .flat_map(|r| r["items"].as_array().cloned().unwrap_or_default())
        .map(|item| item["label"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn python_rhai_and_native_hooks_answer_in_one_hub() {
    let s = Sandbox::new();
    s.hook(
        "studio-actions",
        "python_action.py",
        r#"
import logging
import ftrack_api
import studio_labels  # from the plugin's dependencies/ folder

logger = logging.getLogger(__name__)


def discover(event):
    print("discover seen by Python for", event['source']['user']['username'])
    logger.warning("logged from the Python hook")
    return {'items': [{'label': studio_labels.LABEL, 'actionIdentifier': 'python-action',
                       'variant': session_user[0]}]}

session_user = []


def register(session, **kw):
    if not isinstance(session, ftrack_api.Session):
        return
    session_user.append(session.api_user)
    session.event_hub.subscribe('topic=ftrack.action.discover', discover, priority=50)
"#,
    );
    s.hook(
        "studio-actions",
        "rhai_action.rhai",
        r#"fn register(session) {
            session.event_hub.subscribe("topic=ftrack.action.discover", |e| #{ items: [#{ label: "Rhai action" }] }, 100);
        }"#,
    );
    install(&s, "studio-actions", "selection-actions");
    s.write(
        "plugins/studio-actions/dependencies/studio_labels.py",
        "LABEL = 'Python action'\n",
    );
    // Not a hook: no `register` (said in `plugins`, as ftrack's loader says it).
    s.hook("studio-actions", "helpers.py", "VALUE = 1\n");

    let selection = json!({"selection": [{"entityId": "t1", "entityType": "Task"}]});
    let (results, stderr) = publish(&s, "ftrack.action.discover", selection.clone());
    assert_eq!(
        labels(&results),
        ["Python action", "Summarise selection", "Rhai action"],
        "{stderr}"
    );
    assert_eq!(results[0]["items"][0]["variant"], "alice");
    assert!(
        stderr.contains("[studio-actions] discover seen by Python for alice"),
        "{stderr}"
    );
    assert!(
        stderr.contains("[studio-actions] logged from the Python hook"),
        "{stderr}"
    );

    let run = capture(
        &s,
        &[
            "actions",
            "--json",
            "--standalone",
            "--selection",
            "Task:t1",
        ],
        &[],
    )
    .success();
    let items: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    let labels: Vec<_> = items.iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert_eq!(
        labels,
        ["Python action", "Summarise selection", "Rhai action"],
        "{}",
        run.stderr
    );

    let run = capture(&s, &["plugins", "--json", "--standalone"], &[]).success();
    let plugins: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    let plugin = plugins
        .iter()
        .find(|p| p["name"] == "studio-actions")
        .unwrap();
    assert_eq!(plugin["kind"], "mixed", "{plugin}");
    assert_eq!(plugin["status"], "loaded", "{plugin}");
    assert_eq!(plugin["subscriptions"], 4, "{plugin}");
    assert!(
        plugin["warnings"].to_string().contains("helpers.py"),
        "{plugin}"
    );
    let debug = publish(&s, "ftrack.connect.plugin.debug-information", json!({})).0;
    let listed = debug[0]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "studio-actions")
        .cloned()
        .unwrap();
    assert_eq!(listed["kind"], "mixed", "{listed}");
}

#[test]
fn stop_data_results_and_publishes_cross_between_python_and_rhai() {
    let s = Sandbox::new();
    s.hook(
        "py",
        "hooks.py",
        r#"
import sys
import ftrack_api
from ftrack_api.event.base import Event

SESSION = []


def stopper(event):
    event.stop()
    return 'python stopped it'


def mark(event):
    event['data']['seen'].append('python')
    return 'python saw ' + ','.join(event['data']['seen'])


def ask_rhai(event):
    asked = Event('t.rhai.answer', data={'x': 41})
    results = SESSION[0].event_hub.publish(asked, synchronous=True)
    SESSION[0].event_hub.publish(Event('t.async', data={'file': event['data']['file']}))
    SESSION[0].event_hub.publish(Event('t.reply-me'), on_reply=got_reply)
    return {'said': results, 'data after': asked['data']}


def times_ten(event):
    return event['data']['x'] * 10


def write_file(event):
    with open(event['data']['file'], 'w') as handle:
        handle.write('async from Python reached Python through the host')
    REPLY_FILE.append(event['data']['file'] + '.reply')


REPLY_FILE = []


def got_reply(event):
    with open(REPLY_FILE[0], 'w') as handle:
        handle.write('reply: ' + event['data'])


def reads_stdin(event):
    return 'stdin gave ' + repr(sys.stdin.read())


def not_json(event):
    return float('nan')


def register(session, extra=None):
    SESSION.append(session)
    hub = session.event_hub
    hub.subscribe('topic=t.hostile', reads_stdin)
    hub.subscribe('topic=t.hostile', not_json)
    hub.subscribe('topic=t.python-stops', stopper, priority=10)
    hub.subscribe('topic=t.rhai-stops', mark, priority=20)
    hub.subscribe('topic=t.data', mark, priority=20)
    hub.subscribe('topic=t.ask', ask_rhai)
    hub.subscribe('topic=t.async', write_file)
    hub.subscribe('topic=t.rhai.answer', times_ten, priority=200)
"#,
    );
    s.hook(
        "rh",
        "hooks.rhai",
        r#"fn register(session) {
            let hub = session.event_hub;
            hub.subscribe("topic=t.python-stops", |e| "rhai ran", 20);
            hub.subscribe("topic=t.rhai-stops", |e| { e.stop(); "rhai stopped it" }, 10);
            hub.subscribe("topic=t.data", |e| { e.data.seen.push("rhai"); "rhai" }, 10);
            hub.subscribe("topic=t.data", |e| `rhai after saw ${e.data.seen}`, 30);
            hub.subscribe("topic=t.rhai.answer", |e| { e.data.x += 1; e.data.x });
            hub.subscribe("topic=t.reply-me", |e| "from Rhai");
        }"#,
    );
    assert_eq!(
        publish(&s, "t.python-stops", json!({})).0,
        ["python stopped it"]
    );
    assert_eq!(
        publish(&s, "t.rhai-stops", json!({})).0,
        ["rhai stopped it"]
    );
    assert_eq!(
        publish(&s, "t.data", json!({"seen": []})).0,
        [
            "rhai",
            "python saw rhai,python",
            "rhai after saw [\"rhai\", \"python\"]"
        ]
    );
    // Hooks cannot read the bridge's pipe; a result that is not JSON is that hook's error.
    let (results, stderr) = publish(&s, "t.hostile", json!({}));
    assert_eq!(results, ["stdin gave ''"], "{stderr}");
    assert!(stderr.contains("not JSON"), "{stderr}");

    let file = s.path().join("async.txt");
    let (results, stderr) = publish(&s, "t.ask", json!({"file": file}));
    assert_eq!(
        results,
        // Python to the host, to Rhai and (nested) to Python again: both answers, in order.
        [json!({"said": [42, 420], "data after": {"x": 42}})],
        "{stderr}"
    );
    assert_eq!(
        wait_for_file(&file),
        "async from Python reached Python through the host"
    );
    // `on_reply` hears the answers to an asynchronous publish.
    let reply = s.path().join("async.txt.reply");
    assert_eq!(wait_for_file(&reply), "reply: from Rhai");
}

#[test]
fn a_python_launch_hook_changes_the_programs_environment() {
    let s = Sandbox::new();
    let program = s.fake_program("apps/painter10/bin/painter");
    let config = json!({
        "identifier": "studio-launch-painter",
        "applicationIdentifier": "painter_{variant}",
        "label": "Painter",
        "variant": "{version}",
        "context": ["Task"],
        "search_path": {
            crate::kit::os_key(): {
                "prefix": [s.path().join("apps"), "painter\\d.*"],
                "expression": ["bin", "painter$"],
                "version_expression": "painter(?P<version>\\d+(\\.\\d+)*)",
            }
        }
    });
    s.write(
        "plugins/painter-apps/launch/painter.json",
        &config.to_string(),
    );
    s.hook(
        "studio-env",
        "launch_env.py",
        r#"
def adjust(event):
    env = event['data']['options']['env']
    env['FROM_PYTHON'] = 'set by a Python hook for ' + event['data']['application']['identifier']
    env.pop('REMOVE_ME', None)


def register(session):
    session.event_hub.subscribe(
        'topic=ftrack.connect.application.launch and data.application.identifier=painter_*',
        adjust)
"#,
    );
    capture(
        &s,
        &[
            "actions",
            "launch",
            "studio-launch-painter",
            "--standalone",
            "--selection",
            "Task:t1",
        ],
        &[("REMOVE_ME", "x")],
    )
    .success();
    let record = wait_for_record(&program);
    assert_eq!(
        record.env.get("FROM_PYTHON").map(String::as_str),
        Some("set by a Python hook for painter_10")
    );
    assert_eq!(record.env.get("REMOVE_ME"), None);
}

/// A plugin folder whose Python hook answers `t.all` at `priority` with `body`.
fn answering(s: &Sandbox, name: &str, priority: u32, body: &str) {
    s.hook(
        name,
        &format!("{}.py", name.replace('-', "_")),
        &format!(
            "import os, time\n\ndef handler(event):\n    {body}\n\n\
             def register(session):\n    \
             session.event_hub.subscribe('topic=t.all', handler, priority={priority})\n"
        ),
    );
}

#[test]
fn broken_python_hooks_leave_the_host_answering() {
    let s = Sandbox::new();
    answering(&s, "raises", 10, "raise ValueError('a studio bug')");
    answering(
        &s,
        "exits",
        20,
        "os._exit(1) if event['data'].get('exit') else None",
    );
    answering(
        &s,
        "sleeps",
        30,
        "time.sleep(3600) if event['data'].get('sleep') else None",
    );
    answering(&s, "good-python", 40, "return 'good python'");
    s.hook(
        "loops",
        "loops.py",
        "from ftrack_api.event.base import Event\n\n\
         def handler(event):\n    while True:\n        \
         SESSION[0].event_hub.publish(Event('t.nothing'), synchronous=True)\n\n\
         SESSION = []\n\n\
         def register(session):\n    SESSION.append(session)\n    \
         session.event_hub.subscribe('topic=t.loop', handler)\n",
    );
    s.hook(
        "good-rhai",
        "good.rhai",
        r#"fn register(session) { session.event_hub.subscribe("topic=t.all", |e| "good rhai", 50); }"#,
    );
    s.hook(
        "exits-later",
        "later.py",
        "import os, threading\n\n\
         def handler(event):\n    threading.Timer(0.2, os._exit, [3]).start()\n    \
         return 'exits in 0.2 s'\n\n\
         def register(session):\n    session.event_hub.subscribe('topic=t.later', handler)\n",
    );
    s.hook(
        "asks-server",
        "query.py",
        "def handler(event):\n    return [u['username'] for u in SESSION[0].query('select username from User').all()]\n\n\
         SESSION = []\n\n\
         def register(session):\n    SESSION.append(session)\n    \
         session.event_hub.subscribe('topic=t.query', handler)\n",
    );
    let mut host = Running::start_with(
        &s,
        &["run"],
        &[
            ("FTRACK_CONNECT_PYTHON", &python()),
            ("FTRACK_CONNECT_PYTHON_TIME_LIMIT", "2"),
        ],
    );
    host.wait_for("is running");
    let publish = |data: Value| -> Vec<Value> {
        let data = data.to_string();
        let run = s
            .capture(&["event", "publish", "t.all", "--data", &data])
            .success();
        serde_json::from_str(run.stdout.trim()).unwrap()
    };

    // Python's session is signed in to the server the host serves.
    let run = s.capture(&["event", "publish", "t.query"]).success();
    let users: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert!(users[0].to_string().contains("alice"), "{users}");

    // Handlers that return None answer null, as in ftrack's synchronous results.
    assert_eq!(
        publish(json!({})),
        [
            json!(null),
            json!(null),
            json!("good python"),
            json!("good rhai")
        ]
    );
    let line = host.wait_for("handler for \"t.all\" failed: ValueError: a studio bug");
    assert!(line.contains("plugin 'raises'"), "{line}");
    assert!(line.contains("raises.py, line 4, in handler"), "{line}");

    // os._exit ends the bridge: the Rhai hook answers that very event, the Python hooks
    // after the exit do not; the bridge restarts without the hook that ended it.
    assert_eq!(publish(json!({"exit": true})), ["good rhai"]);
    let line = host.wait_for("Python hook no longer run");
    assert!(line.contains("exits.py"), "{line}");
    assert!(line.contains("exited with status 1"), "{line}");
    host.wait_for("the Python bridge runs again");
    assert_eq!(
        publish(json!({"exit": true})),
        [json!(null), json!("good python"), json!("good rhai")]
    );

    // A handler that never answers is abandoned after the time limit, named once.
    assert_eq!(publish(json!({"sleep": true})), ["good rhai"]);
    let line = host.wait_for_any_order("sleeps.py: no answer within 2 s; the Python bridge");
    assert!(
        line.contains("plugin 'sleeps': handler for \"t.all\" failed"),
        "{line}"
    );
    host.wait_for("the Python bridge runs again");
    assert_eq!(
        publish(json!({"sleep": true})),
        ["good python", "good rhai"]
    );

    // A handler calling back into the host for ever is bounded by the same limit.
    let run = s.capture(&["event", "publish", "t.loop"]).success();
    assert_eq!(run.stdout.trim(), "[]");
    host.wait_for_any_order("loops.py: no answer within 2 s; the Python bridge");
    host.wait_for("the Python bridge runs again");
    assert_eq!(publish(json!({})), ["good python", "good rhai"]);

    // The bridge ending while no hook runs (a hook's own thread ended it): nobody to blame,
    // restarted after a pause with every hook.
    let run = s.capture(&["event", "publish", "t.later"]).success();
    assert_eq!(run.stdout.trim(), "[\"exits in 0.2 s\"]");
    let line = host.wait_for("the Python bridge ended (exited with status 3) while no hook ran");
    assert!(line.contains("WARN"), "{line}");
    host.wait_for("the Python bridge runs again with 4 hook(s)");
    assert_eq!(publish(json!({})), ["good python", "good rhai"]);

    let plugins: Vec<Value> =
        serde_json::from_str(&s.capture(&["plugins", "--json"]).success().stdout).unwrap();
    let status = |name: &str| {
        let plugin = plugins.iter().find(|p| p["name"] == name).unwrap();
        (plugin["status"].clone(), plugin["error"].to_string())
    };
    assert_eq!(status("exits").0, "failed");
    assert!(status("exits").1.contains("exited with status 1"));
    assert_eq!(status("sleeps").0, "failed");
    assert_eq!(status("good-python").0, "loaded");
    assert_eq!(status("raises").0, "loaded");
}

#[test]
fn without_python_the_host_starts_and_says_what_is_missing() {
    let s = Sandbox::new();
    s.hook("python-only", "hook.py", "def register(session): pass\n");
    s.hook(
        "rhai",
        "h.rhai",
        r#"fn register(session) { session.event_hub.subscribe("topic=t", |e| "rhai"); }"#,
    );
    let missing = s.path().join("no-python-here/python3");
    let missing = missing.display().to_string();
    let mut host = Running::start_with(&s, &["run"], &[("FTRACK_CONNECT_PYTHON", &missing)]);
    let line = host.wait_for("Python hooks cannot run");
    assert!(line.contains("was not found"), "{line}");
    assert!(line.contains("pip install ftrack-python-api"), "{line}");
    host.wait_for("is running");
    assert_eq!(s.publish("t", "{}"), ["rhai"]);
    let plugin = s.plugin("python-only");
    assert_eq!(plugin["status"], "skipped", "{plugin}");
    assert!(
        plugin["reason"].as_str().unwrap().contains("was not found"),
        "{plugin}"
    );
}

#[test]
fn watch_reloads_a_changed_python_hook_and_keeps_the_last_good_one() {
    let s = Sandbox::new();
    let hook = |answer: &str| {
        format!(
            "def register(session):\n    \
             session.event_hub.subscribe('topic=t.version', lambda event: '{answer}')\n"
        )
    };
    let path = s.hook("live", "live.py", &hook("first"));
    s.hook(
        "live",
        "uses_dependency.py",
        "import shared\n\ndef register(session):\n    \
         session.event_hub.subscribe('topic=t.shared', lambda event: shared.VALUE)\n",
    );
    let shared = s.write("plugins/live/dependencies/shared.py", "VALUE = 'old'\n");
    let mut host = Running::start_with(
        &s,
        &["run", "--watch"],
        &[("FTRACK_CONNECT_PYTHON", &python())],
    );
    host.wait_for("is running");
    assert_eq!(s.publish("t.version", "{}"), ["first"]);
    assert_eq!(s.publish("t.shared", "{}"), ["old"]);
    // A changed module in dependencies/ is a changed plugin, imported anew.
    std::fs::write(&shared, "VALUE = 'new'\n").unwrap();
    eventually("the changed dependency answers", || {
        (s.publish("t.shared", "{}") == ["new"]).then_some(())
    });
    write_replacing(&path, &hook("second"));
    eventually("the new version answers", || {
        (s.publish("t.version", "{}") == ["second"]).then_some(())
    });
    write_replacing(
        &path,
        "def register(session):\n    raise RuntimeError('half-saved')\n",
    );
    host.wait_for("half-saved");
    assert_eq!(s.publish("t.version", "{}"), ["second"]);
    let plugin = s.plugin("live");
    assert!(
        plugin["error"].as_str().unwrap().contains("live.py"),
        "{plugin}"
    );
}

/// Saves `text` at `path` as editors do: a new file renamed over the old one.
fn write_replacing(path: &Path, text: &str) {
    let temporary = path.with_extension("py.swp");
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}
