//! Sliding-window velocity counters per caller, destination and trunk, in bounded memory.
//!
//! [`Velocity::record`] counts one call for one [`Key`] and returns that key's [`Counters`],
//! the call included; [`Velocity::peek`] reads them without counting. Keys are spread over
//! `shards` shards by a seeded hash, each shard behind its own mutex, so threads contend only
//! when their keys share a shard.
//!
//! # Time
//!
//! Windows follow event time in whole seconds: an event's *second* is `floor(timestamp)`, and a
//! key's clock `t` is the newest second counted for it. With `g = window / 12` and
//! `bucket(s) = floor(s / g)`, an event at second `s` is
//!
//! * **late** if its timestamp is not a number in `[0, 2³²)` (NaN, ±inf, negative, after the
//!   year 2106), or if `s < t − late_tolerance`. A late event only adds to
//!   [`VelocityStats::late_events`]: it changes no counter, clock or LRU position and creates no
//!   key, and its [`Counters::late`] is set;
//! * otherwise **counted**. If `bucket(s) > bucket(t) + 12` the key has *expired* (nothing of it
//!   is left in any window) and starts afresh, exactly as a new key would.
//!
//! Every counter is then an exact function of the key's counted events since it last started
//! afresh ([`Counters`] gives each definition). The tests replay random streams — out of order,
//! late, invalid — through a naive model that keeps every event, and get the same numbers.
//! A timestamp far in the future moves a key's clock there: its later, correct events are then
//! late until the key expires. Callers should pass the switch's clock, not the CDR's.
//!
//! # Memory
//!
//! Each shard holds at most `max_keys / shards` keys, in two slabs of fixed-size records
//! allocated 256 at a time as keys arrive (zeroed by the allocator, not written record by
//! record), and an open-addressing index allocated up front (8 bytes a slot, load ≤ 0.5:
//! 16–32 bytes per key; between two calls a shard's index may still hold the slot of the key
//! it evicted last, removed at its next call). A key takes 720 bytes: a 64-byte entry (the key,
//! the LRU links, the clock, the run counter, the minute's running totals and how much of each
//! ring is valid: one cache line) and, at the same position of the second slab, 656 bytes of
//! rings: 60 one-second buckets (calls, `u16`; displaced callees, `u8`), 13 long-window buckets
//! (calls, short calls, known durations, `u32` each) and 64 callee slots (32-bit fingerprint
//! and second). A new key's first call writes its entry's line only (the call is held there
//! until the key's second call writes it to the rings), so the entries of the many keys that
//! call once lie together, 64 bytes apart. [`Velocity::bytes_per_key`] is the bound, 752
//! bytes; at the default cap of 1 000 000 keys the whole structure takes at most 737 MB
//! ([`VelocityConfig::max_memory`]).
//!
//! # Eviction
//!
//! A segmented LRU per shard. A new key enters the front of the *probation* segment; a counted
//! call to a key moves it to the front of the *protected* segment, which holds at most
//! `cap − max(1, cap / 5)` keys: when it overflows, its least recently counted key goes back to
//! the front of probation. When a new key finds the shard full, the first of these leaves:
//!
//! 1. the least recently counted probation key, if it has expired at the shard's clock (the
//!    newest second counted in the shard);
//! 2. the least recently counted protected key, if it has expired;
//! 3. the least recently counted probation key;
//! 4. the least recently counted protected key (only a shard of one key has no probation).
//!
//! A flood of one-off keys (random spoofed CLIs) therefore only cycles through probation: it
//! never evicts a key that has made two calls, since only such keys enter or push on the
//! protected segment. What a flood can do is push a newcomer out before its second call, when
//! more than `cap / 5` new keys reach its shard in between. Evicting an expired key loses
//! nothing (it would have started afresh); an LRU eviction forgets the key's counters.
//! [`VelocityStats`] counts both. [`Velocity::peek`] and late events never move a key.
//!
//! # Hashing
//!
//! The shard, the index slot and the callee fingerprints come from xxh3 of the 8-byte value
//! with a seed drawn at random for each [`Velocity`] (for a key, mixed with its kind), so
//! whoever chooses CLIs or callees cannot aim them at one probe run or make callees collide.
//! [`Key::trunk`] hashes trunk names with unseeded xxh3.

mod prefetch;
mod shard;
#[cfg(test)]
mod tests;
mod window;

use crate::{Error, Result};
use prefetch::prefetch_address;
use shard::{
    index_slots, key_hash, Eviction, IndexPlace, Outcome, Shard, ENTRY_BYTES, EVICTION_LINES,
};
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};
use window::Params;

/// Most keys a shard may hold (positions are `u32`).
const MAX_SHARD_KEYS: usize = 1 << 31;
/// Most keys in all (about 3 TB of entries).
const MAX_KEYS: usize = 1 << 32;

/// Settings of a [`Velocity`]; [`VelocityConfig::validate`] checks them.
#[derive(Clone, Debug, PartialEq)]
pub struct VelocityConfig {
    /// Most keys tracked across all shards (each shard holds `max_keys / shards`). Default
    /// 1 000 000: at most 752 bytes a key, 737 MB in all.
    pub max_keys: usize,
    /// The long window in seconds: a whole number of minutes in `60..=86400`. Default 3600.
    pub window: u32,
    /// A call with a known duration below this many seconds is short. Default 6.0.
    pub short_call: f64,
    /// Largest numeric distance between successive callees that counts as sequential dialling
    /// (at least 1). Default 10.
    pub sequential_gap: u64,
    /// Seconds an event may lag its key's clock and still count, at most `window`. Default 30.
    pub late_tolerance: u32,
    /// Number of shards, a power of two up to 65 536 and at most `max_keys`. Default 64.
    pub shards: usize,
}

impl Default for VelocityConfig {
    fn default() -> Self {
        VelocityConfig {
            max_keys: 1_000_000,
            window: 3600,
            short_call: 6.0,
            sequential_gap: 10,
            late_tolerance: 30,
            shards: 64,
        }
    }
}

impl VelocityConfig {
    /// Checks every field; the error names the first bad one (`velocity.<field>`).
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, msg: String| Err(Error::invalid(format!("velocity.{field}"), msg));
        let VelocityConfig {
            max_keys: keys,
            window,
            short_call: short,
            sequential_gap: gap,
            late_tolerance: tol,
            shards,
        } = *self;
        if !shards.is_power_of_two() || shards > 1 << 16 {
            return bad(
                "shards",
                format!("{shards} is not a power of two up to 65536"),
            );
        }
        if keys < shards || keys > MAX_KEYS {
            return bad(
                "max_keys",
                format!("{keys} is not from shards ({shards}) to 2^32"),
            );
        }
        if keys / shards > MAX_SHARD_KEYS {
            return bad(
                "max_keys",
                format!("{keys} in {shards} shards is over 2^31 a shard"),
            );
        }
        if !(60..=86_400).contains(&window) || window % 60 != 0 {
            return bad(
                "window",
                format!("{window} is not whole minutes in 60..=86400"),
            );
        }
        if !(short.is_finite() && short >= 0.0) {
            return bad(
                "short_call",
                format!("{short} is not a number of seconds ≥ 0"),
            );
        }
        if gap == 0 {
            return bad("sequential_gap", "must be at least 1".into());
        }
        if tol > window {
            return bad(
                "late_tolerance",
                format!("{tol} is more than the window, {window}"),
            );
        }
        Ok(())
    }

    /// Bytes the structure takes when every shard is full: entries and indexes (a few hundred
    /// bytes of shard headers aside).
    pub fn max_memory(&self) -> usize {
        let cap = self.max_keys / self.shards.max(1);
        self.shards * (index_slots(cap).saturating_mul(8) + cap * ENTRY_BYTES)
    }
}

/// What a key identifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, bytemuck::Zeroable)]
#[repr(u8)]
pub enum KeyKind {
    /// The calling number (E.164 digits as an integer).
    Caller,
    /// The called number (E.164 digits as an integer).
    Destination,
    /// The trunk or gateway (a hash of its name, see [`Key::trunk`]).
    Trunk,
}

/// A counted thing: a caller, a destination or a trunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// What `value` identifies.
    pub kind: KeyKind,
    /// The number, or the trunk name's hash.
    pub value: u64,
}

impl Key {
    /// The key of a calling number.
    pub const fn caller(number: u64) -> Key {
        Key {
            kind: KeyKind::Caller,
            value: number,
        }
    }

    /// The key of a called number.
    pub const fn destination(number: u64) -> Key {
        Key {
            kind: KeyKind::Destination,
            value: number,
        }
    }

    /// The key of a trunk: xxh3-64 (seed 0) of the name's UTF-8 bytes, stable everywhere.
    pub fn trunk(name: &str) -> Key {
        Key {
            kind: KeyKind::Trunk,
            value: xxhash_rust::xxh3::xxh3_64(name.as_bytes()),
        }
    }
}

/// A key given to [`Velocity::prefetch`], with its seeded hash, for
/// [`Velocity::record_prefetched`] of the same [`Velocity`].
#[derive(Clone, Copy, Debug)]
pub struct Prefetched {
    key: Key,
    hash: u64,
    /// The seed of the [`Velocity`] that hashed it.
    seed: u64,
}

/// One call, as far as velocity counting needs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Event {
    /// Unix seconds; see the module docs for what is late.
    pub timestamp: f64,
    /// The called number's E.164 digits as an integer; 0 when unknown (then it takes no part
    /// in `distinct_callees`, `sequential` or `repeat_callee`).
    pub callee: u64,
    /// Seconds, once the call has ended; NaN, infinite or negative means unknown.
    pub duration: Option<f64>,
}

/// A key's counters, exact functions of its counted events since it last started afresh.
///
/// `t` is the key's clock (its newest counted second; for [`Velocity::peek`] the later of that
/// and the second asked for). *The minute* is the seconds `s` with `t − 60 < s ≤ t`. *The
/// window* is the buckets `b` with `bucket(t) − 12 ≤ b ≤ bucket(t)`, `bucket(s) = floor(s /
/// (window / 12))`: the current, partial bucket and the 12 before it, so every call of the last
/// `window` seconds and at most `window / 12 − 1` seconds more. If the key has expired at `t`
/// every counter is 0. Counts saturate (65 535 calls a second, `u32::MAX` otherwise).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Calls in second `t`.
    pub calls_1s: u32,
    /// Calls in the minute.
    pub calls_1m: u32,
    /// Calls in the window.
    pub calls_window: u32,
    /// Distinct non-zero callees of the calls in the minute. Exact unless a callee was pushed
    /// out of the key's 64-slot set (the least recently called goes when a 65th distinct callee
    /// arrives within 60 s) and its last call is still in the minute. Then an upper estimate:
    /// never above `calls_1m`, never below the true count (unless over 255 callees are pushed
    /// out in one second), over by one for each pushed-out callee called again in the minute.
    /// Callees are compared by seeded 32-bit fingerprints: two of 64 callees share one with
    /// probability below 5·10⁻⁷.
    pub distinct_callees: u32,
    /// Calls in the window with a known duration below `short_call`.
    pub short_calls: u32,
    /// Calls in the window with a known duration (finite, ≥ 0).
    pub known_durations: u32,
    /// Of the counted calls with a non-zero callee, in the order [`Velocity::record`] saw them:
    /// how many at the end each have a callee that differs from the previous one's by 1 to
    /// `sequential_gap`. `k + 1` numbers dialled in sequence give `k`.
    pub sequential: u32,
    /// Of the same calls: how many at the end each have the previous one's callee. `k + 1`
    /// calls in a row to one number give `k`.
    pub repeat_callee: u32,
    /// This event was late and counted nowhere; the other fields are the key's counters
    /// without it (all 0 for a key not tracked).
    pub late: bool,
}

/// Totals since the [`Velocity`] was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VelocityStats {
    /// Keys held now.
    pub tracked_keys: u64,
    /// Keys it can hold: `shards × (max_keys / shards)`.
    pub max_keys: u64,
    /// Keys evicted because they had expired.
    pub evicted_expired: u64,
    /// Live keys evicted by the LRU policy.
    pub evicted_lru: u64,
    /// Calls to [`Velocity::record`] that were late.
    pub late_events: u64,
    /// Calls to [`Velocity::record`], late ones included.
    pub recorded: u64,
}

/// A shard and its statistics, on their own cache lines.
#[repr(align(128))]
#[derive(Debug)]
struct Slot {
    shard: Mutex<Shard>,
    /// Where the shard's index lies, and whether the shard is full, for
    /// [`Velocity::prefetch`].
    index: IndexPlace,
    full: AtomicBool,
    /// [`Shard::eviction_lines`] as of the shard's last eviction (or its filling up), for
    /// [`Velocity::prefetch`] to read without the lock.
    eviction_lines: [AtomicUsize; EVICTION_LINES],
    tracked: AtomicU64,
    evicted_expired: AtomicU64,
    evicted_lru: AtomicU64,
    late: AtomicU64,
    recorded: AtomicU64,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, Shard> {
        self.shard.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Adds one to a counter only ever written under its shard's lock: no atomic read-modify-write.
fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Relaxed) + 1, Relaxed);
}

/// Sliding-window velocity counters for up to `max_keys` keys; `Send + Sync`.
#[derive(Debug)]
pub struct Velocity {
    config: VelocityConfig,
    params: Params,
    slots: Box<[Slot]>,
}

impl Velocity {
    /// An empty counter set; fails if the configuration does not [validate](VelocityConfig::validate).
    pub fn new(config: VelocityConfig) -> Result<Velocity> {
        let seed = RandomState::new().hash_one(0x7665_6c6f_6369_7479_u64);
        Velocity::with_seed(config, seed)
    }

    fn with_seed(config: VelocityConfig, seed: u64) -> Result<Velocity> {
        config.validate()?;
        let params = Params {
            granule: config.window / window::LONG_BUCKETS,
            late_tolerance: config.late_tolerance,
            short_call: config.short_call,
            sequential_gap: config.sequential_gap,
            seed,
        };
        let cap = (config.max_keys / config.shards) as u32;
        let slots = (0..config.shards)
            .map(|_| {
                let shard = Shard::new(cap);
                Slot {
                    index: shard.index_place(),
                    shard: Mutex::new(shard),
                    full: AtomicBool::new(false),
                    eviction_lines: Default::default(),
                    tracked: AtomicU64::new(0),
                    evicted_expired: AtomicU64::new(0),
                    evicted_lru: AtomicU64::new(0),
                    late: AtomicU64::new(0),
                    recorded: AtomicU64::new(0),
                }
            })
            .collect();
        Ok(Velocity {
            config,
            params,
            slots,
        })
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &VelocityConfig {
        &self.config
    }

    /// Upper bound of the memory per tracked key, in bytes: the entry plus at most 32 bytes of
    /// index.
    pub const fn bytes_per_key() -> usize {
        ENTRY_BYTES + 32
    }

    fn slot(&self, hash: u64) -> &Slot {
        &self.slots[(hash >> 32) as usize & (self.slots.len() - 1)]
    }

    /// Counts `event` for `key` and returns the key's counters including it (or, for a late
    /// event, without it and with [`Counters::late`] set).
    pub fn record(&self, key: Key, event: &Event) -> Counters {
        self.record_hashed(key, key_hash(key, self.params.seed), event)
    }

    /// [`Velocity::record`] for a key given to [`Velocity::prefetch`] (its hash is not computed
    /// again).
    pub fn record_prefetched(&self, key: Prefetched, event: &Event) -> Counters {
        if key.seed != self.params.seed {
            // Prefetched by another `Velocity`: its hash is not this one's.
            return self.record(key.key, event);
        }
        self.record_hashed(key.key, key.hash, event)
    }

    fn record_hashed(&self, key: Key, hash: u64, event: &Event) -> Counters {
        let slot = self.slot(hash);
        let mut shard = slot.lock();
        let second = to_second(event.timestamp);
        let (counters, outcome) = shard.record(key, hash, second, event, &self.params);
        bump(&slot.recorded);
        match outcome {
            Outcome::Late => bump(&slot.late),
            Outcome::Counted { new_key, evicted } => {
                match evicted {
                    Some(Eviction::Expired) => bump(&slot.evicted_expired),
                    Some(Eviction::Lru) => bump(&slot.evicted_lru),
                    None if new_key => {
                        bump(&slot.tracked);
                        if shard.is_full() {
                            slot.full.store(true, Relaxed);
                        }
                    }
                    None => {}
                }
                // After an eviction the lines named are in cache: the ends just moved.
                if new_key && shard.is_full() {
                    let lines = shard.eviction_lines();
                    for (hint, line) in slot.eviction_lines.iter().zip(lines) {
                        hint.store(line, Relaxed);
                    }
                }
            }
        }
        drop(shard);
        counters
    }

    /// Hints that `key` is about to be [recorded](Velocity::record): starts loading, without
    /// waiting for them, the cache lines its shard will read if the key is new. That is its
    /// index slot and, once the shard is full, up to four more, as the shard's last eviction
    /// left them ([`Shard::eviction_lines`]: the last evicted key's slot, the LRU ends and the
    /// probation end's neighbour). Takes no lock and changes nothing; hand the result to
    /// [`Velocity::record_prefetched`].
    pub fn prefetch(&self, key: Key) -> Prefetched {
        let hash = key_hash(key, self.params.seed);
        let slot = self.slot(hash);
        prefetch_address(slot.index.home_slot(hash));
        if slot.full.load(Relaxed) {
            for line in &slot.eviction_lines {
                let address = line.load(Relaxed);
                if address != 0 {
                    prefetch_address(address);
                }
            }
        }
        Prefetched {
            key,
            hash,
            seed: self.params.seed,
        }
    }

    /// The counters of `key` at Unix time `now` (or at its own clock, if that is later or `now`
    /// is not a usable timestamp), without counting anything; `None` if the key is not tracked.
    pub fn peek(&self, key: Key, now: f64) -> Option<Counters> {
        let hash = key_hash(key, self.params.seed);
        let shard = self.slot(hash).lock();
        shard.peek(key, hash, to_second(now), &self.params)
    }

    /// Totals summed over the shards (each shard's read is consistent with itself only).
    pub fn stats(&self) -> VelocityStats {
        let cap = (self.config.max_keys / self.config.shards) as u64;
        let mut s = VelocityStats {
            max_keys: cap * self.slots.len() as u64,
            ..VelocityStats::default()
        };
        for slot in self.slots.iter() {
            s.tracked_keys += slot.tracked.load(Relaxed);
            s.evicted_expired += slot.evicted_expired.load(Relaxed);
            s.evicted_lru += slot.evicted_lru.load(Relaxed);
            s.late_events += slot.late.load(Relaxed);
            s.recorded += slot.recorded.load(Relaxed);
        }
        s
    }
}

/// The second of a timestamp in `[0, 2³²)`; `None` for anything else, NaN included.
fn to_second(timestamp: f64) -> Option<u32> {
    (0.0..4_294_967_296.0)
        .contains(&timestamp)
        .then_some(timestamp as u32)
}
