//! One key's counters in fixed-size arrays: the minute as a ring of 1-second buckets, the long
//! window as a ring of 13 coarse buckets, and a 64-slot set of recent callees. The exact
//! definitions are on [`Counters`]; this file keeps them in bounded memory.

use super::Counters;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Seconds in the short sliding window.
pub(super) const MINUTE: u32 = 60;
/// Full long-window buckets before the current one: a bucket is `window / 12` seconds.
pub(super) const LONG_BUCKETS: u32 = 12;
/// Callees the distinct-callee set holds exactly.
pub(super) const CALLEE_SLOTS: usize = 64;

const LONG_RING: usize = LONG_BUCKETS as usize + 1;
const SECONDS: usize = MINUTE as usize;

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

    /// The key whose newest second is `newest` has nothing left in any window at `second`.
    pub fn expired(&self, newest: u32, second: u32) -> bool {
        self.bucket(second) > self.bucket(newest).saturating_add(LONG_BUCKETS)
    }
}

/// The counting state of one key; `now` is the newest second counted.
#[derive(Clone, Debug)]
pub(super) struct Window {
    now: u32,
    sequential: u32,
    repeat: u32,
    /// Callee of the latest counted call that had one (0: none yet).
    last_callee: u64,
    /// Calls per second `s`, at `s % 60`, for `s` in `(now - 60, now]`.
    sec_calls: [u16; SECONDS],
    /// Callees displaced from the set whose last call was in second `s`, at `s % 60`.
    sec_displaced: [u8; SECONDS],
    /// Calls, short calls and calls of known duration per bucket `b`, at `b % 13`.
    long_calls: [u32; LONG_RING],
    long_short: [u32; LONG_RING],
    long_known: [u32; LONG_RING],
    /// Callee fingerprints (0: empty slot) and the second of each one's latest call, mod 256.
    /// Every occupied slot's latest call lies within the minute ending at `now`.
    fps: [u32; CALLEE_SLOTS],
    fp_secs: [u8; CALLEE_SLOTS],
}

impl Window {
    /// An empty key whose clock starts at `now`.
    pub fn new(now: u32) -> Window {
        Window {
            now,
            sequential: 0,
            repeat: 0,
            last_callee: 0,
            sec_calls: [0; SECONDS],
            sec_displaced: [0; SECONDS],
            long_calls: [0; LONG_RING],
            long_short: [0; LONG_RING],
            long_known: [0; LONG_RING],
            fps: [0; CALLEE_SLOTS],
            fp_secs: [0; CALLEE_SLOTS],
        }
    }

    /// The newest second counted.
    pub fn now(&self) -> u32 {
        self.now
    }

    /// An event at `second` (`None`: unusable timestamp) is too old to count.
    pub fn is_late(&self, second: Option<u32>, p: &Params) -> bool {
        match second {
            None => true,
            Some(s) => s < self.now && self.now - s > p.late_tolerance,
        }
    }

    /// Counts one call at `second`, which must not be late. An expired key starts afresh.
    pub fn count(&mut self, second: u32, callee: u64, duration: Option<f64>, p: &Params) {
        if p.expired(self.now, second) {
            *self = Window::new(second);
        } else if second > self.now {
            self.advance(second, p);
        }
        let age = self.now - second;
        if age < MINUTE {
            let i = (second % MINUTE) as usize;
            self.sec_calls[i] = self.sec_calls[i].saturating_add(1);
            if callee != 0 {
                self.add_callee(fingerprint(callee, p.seed), age);
            }
        }
        let bucket = p.bucket(second);
        if p.bucket(self.now) - bucket <= LONG_BUCKETS {
            let b = (bucket as usize) % LONG_RING;
            self.long_calls[b] = self.long_calls[b].saturating_add(1);
            if let Some(d) = duration.filter(|d| d.is_finite() && *d >= 0.0) {
                self.long_known[b] = self.long_known[b].saturating_add(1);
                if d < p.short_call {
                    self.long_short[b] = self.long_short[b].saturating_add(1);
                }
            }
        }
        if callee != 0 {
            let (seq, rep) = match callee.abs_diff(self.last_callee) {
                _ if self.last_callee == 0 => (0, 0),
                0 => (0, self.repeat.saturating_add(1)),
                gap if gap <= p.sequential_gap => (self.sequential.saturating_add(1), 0),
                _ => (0, 0),
            };
            (self.sequential, self.repeat, self.last_callee) = (seq, rep, callee);
        }
    }

    /// Moves `now` forward to `second`, emptying the buckets that leave the windows.
    fn advance(&mut self, second: u32, p: &Params) {
        if second - self.now >= MINUTE {
            self.sec_calls = [0; SECONDS];
            self.sec_displaced = [0; SECONDS];
            self.fps = [0; CALLEE_SLOTS];
        } else {
            for s in self.now + 1..=second {
                let i = (s % MINUTE) as usize;
                self.sec_calls[i] = 0;
                self.sec_displaced[i] = 0;
            }
            // Ages were below 60 and grow by less than 60: mod 256 they cannot wrap.
            let now8 = second as u8;
            for (fp, sec) in self.fps.iter_mut().zip(&self.fp_secs) {
                if u32::from(now8.wrapping_sub(*sec)) >= MINUTE {
                    *fp = 0;
                }
            }
        }
        let (old, new) = (p.bucket(self.now), p.bucket(second));
        if new - old > LONG_BUCKETS {
            self.long_calls = [0; LONG_RING];
            self.long_short = [0; LONG_RING];
            self.long_known = [0; LONG_RING];
        } else {
            for b in old + 1..=new {
                let b = (b as usize) % LONG_RING;
                (self.long_calls[b], self.long_short[b], self.long_known[b]) = (0, 0, 0);
            }
        }
        self.now = second;
    }

    /// Age in seconds (relative to `now`) of the latest call in occupied slot `k`.
    fn slot_age(&self, k: usize) -> u32 {
        u32::from((self.now as u8).wrapping_sub(self.fp_secs[k]))
    }

    /// Notes a call `age` seconds before `now` (below 60) to the callee with fingerprint `fp`.
    fn add_callee(&mut self, fp: u32, age: u32) {
        let sec8 = (self.now - age) as u8;
        if let Some(k) = self.fps.iter().position(|&f| f == fp) {
            if age < self.slot_age(k) {
                self.fp_secs[k] = sec8;
            }
            return;
        }
        if let Some(k) = self.fps.iter().position(|&f| f == 0) {
            (self.fps[k], self.fp_secs[k]) = (fp, sec8);
            return;
        }
        // Full: the least recently called of the 65 leaves the set for the displaced count.
        // Two passes: the maximum of 64 bytes vectorises, a fold over (slot, age) does not.
        let now8 = self.now as u8;
        let ages = self.fp_secs.map(|sec| now8.wrapping_sub(sec));
        let oldest = ages.iter().copied().max().unwrap_or(0);
        let k = ages.iter().position(|&a| a == oldest).unwrap_or(0);
        let oldest = u32::from(oldest);
        let gone = if oldest >= age {
            (self.fps[k], self.fp_secs[k]) = (fp, sec8);
            oldest
        } else {
            age
        };
        let i = ((self.now - gone) % MINUTE) as usize;
        self.sec_displaced[i] = self.sec_displaced[i].saturating_add(1);
    }

    /// The counters at second `t` (not before `now`), as defined on [`Counters`].
    pub fn counters_at(&self, t: u32, p: &Params) -> Counters {
        let t = t.max(self.now);
        if p.expired(self.now, t) {
            return Counters::default();
        }
        let d = t - self.now;
        let mut c = Counters {
            sequential: self.sequential,
            repeat_callee: self.repeat,
            ..Counters::default()
        };
        if d < MINUTE {
            let (calls, displaced, live) = if d == 0 {
                // Every `record` lands here: the ring holds exactly the minute and every
                // occupied slot is in it, so whole-array sums do.
                c.calls_1s = u32::from(self.sec_calls[(self.now % MINUTE) as usize]);
                let live = self.fps.iter().filter(|&&f| f != 0).count();
                (sum(&self.sec_calls), sum(&self.sec_displaced), live as u64)
            } else {
                // Seconds in (t - 60, now]; the ring holds (now - 60, now].
                let (mut calls, mut displaced) = (0, 0);
                for s in (t - (MINUTE - 1).min(t))..=self.now {
                    let i = (s % MINUTE) as usize;
                    calls += u64::from(self.sec_calls[i]);
                    displaced += u64::from(self.sec_displaced[i]);
                }
                let live = (0..CALLEE_SLOTS)
                    .filter(|&k| self.fps[k] != 0 && self.slot_age(k) + d < MINUTE)
                    .count();
                (calls, displaced, live as u64)
            };
            c.calls_1m = saturate(calls);
            c.distinct_callees = saturate(live + displaced).min(c.calls_1m);
        }
        // Buckets in [bucket(t) - 12, bucket(now)]; the ring holds [bucket(now) - 12, bucket(now)].
        let (bt, bn) = (p.bucket(t), p.bucket(self.now));
        let (calls, short, known) = if bt == bn {
            (
                sum(&self.long_calls),
                sum(&self.long_short),
                sum(&self.long_known),
            )
        } else {
            let (mut calls, mut short, mut known) = (0, 0, 0);
            for b in bt.saturating_sub(LONG_BUCKETS)..=bn {
                let b = (b as usize) % LONG_RING;
                calls += u64::from(self.long_calls[b]);
                short += u64::from(self.long_short[b]);
                known += u64::from(self.long_known[b]);
            }
            (calls, short, known)
        };
        (c.calls_window, c.short_calls, c.known_durations) =
            (saturate(calls), saturate(short), saturate(known));
        c
    }
}

fn sum<T: Copy + Into<u64>>(counts: &[T]) -> u64 {
    counts.iter().map(|&n| n.into()).sum()
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The callee's 32-bit fingerprint under `seed`, never 0 (0 marks an empty slot).
pub(super) fn fingerprint(callee: u64, seed: u64) -> u32 {
    (xxh3_64_with_seed(&callee.to_le_bytes(), seed) as u32).max(1)
}
