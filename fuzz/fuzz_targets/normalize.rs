//! `normalize::normalize` on arbitrary text under each ingress, then `classify` and `names`
//! on what it accepts. Beyond "never panics" it checks what normalize.rs and number.rs
//! promise: national and on-net ingress read alike; over 256 bytes is `too_long`; a number
//! has a known country code, a 2–17 digit national number and at most 19 digits, and its
//! digits, `to_e164` and `from_digits` agree; separators and non-ASCII digit forms read as
//! the ASCII digits do; a valid number's E.164 form reads back as itself.
#![no_main]

mod common;

use _fraudcore::normalize::{normalize, Ingress, Invalid, MAX_RAW_LEN};
use _fraudcore::number::{Number, MAX_DIGITS};
use _fraudcore::numtype::NumberType;
use libfuzzer_sys::fuzz_target;

const INGRESSES: [Ingress; 3] = [Ingress::International, Ingress::National, Ingress::Onnet];
/// normalize.rs's MIN_NSN and MAX_NSN (phonenumbers' bounds), private there.
const NSN_LENGTHS: std::ops::RangeInclusive<usize> = 2..=17;
/// ASCII separators normalize.rs skips wherever they stand.
const SEPARATORS: [char; 6] = [' ', '-', '.', '/', '(', ')'];

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let (plan, dial) = (common::plan(), common::dial());
    let results = INGRESSES.map(|i| normalize(plan, dial, &raw, i));
    assert_eq!(results[1], results[2], "national and onnet differ on {raw:?}");
    if raw.len() > MAX_RAW_LEN {
        assert!(results.iter().all(|r| *r == Err(Invalid::TooLong)));
        return;
    }
    for (&ingress, result) in INGRESSES.iter().zip(results) {
        if let Ok(n) = result {
            check_number(n);
            check_classification(n);
            check_spellings(&raw, ingress, n);
        }
    }
});

fn check_number(n: Number) {
    let mut buf = [0u8; MAX_DIGITS];
    let digits = n.digits(&mut buf).to_vec();
    let cc_len = n.country_code_len();
    assert!(n.len() <= MAX_DIGITS && n.len() == digits.len(), "{n:?}");
    assert!((1..=3).contains(&cc_len), "{n:?}");
    assert!(NSN_LENGTHS.contains(&(n.len() - cc_len)), "{n:?}");
    assert!(digits[0] != b'0' && digits.iter().all(u8::is_ascii_digit), "{n:?}");
    assert_eq!(common::plan().country_code_len(&digits), Some(cc_len), "{n:?}");
    assert_eq!(Number::from_digits(&digits, cc_len), Some(n));
    let value = digits
        .iter()
        .fold(0u64, |v, &d| v * 10 + u64::from(d - b'0'));
    assert_eq!(n.value(), value);
    let e164 = n.to_e164();
    assert_eq!(e164.as_bytes()[0], b'+');
    assert_eq!(&e164.as_bytes()[1..], &digits[..]);
}

fn check_classification(n: Number) {
    let plan = common::plan();
    let c = plan.classify(n);
    assert_eq!(c.number, n);
    assert_eq!(c.valid, c.number_type != NumberType::Unknown, "{c:?}");
    assert!(!c.valid || c.region.is_some(), "{c:?}");
    assert_eq!(c.tags, 0, "the plan sets no overlay tags");
    let (carrier, location) = plan.names(&c);
    assert!(c.valid || (carrier.is_none() && location.is_none()), "{c:?}");
    for id in carrier.into_iter().chain(location) {
        let _ = plan.name(id);
    }
    if c.valid {
        // phonenumbers' round trip: format E.164, parse it back. (Not for every number: an
        // invalid one may lose a national prefix again, as in phonenumbers.)
        let back = normalize(plan, common::dial(), &n.to_e164(), Ingress::International);
        assert_eq!(back, Ok(n), "{} does not read back", n.to_e164());
    }
}

/// The same number written with the separators left out, and with non-ASCII digits.
fn check_spellings(raw: &str, ingress: Ingress, n: Number) {
    let (plan, dial) = (common::plan(), common::dial());
    let bare: String = raw.chars().filter(|c| !SEPARATORS.contains(c)).collect();
    assert_eq!(
        normalize(plan, dial, &bare, ingress),
        Ok(n),
        "{raw:?} read without separators as {bare:?}"
    );
    // Fullwidth, Arabic-Indic and Extended Arabic-Indic digits, fullwidth plus.
    let zero = [0xFF10, 0x0660, 0x06F0][(n.value() % 3) as usize];
    let other: String = raw
        .chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(zero + (c as u32 - '0' as u32)).unwrap_or(c),
            '+' => '\u{FF0B}',
            _ => c,
        })
        .collect();
    if other.len() <= MAX_RAW_LEN {
        assert_eq!(
            normalize(plan, dial, &other, ingress),
            Ok(n),
            "{raw:?} read with other digits as {other:?}"
        );
    }
}
