//! A cache-line-blocked Bloom filter over `u64` keys (E.164 numbers held as integers), sized
//! for national blocklists of up to ~10⁸ numbers and for filters exchanged between operators.
//!
//! Every key lives in one 512-bit block (one 64-byte cache line), so [`BlockedBloom::contains`]
//! touches one line whatever `k` is. The price is a somewhat higher false-positive rate than a
//! classic Bloom filter of the same size, because blocks fill unevenly;
//! [`BloomParams::for_capacity`] sizes filters with that taken into account.
//!
//! # Hashing (`HASH_VERSION` = 1)
//!
//! Fixed and seeded, never Rust's randomised hasher, so a filter built on one machine answers
//! identically on every other. From `(blocks, k, seed)` another implementation reproduces a
//! filter bit for bit (all arithmetic wrapping, mod 2⁶⁴):
//!
//! 1. `b = key.to_le_bytes()` (8 bytes).
//! 2. Block: `h = XXH3_64bits_withSeed(b, seed)` ([`hash_key`]); `block = (h × blocks) >> 64`,
//!    computed in 128 bits (multiply-shift, uniform without a modulo).
//! 3. Bit words: `w₀ = XXH3_64bits_withSeed(b, seed ^ 0x5851_F42D_4C95_7F2D)`; for `j ≥ 1`,
//!    `wⱼ = mix(w₀ + j × 0x9E37_79B9_7F4A_7C15)` where `mix` is the SplitMix64 finaliser:
//!    `z ^= z >> 30; z *= 0xBF58_476D_1CE4_E5B9; z ^= z >> 27; z *= 0x94D0_49BB_1331_11EB;
//!    z ^= z >> 31`.
//! 4. Position `t` (`0 ≤ t < k`) is `pₜ = (w_{t / 7} >> (9 × (t % 7))) & 511`: seven 9-bit
//!    chunks per word, top bit unused. Positions may repeat.
//! 5. Position `p` of block `i` is bit `p % 64` (value `1 << (p % 64)`) of word `8i + p / 64`.
//!    When words are exchanged, each is written little endian.
//!
//! Anything that changes which bits a key sets must bump [`HASH_VERSION`].
//!
//! # Size and false positives
//!
//! A filter costs `blocks × 64` bytes. With `n` keys, `λ = n / blocks` and `q = 1 − 1/512`, the
//! expected false-positive rate is `Σₘ Poisson(m; λ) · (1 − q^(k·m))^k` (keys per block are
//! Poisson). From [`BloomParams::for_capacity`] at 10⁸ keys (a classic Bloom filter with the
//! optimal k needs `1.44 · log₂(1/fpr)` bits per key):
//!
//! | fpr  | k  | bits/key | bytes/key | 10⁸ keys | classic bits/key |
//! |------|----|----------|-----------|----------|------------------|
//! | 1e-2 | 6  | 9.9      | 1.24      | 124 MB   | 9.6              |
//! | 1e-3 | 9  | 15.5     | 1.94      | 194 MB   | 14.4             |
//! | 1e-4 | 12 | 21.9     | 2.74      | 274 MB   | 19.1             |
//! | 1e-5 | 14 | 29.5     | 3.68      | 368 MB   | 23.9             |
//! | 1e-9 | 22 | 79.1     | 9.89      | 989 MB   | 43.1             |
//!
//! 1e-9 is the floor ([`MIN_FPR`]): sizing refuses lower rates, and list files that carry
//! one are refused as corrupt, so no header can ask for an unbounded filter.

use crate::xxh3::{hash8, seed_flip};
use crate::{Error, Result};
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Bits per block: one 64-byte cache line.
pub const BLOCK_BITS: usize = 512;
/// Hash scheme version, persisted with filters; bump if hashing changes.
pub const HASH_VERSION: u32 = 1;

const WORDS_PER_BLOCK: usize = BLOCK_BITS / 64;
/// Largest `k` accepted; beyond it extra probes cost more than they save at any sane fpr.
const MAX_K: u32 = 32;
/// 2³⁶ blocks = 4 TiB: anything larger is a mistake, not a blocklist.
const MAX_BLOCKS: u64 = 1 << 36;
/// Smallest false-positive rate a filter may be sized for (9.9 bytes per key, k = 22).
/// Lower rates buy nothing a list needs (an exact list never answers from the filter alone)
/// and, taken from a hostile file, size filters of hundreds of gigabytes.
pub const MIN_FPR: f64 = 1e-9;
/// Most filter bits per key [`BloomParams::for_capacity`] hands out (16 bytes), rounded up to
/// whole blocks: a bound on memory per key whatever the fpr. `MIN_FPR` needs 79 from a few
/// hundred keys on (a handful of keys round up to one or two blocks).
const MAX_BITS_PER_KEY: u64 = 128;
/// Seed offset separating the bit-position hash from the block hash (the PCG multiplier).
const BIT_SEED_XOR: u64 = 0x5851_F42D_4C95_7F2D;
/// SplitMix64's increment: spreads successive bit words apart before mixing.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
const CHUNKS_PER_WORD: u32 = 7;

/// The fixed block hash: XXH3-64 of `key.to_le_bytes()` with `seed` (XXH3_64bits_withSeed).
#[inline]
pub fn hash_key(key: u64, seed: u64) -> u64 {
    xxh3_64_with_seed(&key.to_le_bytes(), seed)
}

/// The SplitMix64 finaliser, used to stretch `w₀` when `k > 7`.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed work of both hashes, done once per filter.
#[derive(Clone, Copy, Debug)]
struct Flips {
    block: u64,
    bits: u64,
}

impl Flips {
    const fn new(seed: u64) -> Flips {
        Flips {
            block: seed_flip(seed),
            bits: seed_flip(seed ^ BIT_SEED_XOR),
        }
    }
}

/// First word of `key`'s block (multiply-shift) and `w₀`, the source of its bit positions.
#[inline(always)]
fn locate(p: &BloomParams, flips: Flips, key: u64) -> (usize, u64) {
    let h = hash8(key, flips.block);
    let block = ((u128::from(h) * u128::from(p.blocks)) >> 64) as usize;
    (block * WORDS_PER_BLOCK, hash8(key, flips.bits))
}

/// Calls `visit` with each of the `K` bit positions (0..512) drawn from `w₀`.
///
/// `K` is a constant so the loop unrolls completely: the word refills and shifts become
/// straight-line code (measured 30–40% faster than a loop over a runtime k at k ≥ 9).
#[inline(always)]
fn for_each_position<const K: u32>(w0: u64, mut visit: impl FnMut(u64)) {
    let mut word = w0;
    for t in 0..K {
        let (j, chunk) = (t / CHUNKS_PER_WORD, t % CHUNKS_PER_WORD);
        if j > 0 && chunk == 0 {
            word = mix(w0.wrapping_add(u64::from(j).wrapping_mul(GOLDEN)));
        }
        visit((word >> (9 * chunk)) & 511);
    }
}

fn set_bits<const K: u32>(line: &mut [u64; WORDS_PER_BLOCK], w0: u64) {
    for_each_position::<K>(w0, |p| line[(p >> 6) as usize] |= 1 << (p & 63));
}

#[inline(always)]
fn test_bits<const K: u32>(line: &[u64; WORDS_PER_BLOCK], w0: u64) -> bool {
    // Branch-free within a word: exiting at the first clear bit mispredicts on most misses,
    // which costs more than finishing the shifts while the line is in cache. Between words one
    // branch: most lookups are misses, and a miss shows in the first word's seven bits but for
    // a fill^7 (about 1%) of the time, so it is well predicted and skips the rest.
    let mut word = w0;
    let mut all = 1;
    for t in 0..K {
        let (j, chunk) = (t / CHUNKS_PER_WORD, t % CHUNKS_PER_WORD);
        if j > 0 && chunk == 0 {
            if all & 1 == 0 {
                return false;
            }
            word = mix(w0.wrapping_add(u64::from(j).wrapping_mul(GOLDEN)));
        }
        let p = (word >> (9 * chunk)) & 511;
        all &= line[(p >> 6) as usize] >> (p & 63);
    }
    all & 1 == 1
}

/// Calls `$f::<K>(args)` with the runtime `$k` turned into the constant `K`. k is always in
/// 1..=32 (checked by `new` and `from_words`), so the last arm only keeps the match total.
macro_rules! with_const_k {
    ($k:expr, $f:ident $args:tt) => {
        with_const_k!(@arms $k, $f $args;
            1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31)
    };
    (@arms $k:expr, $f:ident $args:tt; $($n:literal)*) => {
        match $k {
            $($n => $f::<$n> $args,)*
            _ => $f::<MAX_K> $args,
        }
    };
}

/// The shape of a filter: everything needed, with the words, to reproduce its answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BloomParams {
    /// Number of 512-bit blocks.
    pub blocks: u64,
    /// Bits set per key (1..=32).
    pub k: u32,
    /// Hash seed; filters only combine or compare under the same seed.
    pub seed: u64,
}

impl BloomParams {
    /// Smallest filter whose expected false-positive rate at `capacity` keys is <= `fpr`, with
    /// `k` chosen optimally. Errors for `fpr` outside [`MIN_FPR`]..1 (1 excluded), a filter
    /// over 2³⁶ blocks, or one over 128 bits per key (in whole blocks); a `capacity` of 0
    /// gives one block.
    pub fn for_capacity(capacity: u64, fpr: f64, seed: u64) -> Result<BloomParams> {
        if !(MIN_FPR..1.0).contains(&fpr) {
            return Err(Error::invalid(
                "fpr",
                format!("must be at least {MIN_FPR:e} and below 1, got {fpr:e}"),
            ));
        }
        if capacity == 0 {
            // Nothing to size for; keep a k that suits the fpr in case keys arrive anyway.
            let k = (-fpr.log2()).round().clamp(1.0, f64::from(MAX_K)) as u32;
            return Ok(BloomParams { blocks: 1, k, seed });
        }
        if best_k(MAX_BLOCKS, capacity).1 > fpr {
            return Err(Error::invalid(
                "capacity",
                format!(
                    "{capacity} keys at fpr {fpr} need more than 2^36 blocks ({} TiB)",
                    (MAX_BLOCKS * 64) >> 40
                ),
            ));
        }
        let per_key_cap = capacity
            .saturating_mul(MAX_BITS_PER_KEY)
            .div_ceil(BLOCK_BITS as u64)
            .clamp(1, MAX_BLOCKS);
        if best_k(per_key_cap, capacity).1 > fpr {
            return Err(Error::invalid(
                "fpr",
                format!(
                    "{fpr:e} at {capacity} keys needs more than {MAX_BITS_PER_KEY} bits per key"
                ),
            ));
        }
        // The best achievable fpr falls as blocks grow, so bisect for the smallest that fits.
        let (mut lo, mut hi) = (1u64, per_key_cap);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if best_k(mid, capacity).1 <= fpr {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Ok(BloomParams {
            blocks: lo,
            k: best_k(lo, capacity).0,
            seed,
        })
    }

    /// Expected false-positive rate with `items` keys, averaged over the Poisson spread of keys
    /// per block (`λ = items / blocks`); a block with `n` keys answers wrongly with probability
    /// `(1 − (1 − 1/512)^(k·n))^k`.
    pub fn expected_fpr(&self, items: u64) -> f64 {
        if self.k == 0 || self.blocks == 0 {
            return 1.0; // no bits to test: everything looks present
        }
        let mut out = [0.0];
        poisson_fpr(self.blocks, items, self.k..=self.k, &mut out);
        out[0]
    }

    /// Size of the filter's words in bytes (`blocks × 64`).
    pub fn size_bytes(&self) -> u64 {
        self.blocks.saturating_mul(BLOCK_BITS as u64 / 8)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.blocks == 0 {
            return Err("blocks is 0".into());
        }
        if self.k == 0 || self.k > MAX_K {
            return Err(format!("k = {} is outside 1..={MAX_K}", self.k));
        }
        Ok(())
    }
}

/// The `k` in 1..=32 with the lowest expected fpr for `items` keys in `blocks`, and that fpr.
fn best_k(blocks: u64, items: u64) -> (u32, f64) {
    let mut fprs = [0.0; MAX_K as usize];
    poisson_fpr(blocks, items, 1..=MAX_K, &mut fprs);
    // Ties go to the smaller k: fewer bits to compute for the same answer.
    (1..=MAX_K).zip(fprs).fold(
        (1, f64::INFINITY),
        |best, (k, f)| if f < best.1 { (k, f) } else { best },
    )
}

/// Writes the expected fpr for each `k` in `ks` into `out` (one pass over the Poisson terms).
fn poisson_fpr(blocks: u64, items: u64, ks: std::ops::RangeInclusive<u32>, out: &mut [f64]) {
    let lambda = items as f64 / blocks as f64;
    if items == 0 {
        out.fill(0.0);
        return;
    }
    // From λ = 51200 on, even a block with λ/2 keys has every probed bit set (q^(k·λ/2) < 1e-22
    // for any k ≥ 1) and fewer keys have Poisson mass < e^-200: the answer is 1.0 in f64.
    if lambda >= 51_200.0 {
        out.fill(1.0);
        return;
    }
    let ln_q = (-1.0 / BLOCK_BITS as f64).ln_1p();
    let mut acc = [0.0; MAX_K as usize];
    let mut total = 0.0;
    let mut add = |n: u64, w: f64| {
        total += w;
        for (a, k) in acc.iter_mut().zip(ks.clone()) {
            let k = f64::from(k);
            *a += w * (-(k * n as f64 * ln_q).exp_m1()).powf(k);
        }
    };
    // Weights relative to the mode, normalised by their sum at the end: no factorials needed,
    // and the terms dropped (below 1e-20 of the mode's) cannot move the result.
    let mode = lambda.floor() as u64;
    add(mode, 1.0);
    let (mut n, mut w) = (mode, 1.0);
    while w > 1e-20 {
        n += 1;
        w *= lambda / n as f64;
        add(n, w);
    }
    let (mut n, mut w) = (mode, 1.0);
    while n > 0 && w > 1e-20 {
        w *= n as f64 / lambda;
        n -= 1;
        add(n, w);
    }
    for (o, a) in out.iter_mut().zip(acc) {
        *o = (a / total).min(1.0);
    }
}

/// A blocked Bloom filter over `u64` keys. Generic over storage so a filter can live in a `Vec`
/// or in a memory-mapped file; `S` only needs to give the words as a `&[u64]`.
#[derive(Clone)]
pub struct BlockedBloom<S = Vec<u64>> {
    params: BloomParams,
    /// Derived from `params.seed`; kept so lookups skip the seed work.
    flips: Flips,
    words: S,
}

impl<S> std::fmt::Debug for BlockedBloom<S> {
    // The words can be hundreds of megabytes; show the shape only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockedBloom")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl BlockedBloom<Vec<u64>> {
    /// An empty filter. Parameters out of range are clamped (blocks to 1..=2³⁶, k to 1..=32) so
    /// the filter always works; take them from [`BloomParams::for_capacity`].
    pub fn new(params: BloomParams) -> Self {
        let params = BloomParams {
            blocks: params.blocks.clamp(1, MAX_BLOCKS),
            k: params.k.clamp(1, MAX_K),
            seed: params.seed,
        };
        let len = usize::try_from(params.blocks * WORDS_PER_BLOCK as u64).unwrap_or(usize::MAX);
        BlockedBloom {
            params,
            flips: Flips::new(params.seed),
            words: vec![0; len],
        }
    }

    /// An empty filter like [`BlockedBloom::new`], or an error naming `capacity` when its
    /// `blocks × 64` bytes cannot be allocated, instead of aborting the process: the sizes
    /// come from callers (`to_filter(capacity=…)`), and 2³⁶ blocks is far beyond any machine.
    pub fn try_new(params: BloomParams) -> Result<Self> {
        let params = BloomParams {
            blocks: params.blocks.clamp(1, MAX_BLOCKS),
            k: params.k.clamp(1, MAX_K),
            seed: params.seed,
        };
        let too_big = || {
            Error::invalid(
                "capacity",
                format!(
                    "a filter of {} bytes cannot be allocated",
                    params.size_bytes()
                ),
            )
        };
        let len = usize::try_from(params.blocks * WORDS_PER_BLOCK as u64).map_err(|_| too_big())?;
        let mut words = Vec::new();
        words.try_reserve_exact(len).map_err(|_| too_big())?;
        words.resize(len, 0);
        Ok(BlockedBloom {
            params,
            flips: Flips::new(params.seed),
            words,
        })
    }

    /// Adds `key`.
    #[inline]
    pub fn insert(&mut self, key: u64) {
        let (start, w0) = locate(&self.params, self.flips, key);
        if let Ok(line) = (&mut self.words[start..start + WORDS_PER_BLOCK]).try_into() {
            with_const_k!(self.params.k, set_bits(line, w0));
        }
    }

    /// Bitwise OR of a filter with identical params (the filter of both key sets); otherwise an
    /// error naming the parameter that differs.
    pub fn union_with<T: AsRef<[u64]>>(&mut self, other: &BlockedBloom<T>) -> Result<()> {
        let (a, b) = (self.params, other.params);
        let differs = if a.blocks != b.blocks {
            Some(format!("blocks differ ({} vs {})", a.blocks, b.blocks))
        } else if a.k != b.k {
            Some(format!("k differs ({} vs {})", a.k, b.k))
        } else if a.seed != b.seed {
            Some(format!("seed differs ({:#x} vs {:#x})", a.seed, b.seed))
        } else {
            None
        };
        if let Some(message) = differs {
            return Err(Error::invalid("filter", format!("cannot union: {message}")));
        }
        for (w, o) in self.words.iter_mut().zip(other.words()) {
            *w |= o;
        }
        Ok(())
    }
}

impl<S: AsRef<[u64]>> BlockedBloom<S> {
    /// Wraps existing words (e.g. from a file) without copying; an error if `params` are out of
    /// range or `words` is not `blocks × 8` long.
    pub fn from_words(params: BloomParams, words: S) -> Result<Self> {
        params
            .check()
            .map_err(|m| Error::corrupt("<filter>", 0, m))?;
        let len = words.as_ref().len() as u64;
        let want = params.blocks.checked_mul(WORDS_PER_BLOCK as u64);
        if want != Some(len) {
            return Err(Error::corrupt(
                "<filter>",
                0,
                format!(
                    "{len} words, but {} blocks need {} words",
                    params.blocks,
                    params.blocks.saturating_mul(WORDS_PER_BLOCK as u64)
                ),
            ));
        }
        Ok(BlockedBloom {
            params,
            flips: Flips::new(params.seed),
            words,
        })
    }

    /// True if `key` may have been inserted; false means it certainly was not. Touches one cache
    /// line and allocates nothing.
    #[inline]
    pub fn contains(&self, key: u64) -> bool {
        let (start, w0) = locate(&self.params, self.flips, key);
        // The slice is 8 long by construction, so the conversion cannot fail.
        match self.words()[start..start + WORDS_PER_BLOCK].try_into() {
            Ok(line) => with_const_k!(self.params.k, test_bits(line, w0)),
            Err(_) => false,
        }
    }

    /// The filter's parameters.
    pub fn params(&self) -> BloomParams {
        self.params
    }

    /// The raw words: block `i` is `words[8i..8i + 8]`.
    pub fn words(&self) -> &[u64] {
        self.words.as_ref()
    }

    /// The same filter in another storage holding the same words (e.g. `Vec` → a wrapper),
    /// without copying or re-checking them.
    pub fn map_words<T: AsRef<[u64]>>(self, f: impl FnOnce(S) -> T) -> BlockedBloom<T> {
        BlockedBloom {
            params: self.params,
            flips: self.flips,
            words: f(self.words),
        }
    }

    /// Number of bits set.
    pub fn bits_set(&self) -> u64 {
        self.words().iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// False-positive rate estimated from the fill: the mean over blocks of
    /// `(bits set in block / 512)^k`. Unlike [`BloomParams::expected_fpr`] it needs no key count,
    /// so it also works on filters received from elsewhere.
    pub fn estimated_fpr(&self) -> f64 {
        let k = self.params.k as i32;
        let sum: f64 = self
            .words()
            .chunks_exact(WORDS_PER_BLOCK)
            .map(|b| {
                let ones: u32 = b.iter().map(|w| w.count_ones()).sum();
                (f64::from(ones) / BLOCK_BITS as f64).powi(k)
            })
            .sum();
        sum / self.params.blocks as f64
    }

    /// A copy with owned words, e.g. to modify a filter loaded from a memory map.
    pub fn to_owned(&self) -> BlockedBloom<Vec<u64>> {
        BlockedBloom {
            params: self.params,
            flips: self.flips,
            words: self.words().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Deterministic key stream (SplitMix64), so statistical tests never flake.
    fn keys(seed: u64, n: usize) -> impl Iterator<Item = u64> {
        (1..=n as u64).map(move |i| mix(seed.wrapping_add(i.wrapping_mul(GOLDEN))))
    }

    fn build(params: BloomParams, keys: impl IntoIterator<Item = u64>) -> BlockedBloom {
        let mut f = BlockedBloom::new(params);
        keys.into_iter().for_each(|k| f.insert(k));
        f
    }

    /// Indices of the set bits across the whole filter.
    fn ones(f: &BlockedBloom) -> Vec<usize> {
        (0..f.words().len() * 64)
            .filter(|&b| f.words()[b / 64] >> (b % 64) & 1 == 1)
            .collect()
    }

    /// The bits `key` sets, following the module docs step by step with no shortcuts.
    fn reference_bits(p: BloomParams, key: u64) -> Vec<usize> {
        let b = key.to_le_bytes();
        let h = xxh3_64_with_seed(&b, p.seed);
        let block = ((u128::from(h) * u128::from(p.blocks)) >> 64) as usize;
        let w0 = xxh3_64_with_seed(&b, p.seed ^ 0x5851_F42D_4C95_7F2D);
        let word = |j: u64| match j {
            0 => w0,
            _ => mix(w0.wrapping_add(j.wrapping_mul(0x9E37_79B9_7F4A_7C15))),
        };
        let mut bits: Vec<usize> = (0..u64::from(p.k))
            .map(|t| block * 512 + ((word(t / 7) >> (9 * (t % 7))) & 511) as usize)
            .collect();
        bits.sort_unstable();
        bits.dedup();
        bits
    }

    fn measured_fpr(f: &BlockedBloom, probes: impl Iterator<Item = u64>) -> f64 {
        let (mut hits, mut n) = (0u64, 0u64);
        for key in probes {
            hits += u64::from(f.contains(key));
            n += 1;
        }
        hits as f64 / n as f64
    }

    #[test]
    fn hash_is_stable() {
        // Golden values: if these change, filters already shared are unreadable. Bump
        // HASH_VERSION instead of editing them.
        assert_eq!(hash_key(0, 0), 0xc77b_3abb_6f87_acd9);
        assert_eq!(hash_key(77_011_234_567, 0), 0x32c6_5478_b2a0_0768);
        assert_eq!(hash_key(447_700_900_123, 0x5eed), 0x7d66_67bb_c1c8_9a8a);
        assert_eq!(hash_key(u64::MAX, u64::MAX), 0xda8f_77a4_d5c3_99ea);
    }

    /// Filters built by the original probe code (two calls of the xxhash crate, every bit
    /// tested without an early exit), word for word: the persisted layout must not move.
    #[test]
    fn filters_are_bit_identical_to_the_reference() {
        for (k, seed) in [
            (1, 0),
            (7, 3),
            (8, 0x5eed),
            (13, 42),
            (14, u64::MAX),
            (32, 9),
        ] {
            let p = BloomParams {
                blocks: 257,
                k,
                seed,
            };
            let f = build(p, keys(k.into(), 3000));
            let mut reference = vec![0u64; f.words().len()];
            for key in keys(k.into(), 3000) {
                for bit in reference_bits(p, key) {
                    reference[bit / 64] |= 1 << (bit % 64);
                }
            }
            assert_eq!(f.words(), &reference[..], "k {k}");
            for key in keys(k.into(), 3000).chain(keys(99, 3000)) {
                let want = reference_bits(p, key)
                    .iter()
                    .all(|&b| reference[b / 64] >> (b % 64) & 1 == 1);
                assert_eq!(f.contains(key), want, "k {k} key {key}");
            }
        }
    }

    #[test]
    fn bit_layout_is_stable() {
        // Pins steps 2–5 of the module docs, including the mixed words beyond w₀ (k > 7).
        let p = BloomParams {
            blocks: 1000,
            k: 20,
            seed: 7,
        };
        let set = ones(&build(p, [447_700_900_123]));
        let block = set[0] / BLOCK_BITS;
        let within: Vec<usize> = set.iter().map(|b| b - block * BLOCK_BITS).collect();
        // 20 draws, 19 distinct bits: position 117 came up twice.
        assert_eq!(block, 811);
        let golden = [
            34, 47, 74, 92, 99, 117, 161, 171, 220, 252, 260, 282, 302, 366, 380, 392, 453, 495,
            509,
        ];
        assert_eq!(within, golden);
    }

    #[test]
    fn sizing_matches_the_docs_table() {
        for (fpr, k, bytes_per_key) in [
            (1e-2, 6, 1.237),
            (1e-3, 9, 1.936),
            (1e-4, 12, 2.739),
            (1e-5, 14, 3.684),
            (1e-9, 22, 9.887),
        ] {
            let p = BloomParams::for_capacity(100_000_000, fpr, 0).unwrap();
            assert_eq!(p.k, k, "fpr {fpr}");
            let per_key = p.size_bytes() as f64 / 1e8;
            assert!(
                (per_key - bytes_per_key).abs() < 0.0006,
                "fpr {fpr}: {per_key}"
            );
            assert!(p.expected_fpr(100_000_000) <= fpr);
            let smaller = BloomParams {
                blocks: p.blocks - 1,
                ..p
            };
            assert!((1..=32).all(|k| BloomParams { k, ..smaller }.expected_fpr(100_000_000) > fpr));
        }
    }

    #[test]
    fn for_capacity_rejects_nonsense() {
        for fpr in [0.0, 1.0, -0.5, 2.0, f64::NAN, f64::INFINITY] {
            let err = BloomParams::for_capacity(1000, fpr, 0).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidValue { field, .. } if field == "fpr"),
                "{err}"
            );
        }
        let err = BloomParams::for_capacity(u64::MAX, 1e-6, 0).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidValue { field, .. } if field == "capacity"),
            "{err}"
        );
        let p = BloomParams::for_capacity(0, 1e-3, 9).unwrap();
        assert_eq!((p.blocks, p.seed), (1, 9));
        assert!((1..=MAX_K).contains(&p.k));
    }

    /// Fuzz regression (list_file, compaction-allocates-for-tiny-fpr): a list file with fpr
    /// 1e-46 made the next compaction size a filter of ~1 TB for 155 keys.
    #[test]
    fn for_capacity_refuses_fprs_below_the_floor() {
        for fpr in [1e-46, 1e-10, MIN_FPR * 0.999, f64::MIN_POSITIVE, 5e-324] {
            for capacity in [0, 155, 1_000_000] {
                let err = BloomParams::for_capacity(capacity, fpr, 0).unwrap_err();
                assert!(
                    matches!(&err, Error::InvalidValue { field, .. } if field == "fpr"),
                    "{fpr} at {capacity}: {err}"
                );
            }
        }
    }

    #[test]
    fn the_floor_fits_the_per_key_cap_at_every_size() {
        let capacities = (0..=600).chain([1_000, 4_097, 65_537, 1_000_000, 100_000_000]);
        for capacity in capacities {
            let p = BloomParams::for_capacity(capacity, MIN_FPR, 0).unwrap();
            assert!(p.expected_fpr(capacity) <= MIN_FPR, "{capacity}");
            let cap = (capacity * MAX_BITS_PER_KEY).div_ceil(BLOCK_BITS as u64);
            assert!(p.blocks <= cap.max(1), "{capacity}: {} blocks", p.blocks);
        }
        let p = BloomParams::for_capacity(100_000_000, MIN_FPR, 0).unwrap();
        assert_eq!(p.k, 22);
        assert!((p.size_bytes() as f64 / 1e8 - 9.89).abs() < 0.01);
    }

    /// Sizes for 100k keys, inserts them and probes 1M absent ones: under a second per case in a
    /// debug build. At 1e-4 ~100 false positives are expected, so 1.5x is over three standard
    /// deviations of slack (and the key streams are fixed, so it cannot flake).
    fn check_measured_fpr(fpr: f64) {
        let p = BloomParams::for_capacity(100_000, fpr, 0xfeed).unwrap();
        let f = build(p, keys(1, 100_000));
        let measured = measured_fpr(&f, keys(2, 1_000_000));
        assert!(
            measured < fpr * 1.5 && measured > fpr / 1.5,
            "measured {measured}"
        );
        let est = f.estimated_fpr();
        assert!(est < fpr * 1.5 && est > fpr / 1.5, "estimated {est}");
    }

    #[test]
    fn measured_fpr_matches_1e_3() {
        check_measured_fpr(1e-3);
    }

    #[test]
    fn measured_fpr_matches_1e_4() {
        check_measured_fpr(1e-4);
    }

    #[test]
    fn consecutive_numbers_hash_as_well_as_random_ones() {
        // Blocklists are full of number ranges; the hash must not care.
        let fpr = 1e-3;
        let p = BloomParams::for_capacity(100_000, fpr, 0).unwrap();
        let f = build(p, 77_011_000_000..77_011_100_000);
        let measured = measured_fpr(&f, 77_012_000_000..77_012_500_000);
        assert!(
            measured < fpr * 1.5 && measured > fpr / 1.5,
            "measured {measured}"
        );
    }

    #[test]
    fn expected_fpr_rises_with_items() {
        let p = BloomParams::for_capacity(10_000, 1e-3, 0).unwrap();
        let mut last = p.expected_fpr(0);
        assert_eq!(last, 0.0);
        for items in (1..60)
            .map(|i| i * 1_000)
            .chain([1 << 20, 1 << 30, u64::MAX])
        {
            let now = p.expected_fpr(items);
            assert!(now >= last, "{items}: {now} < {last}");
            last = now;
        }
        assert_eq!(last, 1.0);
    }

    #[test]
    fn union_refuses_other_params() {
        let p = BloomParams {
            blocks: 4,
            k: 3,
            seed: 1,
        };
        let mut a = BlockedBloom::new(p);
        for (other, name) in [
            (BloomParams { blocks: 5, ..p }, "blocks"),
            (BloomParams { k: 4, ..p }, "k"),
            (BloomParams { seed: 2, ..p }, "seed"),
        ] {
            let err = a.union_with(&BlockedBloom::new(other)).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn from_words_checks_shape() {
        let p = BloomParams {
            blocks: 2,
            k: 3,
            seed: 0,
        };
        assert!(BlockedBloom::from_words(p, vec![0u64; 16]).is_ok());
        for len in [0, 8, 15, 17, 24] {
            let err = BlockedBloom::from_words(p, vec![0u64; len]).unwrap_err();
            assert!(
                matches!(err, Error::Corrupt { offset: 0, .. }),
                "{len}: {err}"
            );
        }
        for bad in [
            BloomParams { k: 0, ..p },
            BloomParams { k: 33, ..p },
            BloomParams { blocks: 0, ..p },
        ] {
            assert!(BlockedBloom::from_words(bad, Vec::new()).is_err());
            assert!(BlockedBloom::from_words(bad, vec![0u64; 16]).is_err());
        }
        assert!(BlockedBloom::from_words(
            BloomParams {
                blocks: u64::MAX,
                ..p
            },
            &[0u64; 8][..]
        )
        .is_err());
    }

    #[test]
    fn borrowed_words_answer_like_the_original() {
        let p = BloomParams::for_capacity(1000, 1e-3, 3).unwrap();
        let f = build(p, keys(5, 1000));
        let view = BlockedBloom::from_words(p, f.words()).unwrap();
        assert!(keys(5, 1000).all(|k| view.contains(k)));
        assert_eq!(view.bits_set(), f.bits_set());
        assert_eq!(view.to_owned().words(), f.words());
    }

    /// Found by tests/test_entry_points.py: `to_filter(capacity=10**11)` sized a 274 GB filter
    /// and the failed allocation aborted the process.
    #[test]
    fn try_new_reports_a_filter_too_big_to_allocate() {
        let p = BloomParams::for_capacity(2_000_000_000_000, 1e-2, 0).unwrap();
        assert!(p.size_bytes() > 2 << 40, "{}", p.size_bytes());
        // With overcommit_memory = 1 the kernel grants any size, and filling it would not end
        // well: check the refusal only where the kernel refuses.
        let overcommit = std::fs::read_to_string("/proc/sys/vm/overcommit_memory");
        if overcommit.is_ok_and(|s| s.trim() != "1") {
            let err = BlockedBloom::try_new(p).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidValue { field, .. } if field == "capacity"),
                "{err}"
            );
        }
        let small = BloomParams::for_capacity(1000, 1e-3, 0).unwrap();
        assert_eq!(
            BlockedBloom::try_new(small).unwrap().words(),
            BlockedBloom::new(small).words()
        );
    }

    #[test]
    fn new_clamps_out_of_range_params() {
        let mut f = BlockedBloom::new(BloomParams {
            blocks: 0,
            k: 99,
            seed: 0,
        });
        f.insert(42);
        assert!(f.contains(42));
        assert_eq!(
            f.params(),
            BloomParams {
                blocks: 1,
                k: 32,
                seed: 0
            }
        );
    }

    fn params() -> impl Strategy<Value = BloomParams> {
        (1u64..64, 1u32..=MAX_K, any::<u64>()).prop_map(|(blocks, k, seed)| BloomParams {
            blocks,
            k,
            seed,
        })
    }

    proptest! {
        #[test]
        fn no_false_negatives(p in params(), keys in proptest::collection::vec(any::<u64>(), 0..300)) {
            let f = build(p, keys.iter().copied());
            for key in &keys {
                prop_assert!(f.contains(*key));
            }
            prop_assert!(f.bits_set() <= keys.len() as u64 * u64::from(p.k));
        }

        #[test]
        fn sets_the_documented_bits(p in params(), key in any::<u64>()) {
            prop_assert_eq!(ones(&build(p, [key])), reference_bits(p, key));
        }

        #[test]
        fn union_equals_filter_of_all_keys(
            p in params(),
            a in proptest::collection::vec(any::<u64>(), 0..100),
            b in proptest::collection::vec(any::<u64>(), 0..100),
        ) {
            let mut fa = build(p, a.iter().copied());
            let fb = build(p, b.iter().copied());
            fa.union_with(&BlockedBloom::from_words(p, fb.words()).unwrap()).unwrap();
            let all = build(p, a.iter().chain(&b).copied());
            prop_assert_eq!(fa.words(), all.words());
        }
    }

    proptest! {
        // Each sizing runs a bisection over Poisson sums (~10 ms in a debug build): few cases.
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn sizing_is_sane(capacity in 1u64..1_000_000_000, exp in 1.0f64..7.0) {
            let fpr = 10f64.powf(-exp);
            let p = BloomParams::for_capacity(capacity, fpr, 0).unwrap();
            prop_assert!((1..=MAX_K).contains(&p.k));
            prop_assert!(p.expected_fpr(capacity) <= fpr);
            // No filter beats log2(1/fpr) bits per key.
            prop_assert!((p.blocks * 512) as f64 >= capacity as f64 * (1.0 / fpr).log2());
        }
    }
}
