//! The Connect window in a real browser (the shared headless Chromium of [`crate::browser`])
//! against a real `run` host and its embedded server: what an artist does, clicked through,
//! each tab's screenshot saved under `target/window-screenshots/` for people to look at.

use crate::browser::{element, save_screenshot, shared, text_containing};
use crate::kit::{wait_for_record, Sandbox};
use crate::window::{
    host_with_window, host_with_window_env, install_painter, launched_for, make_show,
};

/// A fresh sign-in link of the running host.
fn link(s: &Sandbox) -> String {
    s.capture(&["open", "--print"])
        .success()
        .stdout
        .trim()
        .to_string()
}

/// Signed in by the link, the Plugins tab shows the broken plugin with its error.
#[cfg(unix)]
#[test]
fn the_plugins_tab_in_a_real_browser() {
    let s = Sandbox::new();
    let (host, _address) = host_with_window(&s);
    let link = link(&s);
    let browser = shared();
    let (status, row, first_paint, png) = browser.run(|b| async move {
        b.goto(&format!("{link}#plugins")).await?;
        element(&b, "body[data-ready='true']").await?;
        let cell = element(&b, "tr[data-plugin='broken'] td[data-status='failed']").await?;
        let row = element(&b, "tr[data-plugin='broken']")
            .await?
            .text()
            .await?;
        let first_paint = b.execute("return window.connectFirstPaint", vec![]).await?;
        Ok((cell.text().await?, row, first_paint, b.screenshot().await?))
    });
    drop(browser);
    save_screenshot("plugins", &png);
    assert!(status.contains("failed"), "{status}");
    assert!(
        row.contains("broken.rhai:1:"),
        "the error with file and line: {row}"
    );
    assert!(first_paint.as_f64().is_some(), "{first_paint}");
    host.signal(libc::SIGTERM);
    host.finish();
}

/// An artist's morning: the Actions tab, a task picked in the browser (project, sequence,
/// shot, task), Painter 10 launched for it, the result shown; opened again, the window comes
/// back on that task, and the time to its first paint with the task's actions is reported.
#[cfg(unix)]
#[test]
fn an_artist_picks_a_task_and_launches_an_application() {
    let s = Sandbox::new();
    let painters = install_painter(&s);
    let (host, _address) = host_with_window(&s);
    let ids = make_show(&s);
    let comp = ids["comp"].as_str().unwrap().to_string();
    let first = link(&s);
    let browser = shared();
    let clicked = ids.clone();
    let (path, result, png) = browser.run(|b| async move {
        let ids = clicked;
        b.goto(&format!("{first}#actions")).await?;
        for name in ["showa", "sq010", "sh0010"] {
            let id = ids[name].as_str().unwrap();
            element(&b, &format!("#context-list button[data-context-id='{id}']"))
                .await?
                .click()
                .await?;
        }
        element(&b, &format!("#context-list button[data-context-id='{comp}']"))
            .await?
            .click()
            .await?;
        let path = text_containing(&b, "#current-context", "comp").await?;
        element(
            &b,
            "#action-groups button.action[data-action-identifier='studio-launch-painter'][data-variant='10']",
        )
        .await?
        .click()
        .await?;
        element(&b, "#action-result[data-success='true']").await?;
        let result = b.find(fantoccini::Locator::Css("#action-result")).await?.text().await?;
        Ok((path, result, b.screenshot().await?))
    });
    save_screenshot("actions", &png);
    assert_eq!(
        path.split('/').map(str::trim).collect::<Vec<_>>(),
        ["showa", "sq010", "sh0010", "comp"]
    );
    assert!(!result.trim().is_empty(), "the launch's message is shown");
    let record = wait_for_record(&painters[1]);
    assert_eq!(launched_for(&record), ids["comp"].as_str().unwrap());

    // Opened again: the recent task is picked and its actions shown.
    let again = link(&s);
    let (recent, first_paint) = browser.run(|b| async move {
        b.goto(&again).await?;
        element(&b, "body[data-actions-ready='true']").await?;
        let recent = b
            .find(fantoccini::Locator::Css("#current-context"))
            .await?
            .text()
            .await?;
        let paint = b
            .execute("return window.connectActionsPaint", vec![])
            .await?;
        Ok((recent, paint))
    });
    drop(browser);
    assert!(recent.ends_with("comp"), "{recent}");
    let first_paint = first_paint.as_f64().expect("a paint time");
    report(
        "actions first paint, recent task (ms, debug build)",
        first_paint,
    );
    host.signal(libc::SIGTERM);
    host.finish();
}

/// About shows every plugin and the environment with secrets redacted; Logs shows a
/// plugin's lines as they are written, found by its name.
#[cfg(unix)]
#[test]
fn about_redacts_secrets_and_logs_follow_a_plugin() {
    let s = Sandbox::new();
    s.hook(
        "chatty",
        "chatty.rhai",
        r#"fn register(session) {
            session.event_hub.subscribe("topic=window.chat", |event| { print("chatty says hello"); true });
        }"#,
    );
    let (host, _address) = host_with_window_env(&s, &[("STUDIO_RENDER_TOKEN", "hunter2")]);
    let about_link = link(&s);
    let browser = shared();
    let (environment, plugins, about_png) = browser.run(|b| async move {
        b.goto(&format!("{about_link}#about")).await?;
        let environment = text_containing(&b, "#about-environment", "STUDIO_RENDER_TOKEN").await?;
        let plugins = text_containing(&b, "#about-plugins", "chatty").await?;
        Ok((environment, plugins, b.screenshot().await?))
    });
    save_screenshot("about", &about_png);
    assert!(environment.contains("(redacted)"), "{environment}");
    assert!(!environment.contains("hunter2"), "{environment}");
    assert!(plugins.contains("broken"), "{plugins}");

    let logs_link = link(&s);
    browser.run(|b| async move {
        b.goto(&format!("{logs_link}#logs")).await?;
        element(&b, "#log-lines li").await?;
        Ok(())
    });
    s.capture(&["event", "publish", "window.chat"]).success();
    let (found, logs_png) = browser.run(|b| async move {
        element(&b, "#log-search")
            .await?
            .send_keys("chatty")
            .await?;
        let found = text_containing(&b, "#log-lines", "chatty says hello").await?;
        Ok((found, b.screenshot().await?))
    });
    drop(browser);
    save_screenshot("logs", &logs_png);
    assert!(found.contains("chatty says hello"), "{found}");
    assert!(
        !found.contains("window on http"),
        "the search filters: {found}"
    );
    host.signal(libc::SIGTERM);
    host.finish();
}

/// Writes a measured figure to `target/window-screenshots/timings.txt` (and the test's
/// output), for the closing note and `docs/benchmarks.md`: measured, never asserted.
fn report(what: &str, milliseconds: f64) {
    use std::io::Write;
    let line = format!("{what}: {milliseconds:.1}\n");
    eprint!("{line}");
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/window-screenshots/timings.txt");
    if let Ok(mut out) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
    {
        let _ = out.write_all(line.as_bytes());
    }
}
