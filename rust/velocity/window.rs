//! One key's counters in fixed-size arrays: the minute as a ring of 1-second buckets, the long
//! window as a ring of 13 coarse buckets, and a 64-slot set of recent callees. The exact
//! definitions are on [`Counters`]; this file keeps them in bounded memory.
//!
//! Each ring is zeroed lazily: a count of how far back from `now` its slots hold true values
//! says which ones do, so a new key (or an evicted entry reused for one) writes its header, not
//! its rings, which lie apart (see [`Window`]). Its first call is held in the header too (see
//! [`Window::pending`]) and written to the rings only when a second call comes: most keys call
//! once (a flood of spoofed CLIs, or any busy hour's callers), and their entries are cold
//! memory, so a first call that wrote its ring slots waited for three or four more cache lines.
//! The calls and displaced callees of the minute are kept as running totals, so counting a call
//! reads no whole ring.

use super::Counters;
use crate::xxh3::{hash8, seed_flip};

/// Seconds in the short sliding window.
pub(super) const MINUTE: u32 = 60;
/// Full long-window buckets before the current one: a bucket is `window / 12` seconds.
pub(super) const LONG_BUCKETS: u32 = 12;
/// Callees the distinct-callee set holds exactly.
pub(super) const CALLEE_SLOTS: usize = 64;

const LONG_RING: usize = LONG_BUCKETS as usize + 1;
const SECONDS: usize = MINUTE as usize;

/// [`Window::pending`]: the key's one call is held in the header.
const PENDING: u8 = 1;
/// [`Window::pending`]: that call's duration is known.
const PENDING_KNOWN: u8 = 2;
/// [`Window::pending`]: that call is short.
const PENDING_SHORT: u8 = 4;

/// Settings every key shares, taken from the configuration.
#[derive(Clone, Copy, Debug)]
pub(super) struct Params {
    /// Long-window bucket width in seconds (`window / 12`).
    pub granule: u32,
    pub late_tolerance: u32,
    pub short_call: f64,
    pub sequential_gap: u64,
    /// Seed of the callee fingerprints.
    pub seed: u64,
}

impl Params {
    fn bucket(&self, second: u32) -> u32 {
        second / self.granule
    }

    /// Whether a call's duration is known (finite, not negative) and, if so, short.
    fn duration_class(&self, duration: Option<f64>) -> (bool, bool) {
        match duration.filter(|d| d.is_finite() && *d >= 0.0) {
            Some(d) => (true, d < self.short_call),
            None => (false, false),
        }
    }

    /// The key whose newest second is `newest` has nothing left in any window at `second`.
    pub fn expired(&self, newest: u32, second: u32) -> bool {
        expired_buckets(self.bucket(newest), self.bucket(second))
    }
}

/// The slot of the second `age` (below 60) before `now` in a per-second `ring` whose newest
/// `valid` slots hold data: the stale slots up to it are zeroed first and counted as valid.
#[inline]
fn made_valid<T: Default>(ring: &mut [T; SECONDS], valid: &mut u8, now: u32, age: u32) -> usize {
    for a in u32::from(*valid)..=age {
        ring[((now - a) % MINUTE) as usize] = T::default();
    }
    *valid = (*valid).max(age as u8 + 1);
    ((now - age) % MINUTE) as usize
}

/// [`Params::expired`] given the two seconds' buckets.
#[inline]
fn expired_buckets(newest: u32, bucket: u32) -> bool {
    bucket > newest.saturating_add(LONG_BUCKETS)
}

/// One long-window bucket: calls, short calls, calls of known duration.
#[derive(Clone, Copy, Debug, Default, bytemuck::Zeroable)]
struct Long {
    calls: u32,
    short: u32,
    known: u32,
}

/// The slots [`Window::count`] has just written: the calls of second `now`, if it counted one
/// there, and the long bucket it counted in.
#[derive(Clone, Copy, Debug, Default)]
struct Fresh {
    second: Option<u16>,
    bucket: Option<Long>,
}

/// The counting state of one key in two parts: this header (`now` is the newest second
/// counted), in the entry's one cache line with the key and the links, and its [`Rings`], in
/// a slab of their own. A new key's first call (held in the header) writes the header alone,
/// so the entries of the many one-call keys lie together, 64 bytes apart, not 704 as when the
/// rings were inline: fewer pages, so fewer TLB misses and page faults. The callee is kept as
/// two `u32` halves so the header is 4-byte aligned and packs with the key and the links.
#[derive(Clone, Debug, bytemuck::Zeroable)]
#[repr(C)]
pub(super) struct Window {
    now: u32,
    /// Length of the run at the end: of repeated callees if `repeat`, else of sequential ones.
    run: u32,
    /// Calls in the minute ending at `now`: the sum of the valid `sec_calls`.
    calls_1m: u32,
    /// Callee of the latest counted call that had one (0: none yet), low half first.
    last_callee: [u32; 2],
    /// Displaced callees in the minute ending at `now`: the sum of the valid `sec_displaced`.
    displaced_1m: u16,
    /// `sec_calls` holds the true count of the seconds `s` with `now - s < calls_valid`; the
    /// other slots are stale (their true count is 0).
    calls_valid: u8,
    /// The same for `sec_displaced` (0 until a callee is first displaced).
    displaced_valid: u8,
    /// `long` holds the true counts of the buckets `b` with `bucket(now) - b < long_valid`.
    long_valid: u8,
    /// Callee slots in use: `fps[..callees]`.
    callees: u8,
    /// Whether `run` counts repeated (else sequential) callees.
    repeat: bool,
    /// [`PENDING`] when the key's only call, at second `now`, is held here and not in the rings
    /// (which are then all stale), with [`PENDING_KNOWN`] and [`PENDING_SHORT`] for its duration;
    /// its callee is `last_callee` (0: none). 0 otherwise.
    pending: u8,
}

/// The rings of one key's [`Window`] (656 bytes), in the shard's second slab: which slots hold
/// true values, the header says.
#[derive(Clone, Debug, bytemuck::Zeroable)]
#[repr(C, align(16))]
pub(super) struct Rings {
    /// The second of each callee's latest call, mod 256. Every slot in use has its latest call
    /// within the minute ending at `now`.
    fp_secs: [u8; CALLEE_SLOTS],
    /// Callee fingerprints (never 0).
    fps: [u32; CALLEE_SLOTS],
    /// Bucket `b` at `b % 13`.
    long: [Long; LONG_RING],
    /// Calls per second `s`, at `s % 60`.
    sec_calls: [u16; SECONDS],
    /// Callees displaced from the set whose last call was in second `s`, at `s % 60`.
    sec_displaced: [u8; SECONDS],
}

impl Window {
    /// Makes this an empty key whose clock starts at `now`, writing only the header: every
    /// ring slot becomes stale, whatever it holds (an evicted key's counts, or the zeroes of a
    /// fresh slab chunk).
    pub fn reset(&mut self, now: u32) {
        self.now = now;
        self.run = 0;
        self.calls_1m = 0;
        self.last_callee = [0; 2];
        self.displaced_1m = 0;
        self.calls_valid = 0;
        self.displaced_valid = 0;
        self.long_valid = 0;
        self.callees = 0;
        self.repeat = false;
        self.pending = 0;
    }

    /// The newest second counted.
    pub fn now(&self) -> u32 {
        self.now
    }

    fn last_callee(&self) -> u64 {
        u64::from(self.last_callee[0]) | u64::from(self.last_callee[1]) << 32
    }

    /// An event at `second` (`None`: unusable timestamp) is too old to count.
    pub fn is_late(&self, second: Option<u32>, p: &Params) -> bool {
        match second {
            None => true,
            Some(s) => s < self.now && self.now - s > p.late_tolerance,
        }
    }

    /// Counts one call at `second`, which must not be late, and returns the counters at `now`
    /// that include it. An expired key starts afresh.
    pub fn count(
        &mut self,
        r: &mut Rings,
        second: u32,
        callee: u64,
        duration: Option<f64>,
        p: &Params,
    ) -> Counters {
        if self.pending != 0 {
            self.settle(r, p);
        }
        let (bucket, newest) = (p.bucket(second), p.bucket(self.now));
        if expired_buckets(newest, bucket) {
            self.reset(second);
        } else if second > self.now {
            self.advance(r, second, newest, bucket);
        }
        // bucket(now), now that `now` is the later of the two.
        let newest = newest.max(bucket);
        let age = self.now - second;
        if age == 0 && self.is_blank() {
            return self.hold(callee, duration, p);
        }
        // The slots just written, for `counters_at_now`.
        let mut fresh = Fresh::default();
        if age < MINUTE {
            let i = self.calls_slot(r, age);
            if r.sec_calls[i] < u16::MAX {
                r.sec_calls[i] += 1;
                self.calls_1m += 1;
            }
            fresh.second = (age == 0).then_some(r.sec_calls[i]);
            if callee != 0 {
                self.add_callee(r, fingerprint(callee, p.seed), age);
            }
        }
        let back = newest - bucket;
        if back <= LONG_BUCKETS {
            // Built in registers and stored whole: reading back a slot just zeroed in a line not
            // yet in cache would wait for the line.
            let (b, was_valid) = self.long_slot(r, back, newest);
            let mut l = if was_valid {
                r.long[b]
            } else {
                Long::default()
            };
            let (known, short) = p.duration_class(duration);
            l.calls = l.calls.saturating_add(1);
            l.known = l.known.saturating_add(u32::from(known));
            l.short = l.short.saturating_add(u32::from(short));
            r.long[b] = l;
            fresh.bucket = Some(l);
        }
        self.follow(callee, p);
        self.counters_at_now(r, newest, fresh)
    }

    /// Nothing of the key is in any ring: no call counted since it started (afresh), as the
    /// long ring keeps every counted call until the key expires.
    fn is_blank(&self) -> bool {
        self.long_valid == 0 && self.calls_valid == 0 && self.displaced_valid == 0
    }

    /// Counts a blank key's first call, at second `now`, in the header alone (see
    /// [`Window::pending`]), and returns the counters it gives: this call alone.
    fn hold(&mut self, callee: u64, duration: Option<f64>, p: &Params) -> Counters {
        debug_assert!(self.is_blank() && self.callees == 0 && self.calls_1m == 0);
        let (known, short) = p.duration_class(duration);
        self.pending =
            PENDING | if known { PENDING_KNOWN } else { 0 } | if short { PENDING_SHORT } else { 0 };
        self.follow(callee, p);
        self.held_counters()
    }

    /// The counters at `now` of a key whose one call is held: that call alone (its callee is
    /// `last_callee`, 0 for none, as the key started blank).
    fn held_counters(&self) -> Counters {
        Counters {
            calls_1s: 1,
            calls_1m: 1,
            calls_window: 1,
            distinct_callees: u32::from(self.last_callee() != 0),
            short_calls: u32::from(self.pending & PENDING_SHORT != 0),
            known_durations: u32::from(self.pending & PENDING_KNOWN != 0),
            sequential: self.sequential(),
            repeat_callee: self.repeat_callee(),
            late: false,
        }
    }

    /// Writes the call held in the header to the rings, as [`Window::count`] would have
    /// written it then.
    fn settle(&mut self, r: &mut Rings, p: &Params) {
        let held = std::mem::take(&mut self.pending);
        let i = self.calls_slot(r, 0);
        r.sec_calls[i] = 1;
        self.calls_1m = 1;
        let callee = self.last_callee();
        if callee != 0 {
            self.add_callee(r, fingerprint(callee, p.seed), 0);
        }
        let (b, _) = self.long_slot(r, 0, p.bucket(self.now));
        r.long[b] = Long {
            calls: 1,
            short: u32::from(held & PENDING_SHORT != 0),
            known: u32::from(held & PENDING_KNOWN != 0),
        };
    }

    /// The length of the run of sequential callees at the end (0 in a run of repeats).
    fn sequential(&self) -> u32 {
        if self.repeat {
            0
        } else {
            self.run
        }
    }

    /// The length of the run of repeated callees at the end (0 in a sequential run).
    fn repeat_callee(&self) -> u32 {
        if self.repeat {
            self.run
        } else {
            0
        }
    }

    /// Follows the run of repeated or sequential callees with a counted call's callee.
    fn follow(&mut self, callee: u64, p: &Params) {
        if callee == 0 {
            return;
        }
        let last = self.last_callee();
        let run = match callee.abs_diff(last) {
            _ if last == 0 => None,
            0 => Some(true),
            gap if gap <= p.sequential_gap => Some(false),
            _ => None,
        };
        (self.run, self.repeat) = match run {
            Some(repeat) if repeat == self.repeat => (self.run.saturating_add(1), repeat),
            Some(repeat) => (1, repeat),
            None => (0, false),
        };
        self.last_callee = [callee as u32, (callee >> 32) as u32];
    }

    /// The slot of the second `age` (below 60) before `now` in a per-second ring.
    #[inline]
    fn sec_slot(&self, age: u32) -> usize {
        ((self.now - age) % MINUTE) as usize
    }

    /// The `sec_calls` slot of the second `age` (below 60) before `now`, made valid.
    fn calls_slot(&mut self, r: &mut Rings, age: u32) -> usize {
        let now = self.now;
        made_valid(&mut r.sec_calls, &mut self.calls_valid, now, age)
    }

    /// The `sec_displaced` slot of the second `age` (below 60) before `now`, made valid.
    fn displaced_slot(&mut self, r: &mut Rings, age: u32) -> usize {
        let now = self.now;
        made_valid(&mut r.sec_displaced, &mut self.displaced_valid, now, age)
    }

    /// The `long` slot of the bucket `back` (at most 12) before `bn = bucket(now)`, made valid
    /// (every stale slot between it and the valid ones is zeroed, itself left to the caller),
    /// and whether it was valid before.
    fn long_slot(&mut self, r: &mut Rings, back: u32, bn: u32) -> (usize, bool) {
        let was_valid = back < u32::from(self.long_valid);
        for j in u32::from(self.long_valid)..back {
            r.long[((bn - j) as usize) % LONG_RING] = Long::default();
        }
        self.long_valid = self.long_valid.max(back as u8 + 1);
        (((bn - back) as usize) % LONG_RING, was_valid)
    }

    /// Moves `now` forward to `second` (in bucket `new`, at most 12 after `old = bucket(now)`),
    /// emptying the buckets that leave the windows.
    fn advance(&mut self, r: &mut Rings, second: u32, old: u32, new: u32) {
        let d = second - self.now;
        if d >= MINUTE {
            (self.calls_1m, self.calls_valid) = (0, 0);
            (self.displaced_1m, self.displaced_valid) = (0, 0);
            self.callees = 0;
        } else {
            // The slot of second s (now < s <= second) held second s - 60, whose age was
            // 60 - (s - now): it leaves the minute, and its count the totals if it was valid.
            for s in self.now + 1..=second {
                let (i, old_age) = ((s % MINUTE) as usize, MINUTE - (s - self.now));
                if old_age < u32::from(self.calls_valid) {
                    self.calls_1m -= u32::from(r.sec_calls[i]);
                }
                r.sec_calls[i] = 0;
                if self.displaced_valid > 0 {
                    if old_age < u32::from(self.displaced_valid) {
                        self.displaced_1m -= u16::from(r.sec_displaced[i]);
                    }
                    r.sec_displaced[i] = 0;
                }
            }
            self.calls_valid = (u32::from(self.calls_valid) + d).min(MINUTE) as u8;
            if self.displaced_valid > 0 {
                self.displaced_valid = (u32::from(self.displaced_valid) + d).min(MINUTE) as u8;
            }
            // Ages were below 60 and grow by less than 60: mod 256 they cannot wrap.
            let now8 = second as u8;
            let mut k = 0;
            while k < usize::from(self.callees) {
                if u32::from(now8.wrapping_sub(r.fp_secs[k])) >= MINUTE {
                    let last = usize::from(self.callees) - 1;
                    r.fps[k] = r.fps[last];
                    r.fp_secs[k] = r.fp_secs[last];
                    self.callees -= 1;
                } else {
                    k += 1;
                }
            }
        }
        if self.long_valid > 0 {
            for b in old + 1..=new {
                r.long[(b as usize) % LONG_RING] = Long::default();
            }
            self.long_valid = (u32::from(self.long_valid) + new - old).min(LONG_RING as u32) as u8;
        }
        self.now = second;
    }

    /// Age in seconds (relative to `now`) of the latest call in slot `k` (in use).
    fn slot_age(&self, r: &Rings, k: usize) -> u32 {
        u32::from((self.now as u8).wrapping_sub(r.fp_secs[k]))
    }

    /// Notes a call `age` seconds before `now` (below 60) to the callee with fingerprint `fp`.
    fn add_callee(&mut self, r: &mut Rings, fp: u32, age: u32) {
        let sec8 = (self.now - age) as u8;
        let n = usize::from(self.callees);
        if let Some(k) = first_index(&r.fps[..n], fp) {
            if age < self.slot_age(r, k) {
                r.fp_secs[k] = sec8;
            }
            return;
        }
        if n < CALLEE_SLOTS {
            (r.fps[n], r.fp_secs[n]) = (fp, sec8);
            self.callees += 1;
            return;
        }
        // Full: the least recently called of the 65 leaves the set for the displaced count.
        // Two passes: the maximum of 64 bytes vectorises, a fold over (slot, age) does not.
        let now8 = self.now as u8;
        let ages = r.fp_secs.map(|sec| now8.wrapping_sub(sec));
        let oldest = ages.iter().copied().max().unwrap_or(0);
        let k = first_index(&ages, oldest).unwrap_or(0);
        let oldest = u32::from(oldest);
        let gone = if oldest >= age {
            (r.fps[k], r.fp_secs[k]) = (fp, sec8);
            oldest
        } else {
            age
        };
        let i = self.displaced_slot(r, gone);
        if r.sec_displaced[i] < u8::MAX {
            r.sec_displaced[i] += 1;
            self.displaced_1m += 1;
        }
    }

    /// Sums of the valid long buckets among the `keep` newest ones (`keep` at most 13); `bn`
    /// is `bucket(now)`.
    fn long_sums(&self, r: &Rings, keep: u32, bn: u32) -> (u64, u64, u64) {
        let n = u32::from(self.long_valid).min(keep);
        let (mut calls, mut short, mut known) = (0, 0, 0);
        let mut add = |l: &Long| {
            calls += u64::from(l.calls);
            short += u64::from(l.short);
            known += u64::from(l.known);
        };
        // The valid buckets end at bucket(now), cyclically: one or two runs of the ring.
        let (n, end) = (n as usize, (bn as usize) % LONG_RING + 1);
        if n <= end {
            r.long[end - n..end].iter().for_each(add);
        } else {
            r.long[..end].iter().for_each(&mut add);
            r.long[LONG_RING + end - n..].iter().for_each(add);
        }
        (calls, short, known)
    }

    /// The counters at `now` (whose bucket is `bn`), from the running totals. `fresh` holds
    /// the slots [`Window::count`] has just written: a new key's are in cache lines still on
    /// their way, and a read that straddles the stores would wait for them.
    fn counters_at_now(&self, r: &Rings, bn: u32, fresh: Fresh) -> Counters {
        let calls_1s = match (fresh.second, self.calls_valid) {
            (Some(n), _) => u32::from(n),
            (None, 0) => 0,
            (None, _) => u32::from(r.sec_calls[(self.now % MINUTE) as usize]),
        };
        let live = u32::from(self.callees) + u32::from(self.displaced_1m);
        let (calls, short, known) = match fresh.bucket {
            // The bucket written is the only valid one.
            Some(l) if self.long_valid == 1 => {
                (u64::from(l.calls), u64::from(l.short), u64::from(l.known))
            }
            _ => self.long_sums(r, LONG_RING as u32, bn),
        };
        Counters {
            calls_1s,
            calls_1m: self.calls_1m,
            calls_window: saturate(calls),
            distinct_callees: live.min(self.calls_1m),
            short_calls: saturate(short),
            known_durations: saturate(known),
            sequential: self.sequential(),
            repeat_callee: self.repeat_callee(),
            late: false,
        }
    }

    /// The counters at second `t` (not before `now`), as defined on [`Counters`].
    pub fn counters_at(&self, r: &Rings, t: u32, p: &Params) -> Counters {
        if self.pending != 0 {
            if t <= self.now {
                // A late call's (or a peek's) counters at the key's own second.
                return self.held_counters();
            }
            // Rare (a peek ahead): a copy whose held call is in the rings.
            let (mut settled, mut rings) = (self.clone(), r.clone());
            settled.settle(&mut rings, p);
            return settled.counters_at(&rings, t, p);
        }
        let t = t.max(self.now);
        if p.expired(self.now, t) {
            return Counters::default();
        }
        let d = t - self.now;
        if d == 0 {
            return self.counters_at_now(r, p.bucket(self.now), Fresh::default());
        }
        let mut c = Counters {
            sequential: self.sequential(),
            repeat_callee: self.repeat_callee(),
            ..Counters::default()
        };
        if d < MINUTE {
            // Seconds in (t - 60, now], as ages before `now`: below 60 - d, and valid.
            let in_minute = |valid: u8| 0..u32::from(valid).min(MINUTE - d);
            let slot = |a: u32| self.sec_slot(a);
            let calls: u64 = in_minute(self.calls_valid)
                .map(|a| u64::from(r.sec_calls[slot(a)]))
                .sum();
            let displaced: u64 = in_minute(self.displaced_valid)
                .map(|a| u64::from(r.sec_displaced[slot(a)]))
                .sum();
            let live = (0..usize::from(self.callees))
                .filter(|&k| self.slot_age(r, k) + d < MINUTE)
                .count();
            c.calls_1m = saturate(calls);
            c.distinct_callees = saturate(live as u64 + displaced).min(c.calls_1m);
        }
        // Buckets in [bucket(t) - 12, bucket(now)]: the 13 - (bucket(t) - bucket(now)) newest.
        let bn = p.bucket(self.now);
        let keep = LONG_RING as u32 - (p.bucket(t) - bn);
        let (calls, short, known) = self.long_sums(r, keep, bn);
        (c.calls_window, c.short_calls, c.known_durations) =
            (saturate(calls), saturate(short), saturate(known));
        c
    }

    /// Checks that the running totals agree with the rings (tests only).
    #[cfg(test)]
    pub fn check(&self, r: &Rings) {
        if self.pending != 0 {
            assert!(self.is_blank() && self.callees == 0 && self.calls_1m == 0);
            assert_eq!(self.pending & !(PENDING | PENDING_KNOWN | PENDING_SHORT), 0);
        }
        let slot = |a: u32| self.sec_slot(a);
        let calls: u32 = (0..u32::from(self.calls_valid))
            .map(|a| u32::from(r.sec_calls[slot(a)]))
            .sum();
        let displaced: u32 = (0..u32::from(self.displaced_valid))
            .map(|a| u32::from(r.sec_displaced[slot(a)]))
            .sum();
        assert_eq!(calls, self.calls_1m);
        assert_eq!(displaced, u32::from(self.displaced_1m));
        assert!(usize::from(self.calls_valid) <= SECONDS);
        assert!(usize::from(self.displaced_valid) <= SECONDS);
        assert!(usize::from(self.long_valid) <= LONG_RING);
        let fps = &r.fps[..usize::from(self.callees)];
        for (k, fp) in fps.iter().enumerate() {
            assert!(*fp != 0 && !fps[..k].contains(fp));
            assert!(self.slot_age(r, k) < MINUTE);
        }
    }
}

/// The first index of `x` in `xs`. Sixteen at a time, each sixteen without an early exit, which
/// vectorises where a plain `position` does not.
fn first_index<T: Copy + Eq>(xs: &[T], x: T) -> Option<usize> {
    let mut chunks = xs.chunks_exact(16);
    for (c, chunk) in chunks.by_ref().enumerate() {
        if chunk.iter().fold(false, |hit, &y| hit | (y == x)) {
            return chunk.iter().position(|&y| y == x).map(|k| c * 16 + k);
        }
    }
    let rest = chunks.remainder();
    rest.iter()
        .position(|&y| y == x)
        .map(|k| xs.len() - rest.len() + k)
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The callee's 32-bit fingerprint under `seed`, never 0.
pub(super) fn fingerprint(callee: u64, seed: u64) -> u32 {
    (hash8(callee, seed_flip(seed)) as u32).max(1)
}
