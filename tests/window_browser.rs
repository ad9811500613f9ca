//! The Connect window in a real browser (the shared headless Chromium of [`crate::browser`])
//! against a real `run` host and its embedded server: what an artist does, clicked through,
//! each tab's screenshot saved under `target/window-screenshots/` for people to look at.

use crate::browser::{element, save_screenshot, shared, text_containing};
use crate::kit::{wait_for_record, Sandbox};
use crate::window::{host_with_window, host_with_window_env};
use crate::window_api::{
    add_chatty_plugin, install_painter, launched_for, make_show, read_version, studio_status_zip,
    PNG,
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
    let (recent, opened, reloaded) = browser.run(|b| async move {
        b.goto(&again).await?;
        element(&b, "body[data-actions-ready='true']").await?;
        let recent = b
            .find(fantoccini::Locator::Css("#current-context"))
            .await?
            .text()
            .await?;
        let opened = b
            .execute("return window.connectActionsPaint", vec![])
            .await?;
        // Reloaded, as an artist coming back to the window does: a warm host and page.
        b.refresh().await?;
        element(&b, "body[data-actions-ready='true']").await?;
        let reloaded = b
            .execute("return window.connectActionsPaint", vec![])
            .await?;
        Ok((recent, opened, reloaded))
    });
    drop(browser);
    assert!(recent.ends_with("comp"), "{recent}");
    report(
        "Actions painted with the recent task, opened by a sign-in link (ms)",
        opened.as_f64().expect("a paint time"),
    );
    report(
        "Actions painted with the recent task, page reloaded (ms)",
        reloaded.as_f64().expect("a paint time"),
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
    add_chatty_plugin(&s);
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

/// A pipeline engineer's plugin: its `.zip` chosen in the Plugins tab is installed (and, a
/// second time, replaced only when asked), loads at once, and its tab, sandboxed, asks the
/// plugin's Rhai hook through the hub and hears the news the hub delivers; removed, its tab
/// goes.
#[cfg(unix)]
#[test]
fn a_plugin_zip_installs_and_its_tab_asks_a_rhai_hook() {
    let s = Sandbox::new();
    let (host, _address) = host_with_window(&s);
    let archive = studio_status_zip(&s).display().to_string();
    let first = link(&s);
    let browser = shared();
    let again = archive.clone();
    let (row, plugins_png) = browser.run(|b| async move {
        b.goto(&format!("{first}#plugins")).await?;
        element(&b, "input#plugin-archive")
            .await?
            .send_keys(&archive)
            .await?;
        element(&b, "#install-message[data-outcome='installed']").await?;
        let row = element(
            &b,
            "tr[data-plugin='studio-status'] td[data-status='loaded']",
        )
        .await?
        .text()
        .await?;
        // The same archive again: nothing changes until the user chooses to replace it.
        element(&b, "input#plugin-archive")
            .await?
            .send_keys(&again)
            .await?;
        element(&b, "#install-message[data-outcome='exists']").await?;
        element(&b, "#replace-plugin").await?.click().await?;
        element(&b, "#install-message[data-outcome='installed']").await?;
        // Replaced: a reload, and when it was.
        element(
            &b,
            "tr[data-plugin='studio-status'] td[data-last-reload] time",
        )
        .await?;
        Ok((row, b.screenshot().await?))
    });
    save_screenshot("plugins-installed", &plugins_png);
    assert!(row.contains("loaded"), "{row}");

    let (answer, cookie) = browser.run(|b| async move {
        element(&b, "#tab-widget-studio-status-status")
            .await?
            .click()
            .await?;
        let frame = element(&b, "iframe.plugin-tab[data-plugin='studio-status']").await?;
        frame.enter_frame().await?;
        element(&b, "body[data-listening='true']").await?;
        element(&b, "#ask-button").await?.click().await?;
        let answer = element(&b, "#answer[data-answered='true']")
            .await?
            .text()
            .await?;
        // Sandboxed: its own opaque origin, no access to the window's cookie.
        let cookie = b
            .execute(
                "try { return 'read: ' + document.cookie } catch (e) { return e.name }",
                vec![],
            )
            .await?;
        // A call without the secret the window gave this page (as from a page a link led
        // to) is not answered.
        let unanswered = b
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                   window.addEventListener('message', (m) => {
                     if (m.data && m.data.id === 999) done('answered');
                   });
                   parent.postMessage({connect: 1, type: 'call', id: 999, op: 'publish',
                     event: {topic: 'studio.status.ask', data: {who: 'mallory'}}}, '*');
                   setTimeout(() => done('unanswered'), 1500);"#,
                vec![],
            )
            .await?;
        Ok((answer, (cookie, unanswered)))
    });
    let (cookie, unanswered) = cookie;
    assert_eq!(unanswered, "unanswered", "a call without the page's secret");
    assert_eq!(answer, "Hello artist: the farm has 3 renders queued.");
    assert_eq!(
        cookie, "SecurityError",
        "a plugin tab cannot read the cookie"
    );

    s.publish("studio.status.news", r#"{"text": "Renders are back"}"#);
    let (news, tab_png) = browser.run(|b| async move {
        let news = text_containing(&b, "#news", "Renders are back").await?;
        b.enter_parent_frame().await?;
        Ok((news, b.screenshot().await?))
    });
    save_screenshot("plugin-tab", &tab_png);
    assert!(news.contains("Renders are back"), "{news}");

    browser.run(|b| async move {
        element(&b, "#tab-plugins").await?.click().await?;
        element(&b, "button.remove-plugin[data-plugin='studio-status']")
            .await?
            .click()
            .await?;
        element(&b, "#confirm-remove").await?.click().await?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while b
            .find(fantoccini::Locator::Css("#tab-widget-studio-status-status"))
            .await
            .is_ok()
        {
            assert!(std::time::Instant::now() < deadline, "the tab went");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Ok(())
    });
    drop(browser);
    assert!(!s.plugins().join("studio-status-1.0.0").exists());
    host.signal(libc::SIGTERM);
    host.finish();
}

/// A publish from the window: a rendered sequence and a notes file dropped (chosen) on the
/// Publish tab, the task picked in its browser, a thumbnail; the version read back with the
/// real `ftrack_api`.
#[cfg(unix)]
#[test]
fn an_artist_publishes_a_sequence_with_a_thumbnail() {
    let s = Sandbox::new();
    let (host, _address) = host_with_window(&s);
    let ids = make_show(&s);
    let mut files = Vec::new();
    for name in [
        "render.1001.exr",
        "render.1002.exr",
        "render.1003.exr",
        "notes.txt",
    ] {
        files.push(s.write(&format!("renders/{name}"), &format!("{name}\n").repeat(500)));
    }
    let thumbnail = s.path().join("renders/thumb.png");
    std::fs::write(&thumbnail, PNG).unwrap();
    let chosen = files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let thumbnail = thumbnail.display().to_string();
    let first = link(&s);
    let browser = shared();
    let (result, href, png) = browser.run(|b| async move {
        b.goto(&format!("{first}#publish")).await?;
        for name in ["showa", "sq010", "sh0010", "comp"] {
            let id = ids[name].as_str().unwrap();
            element(
                &b,
                &format!("#publish-context-list button[data-context-id='{id}']"),
            )
            .await?
            .click()
            .await?;
        }
        text_containing(&b, "#publish-context", "comp").await?;
        element(&b, "input#publish-files")
            .await?
            .send_keys(&chosen)
            .await?;
        element(
            &b,
            "li.component[data-identifier='render.%04d.exr [1001-1003]']",
        )
        .await?;
        element(&b, "li.component[data-identifier='notes.txt']").await?;
        element(&b, "input#publish-thumbnail")
            .await?
            .send_keys(&thumbnail)
            .await?;
        element(&b, "img#publish-thumbnail-preview").await?;
        let name = element(&b, "input#publish-asset-name").await?;
        name.clear().await?;
        name.send_keys("plate").await?;
        element(&b, "textarea#publish-description")
            .await?
            .send_keys("first pass")
            .await?;
        b.execute("window.scrollTo(0, 0)", vec![]).await?;
        let form = b.screenshot().await?;
        element(&b, "button#publish-start").await?.click().await?;
        let result = b
            .wait()
            .at_most(std::time::Duration::from_secs(60))
            .for_element(fantoccini::Locator::Css("#publish-result[data-outcome]"))
            .await?;
        let outcome = result.attr("data-outcome").await?.unwrap_or_default();
        let text = result.text().await?;
        let href = match b
            .find(fantoccini::Locator::Css("a#publish-version-link"))
            .await
        {
            Ok(link) => link.attr("href").await?.unwrap_or_default(),
            Err(_) => String::new(),
        };
        Ok(((outcome, text), href, (form, b.screenshot().await?)))
    });
    drop(browser);
    save_screenshot("publish", &png.0);
    save_screenshot("publish-done", &png.1);
    assert_eq!(result.0, "published", "{}", result.1);
    let version_id = href
        .split("entityId=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let version = read_version(&s, version_id);
    assert_eq!(
        version,
        serde_json::json!({"version": 1, "asset": "plate", "components": ["notes", "render"],
                           "thumbnail": true, "comment": "first pass"})
    );
    host.signal(libc::SIGTERM);
    host.finish();
}

/// What the browser itself refuses and the window refuses: without the session the page
/// and its API say "not signed in"; a page of another origin, in the same browser that holds
/// a session, can neither read the window's API nor change anything through it.
#[cfg(unix)]
#[test]
fn no_session_no_window_and_other_pages_are_refused() {
    use std::io::{Read, Write};
    let s = Sandbox::new();
    let (mut host, address) = host_with_window(&s);
    // Another site's page, served from another port of this machine.
    let evil = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let evil_address = evil.local_addr().unwrap();
    let page = format!(
        r#"<!doctype html><title>evil</title><script>
        const window_api = "http://{address}";
        Promise.allSettled([
          fetch(window_api + "/api/plugins/reload", {{method: "POST", credentials: "include"}}),
          fetch(window_api + "/api/status", {{credentials: "include"}}).then(r => r.text()),
        ]).then(results => {{
          document.title = results.map(r => r.status).join(",");
        }});
        </script>"#
    );
    std::thread::spawn(move || {
        for stream in evil.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    let signed = link(&s);
    let browser = shared();
    let (unsigned, outcome) = browser.run(|b| async move {
        b.delete_all_cookies().await?;
        b.goto(&format!("http://{address}/")).await?;
        let unsigned = element(&b, "main.message").await?.text().await?;
        // Signed in, then visiting the other site.
        b.goto(&signed).await?;
        element(&b, "body[data-ready='true']").await?;
        b.goto(&format!("http://{evil_address}/")).await?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let outcome = loop {
            let title = b.title().await?;
            if title != "evil" || std::time::Instant::now() > deadline {
                break title;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        Ok((unsigned, outcome))
    });
    drop(browser);
    assert!(unsigned.contains("not signed in"), "{unsigned}");
    assert_eq!(outcome, "rejected,rejected", "the other page reads nothing");
    let refused = host.wait_for("window: refused POST /api/plugins/reload from origin");
    assert!(refused.contains(&evil_address.to_string()), "{refused}");
    let reloads: Vec<_> = s
        .plugins_json()
        .0
        .iter()
        .map(|p| p["reloads"].clone())
        .collect();
    assert!(
        reloads.iter().all(|r| r == 0),
        "nothing was reloaded: {reloads:?}"
    );
    host.signal(libc::SIGTERM);
    host.finish();
}

/// Signing in from the window: the header's panel signs the host in to the studio's server
/// (another `ftrack-connect server`), the host restarts and the page comes back by itself,
/// linked to it; signed out, back on the local server.
#[cfg(unix)]
#[test]
fn an_artist_signs_the_host_in_to_the_studio_server_and_out() {
    use crate::server_api::RunningServer;
    let s = Sandbox::new();
    let studio = RunningServer::start(&s, &s.path().join("studio-server"), None);
    let (host, _address) = host_with_window(&s);
    let first = link(&s);
    let (url, key) = (studio.url.clone(), studio.key.clone());
    let browser = shared();
    let (signed_in, png) = browser.run(|b| async move {
        b.goto(&first).await?;
        element(&b, "body[data-ready='true']").await?;
        text_containing(&b, "#server-account", "local server").await?;
        element(&b, "#server-account").await?.click().await?;
        element(&b, "input#server-url")
            .await?
            .send_keys(&url)
            .await?;
        element(&b, "input#server-user")
            .await?
            .send_keys("alice")
            .await?;
        element(&b, "input#server-key")
            .await?
            .send_keys("not the key")
            .await?;
        element(&b, "#server-signin").await?.click().await?;
        element(&b, "#server-message[data-state='error']").await?;
        let panel = b.screenshot().await?;
        element(&b, "input#server-key")
            .await?
            .send_keys(&key)
            .await?;
        element(&b, "#server-signin").await?.click().await?;
        // The host restarts; the page reopens itself, signed in again.
        let signed_in = header_once(&b, |text| {
            text.contains(&url) && !text.contains("local server")
        })
        .await?;
        Ok((signed_in, panel))
    });
    save_screenshot("sign-in", &png);
    assert!(signed_in.contains("alice"), "{signed_in}");
    let status: serde_json::Value =
        serde_json::from_str(&s.capture(&["status", "--json"]).success().stdout).unwrap();
    assert_eq!(status["server"]["url"], serde_json::json!(studio.url));
    assert_eq!(status["server"]["sign_in"], "credentials.json");

    let back_home = browser.run(|b| async move {
        element(&b, "body[data-ready='true']").await?;
        element(&b, "#server-account").await?.click().await?;
        element(&b, "#server-signout").await?.click().await?;
        header_once(&b, |text| text.contains("local server")).await
    });
    drop(browser);
    assert!(back_home.contains("local server"), "{back_home}");
    host.signal(libc::SIGTERM);
    host.finish();
}

/// Signing in through the server's own page: the window opens it in a new tab, the user
/// confirms there, the server sends the browser back to the window with a new key, and that
/// tab carries on in the restarted window, linked to the server.
#[cfg(unix)]
#[test]
fn an_artist_signs_in_through_the_servers_page() {
    use crate::server_api::RunningServer;
    let s = Sandbox::new();
    let studio = RunningServer::start(&s, &s.path().join("studio-server"), None);
    let (host, _address) = host_with_window(&s);
    let first = link(&s);
    let url = studio.url.clone();
    let browser = shared();
    let signed_in = browser.run(|b| async move {
        b.goto(&first).await?;
        element(&b, "body[data-ready='true']").await?;
        let window = b.window().await?;
        element(&b, "#server-account").await?.click().await?;
        element(&b, "input#server-url")
            .await?
            .send_keys(&url)
            .await?;
        element(&b, "#server-browser-signin").await?.click().await?;
        element(&b, "#server-message[data-state='waiting']").await?;
        // The server's page, in the tab the window opened.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let page = loop {
            let others: Vec<_> = b
                .windows()
                .await?
                .into_iter()
                .filter(|w| *w != window)
                .collect();
            if let Some(page) = others.into_iter().next() {
                break page;
            }
            assert!(std::time::Instant::now() < deadline, "no tab opened");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        b.switch_to_window(page).await?;
        element(&b, "input[name='username']")
            .await?
            .send_keys("alice")
            .await?;
        element(&b, "button[type='submit']").await?.click().await?;
        // Back to the window (after the host's restart), signed in to the studio's server.
        let signed_in = header_once(&b, |text| {
            text.contains(&url) && !text.contains("local server")
        })
        .await?;
        // The key came in an address the browser was sent on from at once.
        let history = b
            .execute(
                "return [location.href, document.referrer, history.length]",
                vec![],
            )
            .await?;
        assert!(!history.to_string().contains("api_key"), "{history}");
        b.close_window().await?;
        b.switch_to_window(window).await?;
        Ok(signed_in)
    });
    drop(browser);
    assert!(signed_in.contains("alice"), "{signed_in}");
    let status: serde_json::Value =
        serde_json::from_str(&s.capture(&["status", "--json"]).success().stdout).unwrap();
    assert_eq!(status["server"]["sign_in"], "credentials.json");
    let stored = std::fs::read_to_string(s.user_data_dir().join("credentials.json")).unwrap();
    assert!(
        !stored.contains(&studio.key),
        "a key of its own, made by the server's page"
    );
    host.signal(libc::SIGTERM);
    host.finish();
}

/// Waits (up to a minute: the host may be restarting) until the header's account button
/// reads as `wanted` says; its text.
async fn header_once(
    b: &fantoccini::Client,
    wanted: impl Fn(&str) -> bool,
) -> Result<String, fantoccini::error::CmdError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let text = match b.find(fantoccini::Locator::Css("#server-account")).await {
            Ok(found) => found.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if wanted(&text) {
            return Ok(text);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the header says: {text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
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
