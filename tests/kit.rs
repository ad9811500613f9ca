//! The shared test kit: the real `ftrack-connect` binary against real plugin folders, with a
//! clean environment and a private home for each test.
//!
//! - [`Sandbox`]: a temporary home and its folders (`home`, `data_home`, `user_data_dir`,
//!   `default_plugin_dir`, `plugins`); [`Sandbox::write`] and [`Sandbox::hook`] write plugin
//!   folders, [`Sandbox::fake_program`] an installed program for the launcher (whose
//!   [`ProgramRecord`] says how it was started; [`os_key`] names this OS in launcher configs).
//! - Running and capturing the binary: [`Sandbox::command`] (to build on), [`Sandbox::capture`]
//!   giving a [`Captured`] (exit code, stdout, stderr), and the shortcuts
//!   [`Sandbox::publish`], [`Sandbox::publish_with`], [`Sandbox::plugins_json`],
//!   [`Sandbox::plugin`].
//! - [`Running`]: a resident host whose stderr is read line by line; [`KillOnDrop`] for any
//!   other child.
//! - Native plugins: [`built`] builds the native crates once, [`library`] names one's library.
//! - Waiting (liveness bounds, never speed checks): [`eventually`], [`Running::wait_for`],
//!   [`wait_for_file`], [`wait_for_record`].

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `ftrack-connect` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_ftrack-connect");

/// A private temporary home for one test; removed when dropped.
pub struct Sandbox {
    /// The temporary folder everything of this sandbox lives in.
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    /// A fresh sandbox with its plugin folder and home created.
    pub fn new() -> Sandbox {
        let sandbox = Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        std::fs::create_dir_all(sandbox.plugins()).unwrap();
        std::fs::create_dir_all(sandbox.home()).unwrap();
        sandbox
    }

    /// The sandbox's root folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The `HOME` the binary runs with.
    pub fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    /// XDG data home: holds `ftrack-connect/` (lock, log, credentials) and the default plugin dir.
    pub fn data_home(&self) -> PathBuf {
        self.path().join("data")
    }

    /// The host's user data folder: lock, log, endpoint, credentials.
    pub fn user_data_dir(&self) -> PathBuf {
        self.data_home().join("ftrack-connect")
    }

    /// The plugin folder used when FTRACK_CONNECT_PLUGIN_PATH is not set.
    pub fn default_plugin_dir(&self) -> PathBuf {
        self.data_home().join("ftrack-connect-plugins")
    }

    /// The folder of plugin folders the tests pass with FTRACK_CONNECT_PLUGIN_PATH.
    pub fn plugins(&self) -> PathBuf {
        self.path().join("plugins")
    }

    /// Writes `text` at `relative` below the sandbox, creating folders.
    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Writes a one-file plugin folder `plugins/<folder>/hook/<file>`.
    pub fn hook(&self, folder: &str, file: &str, text: &str) -> PathBuf {
        self.write(&format!("plugins/{folder}/hook/{file}"), text)
    }

    /// The binary with a clean environment: no FTRACK_* from the machine, a private home.
    pub fn command(&self) -> Command {
        let mut command = Command::new(BIN);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("FTRACK_") {
                command.env_remove(&key);
            }
        }
        command
            .env("HOME", self.home())
            .env("XDG_DATA_HOME", self.data_home())
            .env("FTRACK_CONNECT_PLUGIN_PATH", self.plugins())
            .env("FTRACK_API_USER", "alice")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        command
    }

    /// Runs the binary with `args` in this sandbox's environment and captures what it left.
    pub fn capture(&self, args: &[&str]) -> Captured {
        self.command()
            .args(args)
            .output()
            .expect("binary runs")
            .into()
    }

    /// `event publish` with `args`, asserting success; returns (results, stderr).
    #[track_caller]
    pub fn publish_with(&self, topic: &str, args: &[&str]) -> (Vec<Value>, String) {
        let mut all = vec!["event", "publish", topic];
        all.extend_from_slice(args);
        let Captured { stdout, stderr, .. } = self.capture(&all).success();
        let results: Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}\nstderr: {stderr}"));
        match results {
            Value::Array(items) => (items, stderr),
            other => panic!("results are not an array: {other}"),
        }
    }

    /// `event publish TOPIC --data DATA`, asserting success; returns the results.
    pub fn publish(&self, topic: &str, data: &str) -> Vec<Value> {
        self.publish_with(topic, &["--data", data]).0
    }

    /// `plugins --json`, asserting success; returns (plugins, stderr).
    pub fn plugins_json(&self) -> (Vec<Value>, String) {
        let Captured { stdout, stderr, .. } = self.capture(&["plugins", "--json"]).success();
        let value: Value = serde_json::from_str(&stdout).expect("plugins --json is JSON");
        (value.as_array().expect("an array").clone(), stderr)
    }

    /// The `plugins --json` entry named `name` (panics if missing).
    pub fn plugin(&self, name: &str) -> Value {
        let (plugins, stderr) = self.plugins_json();
        plugins
            .into_iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no plugin {name}; stderr: {stderr}"))
    }
}

/// What a finished run of a program left: its exit code and its output as (lossy UTF-8) text.
#[derive(Debug)]
pub struct Captured {
    /// The exit code; `None` when a signal ended the process.
    pub code: Option<i32>,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl From<Output> for Captured {
    fn from(output: Output) -> Captured {
        Captured {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Captured {
    /// Asserts exit code 0 (the output in the panic message); returns `self` for more checks.
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(
            self.code,
            Some(0),
            "exit code is not 0\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// A running host whose stderr is read line by line.
pub struct Running {
    /// The host process (stdout piped and unread, stderr read by a thread).
    pub child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    /// Starts `ftrack-connect ARGS` (`run` is the default command).
    pub fn start(s: &Sandbox, args: &[&str]) -> Running {
        Running::start_with(s, args, &[])
    }

    /// As [`Running::start`], with `env` set for the host.
    pub fn start_with(s: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut child = s
            .command()
            .args(args)
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("host starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stderr line containing `text` (liveness bound, not a speed check).
    pub fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.seen.push(line.clone());
                if line.contains(text) {
                    return line;
                }
            }
        }
        panic!(
            "no line with {text:?}; stderr so far:\n{}",
            self.seen.join("\n")
        );
    }

    /// As [`Running::wait_for`], for a line that may have come before the last one waited
    /// for (lines logged by different threads): each seen line is returned once.
    pub fn wait_for_any_order(&mut self, text: &str) -> String {
        if let Some(at) = self.seen.iter().position(|line| line.contains(text)) {
            return self.seen.remove(at);
        }
        let line = self.wait_for(text);
        self.seen.pop();
        line
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the host.
    pub fn signal(&self, signal: i32) {
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// Waits for exit; returns the status code and the rest of stderr.
    pub fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        (status.code(), self.seen.join("\n"))
    }
}

/// A failing test must not leave a host running behind it.
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CRATES: &[&str] = &[
    "machine-info",
    "selection-actions",
    "fixture-faulty",
    "fixture-incompatible-version",
    "fixture-incompatible-layout",
    "fixture-no-root-module",
    "fixture-constructor-abort",
    "fixture-server-api",
    "studio-naming",
];

/// Builds the native crates once; returns the folder holding the libraries.
pub fn built() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        // A target folder of their own: the one running this test is locked by cargo.
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target"))
            .join("native-test-builds");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let mut command = Command::new(cargo);
        command
            .current_dir(workspace)
            .args(["build", "--quiet", "--locked", "--target-dir"])
            .arg(&target);
        for name in CRATES {
            command.args(["-p", name]);
        }
        let status = command.status().expect("cargo runs");
        assert!(status.success(), "building the native plugins failed");
        target.join("debug")
    })
}

/// The built library of crate `name`.
pub fn library(name: &str) -> PathBuf {
    let stem = name.replace('-', "_");
    built().join(format!(
        "{}{stem}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

/// Polls `check` until it gives a value (liveness bound of 30 s, not a speed check).
pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills the process when dropped, so a failing test leaves nothing running.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---- The application launcher: fake installed programs and what they record.

/// The `search_path` key of launcher configs on this OS.
pub fn os_key() -> &'static str {
    if cfg!(target_os = "macos") {
        "darwin"
    } else if cfg!(windows) {
        "windows"
    } else {
        "linux"
    }
}

/// How a fake program was started, as it recorded it.
#[derive(Debug)]
pub struct ProgramRecord {
    /// The program's process id.
    pub pid: u32,
    /// The program's session id.
    pub sid: u32,
    /// The folder it was started in.
    pub cwd: String,
    /// Its arguments, without the program itself.
    pub args: Vec<String>,
    /// Its environment.
    pub env: std::collections::HashMap<String, String>,
}

impl Sandbox {
    /// Writes an executable `#!/bin/sh` fake program at `relative`. When started, it writes
    /// `<program>.record`: its pid, its session id, its working folder, each argument and its
    /// environment. If `FAKE_WAIT_FOR` is set it then waits (at most a minute) for that file
    /// to exist and writes `<program>.survived`.
    #[cfg(unix)]
    pub fn fake_program(&self, relative: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.write(
            relative,
            r#"#!/bin/sh
record="$0.record"
{
  echo "pid=$$"
  echo "sid=$(cut -d' ' -f6 /proc/$$/stat 2>/dev/null || ps -o sess= -p $$ | tr -d ' ')"
  echo "cwd=$(pwd)"
  for arg in "$@"; do echo "arg=$arg"; done
  env | sed 's/^/env=/'
} > "$record.partial"
mv "$record.partial" "$record"
if [ -n "$FAKE_WAIT_FOR" ]; then
  i=0
  while [ ! -e "$FAKE_WAIT_FOR" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done
  echo alive > "$0.survived"
fi
"#,
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }
}

/// Waits for `path` to exist (liveness only: a generous bound, never a speed assertion).
pub fn wait_for_file(path: &Path) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Waits for the record of the fake program at `program` and parses it.
pub fn wait_for_record(program: &Path) -> ProgramRecord {
    let text = wait_for_file(&PathBuf::from(format!("{}.record", program.display())));
    let mut record = ProgramRecord {
        pid: 0,
        sid: 0,
        cwd: String::new(),
        args: Vec::new(),
        env: Default::default(),
    };
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key {
            "pid" => record.pid = value.trim().parse().expect("pid"),
            "sid" => record.sid = value.trim().parse().expect("sid"),
            "cwd" => record.cwd = value.to_string(),
            "arg" => record.args.push(value.to_string()),
            "env" => {
                if let Some((name, value)) = value.split_once('=') {
                    record.env.insert(name.to_string(), value.to_string());
                }
            }
            _ => {}
        }
    }
    record
}
