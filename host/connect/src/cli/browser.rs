//! Starting the user's web browser on a link, as `xdg-open` and Python's `webbrowser` do:
//! `$BROWSER` first (a `:`-separated list of commands, each with `%s` where the link goes, or
//! the link added at the end), else the desktop's opener (`xdg-open`, or `open` on macOS).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a browser command may take to say it failed. A browser that is still running by
/// then has started (some stay in the foreground until their window closes).
const START_WAIT: Duration = Duration::from_secs(3);

/// Opens `url` in a browser; what was run, or why nothing could be.
pub fn open(url: &str) -> Result<String, String> {
    let mut tried = Vec::new();
    for command in commands(url) {
        let shown = command.join(" ");
        match start(&command) {
            Ok(()) => return Ok(shown),
            Err(why) => tried.push(format!("{shown}: {why}")),
        }
    }
    Err(if tried.is_empty() {
        "no browser command to try".to_string()
    } else {
        tried.join("; ")
    })
}

/// The commands to try, in order, each as its words with the link in place.
fn commands(url: &str) -> Vec<Vec<String>> {
    let mut commands: Vec<Vec<String>> = std::env::var("BROWSER")
        .unwrap_or_default()
        .split(':')
        .filter(|entry| !entry.trim().is_empty())
        .filter_map(|entry| {
            let mut words = shlex::split(entry)?;
            if words.iter().any(|word| word.contains("%s")) {
                for word in &mut words {
                    *word = word.replace("%s", url);
                }
            } else {
                words.push(url.to_string());
            }
            Some(words)
        })
        .collect();
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    commands.push(vec![opener.to_string(), url.to_string()]);
    commands
}

/// Runs `command`: fine if it exits with 0, or is still running after [`START_WAIT`].
fn start(command: &[String]) -> Result<(), String> {
    let (program, args) = command.split_first().ok_or("an empty command")?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + START_WAIT;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("it ended with {status}")),
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
    // Still running: a browser in the foreground. Nobody waits for it.
    std::thread::spawn(move || child.wait());
    Ok(())
}
