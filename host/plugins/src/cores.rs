//! Per-plugin work spread over the machine's cores, for start-up.
//!
//! Finding 200 plugin folders and compiling their hooks is independent work per plugin, and
//! was most of a start-up on one core while the other idled. [`on_every_core_in_order`] runs
//! such work on scoped threads that each take the next item until none is left (plugins
//! differ in cost, so fixed halves would leave one core waiting), and hands the results to
//! the calling thread in the items' order as soon as each is ready, so that what follows
//! (registering, warnings) keeps the documented load order whichever thread did the work,
//! and overlaps with the work still running: registering the first plugins while the other
//! core compiles the last ones.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};

/// `work` applied to each of `items`, in their order, on every core ([`on_every_core_in_order`]).
pub(crate) fn on_every_core<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    on_every_core_in_order(
        items,
        work,
        || Vec::with_capacity(items.len()),
        |results, _, result| results.push(result),
    )
}

/// Applies `work` to each of `items` on up to as many threads as there are cores (this thread
/// included), and calls `take` on this thread with each item and its result, in the items'
/// order, as soon as that result is ready: while the next one is not, this thread does the
/// work of the next item nobody has taken. One item, one core, or a thread that cannot
/// start: everything runs here. A helper thread whose work panics stops, and leaves that
/// item to this thread, which runs it again (and so panics as a one-thread run would).
///
/// `first` runs on this thread once the helpers have started, before any result is taken,
/// and makes what `take` adds to (returned at the end): what must come before the results
/// (registering the built-in plugins before the plugins) overlaps with the helpers' work
/// rather than keeping the other cores idle until it is done.
pub(crate) fn on_every_core_in_order<T: Sync, R: Send, S>(
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
    first: impl FnOnce() -> S,
    mut take: impl FnMut(&mut S, &T, R),
) -> S {
    let helpers = cores().min(items.len()).saturating_sub(1);
    if helpers == 0 {
        let mut taken = first();
        items
            .iter()
            .for_each(|item| take(&mut taken, item, work(item)));
        return taken;
    }
    let shared = Shared {
        next: AtomicUsize::new(0),
        state: Mutex::new(State {
            slots: items.iter().map(|_| Slot::Pending).collect(),
            caller_waits: false,
        }),
        ready: Condvar::new(),
    };
    std::thread::scope(|scope| {
        for _ in 0..helpers {
            let _ = std::thread::Builder::new()
                .name("plugins".into())
                .spawn_scoped(scope, || shared.help(items, &work));
        }
        let mut taken = first();
        for (index, item) in items.iter().enumerate() {
            let result = shared.result(index, items, &work);
            take(&mut taken, item, result);
        }
        taken
    })
}

/// What the threads of one [`on_every_core_in_order`] share.
struct Shared<R> {
    /// The next item nobody has taken.
    next: AtomicUsize,
    state: Mutex<State<R>>,
    /// Signalled when a helper fills a slot the calling thread waits for.
    ready: Condvar,
}

/// The results, and whether anyone waits for them.
struct State<R> {
    slots: Vec<Slot<R>>,
    /// Whether the calling thread waits on `ready`. A helper signals only then: a signal is
    /// a system call whether anyone waits or not (std's `Condvar` keeps no count of waiters),
    /// one per plugin and phase at start-up otherwise, where the caller waits only for the
    /// last few items. Read and written under the lock, so that a helper filling a slot
    /// either sees the caller waiting or the caller sees the slot filled.
    caller_waits: bool,
}

/// Where an item's result is, by the item's place.
enum Slot<R> {
    /// Not done yet (or not taken by anyone yet).
    Pending,
    Done(R),
    /// The helper that took it panicked.
    Lost,
    /// Handed to `take`.
    Taken,
}

impl<R> Shared<R> {
    fn state(&self) -> MutexGuard<'_, State<R>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next item nobody has taken, now taken by the caller.
    fn claim<'i, T>(&self, items: &'i [T]) -> Option<(usize, &'i T)> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        items.get(index).map(|item| (index, item))
    }

    /// A helper thread: does the next item nobody has taken until none is left.
    fn help<T>(&self, items: &[T], work: &(impl Fn(&T) -> R + Sync)) {
        while let Some((index, item)) = self.claim(items) {
            let outcome = catch_unwind(AssertUnwindSafe(|| work(item)));
            let lost = outcome.is_err();
            let caller_waits = {
                let mut state = self.state();
                state.slots[index] = outcome.map_or(Slot::Lost, Slot::Done);
                state.caller_waits
            };
            if caller_waits {
                self.ready.notify_one();
            }
            if lost {
                return;
            }
        }
    }

    /// The result of item `index` on the calling thread, doing other items' work while it
    /// is not ready.
    fn result<T>(&self, index: usize, items: &[T], work: &impl Fn(&T) -> R) -> R {
        loop {
            let mut state = self.state();
            match std::mem::replace(&mut state.slots[index], Slot::Taken) {
                Slot::Done(result) => return result,
                Slot::Lost => {
                    drop(state);
                    return work(&items[index]);
                }
                Slot::Taken => unreachable!("each result is taken once"),
                Slot::Pending => state.slots[index] = Slot::Pending,
            }
            drop(state);
            match self.claim(items) {
                Some((claimed, item)) => {
                    let result = work(item);
                    if claimed == index {
                        return result;
                    }
                    self.state().slots[claimed] = Slot::Done(result);
                }
                // Every item is taken, this one by a helper still at it.
                None => {
                    let mut state = self.state();
                    state.caller_waits = true;
                    let mut state = self
                        .ready
                        .wait_while(state, |state| matches!(state.slots[index], Slot::Pending))
                        .unwrap_or_else(|e| e.into_inner());
                    state.caller_waits = false;
                }
            }
        }
    }
}

/// The cores this process may use, asked once: the answer reads the cgroup's CPU quota
/// (three files, 40 to 90 µs on a VM), which a start-up that spreads two kinds of work would
/// otherwise read twice. [`crate::count_cores`] asks ahead, from a thread that would wait.
pub(crate) fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Uneven work, so that threads interleave.
    fn square_slowly(n: &u64) -> u64 {
        (0..(n % 7) * 1000).for_each(|i| {
            std::hint::black_box(i);
        });
        n * n
    }

    /// Waits (at most 10 s) until a helper has counted something in `count`; at once on a
    /// machine of one core, where there is no helper.
    fn wait_for_a_helper(count: &AtomicUsize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while cores() > 1
            && count.load(Ordering::SeqCst) == 0
            && std::time::Instant::now() < deadline
        {
            std::thread::yield_now();
        }
    }

    #[test]
    fn results_come_in_the_items_order_whatever_thread_made_them() {
        let items: Vec<u64> = (0..1000).collect();
        let squares = on_every_core(&items, square_slowly);
        assert_eq!(squares, items.iter().map(|n| n * n).collect::<Vec<_>>());
        assert_eq!(on_every_core(&[] as &[u8], |_| 1), Vec::<i32>::new());
    }

    #[test]
    fn each_result_is_taken_with_its_item_in_order() {
        let items: Vec<u64> = (0..1000).collect();
        let taken = on_every_core_in_order(
            &items,
            square_slowly,
            || vec![(0, 0)],
            |taken, item, square| taken.push((*item, square)),
        );
        let first_then_in_order: Vec<_> = [(0, 0)]
            .into_iter()
            .chain(items.iter().map(|n| (*n, n * n)))
            .collect();
        assert_eq!(taken, first_then_in_order);
    }

    #[test]
    fn an_item_whose_work_panics_on_a_helper_is_done_again_here() {
        // Every item panics on a helper thread and works on the calling thread: each helper
        // stops at its first item, and every result still arrives, in order. The calling
        // thread's first item waits for a helper to have failed, so that one surely did.
        let caller = std::thread::current().id();
        let panics = AtomicUsize::new(0);
        let items: Vec<u64> = (0..500).collect();
        let taken = on_every_core_in_order(
            &items,
            |n| {
                if std::thread::current().id() != caller {
                    panics.fetch_add(1, Ordering::SeqCst);
                    panic!("item {n} fails on a helper");
                }
                wait_for_a_helper(&panics);
                square_slowly(n)
            },
            Vec::new,
            |taken, item, square| taken.push((*item, square)),
        );
        assert_eq!(taken, items.iter().map(|n| (*n, n * n)).collect::<Vec<_>>());
        assert_eq!(panics.into_inner() > 0, cores() > 1);
    }

    #[test]
    fn first_runs_here_while_the_helpers_already_work() {
        // `first` waits for a helper to have finished an item: it can only see one if the
        // helpers started before it ran.
        let caller = std::thread::current().id();
        let by_helpers = AtomicUsize::new(0);
        let items: Vec<u64> = (0..100).collect();
        let seen_in_first = on_every_core_in_order(
            &items,
            |n| {
                if std::thread::current().id() != caller {
                    by_helpers.fetch_add(1, Ordering::SeqCst);
                }
                square_slowly(n)
            },
            || {
                wait_for_a_helper(&by_helpers);
                by_helpers.load(Ordering::SeqCst)
            },
            |_, _, _| {},
        );
        assert_eq!(seen_in_first > 0, cores() > 1);
    }
}
