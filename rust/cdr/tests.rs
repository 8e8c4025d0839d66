//! Tests of the CSV path and the field parsers.
use super::columns::column_threads;
use super::csv::{CsvRows, Record, CHUNK};
use super::fields::decimal;
use super::score::format_score;
use super::*;
use crate::call::{Attestation, Ingress};
use crate::engine::tests::{policy, TEST_POLICY};
use crate::engine::Engine;
use crate::Result;
use proptest::strategy::Strategy;
use std::io::Read;

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
        // Mostly whole UTF-8 pieces; now and then half an `é` (its other half may be in the
        // next value, so the span is UTF-8 but the value alone is not) or a byte that is
        // never UTF-8.
        values in proptest::collection::vec(
            proptest::collection::vec(proptest::sample::select(vec![
                &b"a"[..], b"a", b",", "\u{e9}".as_bytes(), "\u{e9}".as_bytes(), b"\xc3",
                b"\xa9", b"\xff",
            ]), 0..4).prop_map(|pieces| pieces.concat()),
            0..12,
        ),
        nulls in proptest::collection::vec(proptest::bool::ANY, 12),
        offset in 0usize..3,
        from in 0usize..12,
        len in 0usize..12,
        wide in proptest::bool::ANY,
    ) {
        let push = |offsets: &mut Vec<u8>, o: usize| if wide {
            offsets.extend_from_slice(&(o as i64).to_le_bytes());
        } else {
            offsets.extend_from_slice(&(o as i32).to_le_bytes());
        };
        let mut offsets = Vec::new();
        push(&mut offsets, 0);
        let mut data = Vec::new();
        for v in &values {
            data.extend_from_slice(v);
            push(&mut offsets, data.len());
        }
        let rows = values.len().saturating_sub(offset);
        let validity = nulls.iter().enumerate().fold(vec![0u8; 2], |mut b, (i, &n)| {
            b[i / 8] |= u8::from(!n) << (i % 8);
            b
        });
        let col = FieldColumn::Text { offsets, wide, data, validity: Some(validity), offset };
        let start = from.min(rows);
        let end = (start + len).min(rows);
        // A span reads each row's value as `text` does, or refuses it: only a value whose
        // bounds split a character of the span (half an `é`, or an empty value between the
        // halves), which `text` then reads alone.
        if let Some(span) = col.text_span(start, end) {
            let joined = values[offset + start..offset + end].concat();
            let joined = std::str::from_utf8(&joined).expect("the span is UTF-8");
            let mut at = 0;
            for row in start..end {
                let (a, b) = (at, at + values[offset + row].len());
                at = b;
                match span.get(row) {
                    Some(t) => proptest::prop_assert_eq!(t, col.text(row)),
                    None => proptest::prop_assert!(
                        !joined.is_char_boundary(a) || !joined.is_char_boundary(b)
                    ),
                }
            }
        }
        for row in 0..rows {
            let i = offset + row;
            let want = if nulls[i] { String::new() } else { String::from_utf8_lossy(&values[i]).into_owned() };
            proptest::prop_assert_eq!(col.text(row), want);
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
        let mut csv = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&bytes[..]);
        let mut rec = ::csv::ByteRecord::new();
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
        let mut c = ::csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(data);
        let mut rec = ::csv::ByteRecord::new();
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
            wide: true,
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

/// Scored on several threads, chunk by chunk, a table comes out as scored on one thread, and
/// each row as `score` decides it; malformed rows are reported by their own row, in order.
#[test]
fn threads_score_columns_as_one_thread_does() {
    let e = Engine::new(policy(TEST_POLICY)).unwrap();
    assert_eq!(column_threads(&e.policy(), 3), 3);
    // Two and a half chunks; every 997th row malformed, callers of every kind.
    let n = 2 * super::columns::CHUNK_ROWS + 5_000;
    let callers = [
        "+77011234567",
        "87272123456",
        "",
        "+4420",
        "anonymous",
        "+79161234567",
    ];
    let ingress = ["international", "national", "onnet"];
    let rows: Vec<[String; 3]> = (0..n)
        .map(|i| {
            let caller = format!("{}{}", callers[i % callers.len()], i % 7);
            let ing = if i % 997 == 5 {
                "mars"
            } else {
                ingress[i / 3 % 3]
            };
            [caller, "87272123456".into(), ing.into()]
        })
        .collect();
    let column = |f: usize| {
        let mut offsets = 0i32.to_le_bytes().to_vec();
        let mut data = Vec::new();
        for r in &rows {
            data.extend_from_slice(r[f].as_bytes());
            offsets.extend_from_slice(&(data.len() as i32).to_le_bytes());
        }
        FieldColumn::Text {
            offsets,
            wide: false,
            data,
            validity: None,
            offset: 0,
        }
    };
    let columns: [FieldColumn<Vec<u8>>; 9] = std::array::from_fn(|i| match i {
        1..=3 => column(i - 1),
        _ => FieldColumn::Missing,
    });
    let one = score_columns(&e, &columns, n, 1);
    for threads in [2, 3] {
        let many = score_columns(&e, &columns, n, threads);
        assert_eq!(many.actions, one.actions);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&many.scores), bits(&one.scores));
        assert_eq!(many.reason_offsets, one.reason_offsets);
        assert_eq!(many.reasons, one.reasons);
        assert_eq!(many.first_malformed, one.first_malformed);
        assert_eq!(many.malformed, one.malformed);
    }
    let malformed: Vec<usize> = (0..n).filter(|i| i % 997 == 5).collect();
    assert_eq!(one.malformed as usize, malformed.len());
    let reported: Vec<usize> = one.first_malformed.iter().map(|(row, _)| *row).collect();
    assert_eq!(reported, malformed[..reported.len()]);
    for (i, r) in rows.iter().enumerate().step_by(5) {
        let Some(ingress) = Ingress::parse(&r[2]) else {
            assert_eq!(one.actions[i], 255);
            continue;
        };
        let call = crate::call::Call {
            timestamp: None,
            caller: &r[0],
            callee: &r[1],
            ingress,
            roaming: None,
            attestation: None,
            duration: None,
            trunk: "",
            network_number: None,
        };
        let v = e.score(&call);
        assert_eq!(one.actions[i], v.action.index() as u8, "row {i}");
        assert_eq!(one.scores[i].to_bits(), v.score.to_bits(), "row {i}");
        let (a, b) = (
            one.reason_offsets[i] as usize,
            one.reason_offsets[i + 1] as usize,
        );
        let names: Vec<String> = v
            .reasons
            .iter()
            .map(|r| e.policy().reason_name(&r.id).to_owned())
            .collect();
        assert_eq!(
            std::str::from_utf8(&one.reasons[a..b]).unwrap(),
            names.join(";"),
            "row {i}"
        );
    }
}

/// Output that takes `room` bytes, then fails every write with `kind`.
struct FullDisk {
    taken: Vec<u8>,
    room: usize,
}

impl std::io::Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.room - self.taken.len());
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left",
            ));
        }
        self.taken.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failed_write_stops_the_run_with_its_error_and_what_came_before_is_kept() {
    let row = "+77011234567,87272123456,international\n";
    let input = "caller,callee,ingress\n".to_owned() + &row.repeat(20_000);
    let e = Engine::new(policy(TEST_POLICY)).unwrap();
    let (whole, _) = run(&input, false).unwrap();
    assert!(whole.len() > 5 * CHUNK, "several chunks");
    for room in [0, 100, CHUNK + 7, 3 * CHUNK] {
        let mut disk = FullDisk {
            taken: Vec::new(),
            room,
        };
        let err = score_csv(&e, input.as_bytes(), &mut disk, "in.csv", false, None).unwrap_err();
        match err {
            crate::Error::Io { source, .. } => {
                assert_eq!(source.kind(), std::io::ErrorKind::StorageFull, "{source}")
            }
            other => panic!("{other}"),
        }
        assert_eq!(disk.taken.len(), room);
        assert!(whole.as_bytes().starts_with(&disk.taken));
    }
}
