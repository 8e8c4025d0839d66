//! `Overlay::parse` on arbitrary text: Ok or Err, never a panic. An overlay that parses is
//! laid over the plan's classification of a few fixed numbers, of the digit runs in the text
//! itself (so its own prefixes match) and of the raw input bytes; every tag bit it sets must
//! be a defined tag, every name id must resolve, and validity must follow the type.
#![no_main]

mod common;

use _fraudcore::number::{Number, MAX_DIGITS};
use _fraudcore::numplan::Classification;
use _fraudcore::numtype::NumberType;
use _fraudcore::overlay::{Overlay, OVERLAY_NAME};
use libfuzzer_sys::fuzz_target;

const FIXED: [&[u8]; 6] = [
    b"77011234567",
    b"76001234567",
    b"77272123456",
    b"79161234567",
    b"12015550123",
    b"80012345678",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(overlay) = Overlay::parse(&text, "fuzz.csv") else {
        return;
    };
    // Every row after the header takes at least one line (csv ends records at \r, \n, \r\n).
    let line_ends = data.iter().filter(|&&b| b == b'\n' || b == b'\r').count();
    assert!(overlay.len() <= line_ends + 1, "{} rows", overlay.len());
    let runs = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|r| !r.is_empty())
        .take(16)
        .map(str::as_bytes);
    for digits in FIXED.into_iter().chain(runs).chain([data]) {
        check(&overlay, digits);
    }
});

fn check(overlay: &Overlay, digits: &[u8]) {
    let plan = common::plan();
    let d = &digits[..digits.len().min(MAX_DIGITS)];
    let mut c = plan
        .country_code_len(d)
        .and_then(|cc_len| Number::from_digits(d, cc_len))
        .or_else(|| Number::from_digits(d, 1))
        .map_or_else(blank, |n| plan.classify(n));
    overlay.apply(digits, &mut c);
    assert_eq!(c.valid, c.number_type != NumberType::Unknown, "{c:?}");
    assert_eq!(
        overlay.tag_names(c.tags).count() as u32,
        c.tags.count_ones(),
        "tag bits {:#x} beyond the defined tags",
        c.tags
    );
    for name in overlay.tag_names(c.tags) {
        assert!(overlay.tag(name).is_some_and(|bit| c.tags & bit != 0));
    }
    let (carrier, location) = overlay.names(digits);
    for id in carrier.into_iter().chain(location) {
        assert!(id & OVERLAY_NAME != 0, "unmarked overlay name id {id}");
        assert!(!overlay.name(id).is_empty(), "name id {id} resolves to nothing");
    }
}

fn blank() -> Classification {
    Classification {
        number: Number::from_parts(7, b"0").expect("a number"),
        region: None,
        valid: false,
        number_type: NumberType::Unknown,
        tags: 0,
    }
}
