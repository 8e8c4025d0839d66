//! Scoring call fields given as Arrow columns (`Engine.score_table`), on several threads
//! when no rule reads counters.

use super::fields::{call_from_strs, call_with_seconds, malformed_field, utf8};
use super::REPORTED_MALFORMED;
use crate::engine::Engine;

/// One column of call-field values in Arrow layout, over any byte storage `B` (the Arrow
/// buffers themselves, or copies).
#[derive(Debug)]
pub enum FieldColumn<B> {
    /// Absent: every value unknown.
    Missing,
    /// UTF-8 strings: `offsets` (n + 1 little-endian integers), `data`, and an optional
    /// validity bitmap (bit `offset + i` set when row `i` has a value).
    Text {
        /// LE offsets into `data`: `i64` (Arrow `large_string`) if `wide`, else `i32`
        /// (`string`).
        offsets: B,
        /// The offsets are 8 bytes each, not 4.
        wide: bool,
        /// The string bytes.
        data: B,
        /// Validity bitmap, if any value is null.
        validity: Option<B>,
        /// The array's offset into the buffers.
        offset: usize,
    },
    /// `f64` values (little-endian) and an optional validity bitmap.
    Float {
        /// The values.
        values: B,
        /// Validity bitmap, if any value is null.
        validity: Option<B>,
        /// The array's offset into the buffers.
        offset: usize,
    },
}

impl<B: AsRef<[u8]>> FieldColumn<B> {
    fn valid(validity: &Option<B>, i: usize) -> bool {
        valid(validity.as_ref().map(AsRef::as_ref), i)
    }

    /// The value of row `row` of a `Float` column (`Some(None)` when null); `None` for
    /// other columns.
    pub(super) fn number(&self, row: usize) -> Option<Option<f64>> {
        match self {
            FieldColumn::Float {
                values,
                validity,
                offset,
            } => {
                let i = offset.saturating_add(row);
                Some(
                    le_u64(values.as_ref(), i)
                        .map(f64::from_bits)
                        .filter(|_| Self::valid(validity, i)),
                )
            }
            _ => None,
        }
    }

    /// Rows `start..end` of a `Text` column, checked as UTF-8 once; `None` when not text or
    /// not UTF-8.
    pub(super) fn text_span(&self, start: usize, end: usize) -> Option<TextSpan<'_>> {
        let FieldColumn::Text {
            offsets,
            wide,
            data,
            validity,
            offset,
        } = self
        else {
            return None;
        };
        let offsets = offsets.as_ref();
        let (a, b) = (
            offset_at(offsets, offset.checked_add(start)?, *wide)?,
            offset_at(offsets, offset.checked_add(end)?, *wide)?,
        );
        let text = std::str::from_utf8(data.as_ref().get(a..b)?).ok()?;
        Some(TextSpan {
            offsets,
            wide: *wide,
            text,
            base: a,
            validity: validity.as_ref().map(AsRef::as_ref),
            offset: *offset,
        })
    }

    /// The value of row `row` as text (`""` when null or absent).
    pub(super) fn text(&self, row: usize) -> std::borrow::Cow<'_, str> {
        match self {
            FieldColumn::Missing => std::borrow::Cow::Borrowed(""),
            FieldColumn::Text {
                offsets,
                wide,
                data,
                validity,
                offset,
            } => {
                let i = offset.saturating_add(row);
                if !Self::valid(validity, i) {
                    return std::borrow::Cow::Borrowed("");
                }
                let Some((a, b)) = offset_pair(offsets.as_ref(), i, *wide) else {
                    return std::borrow::Cow::Borrowed("");
                };
                data.as_ref()
                    .get(a..b)
                    .map_or(std::borrow::Cow::Borrowed(""), utf8)
            }
            FieldColumn::Float {
                values,
                validity,
                offset,
            } => {
                let i = offset.saturating_add(row);
                match le_u64(values.as_ref(), i).filter(|_| Self::valid(validity, i)) {
                    Some(bits) => std::borrow::Cow::Owned(f64::from_bits(bits).to_string()),
                    None => std::borrow::Cow::Borrowed(""),
                }
            }
        }
    }
}

/// Rows of a text column whose bytes were checked as UTF-8 together
/// ([`FieldColumn::text_span`]): a row's value is a slice of that text, not checked again.
pub(super) struct TextSpan<'a> {
    offsets: &'a [u8],
    wide: bool,
    /// The rows' bytes, from offset `base` of the column's data.
    text: &'a str,
    base: usize,
    validity: Option<&'a [u8]>,
    offset: usize,
}

impl<'a> TextSpan<'a> {
    /// Row `row`'s value (`""` when null); `None` when it is not in the span or its offsets
    /// do not fall on character boundaries (then [`FieldColumn::text`] reads it, lossily).
    #[inline]
    pub(super) fn get(&self, row: usize) -> Option<&'a str> {
        let i = self.offset.checked_add(row)?;
        if !valid(self.validity, i) {
            return Some("");
        }
        let (a, b) = offset_pair(self.offsets, i, self.wide)?;
        self.text
            .get(a.checked_sub(self.base)?..b.checked_sub(self.base)?)
    }
}

/// Whether row `i` has a value: no bitmap, or bit `i` of it set (a bitmap too short for `i`
/// says null).
fn valid(validity: Option<&[u8]>, i: usize) -> bool {
    validity.is_none_or(|v| v.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0))
}

/// Offset `i` of a text column: a little-endian `i64` if `wide`, else an `i32`; `None` past
/// the end or negative.
fn offset_at(offsets: &[u8], i: usize, wide: bool) -> Option<usize> {
    if wide {
        le_u64(offsets, i).and_then(|o| usize::try_from(o as i64).ok())
    } else {
        let at = i.checked_mul(4)?;
        let b: [u8; 4] = offsets.get(at..at.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(i32::from_le_bytes(b)).ok()
    }
}

/// Offsets `i` and `i + 1` of a text column (a row's start and end), read together with one
/// bounds check: what [`offset_at`] reads twice, in the per-row loop.
fn offset_pair(offsets: &[u8], i: usize, wide: bool) -> Option<(usize, usize)> {
    fn pair<const N: usize>(offsets: &[u8], i: usize) -> Option<([u8; N], [u8; N])> {
        let at = i.checked_mul(N)?;
        let both = offsets.get(at..at.checked_add(2 * N)?)?;
        Some((both[..N].try_into().ok()?, both[N..].try_into().ok()?))
    }
    let (a, b) = if wide {
        let (a, b) = pair::<8>(offsets, i)?;
        (i64::from_le_bytes(a), i64::from_le_bytes(b))
    } else {
        let (a, b) = pair::<4>(offsets, i)?;
        (
            i64::from(i32::from_le_bytes(a)),
            i64::from(i32::from_le_bytes(b)),
        )
    };
    Some((usize::try_from(a).ok()?, usize::try_from(b).ok()?))
}

/// The little-endian `u64` at index `i` of `b` (8-byte units); `None` past the end.
fn le_u64(b: &[u8], i: usize) -> Option<u64> {
    let at = i.checked_mul(8)?;
    b.get(at..at.checked_add(8)?)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
}

/// The result columns of [`score_columns`].
#[derive(Debug, Default)]
pub struct ScoredColumns {
    /// 0 allow, 1 flag, 2 block, 255 malformed row.
    pub actions: Vec<u8>,
    /// Scores (NaN for a malformed row).
    pub scores: Vec<f64>,
    /// `i64` offsets (n + 1) into `reasons`.
    pub reason_offsets: Vec<i64>,
    /// `;`-joined reasons, concatenated.
    pub reasons: Vec<u8>,
    /// Malformed rows (index, message), the first [`REPORTED_MALFORMED`].
    pub first_malformed: Vec<(usize, String)>,
    /// How many rows were malformed.
    pub malformed: u64,
}

/// Rows a thread of [`score_columns`] takes at a time.
pub(super) const CHUNK_ROWS: usize = 16_384;

/// Scores `rows` rows given as columns in [`super::CALL_FIELDS`] order. Rows are scored in
/// order on one thread when the policy's rules read velocity counters (so counters see the
/// calls in table order); otherwise on up to `threads` threads, each taking the next
/// [`CHUNK_ROWS`] rows until none are left (a thread slowed by the machine holds up at most
/// one chunk, not half the table). The results are in row order either way.
pub fn score_columns<B: AsRef<[u8]> + Sync>(
    engine: &Engine,
    columns: &[FieldColumn<B>; 9],
    rows: usize,
    threads: usize,
) -> ScoredColumns {
    let threads = column_threads(&engine.policy(), threads);
    let parts: Vec<ScoredColumns> = if threads == 1 {
        vec![score_rows(engine, columns, 0, rows)]
    } else {
        let chunks = rows.div_ceil(CHUNK_ROWS);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let mut done: Vec<(usize, ScoredColumns)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads.min(chunks))
                .map(|_| {
                    s.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let c = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if c >= chunks {
                                break mine;
                            }
                            let start = c * CHUNK_ROWS;
                            let end = (start + CHUNK_ROWS).min(rows);
                            mine.push((c, score_rows(engine, columns, start, end)));
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                // A panic is a bug: carried to the caller, not turned into missing rows.
                .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        done.sort_unstable_by_key(|(c, _)| *c);
        done.into_iter().map(|(_, p)| p).collect()
    };
    let mut out = ScoredColumns {
        actions: Vec::with_capacity(rows),
        scores: Vec::with_capacity(rows),
        reason_offsets: Vec::with_capacity(rows + 1),
        ..ScoredColumns::default()
    };
    out.reason_offsets.push(0);
    out.reasons
        .reserve(parts.iter().map(|p| p.reasons.len()).sum::<usize>());
    for p in parts {
        let base = out.reasons.len() as i64;
        out.actions.extend(p.actions);
        out.scores.extend(p.scores);
        out.reason_offsets
            .extend(p.reason_offsets.iter().skip(1).map(|o| o + base));
        out.reasons.extend(p.reasons);
        out.malformed += p.malformed;
        for m in p.first_malformed {
            if out.first_malformed.len() < REPORTED_MALFORMED {
                out.first_malformed.push(m);
            }
        }
    }
    out
}

/// Threads [`score_columns`] uses: one when a rule reads counters (a `[velocity]` section
/// alone records nothing, so it does not order the rows), else `threads` within 1 to 64.
pub(super) fn column_threads(policy: &crate::policy::Policy, threads: usize) -> usize {
    if policy.reads_counters() {
        1
    } else {
        threads.clamp(1, 64)
    }
}

fn score_rows<B: AsRef<[u8]>>(
    engine: &Engine,
    columns: &[FieldColumn<B>; 9],
    start: usize,
    end: usize,
) -> ScoredColumns {
    let mut out = ScoredColumns {
        actions: Vec::with_capacity(end - start),
        scores: Vec::with_capacity(end - start),
        reason_offsets: Vec::with_capacity(end - start + 1),
        ..ScoredColumns::default()
    };
    out.reason_offsets.push(0);
    // Each text column's rows checked as UTF-8 once, not value by value. A row is read as
    // `&str`s of those spans; a column with no span (not text, or not UTF-8), or a value
    // whose offsets split a character, sends the row through the lossy `Cow` reading.
    let spans: [Option<TextSpan<'_>>; 9] =
        std::array::from_fn(|i| columns[i].text_span(start, end));
    let spanned = columns
        .iter()
        .zip(&spans)
        .enumerate()
        .all(|(i, (c, span))| {
            span.is_some()
                || matches!(c, FieldColumn::Missing)
                || (matches!(c, FieldColumn::Float { .. }) && (i == 0 || i == 6))
        });
    let mut batch = engine.batch();
    for row in start..end {
        batch.renew_if_due(row - start);
        // `timestamp` and `duration` as numbers when they come as numbers, not as text.
        let numbers = [columns[0].number(row), columns[6].number(row)];
        let mut strs = [""; 9];
        let read = spanned
            && strs.iter_mut().zip(&spans).all(|(s, span)| match span {
                Some(span) => span.get(row).map(|t| *s = t).is_some(),
                None => true,
            });
        let owned: [std::borrow::Cow<'_, str>; 9];
        let call = if read {
            call_from_strs(strs, numbers)
        } else {
            owned = std::array::from_fn(|i| match i {
                0 if numbers[0].is_some() => std::borrow::Cow::Borrowed(""),
                6 if numbers[1].is_some() => std::borrow::Cow::Borrowed(""),
                _ => columns[i].text(row),
            });
            call_with_seconds(&owned, numbers)
        };
        match call {
            Ok(call) => {
                batch.decide(&call, |v, decided_by| {
                    out.actions.push(v.action.index() as u8);
                    out.scores.push(v.score);
                    for (i, r) in v.reasons.iter().enumerate() {
                        if i > 0 {
                            out.reasons.push(b';');
                        }
                        out.reasons
                            .extend_from_slice(decided_by.reason_name(&r.id).as_bytes());
                    }
                });
            }
            Err(message) => {
                out.actions.push(255);
                out.scores.push(f64::NAN);
                out.malformed += 1;
                if out.first_malformed.len() < REPORTED_MALFORMED {
                    out.first_malformed.push((row, message.clone()));
                }
                out.reasons.extend_from_slice(b"malformed:");
                out.reasons
                    .extend_from_slice(malformed_field(&message).as_bytes());
            }
        }
        out.reason_offsets.push(out.reasons.len() as i64);
    }
    out
}
