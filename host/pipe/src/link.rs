//! One side of the pipe pair between the host and a child process: calls, answers, and the
//! conversations that tie them to threads.
//!
//! In process, a native handler that publishes runs the nested dispatch on its own thread,
//! and the hub's per-thread bounds (nesting depth, the chain an event belongs to, the plugin
//! whose handler is running) see it. Across a pipe the same holds because each conversation
//! stays on one thread on each side: the thread that makes a call waits for its answer, and
//! serves, on that same thread, every call the other side makes within the conversation
//! before answering. So the host thread that asked a child's handler to run is the one that
//! runs the dispatch of what that handler publishes, and the child thread running the
//! handler is the one that runs a nested call of another of its handlers.
//!
//! A call on a conversation no thread waits on opens one: a reading thread hands it to a
//! [`Workers`] thread, which serves it and answers.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::frame::{read_frame, write_frame, Frame};

/// Serves the calls the other side makes: a call in, its answer out.
pub type Server<C, A> = Box<dyn Fn(C) -> A + Send + Sync>;

/// What the calls and answers of a link must be: sent between threads, and written and read
/// as JSON.
pub trait Message: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> Message for T {}

/// The thread waiting in each open conversation, by conversation.
type Waiting<C, A> = HashMap<u64, Sender<Arrival<C, A>>>;

/// What arrives for a thread waiting in a conversation.
enum Arrival<C, A> {
    Call(C),
    Done(A),
}

/// How long a call waits for the other side.
#[derive(Clone, Copy)]
enum Wait {
    Forever,
    /// Each wait, starting again after each nested call served.
    Each(Duration),
    /// The whole call.
    Until(Instant),
}

/// Why a call got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAnswer {
    /// The pipe is gone: the other process ended (or broke the protocol).
    Closed,
    /// The time limit passed.
    TimedOut,
}

/// One side of a pipe pair, whose calls are `C` and answers `A`.
pub struct Link<C, A> {
    /// Tells links apart in each thread's [`SERVING`] stack.
    id: u64,
    writer: Mutex<Box<dyn Write + Send>>,
    /// The thread waiting in each open conversation; `None` once the pipe is gone, which
    /// wakes every waiting thread.
    waiting: Mutex<Option<Waiting<C, A>>>,
    /// The number of the next conversation this side opens (this side's parity).
    next_conv: AtomicU64,
    server: Server<C, A>,
}

/// A conversation a thread waits in: (link, conversation, where its frames arrive, as an
/// `Rc<Receiver<Arrival<C, A>>>` of the link's types: a thread-local cannot be generic).
type Membership = (u64, u64, Rc<dyn Any>);

thread_local! {
    /// The conversations this thread waits in, innermost last.
    static SERVING: RefCell<Vec<Membership>> = const { RefCell::new(Vec::new()) };
}

/// This thread's membership of a conversation, while it lives.
struct InConversation<C: Message, A: Message> {
    link: Arc<Link<C, A>>,
    conv: u64,
}

impl<C: Message, A: Message> InConversation<C, A> {
    fn enter(
        link: &Arc<Link<C, A>>,
        conv: u64,
        arrivals: Rc<Receiver<Arrival<C, A>>>,
    ) -> InConversation<C, A> {
        SERVING.with(|s| s.borrow_mut().push((link.id, conv, arrivals)));
        InConversation {
            link: link.clone(),
            conv,
        }
    }
}

impl<C: Message, A: Message> Drop for InConversation<C, A> {
    fn drop(&mut self) {
        SERVING.with(|s| s.borrow_mut().pop());
        if let Some(waiting) = self.link.waiting().as_mut() {
            waiting.remove(&self.conv);
        }
    }
}

impl<C: Message, A: Message> Link<C, A> {
    /// A link writing to `writer`, serving the other side's calls with `server`; `host`
    /// says which side it is (the host opens even conversations, the child odd ones).
    pub fn new(writer: Box<dyn Write + Send>, host: bool, server: Server<C, A>) -> Arc<Self> {
        static LINKS: AtomicU64 = AtomicU64::new(1);
        Arc::new(Link {
            id: LINKS.fetch_add(1, Ordering::Relaxed),
            writer: Mutex::new(writer),
            waiting: Mutex::new(Some(HashMap::new())),
            next_conv: AtomicU64::new(if host { 2 } else { 1 }),
            server,
        })
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Option<Waiting<C, A>>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ours(&self, conv: u64) -> bool {
        conv % 2 == self.next_conv.load(Ordering::Relaxed) % 2
    }

    /// Sends a frame; `false` when the pipe is gone.
    pub fn send(&self, frame: &Frame<C, A>) -> bool {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        write_frame(&mut *writer, frame).is_ok()
    }

    /// Makes `call` and waits for its answer, serving the other side's nested calls on this
    /// thread meanwhile. `limit` bounds each wait for the other side (it starts again after
    /// each nested call this side serves: that time is this side's own).
    pub fn call(self: &Arc<Self>, call: C, limit: Option<Duration>) -> Result<A, NoAnswer> {
        self.call_waiting(call, limit.map_or(Wait::Forever, Wait::Each))
    }

    /// As [`Link::call`], with `limit` bounding the whole call, the nested calls this side
    /// serves included: for a child whose call may not go on for ever by calling back.
    pub fn call_within(self: &Arc<Self>, call: C, limit: Duration) -> Result<A, NoAnswer> {
        self.call_waiting(call, Wait::Until(Instant::now() + limit))
    }

    fn call_waiting(self: &Arc<Self>, call: C, wait: Wait) -> Result<A, NoAnswer> {
        let current = SERVING.with(|s| {
            s.borrow()
                .iter()
                .rev()
                .find(|(link, _, _)| *link == self.id)
                .map(|(_, conv, arrivals)| (*conv, arrivals.clone()))
        });
        let current = current.and_then(|(conv, arrivals)| {
            Some((conv, arrivals.downcast::<Receiver<Arrival<C, A>>>().ok()?))
        });
        let (_membership, conv, arrivals) = match current {
            Some((conv, arrivals)) => (None, conv, arrivals),
            None => {
                let conv = self.next_conv.fetch_add(2, Ordering::Relaxed);
                let (sender, arrivals) = channel();
                self.waiting()
                    .as_mut()
                    .ok_or(NoAnswer::Closed)?
                    .insert(conv, sender);
                let arrivals = Rc::new(arrivals);
                let membership = InConversation::enter(self, conv, arrivals.clone());
                (Some(membership), conv, arrivals)
            }
        };
        // A failed write is not the end yet: the reading thread says when the pipe is gone
        // (and, on the host, after it learnt how the child ended), or the limit passes.
        self.send(&Frame::Call { conv, call });
        self.answer(conv, &arrivals, wait)
    }

    /// Whether this thread waits in a conversation of this link: a call it makes now nests.
    pub fn in_conversation(&self) -> bool {
        SERVING.with(|s| s.borrow().iter().any(|(link, _, _)| *link == self.id))
    }

    fn answer(
        &self,
        conv: u64,
        arrivals: &Receiver<Arrival<C, A>>,
        wait: Wait,
    ) -> Result<A, NoAnswer> {
        loop {
            let limit = match wait {
                Wait::Forever => None,
                Wait::Each(limit) => Some(limit),
                Wait::Until(deadline) => Some(deadline.saturating_duration_since(Instant::now())),
            };
            let arrival = match limit {
                Some(limit) => arrivals.recv_timeout(limit).map_err(|e| match e {
                    RecvTimeoutError::Timeout => NoAnswer::TimedOut,
                    RecvTimeoutError::Disconnected => NoAnswer::Closed,
                })?,
                None => arrivals.recv().map_err(|_| NoAnswer::Closed)?,
            };
            match arrival {
                Arrival::Done(answer) => return Ok(answer),
                Arrival::Call(nested) => {
                    let answer = (self.server)(nested);
                    self.send(&Frame::Done { conv, answer });
                }
            }
        }
    }

    /// Reads frames until the pipe ends (`Ok`) or breaks (`Err`: an unreadable frame), handing
    /// each to the thread waiting in its conversation, or opening a conversation on
    /// `workers`. The caller then [`Link::close`]s the link, after recording what waiting
    /// threads should know (the host reaps the child first, so they can say how it ended).
    pub fn route(
        self: &Arc<Self>,
        input: &mut dyn BufRead,
        workers: &Workers<C, A>,
    ) -> std::io::Result<()> {
        loop {
            let Some(frame) = read_frame(input)? else {
                return Ok(());
            };
            let (conv, arrival) = match frame {
                Frame::Call { conv, call } => (conv, Arrival::Call(call)),
                Frame::Done { conv, answer } => (conv, Arrival::Done(answer)),
            };
            let mut waiting = self.waiting();
            let Some(waiting) = waiting.as_mut() else {
                return Ok(());
            };
            if let Some(thread) = waiting.get(&conv) {
                let _ = thread.send(arrival);
                continue;
            }
            match arrival {
                // The other side opens a conversation (with its own numbers only).
                Arrival::Call(call) if !self.ours(conv) => {
                    let (sender, arrivals) = channel();
                    waiting.insert(conv, sender);
                    workers.start(Conversation {
                        link: self.clone(),
                        conv,
                        call,
                        arrivals,
                    });
                }
                // An answer nobody waits for any more (its call timed out), or a frame for
                // a conversation that does not exist: dropped.
                _ => {}
            }
        }
    }

    /// Wakes every thread waiting for an answer with [`NoAnswer::Closed`]; later calls fail
    /// at once.
    pub fn close(&self) {
        self.waiting().take();
    }
}

/// A conversation the other side opened, to be served on a worker thread.
pub struct Conversation<C, A> {
    link: Arc<Link<C, A>>,
    conv: u64,
    call: C,
    arrivals: Receiver<Arrival<C, A>>,
}

impl<C: Message, A: Message> Conversation<C, A> {
    /// Serves the opening call (and what nests in it) on this thread, and answers it.
    fn serve(self) {
        let Conversation {
            link,
            conv,
            call,
            arrivals,
        } = self;
        let _membership = InConversation::enter(&link, conv, Rc::new(arrivals));
        let answer = (link.server)(call);
        link.send(&Frame::Done { conv, answer });
    }
}

/// Threads that serve conversations the other side opens: as many as are open at once,
/// each kept for the next once it is done (starting a thread per event cost more than the
/// pipe).
pub struct Workers<C, A> {
    jobs: Mutex<Sender<Conversation<C, A>>>,
    queue: Arc<Mutex<Receiver<Conversation<C, A>>>>,
    /// Threads waiting for a job and not yet promised one.
    idle: Arc<AtomicUsize>,
    stack_size: usize,
}

impl<C: Message, A: Message> Workers<C, A> {
    /// Threads of `stack_size` bytes, started as conversations need them.
    pub fn new(stack_size: usize) -> Self {
        let (jobs, queue) = channel();
        Workers {
            jobs: Mutex::new(jobs),
            queue: Arc::new(Mutex::new(queue)),
            idle: Arc::new(AtomicUsize::new(0)),
            stack_size,
        }
    }

    /// Serves `conversation` on an idle thread, or a new one: never behind another
    /// conversation, which may be waiting for this one.
    fn start(&self, conversation: Conversation<C, A>) {
        let promised = self
            .idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if !promised {
            let (queue, idle) = (self.queue.clone(), self.idle.clone());
            let started = std::thread::Builder::new()
                .name("pipe-call".into())
                .stack_size(self.stack_size)
                .spawn(move || loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok(conversation) = next else { return };
                    conversation.serve();
                    idle.fetch_add(1, Ordering::AcqRel);
                });
            if let Err(err) = started {
                tracing::error!("cannot start a thread to serve a child process's call: {err}");
                return;
            }
        }
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let _ = jobs.send(conversation);
    }
}
