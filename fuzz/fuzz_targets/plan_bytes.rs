//! `NumberingPlan::from_bytes`, the reader of the compiled-plan cache, on hostile bytes. The
//! first input byte picks the mode: bit 0 clear, the rest is the file; set, the rest is an edit
//! script (`common::edit`) applied to the sample plan's valid bytes. Bit 1 set fixes up the
//! header's checksum and length after the input, so that damage reaches the postcard payload,
//! the regex-automata DFAs and the prefix trie instead of stopping at the checksum.
//!
//! A plan that loads is then used as the engine would use it: the KZ dialling plan, normalise
//! and classify a few numbers in every format, carrier and area names, and classification of
//! a number in every country code. Unchanged bytes must load and agree with the original.
#![no_main]

mod common;

use _fraudcore::normalize::{normalize, DialPlan, Ingress};
use _fraudcore::number::Number;
use _fraudcore::numplan::NumberingPlan;
use _fraudcore::numtype::Region;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const RAW: [&str; 8] = [
    "+77011234567",
    "8 (701) 123-45-67",
    "810 1 201 555 0123",
    "00 7 916 123 45 67",
    "79161234567",
    "+80012345678",
    "7272123456",
    "+1 613 555 0123",
];

fn sample_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| common::plan().to_bytes().expect("sample plan serialises"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        common::edit(sample_bytes(), rest)
    };
    if mode & 2 != 0 {
        common::fix_header(&mut bytes);
    }
    let loaded = NumberingPlan::from_bytes(&bytes, "fuzz.fcplan");
    if bytes == sample_bytes() {
        let plan = loaded.expect("the unchanged plan loads");
        for raw in RAW {
            assert_eq!(lookup(&plan, raw), lookup(common::plan(), raw), "{raw}");
        }
        return;
    }
    if let Ok(plan) = loaded {
        exercise(&plan);
    }
});

fn lookup(plan: &NumberingPlan, raw: &str) -> Option<String> {
    let dial = DialPlan::new(plan, "KZ", &["00".into()]).ok()?;
    let n = normalize(plan, &dial, raw, Ingress::National).ok()?;
    let c = plan.classify(n);
    Some(format!("{c:?} {:?}", plan.names(&c)))
}

fn exercise(plan: &NumberingPlan) {
    let _ = (plan.source(), plan.range_stats());
    for region in ["KZ", "RU", "US", "CA", "001"] {
        let Some(r) = Region::parse(region) else {
            continue;
        };
        let _ = plan.emergency_pattern(r);
        let Ok(dial) = DialPlan::new(plan, region, &["00".into()]) else {
            continue;
        };
        for raw in RAW {
            for ingress in [Ingress::International, Ingress::National] {
                if let Ok(n) = normalize(plan, &dial, raw, ingress) {
                    classify(plan, n);
                }
            }
        }
    }
    let codes: Vec<u16> = plan.country_codes().take(64).collect();
    for cc in codes {
        for nsn in [&b"7011234567"[..], b"2015550123", b"0", b"99999999999999999"] {
            if let Some(n) = Number::from_parts(cc, nsn) {
                classify(plan, n);
            }
        }
    }
    for digits in [&b"77011234567"[..], b"12015550123", b"999", b"80012345678"] {
        if let Some(n) = plan
            .country_code_len(digits)
            .and_then(|l| Number::from_digits(digits, l))
        {
            classify(plan, n);
        }
    }
}

fn classify(plan: &NumberingPlan, n: Number) {
    let c = plan.classify(n);
    let (carrier, location) = plan.names(&c);
    for id in carrier.into_iter().chain(location) {
        let _ = plan.name(id);
    }
}
