//! Replays the fuzzers' crash reproducers (`fuzz/regressions/<target>/`) under `cargo test`,
//! so a fixed crash stays fixed without a sanitizer build. Each input is decoded exactly as
//! its fuzz target decodes it (mode byte, then a file or an edit script for a valid file,
//! `fuzz/fuzz_targets/common/mod.rs`); the damaged file must be refused as corrupt.
// Test code, and the fuzz targets' helpers it shares: panicking is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../fuzz/fuzz_targets/common/mod.rs"]
mod common;

use _fraudcore::numberlist::{ListKind, NumberList};
use _fraudcore::numplan::NumberingPlan;
use _fraudcore::Error;

/// `plan_bytes`: bit 0 of the mode byte edits the sample plan, bit 1 fixes up the header.
fn plan_input(data: &[u8]) -> Vec<u8> {
    let (&mode, rest) = data.split_first().expect("a mode byte");
    let sample = common::plan().to_bytes().expect("sample plan serialises");
    let mut bytes = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        common::edit(&sample, rest)
    };
    if mode & 2 != 0 {
        common::fix_header(&mut bytes);
    }
    bytes
}

/// The plan is refused as corrupt, at the payload, naming `section`.
fn assert_plan_corrupt(input: &[u8], section: &str) {
    match NumberingPlan::from_bytes(&plan_input(input), "repro.fcplan") {
        Err(Error::Corrupt {
            offset, message, ..
        }) => {
            assert_eq!(offset, 24, "{message}");
            assert!(message.contains(section), "{message}");
        }
        Err(other) => panic!("expected a corrupt-file error, got {other}"),
        Ok(_) => panic!("the damaged plan loaded"),
    }
}

/// An edit of the payload's first word left the country-code index empty; the first
/// normalisation indexed it (`numplan.rs`, `country_code_len`).
#[test]
fn plan_with_a_short_cc_index_is_corrupt() {
    let input = include_bytes!("../fuzz/regressions/plan_bytes/cc-index-out-of-bounds");
    assert_plan_corrupt(input, "country-code index has 0 entries");
}

/// One flipped bit gave a range-trie node a value index past the values; the first carrier
/// lookup indexed it (`trie.rs`, `for_each_prefix`).
#[test]
fn plan_with_a_bad_range_trie_index_is_corrupt() {
    let input = include_bytes!("../fuzz/regressions/plan_bytes/range-trie-index-out-of-bounds");
    assert_plan_corrupt(input, "range trie: node 11: value");
}

/// `list_file` modes 0 and 1: the bytes, or an edit of the target's saved exact list (bit 2
/// clear) or bloom-only filter (bit 2 set), header fixed up unless bit 3 is set; loaded.
fn load_list_input(data: &[u8], scratch: &str) -> Result<NumberList, Error> {
    let (&mode, rest) = data.split_first().expect("a mode byte");
    let file = match mode % 4 {
        0 => rest.to_vec(),
        1 => {
            let mut keys: Vec<u64> = (0..150u64).map(|i| 77_011_234_000 + i * 7).collect();
            keys.extend([
                12_015_550_123,
                74_951_234_567,
                79_161_234_567,
                80_012_345_678,
            ]);
            let list = NumberList::build("fuzz", ListKind::Block, keys, 1e-2, 7).expect("list");
            let base = if mode & 4 == 0 {
                list
            } else {
                list.to_filter("partner", ListKind::Partner, 200, 1e-2, 9)
                    .expect("filter")
            };
            let path = common::scratch(scratch);
            base.save(&path).expect("save");
            let mut file = common::edit(&std::fs::read(&path).expect("read back"), rest);
            if mode & 8 == 0 {
                common::fix_header(&mut file);
            }
            file
        }
        _ => panic!("mode {mode}: not a list file input"),
    };
    let path = common::scratch(scratch);
    std::fs::write(&path, &file).expect("write");
    let loaded = NumberList::load(&path);
    let _ = std::fs::remove_file(&path);
    loaded
}

/// The fpr word set to 1e-46: the first `add` compacted into a filter of ~1 TB.
#[test]
fn list_with_a_tiny_fpr_is_corrupt() {
    let input = include_bytes!("../fuzz/regressions/list_file/compaction-allocates-for-tiny-fpr");
    match load_list_input(input, "repro-tiny-fpr.fclist") {
        Err(Error::Corrupt {
            offset, message, ..
        }) => {
            assert_eq!(offset, 24 + 7 * 8, "{message}");
            assert!(message.contains("false-positive rate"), "{message}");
        }
        Err(other) => panic!("expected a corrupt-file error naming the fpr, got {other}"),
        Ok(_) => panic!("the list with fpr 1e-46 loaded"),
    }
}

/// A bloom-only file whose item count is u64::MAX: it loaded (a filter's count cannot be
/// checked), and adding a number and compacting overflowed the count (`numberlist.rs`,
/// `compact`). Counts no list can reach are now refused at load.
#[test]
fn bloom_only_list_with_a_huge_item_count_is_corrupt() {
    let input = include_bytes!("../fuzz/regressions/list_file/bloom-only-item-count-overflow");
    match load_list_input(input, "repro-items.fclist") {
        Err(Error::Corrupt {
            offset, message, ..
        }) => {
            assert_eq!(offset, 24 + 6 * 8, "{message}");
            assert!(message.contains("item count"), "{message}");
        }
        Err(other) => panic!("expected a corrupt-file error naming the count, got {other}"),
        Ok(_) => panic!("a list of 2^64 - 1 numbers loaded"),
    }
}
