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

#![deny(missing_docs)]

pub mod exit;
pub mod frame;
pub mod link;
