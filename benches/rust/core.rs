//! Criterion benchmarks of the pure-Rust core: normalise, classify, both, and score.
//!
//! The plan is the file named by `FRAUDCORE_PLAN` (the Python package's compiled-plan cache,
//! i.e. every country) when set, else the small test sample (+1, +7 and +800 only). Each
//! iteration handles one number, cycling through a handful (KZ, RU, US, GB; those the plan does
//! not know are skipped), so every estimate is a per-number time.
//!
//! `make bench` runs these; `cargo bench --bench core -- --test` runs each once.

// A benchmark that cannot set up should stop loudly rather than time nothing.
#![allow(clippy::expect_used)]

use _fraudcore::call::Call;
use _fraudcore::engine::Engine;
use _fraudcore::metadata::PlanSource;
use _fraudcore::normalize::Ingress;
use _fraudcore::number::Number;
use _fraudcore::numberlist::Lists;
use _fraudcore::numplan::NumberingPlan;
use _fraudcore::policy::features::Facts;
use _fraudcore::policy::Policy;
use _fraudcore::velocity::Counters;
use criterion::{black_box, Criterion};
use std::sync::Arc;
use std::time::Duration;

/// Raw numbers as a Kazakh switch receives them, one per country.
const RAW: [&str; 4] = [
    "8 (701) 123-45-67",
    "+7 916 123-45-67",
    "+1 (201) 555-0123",
    "+44 20 7946 0000",
];

fn engine() -> Engine {
    let plan = match std::env::var_os("FRAUDCORE_PLAN") {
        Some(path) => {
            NumberingPlan::load(path.as_ref()).expect("FRAUDCORE_PLAN: cannot load the plan")
        }
        None => {
            let json = include_str!("../../rust/testdata/plan_sample.json");
            NumberingPlan::compile(&PlanSource::from_json(json).expect("sample plan source"))
                .expect("sample plan compiles")
        }
    };
    // The same policy as the Python `Engine.default()`.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python/fraudcore/data/default_policy.toml");
    Engine::new(Policy::from_file(&path, Arc::new(plan)).expect("bundled policy loads"))
        .expect("engine starts")
}

fn bench(c: &mut Criterion) {
    let engine = engine();
    let raw: Vec<&str> = RAW
        .into_iter()
        .filter(|r| engine.normalize(r, Ingress::National).is_ok())
        .collect();
    assert!(
        !raw.is_empty(),
        "the plan knows none of the benchmark numbers"
    );
    let numbers: Vec<Number> = raw
        .iter()
        .filter_map(|r| engine.normalize(r, Ingress::National).ok())
        .collect();
    let e164: Vec<String> = numbers.iter().map(|n| n.to_e164()).collect();
    let n = raw.len();

    // `i % n` cycles the inputs; it costs about a nanosecond, the same in every bench.
    let mut i = 0;
    c.bench_function("normalize", |b| {
        b.iter(|| {
            i += 1;
            engine.normalize(black_box(raw[i % n]), Ingress::National)
        })
    });
    c.bench_function("classify", |b| {
        b.iter(|| {
            i += 1;
            engine.classify(black_box(numbers[i % n]))
        })
    });
    c.bench_function("normalize+classify", |b| {
        b.iter(|| {
            i += 1;
            engine.lookup(black_box(raw[i % n]), Ingress::National)
        })
    });
    c.bench_function("score", |b| {
        b.iter(|| {
            i += 1;
            let call = Call {
                caller: &e164[i % n],
                callee: "87272123456",
                ..Call::international()
            };
            engine.score(black_box(&call))
        })
    });
    rules(c, &engine);
}

/// Each rule of the default policy alone, on the facts of one spoofed call (a Kazakh mobile
/// CLI from abroad, an Almaty callee), with the engine's lists: what one rule costs once the
/// numbers are looked up.
fn rules(c: &mut Criterion, engine: &Engine) {
    let snap = engine.snapshot();
    let policy = &*snap.policy;
    let call = Call {
        caller: "+77011234567",
        callee: "87272123456",
        timestamp: Some(1_795_932_000.0),
        ..Call::international()
    };
    let caller = policy.lookup(call.caller, call.ingress);
    let callee = policy.lookup(call.callee, Ingress::National);
    let counters = Counters {
        calls_1m: 3,
        calls_window: 5,
        distinct_callees: 3,
        ..Counters::default()
    };
    let facts = Facts {
        call: &call,
        caller: &caller,
        callee: &callee,
        network_number: None,
        emergency: false,
        policy,
        time: Default::default(),
        velocity: [Some(counters), None, None],
    };
    let mut group = c.benchmark_group("rule");
    for rule in policy.rules() {
        group.bench_function(rule.id.as_str(), |b| {
            b.iter(|| {
                rule.program
                    .eval(black_box(&facts), Lists::new(&snap.lists))
            })
        });
    }
    group.bench_function("all rules (evaluate)", |b| {
        b.iter(|| policy.evaluate(black_box(&facts), Lists::new(&snap.lists)))
    });
    group.finish();
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
