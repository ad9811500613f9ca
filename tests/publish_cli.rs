//! `ftrack-connect publish` through the real binary against the local server, read back by
//! the real `ftrack_api` (`tests/python/publish_readback.py`): what it published is what
//! Python finds, in every location, and a publish that fails, is interrupted or is killed
//! leaves nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::kit::{Captured, Sandbox};
use crate::server_api::{python, RunningServer};
use serde_json::Value;

/// A sandbox with a local server, a project `show/sq/sh010/comp`, and files to publish.
struct Studio {
    s: Sandbox,
    server: RunningServer,
    files: PathBuf,
}

impl Studio {
    fn new() -> Studio {
        let s = Sandbox::new();
        let server = RunningServer::start(&s, &s.path().join("server"), None);
        let studio = Studio {
            files: s.path().join("files"),
            s,
            server,
        };
        // Where ftrack_api caches the server's schemas (it complains when it is missing).
        std::fs::create_dir_all(studio.s.home().join(".cache")).unwrap();
        studio.python(&["setup", "show"]);
        std::fs::create_dir_all(&studio.files).unwrap();
        studio
    }

    /// Writes `size` bytes (a pattern, so files differ) at `files/name`.
    fn file(&self, name: &str, size: usize) -> String {
        let path = self.files.join(name);
        let bytes: Vec<u8> = (0..size).map(|i| (i * 7 + name.len()) as u8).collect();
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    }

    fn env(&self) -> [(&'static str, String); 3] {
        [
            ("FTRACK_SERVER", self.server.url.clone()),
            ("FTRACK_API_USER", "alice".to_string()),
            ("FTRACK_API_KEY", self.server.key.clone()),
        ]
    }

    fn publish_command(&self, args: &[&str]) -> Command {
        let mut command = self.s.command();
        command
            .arg("publish")
            .args(["--context-path", "show/sq/sh010/comp"])
            .args(args)
            .envs(self.env());
        command
    }

    fn publish(&self, args: &[&str]) -> Captured {
        self.publish_command(args)
            .output()
            .expect("binary runs")
            .into()
    }

    /// `publish --json ARGS`, which must succeed: what it printed.
    fn published(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let run = self.publish(&all).success();
        serde_json::from_str(run.stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr))
    }

    /// Runs the read-back script with `args`; its JSON.
    fn python(&self, args: &[&str]) -> String {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/publish_readback.py");
        let output = Command::new(python())
            .arg(script)
            .args(args)
            .envs(self.env())
            .env("HOME", self.s.home())
            .stderr(Stdio::inherit())
            .output()
            .expect("python runs");
        assert!(output.status.success(), "{args:?} failed");
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    fn read_back(&self, asset_id: &str, disk: Option<(&str, &Path)>) -> Value {
        let prefix = disk.map(|(_, p)| p.display().to_string());
        let mut args = vec![asset_id];
        if let (Some((name, _)), Some(prefix)) = (disk, prefix.as_deref()) {
            args.extend([name, prefix]);
        }
        serde_json::from_str(&self.python(&args)).unwrap()
    }

    /// Declares the disk location `studio.disk` (priority 10: picked before `ftrack.server`)
    /// with a Rhai location plugin; its prefix, the sandbox's `folder`.
    fn disk_location(&self, folder: &str) -> PathBuf {
        let prefix = self.s.path().join(folder);
        self.s.hook(
            "studio-location",
            "location.rhai",
            &format!(
                r#"fn register(session) {{
                    session.event_hub.subscribe("topic=ftrack.api.session.configure-location",
                        |event| #{{ location: #{{ name: "studio.disk", prefix: {:?},
                                               priority: 10 }} }});
                }}"#,
                prefix.display().to_string()
            ),
        );
        prefix
    }

    /// Starts publishing `files/big.mov` (1 GiB, sparse: the copy takes a while, the disk
    /// holds little) as asset `big`; returns once its copy to `partial` has started.
    fn publish_being_copied(&self, partial: &Path) -> std::process::Child {
        let big = self.files.join("big.mov");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(1 << 30)
            .unwrap();
        let child = self
            .publish_command(&["--asset", "big", &big.display().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        crate::kit::eventually("the copy started", || partial.exists().then_some(()));
        child
    }

    /// The shot's assets: [[name, id, [versions]]].
    fn assets(&self) -> Value {
        serde_json::from_str(&self.python(&["assets", "show"])).unwrap()
    }
}

/// A component of a read-back version, by name.
fn component<'a>(version: &'a Value, name: &str) -> &'a Value {
    version["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component {name} in {version}"))
}

fn have_ffmpeg() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_mixed_drop_publishes_twice_and_ftrack_api_reads_it_back() {
    let studio = Studio::new();
    let mut drop = Vec::new();
    for frame in [1, 2, 4] {
        drop.push(studio.file(&format!("beauty.{frame:04}.exr"), 1000 + frame));
    }
    for frame in [1001, 1002, 1004] {
        drop.push(studio.file(&format!("depth.{frame}.dpx"), 500));
    }
    drop.push(studio.file("notes.txt", 42));
    let movie = studio.files.join("review.mov");
    if have_ffmpeg() {
        let made = Command::new("ffmpeg")
            .args([
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc=duration=1:size=64x64:rate=5",
            ])
            .arg(&movie)
            .status()
            .unwrap();
        assert!(made.success());
    } else {
        studio.file("review.mov", 300);
    }
    drop.push(movie.display().to_string());
    let thumbnail = studio.file("thumb.png", 64);
    let args: Vec<&str> = drop.iter().map(String::as_str).collect();

    let mut first = vec![
        "--asset",
        "plate",
        "--description",
        "first",
        "--thumbnail",
        &thumbnail,
    ];
    first.extend(&args);
    let v1 = studio.published(&first);
    assert_eq!(v1["version"], 1, "{v1}");
    assert_eq!(v1["asset_created"], true);
    assert_eq!(v1["location"], "ftrack.server");

    let mut second = vec!["--asset", "plate", "--web-playable", "review"];
    second.extend(&args);
    let v2 = studio.published(&second);
    assert_eq!(v2["version"], 2, "{v2}");
    assert_eq!(v2["asset_created"], false);
    assert_eq!(v2["asset_id"], v1["asset_id"]);
    if have_ffmpeg() {
        assert_eq!(v2["web_playable"], "done", "{v2}");
    } else {
        assert!(
            v2["warnings"].to_string().contains("could not encode"),
            "{v2}"
        );
    }

    let back = studio.read_back(v1["asset_id"].as_str().unwrap(), None);
    assert_eq!(back["asset"]["name"], "plate");
    assert_eq!(back["asset"]["type"], "upload");
    assert_eq!(
        back["asset"]["parent"], "sh010",
        "published under the task's parent"
    );
    let versions = back["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{back}");
    for version in versions {
        assert_eq!(version["is_published"], true);
        assert_eq!(version["task"], "comp");
        let beauty = component(version, "beauty");
        assert_eq!(beauty["kind"], "SequenceComponent");
        assert_eq!(beauty["padding"], 4);
        assert_eq!(beauty["file_type"], ".exr");
        assert_eq!(beauty["size"], 1001 + 1002 + 1004);
        assert_eq!(
            beauty["members"],
            serde_json::json!([["0001", 1001], ["0002", 1002], ["0004", 1004]])
        );
        assert_eq!(beauty["locations"][0]["name"], "ftrack.server");
        assert_eq!(
            beauty["locations"][0]["sizes"],
            serde_json::json!([1001, 1002, 1004])
        );
        let depth = component(version, "depth");
        assert_eq!(
            depth["padding"], 4,
            "1001-1004 is padded, as Connect 25.11's drop zone"
        );
        assert_eq!(depth["members"].as_array().unwrap().len(), 3);
        let notes = component(version, "notes");
        assert_eq!(notes["kind"], "FileComponent");
        assert_eq!(notes["size"], 42);
        assert_eq!(notes["locations"][0]["sizes"], serde_json::json!([42]));
        assert_eq!(component(version, "review")["kind"], "FileComponent");
    }
    assert_eq!(versions[0]["thumbnail"], true);
    assert_eq!(versions[0]["comment"], "first");
    assert_eq!(
        versions[0]["components"].as_array().unwrap().len(),
        4,
        "the thumbnail is not one of the version's components"
    );
}

#[test]
fn disk_and_unmanaged_locations_resolve_as_ftrack_api_resolves_them() {
    let studio = Studio::new();
    let prefix = studio.disk_location("studio-disk");
    let frames: Vec<String> = [1, 2, 3]
        .iter()
        .map(|f| studio.file(&format!("Beauty Pass.{f:04}.exr"), 100 * f))
        .collect();
    let movie = studio.file("Movie.mov", 77);
    let sequence = format!("{}/Beauty Pass.%04d.exr [1-3]", studio.files.display());
    let on_disk = studio.published(&[
        "--component",
        &format!("Beauty Pass={sequence}"),
        "--component",
        &format!("Movie={movie}"),
    ]);
    assert_eq!(
        on_disk["location"], "studio.disk",
        "the plugin's location, by priority"
    );
    let back = studio.read_back(
        on_disk["asset_id"].as_str().unwrap(),
        Some(("studio.disk", &prefix)),
    );
    let version = &back["versions"][0];
    let beauty = &component(version, "Beauty Pass")["locations"][0];
    assert_eq!(
        beauty["resource_identifier"],
        "show/sq/sh010/upload/v001/beauty_pass.%04d.exr"
    );
    assert_eq!(
        beauty["computed"], beauty["resource_identifier"],
        "ftrack_api's structure agrees"
    );
    assert_eq!(beauty["sizes"], serde_json::json!([100, 200, 300]));
    let movie_place = &component(version, "Movie")["locations"][0];
    assert_eq!(
        movie_place["resource_identifier"],
        "show/sq/sh010/upload/v001/movie.mov"
    );
    assert_eq!(movie_place["computed"], movie_place["resource_identifier"]);
    assert_eq!(movie_place["sizes"], serde_json::json!([77]));
    assert!(prefix
        .join("show/sq/sh010/upload/v001/beauty_pass.0002.exr")
        .is_file());

    let unmanaged = studio.published(&[
        "--location",
        "ftrack.unmanaged",
        "--asset",
        "plates",
        &frames[0],
        &frames[1],
    ]);
    let back = studio.read_back(unmanaged["asset_id"].as_str().unwrap(), None);
    let place = &component(&back["versions"][0], "Beauty Pass")["locations"][0];
    assert_eq!(place["name"], "ftrack.unmanaged");
    assert_eq!(
        place["path"],
        format!("{}/Beauty Pass.%04d.exr", studio.files.display()),
        "files stay where they are"
    );
    assert_eq!(place["sizes"], serde_json::json!([100, 200]));
}

#[test]
fn a_publish_that_fails_midway_leaves_nothing() {
    let studio = Studio::new();
    let prefix = studio.disk_location("disk");
    let frames: Vec<String> = [1, 2]
        .iter()
        .map(|f| studio.file(&format!("a.{f:04}.exr"), 10))
        .collect();
    let movie = studio.file("b.mov", 10);
    // Where the movie must go, a folder: the sequence is copied and committed first, then
    // the movie fails.
    let blocker = prefix.join("show/sq/sh010/upload/v001/b.mov");
    std::fs::create_dir_all(&blocker).unwrap();
    let run = studio.publish(&[&frames[0], &frames[1], &movie]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("b.mov"), "{}", run.stderr);
    assert!(
        run.stderr.contains("nothing was left behind"),
        "{}",
        run.stderr
    );
    assert_eq!(
        studio.assets(),
        serde_json::json!([]),
        "no asset, no version"
    );
    assert!(!prefix.join("show/sq/sh010/upload/v001/a.0001.exr").exists());
    assert!(blocker.is_dir(), "what was there before stays");

    // Mistakes found before anything reaches the server.
    let run = studio.publish(&[
        "--component",
        &format!("x={movie}"),
        "--component",
        &format!("x={}", frames[0]),
    ]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("two components are named \"x\""),
        "{}",
        run.stderr
    );
    let run = studio.publish(&["--web-playable", "a", &frames[0], &frames[1]]);
    assert!(run.stderr.contains("is a sequence"), "{}", run.stderr);
    let run = studio.publish(&[&studio.files.join("missing.exr").display().to_string()]);
    assert!(run.stderr.contains("missing.exr"), "{}", run.stderr);
    assert_eq!(studio.assets(), serde_json::json!([]));
}

#[cfg(unix)]
#[test]
fn interrupted_and_killed_publishes_leave_one_version_when_tried_again() {
    let studio = Studio::new();
    let prefix = studio.disk_location("disk");
    let partial = prefix.join("show/sq/sh010/big/v001/big.mov.part");
    for (signal, expected) in [(libc::SIGINT, Some(130)), (libc::SIGKILL, None)] {
        let child = studio.publish_being_copied(&partial);
        unsafe { libc::kill(child.id() as i32, signal) };
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            output.status.code(),
            expected,
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        if signal == libc::SIGINT {
            assert_eq!(
                studio.assets(),
                serde_json::json!([]),
                "interrupted: rolled back"
            );
            assert!(!partial.exists());
        }
    }
    // Killed: its version is there, unpublished, until the next publish rolls it back.
    let left = studio.assets();
    assert_eq!(left[0][2], serde_json::json!([1]), "{left}");
    let small = studio.file("big.mov", 1000);
    let published = studio.published(&["--asset", "big", &small]);
    let assets = studio.assets();
    assert_eq!(assets.as_array().unwrap().len(), 1, "{assets}");
    assert_eq!(
        assets[0][2],
        serde_json::json!([1]),
        "one version: {assets}"
    );
    assert_eq!(published["version"], 1);
    assert!(!partial.exists());
}

#[cfg(unix)]
#[test]
fn a_server_that_goes_away_midway_leaves_what_the_next_publish_removes() {
    let mut studio = Studio::new();
    let prefix = studio.disk_location("disk");
    let target = prefix.join("show/sq/sh010/big/v001/big.mov");
    let partial = prefix.join("show/sq/sh010/big/v001/big.mov.part");
    // The version exists and the file is being copied when the server dies.
    let child = studio.publish_being_copied(&partial);
    studio.server.kill();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the next publish removes it"),
        "says what is left and when it goes: {stderr}"
    );
    assert!(
        !partial.exists() && !target.exists(),
        "its files went: {stderr}"
    );

    // Back: the next publish removes the unpublished version first.
    studio.server.start_again(&studio.s);
    let published = studio.published(&["--asset", "big", &studio.file("small.mov", 10)]);
    assert_eq!(published["version"], 1, "{published}");
    let assets = studio.assets();
    assert_eq!(
        assets[0][2],
        serde_json::json!([1]),
        "one version: {assets}"
    );
}

#[test]
fn the_resident_host_publishes_components_for_the_web_page() {
    let studio = Studio::new();
    let version = studio.published(&["--asset", "review", &studio.file("first.mov", 10)]);
    let env: Vec<(&str, String)> = studio.env().into_iter().collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut host = crate::kit::Running::start_with(&studio.s, &["run"], &env);
    host.wait_for("is running");
    let frames: Vec<String> = [1, 2]
        .iter()
        .map(|f| studio.file(&format!("extra.{f:04}.exr"), 5))
        .collect();
    let list = serde_json::json!([
        {"path": studio.file("notes.txt", 3), "name": "notes",
         "version_id": version["version_id"], "location": "ftrack.unmanaged"},
        {"path": format!("{}/extra.%04d.exr [1-2]", studio.files.display()),
         "version_id": version["version_id"]},
    ]);
    let config = studio.s.user_data_dir().join("data/components.json");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, list.to_string()).unwrap();
    let data = serde_json::json!({"components_config": config}).to_string();
    let answer = studio.s.publish("ftrack.connect.publish-components", &data);
    assert_eq!(
        answer,
        [serde_json::json!({"success": true, "error_result": null})]
    );
    let back = studio.read_back(version["asset_id"].as_str().unwrap(), None);
    let v1 = &back["versions"][0];
    assert_eq!(
        component(v1, "notes")["locations"][0]["name"],
        "ftrack.unmanaged"
    );
    assert_eq!(
        component(v1, "extra")["members"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        component(v1, "extra")["locations"][0]["sizes"],
        serde_json::json!([5, 5])
    );
    assert!(frames.len() == 2);

    // A list anywhere else is refused: nobody makes the host publish what they choose.
    let elsewhere = studio.s.path().join("list.json");
    std::fs::write(&elsewhere, list.to_string()).unwrap();
    let data = serde_json::json!({"components_config": elsewhere}).to_string();
    let answer = studio.s.publish("ftrack.connect.publish-components", &data);
    assert_eq!(answer[0]["success"], false, "{answer:?}");
    assert!(answer[0]["error_result"]["content"]
        .to_string()
        .contains("only read from there"));
}
