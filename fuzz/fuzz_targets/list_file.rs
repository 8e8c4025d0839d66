//! Saved number lists and their two arrays, from hostile bytes. The first input byte picks
//! the mode (`mode % 4`); the rest is the file, or an edit script (`common::edit`) applied to
//! a valid one:
//!
//! - 0: the bytes as a `.fclist` file, through `NumberList::load` (memory map);
//! - 1: a valid saved list (exact if bit 2 is clear, bloom-only if set), edited; the header's
//!   checksum and length are fixed up unless bit 3 is set, so edits reach the decoder;
//! - 2: `ExactSet::from_words` on the bytes as words (bit 2 clear) or on an edited valid set;
//! - 3: `BlockedBloom::from_words` on `[blocks, k, seed]` then words, raw or edited likewise.
//!
//! Loading must give an error or a structure that answers without panicking: a list answers
//! only as its kind can (exact: present/absent; bloom-only: probable/absent), counts what it
//! lists, and takes live updates and a compaction; an exact set iterates strictly increasing
//! keys and `contains` agrees with the iteration (from_words promises both); a bloom filter
//! has no false negatives after inserts. libFuzzer's -rss_limit_mb / -malloc_limit_mb catch an
//! allocation sized by a header instead of by the input.
#![no_main]

mod common;

use _fraudcore::bloom::{BlockedBloom, BloomParams};
use _fraudcore::exact::ExactSet;
use _fraudcore::numberlist::{ListKind, Membership, NumberList};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// Keys of the base list and set: a dense Kazakh mobile range plus far-away numbers, so the
/// exact set has several blocks and directory segments.
fn base_keys() -> Vec<u64> {
    let mut keys: Vec<u64> = (0..150u64).map(|i| 77_011_234_000 + i * 7).collect();
    keys.extend([12_015_550_123, 74_951_234_567, 79_161_234_567, 80_012_345_678]);
    keys
}

struct Bases {
    exact_file: Vec<u8>,
    filter_file: Vec<u8>,
    set_words: Vec<u8>,
    bloom: Vec<u8>,
}

fn bases() -> &'static Bases {
    static BASES: OnceLock<Bases> = OnceLock::new();
    BASES.get_or_init(|| {
        let list = NumberList::build("fuzz", ListKind::Block, base_keys(), 1e-2, 7).expect("list");
        let filter = list
            .to_filter("partner", ListKind::Partner, 200, 1e-2, 9)
            .expect("filter");
        let saved = |l: &NumberList, name: &str| {
            let path = common::scratch(name);
            l.save(&path).expect("save");
            let bytes = std::fs::read(&path).expect("read back");
            let _ = std::fs::remove_file(&path);
            bytes
        };
        let set = ExactSet::from_unsorted(base_keys());
        let mut bloom = BlockedBloom::new(BloomParams::for_capacity(200, 1e-2, 3).expect("params"));
        base_keys().into_iter().for_each(|k| bloom.insert(k));
        let p = bloom.params();
        let mut bloom_words = vec![p.blocks, u64::from(p.k), p.seed];
        bloom_words.extend_from_slice(bloom.words());
        Bases {
            exact_file: saved(&list, "base-exact.fclist"),
            filter_file: saved(&filter, "base-filter.fclist"),
            set_words: common::bytes_of(set.words()),
            bloom: common::bytes_of(&bloom_words),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let b = bases();
    let edited = mode & 4 != 0;
    let probes = probes(rest);
    match mode % 4 {
        0 => load(rest, &probes),
        1 => {
            let base = if edited { &b.filter_file } else { &b.exact_file };
            let mut file = common::edit(base, rest);
            if mode & 8 == 0 {
                common::fix_header(&mut file);
            }
            load(&file, &probes);
        }
        2 => {
            let bytes = if edited { common::edit(&b.set_words, rest) } else { rest.to_vec() };
            if let Ok(set) = ExactSet::from_words(common::words(&bytes)) {
                check_set(&set, &probes);
            }
        }
        _ => {
            let bytes = if edited { common::edit(&b.bloom, rest) } else { rest.to_vec() };
            check_bloom(&common::words(&bytes), &probes);
        }
    }
});

/// Keys to look up: the base keys' neighbourhood and the input's own words.
fn probes(rest: &[u8]) -> Vec<u64> {
    let mut p: Vec<u64> = base_keys().into_iter().step_by(10).collect();
    p.extend([0, 1, u64::MAX, 77_011_234_001, 77_011_234_007]);
    p.extend(common::words(&rest[..rest.len().min(64)]));
    p
}

fn load(file: &[u8], probes: &[u64]) {
    let path = common::scratch("input.fclist");
    std::fs::write(&path, file).expect("write scratch file");
    let loaded = NumberList::load(&path);
    // The map outlives the name: nothing is left behind, and nothing can change it.
    let _ = std::fs::remove_file(&path);
    if let Ok(list) = loaded {
        check_list(&list, probes);
    }
}

fn check_list(list: &NumberList, probes: &[u64]) {
    let exact = list.is_exact();
    let fpr = list.fpr();
    assert!(fpr > 0.0 && fpr < 1.0, "fpr {fpr}");
    let _ = (list.size_bytes(), list.bloom_params(), list.name(), list.kind());
    let len = list.len();
    match list.numbers() {
        Ok(numbers) => {
            assert!(exact, "a bloom-only list listed numbers");
            assert_eq!(numbers.len() as u64, len);
            assert!(numbers.windows(2).all(|w| w[0] < w[1]));
        }
        Err(_) => assert!(!exact, "an exact list cannot list its numbers"),
    }
    for &k in probes {
        let m = list.contains(k);
        let impossible = if exact { Membership::Probable } else { Membership::Present };
        assert_ne!(m, impossible, "exact={exact}, key {k}");
    }
    // Live updates and a compaction, as an engine does to a loaded list.
    let k = probes.last().copied().unwrap_or(5);
    list.add(k).expect("add");
    assert_eq!(list.contains(k), Membership::Present);
    if list.compact().is_ok() {
        let m = list.contains(k);
        assert!(m != Membership::Absent, "added {k} lost by compaction");
    }
    list.remove(k).expect("remove");
    assert_eq!(list.contains(k), Membership::Absent);
}

fn check_set(set: &ExactSet<Vec<u64>>, probes: &[u64]) {
    let keys: Vec<u64> = set.iter().collect();
    assert_eq!(keys.len(), set.len());
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "keys not increasing");
    for (i, &k) in keys.iter().enumerate() {
        assert!(set.contains(k), "{k} iterated but not contained");
        if k > 0 && (i == 0 || keys[i - 1] != k - 1) {
            assert!(!set.contains(k - 1), "{} contained, not iterated", k - 1);
        }
        if k < u64::MAX && keys.get(i + 1) != Some(&(k + 1)) {
            assert!(!set.contains(k + 1), "{} contained, not iterated", k + 1);
        }
    }
    for &p in probes {
        assert_eq!(set.contains(p), keys.binary_search(&p).is_ok(), "probe {p}");
    }
}

fn check_bloom(words: &[u64], probes: &[u64]) {
    let [blocks, k, seed, filter @ ..] = words else {
        return;
    };
    let Ok(k) = u32::try_from(*k) else {
        return;
    };
    let params = BloomParams {
        blocks: *blocks,
        k,
        seed: *seed,
    };
    let Ok(bloom) = BlockedBloom::from_words(params, filter) else {
        return;
    };
    let _ = (bloom.bits_set(), bloom.estimated_fpr(), params.expected_fpr(probes.len() as u64));
    for &p in probes {
        let _ = bloom.contains(p);
    }
    let mut owned = bloom.to_owned();
    for &p in probes {
        owned.insert(p);
        assert!(owned.contains(p), "false negative for {p}");
    }
    let mut twin = bloom.to_owned();
    twin.union_with(&owned).expect("same parameters");
    assert!(probes.iter().all(|&p| twin.contains(p)));
}
