//! Criterion benchmarks of list lookups (`NumberList::contains`) on 1 M-number lists: an
//! exact list (bloom filter in front of an exact set), a bloom-only partner filter, an empty
//! list and an exact list with a non-empty delta; hits and misses; and two threads looking up
//! at once (the case the lock-free base read exists for).
//!
//! `cargo bench --bench lists` times them. For instruction counts, set `LISTS_CALLGRIND=CASE`
//! (one of [`CASES`]) and run the bench binary under callgrind, collecting only `lookup_one`:
//!
//! ```text
//! LISTS_CALLGRIND=bloom_miss valgrind --tool=callgrind --toggle-collect='*lookup_one*' \
//!     target/release/deps/lists-HASH --bench
//! ```
//!
//! then divide the collected instructions by [`CALLGRIND_LOOKUPS`].

// A benchmark that cannot set up should stop loudly rather than time nothing.
#![allow(clippy::expect_used, clippy::panic)]

use _fraudcore::numberlist::{ListKind, Membership, NumberList};
use criterion::{black_box, Criterion};
use std::time::{Duration, Instant};

/// Numbers on the big lists.
const LIST_LEN: u64 = 1_000_000;
/// Distinct probe keys per case, cycled through.
const PROBES: usize = 4096;
/// Lookups per callgrind run.
const CALLGRIND_LOOKUPS: usize = 200_000;
/// The cases, by name.
const CASES: [&str; 8] = [
    "exact_hit",
    "exact_miss",
    "bloom_hit",
    "bloom_miss",
    "empty",
    "delta_hit",
    "delta_miss",
    "mixed",
];

/// SplitMix64: a fixed, well-spread key stream.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The i-th number on the lists: a dense national range, 16–31 apart.
fn listed(i: u64) -> u64 {
    77_000_000_000 + i * 24 + mix(i) % 8
}

/// A number on no list (same range, odd offsets the lists never use... mostly: some are
/// bloom false positives, as in real traffic).
fn unlisted(i: u64) -> u64 {
    listed(mix(i) % LIST_LEN) + 12
}

struct Lists {
    exact: NumberList,
    bloom: NumberList,
    empty: NumberList,
    delta: NumberList,
}

fn lists() -> Lists {
    let keys: Vec<u64> = (0..LIST_LEN).map(listed).collect();
    let exact =
        NumberList::build("exact", ListKind::Block, keys.clone(), 1e-4, 0).expect("exact list");
    let bloom = exact
        .to_filter("partner", ListKind::Partner, LIST_LEN, 1e-4, 42)
        .expect("bloom list");
    let empty = NumberList::build("empty", ListKind::Dno, Vec::new(), 1e-4, 0).expect("empty");
    let delta = NumberList::build("delta", ListKind::Block, keys, 1e-4, 0).expect("delta list");
    for i in 0..100 {
        delta.add(90_000_000_000 + i).expect("add");
    }
    Lists {
        exact,
        bloom,
        empty,
        delta,
    }
}

/// The list and probe keys of a case.
fn case<'a>(l: &'a Lists, name: &str) -> (&'a NumberList, Vec<u64>) {
    let pick = |f: fn(u64) -> u64| -> Vec<u64> {
        (0..PROBES as u64).map(|i| f(mix(i) % LIST_LEN)).collect()
    };
    match name {
        "exact_hit" => (&l.exact, pick(listed)),
        "exact_miss" => (&l.exact, pick(unlisted)),
        "bloom_hit" => (&l.bloom, pick(listed)),
        "bloom_miss" => (&l.bloom, pick(unlisted)),
        "empty" => (&l.empty, pick(listed)),
        "delta_hit" => (&l.delta, pick(listed)),
        "delta_miss" => (&l.delta, pick(unlisted)),
        "mixed" => (
            &l.exact,
            (0..PROBES as u64)
                .map(|i| if i % 8 == 0 { listed(i) } else { unlisted(i) })
                .collect(),
        ),
        other => panic!("unknown case {other}; one of {CASES:?}"),
    }
}

/// One lookup, never inlined, so callgrind can collect exactly it.
#[inline(never)]
fn lookup_one(list: &NumberList, key: u64) -> Membership {
    list.contains(key)
}

fn callgrind(name: &str) {
    let l = lists();
    let (list, keys) = case(&l, name);
    let mut found = 0usize;
    for i in 0..CALLGRIND_LOOKUPS {
        found += usize::from(lookup_one(list, keys[i % PROBES]) != Membership::Absent);
    }
    println!("{name}: {CALLGRIND_LOOKUPS} lookups, {found} found");
}

fn single(c: &mut Criterion, l: &Lists) {
    let mut g = c.benchmark_group("contains");
    for name in CASES {
        let (list, keys) = case(l, name);
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % PROBES;
                lookup_one(list, black_box(keys[i]))
            })
        });
    }
    g.finish();
}

/// Lookups as a scored call makes them: exact and bloom lists, mostly misses.
fn scored_mix(l: &Lists, n: u64, offset: u64) -> usize {
    let mut found = 0;
    for i in 0..n {
        let j = i.wrapping_add(offset);
        let key = if j % 16 == 0 {
            listed(j % LIST_LEN)
        } else {
            unlisted(j)
        };
        for list in [&l.exact, &l.empty, &l.bloom, &l.exact] {
            found += usize::from(list.contains(black_box(key)) != Membership::Absent);
        }
    }
    found
}

/// The same four lookups per iteration, on one thread and on two at once (time per
/// iteration of each thread: ideally equal).
fn threads(c: &mut Criterion, l: &Lists) {
    let mut g = c.benchmark_group("four_lookups");
    g.bench_function("one_thread", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            black_box(scored_mix(l, iters, 0));
            t.elapsed()
        })
    });
    g.bench_function("two_threads", |b| {
        b.iter_custom(|iters| {
            std::thread::scope(|s| {
                let a = s.spawn(|| {
                    let t = Instant::now();
                    black_box(scored_mix(l, iters, 0));
                    t.elapsed()
                });
                let b = s.spawn(|| {
                    let t = Instant::now();
                    black_box(scored_mix(l, iters, 1 << 32));
                    t.elapsed()
                });
                let (a, b) = (a.join().expect("thread"), b.join().expect("thread"));
                a.max(b)
            })
        })
    });
    g.finish();
}

fn main() {
    if let Ok(name) = std::env::var("LISTS_CALLGRIND") {
        callgrind(&name);
        return;
    }
    let l = lists();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    single(&mut c, &l);
    threads(&mut c, &l);
    c.final_summary();
}
