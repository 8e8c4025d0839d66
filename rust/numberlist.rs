//! Number lists: blocklists, do-not-originate lists, allowlists and partners' shared filters.
//!
//! A list is a compact, immutable base — a cache-line-blocked bloom filter in front of an exact
//! set, or the bloom filter alone for a partner's shared list — plus a small mutable delta of
//! numbers added or removed since. A definite answer never rests on the bloom filter: it comes
//! from the exact set or the delta; a bloom-only hit is [`Membership::Probable`].
//!
//! Lookups read the delta under a read lock taken only while the delta is non-empty, and the
//! base through a small per-thread cache of `Arc<Base>` checked against the list's current base
//! id (one plain atomic load, no shared write; see [`BASE_CACHE_LEN`]), falling back to the
//! `ArcSwap` that holds the base when the id is not cached. [`NumberList::compact`] folds the delta into a new base and swaps
//! it in; the delta is bounded by [`MAX_DELTA`] entries, past which an update compacts first.

use crate::bloom::{BlockedBloom, BloomParams, HASH_VERSION, MIN_FPR};
use crate::exact::{rebuild, ExactSet};
use crate::persist::{self, FileWriter};
use crate::words::{map_file, Words};
use crate::{Error, Result};
use arc_swap::ArcSwap;
use std::cell::RefCell;
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

/// Most numbers the delta holds before an update compacts the list.
pub const MAX_DELTA: usize = 1 << 20;
/// Magic and format version of list files.
const LIST_MAGIC: &[u8; 8] = b"FCLIST\0\0";
const LIST_VERSION: u32 = 2;
/// Fixed words at the start of a list file's payload.
const META_WORDS: usize = 10;

/// Bases each thread keeps for lookups: the current base of every list it looked up lately.
///
/// Memory bound: a thread holds at most this many bases alive beyond the lists' own. A base a
/// compaction replaced, or whose list was dropped, stays alive in a thread's cache until that
/// thread next misses its cache (a new base of the same list is cached over it; dropped lists'
/// entries are swept on every miss), until 16 newer bases push it out, or until the thread
/// exits. Lookups of more than 16 lists in turn on one thread still answer correctly, through
/// the `ArcSwap`, only slower.
pub const BASE_CACHE_LEN: usize = 16;

/// Source of base ids. Never reused (2⁶⁴ of them), so a cached base whose id equals a list's
/// current base id *is* that base: no address reuse can alias it.
static NEXT_BASE_ID: AtomicU64 = AtomicU64::new(1);

/// One cached base: its id, the base, and a weak handle telling whether its list still lives.
struct CachedBase {
    id: u64,
    base: Arc<Base>,
    list: Weak<()>,
}

thread_local! {
    /// This thread's cached bases, most recently added last.
    static BASES: RefCell<Vec<CachedBase>> = const { RefCell::new(Vec::new()) };
}

/// Caches `base` of the list whose liveness token is `list`: drops the list's older base and
/// the bases of dropped lists, then the oldest entry if the cache is full.
fn cache_base(cache: &mut Vec<CachedBase>, base: Arc<Base>, list: &Arc<()>) {
    cache
        .retain(|e| e.list.strong_count() > 0 && !std::ptr::eq(e.list.as_ptr(), Arc::as_ptr(list)));
    if cache.len() >= BASE_CACHE_LEN {
        cache.remove(0);
    }
    cache.push(CachedBase {
        id: base.id,
        base,
        list: Arc::downgrade(list),
    });
}

/// What a list means to scoring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListKind {
    /// Confirmed fraud numbers: a hit blocks.
    Block,
    /// Do not originate: numbers that never place calls (bank hotlines); a hit blocks.
    Dno,
    /// Verified callers: a definite hit overrides list-based blocking.
    Allow,
    /// A partner operator's shared list: a hit raises the score.
    Partner,
}

impl ListKind {
    const ALL: [ListKind; 4] = [
        ListKind::Block,
        ListKind::Dno,
        ListKind::Allow,
        ListKind::Partner,
    ];

    /// `"block"`, `"dno"`, `"allow"` or `"partner"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ListKind::Block => "block",
            ListKind::Dno => "dno",
            ListKind::Allow => "allow",
            ListKind::Partner => "partner",
        }
    }

    /// Parses a kind name.
    pub fn parse(s: &str) -> Result<ListKind> {
        ListKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "kind",
                    format!("{s:?} is not one of block, dno, allow, partner"),
                )
            })
    }

    fn reason_prefix(self) -> &'static str {
        match self {
            ListKind::Block => "blocklist",
            ListKind::Dno => "dno",
            ListKind::Allow => "allowlist",
            ListKind::Partner => "partner",
        }
    }
}

/// The answer to "is this number on the list?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Membership {
    /// Not on the list.
    Absent,
    /// On the list, for certain (exact set or delta).
    Present,
    /// The bloom filter says so; wrong with the filter's false-positive rate.
    Probable,
}

/// The immutable compact part of a list.
#[derive(Debug)]
struct Base {
    /// Unique for the life of the process (see [`NEXT_BASE_ID`]).
    id: u64,
    bloom: BlockedBloom<Words>,
    exact: Option<ExactSet<Words>>,
    items: u64,
    fpr: f64,
}

impl Base {
    fn new(
        bloom: BlockedBloom<Words>,
        exact: Option<ExactSet<Words>>,
        items: u64,
        fpr: f64,
    ) -> Base {
        Base {
            id: NEXT_BASE_ID.fetch_add(1, Ordering::Relaxed),
            bloom,
            exact,
            items,
            fpr,
        }
    }

    fn build(keys: Vec<u64>, fpr: f64, seed: u64) -> Result<Base> {
        let exact = ExactSet::from_unsorted(keys);
        let params = BloomParams::for_capacity(exact.len() as u64, fpr, seed)?;
        let mut bloom = BlockedBloom::try_new(params)?;
        for k in exact.iter() {
            bloom.insert(k);
        }
        let items = exact.len() as u64;
        let exact = exact.map_words(Words::Owned);
        let bloom = bloom.map_words(Words::Owned);
        Ok(Base::new(bloom, Some(exact), items, fpr))
    }

    fn contains(&self, key: u64) -> Membership {
        if !self.bloom.contains(key) {
            return Membership::Absent;
        }
        match &self.exact {
            Some(e) if e.contains(key) => Membership::Present,
            Some(_) => Membership::Absent,
            None => Membership::Probable,
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Delta {
    added: HashSet<u64>,
    removed: HashSet<u64>,
}

/// A list's base as of [`NumberList::pin`].
#[derive(Clone, Debug)]
pub struct PinnedBase {
    id: u64,
    base: Arc<Base>,
}

/// The lists a policy's rules look numbers up in, by declaration index, with their bases
/// pinned when a batch holds them ([`Lists::pinned`]).
#[derive(Clone, Copy, Debug)]
pub struct Lists<'a> {
    lists: &'a [Arc<NumberList>],
    /// One per list, or none.
    pinned: &'a [PinnedBase],
}

impl<'a> Lists<'a> {
    /// No lists.
    pub const EMPTY: Lists<'static> = Lists {
        lists: &[],
        pinned: &[],
    };

    /// Lists looked up as [`NumberList::contains`] does.
    pub fn new(lists: &'a [Arc<NumberList>]) -> Lists<'a> {
        Lists { lists, pinned: &[] }
    }

    /// Lists looked up through bases pinned from them, one per list in order (see
    /// [`NumberList::contains_pinned`]); unpinned if the counts differ.
    pub fn pinned(lists: &'a [Arc<NumberList>], pinned: &'a [PinnedBase]) -> Lists<'a> {
        let pinned = if pinned.len() == lists.len() {
            pinned
        } else {
            &[]
        };
        Lists { lists, pinned }
    }

    /// Looks `key` up in list `idx`: its kind and the answer; `None` if there is no such list.
    #[inline]
    pub fn contains(&self, idx: usize, key: u64) -> Option<(ListKind, Membership)> {
        let list = self.lists.get(idx)?;
        let m = match self.pinned.get(idx) {
            Some(p) => list.contains_pinned(key, p),
            None => list.contains(key),
        };
        Some((list.kind(), m))
    }
}

/// A named number list with live updates. Share it behind an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct NumberList {
    name: Arc<str>,
    kind: ListKind,
    reason: Arc<str>,
    network_reason: Arc<str>,
    base: ArcSwap<Base>,
    /// Id of the base in `base`, stored after it: what lookups match their cache against.
    base_id: AtomicU64,
    /// Lives as long as the list: caches hold it weakly, to drop bases of dropped lists.
    token: Arc<()>,
    /// The base holds no number: lookups in an empty list skip it entirely.
    base_empty: AtomicBool,
    delta: RwLock<Delta>,
    delta_len: AtomicUsize,
    compacting: Mutex<()>,
}

impl NumberList {
    fn from_base(name: &str, kind: ListKind, base: Base) -> Result<NumberList> {
        let chars = name.chars().count();
        if chars == 0 || chars > 128 || name.chars().any(|c| c.is_control() || c == ':') {
            return Err(Error::invalid(
                "name",
                format!("{name:?}: 1 to 128 characters, no ':' or control characters"),
            ));
        }
        let reason = format!("{}:{name}", kind.reason_prefix());
        Ok(NumberList {
            name: name.into(),
            kind,
            network_reason: format!("{reason}:network_number").into(),
            reason: reason.into(),
            base_empty: AtomicBool::new(base.items == 0),
            base_id: AtomicU64::new(base.id),
            token: Arc::new(()),
            base: ArcSwap::from_pointee(base),
            delta: RwLock::new(Delta::default()),
            delta_len: AtomicUsize::new(0),
            compacting: Mutex::new(()),
        })
    }

    /// An exact list of `keys` (E.164 numbers as integers, any order, duplicates allowed),
    /// with a bloom filter sized for false-positive rate `fpr`.
    pub fn build(
        name: &str,
        kind: ListKind,
        keys: Vec<u64>,
        fpr: f64,
        seed: u64,
    ) -> Result<NumberList> {
        NumberList::from_base(name, kind, Base::build(keys, fpr, seed)?)
    }

    /// The list's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The list's kind.
    pub fn kind(&self) -> ListKind {
        self.kind
    }

    /// Reason identifier for a caller hit (`"blocklist:NAME"`, `"dno:NAME"`, ...).
    pub fn reason(&self) -> &Arc<str> {
        &self.reason
    }

    /// Reason identifier for a network-number hit (`"…:network_number"`).
    pub fn network_reason(&self) -> &Arc<str> {
        &self.network_reason
    }

    /// Whether the list holds its numbers exactly (false: bloom-only).
    pub fn is_exact(&self) -> bool {
        self.base.load().exact.is_some()
    }

    /// The false-positive rate the bloom filter was sized for.
    pub fn fpr(&self) -> f64 {
        self.base.load().fpr
    }

    /// The bloom filter's parameters.
    pub fn bloom_params(&self) -> BloomParams {
        self.base.load().bloom.params()
    }

    /// Bytes of the compact base (bloom filter plus exact set).
    pub fn size_bytes(&self) -> u64 {
        let b = self.base.load();
        b.bloom.params().size_bytes() + b.exact.as_ref().map_or(0, |e| e.size_bytes() as u64)
    }

    /// Entries in the delta (numbers added or removed since the last compaction).
    pub fn delta_len(&self) -> usize {
        self.delta_len.load(Ordering::Acquire)
    }

    /// Number of numbers on the list (for a bloom-only list: as inserted, plus the delta).
    pub fn len(&self) -> u64 {
        // Base and delta are read under the lock a compaction swaps them under.
        let d = self.delta.read().unwrap_or_else(|e| e.into_inner());
        let base = self.base.load();
        base.items
            .saturating_add(d.added.len() as u64)
            .saturating_sub(d.removed.len() as u64)
    }

    /// True if the list holds no numbers.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Looks a number up. Lock-free unless the delta is non-empty.
    #[inline]
    pub fn contains(&self, key: u64) -> Membership {
        self.lookup(key, None)
    }

    /// The current base, for [`NumberList::contains_pinned`]: a reference on it, so a caller
    /// that looks many numbers up (a batch) can skip the thread-local cache.
    pub fn pin(&self) -> PinnedBase {
        let base = self.base.load_full();
        PinnedBase { id: base.id, base }
    }

    /// [`NumberList::contains`], answered by `pinned` (taken from this list) while it is still
    /// the list's base: no thread-local lookup, which in the Python extension is a call into
    /// `__tls_get_addr` and a search of the cache. After a compaction, as `contains`.
    #[inline]
    pub fn contains_pinned(&self, key: u64, pinned: &PinnedBase) -> Membership {
        self.lookup(key, Some(pinned))
    }

    #[inline(always)]
    fn lookup(&self, key: u64, pinned: Option<&PinnedBase>) -> Membership {
        let delta = self.delta_len.load(Ordering::Acquire);
        if delta == 0 && self.base_empty.load(Ordering::Acquire) {
            return Membership::Absent;
        }
        if delta != 0 {
            let d = self.delta.read().unwrap_or_else(|e| e.into_inner());
            if d.removed.contains(&key) {
                return Membership::Absent;
            }
            if d.added.contains(&key) {
                return Membership::Present;
            }
        }
        match pinned {
            // The same check as the thread-local cache's: ids are never reused.
            Some(p) if self.base_id.load(Ordering::Acquire) == p.id => p.base.contains(key),
            _ => self.base_contains(key),
        }
    }

    /// Looks `key` up in the current base, through this thread's cache: no atomic
    /// read-modify-write and no write to memory other threads read.
    #[inline]
    fn base_contains(&self, key: u64) -> Membership {
        // Acquire pairs with the release in `compact`: the id read is of a base already stored.
        let id = self.base_id.load(Ordering::Acquire);
        let hit = BASES.try_with(|cell| {
            let cache = cell.try_borrow().ok()?;
            let entry = cache.iter().find(|e| e.id == id)?;
            Some(entry.base.contains(key))
        });
        match hit {
            Ok(Some(m)) => m,
            _ => self.base_contains_uncached(key),
        }
    }

    /// The lookup through the `ArcSwap`, caching the base for this thread's next lookups
    /// (unless the cache is gone, at thread exit, or borrowed).
    #[cold]
    #[inline(never)]
    fn base_contains_uncached(&self, key: u64) -> Membership {
        // At least as new as the id the caller read: `compact` stores the base before its id.
        let base = self.base.load_full();
        let m = base.contains(key);
        // Ignored when the thread's cache is gone or busy: the lookup is answered anyway.
        let _ = BASES.try_with(|cell| {
            if let Ok(mut cache) = cell.try_borrow_mut() {
                cache_base(&mut cache, base, &self.token);
            }
        });
        m
    }

    /// Adds a number. Returns whether the list changed.
    pub fn add(&self, key: u64) -> Result<bool> {
        self.update(key, true)
    }

    /// Removes a number. Returns whether the list changed. On a bloom-only list the removal is
    /// remembered in the delta (a bloom filter cannot forget).
    pub fn remove(&self, key: u64) -> Result<bool> {
        self.update(key, false)
    }

    fn update(&self, key: u64, add: bool) -> Result<bool> {
        if self.delta_len() >= MAX_DELTA {
            self.compact()?;
            if self.delta_len() >= MAX_DELTA {
                // Only a bloom-only list's removals survive a compaction.
                return Err(Error::invalid(
                    "list",
                    format!("{}: a bloom-only list holds at most {MAX_DELTA} removals; rebuild the filter", self.name),
                ));
            }
        }
        // Under the write lock the base cannot be swapped by a compaction.
        let mut d = self.delta.write().unwrap_or_else(|e| e.into_inner());
        let base = self.base.load();
        let hit = base.contains(key);
        let changed = if add {
            let was_removed = d.removed.remove(&key);
            was_removed || (hit != Membership::Present && d.added.insert(key))
        } else {
            let was_added = d.added.remove(&key);
            // A bloom-only base cannot forget: its removals stay in the delta.
            let removed = hit != Membership::Absent && d.removed.insert(key);
            was_added || removed
        };
        self.delta_len
            .store(d.added.len() + d.removed.len(), Ordering::Release);
        Ok(changed)
    }

    /// Folds the delta into a new compact base and swaps it in; concurrent lookups see the
    /// old base plus delta or the new base plus what is left of the delta, never a mix.
    pub fn compact(&self) -> Result<()> {
        let _one_at_a_time = self.compacting.lock().unwrap_or_else(|e| e.into_inner());
        let snapshot = self.delta.read().unwrap_or_else(|e| e.into_inner()).clone();
        if snapshot.added.is_empty() && snapshot.removed.is_empty() {
            return Ok(());
        }
        let base = self.base.load_full();
        let added: Vec<u64> = snapshot.added.iter().copied().collect();
        let removed: Vec<u64> = snapshot.removed.iter().copied().collect();
        let new_base = match &base.exact {
            Some(exact) => {
                let merged = rebuild(exact, &added, &removed);
                Base::build(merged.iter().collect(), base.fpr, base.bloom.params().seed)?
            }
            None => {
                let mut bloom = base.bloom.to_owned();
                for &k in &added {
                    bloom.insert(k);
                }
                Base::new(
                    bloom.map_words(Words::Owned),
                    None,
                    // A bloom-only file's count is unchecked (nothing to count it against).
                    base.items.saturating_add(added.len() as u64),
                    base.fpr,
                )
            }
        };
        let exact = new_base.exact.is_some();
        let mut d = self.delta.write().unwrap_or_else(|e| e.into_inner());
        // Set before the delta length drops to zero below, so a lookup that reads a zero delta
        // length (acquire) also reads this flag of the new base.
        let empty = new_base.items == 0;
        let id = new_base.id;
        self.base.store(Arc::new(new_base));
        // After the store: a lookup that reads this id finds the new base in the `ArcSwap`.
        self.base_id.store(id, Ordering::Release);
        self.base_empty.store(empty, Ordering::Release);
        // Reconcile with updates made while the new base was built: the new base holds the
        // snapshot's view, so a key changed since must be restated against it.
        for k in &snapshot.added {
            if !d.added.remove(k) {
                d.removed.insert(*k); // removed again meanwhile
            }
        }
        if exact {
            for k in &snapshot.removed {
                if !d.removed.remove(k) {
                    d.added.insert(*k); // added again meanwhile
                }
            }
        }
        self.delta_len
            .store(d.added.len() + d.removed.len(), Ordering::Release);
        Ok(())
    }

    /// Every number, ascending. Errors on a bloom-only list.
    pub fn numbers(&self) -> Result<Vec<u64>> {
        let base = self.base.load();
        let Some(exact) = &base.exact else {
            return Err(Error::invalid(
                "list",
                format!("{}: a bloom-only list cannot list its numbers", self.name),
            ));
        };
        let d = self.delta.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<u64> = exact.iter().filter(|k| !d.removed.contains(k)).collect();
        out.extend(d.added.iter().copied());
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// A bloom-only copy for sharing with partners, with agreed parameters: filters built with
    /// the same `capacity`, `fpr` and `seed` can be merged.
    pub fn to_filter(
        &self,
        name: &str,
        kind: ListKind,
        capacity: u64,
        fpr: f64,
        seed: u64,
    ) -> Result<NumberList> {
        let keys = self.numbers()?;
        let params = BloomParams::for_capacity(capacity.max(1), fpr, seed)?;
        let mut bloom = BlockedBloom::try_new(params)?;
        for &k in &keys {
            bloom.insert(k);
        }
        let base = Base::new(bloom.map_words(Words::Owned), None, keys.len() as u64, fpr);
        NumberList::from_base(name, kind, base)
    }

    /// The bitwise OR of two bloom filters built with identical parameters, as a new
    /// bloom-only list. Deltas are not carried over: compact first.
    pub fn merge(&self, other: &NumberList, name: &str) -> Result<NumberList> {
        if self.delta_len() != 0 || other.delta_len() != 0 {
            return Err(Error::invalid(
                "filter",
                "compact both lists before merging their filters",
            ));
        }
        let (a, b) = (self.base.load(), other.base.load());
        let mut bloom = a.bloom.to_owned();
        bloom.union_with(&b.bloom)?;
        let base = Base::new(
            bloom.map_words(Words::Owned),
            None,
            a.items.saturating_add(b.items),
            a.fpr.max(b.fpr),
        );
        NumberList::from_base(name, self.kind, base)
    }

    /// Saves the list (compacted view of base and delta) atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.compact()?;
        let pending = self.delta_len();
        if pending != 0 {
            return Err(Error::invalid(
                "list",
                format!("{}: {pending} removals from a bloom-only list cannot be saved in a filter; rebuild it", self.name),
            ));
        }
        let base = self.base.load();
        let params = base.bloom.params();
        let exact_words = base.exact.as_ref().map_or(&[][..], |e| e.words());
        let name = self.name.as_bytes();
        let kind = ListKind::ALL
            .iter()
            .position(|k| *k == self.kind)
            .unwrap_or(0) as u64;
        let meta: [u64; META_WORDS] = [
            kind,
            u64::from(base.exact.is_some()),
            u64::from(HASH_VERSION),
            params.blocks,
            u64::from(params.k),
            params.seed,
            base.items,
            base.fpr.to_bits(),
            name.len() as u64,
            exact_words.len() as u64,
        ];
        let mut w = FileWriter::create(path, LIST_MAGIC, LIST_VERSION)?;
        w.write_words(&meta)?;
        let mut padded = name.to_vec();
        padded.resize(name.len().div_ceil(8) * 8, 0);
        w.write(&padded)?;
        w.write_words(base.bloom.words())?;
        w.write_words(exact_words)?;
        w.finish()
    }

    /// Opens a list file through a memory map: the arrays are used in place, not copied.
    /// Truncated, corrupted and foreign files are refused with [`Error::Corrupt`].
    pub fn load(path: &Path) -> Result<NumberList> {
        let (name, kind, base) = NumberList::load_parts(path)?;
        // The name is the file's: one a list cannot have means a corrupt file, not a bad value.
        NumberList::from_base(&name, kind, base).map_err(|e| match e {
            Error::InvalidValue { message, .. } => Error::corrupt(
                path.display().to_string(),
                (persist::HEADER_LEN + META_WORDS * 8) as u64,
                format!("bad list name {message}"),
            ),
            other => other,
        })
    }

    /// Opens a list file like [`NumberList::load`], under another name and kind (a
    /// policy's declaration decides what a list means).
    pub fn load_as(path: &Path, name: &str, kind: ListKind) -> Result<NumberList> {
        let (_, _, base) = NumberList::load_parts(path)?;
        NumberList::from_base(name, kind, base)
    }

    /// Whether `bytes` start like a list file (as opposed to list text).
    pub fn is_list_file(bytes: &[u8]) -> bool {
        bytes.starts_with(LIST_MAGIC)
    }

    fn load_parts(path: &Path) -> Result<(String, ListKind, Base)> {
        let map = map_file(path)?;
        let len = map.len();
        NumberList::parse_mapped(map, 0, len, &path.display().to_string())
    }

    /// Opens a list file embedded at `start..start + len` of a mapped file (a snapshot); its
    /// arrays are used in place. `start` must be 8-aligned.
    pub fn load_embedded(
        map: Arc<memmap2::Mmap>,
        start: usize,
        len: usize,
        source: &str,
    ) -> Result<NumberList> {
        let (name, kind, base) = NumberList::parse_mapped(map, start, len, source)?;
        NumberList::from_base(&name, kind, base)
    }

    fn parse_mapped(
        map: Arc<memmap2::Mmap>,
        start: usize,
        len: usize,
        name_str: &str,
    ) -> Result<(String, ListKind, Base)> {
        let name_str = name_str.to_owned();
        let file = start
            .checked_add(len)
            .and_then(|end| map.get(start..end))
            .ok_or_else(|| Error::corrupt(&name_str, start as u64, "list section out of bounds"))?;
        let payload = persist::decode(LIST_MAGIC, LIST_VERSION, file, &name_str)?;
        let at = start + persist::HEADER_LEN;
        let word = |i: usize| -> Result<u64> {
            payload
                .get(i * 8..i * 8 + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
                .ok_or_else(|| {
                    Error::corrupt(&name_str, (at + i * 8) as u64, "truncated list header")
                })
        };
        let bad =
            |i: usize, what: &str| Error::corrupt(&name_str, (at + i * 8) as u64, what.to_owned());
        let kind = *ListKind::ALL
            .get(word(0)? as usize)
            .ok_or_else(|| bad(0, "unknown list kind"))?;
        let has_exact = match word(1)? {
            0 => false,
            1 => true,
            _ => return Err(bad(1, "bad flags")),
        };
        if word(2)? != u64::from(HASH_VERSION) {
            return Err(bad(2, "filter made with another hash scheme version"));
        }
        let params = BloomParams {
            blocks: word(3)?,
            k: u32::try_from(word(4)?).map_err(|_| bad(4, "bad k"))?,
            seed: word(5)?,
        };
        let items = word(6)?;
        // A bloom-only count cannot be checked against anything, but no list holds 2⁶³
        // numbers, and counts past it do not fit a signed length (Python's `len`).
        if items > i64::MAX as u64 {
            return Err(bad(
                6,
                &format!("item count {items} is more than any list holds"),
            ));
        }
        let fpr = f64::from_bits(word(7)?);
        // The fpr sizes every later compaction: a tiny one would ask for a huge filter.
        if !(MIN_FPR..1.0).contains(&fpr) {
            return Err(bad(
                7,
                &format!("false-positive rate {fpr:e} outside [{MIN_FPR:e}, 1)"),
            ));
        }
        let name_len = usize::try_from(word(8)?).map_err(|_| bad(8, "bad name length"))?;
        let exact_len = usize::try_from(word(9)?).map_err(|_| bad(9, "bad exact-set length"))?;
        let name_words = name_len.div_ceil(8);
        let bloom_len = usize::try_from(params.blocks)
            .ok()
            .and_then(|b| b.checked_mul(8))
            .ok_or_else(|| bad(3, "bad block count"))?;
        let total = [META_WORDS, name_words, bloom_len, exact_len]
            .iter()
            .try_fold(0usize, |a, &b| a.checked_add(b));
        if total.and_then(|t| t.checked_mul(8)) != Some(payload.len())
            || (!has_exact && exact_len != 0)
        {
            return Err(bad(0, "section sizes do not add up to the file size"));
        }
        let name_at = META_WORDS * 8;
        let name = std::str::from_utf8(&payload[name_at..name_at + name_len])
            .map_err(|_| bad(META_WORDS, "name is not UTF-8"))?
            .to_owned();
        let bloom_at = at + (META_WORDS + name_words) * 8;
        let bloom_words = Words::mapped(Arc::clone(&map), bloom_at, bloom_len, &name_str)?;
        let bloom =
            BlockedBloom::from_words(params, bloom_words).map_err(|e| relabel(e, &name_str))?;
        let exact = if has_exact {
            let words = Words::mapped(
                Arc::clone(&map),
                bloom_at + bloom_len * 8,
                exact_len,
                &name_str,
            )?;
            Some(ExactSet::from_words(words).map_err(|e| relabel(e, &name_str))?)
        } else {
            None
        };
        if exact.as_ref().is_some_and(|e| e.len() as u64 != items) {
            return Err(bad(6, "item count disagrees with the exact set"));
        }
        Ok((name, kind, Base::new(bloom, exact, items, fpr)))
    }

    /// A bloom-only list from a filter alone (e.g. a partner's, read from another format);
    /// `fpr` must lie in [`MIN_FPR`]..1 like every list's.
    pub fn from_filter(
        name: &str,
        kind: ListKind,
        bloom: BlockedBloom<Vec<u64>>,
        items: u64,
        fpr: f64,
    ) -> Result<NumberList> {
        if !(MIN_FPR..1.0).contains(&fpr) {
            return Err(Error::invalid(
                "fpr",
                format!("must be at least {MIN_FPR:e} and below 1, got {fpr:e}"),
            ));
        }
        let bloom = bloom.map_words(Words::Owned);
        NumberList::from_base(name, kind, Base::new(bloom, None, items, fpr))
    }
}

fn relabel(e: Error, path: &str) -> Error {
    match e {
        Error::Corrupt {
            offset, message, ..
        } => Error::Corrupt {
            path: path.to_owned(),
            offset,
            message,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn tmp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("fc-lists-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    /// A pinned base answers as the list does: before and after numbers are added and
    /// removed (the delta comes first), and after a compaction replaces the base (the pinned
    /// one is then passed over, though it still holds the numbers it was built with).
    #[test]
    fn a_pinned_base_answers_as_the_list_does_through_updates_and_compactions() {
        let keys: Vec<u64> = (0..500).map(|i| 77_010_000_000 + i * 37).collect();
        let l = NumberList::build("pins", ListKind::Block, keys.clone(), 1e-3, 3).unwrap();
        let pinned = l.pin();
        let probes: Vec<u64> = (0..1500).map(|i| 77_010_000_000 + i * 13).collect();
        let agree = |l: &NumberList, p: &PinnedBase| {
            for &k in &probes {
                assert_eq!(l.contains_pinned(k, p), l.contains(k), "{k}");
            }
        };
        agree(&l, &pinned);
        l.add(77_010_000_013).unwrap();
        l.remove(keys[0]).unwrap();
        agree(&l, &pinned);
        assert_eq!(l.contains_pinned(keys[0], &pinned), Membership::Absent);
        l.compact().unwrap();
        assert_eq!(l.delta_len(), 0);
        // The old base still has keys[0]; the list no longer does.
        assert_eq!(pinned.base.contains(keys[0]), Membership::Present);
        assert_eq!(l.contains_pinned(keys[0], &pinned), Membership::Absent);
        agree(&l, &pinned);
        agree(&l, &l.pin());
    }

    #[test]
    fn exact_lists_answer_exactly() {
        let l = NumberList::build(
            "fraud",
            ListKind::Block,
            vec![77011234567, 79161234567, 77011234567],
            1e-3,
            7,
        )
        .unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l.contains(77011234567), Membership::Present);
        assert_eq!(l.contains(77011234568), Membership::Absent);
        assert_eq!(l.reason().as_ref(), "blocklist:fraud");
        assert!(NumberList::build("a:b", ListKind::Block, vec![], 1e-3, 0).is_err());
    }

    #[test]
    fn save_load_round_trip_and_refuse_damage() {
        let keys: Vec<u64> = (0..5000u64).map(|i| 77_000_000_000 + i * 7919).collect();
        let l = NumberList::build("dno", ListKind::Dno, keys.clone(), 1e-4, 1).unwrap();
        l.add(1).unwrap();
        let path = tmp("dno.fclist");
        l.save(&path).unwrap();
        let back = NumberList::load(&path).unwrap();
        assert_eq!(
            (back.name(), back.kind(), back.len()),
            ("dno", ListKind::Dno, 5001)
        );
        assert_eq!(back.numbers().unwrap(), l.numbers().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        let bad = tmp("bad.fclist");
        for cut in [0, 10, 24, 24 + 80, bytes.len() / 2, bytes.len() - 1] {
            std::fs::write(&bad, &bytes[..cut]).unwrap();
            assert!(
                matches!(NumberList::load(&bad), Err(Error::Corrupt { .. })),
                "cut {cut}"
            );
        }
        for at in [0, 9, 30, 200, bytes.len() - 3] {
            let mut b = bytes.clone();
            b[at] ^= 0x20;
            std::fs::write(&bad, &b).unwrap();
            assert!(
                matches!(NumberList::load(&bad), Err(Error::Corrupt { .. })),
                "flip {at}"
            );
        }
    }

    /// Fuzz regression (list_file, compaction-allocates-for-tiny-fpr): a list file whose fpr
    /// word says 1e-46, checksum fixed up, loaded; the first `add` compacted into a filter
    /// sized for that rate (~1 TB). Such files are now corrupt, naming the fpr word.
    #[test]
    fn load_refuses_an_fpr_outside_the_floor() {
        let l = NumberList::build("fpr", ListKind::Block, (0..155).collect(), 1e-2, 7).unwrap();
        let path = tmp("fpr.fclist");
        l.save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let with_fpr = |fpr: f64| {
            let mut payload = bytes[persist::HEADER_LEN..].to_vec();
            payload[7 * 8..8 * 8].copy_from_slice(&fpr.to_bits().to_le_bytes());
            std::fs::write(&path, persist::encode(LIST_MAGIC, LIST_VERSION, &payload)).unwrap();
            NumberList::load(&path)
        };
        for fpr in [
            1e-46,
            MIN_FPR / 2.0,
            0.0,
            -0.5,
            1.0,
            f64::NAN,
            f64::INFINITY,
        ] {
            match with_fpr(fpr) {
                Err(Error::Corrupt {
                    offset, message, ..
                }) => {
                    assert_eq!(offset, 24 + 7 * 8, "{fpr}");
                    assert!(message.contains("false-positive rate"), "{message}");
                }
                other => panic!("fpr {fpr}: {other:?}"),
            }
        }
        let floor = with_fpr(MIN_FPR).unwrap();
        assert!(floor.add(1_000).unwrap());
        floor.compact().unwrap();
        assert!(floor.size_bytes() < 4096, "{}", floor.size_bytes());
        let filter = BlockedBloom::new(BloomParams::for_capacity(10, 1e-3, 0).unwrap());
        let err = NumberList::from_filter("f", ListKind::Partner, filter, 0, 1e-46).unwrap_err();
        assert!(matches!(&err, Error::InvalidValue { field, .. } if field == "fpr"));
    }

    /// Fuzz regression (list_file, bloom-only-item-count-overflow): a bloom-only file whose
    /// item count was u64::MAX loaded (a filter's count cannot be checked), and adding a number
    /// and compacting overflowed it. Such counts are refused; the largest accepted saturates.
    #[test]
    fn bloom_only_item_counts_are_bounded_and_saturate() {
        let f = NumberList::build("x", ListKind::Block, vec![5], 1e-3, 0)
            .unwrap()
            .to_filter("f", ListKind::Partner, 100, 1e-3, 0)
            .unwrap();
        let path = tmp("items.fclist");
        f.save(&path).unwrap();
        let payload = std::fs::read(&path).unwrap()[persist::HEADER_LEN..].to_vec();
        let with_items = |items: u64| {
            let mut payload = payload.clone();
            payload[6 * 8..7 * 8].copy_from_slice(&items.to_le_bytes());
            std::fs::write(&path, persist::encode(LIST_MAGIC, LIST_VERSION, &payload)).unwrap();
            NumberList::load(&path)
        };
        for items in [u64::MAX, 1 << 63] {
            match with_items(items) {
                Err(Error::Corrupt { offset, .. }) => assert_eq!(offset, 24 + 6 * 8),
                other => panic!("{items}: {other:?}"),
            }
        }
        let huge = with_items(i64::MAX as u64).unwrap();
        assert!(huge.add(6).unwrap());
        assert_eq!(huge.len(), 1 << 63);
        huge.compact().unwrap();
        assert_eq!(
            (huge.len(), huge.contains(6)),
            (1 << 63, Membership::Probable)
        );
        assert_eq!(huge.merge(&huge, "m").unwrap().len(), u64::MAX);
    }

    /// Found by tests/test_corruption.py (a bit flipped in the name, checksum fixed up): a
    /// name a list cannot have came out as an invalid *value*; it is a corrupt file.
    #[test]
    fn load_refuses_a_name_a_list_cannot_have() {
        let path = tmp("name.fclist");
        NumberList::build("name", ListKind::Block, vec![5], 1e-3, 0)
            .unwrap()
            .save(&path)
            .unwrap();
        let mut payload = std::fs::read(&path).unwrap()[persist::HEADER_LEN..].to_vec();
        for bad in [b'\n', b'\0', b':'] {
            payload[META_WORDS * 8] = bad;
            std::fs::write(&path, persist::encode(LIST_MAGIC, LIST_VERSION, &payload)).unwrap();
            match NumberList::load(&path) {
                Err(Error::Corrupt {
                    offset, message, ..
                }) => {
                    assert_eq!(offset, 24 + 80);
                    assert!(message.contains("bad list name"), "{message}");
                }
                other => panic!("{bad}: {other:?}"),
            }
            // Under a name of the policy's, the file's own does not matter.
            assert!(NumberList::load_as(&path, "policy", ListKind::Block).is_ok());
        }
    }

    #[test]
    fn bloom_only_lists_remember_removals_and_refuse_to_save_them() {
        let f = NumberList::build("x", ListKind::Block, vec![5], 1e-3, 0)
            .unwrap()
            .to_filter("f", ListKind::Partner, 100, 1e-3, 0)
            .unwrap();
        assert!(f.add(6).unwrap());
        assert!(f.remove(6).unwrap());
        assert_eq!(f.contains(6), Membership::Absent);
        assert!(!f.remove(7).unwrap(), "never there");
        assert!(f.remove(5).unwrap());
        f.compact().unwrap();
        assert_eq!((f.contains(5), f.len()), (Membership::Absent, 0));
        assert!(f.save(&tmp("f.fclist")).is_err());
    }

    #[test]
    fn compaction_keeps_updates_made_while_it_runs() {
        let keys: Vec<u64> = (0..300_000).collect();
        for round in 0..5u64 {
            let list =
                Arc::new(NumberList::build("r", ListKind::Block, keys.clone(), 1e-3, 0).unwrap());
            let k = 10_000_000 + round;
            list.add(k).unwrap();
            list.remove(1).unwrap();
            let compactor = {
                let l = Arc::clone(&list);
                std::thread::spawn(move || l.compact().unwrap())
            };
            list.remove(k).unwrap();
            list.add(1).unwrap();
            compactor.join().unwrap();
            assert_eq!(list.contains(k), Membership::Absent);
            assert_eq!(list.contains(1), Membership::Present);
            assert_eq!(list.len(), 300_000);
            list.compact().unwrap();
            assert_eq!(
                (list.contains(k), list.contains(1), list.len()),
                (Membership::Absent, Membership::Present, 300_000)
            );
        }
    }

    #[test]
    fn filters_merge_like_the_union() {
        let a = NumberList::build("a", ListKind::Block, (0..3000).collect(), 1e-3, 0).unwrap();
        let b = NumberList::build("b", ListKind::Block, (2000..6000).collect(), 1e-3, 0).unwrap();
        let u = NumberList::build("u", ListKind::Block, (0..6000).collect(), 1e-3, 0).unwrap();
        let fa = a
            .to_filter("fa", ListKind::Partner, 10_000, 1e-3, 42)
            .unwrap();
        let fb = b
            .to_filter("fb", ListKind::Partner, 10_000, 1e-3, 42)
            .unwrap();
        let fu = u
            .to_filter("fu", ListKind::Partner, 10_000, 1e-3, 42)
            .unwrap();
        let merged = fa.merge(&fb, "m").unwrap();
        assert_eq!(
            merged.base.load().bloom.words(),
            fu.base.load().bloom.words()
        );
        assert!(!merged.is_exact() && merged.numbers().is_err());
        assert_eq!(merged.contains(5999), Membership::Probable);
        let other = b
            .to_filter("fo", ListKind::Partner, 20_000, 1e-3, 42)
            .unwrap();
        assert!(fa.merge(&other, "x").is_err());
    }

    #[test]
    fn concurrent_updates_compactions_and_lookups_lose_nothing() {
        let list = Arc::new(
            NumberList::build("c", ListKind::Block, (0..1000).collect(), 1e-3, 0).unwrap(),
        );
        let writers: Vec<_> = (0..3u64)
            .map(|t| {
                let list = Arc::clone(&list);
                std::thread::spawn(move || {
                    for i in 0..2000u64 {
                        assert!(list.add(1_000_000 * (t + 1) + i).unwrap());
                        if i % 4 == 0 && i < 1200 {
                            assert!(list.remove(t * 300 + i / 4).unwrap());
                        }
                    }
                })
            })
            .collect();
        let compactor = {
            let list = Arc::clone(&list);
            std::thread::spawn(move || {
                for _ in 0..20 {
                    list.compact().unwrap();
                    std::thread::yield_now();
                }
            })
        };
        let reader = {
            let list = Arc::clone(&list);
            std::thread::spawn(move || {
                for _ in 0..20_000 {
                    // Never removed: must stay visible through every compaction.
                    assert_eq!(list.contains(999), Membership::Present);
                }
            })
        };
        for w in writers {
            w.join().unwrap();
        }
        compactor.join().unwrap();
        reader.join().unwrap();
        list.compact().unwrap();
        for t in 0..3u64 {
            for i in 0..2000u64 {
                assert_eq!(list.contains(1_000_000 * (t + 1) + i), Membership::Present);
            }
            for k in t * 300..t * 300 + 300 {
                assert_eq!(list.contains(k), Membership::Absent, "{k}");
            }
        }
        assert_eq!(list.len(), 1000 - 900 + 6000);
    }

    fn cached_ids() -> Vec<u64> {
        BASES.with(|c| c.borrow().iter().map(|e| e.id).collect())
    }

    /// A lookup's cached base must never outlive its list's compaction: the next lookup on the
    /// same thread sees the new base, and the old one is freed.
    #[test]
    fn a_compacted_base_is_never_answered_from_the_cache() {
        let list = NumberList::build("s", ListKind::Block, (0..100).collect(), 1e-3, 0).unwrap();
        assert_eq!(list.contains(500), Membership::Absent);
        let old = Arc::downgrade(&list.base.load_full());
        assert!(cached_ids().contains(&old.upgrade().unwrap().id));
        list.add(500).unwrap();
        list.remove(5).unwrap();
        list.compact().unwrap();
        assert_eq!(list.delta_len(), 0);
        assert_eq!(
            (list.contains(500), list.contains(5)),
            (Membership::Present, Membership::Absent)
        );
        assert_eq!(old.strong_count(), 0, "the old base is still cached");
    }

    #[test]
    fn the_cache_is_bounded_and_forgets_dropped_lists() {
        let lists: Vec<NumberList> = (0..3 * BASE_CACHE_LEN as u64)
            .map(|i| NumberList::build("b", ListKind::Block, vec![i], 1e-3, 0).unwrap())
            .collect();
        for (i, l) in lists.iter().enumerate() {
            assert_eq!(l.contains(i as u64), Membership::Present);
            assert!(cached_ids().len() <= BASE_CACHE_LEN);
        }
        // More lists than entries, in turn: every lookup still answers.
        for (i, l) in lists.iter().enumerate().rev() {
            assert_eq!(l.contains(i as u64), Membership::Present);
            assert_eq!(l.contains(i as u64 + 1), Membership::Absent);
        }
        let last = lists.last().unwrap().base.load_full();
        let dropped = Arc::downgrade(&last);
        drop((last, lists));
        let other = NumberList::build("o", ListKind::Block, vec![1], 1e-3, 0).unwrap();
        other.contains(1);
        assert_eq!(
            dropped.strong_count(),
            0,
            "a dropped list's base is still cached"
        );
        assert_eq!(cached_ids(), vec![other.base.load().id]);
    }

    /// The key the race test's writer adds in `round` and never removes.
    fn kept(round: u64) -> u64 {
        78_000_000_000 + round * 1000 + 150
    }

    /// Threads looking up while another adds, removes, compacts and swaps in new lists: every
    /// answer must agree with what the list certainly holds at that moment, including numbers
    /// compacted into a base the reader's cache has not seen.
    #[test]
    fn lookups_race_updates_compactions_and_new_lists() {
        let stable: Vec<u64> = (0..2000).map(|i| 77_000_000_000 + 3 * i).collect();
        let build = || NumberList::build("x", ListKind::Block, stable.clone(), 1e-3, 0).unwrap();
        // The list, the first round it took updates in, and the rounds compacted into it.
        let slot = Arc::new(RwLock::new((Arc::new(build()), 0u64, 0u64)));
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..3u64)
            .map(|t| {
                let (slot, stop, stable) = (Arc::clone(&slot), Arc::clone(&stop), stable.clone());
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) || n < 10_000 {
                        let (list, first, done) = slot.read().unwrap().clone();
                        for i in 0..50 {
                            let j = (n * 50 + i + t) as usize % stable.len();
                            assert_eq!(list.contains(stable[j]), Membership::Present);
                            // Between the stable numbers: never added.
                            assert_eq!(list.contains(stable[j] + 2), Membership::Absent);
                        }
                        for round in first.max(done.saturating_sub(2))..done {
                            assert_eq!(list.contains(kept(round)), Membership::Present);
                        }
                        n += 1;
                    }
                    assert!(cached_ids().len() <= BASE_CACHE_LEN);
                })
            })
            .collect();
        for round in 0..40u64 {
            let list = Arc::clone(&slot.read().unwrap().0);
            for i in 0..200 {
                list.add(kept(round) - 150 + i).unwrap();
                list.remove(kept(round) - 150 + i / 2).unwrap();
            }
            list.compact().unwrap();
            slot.write().unwrap().2 = round + 1;
            if round % 10 == 9 {
                *slot.write().unwrap() = (Arc::new(build()), round + 1, round + 1);
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        stop.store(true, Ordering::Relaxed);
        for r in readers {
            r.join().unwrap();
        }
    }

    proptest! {
        #[test]
        fn updates_agree_with_a_set(
            initial in proptest::collection::vec(0u64..400, 0..100),
            ops in proptest::collection::vec((any::<bool>(), 0u64..400, any::<bool>()), 0..200),
        ) {
            let l = NumberList::build("t", ListKind::Block, initial.clone(), 1e-2, 3).unwrap();
            let mut model: BTreeSet<u64> = initial.into_iter().collect();
            for (add, key, compact) in ops {
                let changed = if add { l.add(key).unwrap() } else { l.remove(key).unwrap() };
                let model_changed = if add { model.insert(key) } else { model.remove(&key) };
                prop_assert_eq!(changed, model_changed);
                if compact { l.compact().unwrap(); }
            }
            for key in 0..400 {
                let want = if model.contains(&key) { Membership::Present } else { Membership::Absent };
                prop_assert_eq!(l.contains(key), want);
            }
            prop_assert_eq!(l.len(), model.len() as u64);
            prop_assert_eq!(l.numbers().unwrap(), model.into_iter().collect::<Vec<_>>());
        }
    }
}
