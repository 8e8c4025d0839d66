//! One shard: two slabs in fixed chunks (the keys' 64-byte entries, and their rings at the same
//! positions), an open-addressing index of slab positions, and the two lists of the segmented
//! LRU threaded through the entries by `u32` positions.

use super::window::{Params, Rings, Window};
use super::{Counters, Event, Key, KeyKind};
use crate::xxh3::{hash8, seed_flip};

/// End of a list.
const NIL: u32 = u32::MAX;
/// Lines [`Shard::eviction_lines`] names.
pub(super) const EVICTION_LINES: usize = 4;
/// Entries per slab chunk: the slab grows without ever moving an entry.
const CHUNK: u32 = 256;
const PROBATION: usize = 0;
const PROTECTED: usize = 1;

/// One tracked key's header: the key, the links and the window's header, in one cache line
/// (the line every eviction reads). Its rings are at the same position of the rings slab.
#[derive(Clone, Debug, bytemuck::Zeroable)]
#[repr(C, align(64))]
pub(super) struct Entry {
    value: u64,
    kind: KeyKind,
    protected: bool,
    prev: u32,
    next: u32,
    window: Window,
}

#[derive(Clone, Copy, Debug)]
struct List {
    head: u32,
    tail: u32,
    len: u32,
}

/// Why a key left the shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Eviction {
    Expired,
    Lru,
}

/// What [`Shard::record`] did, for the statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Late,
    Counted {
        new_key: bool,
        evicted: Option<Eviction>,
    },
}

/// The seeded 64-bit hash of a key: the shard from bits 32.., the index slot from the low bits.
/// XXH3-64 of the value's 8 bytes, under a seed of its own for each kind of key.
pub(super) fn key_hash(key: Key, seed: u64) -> u64 {
    let kind_seed = seed ^ (key.kind as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    hash8(key.value, seed_flip(kind_seed))
}

/// Index slots for a shard of `cap` keys: a power of two, at least twice `cap` (load ≤ 0.5,
/// so that a new key's linear probe, the eviction's back-shift and the insert each read two
/// slots or so on average; at 0.8 they read nine), fewer than four times it (under 32 bytes a
/// key).
pub(super) fn index_slots(cap: usize) -> usize {
    cap.saturating_mul(2)
        .checked_next_power_of_two()
        .unwrap_or(usize::MAX)
}

/// The index slot a probe for a key whose hash has the low 32 bits `tag` starts at.
fn home(tag: u32, mask: usize) -> usize {
    tag as usize & mask
}

/// A shard's index as an address range ([`Shard::index_place`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct IndexPlace {
    address: usize,
    mask: usize,
}

impl IndexPlace {
    /// The address of the index slot a key with this hash starts its probe at.
    pub fn home_slot(&self, hash: u64) -> usize {
        self.address + home(hash as u32, self.mask) * std::mem::size_of::<u64>()
    }
}

/// Up to `cap` keys and their counters.
#[derive(Debug)]
pub(super) struct Shard {
    chunks: Vec<Box<[Entry]>>,
    /// The rings of the entries, chunk for chunk.
    rings: Vec<Box<[Rings]>>,
    len: u32,
    cap: u32,
    protected_cap: u32,
    /// `(low 32 bits of the key hash) << 32 | (slab position + 1)`; 0 is empty. Load ≤ 0.5.
    table: Box<[u64]>,
    /// The index slot value of the key evicted last, if it is still in `table` (else 0).
    /// Removing it means a lookup that misses the cache; it waits for the shard's next call,
    /// where it overlaps with that call's own lookup instead of following the eviction's.
    /// Meanwhile it names a position that holds another key (or the same key again, at the
    /// same position), so [`Shard::find`], which compares keys, passes over it.
    stale: u64,
    mask: usize,
    lists: [List; 2],
    /// The newest second counted in this shard: expiry is judged against it.
    clock: u32,
}

impl Shard {
    /// An empty shard for `cap ≥ 1` keys; only the index is allocated up front.
    pub fn new(cap: u32) -> Shard {
        let slots = index_slots(cap as usize);
        let empty = List {
            head: NIL,
            tail: NIL,
            len: 0,
        };
        Shard {
            chunks: Vec::new(),
            rings: Vec::new(),
            len: 0,
            cap,
            protected_cap: cap - (cap / 5).max(1),
            table: vec![0; slots].into_boxed_slice(),
            stale: 0,
            mask: slots - 1,
            lists: [empty; 2],
            clock: 0,
        }
    }

    fn entry(&self, i: u32) -> &Entry {
        &self.chunks[(i / CHUNK) as usize][(i % CHUNK) as usize]
    }

    fn entry_mut(&mut self, i: u32) -> &mut Entry {
        &mut self.chunks[(i / CHUNK) as usize][(i % CHUNK) as usize]
    }

    fn rings(&self, i: u32) -> &Rings {
        &self.rings[(i / CHUNK) as usize][(i % CHUNK) as usize]
    }

    /// Entry `i` and its rings.
    fn entry_and_rings(&mut self, i: u32) -> (&mut Entry, &mut Rings) {
        let (c, k) = ((i / CHUNK) as usize, (i % CHUNK) as usize);
        (&mut self.chunks[c][k], &mut self.rings[c][k])
    }

    /// Counts `event` (at `second`; `None` when its timestamp is unusable) for `key`.
    pub fn record(
        &mut self,
        key: Key,
        hash: u64,
        second: Option<u32>,
        event: &Event,
        p: &Params,
    ) -> (Counters, Outcome) {
        if self.stale != 0 {
            // Start this key's lookup (its first probe is a likely cache miss) before removing the
            // stale slot (another), so that the two misses overlap.
            std::hint::black_box(self.table[self.home(hash as u32)]);
            self.drop_stale();
        }
        let found = self.find(hash, key);
        match (found, second) {
            (Some(i), _) => {
                let w = &self.entry(i).window;
                let Some(s) = second.filter(|&s| !w.is_late(Some(s), p)) else {
                    let late = Counters {
                        late: true,
                        ..w.counters_at(self.rings(i), w.now(), p)
                    };
                    return (late, Outcome::Late);
                };
                self.touch(i);
                let (e, r) = self.entry_and_rings(i);
                let counters = e.window.count(r, s, event.callee, event.duration, p);
                let outcome = Outcome::Counted {
                    new_key: false,
                    evicted: None,
                };
                self.clock = self.clock.max(s);
                (counters, outcome)
            }
            (None, None) => {
                let late = Counters {
                    late: true,
                    ..Counters::default()
                };
                (late, Outcome::Late)
            }
            (None, Some(s)) => {
                self.clock = self.clock.max(s);
                let (i, evicted) = if self.len < self.cap {
                    (self.grow(), None)
                } else {
                    let (victim, why) = self.victim(p);
                    self.evict(victim, p);
                    (victim, Some(why))
                };
                let (e, r) = self.entry_and_rings(i);
                (e.value, e.kind) = (key.value, key.kind);
                e.window.reset(s);
                let counters = e.window.count(r, s, event.callee, event.duration, p);
                self.push_front(i, false);
                self.insert_index(hash, i);
                let outcome = Outcome::Counted {
                    new_key: true,
                    evicted,
                };
                (counters, outcome)
            }
        }
    }

    /// Where the index lies, for a prefetch without the lock: the index is allocated once,
    /// with the shard, and never moves.
    pub fn index_place(&self) -> IndexPlace {
        IndexPlace {
            address: self.table.as_ptr() as usize,
            mask: self.mask,
        }
    }

    /// The address of the index slot a key with this hash starts its probe at.
    #[cfg(test)]
    pub fn home_slot_address(&self, hash: u64) -> usize {
        std::ptr::from_ref(&self.table[self.home(hash as u32)]) as usize
    }

    /// Whether the shard holds `cap` keys. Once full it stays full: keys only leave to make
    /// room for new ones.
    pub fn is_full(&self) -> bool {
        self.len == self.cap
    }

    /// The addresses of the cache lines the next new key at this full shard reads besides its
    /// own index slot: the slot of the key evicted last (while its removal waits), the entry
    /// at each LRU end, and the probation end's neighbour, which unlinking that end writes
    /// (0: none). Read from lines the last call left in cache, for [`Velocity::prefetch`] to
    /// use without the lock: a call of a tracked key may move the ends before the next new key
    /// comes, and a prefetch of a stale line costs a little bandwidth, nothing else.
    ///
    /// [`Velocity::prefetch`]: super::Velocity::prefetch
    pub fn eviction_lines(&self) -> [usize; EVICTION_LINES] {
        let entry = |i: u32| {
            if i == NIL {
                0
            } else {
                std::ptr::from_ref(self.entry(i)) as usize
            }
        };
        let stale = if self.stale == 0 {
            0
        } else {
            std::ptr::from_ref(&self.table[self.home((self.stale >> 32) as u32)]) as usize
        };
        let tail = self.lists[PROBATION].tail;
        let neighbour = if tail == NIL {
            NIL
        } else {
            self.entry(tail).prev
        };
        [
            stale,
            entry(tail),
            entry(neighbour),
            entry(self.lists[PROTECTED].tail),
        ]
    }

    /// The address of `key`'s entry, if tracked (tests only).
    #[cfg(test)]
    pub fn entry_address(&self, key: Key, hash: u64) -> Option<usize> {
        Some(std::ptr::from_ref(self.entry(self.find(hash, key)?)) as usize)
    }

    /// The counters of `key` at `second` (or its own newest second, if later or `None`).
    pub fn peek(&self, key: Key, hash: u64, second: Option<u32>, p: &Params) -> Option<Counters> {
        let i = self.find(hash, key)?;
        let w = &self.entry(i).window;
        Some(w.counters_at(self.rings(i), second.unwrap_or(0).max(w.now()), p))
    }

    /// Takes the next unused slab position (the caller checked `len < cap`).
    ///
    /// A chunk comes zeroed from the allocator (for a large chunk, fresh pages the kernel
    /// zeroes as they are first touched), not written entry by entry: a new key's call writes
    /// the key, the window's header and the links before anything reads them, and the rings
    /// are stale until the header says otherwise.
    fn grow(&mut self) -> u32 {
        let i = self.len;
        if i % CHUNK == 0 {
            let n = CHUNK.min(self.cap - i) as usize;
            self.chunks.push(bytemuck::zeroed_slice_box(n));
            self.rings.push(bytemuck::zeroed_slice_box(n));
        }
        self.len += 1;
        i
    }

    /// The key to make room for a new one: an expired key at the LRU end of probation, then of
    /// the protected segment; else the LRU end of probation; else of the protected segment.
    fn victim(&self, p: &Params) -> (u32, Eviction) {
        let (probation, protected) = (self.lists[PROBATION].tail, self.lists[PROTECTED].tail);
        let expired = |i: u32| i != NIL && p.expired(self.entry(i).window.now(), self.clock);
        if expired(probation) {
            (probation, Eviction::Expired)
        } else if expired(protected) {
            (protected, Eviction::Expired)
        } else if probation != NIL {
            (probation, Eviction::Lru)
        } else {
            (protected, Eviction::Lru)
        }
    }

    /// Takes key `i` out of its segment; its index slot goes at the next call (see `stale`).
    fn evict(&mut self, i: u32, p: &Params) {
        let e = self.entry(i);
        let hash = key_hash(
            Key {
                kind: e.kind,
                value: e.value,
            },
            p.seed,
        );
        debug_assert_eq!(self.stale, 0);
        self.stale = hash << 32 | u64::from(i + 1);
        self.unlink(i);
    }

    /// Removes the index slot of the key evicted last.
    fn drop_stale(&mut self) {
        let (stale, i) = (self.stale, (self.stale as u32).wrapping_sub(1));
        // Should the new key at `i` have the same tag, either slot may go: they are equal.
        if let Some(pos) = self.position(stale >> 32, |_, j| j == i) {
            self.remove_index(pos);
        }
        self.stale = 0;
    }

    /// A counted call: to the front of the protected segment, which, if that overflows it,
    /// sends the protected segment's LRU key back to the front of probation.
    fn touch(&mut self, i: u32) {
        if self.lists[PROTECTED].head == i {
            return;
        }
        self.unlink(i);
        self.push_front(i, true);
        if self.lists[PROTECTED].len > self.protected_cap {
            let demoted = self.lists[PROTECTED].tail;
            self.unlink(demoted);
            self.push_front(demoted, false);
        }
    }

    fn unlink(&mut self, i: u32) {
        let e = self.entry(i);
        let (prev, next, l) = (e.prev, e.next, usize::from(e.protected));
        if prev == NIL {
            self.lists[l].head = next;
        } else {
            self.entry_mut(prev).next = next;
        }
        if next == NIL {
            self.lists[l].tail = prev;
        } else {
            self.entry_mut(next).prev = prev;
        }
        self.lists[l].len -= 1;
    }

    fn push_front(&mut self, i: u32, protected: bool) {
        let l = usize::from(protected);
        let head = self.lists[l].head;
        let e = self.entry_mut(i);
        (e.prev, e.next, e.protected) = (NIL, head, protected);
        if head == NIL {
            self.lists[l].tail = i;
        } else {
            self.entry_mut(head).prev = i;
        }
        self.lists[l].head = i;
        self.lists[l].len += 1;
    }

    fn home(&self, tag: u32) -> usize {
        home(tag, self.mask)
    }

    /// The index slot holding a position with this hash that `is` accepts.
    fn position(&self, hash: u64, is: impl Fn(&Shard, u32) -> bool) -> Option<usize> {
        let tag = hash as u32;
        let mut pos = self.home(tag);
        for _ in 0..self.table.len() {
            let v = self.table[pos];
            if v == 0 {
                return None;
            }
            if (v >> 32) as u32 == tag && is(self, (v as u32).wrapping_sub(1)) {
                return Some(pos);
            }
            pos = (pos + 1) & self.mask;
        }
        None
    }

    fn find(&self, hash: u64, key: Key) -> Option<u32> {
        let same = |s: &Shard, i: u32| {
            let e = s.entry(i);
            e.value == key.value && e.kind == key.kind
        };
        let pos = self.position(hash, same)?;
        Some((self.table[pos] as u32).wrapping_sub(1))
    }

    fn insert_index(&mut self, hash: u64, i: u32) {
        let tag = hash as u32;
        let mut pos = self.home(tag);
        // Load stays at most 0.5, so an empty slot is always found.
        for _ in 0..self.table.len() {
            if self.table[pos] == 0 {
                self.table[pos] = u64::from(tag) << 32 | u64::from(i + 1);
                return;
            }
            pos = (pos + 1) & self.mask;
        }
    }

    /// Empties slot `hole`, shifting back later entries of its probe run (no tombstones).
    fn remove_index(&mut self, mut hole: usize) {
        let mut j = hole;
        for _ in 0..self.table.len() {
            j = (j + 1) & self.mask;
            let v = self.table[j];
            if v == 0 {
                break;
            }
            let home = self.home((v >> 32) as u32);
            // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
            let stays = if hole < j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.table[hole] = v;
                hole = j;
            }
        }
        self.table[hole] = 0;
    }

    /// Checks every structural invariant (tests only).
    #[cfg(test)]
    pub fn check(&self, p: &Params) {
        let mut seen = vec![false; self.len as usize];
        for (l, list) in self.lists.iter().enumerate() {
            let (mut i, mut prev, mut n) = (list.head, NIL, 0);
            while i != NIL {
                let e = self.entry(i);
                assert_eq!((e.prev, usize::from(e.protected)), (prev, l));
                assert!(!std::mem::replace(&mut seen[i as usize], true));
                let key = Key {
                    kind: e.kind,
                    value: e.value,
                };
                assert_eq!(self.find(key_hash(key, p.seed), key), Some(i));
                e.window.check(self.rings(i));
                (prev, i, n) = (i, e.next, n + 1);
            }
            assert_eq!((list.tail, list.len), (prev, n));
        }
        assert!(seen.iter().all(|&s| s));
        assert!(self.lists[PROTECTED].len <= self.protected_cap);
        let used = self.table.iter().filter(|&&v| v != 0).count();
        assert_eq!(used, self.len as usize + usize::from(self.stale != 0));
        assert!(self.stale == 0 || self.table.contains(&self.stale));
    }

    /// The keys of a segment, most recently counted first (tests only).
    #[cfg(test)]
    pub fn segment(&self, protected: bool) -> Vec<Key> {
        let mut out = Vec::new();
        let mut i = self.lists[usize::from(protected)].head;
        while i != NIL {
            let e = self.entry(i);
            out.push(Key {
                kind: e.kind,
                value: e.value,
            });
            i = e.next;
        }
        out
    }
}

/// Bytes of one key's entry and rings.
pub(super) const ENTRY_BYTES: usize = ENTRY_HEADER_BYTES + std::mem::size_of::<Rings>();
/// Bytes of one key's entry: one cache line.
pub(super) const ENTRY_HEADER_BYTES: usize = std::mem::size_of::<Entry>();
