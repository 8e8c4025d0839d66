//! Scoring a CDR CSV stream: the header's columns, each row decided, the results written
//! after the input columns, and the summary.

use super::csv::{needs_quotes, CsvOut, CsvRows, Record};
use super::fields::{call_from_fields, call_from_strs, field_strs, malformed_field, utf8};
use super::{CALL_FIELDS, REPORTED_MALFORMED};
use crate::engine::Engine;
use crate::verdict::{Action, ReasonId};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;

/// A malformed row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    /// 1-based line where the row starts.
    pub line: u64,
    /// What was wrong (`ingress: "mars" is not ...`).
    pub message: String,
}

/// What scoring a CSV file did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CsvSummary {
    /// Data rows read.
    pub rows: u64,
    /// Rows that were malformed.
    pub malformed: u64,
    /// The first [`REPORTED_MALFORMED`] of them.
    pub first_malformed: Vec<Malformed>,
    /// Scored rows by action: allow, flag, block.
    pub actions: [u64; 3],
    /// Rows per reason.
    pub reasons: BTreeMap<String, u64>,
    /// Bytes read.
    pub bytes: u64,
}

/// Column positions of the call fields.
struct Columns {
    call: [Option<usize>; 9],
    action: usize,
    score: usize,
    reasons: usize,
    would: Option<usize>,
    width: usize,
    /// The result columns follow the input columns, in order (no input column has their names).
    appended: bool,
}

fn header_columns(
    header: &Record,
    source: &str,
    observing: bool,
) -> Result<(Columns, Vec<Vec<u8>>)> {
    // csv_core drops a UTF-8 byte-order mark; the trim below is for safety only.
    let mut out: Vec<Vec<u8>> = (0..header.len())
        .map(|i| header.field(&header.data, i).unwrap_or_default().to_vec())
        .collect();
    let names: Vec<String> = out
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = String::from_utf8_lossy(h);
            // The BOM reaches the first name when the file has one.
            let h = if i == 0 {
                h.trim_start_matches('\u{feff}')
            } else {
                &h
            };
            h.trim().to_ascii_lowercase()
        })
        .collect();
    let find = |name: &str| names.iter().position(|n| n == name);
    let call = CALL_FIELDS.map(find);
    for (i, required) in [(1, "caller"), (2, "callee"), (3, "ingress")] {
        if call[i].is_none() {
            return Err(Error::Parse {
                source_name: source.to_owned(),
                line: 1,
                column: 1,
                message: format!(
                    "the header has no {required:?} column (required: caller, callee, ingress)"
                ),
            });
        }
    }
    let mut add = |name: &str| match find(name) {
        Some(i) => i,
        None => {
            out.push(name.as_bytes().to_vec());
            out.len() - 1
        }
    };
    let (action, score, reasons) = (add("action"), add("score"), add("reasons"));
    let would = observing.then(|| add("would_action"));
    let width = out.len();
    let n = header.len();
    let appended =
        action == n && score == n + 1 && reasons == n + 2 && would.is_none_or(|w| w == n + 3);
    Ok((
        Columns {
            call,
            action,
            score,
            reasons,
            would,
            width,
            appended,
        },
        out,
    ))
}

/// `,action,score,` texts by action and score bit pattern: results repeat, and `{:.6}` costs
/// more than scoring's bookkeeping.
struct ResultText {
    slots: Vec<(u64, u8, String)>,
}

/// A `,action,score,` text and its two fields.
struct Middle<'a> {
    text: &'a str,
    action: &'a str,
    score: &'a str,
}

impl ResultText {
    pub(super) fn new() -> Self {
        // NaN bits: never a score, so the empty slots never match.
        ResultText {
            slots: vec![(f64::NAN.to_bits(), 0, String::new()); 64],
        }
    }

    /// `,action,score,` (the score as [`write_score`] writes it).
    pub(super) fn get(&mut self, action: Action, score: f64) -> Middle<'_> {
        let bits = score.to_bits();
        let a = action.index() as u8;
        let key = bits ^ u64::from(a);
        let i = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize;
        let slot = &mut self.slots[i];
        if slot.0 != bits || slot.1 != a || score.is_nan() {
            slot.0 = bits;
            slot.1 = a;
            slot.2.clear();
            slot.2.push(',');
            slot.2.push_str(action.as_str());
            slot.2.push(',');
            write_score(&mut slot.2, score);
            slot.2.push(',');
        }
        let (text, n) = (slot.2.as_str(), action.as_str().len());
        Middle {
            text,
            action: &text[1..1 + n],
            score: &text[2 + n..text.len() - 1],
        }
    }
}

/// Scores a CDR CSV stream into `output` (see the module documentation for the contract).
/// `progress`, if given, hears the bytes read so far every 64 K rows.
pub fn score_csv<R: Read, W: Write>(
    engine: &Engine,
    input: R,
    output: W,
    source: &str,
    strict: bool,
    progress: Option<&dyn Fn(u64)>,
) -> Result<CsvSummary> {
    let io_err = |e: std::io::Error| Error::Io {
        path: source.into(),
        source: e,
    };
    let mut reader = CsvRows::new(input);
    let mut writer = CsvOut::new(output);
    let mut header = Record::default();
    reader.header(&mut header).map_err(io_err)?;
    // Rows are decided against the snapshot current at the latest read of input: a reload
    // reaches the rows read after it. The columns and reason names are the first policy's.
    let mut batch = engine.batch();
    let policy = batch.policy().clone();
    let observing =
        policy.mode() == crate::policy::Mode::Observe || policy.rules().iter().any(|r| r.observe);
    let (cols, out_header) = header_columns(&header, source, observing)?;
    for (i, name) in out_header.iter().enumerate() {
        if i > 0 {
            writer.buf.push(b',');
        }
        writer.field(name);
    }
    writer.end().map_err(io_err)?;
    let width = header.len();
    let mut summary = CsvSummary::default();
    // Reason tallies by rule index while rows are scored by `policy` (by name otherwise).
    let mut rule_hits = vec![0u64; policy.rules().len()];
    let mut record = Record::default();
    let mut reasons_buf = String::new();
    let mut results = ResultText::new();
    // Reason names never need quoting: rule ids are letters, digits and `_-.:` (checked at
    // load), and the built-in reasons are named alike.
    let rule_names: Vec<&str> = (0..policy.rules().len())
        .map(|k| policy.reason_name(&ReasonId::Rule(k as u16)))
        .collect();
    debug_assert!(!rule_names.iter().any(|n| needs_quotes(n.as_bytes())));
    let mut reads = reader.reads;
    while let Some(line) = reader.next_row(&mut record).map_err(io_err)? {
        if reader.reads != reads {
            batch.renew();
            reads = reader.reads;
        }
        summary.rows += 1;
        if summary.rows % 65_536 == 0 {
            if let Some(report) = progress {
                report(reader.offset());
            }
        }
        let data = reader.bytes(&record);
        // One UTF-8 check for the row (SIMD); a field is checked alone only when the row is not
        // UTF-8 (or, quoted, splits a character between fields).
        let whole = simdutf8::basic::from_utf8(data).ok();
        let text = |i: Option<usize>| -> std::borrow::Cow<'_, str> {
            let Some(&(a, b)) = i.and_then(|i| record.bounds.get(i)) else {
                return std::borrow::Cow::Borrowed("");
            };
            match whole.and_then(|w| w.get(a..b)) {
                Some(t) => std::borrow::Cow::Borrowed(t),
                None => utf8(&data[a..b]),
            }
        };
        let slow: [std::borrow::Cow<'_, str>; 9];
        let parsed = if record.len() > width {
            Err(format!(
                "{} fields where the header has {}",
                record.len(),
                width
            ))
        } else if let Some(f) = whole.and_then(|w| field_strs(w, &record.bounds, &cols.call)) {
            call_from_strs(f, [None, None])
        } else {
            slow = cols.call.map(text);
            call_from_fields(&slow)
        };
        // `,action,score,`, `would_action`, and whether `reasons_buf` needs quoting.
        let (middle, would, quote) = match &parsed {
            Ok(call) => {
                let (action, score, would) = batch.decide(call, |v, decided_by| {
                    // A reload mid-file: reasons of another policy are tallied by name.
                    let ours = Arc::ptr_eq(decided_by, &policy);
                    reasons_buf.clear();
                    for (i, r) in v.reasons.iter().enumerate() {
                        if i > 0 {
                            reasons_buf.push(';');
                        }
                        match (r.id, ours) {
                            (ReasonId::Rule(k), true) if usize::from(k) < rule_hits.len() => {
                                rule_hits[usize::from(k)] += 1;
                                reasons_buf.push_str(rule_names[usize::from(k)]);
                            }
                            _ => {
                                let name = decided_by.reason_name(&r.id);
                                reasons_buf.push_str(name);
                                match summary.reasons.get_mut(name) {
                                    Some(n) => *n += 1,
                                    None => {
                                        summary.reasons.insert(name.to_owned(), 1);
                                    }
                                }
                            }
                        }
                    }
                    (v.action, v.score, v.would_action)
                });
                summary.actions[action.index()] += 1;
                (results.get(action, score), would.as_str(), false)
            }
            Err(message) => {
                summary.malformed += 1;
                if strict {
                    return Err(Error::Parse {
                        source_name: source.to_owned(),
                        line: line as usize,
                        column: 1,
                        message: message.clone(),
                    });
                }
                if summary.first_malformed.len() < REPORTED_MALFORMED {
                    summary.first_malformed.push(Malformed {
                        line,
                        message: message.clone(),
                    });
                }
                reasons_buf.clear();
                reasons_buf.push_str("malformed:");
                reasons_buf.push_str(malformed_field(message));
                let none = Middle {
                    text: ",,,",
                    action: "",
                    score: "",
                };
                (none, "", needs_quotes(reasons_buf.as_bytes()))
            }
        };
        // The input fields (empty past a short row), the results in their columns.
        if record.plain && cols.appended && record.len() == width {
            writer.buf.extend_from_slice(data);
            writer.buf.extend_from_slice(middle.text.as_bytes());
            writer.reasons(&reasons_buf, quote);
            if cols.would.is_some() {
                writer.buf.push(b',');
                writer.buf.extend_from_slice(would.as_bytes());
            }
        } else {
            for i in 0..cols.width {
                if i > 0 {
                    writer.buf.push(b',');
                }
                if i == cols.action {
                    writer.buf.extend_from_slice(middle.action.as_bytes());
                } else if i == cols.score {
                    writer.buf.extend_from_slice(middle.score.as_bytes());
                } else if i == cols.reasons {
                    writer.reasons(&reasons_buf, quote);
                } else if Some(i) == cols.would {
                    writer.buf.extend_from_slice(would.as_bytes());
                } else if i < width {
                    let f = record.field(data, i).unwrap_or_default();
                    if record.plain {
                        writer.buf.extend_from_slice(f);
                    } else {
                        writer.field(f);
                    }
                }
            }
        }
        writer.end().map_err(io_err)?;
    }
    for (k, n) in rule_hits.into_iter().enumerate() {
        if n > 0 {
            let id = ReasonId::Rule(k as u16);
            *summary
                .reasons
                .entry(policy.reason_name(&id).to_owned())
                .or_default() += n;
        }
    }
    drop((batch, policy));
    writer.flush().map_err(io_err)?;
    summary.bytes = reader.offset();
    if let Some(report) = progress {
        report(summary.bytes);
    }
    Ok(summary)
}

/// `0.955` → `"0.955"`: at most 6 decimals, no trailing zeros.
fn write_score(out: &mut String, s: f64) {
    use std::fmt::Write as _;
    let start = out.len();
    let _ = write!(out, "{s:.6}");
    let keep = out[start..].trim_end_matches('0').len();
    out.truncate(start + keep);
    if out.ends_with('.') {
        out.pop();
    }
}

#[cfg(test)]
pub(super) fn format_score(s: f64) -> String {
    let mut out = String::new();
    write_score(&mut out, s);
    out
}
