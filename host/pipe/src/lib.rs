//! `connect-pipe`: how the host talks to a child process that runs plugin code for it (an
//! isolated native library, the Python bridge) over the child's standard input and output.
//!
//! Both kinds of child need the same three things, so they live here, once:
//!
//! * [`frame`]: one JSON object per line, each a call or the answer to one, with the
//!   call and answer types the user of the pipe chooses;
//! * [`link`]: conversations, so that a call one side makes while it serves a call of the
//!   other (a handler publishing through the host, whose dispatch calls a handler of the
//!   same child again) runs on the thread that waits, on each side: the hub's per-thread
//!   bounds (nesting, chains) hold across the pipe;
//! * [`exit`]: how a child ended, in words (`killed by signal 6, SIGABRT`).
//!
//! It knows no plugin, hub or loader: the isolate and Python crates give it their own
//! call types and a function that serves the other side's calls.
//!
//! Two links, host and child, over a socket pair instead of a child's standard input and
//! output; the calls and answers here are plain numbers:
//!
//! ```
//! # #[cfg(not(unix))] fn main() {}
//! # #[cfg(unix)] fn main() -> std::io::Result<()> {
//! use std::io::BufReader;
//! use std::os::unix::net::UnixStream;
//! use std::time::Duration;
//!
//! use connect_pipe::link::{Link, Workers};
//!
//! let (host_end, child_end) = UnixStream::pair()?;
//! // Each side serves the other's calls: the child doubles, the host is never asked.
//! let child = Link::<u64, u64>::new(Box::new(child_end.try_clone()?), false, Box::new(|n| n * 2));
//! let host = Link::<u64, u64>::new(Box::new(host_end.try_clone()?), true, Box::new(|n| n));
//! for (link, end) in [(child, child_end), (host.clone(), host_end)] {
//!     // Each side reads on a thread of its own, handing frames to the threads that wait.
//!     std::thread::spawn(move || link.route(&mut BufReader::new(end), &Workers::new(1 << 20)));
//! }
//! assert_eq!(host.call_within(21, Duration::from_secs(5)), Ok(42));
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

pub mod exit;
pub mod frame;
pub mod link;
