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
use crate::engine::Engine;
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::io::{Read, Write};

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
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" | "t" => Ok(Some(true)),
        "false" | "0" | "no" | "n" | "f" => Ok(Some(false)),
        "" | "unknown" | "none" | "null" => Ok(None),
        _ => Err(BadValue),
    }
}

/// Parses `attestation`: `A`, `B`, `C` (any case) or empty.
pub fn parse_attestation(s: &str) -> Result<Option<Attestation>, BadValue> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    Attestation::parse(s).map(Some).ok_or(BadValue)
}

/// Parses seconds (`timestamp`, `duration`): a finite decimal, `>= 0` if `non_negative`;
/// empty is unknown.
pub fn parse_seconds(s: &str, non_negative: bool) -> Result<Option<f64>, BadValue> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && (!non_negative || x >= 0.0) => Ok(Some(x)),
        _ => Err(BadValue),
    }
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

/// Passes reads through, noting the byte offset of every newline, so that rows can be given
/// their true starting line (the csv reader's own count is off after CRLF endings).
struct LineMarks<R> {
    inner: R,
    read: u64,
    newlines: std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<u64>>>,
}

impl<R: Read> Read for LineMarks<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut marks = self.newlines.borrow_mut();
        for (i, b) in buf.iter().take(n).enumerate() {
            if *b == b'\n' {
                marks.push_back(self.read + i as u64);
            }
        }
        self.read += n as u64;
        Ok(n)
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
}

fn header_columns(
    header: &csv::ByteRecord,
    source: &str,
    observing: bool,
) -> Result<(Columns, csv::ByteRecord)> {
    // The csv reader drops a UTF-8 byte-order mark; the trim below is for safety only.
    let mut out = header.clone();
    let names: Vec<String> = header
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
            out.push_field(name.as_bytes());
            out.len() - 1
        }
    };
    let (action, score, reasons) = (add("action"), add("score"), add("reasons"));
    let would = observing.then(|| add("would_action"));
    let width = out.len();
    Ok((
        Columns {
            call,
            action,
            score,
            reasons,
            would,
            width,
        },
        out,
    ))
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
    let csv_err = |e: csv::Error| match e.kind() {
        csv::ErrorKind::Io(_) => match e.into_kind() {
            csv::ErrorKind::Io(io) => io_err(io),
            _ => Error::invalid("csv", "I/O error"),
        },
        _ => Error::Parse {
            source_name: source.to_owned(),
            line: e.position().map_or(0, |p| p.line() as usize),
            column: 1,
            message: e.to_string(),
        },
    };
    let newlines = std::rc::Rc::new(std::cell::RefCell::new(std::collections::VecDeque::new()));
    let mut lines_before = 0u64;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(LineMarks {
            inner: input,
            read: 0,
            newlines: newlines.clone(),
        });
    let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(output);
    let header = reader.byte_headers().map_err(csv_err)?.clone();
    let policy = engine.policy();
    let observing =
        policy.mode() == crate::policy::Mode::Observe || policy.rules().iter().any(|r| r.observe);
    let (cols, out_header) = header_columns(&header, source, observing)?;
    writer.write_byte_record(&out_header).map_err(csv_err)?;
    let mut summary = CsvSummary::default();
    let mut record = csv::ByteRecord::new();
    let mut out = csv::ByteRecord::new();
    let mut reasons_buf = String::new();
    let mut score_buf = String::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_err(e)),
        }
        summary.rows += 1;
        // The row starts after every newline before its first byte (the reader reports the
        // start of a row after CRLF at the LF).
        let start = record.position().map_or(0, |p| p.byte());
        {
            let mut marks = newlines.borrow_mut();
            while marks.front().is_some_and(|&at| at <= start) {
                marks.pop_front();
                lines_before += 1;
            }
        }
        let line = lines_before + 1;
        if summary.rows % 65_536 == 0 {
            if let Some(report) = progress {
                report(reader.position().byte());
            }
        }
        let text = |i: Option<usize>| -> std::borrow::Cow<'_, str> {
            i.and_then(|i| record.get(i))
                .map_or(std::borrow::Cow::Borrowed(""), String::from_utf8_lossy)
        };
        let fields: [std::borrow::Cow<'_, str>; 9] = cols.call.map(text);
        let parsed = if record.len() > header.len() {
            Err(format!(
                "{} fields where the header has {}",
                record.len(),
                header.len()
            ))
        } else {
            call_from_fields(&fields)
        };
        let (action, score, reasons, would): (&str, &str, &str, &str) = match &parsed {
            Ok(call) => {
                let v = engine.score(call);
                summary.actions[v.action.index()] += 1;
                reasons_buf.clear();
                for (i, r) in v.reason_ids().enumerate() {
                    if i > 0 {
                        reasons_buf.push(';');
                    }
                    reasons_buf.push_str(r);
                    match summary.reasons.get_mut(r) {
                        Some(n) => *n += 1,
                        None => {
                            summary.reasons.insert(r.to_owned(), 1);
                        }
                    }
                }
                score_buf.clear();
                score_buf.push_str(&format_score(v.score));
                (
                    v.action.as_str(),
                    score_buf.as_str(),
                    reasons_buf.as_str(),
                    v.would_action.as_str(),
                )
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
                ("", "", reasons_buf.as_str(), "")
            }
        };
        // One pass: the input fields (empty past a short row), the results in their columns.
        out.clear();
        for i in 0..cols.width {
            out.push_field(if i == cols.action {
                action.as_bytes()
            } else if i == cols.score {
                score.as_bytes()
            } else if i == cols.reasons {
                reasons.as_bytes()
            } else if Some(i) == cols.would {
                would.as_bytes()
            } else if i < header.len() {
                record.get(i).unwrap_or(b"")
            } else {
                b""
            });
        }
        writer.write_byte_record(&out).map_err(csv_err)?;
    }
    drop(policy);
    writer.flush().map_err(io_err)?;
    summary.bytes = reader.position().byte();
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
fn format_score(s: f64) -> String {
    let t = format!("{s:.6}");
    let t = t.trim_end_matches('0');
    t.strip_suffix('.').unwrap_or(t).to_owned()
}

/// Builds a call from the nine call-field texts, or says which field is wrong.
pub fn call_from_fields<'a>(f: &'a [std::borrow::Cow<'a, str>; 9]) -> Result<Call<'a>, String> {
    let bad = |field: &str, value: &str, want: &str| {
        let shown: String = value.chars().take(40).collect();
        format!("{field}: {shown:?} is not {want}")
    };
    Ok(Call {
        timestamp: parse_seconds(&f[0], false)
            .map_err(|_| bad("timestamp", &f[0], "a number of seconds"))?,
        caller: &f[1],
        callee: &f[2],
        ingress: Ingress::parse(&f[3])
            .ok_or_else(|| bad("ingress", &f[3], "international, national or onnet"))?,
        roaming: parse_roaming(&f[4])
            .map_err(|_| bad("roaming", &f[4], "true/false/1/0/yes/no or empty"))?,
        attestation: parse_attestation(&f[5])
            .map_err(|_| bad("attestation", &f[5], "A, B, C or empty"))?,
        duration: parse_seconds(&f[6], true)
            .map_err(|_| bad("duration", &f[6], "a non-negative number of seconds"))?,
        trunk: &f[7],
        network_number: (!f[8].trim().is_empty()).then_some(&*f[8]),
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
    fn field_parsers() {
        assert_eq!(parse_roaming(" YES "), Ok(Some(true)));
        assert_eq!(parse_roaming(""), Ok(None));
        assert!(parse_roaming("maybe").is_err());
        assert_eq!(parse_seconds("3.5", true), Ok(Some(3.5)));
        assert!(parse_seconds("-1", true).is_err() && parse_seconds("nan", false).is_err());
        assert_eq!(parse_attestation("b"), Ok(Some(Attestation::B)));
        assert_eq!(format_score(0.955), "0.955");
        assert_eq!(format_score(1.0), "1");
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

    /// The value of row `row` as text (`""` when null or absent).
    fn text(&self, row: usize) -> std::borrow::Cow<'_, str> {
        let le = |b: &[u8], i: usize| -> Option<u64> {
            b.get(i * 8..i * 8 + 8)
                .and_then(|s| s.try_into().ok())
                .map(u64::from_le_bytes)
        };
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
                    .map_or(std::borrow::Cow::Borrowed(""), String::from_utf8_lossy)
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
/// one thread when the policy keeps velocity counters (so counters see the calls in table
/// order); otherwise on up to `threads` threads.
pub fn score_columns<B: AsRef<[u8]> + Sync>(
    engine: &Engine,
    columns: &[FieldColumn<B>; 9],
    rows: usize,
    threads: usize,
) -> ScoredColumns {
    let ordered = engine.policy().velocity().is_some();
    let threads = if ordered { 1 } else { threads.clamp(1, 64) };
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

fn score_rows<B: AsRef<[u8]>>(
    engine: &Engine,
    columns: &[FieldColumn<B>; 9],
    start: usize,
    end: usize,
) -> ScoredColumns {
    let mut out = ScoredColumns {
        reason_offsets: vec![0],
        ..ScoredColumns::default()
    };
    for row in start..end {
        let fields: [std::borrow::Cow<'_, str>; 9] = std::array::from_fn(|i| columns[i].text(row));
        match call_from_fields(&fields) {
            Ok(call) => {
                let v = engine.score(&call);
                out.actions.push(v.action.index() as u8);
                out.scores.push(v.score);
                for (i, r) in v.reason_ids().enumerate() {
                    if i > 0 {
                        out.reasons.push(b';');
                    }
                    out.reasons.extend_from_slice(r.as_bytes());
                }
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
