//! CDR files: the call fields as operators export them, and scoring a CSV file as a stream.
//!
//! # The CSV contract
//! A header row names the columns; the call fields (`timestamp`, `caller`, `callee`,
//! `ingress`, `roaming`, `attestation`, `duration`, `trunk`, `network_number`) may come in any
//! order, matched case-insensitively; `caller`, `callee` and `ingress` are required, the others
//! optional. Other columns are kept and passed through byte for byte. An empty value is
//! unknown. `roaming` is `true`/`false`/`1`/`0`/`yes`/`no` (any case) or empty; `attestation`
//! `A`/`B`/`C` or empty; `timestamp` and `duration` decimal seconds. A UTF-8 byte-order mark
//! before the header is skipped; lines end in LF or CRLF; fields may be quoted (RFC 4180:
//! embedded commas, quotes and newlines). A call field that is not UTF-8 is read with U+FFFD
//! in place of the bad bytes (a number containing one is invalid: `bad_character`).
//!
//! The output is the input columns, then `action`, `score` and `reasons` (`;`-joined), and
//! `would_action` when the policy has rules in observe mode, one row per input row in input
//! order (an input column of one of those names is overwritten in place). A row with too many fields, or a call field that does not parse (`ingress=mars`,
//! `duration=-3`), is *malformed*: it is written with an empty action and score and the reason
//! `malformed:FIELD`, counted, and reported with its line number; with `strict` the first one
//! stops the run with an error instead. A row with too few fields (a truncated last line) has
//! the missing fields empty.

use crate::call::{Attestation, Call, Ingress};
use crate::csvline::Line;
use crate::engine::Engine;
use crate::verdict::{Action, ReasonId};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;

/// Most malformed rows reported in detail (all are counted).
pub const REPORTED_MALFORMED: usize = 10;

/// The call fields, in the order of [`CALL_FIELDS`] indexes.
pub const CALL_FIELDS: [&str; 9] = [
    "timestamp",
    "caller",
    "callee",
    "ingress",
    "roaming",
    "attestation",
    "duration",
    "trunk",
    "network_number",
];

/// A field value that does not parse (the caller names the field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadValue;

/// Parses `roaming`: true/false/1/0/yes/no/y/n/t/f (any case); empty, `unknown`, `none` or
/// `null` is unknown. `Err(BadValue)` for anything else.
pub fn parse_roaming(s: &str) -> Result<Option<bool>, BadValue> {
    // The values as exported, before the trim and the case-blind comparisons.
    match s {
        "" => return Ok(None),
        "true" | "1" => return Ok(Some(true)),
        "false" | "0" => return Ok(Some(false)),
        _ => {}
    }
    let s = s.trim();
    let is = |words: &[&str]| words.iter().any(|w| w.eq_ignore_ascii_case(s));
    if is(&["true", "1", "yes", "y", "t"]) {
        Ok(Some(true))
    } else if is(&["false", "0", "no", "n", "f"]) {
        Ok(Some(false))
    } else if is(&["", "unknown", "none", "null"]) {
        Ok(None)
    } else {
        Err(BadValue)
    }
}

/// Parses `attestation`: `A`, `B`, `C` (any case) or empty.
pub fn parse_attestation(s: &str) -> Result<Option<Attestation>, BadValue> {
    if s.is_empty() {
        return Ok(None);
    }
    match Attestation::parse(s) {
        Some(a) => Ok(Some(a)),
        None if s.trim().is_empty() => Ok(None),
        None => Err(BadValue),
    }
}

/// Parses seconds (`timestamp`, `duration`): a finite decimal, `>= 0` if `non_negative`;
/// empty is unknown.
pub fn parse_seconds(s: &str, non_negative: bool) -> Result<Option<f64>, BadValue> {
    // A plain decimal has no spaces to trim.
    let x = match decimal(s) {
        Some(x) => x,
        None => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            s.parse::<f64>().map_err(|_| BadValue)?
        }
    };
    if x.is_finite() && (!non_negative || x >= 0.0) {
        Ok(Some(x))
    } else {
        Err(BadValue)
    }
}

/// `[-]digits[.digits]` whose digits, read as one integer `m`, are at most 2^53, exactly as
/// `str::parse` reads it; `None` for anything else. With `k` decimals (k ≤ 18: at most 19
/// digits, one before the point), both `m` and `10^k` are exact doubles (10^k is up to
/// 10^22), and IEEE division rounds `m / 10^k` correctly: to the double nearest the decimal,
/// which is what `str::parse` returns.
fn decimal(s: &str) -> Option<f64> {
    const POW10: [f64; 19] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18,
    ];
    let (negative, digits) = match s.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    // At most 19 digits (and a point): `m` < 10^19 fits a u64.
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let (mut m, mut point) = (0u64, None);
    for (i, &b) in digits.iter().enumerate() {
        match b {
            // Wrapping: a 20th digit overflows, and is refused below.
            b'0'..=b'9' => m = m.wrapping_mul(10).wrapping_add(u64::from(b - b'0')),
            // One point, with digits on both sides.
            b'.' if point.is_none() && i > 0 && i + 1 < digits.len() => point = Some(i),
            _ => return None,
        }
    }
    let scale = point.map_or(0, |p| digits.len() - 1 - p);
    if digits.len() - usize::from(point.is_some()) > 19 || m > 1 << 53 {
        return None;
    }
    let x = m as f64 / POW10.get(scale)?;
    Some(if negative { -x } else { x })
}

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

/// Bytes read from the input at a time, and output bytes gathered before a write.
const CHUNK: usize = 1 << 16;

/// One CSV record: its field bytes and where each field lies in them.
#[derive(Debug, Default)]
struct Record {
    data: Vec<u8>,
    /// `(start, end)` of each field in `data`.
    bounds: Vec<(usize, usize)>,
    /// Read from a line without quotes or carriage returns: the record's bytes are the line
    /// itself (the fields joined by commas), and no field needs quoting on the way out.
    plain: bool,
    /// Where a plain line lies in the reader's buffer when [`CsvRows::next_row`] read it
    /// (`data` is then stale; see [`CsvRows::bytes`]).
    at: Option<(usize, usize)>,
}

impl Record {
    fn len(&self) -> usize {
        self.bounds.len()
    }

    #[cfg(test)]
    fn get(&self, i: usize) -> Option<&[u8]> {
        self.field(&self.data, i)
    }

    /// Field `i` of a record whose bytes are `data`.
    fn field<'a>(&self, data: &'a [u8], i: usize) -> Option<&'a [u8]> {
        self.bounds.get(i).map(|&(a, b)| &data[a..b])
    }
}

/// Reads CSV records as the `csv` crate does (RFC 4180 quoting, records ended by LF, CR or
/// CRLF, blank lines skipped, a UTF-8 BOM dropped before the first record), knowing the line
/// each record starts on. A line without `"` or an inner CR is split on commas directly (see
/// [`crate::csvline`]); any other record goes through `csv_core`, whose state between records
/// is always "start of record", so the two interleave.
struct CsvRows<R> {
    input: R,
    buf: Vec<u8>,
    /// Unread bytes are `buf[pos..end]`.
    pos: usize,
    end: usize,
    eof: bool,
    /// Bytes dropped from the front of `buf` so far.
    base: u64,
    /// Line feeds before `pos`.
    newlines: u64,
    core: csv_core::Reader,
    scratch: Vec<u8>,
    ends: Vec<usize>,
}

impl<R: Read> CsvRows<R> {
    fn new(input: R) -> Self {
        Self::with_buffer(input, CHUNK)
    }

    fn with_buffer(input: R, size: usize) -> Self {
        CsvRows {
            input,
            buf: vec![0; size.max(8)],
            pos: 0,
            end: 0,
            eof: false,
            base: 0,
            newlines: 0,
            core: csv_core::Reader::new(),
            scratch: vec![0; 1024],
            ends: vec![0; 64],
        }
    }

    /// Bytes consumed so far.
    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Reads more input after the unread bytes (moved to the front); false at the end.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.base += self.pos as u64;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            return Ok(true);
        }
        loop {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The header: the first record, read by `csv_core` (which drops a leading BOM).
    fn header(&mut self, rec: &mut Record) -> std::io::Result<bool> {
        // The whole mark and a byte after it in the buffer, however the input trickles in
        // (csv_core drops a mark at the start of its first input, and reads empty input as the end).
        while self.end < 4 && self.fill()? {}
        self.quoted(rec)
    }

    /// The next record, and the 1-based line it starts on; `None` at the end of input.
    #[cfg(test)]
    fn next(&mut self, rec: &mut Record) -> std::io::Result<Option<u64>> {
        let line = self.next_row(rec)?;
        if let Some((a, b)) = rec.at.take() {
            rec.data.clear();
            rec.data.extend_from_slice(&self.buf[a..b]);
        }
        Ok(line)
    }

    /// The bytes of the record last read (by [`CsvRows::next_row`] or the header).
    fn bytes<'a>(&'a self, rec: &'a Record) -> &'a [u8] {
        match rec.at {
            Some((a, b)) => &self.buf[a..b],
            None => &rec.data,
        }
    }

    /// The next record, and the 1-based line it starts on; `None` at the end of input. A plain
    /// line is left in the buffer (`rec.at`), to be read through [`CsvRows::bytes`] before
    /// the next call.
    fn next_row(&mut self, rec: &mut Record) -> std::io::Result<Option<u64>> {
        loop {
            // Blank lines are skipped (csv_core would skip them the same way).
            while self.pos < self.end {
                match self.buf[self.pos] {
                    b'\n' => self.newlines += 1,
                    b'\r' => {}
                    _ => break,
                }
                self.pos += 1;
            }
            if self.pos == self.end {
                if self.fill()? {
                    continue;
                }
                return Ok(None);
            }
            let line_no = self.newlines + 1;
            let avail = &self.buf[self.pos..self.end];
            match crate::csvline::scan(avail, self.eof, &mut rec.bounds) {
                Line::Plain { len, next } => {
                    rec.plain = true;
                    rec.at = Some((self.pos, self.pos + len));
                    // `next` > 0: the line starts with a byte that is not a line end.
                    self.newlines += u64::from(avail[next - 1] == b'\n');
                    self.pos += next;
                    return Ok(Some(line_no));
                }
                Line::Quoted => return self.quoted(rec).map(|more| more.then_some(line_no)),
                // A line longer than the buffer streams through csv_core.
                Line::Open if self.pos == 0 && self.end == self.buf.len() => {
                    return self.quoted(rec).map(|more| more.then_some(line_no));
                }
                Line::Open => {
                    self.fill()?;
                }
            }
        }
    }

    /// One record through `csv_core`; false at the end of input.
    fn quoted(&mut self, rec: &mut Record) -> std::io::Result<bool> {
        use csv_core::ReadRecordResult as R;
        let (mut out, mut nends) = (0, 0);
        loop {
            let input = &self.buf[self.pos..self.end];
            let (res, nin, nout, nend) =
                self.core
                    .read_record(input, &mut self.scratch[out..], &mut self.ends[nends..]);
            self.newlines += memchr::memchr_iter(b'\n', &input[..nin]).count() as u64;
            self.pos += nin;
            out += nout;
            nends += nend;
            match res {
                R::InputEmpty => {
                    self.fill()?;
                }
                R::OutputFull => self.scratch.resize(self.scratch.len() * 2, 0),
                R::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                R::Record => break,
                R::End => return Ok(false),
            }
        }
        rec.plain = false;
        rec.at = None;
        rec.data.clear();
        rec.data.extend_from_slice(&self.scratch[..out]);
        rec.bounds.clear();
        let mut start = 0;
        for &end in &self.ends[..nends] {
            rec.bounds.push((start, end));
            start = end;
        }
        Ok(true)
    }
}

/// Writes CSV as the `csv` crate does by default: LF after each record, a field quoted (its
/// quotes doubled) only when it holds a comma, quote, CR or LF. Gathers output and writes it
/// in chunks; what is gathered is written when dropped, as `csv::Writer` does.
struct CsvOut<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> CsvOut<W> {
    fn new(inner: W) -> Self {
        CsvOut {
            inner,
            buf: Vec::with_capacity(CHUNK + 4096),
        }
    }

    /// A field that may need quoting.
    fn field(&mut self, f: &[u8]) {
        if needs_quotes(f) {
            self.buf.push(b'"');
            for &b in f {
                if b == b'"' {
                    self.buf.push(b'"');
                }
                self.buf.push(b);
            }
            self.buf.push(b'"');
        } else {
            self.buf.extend_from_slice(f);
        }
    }

    /// The `reasons` field: quoted when `quote` (only a malformed row's can need it).
    fn reasons(&mut self, reasons: &str, quote: bool) {
        if quote {
            self.field(reasons.as_bytes());
        } else {
            self.buf.extend_from_slice(reasons.as_bytes());
        }
    }

    /// Ends the record.
    fn end(&mut self) -> std::io::Result<()> {
        self.buf.push(b'\n');
        if self.buf.len() >= CHUNK {
            self.inner.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        self.inner.flush()
    }
}

impl<W: Write> Drop for CsvOut<W> {
    fn drop(&mut self) {
        // Best effort, as `csv::Writer` does: the rows before an error are kept.
        let _ = self.flush();
    }
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

/// A field the CSV writer quotes: one holding a comma, quote, CR or LF.
fn needs_quotes(f: &[u8]) -> bool {
    f.iter()
        .any(|&b| b < 0x2D && matches!(b, b',' | b'"' | b'\r' | b'\n'))
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
    fn new() -> Self {
        // NaN bits: never a score, so the empty slots never match.
        ResultText {
            slots: vec![(f64::NAN.to_bits(), 0, String::new()); 64],
        }
    }

    /// `,action,score,` (the score as [`write_score`] writes it).
    fn get(&mut self, action: Action, score: f64) -> Middle<'_> {
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

/// UTF-8 text of a field, with U+FFFD for bytes that are not.
fn utf8(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
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
    let policy = engine.policy();
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
    while let Some(line) = reader.next_row(&mut record).map_err(io_err)? {
        summary.rows += 1;
        if summary.rows % 65_536 == 0 {
            if let Some(report) = progress {
                report(reader.offset());
            }
        }
        let data = reader.bytes(&record);
        // One UTF-8 check for the row; a field is checked alone only when the row is not
        // UTF-8 (or, quoted, splits a character between fields).
        let whole = std::str::from_utf8(data).ok();
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
                let (action, score, would) = engine.decide(call, |v, decided_by| {
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
    drop(policy);
    writer.flush().map_err(io_err)?;
    summary.bytes = reader.offset();
    if let Some(report) = progress {
        report(summary.bytes);
    }
    Ok(summary)
}

/// The field a malformed-row message names (`"ingress: ..."` → `"ingress"`), for the
/// `malformed:FIELD` reason.
fn malformed_field(message: &str) -> &str {
    message.split(':').next().unwrap_or("row")
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
fn format_score(s: f64) -> String {
    let mut out = String::new();
    write_score(&mut out, s);
    out
}

/// Builds a call from the nine call-field texts, or says which field is wrong.
pub fn call_from_fields<'a>(f: &'a [std::borrow::Cow<'a, str>; 9]) -> Result<Call<'a>, String> {
    call_with_seconds(f, [None, None])
}

/// [`call_from_fields`], with `timestamp` and `duration` given as numbers (`Some(None)`:
/// unknown) in place of their texts when `Some`: checked as the text of the number would be.
fn call_with_seconds<'a>(
    f: &'a [std::borrow::Cow<'a, str>; 9],
    numbers: [Option<Option<f64>>; 2],
) -> Result<Call<'a>, String> {
    call_from_strs(std::array::from_fn(|i| &*f[i]), numbers)
}

/// The call fields of a row whose text is `whole` (fields at `bounds`, call fields at
/// `columns`): `""` for a column that is absent or past the row's end; `None` when a field
/// does not lie on character boundaries.
fn field_strs<'a>(
    whole: &'a str,
    bounds: &[(usize, usize)],
    columns: &[Option<usize>; 9],
) -> Option<[&'a str; 9]> {
    let mut out = [""; 9];
    for (f, c) in out.iter_mut().zip(columns) {
        if let Some(&(a, b)) = c.and_then(|c| bounds.get(c)) {
            *f = whole.get(a..b)?;
        }
    }
    Some(out)
}

/// [`call_with_seconds`] over the field texts themselves.
fn call_from_strs(f: [&str; 9], numbers: [Option<Option<f64>>; 2]) -> Result<Call<'_>, String> {
    let bad = |field: &str, value: &str, want: &str| {
        let shown: String = value.chars().take(40).collect();
        format!("{field}: {shown:?} is not {want}")
    };
    let seconds = |field: &str, text: &str, number: Option<Option<f64>>, non_negative: bool| {
        let want = if non_negative {
            "a non-negative number of seconds"
        } else {
            "a number of seconds"
        };
        match number {
            None => parse_seconds(text, non_negative).map_err(|_| bad(field, text, want)),
            Some(None) => Ok(None),
            Some(Some(x)) if x.is_finite() && (!non_negative || x >= 0.0) => Ok(Some(x)),
            Some(Some(x)) => Err(bad(field, &x.to_string(), want)),
        }
    };
    Ok(Call {
        timestamp: seconds("timestamp", f[0], numbers[0], false)?,
        caller: f[1],
        callee: f[2],
        ingress: Ingress::parse(f[3])
            .ok_or_else(|| bad("ingress", f[3], "international, national or onnet"))?,
        roaming: parse_roaming(f[4])
            .map_err(|_| bad("roaming", f[4], "true/false/1/0/yes/no or empty"))?,
        attestation: parse_attestation(f[5])
            .map_err(|_| bad("attestation", f[5], "A, B, C or empty"))?,
        duration: seconds("duration", f[6], numbers[1], true)?,
        trunk: f[7],
        network_number: (!f[8].trim().is_empty()).then_some(f[8]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tests::{policy, TEST_POLICY};

    fn run(input: &str, strict: bool) -> Result<(String, CsvSummary)> {
        let e = Engine::new(policy(TEST_POLICY))?;
        let mut out = Vec::new();
        let s = score_csv(&e, input.as_bytes(), &mut out, "in.csv", strict, None)?;
        Ok((String::from_utf8_lossy(&out).into_owned(), s))
    }

    /// Input that reloads `engine` with `policy` at its second read.
    struct ReloadingInput<'a> {
        data: &'a [u8],
        pos: usize,
        engine: &'a Engine,
        policy: Option<crate::policy::Policy>,
    }

    impl Read for ReloadingInput<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.pos > 0 {
                if let Some(p) = self.policy.take() {
                    self.engine.reload(p).unwrap();
                }
            }
            let n = buf.len().min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    #[test]
    fn a_reload_reaches_the_next_row_and_both_policies_reasons_are_counted() {
        let (header, row) = (
            "caller,callee,ingress\n",
            "+77011234567,87272123456,international\n",
        );
        let rows = 4000;
        let input = header.to_owned() + &row.repeat(rows);
        // The same rules in reverse order (so other indexes), spoofing weighed 0.9.
        let mut blocks: Vec<&str> = TEST_POLICY.split("[[rules]]").collect();
        let settings = blocks.remove(0);
        blocks.reverse();
        let reordered = format!("{settings}[[rules]]{}", blocks.join("[[rules]]")).replace(
            "caller.is_home\"\nscore = 0.95",
            "caller.is_home\"\nscore = 0.9",
        );
        let new = policy(&reordered);
        assert_ne!(new.rules()[0].id, policy(TEST_POLICY).rules()[0].id);
        let e = Engine::new(policy(TEST_POLICY)).unwrap();
        let reader = ReloadingInput {
            data: input.as_bytes(),
            pos: 0,
            engine: &e,
            policy: Some(new),
        };
        let mut out = Vec::new();
        let s = score_csv(&e, reader, &mut out, "in.csv", false, None).unwrap();
        let out = String::from_utf8(out).unwrap();
        let results: Vec<Vec<&str>> = out
            .lines()
            .skip(1)
            .map(|l| l.split(',').skip(3).collect())
            .collect();
        let scores: Vec<&str> = results.iter().map(|r| r[1]).collect();
        // The rows whole in the first read were decided before the reload; the one it cut
        // short, read after the reload, and every later one, by the new policy.
        let before = (CHUNK - header.len()) / row.len();
        assert_eq!(scores.len(), rows);
        assert!(scores[..before].iter().all(|s| *s == "0.95"));
        assert!(scores[before..].iter().all(|s| *s == "0.9"));
        assert!(results
            .iter()
            .all(|r| r[0] == "block" && r[2] == "spoofed_home_cli"));
        assert_eq!(s.reasons.get("spoofed_home_cli"), Some(&(rows as u64)));
        assert_eq!(s.actions, [0, 0, rows as u64]);
        assert_eq!(
            e.stats().reasons.get("spoofed_home_cli"),
            Some(&(rows as u64))
        );
    }

    #[test]
    fn columns_are_ordered_only_when_rules_read_counters() {
        let section_only = policy("home_region = \"KZ\"\n[velocity]\nshards = 4\n");
        assert!(section_only.velocity().is_some());
        assert_eq!(column_threads(&section_only, 2), 2);
        assert_eq!(column_threads(&section_only, 0), 1);
        assert_eq!(column_threads(&section_only, 1000), 64);
        let reads = policy(
            "home_region = \"KZ\"\n[[rules]]\nid = \"burst\"\nwhen = \"caller.calls_1m >= 5\"\nscore = 0.5\n",
        );
        assert_eq!(column_threads(&reads, 2), 1);
    }

    #[test]
    fn scores_rows_and_passes_extra_columns_through() {
        let input = "\u{feff}id,Caller,callee,INGRESS,note\r\n\
            1,+77011234567,87272123456,international,\"spoof, from abroad\"\r\n\
            2,+79161234567,87272123456,international,\"multi\nline\"\r\n\
            3,+77011234567,87272123456,mars,x\n\
            4,+77011234567";
        let (out, s) = run(input, false).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "id,Caller,callee,INGRESS,note,action,score,reasons"
        );
        assert_eq!(
            lines[1],
            "1,+77011234567,87272123456,international,\"spoof, from abroad\",block,0.95,spoofed_home_cli"
        );
        assert_eq!(lines[2], "2,+79161234567,87272123456,international,\"multi");
        assert_eq!(lines[3], "line\",allow,0,");
        assert!(lines[4].starts_with("3,") && lines[4].ends_with(",,,malformed:ingress"));
        // A truncated last row: the missing fields are empty (ingress empty: malformed).
        assert!(lines[5].starts_with("4,+77011234567,,,,"), "{}", lines[5]);
        assert_eq!((s.rows, s.malformed, s.actions), (4, 2, [1, 0, 1]));
        assert_eq!(s.first_malformed[0].line, 5);
        assert!(s.first_malformed[0].message.contains("mars"));
        let e = run(input, true).unwrap_err().to_string();
        assert!(e.starts_with("in.csv:5:1: ingress"), "{e}");
    }

    #[test]
    fn header_needs_the_required_columns() {
        let e = run("caller,callee\n1,2\n", false).unwrap_err().to_string();
        assert!(e.contains("\"ingress\""), "{e}");
    }

    #[test]
    fn non_utf8_call_fields_become_invalid_numbers() {
        let mut input = b"caller,callee,ingress,raw\n".to_vec();
        input.extend_from_slice(b"+7701\xff1234567,87272123456,national,\xfe\n");
        let e = Engine::new(policy(TEST_POLICY)).unwrap();
        let mut out = Vec::new();
        let s = score_csv(&e, &input[..], &mut out, "in.csv", false, None).unwrap();
        assert_eq!(s.actions, [0, 0, 1]);
        assert!(
            out.ends_with(b"\xfe,block,1,invalid_cli\n"),
            "{:?}",
            String::from_utf8_lossy(&out)
        );
    }

    #[test]
    fn malformed_rows_after_blank_lines_have_their_own_line() {
        let input =
            "h,caller,callee,ingress\n\n\r\n1,+77011234567,87272123456,mars\r\n\n2,x,y,onnet,z\n";
        let (_, s) = run(input, false).unwrap();
        let lines: Vec<u64> = s.first_malformed.iter().map(|m| m.line).collect();
        assert_eq!(lines, [4, 6]);
    }

    /// Gives at most `n` bytes a read, to cross every buffer boundary.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    proptest::proptest! {
        /// Seconds read the fast way are what `str::parse` reads, bit for bit.
        #[test]
        fn decimal_is_str_parse(t in "-?[0-9]{0,17}(\\.[0-9]{0,17})?") {
            if let Some(x) = decimal(&t) {
                proptest::prop_assert_eq!(Ok(x.to_bits()), t.parse::<f64>().map(f64::to_bits));
            }
        }

        /// Every decimal of up to 19 digits whose digits make at most 2^53 (and a few past it)
        /// is read as `str::parse` reads it, bit for bit, or left to it.
        #[test]
        fn decimal_is_str_parse_up_to_2_pow_53(
            m in proptest::prop_oneof![0u64..=(1 << 53) + 4, (1u64 << 53) - 4..=(1 << 53) + 4],
            decimals in 0usize..21,
            zeros in 0usize..3,
            negative: bool,
        ) {
            let digits = format!("{}{m:0>width$}", "0".repeat(zeros), width = decimals + 1);
            let (int, frac) = digits.split_at(digits.len() - decimals);
            let t = format!(
                "{}{int}{}{frac}",
                if negative { "-" } else { "" },
                if decimals > 0 { "." } else { "" },
            );
            let fast = decimal(&t);
            if digits.len() <= 19 && m <= 1 << 53 {
                proptest::prop_assert!(fast.is_some(), "{t} left to str::parse");
            }
            if let Some(x) = fast {
                let parsed = t.parse::<f64>().map(f64::to_bits);
                proptest::prop_assert_eq!(Ok(x.to_bits()), parsed, "{}", t);
            }
            proptest::prop_assert_eq!(
                parse_seconds(&t, false).map(|x| x.map(f64::to_bits)),
                Ok(Some(t.parse::<f64>().unwrap_or(f64::NAN).to_bits()))
            );
        }

        /// A text value read from the rows' span is the value read alone.
        #[test]
        fn text_in_a_span_is_text(
            values in proptest::collection::vec(proptest::collection::vec(
                proptest::sample::select(b"a,\xc3\xa9\xff\x80".to_vec()), 0..5), 0..12),
            nulls in proptest::collection::vec(proptest::bool::ANY, 12),
            offset in 0usize..3,
            from in 0usize..12,
            len in 0usize..12,
        ) {
            let mut offsets = vec![0u8; 8];
            let mut data = Vec::new();
            for v in &values {
                data.extend_from_slice(v);
                offsets.extend_from_slice(&(data.len() as i64).to_le_bytes());
            }
            let rows = values.len().saturating_sub(offset);
            let validity = nulls.iter().enumerate().fold(vec![0u8; 2], |mut b, (i, &n)| {
                b[i / 8] |= u8::from(!n) << (i % 8);
                b
            });
            let col = FieldColumn::Text { offsets, data, validity: Some(validity), offset };
            let start = from.min(rows);
            let end = (start + len).min(rows);
            let span = col.text_span(start, end);
            for row in start..end {
                proptest::prop_assert_eq!(col.text_in(row, span), col.text(row));
            }
        }

        /// The reader splits records as the `csv` crate does, and knows each one's first line.
        #[test]
        fn reads_records_as_the_csv_crate(
            bytes in proptest::collection::vec(proptest::sample::select(
                b"ab,,\"\"\r\n\n\xef\xbb\xbf ".to_vec()), 0..80),
            size in 1usize..12,
            trickle in 1usize..9,
        ) {
            let mut want = Vec::new();
            let mut csv = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(&bytes[..]);
            let mut rec = csv::ByteRecord::new();
            while csv.read_byte_record(&mut rec).unwrap() {
                want.push(rec.iter().map(<[u8]>::to_vec).collect::<Vec<_>>());
            }
            let mut got = Vec::new();
            let mut lines = Vec::new();
            let mut rows = CsvRows::with_buffer(Trickle(&bytes, trickle), size);
            let mut r = Record::default();
            let fields = |r: &Record| (0..r.len()).map(|i| r.get(i).unwrap().to_vec()).collect::<Vec<_>>();
            if rows.header(&mut r).unwrap() {
                got.push(fields(&r));
                while let Some(line) = rows.next(&mut r).unwrap() {
                    got.push(fields(&r));
                    lines.push(line);
                }
            }
            proptest::prop_assert_eq!(&got, &want);
            proptest::prop_assert_eq!(rows.offset(), bytes.len() as u64);
            // A record's line: 1 + the line feeds before its first byte, blank lines skipped.
            let mut at = 0;
            let mut expect = Vec::new();
            let data = &bytes[..];
            let mut first = true;
            let mut c = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(data);
            let mut rec = csv::ByteRecord::new();
            while c.read_byte_record(&mut rec).unwrap() {
                let mut p = rec.position().unwrap().byte() as usize;
                while p < data.len() && matches!(data[p], b'\r' | b'\n') {
                    p += 1;
                }
                if !first {
                    expect.push(1 + data[..p].iter().filter(|&&b| b == b'\n').count() as u64);
                }
                first = false;
                at = p;
            }
            let _ = at;
            proptest::prop_assert_eq!(lines, expect);
        }
    }

    /// `timestamp` and `duration` given as numbers score as their texts do.
    #[test]
    fn float_columns_score_as_their_text() {
        let e = Engine::new(policy(TEST_POLICY)).unwrap();
        let ts = [
            Some(1.7e9),
            Some(f64::NAN),
            None,
            Some(-0.0),
            Some(f64::INFINITY),
            Some(5.25),
        ];
        let du = [
            Some(3.0),
            Some(1.0),
            Some(-3.0),
            None,
            Some(-0.0),
            Some(0.5),
        ];
        let n = ts.len();
        let text = |v: &[&str]| {
            let mut offsets = vec![0u8; 8];
            let mut data = Vec::new();
            for t in v {
                data.extend_from_slice(t.as_bytes());
                offsets.extend_from_slice(&(data.len() as i64).to_le_bytes());
            }
            FieldColumn::Text {
                offsets,
                data,
                validity: None,
                offset: 0,
            }
        };
        let float = |v: &[Option<f64>]| {
            let mut validity = vec![0u8; v.len().div_ceil(8)];
            let mut values = Vec::new();
            for (i, x) in v.iter().enumerate() {
                if x.is_some() {
                    validity[i / 8] |= 1 << (i % 8);
                }
                values.extend_from_slice(&x.unwrap_or(9.0).to_le_bytes());
            }
            FieldColumn::Float {
                values,
                validity: Some(validity),
                offset: 0,
            }
        };
        let shown = |v: &[Option<f64>]| -> Vec<String> {
            v.iter()
                .map(|x| x.map_or(String::new(), |x| x.to_string()))
                .collect()
        };
        let (ts_text, du_text) = (shown(&ts), shown(&du));
        fn strs(v: &[String]) -> Vec<&str> {
            v.iter().map(String::as_str).collect()
        }
        let columns = |numbers: bool| -> [FieldColumn<Vec<u8>>; 9] {
            std::array::from_fn(|i| match i {
                0 if numbers => float(&ts),
                0 => text(&strs(&ts_text)),
                6 if numbers => float(&du),
                6 => text(&strs(&du_text)),
                1 => text(&["+77011234567"; 6]),
                2 => text(&["87272123456"; 6]),
                3 => text(&[
                    "international",
                    "national",
                    "onnet",
                    "international",
                    "x",
                    "national",
                ]),
                _ => FieldColumn::Missing,
            })
        };
        let a = score_columns(&e, &columns(true), n, 1);
        let b = score_columns(&e, &columns(false), n, 1);
        assert_eq!(a.actions, b.actions);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.scores), bits(&b.scores));
        assert_eq!(
            (&a.reason_offsets, &a.reasons),
            (&b.reason_offsets, &b.reasons)
        );
        assert_eq!(a.first_malformed, b.first_malformed);
        assert_eq!(a.malformed, 3);
    }

    #[test]
    fn field_parsers() {
        assert_eq!(parse_roaming(" YES "), Ok(Some(true)));
        assert_eq!(parse_roaming(""), Ok(None));
        assert!(parse_roaming("maybe").is_err());
        assert_eq!(parse_seconds("3.5", true), Ok(Some(3.5)));
        assert!(parse_seconds("-1", true).is_err() && parse_seconds("nan", false).is_err());
        assert_eq!(parse_attestation("b"), Ok(Some(Attestation::B)));
        for (s, want) in [
            ("A", Ok(Some(Attestation::A))),
            (" c\t", Ok(Some(Attestation::C))),
            ("", Ok(None)),
            (" ", Ok(None)),
            ("\u{3000}", Ok(None)),
            ("D", Err(BadValue)),
            ("AB", Err(BadValue)),
            ("\u{FF21}", Err(BadValue)),
        ] {
            assert_eq!(parse_attestation(s), want, "{s:?}");
        }
        assert_eq!(format_score(0.955), "0.955");
        for t in [
            "0",
            "-0",
            "36",
            "1795932000.00376",
            "0.1",
            "123456789012345",
            "1234567890123456",
            "9007199254740993",
            "1.000000000000001",
            "3.",
            ".5",
            "1e3",
            "-2.5",
            "00012.50",
        ] {
            assert_eq!(
                parse_seconds(t, false).map(|x| x.map(f64::to_bits)),
                t.parse::<f64>()
                    .map(|x| Some(x.to_bits()))
                    .map_err(|_| BadValue),
                "{t}"
            );
        }
        assert_eq!(format_score(1.0), "1");
        // Timestamps with microseconds take the exact path.
        assert_eq!(decimal("1795932000.004715"), Some(1_795_932_000.004_715));
        assert_eq!(decimal("9007199254740992"), Some(9_007_199_254_740_992.0));
        assert_eq!(decimal("9007199254740993"), None);
        assert_eq!(decimal("12345678901234567890"), None);
        for (s, want) in [
            ("", Ok(None)),
            (" 1 ", Ok(Some(true))),
            ("0", Ok(Some(false))),
            ("NULL", Ok(None)),
            ("truth", Err(BadValue)),
        ] {
            assert_eq!(parse_roaming(s), want, "{s:?}");
        }
        assert_eq!(Ingress::parse("national"), Some(Ingress::National));
        assert_eq!(Ingress::parse(" OnNet"), Some(Ingress::Onnet));
        assert_eq!(Ingress::parse("mars"), None);
    }
}

/// One column of call-field values in Arrow layout, over any byte storage `B` (the Arrow
/// buffers themselves, or copies).
#[derive(Debug)]
pub enum FieldColumn<B> {
    /// Absent: every value unknown.
    Missing,
    /// UTF-8 strings: `offsets` (n + 1 little-endian `i64`), `data`, and an optional validity
    /// bitmap (bit `offset + i` set when row `i` has a value).
    Text {
        /// `i64` LE offsets into `data`.
        offsets: B,
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
        validity.as_ref().is_none_or(|v| {
            v.as_ref()
                .get(i / 8)
                .is_some_and(|b| b & (1 << (i % 8)) != 0)
        })
    }

    /// The value of row `row` of a `Float` column (`Some(None)` when null); `None` for
    /// other columns.
    fn number(&self, row: usize) -> Option<Option<f64>> {
        match self {
            FieldColumn::Float {
                values,
                validity,
                offset,
            } => {
                let i = offset + row;
                Some(
                    le_u64(values.as_ref(), i)
                        .map(f64::from_bits)
                        .filter(|_| Self::valid(validity, i)),
                )
            }
            _ => None,
        }
    }

    /// The bytes of rows `start..end` of a `Text` column, checked as UTF-8 once, and the
    /// offset in `data` they start at; `None` when not text or not UTF-8.
    fn text_span(&self, start: usize, end: usize) -> Option<(&str, usize)> {
        let FieldColumn::Text {
            offsets,
            data,
            offset,
            ..
        } = self
        else {
            return None;
        };
        let (a, b) = (
            le_u64(offsets.as_ref(), offset + start)? as usize,
            le_u64(offsets.as_ref(), offset + end)? as usize,
        );
        let text = std::str::from_utf8(data.as_ref().get(a..b)?).ok()?;
        Some((text, a))
    }

    /// [`FieldColumn::text`], read from the rows' [`FieldColumn::text_span`] when it holds
    /// the value.
    fn text_in<'a>(
        &'a self,
        row: usize,
        span: Option<(&'a str, usize)>,
    ) -> std::borrow::Cow<'a, str> {
        if let (
            Some((text, base)),
            FieldColumn::Text {
                offsets,
                validity,
                offset,
                ..
            },
        ) = (span, self)
        {
            let i = offset + row;
            if !Self::valid(validity, i) {
                return std::borrow::Cow::Borrowed("");
            }
            let at = |i| le_u64(offsets.as_ref(), i).and_then(|o| (o as usize).checked_sub(base));
            if let Some(t) = at(i).zip(at(i + 1)).and_then(|(a, b)| text.get(a..b)) {
                return std::borrow::Cow::Borrowed(t);
            }
        }
        self.text(row)
    }

    /// The value of row `row` as text (`""` when null or absent).
    fn text(&self, row: usize) -> std::borrow::Cow<'_, str> {
        let le = le_u64;
        match self {
            FieldColumn::Missing => std::borrow::Cow::Borrowed(""),
            FieldColumn::Text {
                offsets,
                data,
                validity,
                offset,
            } => {
                let i = offset + row;
                if !Self::valid(validity, i) {
                    return std::borrow::Cow::Borrowed("");
                }
                let (Some(a), Some(b)) = (le(offsets.as_ref(), i), le(offsets.as_ref(), i + 1))
                else {
                    return std::borrow::Cow::Borrowed("");
                };
                data.as_ref()
                    .get(a as usize..b as usize)
                    .map_or(std::borrow::Cow::Borrowed(""), utf8)
            }
            FieldColumn::Float {
                values,
                validity,
                offset,
            } => {
                let i = offset + row;
                match le(values.as_ref(), i).filter(|_| Self::valid(validity, i)) {
                    Some(bits) => std::borrow::Cow::Owned(f64::from_bits(bits).to_string()),
                    None => std::borrow::Cow::Borrowed(""),
                }
            }
        }
    }
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

/// Scores `rows` rows given as columns in [`CALL_FIELDS`] order. Rows are scored in order on
/// one thread when the policy's rules read velocity counters (so counters see the calls in
/// table order); otherwise on up to `threads` threads.
pub fn score_columns<B: AsRef<[u8]> + Sync>(
    engine: &Engine,
    columns: &[FieldColumn<B>; 9],
    rows: usize,
    threads: usize,
) -> ScoredColumns {
    let threads = column_threads(&engine.policy(), threads);
    let chunk = rows.div_ceil(threads).max(1);
    let parts: Vec<ScoredColumns> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..rows)
            .step_by(chunk)
            .map(|start| {
                let end = (start + chunk).min(rows);
                s.spawn(move || score_rows(engine, columns, start, end))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut out = ScoredColumns {
        reason_offsets: vec![0],
        ..ScoredColumns::default()
    };
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
fn column_threads(policy: &crate::policy::Policy, threads: usize) -> usize {
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
    // Each text column's rows checked as UTF-8 once, not value by value.
    let spans: [Option<(&str, usize)>; 9] =
        std::array::from_fn(|i| columns[i].text_span(start, end));
    for row in start..end {
        // `timestamp` and `duration` as numbers when they come as numbers, not as text.
        let numbers = [columns[0].number(row), columns[6].number(row)];
        let fields: [std::borrow::Cow<'_, str>; 9] = std::array::from_fn(|i| match i {
            0 if numbers[0].is_some() => std::borrow::Cow::Borrowed(""),
            6 if numbers[1].is_some() => std::borrow::Cow::Borrowed(""),
            _ => columns[i].text_in(row, spans[i]),
        });
        match call_with_seconds(&fields, numbers) {
            Ok(call) => {
                engine.decide(&call, |v, decided_by| {
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
