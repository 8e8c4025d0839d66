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
//!
//! The files: `fields.rs` reads call-field values, `csv.rs` (with `line.rs`) reads and writes
//! CSV records, `score.rs` scores a CSV stream, `columns.rs` scores Arrow columns.

mod columns;
mod csv;
mod fields;
mod line;
mod score;
#[cfg(test)]
mod tests;

pub use columns::{score_columns, FieldColumn, ScoredColumns};
pub use fields::{call_from_fields, parse_attestation, parse_roaming, parse_seconds, BadValue};
pub use score::{score_csv, CsvSummary, Malformed};

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
