//! `listload::parse_list`, the list-file text parser, on arbitrary bytes, normalising with
//! the sample plan's KZ dialling plan as an engine does. Non-strict parsing must succeed (a
//! chunk that panics becomes an error there, so an error here is a swallowed panic); its
//! keys, line count and bad-line report must equal a line-by-line reference that calls
//! `normalize` directly; every key must be a number (known country code, at most 19 digits);
//! strict parsing fails exactly when there is a bad line, naming the first.
#![no_main]

mod common;

use _fraudcore::listload::{parse_list, REPORTED_BAD_LINES};
use _fraudcore::normalize::Ingress;
use _fraudcore::number::{Number, MAX_DIGITS};
use _fraudcore::Error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let norm = &common::normalize_kz;
    let (keys, report) =
        parse_list(norm, data, "fuzz.txt", false, None).expect("non-strict parsing fails");

    let mut want_keys = Vec::new();
    let mut bad_lines = Vec::new();
    if !data.is_empty() {
        for (i, raw) in data.split(|&b| b == b'\n').enumerate() {
            let line = raw[..raw.iter().position(|&b| b == b'#').unwrap_or(raw.len())].trim_ascii();
            if line.is_empty() {
                continue;
            }
            match std::str::from_utf8(line).map(|s| norm(s, Ingress::National)) {
                Ok(Ok(n)) => want_keys.push(n.value()),
                _ => bad_lines.push(i as u64 + 1),
            }
        }
    }
    let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    let lines = if data.is_empty() {
        0
    } else {
        newlines + u64::from(!data.ends_with(b"\n"))
    };
    assert_eq!(keys, want_keys);
    assert_eq!(report.lines, lines);
    assert_eq!(report.numbers, keys.len() as u64);
    assert_eq!(report.bad, bad_lines.len() as u64);
    let reported: Vec<u64> = report.first_bad.iter().map(|b| b.line).collect();
    assert_eq!(
        reported,
        bad_lines[..bad_lines.len().min(REPORTED_BAD_LINES)]
    );
    for b in &report.first_bad {
        assert!(b.text.chars().count() <= 60 && !b.reason.is_empty(), "{b:?}");
    }

    let plan = common::plan();
    for &key in &keys {
        let digits = key.to_string();
        assert!(digits.len() <= MAX_DIGITS, "{key}");
        let cc_len = plan.country_code_len(digits.as_bytes());
        let n = cc_len.and_then(|l| Number::from_digits(digits.as_bytes(), l));
        assert_eq!(n.map(Number::value), Some(key), "{key} is not a number");
    }

    match parse_list(norm, data, "fuzz.txt", true, None) {
        Ok((strict_keys, _)) => {
            assert!(bad_lines.is_empty(), "strict parsing passed bad lines");
            assert_eq!(strict_keys, keys);
        }
        Err(Error::Parse { line, .. }) => assert_eq!(Some(&(line as u64)), bad_lines.first()),
        Err(e) => panic!("strict parsing: unexpected error {e}"),
    }
});
