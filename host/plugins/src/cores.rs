//! Per-plugin work spread over the machine's cores, for start-up.
//!
//! Finding 200 plugin folders and compiling their hooks is independent work per plugin, and
//! was most of a start-up on one core while the other idled. [`on_every_core`] runs such
//! work on scoped threads that each take the next item until none is left (plugins differ in
//! cost, so fixed halves would leave one core waiting), and returns the results in the
//! items' order, so that what follows (version selection, registering, warnings) keeps the
//! documented load order whichever thread did the work.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// `work` applied to each of `items`, in their order, on up to as many threads as there are
/// cores (this thread included). One item, one core, or a thread that cannot start: the
/// work runs here. A helper thread that panics leaves its items to this thread, which runs
/// them again (and so panics as a one-thread run would).
pub(crate) fn on_every_core<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if items.len() < 2 {
        return items.iter().map(work).collect();
    }
    let helpers = cores().min(items.len()) - 1;
    let next = AtomicUsize::new(0);
    let take_until_done = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(index) else {
                return done;
            };
            done.push((index, work(item)));
        }
    };
    let mut results: Vec<Option<R>> = items.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let spawned: Vec<_> = (0..helpers)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .name("plugins".into())
                    .spawn_scoped(scope, take_until_done)
                    .ok()
            })
            .collect();
        let mut done = take_until_done();
        for helper in spawned {
            done.extend(helper.join().unwrap_or_default());
        }
        for (index, result) in done {
            results[index] = Some(result);
        }
    });
    items
        .iter()
        .zip(results)
        .map(|(item, result)| result.unwrap_or_else(|| work(item)))
        .collect()
}

/// The cores this process may use, asked once: the answer reads the cgroup's CPU quota
/// (three files), which a start-up that spreads two kinds of work would otherwise read twice.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_the_items_order_whatever_thread_made_them() {
        let items: Vec<u64> = (0..1000).collect();
        let squares = on_every_core(&items, |n| {
            // Uneven work, so that threads interleave.
            (0..(n % 7) * 1000).for_each(|i| {
                std::hint::black_box(i);
            });
            n * n
        });
        assert_eq!(squares, items.iter().map(|n| n * n).collect::<Vec<_>>());
        assert_eq!(on_every_core(&[] as &[u8], |_| 1), Vec::<i32>::new());
    }
}
