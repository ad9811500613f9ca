//! Handing things to the desktop: starting a program that opens a link or a folder (the
//! browser, the file manager) without waiting for it to end.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a command may take to say it failed. A program that is still running by then has
/// started (some stay in the foreground until their window closes).
const START_WAIT: Duration = Duration::from_secs(3);

/// The desktop's opener of links and folders.
pub const OPENER: &str = if cfg!(target_os = "macos") {
    "open"
} else if cfg!(windows) {
    "explorer"
} else {
    "xdg-open"
};

/// Opens `folder` in the desktop's file manager; why not, if it could not.
pub fn open_folder(folder: &Path) -> Result<(), String> {
    start(&[OPENER.to_string(), folder.display().to_string()])
        .map_err(|why| format!("{OPENER}: {why}"))
}

/// Runs `command`: fine if it exits with 0, or is still running after [`START_WAIT`].
pub fn start(command: &[String]) -> Result<(), String> {
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
