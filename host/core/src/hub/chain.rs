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

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// The chain of the event being dispatched in this thread, if any.
    static LINEAGE: Cell<Option<Lineage>> = const { Cell::new(None) };
    /// The tag id of the plugin whose handler runs in this thread; 0 for none. An id rather
    /// than the name: this is set around every handler call, and copying a number costs
    /// nothing, where sharing the name would cost two atomic operations per handler.
    static PLUGIN: Cell<u64> = const { Cell::new(0) };
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
    /// Which chain: a number drawn when the chain first needs one (all the reports need is to
    /// tell chains apart); [`UNDRAWN`] until then.
    pub(super) root: u64,
    /// 0 for an event published from outside any handler; one more per asynchronous publish
    /// from a handler.
    pub(super) generation: u32,
}

/// The root of a chain whose number is not drawn yet: a synchronous publish starts a chain,
/// but most never publish asynchronously, so the number is drawn by the first that does.
const UNDRAWN: u64 = 0;

impl Lineage {
    /// The first generation of a new chain, numbered.
    pub(super) fn new_chain() -> Lineage {
        Lineage {
            root: draw_chain_number(),
            generation: 0,
        }
    }
}

fn draw_chain_number() -> u64 {
    static CHAINS: AtomicU64 = AtomicU64::new(UNDRAWN + 1);
    CHAINS.fetch_add(1, Ordering::Relaxed)
}

/// What a publish made on this thread now belongs to, and whose handler made it.
pub(super) struct Origin {
    pub(super) lineage: Lineage,
    /// The tag id of the plugin whose handler published; 0 when no handler did.
    pub(super) plugin: u64,
}

impl Origin {
    /// The origin of an event published now: the next generation of the chain being
    /// dispatched on this thread, or a new chain.
    pub(super) fn of_publish() -> Origin {
        let lineage = LINEAGE.with(|current| match current.get() {
            Some(mut parent) => {
                if parent.root == UNDRAWN {
                    parent.root = draw_chain_number();
                    current.set(Some(parent));
                }
                Lineage {
                    root: parent.root,
                    generation: parent.generation + 1,
                }
            }
            None => Lineage::new_chain(),
        });
        Origin {
            lineage,
            plugin: PLUGIN.with(Cell::get),
        }
    }
}

/// Marks this thread as dispatching an event of `lineage` while it lives.
pub(super) struct InLineage(Option<Lineage>);

impl InLineage {
    pub(super) fn enter(lineage: Lineage) -> InLineage {
        InLineage(LINEAGE.with(|current| current.replace(Some(lineage))))
    }

    /// For a synchronous publish: the event starts a chain (numbered only if it needs to be),
    /// unless this thread already dispatches one (a handler publishing synchronously stays in
    /// its chain).
    pub(super) fn enter_unless_in_one() -> Option<InLineage> {
        LINEAGE.with(|current| {
            current.get().is_none().then(|| {
                InLineage(current.replace(Some(Lineage {
                    root: UNDRAWN,
                    generation: 0,
                })))
            })
        })
    }
}

impl Drop for InLineage {
    fn drop(&mut self) {
        let previous = self.0;
        LINEAGE.with(|current| current.set(previous));
    }
}

/// Marks this thread as running a handler of the plugin with tag id `plugin` (0: the host's
/// own) while it lives.
pub(super) struct InHandler(u64);

impl InHandler {
    pub(super) fn enter(plugin: u64) -> InHandler {
        InHandler(PLUGIN.with(|current| current.replace(plugin)))
    }
}

impl Drop for InHandler {
    fn drop(&mut self) {
        let previous = self.0;
        PLUGIN.with(|current| current.set(previous));
    }
}
