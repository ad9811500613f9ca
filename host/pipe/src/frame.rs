//! The frames host and child exchange: one JSON object per line.
//!
//! Every frame belongs to a *conversation*: a call and its answer, with any calls the other
//! side makes while it works on the answer nested inside. A conversation is a call stack
//! split over two processes; see [`crate::link`] for how each side keeps one on one thread.
//! The host numbers the conversations it opens with even numbers, the child with odd ones;
//! conversation [`GREETING`] is the child's first word.
//!
//! What a call and an answer are is the user's choice (`C`, `A`): the isolate crate's calls
//! are not the Python bridge's. Events and results inside them should be raw JSON
//! (`RawValue`), so the receiver parses them once, where it needs them.

use std::io::{self, BufRead, Write};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The longest frame either side accepts: events of some megabytes pass, a runaway child
/// cannot make the host buffer without end.
pub const MAX_FRAME: u64 = 64 << 20;

/// The conversation of the child's greeting: that it is ready, or why it cannot be.
pub const GREETING: u64 = 0;

/// One line on the pipe.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(
    serialize = "C: Serialize, A: Serialize",
    deserialize = "C: DeserializeOwned, A: DeserializeOwned"
))]
pub enum Frame<C, A> {
    /// A call, opening a conversation or nested in one.
    Call {
        /// The conversation.
        conv: u64,
        /// What is asked.
        call: C,
    },
    /// The answer to the innermost open call of the conversation.
    Done {
        /// The conversation.
        conv: u64,
        /// The answer.
        answer: A,
    },
}

/// Writes `frame` as one line and flushes it.
pub fn write_frame<C: Serialize, A: Serialize>(
    out: &mut dyn Write,
    frame: &Frame<C, A>,
) -> io::Result<()> {
    let mut line = serde_json::to_vec(frame).map_err(io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
}

/// Reads the next frame; `None` at the end of the stream. A frame over [`MAX_FRAME`] or one
/// that is not a frame is an error: the other side is broken, and the pipe is given up.
pub fn read_frame<C: DeserializeOwned, A: DeserializeOwned>(
    input: &mut dyn BufRead,
) -> io::Result<Option<Frame<C, A>>> {
    let mut line = Vec::new();
    let mut limited = <&mut dyn BufRead as io::Read>::take(input, MAX_FRAME + 1);
    let read = limited.read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if read as u64 > MAX_FRAME {
        return Err(io::Error::other(format!(
            "a frame longer than {} MiB",
            MAX_FRAME >> 20
        )));
    }
    serde_json::from_slice(&line)
        .map(Some)
        .map_err(|e| io::Error::other(format!("not a frame: {e}")))
}

/// Reads the child's first frame, its greeting: the answer it gives on [`GREETING`]. `None`
/// if it said anything else, nothing, or something unreadable.
pub fn read_greeting<C: DeserializeOwned, A: DeserializeOwned>(
    input: &mut dyn BufRead,
) -> Option<A> {
    match read_frame::<C, A>(input) {
        Ok(Some(Frame::Done {
            conv: GREETING,
            answer,
        })) => Some(answer),
        _ => None,
    }
}
