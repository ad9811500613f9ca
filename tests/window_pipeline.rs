//! The window's Pipeline tab over plain HTTP against the real host: the resident host's
//! pipeline host found through the server, its definitions cut to the context, a
//! definition run with live progress (the File Publisher, read back by the real
//! `ftrack_api`), a validator's refusal, and the notification log.

use serde_json::{json, Value};

use crate::kit::Sandbox;
use crate::window::{host_with_window_env, request, request_with, signed_in};
use crate::window_api::{follow_events, make_show, read_version};

/// The host's File Publisher with its collectors' paths and its context's asset name set, as
/// the page sends it.
fn edited(definition: &Value, render: &str, thumbnail: &str) -> Value {
    let mut definition = definition.clone();
    definition["components"][0]["stages"][0]["plugins"][0]["options"]["path"] = json!(render);
    definition["components"][1]["stages"][0]["plugins"][0]["options"]["path"] = json!(thumbnail);
    let context = &mut definition["contexts"][0]["stages"][0]["plugins"][0]["options"];
    context["asset_name"] = json!("plate");
    context["comment"] = json!("from the window");
    context["status_id"] = json!("");
    definition
}

#[cfg(unix)]
#[test]
fn the_pipeline_tab_runs_a_definition_on_a_host_with_live_progress_and_its_log() {
    let s = Sandbox::new();
    let folder = s.path().join("definitions");
    crate::pipeline::python_folder(&folder);
    let folder = folder.display().to_string();
    let (mut host, address) = host_with_window_env(&s, &[("FTRACK_DEFINITION_PATH", &folder)]);
    host.wait_for_any_order(": connected");
    let ids = make_show(&s);
    let cookie = signed_in(&s, &address);
    let origin = format!("http://{address}");
    let session = [("Cookie", cookie.as_str()), ("Origin", origin.as_str())];
    let get = |path: &str| -> Value {
        let answer = request(&address, "GET", path, &[("Cookie", cookie.as_str())]);
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        serde_json::from_str(&answer.body).unwrap()
    };
    let run = |body: Value| -> (String, Value, Vec<Value>) {
        let answer = request_with(
            &address,
            "POST",
            "/api/pipeline/runs",
            &session,
            body.to_string().as_bytes(),
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
        let job: Value = serde_json::from_str(&answer.body).unwrap();
        let job = job["job"].as_str().unwrap();
        follow_events(&address, &cookie, &format!("/api/pipeline/runs/{job}"))
    };

    // The resident host's python host, with the publisher (the loader and opener need
    // plugins nobody serves here); its definitions as offered in a task and in a shot.
    let hosts = get("/api/pipeline/hosts");
    let hosts = hosts["hosts"].as_array().unwrap().clone();
    assert_eq!(hosts.len(), 1, "{hosts:?}");
    let host_id = hosts[0]["host_id"].as_str().unwrap().to_string();
    assert!(host_id.starts_with("python-"), "{host_id}");
    let publisher = hosts[0]["definition"]["publisher"][0].clone();
    assert_eq!(publisher["name"], "File Publisher");
    let comp = ids["comp"].as_str().unwrap();
    let in_task = get(&format!("/api/pipeline/hosts?context={comp}"));
    assert_eq!(
        in_task["hosts"][0]["definition"]["publisher"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let in_shot = get(&format!(
        "/api/pipeline/hosts?context={}",
        ids["sh0010"].as_str().unwrap()
    ));
    assert_eq!(in_shot["hosts"][0]["definition"]["publisher"], json!([]));

    // Run against the task: each plugin's notification as it comes, then the results.
    let render = s.write("renders/plate_v001.exr", &"exr".repeat(100));
    let thumbnail = s.write("renders/thumb.png", "png");
    let definition = edited(
        &publisher,
        &render.display().to_string(),
        &thumbnail.display().to_string(),
    );
    let (event, done, progress) =
        run(json!({"host_id": host_id, "definition": definition, "context_id": comp}));
    assert_eq!(event, "done", "{done}");
    let last = progress.last().unwrap()["notifications"]
        .as_array()
        .unwrap()
        .clone();
    let ended: Vec<&str> = last
        .iter()
        .filter(|n| {
            n["topic"] == "ftrack.pipeline.client.notification" && n["status"] == "SUCCESS_STATUS"
        })
        .map(|n| n["plugin_name"].as_str().unwrap())
        .collect();
    assert_eq!(ended.len(), 10, "{ended:?}");
    assert_eq!(ended[8], "common_passthrough_publisher_finalizer");
    let finalizer = &done["results"][2]["result"][1]["result"][0]["result"];
    let version = read_version(&s, finalizer["asset_version_id"].as_str().unwrap());
    assert_eq!(
        version,
        json!({"version": 1, "asset": "plate", "components": ["main"], "thumbnail": true,
               "comment": "from the window"})
    );

    // A refusal comes back naming the plugin.
    let missing = s.path().join("renders/missing.exr").display().to_string();
    let definition = edited(&publisher, &missing, &thumbnail.display().to_string());
    let (event, failed, _) =
        run(json!({"host_id": host_id, "definition": definition, "context_id": comp}));
    assert_eq!(event, "failed");
    assert_eq!(
        failed["plugin_name"],
        "common_file_exists_publisher_validator"
    );
    assert!(
        failed["plugin_message"]
            .as_str()
            .unwrap()
            .contains("missing.exr does not exist"),
        "{failed}"
    );
    let (event, failed, _) =
        run(json!({"host_id": "python-nope", "definition": publisher, "context_id": comp}));
    assert_eq!(event, "failed");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("python-nope did not answer"),
        "{failed}"
    );

    // The notification log, with both runs.
    let logs = crate::kit::eventually("both runs in the log", || {
        let logs = get(&format!("/api/pipeline/logs?host={host_id}"));
        let entries = logs["entries"].as_array().unwrap().clone();
        entries
            .iter()
            .any(|e| e["status"] == "ERROR_STATUS")
            .then_some(entries)
    });
    assert!(logs
        .iter()
        .any(|e| e["plugin_name"] == "common_passthrough_publisher_finalizer"));

    // Not without the session, nor from another site.
    assert_eq!(
        request(&address, "GET", "/api/pipeline/hosts", &[]).status,
        401
    );
    let elsewhere = [
        ("Cookie", cookie.as_str()),
        ("Origin", "http://evil.example"),
    ];
    let body = json!({"host_id": host_id, "definition": publisher}).to_string();
    assert_eq!(
        request_with(
            &address,
            "POST",
            "/api/pipeline/runs",
            &elsewhere,
            body.as_bytes()
        )
        .status,
        403
    );
    host.signal(libc::SIGTERM);
    host.finish();
}

/// An artist publishes with the File Publisher from the Pipeline tab in a real browser: the
/// tab appears (a host answers), the task is picked in its browser, the definition's paths
/// are filled in, each plugin is listed as it ends, and the version is read back.
#[cfg(unix)]
#[test]
fn an_artist_runs_the_file_publisher_from_the_pipeline_tab() {
    use crate::browser::{element, save_screenshot, shared, text_containing};

    let s = Sandbox::new();
    let folder = s.path().join("definitions");
    crate::pipeline::python_folder(&folder);
    let folder = folder.display().to_string();
    let (mut host, _address) = host_with_window_env(&s, &[("FTRACK_DEFINITION_PATH", &folder)]);
    host.wait_for_any_order(": connected");
    let ids = make_show(&s);
    let comp = ids["comp"].as_str().unwrap().to_string();
    let render = s
        .write("renders/plate_v002.exr", "exr")
        .display()
        .to_string();
    let thumbnail = s.write("renders/thumb.png", "png").display().to_string();
    let first = s
        .capture(&["open", "--print"])
        .success()
        .stdout
        .trim()
        .to_string();
    let browser = shared();
    let (outcome, ended, png) = browser.run(|b| async move {
        b.goto(&format!("{first}#pipeline")).await?;
        element(&b, "button#tab-pipeline").await?.click().await?;
        for name in ["showa", "sq010", "sh0010", "comp"] {
            let id = ids[name].as_str().unwrap();
            element(
                &b,
                &format!("#pipeline-context-list button[data-context-id='{id}']"),
            )
            .await?
            .click()
            .await?;
        }
        text_containing(&b, "#pipeline-context", "comp").await?;
        element(
            &b,
            "#pipeline-definitions button[data-definition='File Publisher']",
        )
        .await?
        .click()
        .await?;
        for (option, value) in [
            ("components.main.collector.0.path", render.as_str()),
            ("components.thumbnail.collector.0.path", thumbnail.as_str()),
            ("contexts.main.context.0.asset_name", "plate"),
            ("contexts.main.context.0.status_id", ""),
        ] {
            let input = element(&b, &format!("input[data-option='{option}']")).await?;
            input.clear().await?;
            if !value.is_empty() {
                input.send_keys(value).await?;
            }
        }
        element(&b, "button#pipeline-run").await?.click().await?;
        let result = b
            .wait()
            .at_most(std::time::Duration::from_secs(60))
            .for_element(fantoccini::Locator::Css("#pipeline-result[data-outcome]"))
            .await?;
        let outcome = (
            result.attr("data-outcome").await?.unwrap_or_default(),
            result.text().await?,
        );
        let mut ended = Vec::new();
        for item in b
            .find_all(fantoccini::Locator::Css(
                "#pipeline-progress li[data-status='SUCCESS_STATUS']",
            ))
            .await?
        {
            ended.push(item.attr("data-plugin").await?.unwrap_or_default());
        }
        element(
            &b,
            "#pipeline-log tr[data-plugin='common_passthrough_publisher_finalizer']",
        )
        .await?;
        let context_id = element(
            &b,
            "input[data-option='contexts.main.context.0.context_id']",
        )
        .await?
        .prop("value")
        .await?
        .unwrap_or_default();
        b.execute(
            "document.querySelector('#pipeline-result').scrollIntoView({block: 'center'})",
            vec![],
        )
        .await?;
        Ok((outcome, (ended, context_id), b.screenshot().await?))
    });
    drop(browser);
    save_screenshot("pipeline", &png);
    assert_eq!(outcome.0, "done", "{}", outcome.1);
    assert!(
        outcome.1.contains("Published version 1 (main, thumbnail)"),
        "{}",
        outcome.1
    );
    let (ended, context_id) = ended;
    assert_eq!(ended.len(), 10, "{ended:?}");
    assert_eq!(ended[8], "common_passthrough_publisher_finalizer");
    assert_eq!(
        context_id, comp,
        "the context plugin's context_id shows the picked task"
    );
    host.signal(libc::SIGTERM);
    host.finish();
}
