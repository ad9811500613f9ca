//! Starting a program detached from the host.
//!
//! A launched application must outlive the host and must not be disturbed by it: closing
//! the terminal the host runs in, Ctrl-C there, or the host exiting must not close Maya. So
//! on Unix the program starts in a session of its own (`setsid`, as ftrack's launcher does),
//! with stdin, stdout and stderr on the null device (it must not hold the host's terminal or
//! pipes open). It is not waited for; a thread reaps it when it exits, so a long-running host
//! does not collect zombies. On Windows it gets a process group of its own and no console of
//! the host's.

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

/// Starts `program` with `args`, exactly the environment `env` and the working folder `cwd`
/// (the host's when None), detached; returns its process id. The error is the OS's.
pub fn spawn_detached(
    program: &str,
    args: &[String],
    env: &[(OsString, OsString)],
    cwd: Option<&Path>,
) -> io::Result<u32> {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    detach(&mut command);
    let mut child = command.spawn()?;
    let pid = child.id();
    // Reaping is all this thread does; if it cannot be started the child is reaped when the
    // host exits, which is no worse than a short-lived zombie.
    let _ = std::thread::Builder::new()
        .name(format!("reap-{pid}"))
        .spawn(move || {
            let _ = child.wait();
        });
    Ok(pid)
}

#[cfg(unix)]
fn detach(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only calls setsid(2),
    // which is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(windows)]
fn detach(command: &mut Command) {
    use std::os::windows::process::CommandExt;
    const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
    const CREATE_NEW_CONSOLE: u32 = 0x0000_0010;
    command.creation_flags(CREATE_NEW_PROCESS_GROUP | CREATE_NEW_CONSOLE);
}

#[cfg(not(any(unix, windows)))]
fn detach(_command: &mut Command) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_is_the_os_error() {
        let err = spawn_detached("/nonexistent/program", &[], &[], None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    /// The reaper leaves no zombie: the process disappears from /proc once it has exited.
    #[cfg(target_os = "linux")]
    #[test]
    fn exited_program_is_reaped() {
        let pid = spawn_detached("/bin/sh", &["-c".into(), "exit 0".into()], &[], None).unwrap();
        let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
        // Liveness only: generous bound, never a speed assertion.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while proc_dir.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "process {pid} was never reaped"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
