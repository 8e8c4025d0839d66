//! Criterion benchmarks of `Velocity::record`, the per-call cost of velocity counting.
//!
//! * `velocity/hot_key_one_callee`: one key called over and over (1000 calls a second of event
//!   time) to one number: the minute and window rings, no callee-set churn.
//! * `velocity/hot_key_many_callees`: the same key dialling 1000 numbers in turn, so its
//!   64-slot callee set is full and every call pushes one out.
//! * `velocity/new_key_full_cap`: the default 1 000 000-key cap filled with random callers, then
//!   every call from a new random caller: index miss, LRU eviction, entry reset.
//!
//! `cargo bench --bench velocity -- --test` runs each once.

use _fraudcore::velocity::{Event, Key, Velocity, VelocityConfig};
use criterion::{black_box, Criterion};
use std::time::Duration;

const T0: f64 = 1_700_000_000.0;

/// A full-period 64-bit LCG: distinct keys for 2⁶⁴ steps.
fn next(x: &mut u64) -> u64 {
    *x = x
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *x
}

fn velocity() -> Velocity {
    match Velocity::new(VelocityConfig::default()) {
        Ok(v) => v,
        Err(e) => unreachable!("the default configuration is valid: {e}"),
    }
}

fn bench(c: &mut Criterion) {
    let hot = velocity();
    let key = Key::caller(77_011_234_567);
    let mut i = 0u64;
    c.bench_function("velocity/hot_key_one_callee", |b| {
        b.iter(|| {
            i += 1;
            let e = Event {
                timestamp: T0 + i as f64 * 1e-3,
                callee: 77_017_654_321,
                duration: Some(3.0),
            };
            hot.record(black_box(key), black_box(&e))
        })
    });
    c.bench_function("velocity/hot_key_many_callees", |b| {
        b.iter(|| {
            i += 1;
            let e = Event {
                timestamp: T0 + i as f64 * 1e-3,
                callee: 77_010_000_000 + i % 1000,
                duration: None,
            };
            hot.record(black_box(key), black_box(&e))
        })
    });

    // Filled on first use, so that running the other benchmarks alone skips the fill.
    let mut full: Option<(Velocity, u64, f64)> = None;
    c.bench_function("velocity/new_key_full_cap", |b| {
        let (full, x, t) = full.get_or_insert_with(filled);
        b.iter(|| {
            *t += 1e-6;
            let e = Event {
                timestamp: *t,
                callee: 77_010_000_000,
                duration: None,
            };
            full.record(black_box(Key::caller(next(x))), black_box(&e))
        })
    });
}

/// A store at its default cap of random callers, with the LCG state and clock that filled it.
fn filled() -> (Velocity, u64, f64) {
    let full = velocity();
    let mut x = 1u64;
    let mut t = T0;
    let fill = full.config().max_keys as u64 * 11 / 10;
    for _ in 0..fill {
        t += 1e-6;
        let e = Event {
            timestamp: t,
            callee: 1,
            duration: None,
        };
        full.record(Key::caller(next(&mut x)), &e);
    }
    assert_eq!(full.stats().tracked_keys, full.stats().max_keys);
    (full, x, t)
}

// What `criterion_group!`/`criterion_main!` expand to, written out: their generated `pub fn`
// has no doc comment and the crate warns on missing docs.
fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench(&mut c);
    c.final_summary();
}
