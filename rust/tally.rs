//! Counters that every scoring thread bumps: one row of cells per shard, each thread adding
//! to its own row, so two threads scoring at once do not fight over one cache line per call.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Rows of cells; a thread keeps to one row for its life.
const SHARDS: usize = 8;
/// Cells per cache-line pair (128 bytes): rows are whole lines.
const LINE_CELLS: usize = 16;

/// A cache-line pair of cells, aligned so that no two rows share a line (nor the adjacent
/// line the hardware prefetches with it).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Line([AtomicU64; LINE_CELLS]);

/// A fixed number of `u64` counters, sharded by thread. Memory: `8 × slots` cells rounded up
/// to 128 bytes per row.
#[derive(Debug)]
pub struct ShardedCounters {
    slots: usize,
    /// Lines per row.
    stride: usize,
    lines: Box<[Line]>,
}

impl ShardedCounters {
    /// `slots` counters at zero.
    pub fn new(slots: usize) -> ShardedCounters {
        let stride = slots.div_ceil(LINE_CELLS).max(1);
        ShardedCounters {
            slots,
            stride,
            lines: (0..SHARDS * stride).map(|_| Line::default()).collect(),
        }
    }

    /// The cell of counter `slot` in row `shard`.
    #[inline]
    fn cell(&self, shard: usize, slot: usize) -> Option<&AtomicU64> {
        let line = self.lines.get(shard * self.stride + slot / LINE_CELLS)?;
        line.0.get(slot % LINE_CELLS)
    }

    /// Number of counters.
    pub fn len(&self) -> usize {
        self.slots
    }

    /// Whether there are no counters.
    pub fn is_empty(&self) -> bool {
        self.slots == 0
    }

    /// Adds `n` to counter `slot` (ignored when out of range).
    #[inline]
    pub fn add(&self, slot: usize, n: u64) {
        if slot < self.slots {
            if let Some(cell) = self.cell(thread_shard(), slot) {
                cell.fetch_add(n, Relaxed);
            }
        }
    }

    /// Counter `slot` summed over the shards (0 when out of range).
    pub fn get(&self, slot: usize) -> u64 {
        if slot >= self.slots {
            return 0;
        }
        (0..SHARDS)
            .filter_map(|s| self.cell(s, slot))
            .map(|c| c.load(Relaxed))
            .fold(0u64, u64::wrapping_add)
    }
}

/// This thread's row, assigned round-robin on first use.
#[inline]
fn thread_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Relaxed) % SHARDS;
    }
    SHARD.try_with(|s| *s).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn sums_over_threads() {
        let c = Arc::new(ShardedCounters::new(3));
        let threads: Vec<_> = (0..12)
            .map(|t| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        c.add(i % 3, 1);
                    }
                    c.add(2, t);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(c.get(0), 12 * 334);
        assert_eq!(c.get(1), 12 * 333);
        assert_eq!(c.get(2), 12 * 333 + (0..12).sum::<u64>());
        assert_eq!(c.get(3), 0);
        c.add(3, 5); // out of range: ignored
        assert_eq!(c.get(3), 0);
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn rows_never_share_a_cache_line() {
        let c = ShardedCounters::new(17);
        let addr = |shard, slot| c.cell(shard, slot).map(|a| a as *const AtomicU64 as usize);
        assert_eq!(addr(0, 0).map(|a| a % 128), Some(0));
        for shard in 0..SHARDS - 1 {
            let (last, next) = (addr(shard, 16), addr(shard + 1, 0));
            assert!(
                next.unwrap() / 128 > last.unwrap() / 128,
                "rows {shard} and {}",
                shard + 1
            );
        }
    }
}
