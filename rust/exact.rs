//! A compact, immutable, exact set of `u64` keys (E.164 numbers as integers) for blocklists
//! of up to hundreds of millions of numbers. It sits behind a bloom filter: a `true` from
//! [`ExactSet::contains`] is never wrong.
//!
//! Sorted unique keys are cut into blocks of [`BLOCK_LEN`] keys (frame of reference). A block
//! stores its first key (the head) in full and every other key as `key - head`, bit-packed at
//! the block's width `w` (the bit length of its largest delta). A lookup finds the last head
//! `<= key`, then binary-searches that block's deltas, unpacking one at a time.
//!
//! A binary search over the heads alone would take a cache miss per halving once they
//! outgrow the cache, so a directory narrows it first. Heads are grouped into segments, split
//! wherever two consecutive heads are more than [`SPLIT_GAP`] median block spans apart (other
//! countries, unallocated ranges), so a few far-away numbers cannot make the directory of a
//! dense range coarse. Each segment has a linear directory of at most one bucket per block:
//! bucket `j` records the last block whose head is `<=` the segment's first head
//! `+ j·2^shift`, so the block holding a key lies between two adjacent entries, usually one
//! or two candidates. A lookup reads the small segment array, one directory entry, a head or
//! two and one or two lines of packed deltas: three cache misses when cold, however large.
//!
//! Everything lives in one flat `[u64]`, so a set can be memory-mapped and used without
//! copying (`ExactSet<&[u64]>`). Magic, version and checksum belong to the file container
//! ([`crate::persist`]); this is the payload.
//!
//! ```text
//! words                   content
//! 0                       len: number of keys
//! 1                       block_len: keys per block (the builders use 64)
//! 2                       n_blocks = ⌈len / block_len⌉
//! 3                       packed_words
//! 4                       n_segments (0 iff the set is empty)
//! 5                       dir_len: directory entries over all segments
//! 6 .. +S                 seg_heads[s]: head of segment s's first block, increasing
//! .. +S                   seg_meta[s] = dir_start << 8 | shift; segment s owns
//!                         dir[dir_start ..] with ((last head − first head) >> shift) + 2
//!                         entries, the final one its last block
//! .. +dir_len             dir: block indices
//! .. +2·n_blocks          table: head, then bit_offset << 8 | w (w ≤ 64), per block
//! .. +packed_words        packed deltas, LSB-first, blocks back to back
//! ```
//!
//! Size, with `n` keys, `B = ⌈n / 64⌉` blocks and `S` segments (1 for keys in one dense
//! range): `8 × (6 + 2S + dir_len + 2B + ⌈Σ_b (count_b − 1) · w_b / 64⌉)` bytes, with
//! `dir_len ≤ B + S`. That is at most about `w̄ · 63/64 + 3` bits per key, where
//! `w̄ ≈ log2(64 × mean gap between keys)`: numbers 16–20 apart take `w ≈ 11`, 1.65 bytes
//! per key.

use crate::{Error, Result};
use std::fmt;

/// Keys per block chosen by the builders; [`ExactSet::from_words`] accepts any block length.
pub const BLOCK_LEN: usize = 64;

/// A gap between consecutive heads wider than this many median block spans starts a new
/// directory segment, so a few far-away keys cannot coarsen the directory of dense ranges.
pub const SPLIT_GAP: u64 = 64;

const HEADER_WORDS: usize = 6;
const SOURCE: &str = "<exact set>";

/// An immutable exact set of `u64` keys stored in one flat word array `S`.
#[derive(Clone)]
pub struct ExactSet<S = Vec<u64>> {
    words: S,
    shape: Shape,
}

/// Header fields and array offsets, cached so lookups touch only the arrays.
#[derive(Clone, Copy, Debug)]
struct Shape {
    len: usize,
    block_len: usize,
    n_blocks: usize,
    /// The smallest key.
    first: u64,
    seg_meta: usize,
    dir: usize,
    table: usize,
    packed: usize,
}

impl Shape {
    fn new(
        len: usize,
        block_len: usize,
        n_blocks: usize,
        n_segments: usize,
        dir_len: usize,
    ) -> Self {
        let seg_meta = HEADER_WORDS + n_segments;
        let dir = seg_meta + n_segments;
        let table = dir + dir_len;
        Shape {
            len,
            block_len,
            n_blocks,
            first: 0,
            seg_meta,
            dir,
            table,
            packed: table + 2 * n_blocks,
        }
    }
}

impl ExactSet<Vec<u64>> {
    /// From keys in any order, duplicates allowed (sorts and dedups in place).
    pub fn from_unsorted(mut keys: Vec<u64>) -> Self {
        keys.sort_unstable();
        keys.dedup();
        Encoder::from_sorted(&keys)
    }

    /// From strictly increasing keys; an unsorted or repeated key is an error naming its index.
    pub fn from_sorted(keys: &[u64]) -> Result<Self> {
        if let Some(i) = keys.windows(2).position(|w| w[0] >= w[1]) {
            return Err(Error::invalid(
                "keys",
                format!("not sorted at index {}", i + 1),
            ));
        }
        Ok(Encoder::from_sorted(keys))
    }
}

impl<S: AsRef<[u64]>> ExactSet<S> {
    /// Wraps words produced by [`ExactSet::words`], e.g. mapped from a file.
    ///
    /// Checks everything lookups and iteration rely on, and that the encoding is one the
    /// builders can produce: a consistent header, segments and directory matching the heads,
    /// contiguous in-bounds blocks with minimal widths, and all keys strictly increasing
    /// without overflow (every packed value is unpacked once, a few nanoseconds per key). A
    /// damaged input is an [`Error::Corrupt`] at the byte offset of the offending word.
    /// Lookups also bound every read, so a set that slipped past these checks could answer
    /// wrongly but never panic.
    pub fn from_words(words: S) -> Result<Self> {
        let shape = validate(words.as_ref())?;
        Ok(ExactSet { words, shape })
    }

    /// True if `key` is in the set. Allocation-free; about three cache misses when cold.
    #[inline]
    pub fn contains(&self, key: u64) -> bool {
        let s = &self.shape;
        if s.n_blocks == 0 || key < s.first {
            return false;
        }
        let words = self.words.as_ref();
        let part = |from: usize, to: usize| words.get(from..to).unwrap_or(&[]);
        let seg_heads = part(HEADER_WORDS, s.seg_meta);
        let seg_meta = part(s.seg_meta, s.dir);
        let dir = part(s.dir, s.table);
        let table = part(s.table, s.packed);

        // Arithmetic on stored values wraps or saturates: `from_words` vetted them, and even
        // if it had not, a lookup must not panic.
        let seg = last_at_most(seg_heads.len(), key, |i| seg_heads.get(i).copied());
        let origin = seg_heads.get(seg).copied().unwrap_or(0);
        let (dir_start, shift) = split_meta(seg_meta.get(seg).copied().unwrap_or(0));
        let dir_end = seg_meta
            .get(seg + 1)
            .map_or(dir.len(), |&m| split_meta(m).0 as usize);
        let dir = dir.get(dir_start as usize..dir_end).unwrap_or(&[]);
        let j = usize::try_from(key.wrapping_sub(origin) >> shift.min(63)).unwrap_or(usize::MAX);
        let j = j.min(dir.len().saturating_sub(1));
        // The block holding `key` (the last head <= key) is one of lo..=hi.
        let lo = dir.get(j).map_or(0, |&b| b as usize);
        let hi = dir.get(j + 1).map_or(lo, |&b| b as usize);
        let heads = table.get(lo.saturating_mul(2)..).unwrap_or(&[]);
        let candidates = hi.saturating_sub(lo).saturating_add(1);
        let block = lo.wrapping_add(last_at_most(candidates, key, |i| {
            heads.get(i.wrapping_mul(2)).copied()
        }));
        let at = block.wrapping_mul(2);
        let head = table.get(at).copied().unwrap_or(u64::MAX);
        let delta = key.wrapping_sub(head);
        if delta == 0 {
            return true;
        }
        let (offset, width) = split_meta(table.get(at.wrapping_add(1)).copied().unwrap_or(0));
        // A delta wider than the block's width lies in the gap after the block.
        if width < 64 && delta >> width != 0 {
            return false;
        }
        let packed = part(s.packed, words.len());
        let step = u64::from(width);
        let n = self.block_count(block).saturating_sub(1) as u64;
        // The largest delta bounds the block; loading it now also fetches the block's last
        // cache line alongside the first probe instead of after it.
        let last_bit = offset.wrapping_add(n.wrapping_sub(1).wrapping_mul(step));
        if n == 0 || delta > unpack(packed, last_bit, width) {
            return false;
        }
        // Search by bit position, so the multiply stays off the chain of dependent loads.
        let (mut bit, mut size) = (offset, n);
        while size > 1 {
            let half = size / 2;
            let jump = half.wrapping_mul(step);
            let value = unpack(packed, bit.wrapping_add(jump), width);
            bit = bit.wrapping_add(jump & !borrow(delta, value));
            size -= half;
        }
        unpack(packed, bit, width) == delta
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.shape.len
    }

    /// True if the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.shape.len == 0
    }

    /// The keys in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let packed = self.words().get(self.shape.packed..).unwrap_or(&[]);
        (0..self.shape.n_blocks).flat_map(move |b| {
            let (head, offset, width) = self.block(b);
            let deltas = (0..self.block_count(b).saturating_sub(1)).map(move |i| {
                let bit = offset.wrapping_add((i as u64).wrapping_mul(u64::from(width)));
                head.wrapping_add(unpack(packed, bit, width))
            });
            std::iter::once(head).chain(deltas)
        })
    }

    /// The flat representation, for [`ExactSet::from_words`] (write it out little endian).
    pub fn words(&self) -> &[u64] {
        self.words.as_ref()
    }

    /// The same set in another storage holding the same words, without copying or
    /// re-validating them.
    pub fn map_words<T: AsRef<[u64]>>(self, f: impl FnOnce(S) -> T) -> ExactSet<T> {
        ExactSet {
            words: f(self.words),
            shape: self.shape,
        }
    }

    /// Bytes used by [`ExactSet::words`].
    pub fn size_bytes(&self) -> usize {
        self.words().len() * 8
    }

    /// Head, bit offset and width of block `b` (zeros if out of range).
    fn block(&self, b: usize) -> (u64, u64, u32) {
        let word = |i: usize| self.words().get(i).copied().unwrap_or(0);
        let at = self.shape.table + 2 * b;
        let (offset, width) = split_meta(word(at + 1));
        (word(at), offset, width)
    }

    /// Keys in block `b`: `block_len`, except in the last block.
    #[inline]
    fn block_count(&self, b: usize) -> usize {
        let s = &self.shape;
        s.len
            .saturating_sub(b.saturating_mul(s.block_len))
            .min(s.block_len)
    }
}

impl<S: AsRef<[u64]>> fmt::Debug for ExactSet<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExactSet")
            .field("len", &self.len())
            .field("size_bytes", &self.size_bytes())
            .finish()
    }
}

/// Merge helper for compaction: `(base ∪ add) ∖ remove` as a new set (a key both added and
/// removed ends up absent). Streams `base`, so it needs no copy of it as plain keys.
pub fn rebuild<S: AsRef<[u64]>>(base: &ExactSet<S>, add: &[u64], remove: &[u64]) -> ExactSet {
    let sorted = |keys: &[u64]| {
        let mut v = keys.to_vec();
        v.sort_unstable();
        v.dedup();
        v
    };
    let (add, remove) = (sorted(add), sorted(remove));
    let mut enc = Encoder::with_capacity(base.len() + add.len());
    let mut removed = remove.iter().copied().peekable();
    for key in union(base.iter(), add.iter().copied()) {
        while removed.next_if(|&r| r < key).is_some() {}
        if removed.peek() != Some(&key) {
            enc.push(key);
        }
    }
    enc.finish()
}

/// Union of two ascending, duplicate-free sequences.
fn union(a: impl Iterator<Item = u64>, b: impl Iterator<Item = u64>) -> impl Iterator<Item = u64> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(&x), Some(&y)) if x < y => a.next(),
        (Some(&x), Some(&y)) if y < x => b.next(),
        (Some(_), Some(_)) => {
            b.next();
            a.next()
        }
        (Some(_), None) => a.next(),
        (None, _) => b.next(),
    })
}

/// The last index `i < n` with `at(i) <= key`, or 0; `at` is ascending and `None` past the
/// data. Branch-free: the comparisons are coin flips, so a branch would mispredict half the
/// time.
#[inline]
fn last_at_most(n: usize, key: u64, at: impl Fn(usize) -> Option<u64>) -> usize {
    let (mut base, mut size) = (0usize, n);
    while size > 1 {
        let half = size / 2;
        let value = at(base + half).unwrap_or(u64::MAX);
        base += half & !(borrow(key, value) as usize);
        size -= half;
    }
    base
}

/// All ones if `a < b`, else zero: the borrow of a 128-bit subtraction. The searches step
/// with it because LLVM compiles a plain `if` there into a branch
/// (`std::hint::select_unpredictable` needs Rust 1.88).
#[inline]
fn borrow(a: u64, b: u64) -> u64 {
    (u128::from(a).wrapping_sub(u128::from(b)) >> 64) as u64
}

/// Bits needed to store `v`.
fn bit_width(v: u64) -> u32 {
    u64::BITS - v.leading_zeros()
}

/// Splits `x << 8 | y` into `(x, y)`.
fn split_meta(meta: u64) -> (u64, u32) {
    (meta >> 8, (meta & 0xFF) as u32)
}

/// The `width`-bit value at bit `bit` of `packed`; reads past the end are zeros, so a corrupt
/// offset yields a wrong value, never a panic.
#[inline]
fn unpack(packed: &[u64], bit: u64, width: u32) -> u64 {
    if width == 0 {
        return 0;
    }
    let word = (bit / 64) as usize;
    let shift = (bit % 64) as u32;
    let lo = packed.get(word).copied().unwrap_or(0) >> shift;
    // `<< 1 << (63 - shift)` is `<< (64 - shift)` without the overflow when shift is 0.
    let hi = packed.get(word.wrapping_add(1)).copied().unwrap_or(0) << 1 << (63 - shift);
    (lo | hi) & (u64::MAX >> (64 - width.min(64)))
}

/// Directory entries of the segment made of blocks `from..to` (heads at `table[2b]`, strictly
/// increasing): for each bucket `j`, the last block whose head is `<= table[2 from] + (j <<
/// shift)`, then `to - 1`.
fn segment_directory(
    table: &[u64],
    from: usize,
    to: usize,
    shift: u32,
) -> impl Iterator<Item = u64> + '_ {
    let head = |b: usize| table.get(2 * b).copied().unwrap_or(u64::MAX);
    let (first, last) = (head(from), head(to.saturating_sub(1)));
    let buckets = last.saturating_sub(first) >> shift.min(63);
    let mut block = from;
    (0..=buckets)
        .map(move |j| {
            let start = first + (j << shift.min(63));
            while block + 1 < to && head(block + 1) <= start {
                block += 1;
            }
            block as u64
        })
        .chain(std::iter::once(to.saturating_sub(1) as u64))
}

/// The smallest shift that splits `span` into at most one directory bucket per block.
fn directory_shift(span: u64, blocks: usize) -> u32 {
    (0..63).find(|&s| (span >> s) < blocks as u64).unwrap_or(63)
}

/// Where segments start: at block 0 and after every head gap wider than [`SPLIT_GAP`]
/// median gaps (none for no blocks).
fn segment_starts(heads: &[u64]) -> Vec<usize> {
    if heads.is_empty() {
        return Vec::new();
    }
    let mut gaps: Vec<u64> = heads.windows(2).map(|w| w[1] - w[0]).collect();
    let median = match gaps.len() {
        0 => 0,
        n => *gaps.select_nth_unstable(n / 2).1,
    };
    let limit = median.saturating_mul(SPLIT_GAP);
    let mut starts = vec![0];
    starts.extend((1..heads.len()).filter(|&b| heads[b] - heads[b - 1] > limit));
    starts
}

/// Streams strictly increasing keys into blocks.
struct Encoder {
    table: Vec<u64>,
    packed: BitWriter,
    block: Vec<u64>,
    len: usize,
}

/// Appends fixed-width values LSB-first.
struct BitWriter {
    words: Vec<u64>,
    bits: u64,
}

impl BitWriter {
    fn write(&mut self, value: u64, width: u32) {
        let shift = (self.bits % 64) as u32;
        match self.words.last_mut() {
            Some(last) if shift != 0 => {
                *last |= value << shift;
                if shift + width > 64 {
                    self.words.push(value >> (64 - shift));
                }
            }
            _ => self.words.push(value),
        }
        self.bits += u64::from(width);
    }
}

impl Encoder {
    fn with_capacity(keys: usize) -> Self {
        Encoder {
            table: Vec::with_capacity(2 * keys.div_ceil(BLOCK_LEN)),
            packed: BitWriter {
                words: Vec::with_capacity(keys / 4),
                bits: 0,
            },
            block: Vec::with_capacity(BLOCK_LEN),
            len: 0,
        }
    }

    /// The set of `keys`, which are strictly increasing.
    fn from_sorted(keys: &[u64]) -> ExactSet {
        let mut enc = Encoder::with_capacity(keys.len());
        // Whole blocks straight from the slice, skipping the per-key buffer of `push`.
        keys.chunks(BLOCK_LEN)
            .for_each(|block| enc.add_block(block));
        enc.finish()
    }

    /// Appends `key`, which must exceed every key pushed before.
    fn push(&mut self, key: u64) {
        debug_assert!(self.block.last().is_none_or(|&last| last < key));
        self.block.push(key);
        if self.block.len() == BLOCK_LEN {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let block = std::mem::take(&mut self.block);
        self.add_block(&block);
        self.block = block;
        self.block.clear();
    }

    /// Encodes one block of strictly increasing keys, all above the previous block's.
    fn add_block(&mut self, block: &[u64]) {
        let Some((&head, rest)) = block.split_first() else {
            return;
        };
        let width = rest.last().map_or(0, |&last| bit_width(last - head));
        self.table.push(head);
        self.table.push(self.packed.bits << 8 | u64::from(width));
        if width > 0 {
            for &key in rest {
                self.packed.write(key - head, width);
            }
        }
        self.len += block.len();
    }

    fn finish(mut self) -> ExactSet {
        self.flush();
        let n_blocks = self.table.len() / 2;
        let heads: Vec<u64> = self.table.iter().step_by(2).copied().collect();
        let starts = segment_starts(&heads);
        let mut seg_meta = Vec::with_capacity(starts.len());
        let mut dir = Vec::with_capacity(n_blocks + 2 * starts.len());
        for (s, &from) in starts.iter().enumerate() {
            let to = starts.get(s + 1).copied().unwrap_or(n_blocks);
            let shift = directory_shift(heads[to - 1] - heads[from], to - from);
            seg_meta.push((dir.len() as u64) << 8 | u64::from(shift));
            dir.extend(segment_directory(&self.table, from, to, shift));
        }
        let shape = Shape {
            first: heads.first().copied().unwrap_or(0),
            ..Shape::new(self.len, BLOCK_LEN, n_blocks, starts.len(), dir.len())
        };
        let mut words = Vec::with_capacity(shape.packed + self.packed.words.len());
        words.extend([
            self.len as u64,
            BLOCK_LEN as u64,
            n_blocks as u64,
            self.packed.words.len() as u64,
            starts.len() as u64,
            dir.len() as u64,
        ]);
        words.extend(starts.iter().map(|&b| heads[b]));
        words.extend(seg_meta);
        words.extend(dir);
        words.extend(self.table);
        words.extend(self.packed.words);
        ExactSet { words, shape }
    }
}

/// Checks `words` as described on [`ExactSet::from_words`].
fn validate(words: &[u64]) -> Result<Shape> {
    let corrupt = |word: usize, message: String| {
        Error::corrupt(SOURCE, (word as u64).saturating_mul(8), message)
    };
    let &[len, block_len, n_blocks, packed_words, n_segments, dir_len, ..] = words else {
        return Err(corrupt(
            words.len(),
            format!("truncated header ({} of {HEADER_WORDS} words)", words.len()),
        ));
    };
    if block_len == 0 {
        return Err(corrupt(1, "block length 0".into()));
    }
    if n_blocks != len.div_ceil(block_len) {
        return Err(corrupt(
            2,
            format!("{n_blocks} blocks cannot hold {len} keys of {block_len} per block"),
        ));
    }
    if (n_segments == 0) != (n_blocks == 0) || n_segments > n_blocks {
        return Err(corrupt(
            4,
            format!("{n_segments} segments for {n_blocks} blocks"),
        ));
    }
    // Checked, so absurd header values cannot wrap into a plausible length.
    let expected = [n_blocks, n_segments, packed_words, dir_len]
        .iter()
        .try_fold(HEADER_WORDS as u64, |t, &x| t.checked_add(x))
        .and_then(|t| t.checked_add(n_blocks))
        .and_then(|t| t.checked_add(n_segments));
    if expected != Some(words.len() as u64) {
        let shown = expected.map_or("more than 2^64".into(), |e| e.to_string());
        return Err(corrupt(
            words.len(),
            format!("header promises {shown} words, found {}", words.len()),
        ));
    }
    // These are now bounded by `words.len()`, so they fit usize and cannot overflow below.
    let len_usize = usize::try_from(len).map_err(|_| corrupt(0, format!("{len} keys")))?;
    let block_len_usize = usize::try_from(block_len).unwrap_or(usize::MAX);
    let (n_blocks, n_segments) = (n_blocks as usize, n_segments as usize);
    let shape = Shape::new(
        len_usize,
        block_len_usize,
        n_blocks,
        n_segments,
        dir_len as usize,
    );
    let table = &words[shape.table..shape.packed];
    let packed = &words[shape.packed..];
    let packed_bits = packed_words.saturating_mul(64);

    let mut bit = 0u64;
    let mut prev_last: Option<u64> = None;
    for (b, pair) in table.chunks_exact(2).enumerate() {
        let (head, meta) = (pair[0], pair[1]);
        let head_word = shape.table + 2 * b;
        if prev_last.is_some_and(|p| head <= p) {
            return Err(corrupt(
                head_word,
                format!("block {b} starts at or below the previous block's last key"),
            ));
        }
        let (offset, width) = split_meta(meta);
        if width > 64 {
            return Err(corrupt(
                head_word + 1,
                format!("block {b} width {width} > 64"),
            ));
        }
        if offset != bit {
            return Err(corrupt(
                head_word + 1,
                format!("block {b} at bit {offset}, expected {bit}"),
            ));
        }
        let count = (len - b as u64 * block_len).min(block_len);
        let end = (count - 1)
            .checked_mul(u64::from(width))
            .and_then(|n| n.checked_add(bit))
            .filter(|&end| end <= packed_bits)
            .ok_or_else(|| {
                corrupt(
                    head_word + 1,
                    format!("block {b} runs past the packed area ({packed_words} words)"),
                )
            })?;
        let mut prev = 0u64;
        for i in 0..count - 1 {
            let at = bit + i * u64::from(width);
            let delta = unpack(packed, at, width);
            if delta <= prev || head.checked_add(delta).is_none() {
                return Err(corrupt(
                    shape.packed + (at / 64) as usize,
                    format!("key {} of block {b} is out of order or overflows", i + 1),
                ));
            }
            prev = delta;
        }
        if width != bit_width(prev) {
            return Err(corrupt(
                head_word + 1,
                format!("block {b} width {width}, its keys need {}", bit_width(prev)),
            ));
        }
        prev_last = Some(head + prev);
        bit = end;
    }
    if packed_words != bit.div_ceil(64) {
        return Err(corrupt(
            shape.packed,
            format!("packed area has {packed_words} words, blocks use {bit} bits"),
        ));
    }
    if bit % 64 != 0 && packed.last().is_some_and(|&w| w >> (bit % 64) != 0) {
        return Err(corrupt(
            words.len() - 1,
            "nonzero padding after the last key".into(),
        ));
    }

    // Segments must start at block heads, and each directory must be exactly what its heads
    // imply, or lookups would miss keys.
    let seg_heads = &words[HEADER_WORDS..shape.seg_meta];
    let seg_meta = &words[shape.seg_meta..shape.dir];
    let dir = &words[shape.dir..shape.table];
    let mut from = 0usize;
    let mut dir_at = 0u64;
    for (s, (&seg_head, &meta)) in seg_heads.iter().zip(seg_meta).enumerate() {
        if table.get(2 * from) != Some(&seg_head) {
            return Err(corrupt(
                HEADER_WORDS + s,
                format!("segment {s} does not start at the head of block {from}"),
            ));
        }
        let next_head = seg_heads.get(s + 1);
        let mut to = from + 1;
        while table
            .get(2 * to)
            .is_some_and(|h| next_head.is_none_or(|n| h < n))
        {
            to += 1;
        }
        // The shift must be the builders' choice too, so that a flipped bit cannot pass.
        let (start, shift) = split_meta(meta);
        let span = table[2 * (to - 1)] - seg_head;
        let want = directory_shift(span, to - from);
        let entries = (span >> want) + 2;
        if start != dir_at || shift != want || entries > dir_len - dir_at {
            return Err(corrupt(
                shape.seg_meta + s,
                format!(
                    "segment {s}: directory at {start} shift {shift}, expected {dir_at}, {want}"
                ),
            ));
        }
        let mine = &dir[start as usize..(start + entries) as usize];
        let wrong = segment_directory(table, from, to, shift)
            .zip(mine)
            .position(|(expected, &got)| expected != got);
        if let Some(j) = wrong {
            return Err(corrupt(
                shape.dir + start as usize + j,
                format!("directory entry {j} of segment {s} is wrong"),
            ));
        }
        from = to;
        dir_at += entries;
    }
    if from != n_blocks || dir_at != dir_len {
        return Err(corrupt(
            shape.dir,
            format!("segments cover {from} of {n_blocks} blocks, {dir_at} of {dir_len} entries"),
        ));
    }
    Ok(Shape {
        first: table.first().copied().unwrap_or(0),
        ..shape
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn check_against_model(set: &ExactSet<impl AsRef<[u64]>>, model: &BTreeSet<u64>) {
        assert_eq!(set.len(), model.len());
        assert_eq!(set.is_empty(), model.is_empty());
        assert!(set.iter().eq(model.iter().copied()));
        for &k in model {
            assert!(set.contains(k), "missing {k}");
            for probe in [k.wrapping_sub(1), k.wrapping_add(1)] {
                assert_eq!(set.contains(probe), model.contains(&probe), "probe {probe}");
            }
        }
        for probe in [0, 1, u64::MAX, u64::MAX - 1, 1 << 63] {
            assert_eq!(set.contains(probe), model.contains(&probe), "probe {probe}");
        }
        assert_eq!(set.size_bytes(), set.words().len() * 8);
    }

    fn build(keys: &[u64]) -> ExactSet {
        let set = ExactSet::from_unsorted(keys.to_vec());
        let model: BTreeSet<u64> = keys.iter().copied().collect();
        check_against_model(&set, &model);
        let sorted: Vec<u64> = model.iter().copied().collect();
        let again = ExactSet::from_sorted(&sorted).unwrap();
        assert_eq!(again.words(), set.words());
        let mapped = ExactSet::from_words(set.words()).unwrap();
        check_against_model(&mapped, &model);
        set
    }

    #[test]
    fn edge_cases() {
        let empty = build(&[]);
        assert_eq!(empty.words(), &[0, 64, 0, 0, 0, 0]);
        assert!(!empty.contains(0));
        build(&[0]);
        build(&[u64::MAX]);
        build(&[0, u64::MAX]);
        build(&[77011234567]);
        let far: Vec<u64> = (0..200u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        build(&far);
        let mut wide: Vec<u64> = (0..63).collect();
        wide.push(u64::MAX);
        let set = build(&wide);
        assert_eq!(set.words()[set.shape.table + 1] & 0xFF, 64);
        for n in [
            BLOCK_LEN - 1,
            BLOCK_LEN,
            BLOCK_LEN + 1,
            2 * BLOCK_LEN,
            2 * BLOCK_LEN + 1,
        ] {
            build(
                &(0..n as u64)
                    .map(|i| 77_000_000_000 + 7 * i)
                    .collect::<Vec<_>>(),
            );
        }
    }

    #[test]
    fn every_block_fill_works() {
        // Every length of the last block, with gaps so that misses fall between keys.
        let keys: Vec<u64> = (0..3 * BLOCK_LEN as u64)
            .map(|i| 1000 + 3 * i + i % 2)
            .collect();
        for n in 1..keys.len() {
            let set = ExactSet::from_sorted(&keys[..n]).unwrap();
            let model: BTreeSet<u64> = keys[..n].iter().copied().collect();
            check_against_model(&set, &model);
        }
    }

    #[test]
    fn size_matches_the_formula() {
        // 1000 keys, 16 apart: each full block spans 63 × 16 = 1008 < 2^10, so w = 10.
        let keys: Vec<u64> = (0..1000u64).map(|i| 79_000_000_000 + 16 * i).collect();
        let set = ExactSet::from_sorted(&keys).unwrap();
        let blocks = 1000usize.div_ceil(BLOCK_LEN);
        let bits = 15 * 63 * 10 + 39 * bit_width(39 * 16) as usize;
        let (segments, dir_len) = (set.words()[4] as usize, set.words()[5] as usize);
        assert_eq!(segments, 1);
        assert!(dir_len <= blocks + segments);
        assert_eq!(
            set.words().len(),
            6 + 2 * segments + dir_len + 2 * blocks + bits.div_ceil(64)
        );
    }

    #[test]
    fn far_keys_get_their_own_segments() {
        // A dense national range plus a few foreign numbers far above and below it.
        let mut keys: Vec<u64> = (0..5000u64)
            .map(|i| 77_000_000_000 + 17 * i + i % 5)
            .collect();
        keys.extend([
            12_025_550_100,
            2_348_035_550_100,
            447_700_900_123,
            999_999_999_999_999,
        ]);
        keys.extend((0..200u64).map(|i| 4_930_000_000 + 1_000_003 * i));
        let set = build(&keys);
        let (segments, dir_len) = (set.words()[4] as usize, set.words()[5] as usize);
        let blocks = keys.len().div_ceil(BLOCK_LEN);
        assert!(segments >= 3, "{segments} segments");
        assert!(
            dir_len <= blocks + segments,
            "{dir_len} entries for {blocks} blocks"
        );
        // The dense range keeps about one bucket per block: its 79 blocks span 85k numbers.
        let dense = set.words()[set.shape.seg_meta..set.shape.dir]
            .iter()
            .map(|&m| split_meta(m).1)
            .min()
            .unwrap();
        assert!(dense <= 11, "shift {dense}");
    }

    #[test]
    fn from_sorted_rejects_disorder_and_duplicates() {
        for (keys, at) in [(&[1u64, 3, 2][..], 2), (&[5, 5][..], 1), (&[9, 1][..], 1)] {
            let err = ExactSet::from_sorted(keys).unwrap_err();
            assert_eq!(err.to_string(), format!("keys: not sorted at index {at}"));
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        let keys: Vec<u64> = (0..150u64).map(|i| 77_010_000_000 + i * i).collect();
        let set = ExactSet::from_sorted(&keys).unwrap();
        for cut in 0..set.words().len() {
            assert!(
                ExactSet::from_words(&set.words()[..cut]).is_err(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn every_single_bit_flip_is_caught_or_harmless() {
        // Two dense ranges far apart, so segments are covered too.
        let mut keys: Vec<u64> = (0..130u64).map(|i| 77_010_000_000 + 3 * i * i).collect();
        keys.extend((0..70u64).map(|i| 79_000_000_000 + 11 * i));
        let set = ExactSet::from_sorted(&keys).unwrap();
        assert_eq!(set.words()[4], 2);
        let (table, packed) = (set.shape.table, set.shape.packed);
        let words = set.words().to_vec();
        // Header, segments, directory and block metadata: all but heads and packed deltas.
        let is_metadata = |i: usize| i < table || (i < packed && (i - table) % 2 == 1);
        for i in 0..words.len() {
            for bit in 0..64 {
                let mut w = words.clone();
                w[i] ^= 1 << bit;
                match ExactSet::from_words(&w) {
                    // A flip that keeps every key in order is undetectable here (the file
                    // container's checksum catches it), but such a set must still work.
                    Ok(set) => {
                        assert!(!is_metadata(i), "flip of bit {bit} in word {i} accepted");
                        exercise(&set);
                    }
                    Err(e) => assert!(matches!(e, Error::Corrupt { .. })),
                }
            }
        }
    }

    #[test]
    fn errors_name_the_word() {
        let keys: Vec<u64> = (0..200u64).map(|i| 1000 + 5 * i).collect();
        let set = ExactSet::from_sorted(&keys).unwrap();
        let (table, mut words) = (set.shape.table, set.words().to_vec());
        words[table + 2] = words[table]; // block 1's head equal to block 0's
        match ExactSet::from_words(&words).unwrap_err() {
            Error::Corrupt { path, offset, .. } => {
                assert_eq!(path, SOURCE);
                assert_eq!(offset, (table as u64 + 2) * 8);
            }
            other => panic!("unexpected {other}"),
        }
    }

    /// Lookups and iteration on an accepted set must not panic.
    fn exercise(set: &ExactSet<impl AsRef<[u64]>>) {
        let keys: Vec<u64> = set.iter().take(10_000).collect();
        for &k in &keys {
            assert!(set.contains(k));
            set.contains(k.wrapping_add(1));
        }
        for probe in [0, 1, u64::MAX, 77_000_000_000] {
            set.contains(probe);
        }
    }

    /// Keys clustered like real number ranges, mixed with arbitrary ones.
    fn keys() -> impl Strategy<Value = Vec<u64>> {
        let clustered = (any::<u64>(), proptest::collection::vec(0u64..5_000, 0..300))
            .prop_map(|(base, offs)| offs.into_iter().map(|o| base.wrapping_add(o)).collect());
        // A few dense clusters far apart, like countries, and scattered strays.
        let countries = proptest::collection::vec((any::<u64>(), 1u64..400, 1usize..200), 1..4)
            .prop_map(|cs| {
                cs.into_iter()
                    .flat_map(|(base, gap, n)| {
                        (0..n as u64).map(move |i| base.wrapping_add(i * gap))
                    })
                    .collect()
            });
        prop_oneof![
            proptest::collection::vec(any::<u64>(), 0..150),
            clustered,
            countries,
            proptest::collection::vec(prop_oneof![Just(0), Just(u64::MAX), 0u64..100], 0..80),
        ]
    }

    proptest! {
        #[test]
        fn agrees_with_a_btreeset(keys in keys(), probes in proptest::collection::vec(any::<u64>(), 0..50)) {
            let set = build(&keys);
            let model: BTreeSet<u64> = keys.iter().copied().collect();
            for p in probes {
                prop_assert_eq!(set.contains(p), model.contains(&p));
            }
        }

        #[test]
        fn rebuild_agrees_with_the_model(base in keys(), add in keys(), remove in keys(), pick in proptest::collection::vec(any::<prop::sample::Index>(), 0..40)) {
            let set = ExactSet::from_unsorted(base.clone());
            // Remove some present keys too, not only random ones.
            let mut remove = remove;
            remove.extend(pick.iter().filter(|_| !base.is_empty()).map(|ix| base[ix.index(base.len())]));
            let rebuilt = rebuild(&set, &add, &remove);
            let mut model: BTreeSet<u64> = base.iter().chain(&add).copied().collect();
            for r in &remove {
                model.remove(r);
            }
            check_against_model(&rebuilt, &model);
            prop_assert!(ExactSet::from_words(rebuilt.words()).is_ok());
        }

        #[test]
        fn random_bit_flips_never_panic(keys in keys(), flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u32..64), 1..4)) {
            let mut words = ExactSet::from_unsorted(keys).words().to_vec();
            for (ix, bit) in flips {
                let i = ix.index(words.len());
                words[i] ^= 1 << bit;
            }
            if let Ok(set) = ExactSet::from_words(&words) {
                exercise(&set);
            }
        }

        #[test]
        fn garbage_never_panics(words in proptest::collection::vec(any::<u64>(), 0..40)) {
            if let Ok(set) = ExactSet::from_words(&words) {
                exercise(&set);
            }
        }

        #[test]
        fn plausible_garbage_never_panics(
            len in 0u64..40,
            block_len in 1u64..6,
            segments in 0u64..4,
            dir_len in 0u64..12,
            body in proptest::collection::vec(prop_oneof![any::<u64>(), 0u64..16, 0u64..1024], 0..80),
        ) {
            // A header consistent with the length, so the deeper checks get exercised.
            let n_blocks = len.div_ceil(block_len);
            let packed = (body.len() as u64).saturating_sub(2 * segments + dir_len + 2 * n_blocks);
            let mut words = vec![len, block_len, n_blocks, packed, segments, dir_len];
            words.extend(&body);
            if let Ok(set) = ExactSet::from_words(&words) {
                exercise(&set);
            }
        }

        #[test]
        fn overwritten_words_never_panic(
            keys in keys(),
            writes in proptest::collection::vec((any::<prop::sample::Index>(), prop_oneof![any::<u64>(), 0u64..300]), 1..3),
        ) {
            let mut words = ExactSet::from_unsorted(keys).words().to_vec();
            for (ix, value) in writes {
                let i = ix.index(words.len());
                words[i] = value;
            }
            if let Ok(set) = ExactSet::from_words(&words) {
                exercise(&set);
            }
        }
    }
}
