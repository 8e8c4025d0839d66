//! A compact, immutable, exact set of `u64` keys (E.164 numbers as integers) for blocklists
//! of up to hundreds of millions of numbers. It sits behind a bloom filter: a `true` from
//! [`ExactSet::contains`] is never wrong.
//!
//! Sorted unique keys are cut into blocks of [`BLOCK_LEN`] keys (frame of reference). A block
//! stores its first key (the head) in full and every other key as `key - head`, bit-packed at
//! the block's width `w` (the bit length of its largest delta). A directory over the key range
//! narrows the search to the one or two blocks whose heads can precede the key, so a lookup
//! costs about three cache misses (directory, head, packed deltas) however large the set;
//! the block's deltas are then binary-searched, unpacking one at a time.
//!
//! Everything lives in one flat `[u64]`, so a set can be memory-mapped and used without
//! copying (`ExactSet<&[u64]>`). Magic, version and checksum belong to the file container
//! ([`crate::persist`]); this is the payload.
//!
//! ```text
//! word               content
//! 0                  len: number of keys
//! 1                  block_len: keys per block (the builders use 64)
//! 2                  n_blocks = ⌈len / block_len⌉
//! 3                  packed_words
//! 4                  shift: the directory's bucket width is 2^shift keys
//! 5                  dir_len = ((last head − first head) >> shift) + 2, or 0 when empty
//! 6 + j              dir[j]: the last block whose head ≤ first head + j·2^shift
//!                    (the final entry is n_blocks − 1)
//! 6 + dir_len + 2b   head of block b
//! 7 + dir_len + 2b   bit_offset << 8 | w  (bit offset into the packed area; w ≤ 64)
//! then               packed area: every block's deltas, LSB-first, blocks back to back
//! ```
//!
//! The builders choose the smallest `shift` that keeps the directory within one entry per
//! block. Size, with `n` keys and `B = ⌈n / 64⌉` blocks:
//! `8 × (6 + dir_len + 2B + ⌈Σ_b (count_b − 1) · w_b / 64⌉)` bytes with `dir_len ≤ B + 1`,
//! i.e. about `w̄ · 63/64 + 3` bits per key, where `w̄ ≈ log2(64 × mean gap between keys)`.
//! Fifty million numbers spread over 10⁹ (gap 20) take `w = 11`, about 1.7 bytes per key.

use crate::{Error, Result};
use std::fmt;

/// Keys per block chosen by the builders; [`ExactSet::from_words`] accepts any block length.
pub const BLOCK_LEN: usize = 64;

const HEADER_WORDS: usize = 6;
const SOURCE: &str = "<exact set>";

/// An immutable exact set of `u64` keys stored in one flat word array `S`.
#[derive(Clone)]
pub struct ExactSet<S = Vec<u64>> {
    words: S,
    shape: Shape,
}

/// Header fields and derived offsets, cached so lookups touch only the arrays.
#[derive(Clone, Copy, Debug, Default)]
struct Shape {
    len: usize,
    block_len: usize,
    n_blocks: usize,
    /// Head of block 0: the directory's origin.
    first: u64,
    shift: u32,
    table_start: usize,
    packed_start: usize,
}

impl Shape {
    fn new(
        len: usize,
        block_len: usize,
        n_blocks: usize,
        first: u64,
        shift: u32,
        dir_len: usize,
    ) -> Self {
        let table_start = HEADER_WORDS + dir_len;
        Shape {
            len,
            block_len,
            n_blocks,
            first,
            shift,
            table_start,
            packed_start: table_start + 2 * n_blocks,
        }
    }
}

impl ExactSet<Vec<u64>> {
    /// From keys in any order, duplicates allowed (sorts and dedups in place).
    pub fn from_unsorted(mut keys: Vec<u64>) -> Self {
        keys.sort_unstable();
        keys.dedup();
        let mut enc = Encoder::with_capacity(keys.len());
        keys.iter().for_each(|&k| enc.push(k));
        enc.finish()
    }

    /// From strictly increasing keys; an unsorted or repeated key is an error naming its index.
    pub fn from_sorted(keys: &[u64]) -> Result<Self> {
        if let Some(i) = keys.windows(2).position(|w| w[0] >= w[1]) {
            return Err(Error::invalid(
                "keys",
                format!("not sorted at index {}", i + 1),
            ));
        }
        let mut enc = Encoder::with_capacity(keys.len());
        keys.iter().for_each(|&k| enc.push(k));
        Ok(enc.finish())
    }
}

impl<S: AsRef<[u64]>> ExactSet<S> {
    /// Wraps words produced by [`ExactSet::words`], e.g. mapped from a file.
    ///
    /// Checks everything lookups and iteration rely on, and that the encoding is exactly what
    /// the builders produce: a consistent header, the directory, contiguous in-bounds blocks
    /// with minimal widths, and all keys strictly increasing without overflow (every packed
    /// value is unpacked once, a few nanoseconds per key). A damaged input is an
    /// [`Error::Corrupt`] at the byte offset of the offending word. Lookups also bound every
    /// read, so a set that slipped past these checks could answer wrongly but never panic.
    pub fn from_words(words: S) -> Result<Self> {
        let shape = validate(words.as_ref())?;
        Ok(ExactSet { words, shape })
    }

    /// True if `key` is in the set.
    #[inline]
    pub fn contains(&self, key: u64) -> bool {
        let s = &self.shape;
        if s.n_blocks == 0 || key < s.first {
            return false;
        }
        let words = self.words.as_ref();
        let dir = words.get(HEADER_WORDS..s.table_start).unwrap_or(&[]);
        let table = words.get(s.table_start..s.packed_start).unwrap_or(&[]);
        let head_at = |b: usize| table.get(2 * b).copied().unwrap_or(u64::MAX);

        // The directory bounds the block holding `key` (the last head <= key) to lo..=hi.
        let j = usize::try_from((key - s.first) >> s.shift).unwrap_or(usize::MAX);
        let j = j.min(dir.len().saturating_sub(1));
        let lo = dir.get(j).map_or(0, |&b| b as usize);
        let hi = dir.get(j + 1).map_or(lo, |&b| b as usize);
        // Branch-free binary search: a mispredicted branch would stall the pipeline.
        let (mut base, mut size) = (lo, hi.saturating_sub(lo) + 1);
        while size > 1 {
            let half = size / 2;
            base += half * usize::from(head_at(base + half) <= key);
            size -= half;
        }
        let head = head_at(base);
        let delta = key.wrapping_sub(head);
        if delta == 0 {
            return true;
        }
        let (width, offset) = split_meta(table.get(2 * base + 1).copied().unwrap_or(0));
        // A delta wider than the block's width lies in the gap after the block.
        if width < 64 && delta >> width != 0 {
            return false;
        }
        let packed = words.get(s.packed_start..).unwrap_or(&[]);
        let at = |i: usize| {
            let bit = offset.wrapping_add((i as u64).wrapping_mul(u64::from(width)));
            unpack(packed, bit, width)
        };
        // The last of the block's `count - 1` deltas that is <= `delta`.
        let (mut lo, mut size) = (0usize, self.block_count(base).saturating_sub(1));
        while size > 1 {
            let half = size / 2;
            lo += half * usize::from(at(lo + half) <= delta);
            size -= half;
        }
        size == 1 && at(lo) == delta
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
        let packed = self.words().get(self.shape.packed_start..).unwrap_or(&[]);
        (0..self.shape.n_blocks).flat_map(move |b| {
            let (head, width, offset) = self.block(b);
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

    /// Bytes used by [`ExactSet::words`].
    pub fn size_bytes(&self) -> usize {
        self.words().len() * 8
    }

    /// Head, width and bit offset of block `b` (zeros if out of range).
    fn block(&self, b: usize) -> (u64, u32, u64) {
        let word = |i: usize| self.words().get(i).copied().unwrap_or(0);
        let at = self.shape.table_start + 2 * b;
        let (width, offset) = split_meta(word(at + 1));
        (word(at), width, offset)
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

/// Bits needed to store `v`.
fn bit_width(v: u64) -> u32 {
    u64::BITS - v.leading_zeros()
}

fn split_meta(meta: u64) -> (u32, u64) {
    ((meta & 0xFF) as u32, meta >> 8)
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

/// The directory for heads `table[0], table[2], ...` with bucket width `2^shift`: entry `j`
/// is the last block whose head is <= `first + (j << shift)`, and a final `n_blocks - 1`.
fn directory(table: &[u64], shift: u32) -> impl Iterator<Item = u64> + '_ {
    let heads = table.iter().step_by(2);
    let first = heads.clone().next().copied().unwrap_or(0);
    let last = heads.clone().next_back().copied().unwrap_or(0);
    let n_blocks = table.len() / 2;
    let buckets = if n_blocks == 0 {
        0
    } else {
        ((last - first) >> shift) + 1
    };
    let mut block = 0usize;
    (0..buckets)
        .map(move |j| {
            let start = first + (j << shift);
            while table.get(2 * (block + 1)).is_some_and(|&h| h <= start) {
                block += 1;
            }
            block as u64
        })
        .chain((n_blocks > 0).then(|| n_blocks as u64 - 1))
}

/// The smallest shift that gives at most one bucket per block (0 for an empty set).
fn directory_shift(first: u64, last: u64, n_blocks: usize) -> u32 {
    if n_blocks == 0 {
        return 0;
    }
    (0..63)
        .find(|&s| ((last - first) >> s) < n_blocks as u64)
        .unwrap_or(63)
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

    /// Appends `key`, which must exceed every key pushed before.
    fn push(&mut self, key: u64) {
        debug_assert!(self.block.last().is_none_or(|&last| last < key));
        self.block.push(key);
        if self.block.len() == BLOCK_LEN {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let Some((&head, rest)) = self.block.split_first() else {
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
        self.len += self.block.len();
        self.block.clear();
    }

    fn finish(mut self) -> ExactSet {
        self.flush();
        let n_blocks = self.table.len() / 2;
        let first = self.table.first().copied().unwrap_or(0);
        let last = self.table.iter().rev().nth(1).copied().unwrap_or(0);
        let shift = directory_shift(first, last, n_blocks);
        let dir_start = HEADER_WORDS;
        let mut words = vec![
            self.len as u64,
            BLOCK_LEN as u64,
            n_blocks as u64,
            self.packed.words.len() as u64,
            u64::from(shift),
            0,
        ];
        words.extend(directory(&self.table, shift));
        let dir_len = words.len() - dir_start;
        words[5] = dir_len as u64;
        words.reserve_exact(self.table.len() + self.packed.words.len());
        words.extend_from_slice(&self.table);
        words.extend_from_slice(&self.packed.words);
        let shape = Shape::new(self.len, BLOCK_LEN, n_blocks, first, shift, dir_len);
        ExactSet { words, shape }
    }
}

/// Checks `words` as described on [`ExactSet::from_words`].
fn validate(words: &[u64]) -> Result<Shape> {
    let corrupt = |word: usize, message: String| {
        Error::corrupt(SOURCE, (word as u64).saturating_mul(8), message)
    };
    let &[len, block_len, n_blocks, packed_words, shift, dir_len, ..] = words else {
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
    // Checked, so absurd header values cannot wrap into a plausible length.
    let expected = n_blocks
        .checked_mul(2)
        .and_then(|t| t.checked_add(packed_words))
        .and_then(|t| t.checked_add(dir_len))
        .and_then(|t| t.checked_add(HEADER_WORDS as u64));
    if expected != Some(words.len() as u64) {
        let shown = expected.map_or("more than 2^64".into(), |e| e.to_string());
        return Err(corrupt(
            words.len(),
            format!("header promises {shown} words, found {}", words.len()),
        ));
    }
    // These are now bounded by `words.len()`, so they fit usize and cannot overflow below.
    let (n_blocks, dir_len) = (n_blocks as usize, dir_len as usize);
    let len_usize = usize::try_from(len).map_err(|_| corrupt(0, format!("{len} keys")))?;
    let block_len_usize = usize::try_from(block_len).unwrap_or(usize::MAX);
    let shape = Shape::new(len_usize, block_len_usize, n_blocks, 0, 0, dir_len);
    let table = &words[shape.table_start..shape.packed_start];
    let packed = &words[shape.packed_start..];
    let packed_bits = packed_words.saturating_mul(64);

    let mut bit = 0u64;
    let mut prev_last: Option<u64> = None;
    for (b, pair) in table.chunks_exact(2).enumerate() {
        let (head, meta) = (pair[0], pair[1]);
        let head_word = shape.table_start + 2 * b;
        if prev_last.is_some_and(|p| head <= p) {
            return Err(corrupt(
                head_word,
                format!("block {b} starts at or below the previous block's last key"),
            ));
        }
        let (width, offset) = split_meta(meta);
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
                    shape.packed_start + (at / 64) as usize,
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
            shape.packed_start,
            format!("packed area has {packed_words} words, blocks use {bit} bits"),
        ));
    }
    if bit % 64 != 0 && packed.last().is_some_and(|&w| w >> (bit % 64) != 0) {
        return Err(corrupt(
            words.len() - 1,
            "nonzero padding after the last key".into(),
        ));
    }

    // The directory must be exactly the one the heads imply, or lookups would miss keys.
    let first = table.first().copied().unwrap_or(0);
    let last = table.iter().rev().nth(1).copied().unwrap_or(0);
    let buckets = ((last - first) >> shift.min(63)) + 1;
    let want_len = if n_blocks == 0 { 0 } else { buckets + 1 };
    if shift > 63 || (n_blocks == 0 && shift != 0) {
        return Err(corrupt(4, format!("directory shift {shift}")));
    }
    if dir_len as u64 != want_len {
        return Err(corrupt(
            5,
            format!("directory of {dir_len} entries, heads need {want_len}"),
        ));
    }
    let dir = &words[HEADER_WORDS..shape.table_start];
    if let Some(j) = directory(table, shift as u32)
        .zip(dir)
        .position(|(want, &got)| want != got)
    {
        return Err(corrupt(
            HEADER_WORDS + j,
            format!("directory entry {j} is wrong"),
        ));
    }
    Ok(Shape {
        first,
        shift: shift as u32,
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
        assert_eq!(set.words()[set.shape.table_start + 1] & 0xFF, 64);
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
    fn size_matches_the_formula() {
        // 1000 keys, 16 apart: each full block spans 63 × 16 = 1008 < 2^10, so w = 10.
        let keys: Vec<u64> = (0..1000u64).map(|i| 79_000_000_000 + 16 * i).collect();
        let set = ExactSet::from_sorted(&keys).unwrap();
        let blocks = 1000usize.div_ceil(BLOCK_LEN);
        let bits = 15 * 63 * 10 + 39 * bit_width(39 * 16) as usize;
        let dir_len = set.words()[5] as usize;
        assert!(dir_len <= blocks + 1);
        assert_eq!(
            set.words().len(),
            6 + dir_len + 2 * blocks + bits.div_ceil(64)
        );
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
        let keys: Vec<u64> = (0..150u64).map(|i| 77_010_000_000 + 3 * i * i).collect();
        let words = ExactSet::from_sorted(&keys).unwrap().words().to_vec();
        let table_start = HEADER_WORDS + words[5] as usize;
        let n_blocks = words[2] as usize;
        // Header, directory and block metadata: everything but heads and packed deltas.
        let is_metadata = |i: usize| {
            i < table_start || (i < table_start + 2 * n_blocks && (i - table_start) % 2 == 1)
        };
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
        let mut words = ExactSet::from_sorted(&keys).unwrap().words().to_vec();
        let table = HEADER_WORDS + words[5] as usize;
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
        prop_oneof![
            proptest::collection::vec(any::<u64>(), 0..150),
            clustered,
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
            packed in proptest::collection::vec(prop_oneof![any::<u64>(), 0u64..16], 0..12),
            table in proptest::collection::vec(prop_oneof![any::<u64>(), 0u64..1024], 0..40),
        ) {
            // A header consistent with the length, so the block checks get exercised.
            let n_blocks = len.div_ceil(block_len);
            let mut words = vec![len, block_len, n_blocks, packed.len() as u64];
            words.extend((0..2 * n_blocks as usize).map(|i| table.get(i).copied().unwrap_or(i as u64)));
            words.extend(&packed);
            if let Ok(set) = ExactSet::from_words(&words) {
                exercise(&set);
            }
        }
    }
}
