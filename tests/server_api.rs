//! The local ftrack server (`ftrack-connect server`) through the real binary and the real,
//! unmodified ftrack Python client (`ftrack-python-api` 3.1.0 in the virtualenv
//! `scripts/python-ref.sh` makes once): `tests/python/server_acceptance.py` runs a pipeline's
//! worth of work against the server, and these tests check what the server did.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::OnceLock;
use std::time::Duration;

use crate::kit::{Captured, KillOnDrop, Sandbox};

/// The reference client's python, made once per test run.
pub(crate) fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let output = Command::new("bash")
            .arg(workspace.join("scripts/python-ref.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/python-ref.sh runs");
        assert!(
            output.status.success(),
            "cannot make the reference client's virtualenv"
        );
        PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
    })
}

/// A running server on a data folder of the sandbox, with one API user.
pub(crate) struct RunningServer {
    pub(crate) process: KillOnDrop,
    pub(crate) url: String,
    pub(crate) key: String,
    log: Receiver<String>,
    data: PathBuf,
}

impl RunningServer {
    /// Starts `ftrack-connect server` on `data` (adding user `alice` first, unless her `key`
    /// is given).
    pub(crate) fn start(s: &Sandbox, data: &Path, key: Option<String>) -> RunningServer {
        Self::start_with(s, data, key, &[])
    }

    /// As [`RunningServer::start`], with `env` set for the server.
    pub(crate) fn start_with(
        s: &Sandbox,
        data: &Path,
        key: Option<String>,
        env: &[(&str, &str)],
    ) -> RunningServer {
        Self::start_on(s, data, key, env, &["--listen", "127.0.0.1:0"])
    }

    /// Starts the server on `data` (with a new user `alice`) with `args` for its address.
    pub(crate) fn start_with_args(s: &Sandbox, data: &Path, args: &[&str]) -> RunningServer {
        Self::start_on(s, data, None, &[], args)
    }

    /// Kills the server and starts it again on the same address and data, as a crash and a
    /// restart would.
    pub(crate) fn restart(mut self, s: &Sandbox) -> RunningServer {
        self.kill();
        self.start_again(s);
        self
    }

    /// Kills the server, as a crash would.
    pub(crate) fn kill(&mut self) {
        let _ = self.process.0.kill();
        let _ = self.process.0.wait();
    }

    /// Starts the (killed) server again on the same address and data.
    pub(crate) fn start_again(&mut self, s: &Sandbox) {
        let address = self.url.trim_start_matches("http://").to_string();
        let (data, key) = (self.data.clone(), self.key.clone());
        *self = Self::start_on(s, &data, Some(key), &[], &["--listen", &address]);
    }

    fn start_on(
        s: &Sandbox,
        data: &Path,
        key: Option<String>,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> RunningServer {
        let data_arg = data.display().to_string();
        let key = key.unwrap_or_else(|| {
            let added = s
                .capture(&["server", "user", "add", "alice", "--data", &data_arg])
                .success();
            added.stdout.split_whitespace().last().unwrap().to_string()
        });
        let mut child = s
            .command()
            .args(["server", "--data", &data_arg])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("server starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("no address line: {first:?}"))
            .trim()
            .to_string();
        let (tx, log) = channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        RunningServer {
            process: KillOnDrop(child),
            url,
            key,
            log,
            data: data.to_path_buf(),
        }
    }

    /// Runs a step of the acceptance script against this server.
    fn python(&self, s: &Sandbox, args: &[&str]) -> Captured {
        self.script(s, "server_acceptance.py", args, &[])
    }

    /// Runs `tests/python/SCRIPT ARGS` as alice against this server, with `env` too.
    pub(crate) fn script(
        &self,
        s: &Sandbox,
        script: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Captured {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/python")
            .join(script);
        Command::new(python())
            .arg(script)
            .args(args)
            .envs(env.iter().copied())
            .env("HOME", s.home())
            .env("FTRACK_SERVER", &self.url)
            .env("FTRACK_API_USER", "alice")
            .env("FTRACK_API_KEY", &self.key)
            .env_remove("FTRACK_EVENT_PLUGIN_PATH")
            .stdin(Stdio::null())
            .output()
            .expect("python runs")
            .into()
    }

    /// Adds user `name` to the server's data; its key.
    pub(crate) fn add_user(&self, s: &Sandbox, name: &str) -> String {
        let data = self.data.display().to_string();
        let added = s
            .capture(&["server", "user", "add", name, "--data", &data])
            .success();
        added.stdout.split_whitespace().last().unwrap().to_string()
    }

    /// Sends SIGTERM and waits (at most 30 s) for the server to end: its exit code.
    #[cfg(unix)]
    pub(crate) fn terminate(&mut self) -> Option<i32> {
        unsafe { libc::kill(self.process.0.id() as i32, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.process.0.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not stop within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's log so far.
    pub(crate) fn log(&self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.log.recv_timeout(Duration::from_millis(200)) {
            lines.push(line);
        }
        lines
    }
}

#[track_caller]
pub(crate) fn passed(step: &str, run: Captured) -> Captured {
    assert_eq!(
        run.code,
        Some(0),
        "{step} failed\nstdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    run
}

#[test]
fn the_python_client_works_against_the_server_unchanged() {
    let s = Sandbox::new();
    let server = RunningServer::start(&s, &s.path().join("server"), None);
    let cache = s.path().join("schema-cache");
    std::fs::create_dir_all(&cache).unwrap();
    let run = passed(
        "workflow",
        server.python(&s, &["workflow", &cache.display().to_string()]),
    );
    assert!(
        run.stdout.contains("ok: downloaded file byte-identical"),
        "{}",
        run.stdout
    );
    // Two sessions in a row, and then more: only the first asked for the schemas, the
    // others found the server's hash equal to their cache's.
    let log = server.log();
    let schema_requests = log
        .iter()
        .filter(|l| l.contains("api query_schemas"))
        .count();
    assert_eq!(schema_requests, 1, "{}", log.join("\n"));
    assert!(
        !log.iter().any(|l| l.contains(&server.key)),
        "the API key never reaches the log"
    );
}

#[test]
fn bad_requests_get_ftrack_errors_and_the_server_goes_on() {
    let s = Sandbox::new();
    let server = RunningServer::start(&s, &s.path().join("server"), None);
    let run = passed("errors", server.python(&s, &["errors"]));
    assert!(
        run.stdout.contains("the server keeps serving"),
        "{}",
        run.stdout
    );
}

#[cfg(unix)]
#[test]
fn what_the_server_committed_survives_a_kill() {
    let s = Sandbox::new();
    let data = s.path().join("server");
    let mut server = RunningServer::start(&s, &data, None);
    passed("create", server.python(&s, &["create-project", "kept"]));
    unsafe { libc::kill(server.process.0.id() as i32, libc::SIGKILL) };
    let _ = server.process.0.wait();
    let key = std::mem::take(&mut server.key);
    let again = RunningServer::start(&s, &data, Some(key));
    passed("expect", again.python(&s, &["expect-project", "kept"]));
}

#[test]
fn media_is_made_web_playable_with_ffmpeg() {
    assert!(
        Command::new("ffmpeg")
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "ffmpeg is needed by this test (.ci/run installs it: apt-get install ffmpeg)"
    );
    let s = Sandbox::new();
    let server = RunningServer::start(&s, &s.path().join("server"), None);
    let run = passed("encode", server.python(&s, &["encode", "done"]));
    assert!(
        run.stdout.contains("ok: the thumbnail is a jpeg"),
        "{}",
        run.stdout
    );
}

#[test]
fn without_ffmpeg_an_encode_job_fails_saying_so() {
    let s = Sandbox::new();
    let missing = s.path().join("no-ffmpeg-here").display().to_string();
    let server = RunningServer::start_with(
        &s,
        &s.path().join("server"),
        None,
        &[("FTRACK_CONNECT_FFMPEG", &missing)],
    );
    passed("encode", server.python(&s, &["encode", "failed"]));
}

#[test]
fn users_are_managed_from_the_command_line_and_keys_shown_once() {
    let s = Sandbox::new();
    let data = s.path().join("server").display().to_string();
    let added = s
        .capture(&["server", "user", "add", "bob", "--data", &data])
        .success();
    let key = added.stdout.split_whitespace().last().unwrap().to_string();
    assert_eq!(key.len(), 64, "{}", added.stdout);
    let listed = s
        .capture(&["server", "user", "list", "--data", &data])
        .success();
    assert!(listed.stdout.starts_with("bob\t"), "{}", listed.stdout);
    assert!(!listed.stdout.contains(&key), "the key is shown once");
    let twice = s.capture(&["server", "user", "add", "bob", "--data", &data]);
    assert_eq!(twice.code, Some(1));
    assert!(
        twice.stderr.contains("already a user \"bob\""),
        "{}",
        twice.stderr
    );
    s.capture(&["server", "user", "remove", "bob", "--data", &data])
        .success();
    let listed = s
        .capture(&["server", "user", "list", "--data", &data])
        .success();
    assert_eq!(listed.stdout, "");
    let remote = s.capture(&["server", "--listen", "0.0.0.0:0", "--data", &data]);
    assert_eq!(remote.code, Some(1));
    assert!(
        remote.stderr.contains("--allow-remote"),
        "{}",
        remote.stderr
    );
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_server_cleanly_and_its_data_stays() {
    let s = Sandbox::new();
    let data = s.path().join("server");
    let mut server = RunningServer::start(&s, &data, None);
    passed("create", server.python(&s, &["create-project", "kept"]));
    assert_eq!(server.terminate(), Some(0), "a clean stop exits 0");
    let log = server.log();
    let says = |text: &str| log.iter().any(|line| line.contains(text));
    assert!(
        says(&format!("server data in {}", data.display())),
        "where the data is, logged at start:\n{}",
        log.join("\n")
    );
    assert!(says("server stopped"), "{}", log.join("\n"));
    let key = std::mem::take(&mut server.key);
    let again = RunningServer::start(&s, &data, Some(key));
    passed("expect", again.python(&s, &["expect-project", "kept"]));
}

#[cfg(unix)]
#[test]
fn listening_for_other_machines_is_allowed_only_when_asked_and_logged() {
    let s = Sandbox::new();
    let data = s.path().join("server");
    let mut server =
        RunningServer::start_with_args(&s, &data, &["--listen", "0.0.0.0:0", "--allow-remote"]);
    assert!(server.url.starts_with("http://0.0.0.0:"), "{}", server.url);
    let log = server.log();
    let warning = log
        .iter()
        .find(|line| line.contains("other machines can reach this server"))
        .unwrap_or_else(|| panic!("no warning:\n{}", log.join("\n")));
    assert!(warning.contains("WARN"), "logged as a warning: {warning}");
    assert!(warning.contains("0.0.0.0:0"), "{warning}");
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn uploads_and_downloads_refuse_what_they_must_and_files_can_be_removed() {
    let s = Sandbox::new();
    let server = RunningServer::start(&s, &s.path().join("server"), None);
    let run = passed("files", server.python(&s, &["files"]));
    for what in [
        "a wrong MD5 is refused",
        "a reused upload URL is refused",
        "an unknown upload URL is refused",
        "a download without a key is refused",
        "the file is gone from ftrack.server",
    ] {
        assert!(run.stdout.contains(what), "{what}:\n{}", run.stdout);
    }
    let log = server.log();
    assert!(
        log.iter()
            .any(|l| l.contains("upload refused") && l.contains("MD5")),
        "refusals are logged:\n{}",
        log.join("\n")
    );
}
