//! How far publishing from inside handlers may go: the bounds that keep a hook whose events
//! lead back to itself from taking the host down.
//!
//! - **Synchronous** publishes nest on the stack: a handler that publishes an event that
//!   reaches itself would recurse until the stack overflows, which aborts the host. They may
//!   nest [`MAX_NESTED_DISPATCH`] deep.
//! - **Asynchronous** publishes do not nest: each goes to the queue. A handler that publishes
//!   its own topic once would spin forever; twice, and the queue doubles with every round
//!   until memory runs out. So every queued event carries its [`Lineage`]: the chain it
//!   belongs to (the id of the event that started it, published from outside any handler)
//!   and its generation in that chain (how many asynchronous publishes from handlers led to
//!   it). An event more than [`MAX_ASYNC_GENERATIONS`] generations down its chain is dropped,
//!   and so is any event published while [`MAX_QUEUED_EVENTS`] wait. Real hooks go two or
//!   three generations deep (an action, its launch, the replies); a runaway chain is stopped
//!   after at most `MAX_ASYNC_GENERATIONS` × `MAX_QUEUED_EVENTS` dispatches.
//!
//! The chain an event belongs to, and the plugin whose handler is running, are kept per
//! thread while a dispatch runs, so that a publish from inside a handler knows both without
//! the handler saying anything. A dropped chain is reported once, naming that plugin.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How deeply synchronous publishes from inside handlers may nest. Real hooks nest two or
/// three deep.
pub const MAX_NESTED_DISPATCH: u32 = 32;

/// How many asynchronous publishes from handlers may follow one another in one chain.
pub const MAX_ASYNC_GENERATIONS: u32 = 16;

/// How many asynchronously published events may wait to be dispatched.
pub const MAX_QUEUED_EVENTS: usize = 10_000;

thread_local! {
    /// How many dispatches are running in this thread, one inside the other.
    static DISPATCH_DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The chain of the queued event being dispatched in this thread, if any.
    static LINEAGE: RefCell<Option<Lineage>> = const { RefCell::new(None) };
    /// The plugin whose handler runs in this thread, if any.
    static PLUGIN: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// Counts one nested dispatch while it lives.
pub(super) struct NestedDispatch;

impl NestedDispatch {
    /// Enters a dispatch; `None` when that would nest too deeply.
    pub(super) fn enter() -> Option<NestedDispatch> {
        DISPATCH_DEPTH.with(|depth| {
            (depth.get() < MAX_NESTED_DISPATCH).then(|| {
                depth.set(depth.get() + 1);
                NestedDispatch
            })
        })
    }
}

impl Drop for NestedDispatch {
    fn drop(&mut self) {
        DISPATCH_DEPTH.with(|depth| depth.set(depth.get() - 1));
    }
}

/// Where a queued event stands in its chain.
#[derive(Debug, Clone, Copy)]
pub(super) struct Lineage {
    /// Which chain: a number drawn when it started (cheaper than keeping the first event's
    /// id, and all the reports need is to tell chains apart).
    pub(super) root: u64,
    /// 0 for an event published from outside any handler; one more per asynchronous publish
    /// from a handler.
    pub(super) generation: u32,
}

impl Lineage {
    /// The first generation of a new chain.
    fn new_chain() -> Lineage {
        static CHAINS: AtomicU64 = AtomicU64::new(0);
        Lineage {
            root: CHAINS.fetch_add(1, Ordering::Relaxed),
            generation: 0,
        }
    }
}

/// What a publish made on this thread now belongs to, and whose handler made it.
pub(super) struct Origin {
    pub(super) lineage: Lineage,
    /// The plugin whose handler published, if a handler did.
    pub(super) plugin: Option<Arc<str>>,
}

impl Origin {
    /// The origin of an event published now: the next generation of the chain being
    /// dispatched on this thread, or a new chain.
    pub(super) fn of_publish() -> Origin {
        let lineage = LINEAGE.with(|current| match &*current.borrow() {
            Some(parent) => Lineage {
                root: parent.root,
                generation: parent.generation + 1,
            },
            None => Lineage::new_chain(),
        });
        let plugin = PLUGIN.with(|current| current.borrow().clone());
        Origin { lineage, plugin }
    }
}

/// Marks this thread as dispatching an event of `lineage` while it lives.
pub(super) struct InLineage(Option<Lineage>);

impl InLineage {
    pub(super) fn enter(lineage: Lineage) -> InLineage {
        InLineage(LINEAGE.with(|current| current.replace(Some(lineage))))
    }

    /// For a synchronous publish: the event starts a chain, unless this thread already
    /// dispatches one (a handler publishing synchronously stays in its chain).
    pub(super) fn enter_unless_in_one() -> Option<InLineage> {
        let in_one = LINEAGE.with(|current| current.borrow().is_some());
        (!in_one).then(|| InLineage::enter(Lineage::new_chain()))
    }
}

impl Drop for InLineage {
    fn drop(&mut self) {
        let previous = self.0.take();
        LINEAGE.with(|current| *current.borrow_mut() = previous);
    }
}

/// Marks this thread as running a handler of `plugin` while it lives.
pub(super) struct InHandler(Option<Arc<str>>);

impl InHandler {
    pub(super) fn enter(plugin: Option<Arc<str>>) -> InHandler {
        InHandler(PLUGIN.with(|current| current.replace(plugin)))
    }
}

impl Drop for InHandler {
    fn drop(&mut self) {
        let previous = self.0.take();
        PLUGIN.with(|current| *current.borrow_mut() = previous);
    }
}
