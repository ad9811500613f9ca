//! The window's API for each tab, over plain HTTP against the real host and its embedded
//! server (data made with the real `ftrack_api`): the entity browser, actions, About, Logs,
//! plugin archives and plugin tabs, and publishing files uploaded from the page.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::kit::{os_key, wait_for_record, Sandbox};
use crate::server_api::python;
use crate::window::{host_with_window, host_with_window_env, request, request_with, signed_in};
use serde_json::{json, Value};

/// A show on the running host's embedded server, made with the real `ftrack_api` as a studio
/// would: `showa/sq010/sh0010/{comp, lighting}`, `comp` assigned to alice. The ids by name.
pub(crate) fn make_show(s: &Sandbox) -> Value {
    let status: Value = serde_json::from_str(&s.capture(&["status", "--json"]).success().stdout)
        .expect("status is JSON");
    let url = status["server"]["url"]
        .as_str()
        .expect("a server")
        .to_string();
    let key = std::fs::read_to_string(s.user_data_dir().join("server/host-key")).unwrap();
    let script = r#"
import json, sys, ftrack_api
s = ftrack_api.Session(server_url=sys.argv[1], api_user="alice", api_key=sys.argv[2],
                       auto_connect_event_hub=False, plugin_paths=[])
p = s.create("Project", {"name": "showa", "full_name": "Show A",
                         "project_schema": s.query("ProjectSchema").first()})
seq = s.create("Sequence", {"name": "sq010", "parent": p})
shot = s.create("Shot", {"name": "sh0010", "parent": seq})
comp = s.create("Task", {"name": "comp", "parent": shot})
lighting = s.create("Task", {"name": "lighting", "parent": shot})
alice = s.query('User where username is "alice"').one()
s.create("Appointment", {"context": comp, "resource": alice, "type": "assignment"})
s.commit()
print(json.dumps({e["name"]: e["id"] for e in (p, seq, shot, comp, lighting)}))
"#;
    let out = std::process::Command::new(python())
        .args(["-c", script, &url, key.trim()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A plugin that prints "chatty says hello" (to the log, with its name) on `window.chat`.
pub(crate) fn add_chatty_plugin(s: &Sandbox) {
    s.hook(
        "chatty",
        "chatty.rhai",
        r#"fn register(session) {
            session.event_hub.subscribe("topic=window.chat", |event| { print("chatty says hello"); true });
        }"#,
    );
}

/// A painter application (a fake program recording how it was started) offered for tasks by
/// a launcher config, in versions 9 and 10; the programs by version.
pub(crate) fn install_painter(s: &Sandbox) -> Vec<std::path::PathBuf> {
    let programs = ["9", "10"]
        .iter()
        .map(|v| s.fake_program(&format!("apps/painter{v}/bin/painter")))
        .collect();
    let config = json!({
        "identifier": "studio-launch-painter",
        "applicationIdentifier": "painter_{variant}",
        "label": "Painter",
        "icon": "default",
        "variant": "{version}",
        "context": ["Task"],
        "search_path": { os_key(): {
            "prefix": [s.path().join("apps"), "painter\\d.*"],
            "expression": ["bin", "painter$"],
            "version_expression": "painter(?P<version>\\d+(\\.\\d+)*)",
        }}
    });
    s.hook("studio-apps", "noop.rhai", "fn register(session) {}");
    s.write(
        "plugins/studio-apps/launch/painter.json",
        &config.to_string(),
    );
    programs
}

/// The entity a program was launched for (`FTRACK_CONNECT_EVENT`'s selection).
pub(crate) fn launched_for(record: &crate::kit::ProgramRecord) -> String {
    use base64::Engine;
    let event = base64::engine::general_purpose::STANDARD
        .decode(&record.env["FTRACK_CONNECT_EVENT"])
        .unwrap();
    let context: Value = serde_json::from_slice(&event).unwrap();
    context["selection"][0]["entityId"]
        .as_str()
        .unwrap()
        .to_string()
}

#[cfg(unix)]
#[test]
fn the_window_api_browses_contexts_launches_actions_and_tells_about_the_host() {
    let s = Sandbox::new();
    let painters = install_painter(&s);
    add_chatty_plugin(&s);
    let (host, address) = host_with_window_env(&s, &[("STUDIO_RENDER_TOKEN", "hunter2")]);
    let ids = make_show(&s);
    let cookie = signed_in(&s, &address);
    let origin = format!("http://{address}");
    let get = |path: &str| -> (u16, Value) {
        let answer = request(&address, "GET", path, &[("Cookie", cookie.as_str())]);
        (
            answer.status,
            serde_json::from_str(&answer.body).unwrap_or(Value::Null),
        )
    };
    let post = |path: &str, body: &Value| -> (u16, Value) {
        let headers = [("Cookie", cookie.as_str()), ("Origin", origin.as_str())];
        let answer = request_with(
            &address,
            "POST",
            path,
            &headers,
            body.to_string().as_bytes(),
        );
        (
            answer.status,
            serde_json::from_str(&answer.body).unwrap_or(Value::Null),
        )
    };
    let names = |listed: &Value| -> Vec<String> {
        listed["contexts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };

    // The browser, lazily: projects, then one level at a time; a search; my tasks.
    let (code, projects) = get("/api/contexts");
    assert_eq!(
        (code, names(&projects)),
        (200, vec!["showa".to_string()]),
        "{projects}"
    );
    assert_eq!(projects["contexts"][0]["type"], "Project");
    let (_, sequences) = get(&format!(
        "/api/contexts?parent={}",
        ids["showa"].as_str().unwrap()
    ));
    assert_eq!(names(&sequences), ["sq010"]);
    let (_, shots) = get(&format!(
        "/api/contexts?parent={}",
        ids["sq010"].as_str().unwrap()
    ));
    assert_eq!(names(&shots), ["sh0010"]);
    let (_, tasks) = get(&format!(
        "/api/contexts?parent={}",
        ids["sh0010"].as_str().unwrap()
    ));
    assert_eq!(names(&tasks), ["comp", "lighting"]);
    assert_eq!(
        names(&get("/api/contexts?search=LIGHT").1),
        ["lighting"],
        "any case"
    );
    assert_eq!(
        names(&get("/api/contexts?search=%22%20or%20name%20like%20%22").1),
        Vec::<String>::new()
    );
    assert_eq!(names(&get("/api/contexts?mine=1").1), ["comp"]);
    let comp_id = ids["comp"].as_str().unwrap();
    let (_, comp) = get(&format!("/api/contexts/{comp_id}"));
    let path: Vec<&str> = comp["contexts"][0]["link"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["name"].as_str().unwrap())
        .collect();
    assert_eq!(path, ["showa", "sq010", "sh0010", "comp"]);
    assert_eq!(get("/api/contexts/not%20an%20id").0, 400);
    assert_eq!(get("/api/contexts?parent=1%22").0, 400);

    // Recent contexts: what was picked, newest first; only what exists.
    assert_eq!(names(&get("/api/recent").1), Vec::<String>::new());
    let (_, recent) = post("/api/recent", &json!({"id": ids["lighting"]}));
    assert_eq!(names(&recent), ["lighting"]);
    let (_, recent) = post("/api/recent", &json!({"id": comp_id}));
    assert_eq!(names(&recent), ["comp", "lighting"]);
    assert_eq!(post("/api/recent", &json!({"id": "00000000-dead"})).0, 404);
    assert_eq!(names(&get("/api/recent").1), ["comp", "lighting"]);

    // Actions for the task, grouped as Connect shows them; launching one runs the program.
    let selection = json!([{"entityType": "task", "entityId": comp_id}]);
    let (code, discovered) = post("/api/actions/discover", &json!({"selection": selection}));
    assert_eq!(code, 200, "{discovered}");
    let groups = discovered["groups"].as_array().unwrap();
    let painter = groups
        .iter()
        .find(|g| g["label"] == "Painter")
        .expect("Painter offered");
    let variants: Vec<&str> = painter["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["variant"].as_str().unwrap())
        .collect();
    assert_eq!(variants, ["10", "9"]);
    let (code, launched) = post(
        "/api/actions/launch",
        &json!({"item": painter["items"][0], "selection": selection}),
    );
    assert_eq!(code, 200, "{launched}");
    assert_eq!(launched["replies"][0]["success"], true, "{launched}");
    let record = wait_for_record(&painters[1]);
    assert_eq!(
        launched_for(&record),
        comp_id,
        "launched in the task's context"
    );
    assert_eq!(
        post("/api/actions/launch", &json!({"item": {}, "selection": []})).0,
        400
    );
    assert_eq!(
        post(
            "/api/actions/discover",
            &json!({"selection": [{"entityId": "x"}]})
        )
        .0,
        400
    );

    // About: every plugin's debug information, and the environment without its secrets.
    let (_, about) = get("/api/about");
    let names_in = about["debug_information"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>();
    for name in ["ftrack-connect", "chatty", "studio-apps", "broken"] {
        assert!(names_in.iter().any(|n| n == name), "{name} in {names_in:?}");
    }
    assert_eq!(about["environment"]["STUDIO_RENDER_TOKEN"], "(redacted)");
    assert_eq!(about["environment"]["FTRACK_API_USER"], "alice");
    assert!(!about.to_string().contains("hunter2"), "no secret in About");
    assert!(about["paths"]["log file"]
        .as_str()
        .unwrap()
        .ends_with("ftrack_connect.log"));

    // Logs: the file's last lines, then new ones as they are written, a plugin's by its name.
    let mut tail = TcpStream::connect(&address).unwrap();
    tail.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        tail,
        "GET /api/logs HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\n\r\n"
    )
    .unwrap();
    let mut tail = BufReader::new(tail);
    let mut lines_until = |wanted: &str| -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let mut line = String::new();
            assert!(tail.read_line(&mut line).unwrap() > 0, "the stream ended");
            if let Some(data) = line.trim().strip_prefix("data:") {
                let lines: Vec<Value> = serde_json::from_str(data.trim()).unwrap();
                seen.extend(lines);
                if seen
                    .iter()
                    .any(|l| l["text"].as_str().unwrap().contains(wanted))
                {
                    return seen;
                }
            }
        }
    };
    let backlog = lines_until("launching");
    assert!(backlog.iter().any(|l| l["level"] == "INFO"), "{backlog:?}");
    s.capture(&["event", "publish", "window.chat"]).success();
    let new = lines_until("chatty says hello");
    let chat = new
        .iter()
        .find(|l| l["text"].as_str().unwrap().contains("chatty says hello"))
        .unwrap();
    assert!(chat["text"].as_str().unwrap().contains("chatty"), "{chat}");

    // None of it without the session, nor a change from another origin.
    for path in [
        "/api/contexts",
        "/api/recent",
        "/api/about",
        "/api/logs",
        &format!("/api/contexts/{comp_id}"),
    ] {
        assert_eq!(request(&address, "GET", path, &[]).status, 401, "{path}");
    }
    let body = json!({"selection": selection}).to_string();
    let body = body.as_bytes();
    let elsewhere = [
        ("Cookie", cookie.as_str()),
        ("Origin", "http://evil.example"),
    ];
    assert_eq!(
        request_with(&address, "POST", "/api/actions/discover", &elsewhere, body).status,
        403
    );
    assert_eq!(
        request_with(&address, "POST", "/api/actions/launch", &[], body).status,
        403
    );

    host.signal(libc::SIGTERM);
    host.finish();
}

/// The example plugin with a tab, `scripts/example-plugins/studio-status-1.0.0`, zipped as a
/// studio would hand it out; the archive's path.
pub(crate) fn studio_status_zip(s: &Sandbox) -> std::path::PathBuf {
    use std::io::Write;
    let examples =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/example-plugins");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    let mut folders = vec![examples.join("studio-status-1.0.0")];
    while let Some(folder) = folders.pop() {
        let name = |path: &std::path::Path| {
            path.strip_prefix(&examples)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        };
        out.add_directory(name(&folder), options).unwrap();
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                out.start_file(name(&path), options).unwrap();
                out.write_all(&std::fs::read(&path).unwrap()).unwrap();
            }
        }
    }
    let path = s.path().join("downloads/studio-status-1.0.0.zip");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, out.finish().unwrap().into_inner()).unwrap();
    path
}

#[cfg(unix)]
#[test]
fn a_plugin_zip_is_installed_safely_and_its_tab_talks_to_the_hub_as_the_plugin() {
    let s = Sandbox::new();
    // The desktop's opener, faked: it records what it was asked to open.
    let opener = s.fake_program("desktop/xdg-open");
    let path = format!(
        "{}:{}",
        opener.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (mut host, address) = host_with_window_env(&s, &[("PATH", path.as_str())]);
    let cookie = signed_in(&s, &address);
    let origin = format!("http://{address}");
    let session = [("Cookie", cookie.as_str()), ("Origin", origin.as_str())];
    let post = |path: &str, body: &[u8]| -> (u16, Value) {
        let answer = request_with(&address, "POST", path, &session, body);
        (
            answer.status,
            serde_json::from_str(&answer.body).unwrap_or(Value::Null),
        )
    };
    let archive = std::fs::read(studio_status_zip(&s)).unwrap();

    // Installed and loaded at once; a second time only when the user says to replace it.
    let install = "/api/plugins/install?archive=studio-status-1.0.0.zip";
    let (code, installed) = post(install, &archive);
    assert_eq!(code, 200, "{installed}");
    let status = installed["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "studio-status")
        .map(|p| p["status"].clone());
    assert_eq!(status, Some(json!("loaded")), "{installed}");
    assert!(s
        .plugins()
        .join("studio-status-1.0.0/hook/status.rhai")
        .is_file());
    let (code, again) = post(install, &archive);
    assert_eq!((code, &again["exists"]), (409, &json!(true)), "{again}");
    assert_eq!(post(&format!("{install}&replace=true"), &archive).0, 200);

    // An archive reaching out of its folder is refused whole.
    let mut evil = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for name in ["evil-1.0.0/hook/a.rhai", "evil-1.0.0/../../outside.rhai"] {
        evil.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut evil, b"fn register(session) {}").unwrap();
    }
    let evil = evil.finish().unwrap().into_inner();
    let (code, refused) = post("/api/plugins/install?archive=evil.zip", &evil);
    assert_eq!(code, 400, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("outside.rhai"),
        "{refused}"
    );
    assert!(!s.plugins().join("evil-1.0.0").exists() && !s.path().join("outside.rhai").exists());

    // Its tab: files from its folder only, sandboxed, with the session's widget token.
    let get = |path: &str| request(&address, "GET", path, &[("Cookie", cookie.as_str())]);
    let widgets: Value = serde_json::from_str(&get("/api/widgets").body).unwrap();
    let url = widgets["widgets"][0]["url"].as_str().unwrap().to_string();
    assert_eq!(widgets["widgets"][0]["plugin"], "studio-status");
    let page = request(&address, "GET", &url, &[]);
    assert_eq!(
        page.status, 200,
        "a sandboxed frame sends no cookie: the token is enough"
    );
    assert!(page.body.contains("Studio status"));
    let policy = page.header("content-security-policy").unwrap();
    assert!(policy.starts_with("sandbox allow-scripts"), "{policy}");
    assert!(!policy.contains("allow-same-origin"), "{policy}");
    let folder = url.trim_end_matches("index.html");
    assert_eq!(
        request(
            &address,
            "GET",
            &format!("{folder}../../../hook/status.rhai"),
            &[]
        )
        .status,
        404
    );
    let token = url.split('/').nth(2).unwrap();
    assert_eq!(
        request(&address, "GET", &url.replace(token, "0000"), &[]).status,
        401
    );

    // What the tab publishes goes through the hub as the plugin's; what it subscribes to
    // arrives while its stream is open.
    let ask = json!({"event": {"topic": "studio.status.ask", "data": {"who": "bob"}}}).to_string();
    let (code, asked) = post("/api/widgets/studio-status/publish", ask.as_bytes());
    assert_eq!(code, 200, "{asked}");
    assert_eq!(
        asked["replies"][0]["message"],
        "Hello bob: the farm has 3 renders queued."
    );
    host.wait_for("status asked by bob from studio-status");
    assert_eq!(post("/api/widgets/nobody/publish", ask.as_bytes()).0, 404);
    let mut events = TcpStream::connect(&address).unwrap();
    events
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        events,
        "GET /api/widgets/studio-status/events?expression=topic%3Dstudio.status.news HTTP/1.1\r\n\
         Host: {address}\r\nCookie: {cookie}\r\n\r\n"
    )
    .unwrap();
    let mut events = BufReader::new(events);
    let mut head = String::new();
    events.read_line(&mut head).unwrap();
    assert!(head.contains("200"), "{head}");
    s.publish("studio.status.news", r#"{"text": "Renders are back"}"#);
    let news = loop {
        let mut line = String::new();
        assert!(events.read_line(&mut line).unwrap() > 0, "the stream ended");
        if let Some(data) = line.trim().strip_prefix("data:") {
            break serde_json::from_str::<Value>(data.trim()).unwrap();
        }
    };
    assert_eq!(news["data"]["text"], "Renders are back");

    // Removed: its folder, its tab; a plugin installed elsewhere is not the window's to remove.
    let (code, left) = post("/api/plugins/remove", br#"{"name": "studio-status"}"#);
    assert_eq!(code, 200, "{left}");
    assert!(!s.plugins().join("studio-status-1.0.0").exists());
    let widgets: Value = serde_json::from_str(&get("/api/widgets").body).unwrap();
    assert_eq!(widgets["widgets"], json!([]));
    // "Open plugin folder": the plugin directory (here FTRACK_CONNECT_PLUGIN_PATH's folder,
    // which replaces the default one), handed to the desktop's opener.
    let (code, opened) = post("/api/plugins/open-folder", b"");
    assert_eq!((code, &opened["opened"]), (200, &json!(true)), "{opened}");
    assert_eq!(opened["path"], json!(s.plugins()));
    assert_eq!(
        wait_for_record(&opener).args,
        [s.plugins().display().to_string()]
    );
    let (code, refused) = post(
        "/api/plugins/remove",
        br#"{"name": "application-launcher"}"#,
    );
    assert_eq!(code, 400, "{refused}");
    host.signal(libc::SIGTERM);
    host.finish();
}

/// A tiny PNG (1x1), enough for a thumbnail.
pub(crate) const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// The version `id` as the real `ftrack_api` reads it back: its number, asset, component
/// names (sorted) and whether it has a thumbnail.
pub(crate) fn read_version(s: &Sandbox, id: &str) -> Value {
    let status: Value =
        serde_json::from_str(&s.capture(&["status", "--json"]).success().stdout).unwrap();
    let url = status["server"]["url"].as_str().unwrap().to_string();
    let key = std::fs::read_to_string(s.user_data_dir().join("server/host-key")).unwrap();
    let script = r#"
import json, sys, ftrack_api
s = ftrack_api.Session(server_url=sys.argv[1], api_user="alice", api_key=sys.argv[2],
                       auto_connect_event_hub=False, plugin_paths=[])
v = s.get("AssetVersion", sys.argv[3])
print(json.dumps({"version": v["version"], "asset": v["asset"]["name"],
                  "components": sorted(c["name"] for c in v["components"]),
                  "thumbnail": v["thumbnail_id"] is not None,
                  "comment": v["comment"]}))
"#;
    let out = std::process::Command::new(python())
        .args(["-c", script, &url, key.trim(), id])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[cfg(unix)]
#[test]
fn files_uploaded_from_the_page_are_published_and_leave_nothing_behind() {
    let s = Sandbox::new();
    let (host, address) = host_with_window(&s);
    let ids = make_show(&s);
    let cookie = signed_in(&s, &address);
    let origin = format!("http://{address}");
    let session = [("Cookie", cookie.as_str()), ("Origin", origin.as_str())];
    let post = |path: &str, body: &[u8]| -> (u16, Value) {
        let answer = request_with(&address, "POST", path, &session, body);
        (
            answer.status,
            serde_json::from_str(&answer.body).unwrap_or(Value::Null),
        )
    };
    let get = |path: &str| -> Value {
        serde_json::from_str(&request(&address, "GET", path, &[("Cookie", cookie.as_str())]).body)
            .unwrap()
    };
    let files = [
        "render.1001.exr",
        "render.1002.exr",
        "render.1003.exr",
        "notes.txt",
    ];

    // Grouped as the drop zone groups them, before anything is uploaded.
    let names = json!({"names": files}).to_string();
    let (code, grouped) = post("/api/publish/group", names.as_bytes());
    assert_eq!(code, 200, "{grouped}");
    let components = grouped["components"].as_array().unwrap();
    let shape: Vec<(String, String, u64)> = components
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().into(),
                c["identifier"].as_str().unwrap().into(),
                c["members"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("render".into(), "render.%04d.exr [1001-1003]".into(), 3),
            ("notes".into(), "notes.txt".into(), 1)
        ]
    );
    let bad = json!({"names": ["../escape"]}).to_string();
    assert_eq!(post("/api/publish/group", bad.as_bytes()).0, 400);
    let types = get("/api/publish/asset-types");
    assert!(
        types["types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["short"] == "upload"),
        "{types}"
    );

    // Uploaded into a batch, then published against the task.
    let (_, batch) = post("/api/publish/batches", b"");
    let batch = batch["batch"].as_str().unwrap().to_string();
    for (at, name) in files.iter().enumerate() {
        let path = format!("/api/publish/batches/{batch}/files?name={name}");
        let (code, stored) = post(&path, format!("frame {at}\n").repeat(1000).as_bytes());
        assert_eq!((code, stored["size"].as_u64()), (200, Some(8000)));
    }
    assert_eq!(
        post(
            &format!("/api/publish/batches/{batch}/files?name=thumb.png"),
            PNG
        )
        .0,
        200
    );
    assert_eq!(
        post(
            &format!("/api/publish/batches/{batch}/files?name=..%2Fx"),
            b"x"
        )
        .0,
        400
    );
    assert_eq!(post("/api/publish/batches/0000/files?name=x", b"x").0, 404);
    let asked = json!({
        "context": {"type": "Task", "id": ids["comp"]},
        "asset_name": "plate", "asset_type": "upload", "description": "from the window",
        "components": [
            {"name": "plate", "identifier": "render.%04d.exr [1001-1003]"},
            {"name": "notes", "identifier": "notes.txt"}
        ],
        "thumbnail": "thumb.png", "web_playable": null
    })
    .to_string();
    let (code, started) = post(
        &format!("/api/publish/batches/{batch}/publish"),
        asked.as_bytes(),
    );
    assert_eq!(code, 200, "{started}");
    let (kind, outcome, progressed) =
        follow_job(&address, &cookie, started["job"].as_str().unwrap());
    assert_eq!(kind, "done", "{outcome}");
    // Five files (the thumbnail too), every byte of them.
    let bytes = json!(32000 + PNG.len());
    let last = progressed.last().unwrap();
    assert_eq!(last["files"], 5, "{progressed:?}");
    assert_eq!(
        (&last["bytes"], &last["bytes_done"]),
        (&bytes, &bytes),
        "{progressed:?}"
    );
    let version_id = outcome["version_id"].as_str().unwrap();
    assert!(
        outcome["url"].as_str().unwrap().contains(version_id),
        "{outcome}"
    );
    let read = read_version(&s, version_id);
    assert_eq!(
        read,
        json!({"version": 1, "asset": "plate", "components": ["notes", "plate"],
               "thumbnail": true, "comment": "from the window"})
    );
    // The asset is offered for the next publish against the task.
    let comp = ids["comp"].as_str().unwrap();
    let assets = get(&format!("/api/publish/assets?context={comp}"));
    assert_eq!(assets["assets"][0]["name"], "plate", "{assets}");
    assert_eq!(assets["assets"][0]["type"], "upload", "{assets}");
    let uploads = s.user_data_dir().join("window/uploads");
    assert_eq!(
        std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0),
        0,
        "batch removed"
    );

    // A publish that cannot be made says why, and leaves nothing either.
    let (_, batch) = post("/api/publish/batches", b"");
    let batch = batch["batch"].as_str().unwrap().to_string();
    post(
        &format!("/api/publish/batches/{batch}/files?name=notes.txt"),
        b"notes",
    );
    let asked = json!({
        "context": {"type": "Task", "id": "00000000-0000-0000-0000-000000000000"},
        "components": [{"name": "notes", "identifier": "notes.txt"}]
    })
    .to_string();
    let (_, started) = post(
        &format!("/api/publish/batches/{batch}/publish"),
        asked.as_bytes(),
    );
    let (kind, outcome, _) = follow_job(&address, &cookie, started["job"].as_str().unwrap());
    assert_eq!(kind, "failed", "{outcome}");
    assert!(!outcome["error"].as_str().unwrap().is_empty(), "{outcome}");
    assert_eq!(
        std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0),
        0
    );

    // Batches a page left behind make room for new ones: nine in a row all start.
    let mut made = Vec::new();
    for _ in 0..9 {
        let (code, batch) = post("/api/publish/batches", b"");
        assert_eq!(code, 200, "{batch}");
        made.push(batch["batch"].as_str().unwrap().to_string());
    }
    let first = format!("/api/publish/batches/{}/files?name=a.txt", made[0]);
    assert_eq!(post(&first, b"a").0, 404, "the oldest was let go");
    assert_eq!(std::fs::read_dir(&uploads).unwrap().count(), 8);

    // Without the session, or from elsewhere: nothing.
    assert_eq!(
        request(&address, "GET", "/api/publish/asset-types", &[]).status,
        401
    );
    let elsewhere = [
        ("Cookie", cookie.as_str()),
        ("Origin", "http://evil.example"),
    ];
    assert_eq!(
        request_with(&address, "POST", "/api/publish/batches", &elsewhere, b"").status,
        403
    );
    host.signal(libc::SIGTERM);
    host.finish();
}

/// Reads a publish job's stream to its end: the last event's name and data, and every
/// `progress` seen.
fn follow_job(address: &str, cookie: &str, job: &str) -> (String, Value, Vec<Value>) {
    follow_events(address, cookie, &format!("/api/publish/jobs/{job}"))
}

/// Reads a job's event stream at `path` to its end: the last event's name and data, and
/// every `progress` seen.
pub(crate) fn follow_events(
    address: &str,
    cookie: &str,
    path: &str,
) -> (String, Value, Vec<Value>) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\n\r\n"
    )
    .unwrap();
    let mut stream = BufReader::new(stream);
    let mut progress = Vec::new();
    let mut event = String::new();
    loop {
        let mut line = String::new();
        assert!(
            stream.read_line(&mut line).unwrap() > 0,
            "the stream ended early"
        );
        if let Some(name) = line.trim().strip_prefix("event:") {
            event = name.trim().to_string();
        } else if let Some(data) = line.trim().strip_prefix("data:") {
            let data: Value = serde_json::from_str(data.trim()).unwrap();
            match event.as_str() {
                "progress" => progress.push(data),
                "done" | "failed" => return (event, data, progress),
                _ => {}
            }
        }
    }
}
