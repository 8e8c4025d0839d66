//! Criterion benchmarks of the batch paths, per row: what they cost around `Engine::score`.
//!
//! * `batch/score_csv`: `cdr::score_csv` over a CDR CSV held in memory, into `io::sink()`.
//! * `batch/score_columns`: `cdr::score_columns` on one thread over the same rows as Arrow
//!   buffers (text call fields; `timestamp` and `duration` as `f64` columns, as
//!   `fraudcore._table` hands them over).
//! * `batch/score only`: `Engine::score` alone over the same rows, parsed beforehand.
//!
//! The per-row cost of the batch machinery is `score_csv` (or `score_columns`) minus
//! `score only`. Every iteration scores every row: criterion's time is per file, its
//! throughput in rows (elements) per second.
//!
//! The rows are the file named by `FRAUDCORE_CDR` (e.g. the output of `fraudcore simulate`)
//! when set, else 20,000 generated ones. The engine is the policy file `FRAUDCORE_POLICY`
//! (default: the bundled default policy, velocity on) over the plan `FRAUDCORE_PLAN` (default:
//! the small test sample), as in the `core` bench.
//!
//! `make bench` runs these; `cargo bench --bench batch -- --test` runs each once.

// A benchmark that cannot set up should stop loudly rather than time nothing.
#![allow(clippy::expect_used)]

use _fraudcore::call::{Attestation, Call, Ingress};
use _fraudcore::cdr::{self, FieldColumn, CALL_FIELDS};
use _fraudcore::engine::Engine;
use _fraudcore::metadata::PlanSource;
use _fraudcore::numplan::NumberingPlan;
use _fraudcore::policy::Policy;
use criterion::{black_box, Criterion, Throughput};
use std::sync::Arc;
use std::time::Duration;

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
    let path = match std::env::var_os("FRAUDCORE_POLICY") {
        Some(p) => std::path::PathBuf::from(p),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("python/fraudcore/data/default_policy.toml"),
    };
    Engine::new(Policy::from_file(&path, Arc::new(plan)).expect("policy loads"))
        .expect("engine starts")
}

/// 20,000 calls in the simulator's columns: a mix of spoofed, roaming, foreign, national and
/// malformed rows, with two extra columns.
fn generated() -> Vec<u8> {
    let mut s = String::from(
        "timestamp,caller,callee,ingress,roaming,attestation,duration,trunk,network_number,scenario,expected\n",
    );
    let kinds = [
        ("+7701{:07}", "international", "", "", "spoofed", "block"),
        (
            "+7702{:07}",
            "international",
            "true",
            "",
            "roaming_home",
            "allow",
        ),
        (
            "+7925{:07}",
            "international",
            "",
            "B",
            "russian_caller",
            "allow",
        ),
        ("8701{:07}", "national", "", "A", "own", "allow"),
        (
            "+44207{:07}",
            "international",
            "false",
            "C",
            "foreign",
            "allow",
        ),
        ("+7701{:07}", "mars", "", "", "malformed", "malformed"),
    ];
    for i in 0..20_000u32 {
        let (caller, ingress, roaming, att, scenario, expected) = kinds[i as usize % kinds.len()];
        let caller = caller.replace("{:07}", &format!("{:07}", (i * 7919) % 10_000_000));
        let t = 1_795_932_000.0 + f64::from(i) * 0.013;
        s.push_str(&format!(
            "{t},{caller},7727{:07},{ingress},{roaming},{att},{},gw-{},,{scenario},{expected}\n",
            (i * 104_729) % 10_000_000,
            i % 90,
            i % 3
        ));
    }
    s.into_bytes()
}

/// The call fields of every row, owned.
struct Rows {
    text: Vec<[String; 9]>,
}

fn rows(csv_bytes: &[u8]) -> Rows {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(csv_bytes);
    let header: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let at = CALL_FIELDS.map(|f| header.iter().position(|h| h == f));
    let text = r
        .records()
        .map(|rec| {
            let rec = rec.expect("record");
            at.map(|i| i.and_then(|i| rec.get(i)).unwrap_or("").to_owned())
        })
        .collect();
    Rows { text }
}

/// Arrow buffers for `rows`: text columns, `timestamp` and `duration` as `f64` with validity.
fn columns(rows: &Rows) -> [FieldColumn<Vec<u8>>; 9] {
    std::array::from_fn(|f| {
        let n = rows.text.len();
        if f == 0 || f == 6 {
            let mut values = Vec::with_capacity(n * 8);
            let mut validity = vec![0u8; n.div_ceil(8)];
            for (i, r) in rows.text.iter().enumerate() {
                let x = r[f].parse::<f64>().ok();
                if x.is_some() {
                    validity[i / 8] |= 1 << (i % 8);
                }
                values.extend_from_slice(&x.unwrap_or(0.0).to_le_bytes());
            }
            FieldColumn::Float {
                values,
                validity: Some(validity),
                offset: 0,
            }
        } else {
            let mut offsets = vec![0u8; 8];
            let mut data = Vec::new();
            for r in &rows.text {
                data.extend_from_slice(r[f].as_bytes());
                offsets.extend_from_slice(&(data.len() as i64).to_le_bytes());
            }
            FieldColumn::Text {
                offsets,
                wide: true,
                data,
                validity: None,
                offset: 0,
            }
        }
    })
}

fn call(r: &[String; 9]) -> Option<Call<'_>> {
    Some(Call {
        timestamp: r[0].parse().ok(),
        caller: &r[1],
        callee: &r[2],
        ingress: Ingress::parse(&r[3])?,
        roaming: cdr::parse_roaming(&r[4]).ok()?,
        attestation: Attestation::parse(&r[5]),
        duration: r[6].parse().ok(),
        trunk: &r[7],
        network_number: (!r[8].is_empty()).then_some(r[8].as_str()),
    })
}

fn bench(c: &mut Criterion) {
    let engine = engine();
    let data = match std::env::var_os("FRAUDCORE_CDR") {
        Some(p) => std::fs::read(&p).expect("FRAUDCORE_CDR: cannot read the file"),
        None => generated(),
    };
    let rows = rows(&data);
    let n = rows.text.len();
    let calls: Vec<Call<'_>> = rows.text.iter().filter_map(call).collect();
    let cols = columns(&rows);

    let mut g = c.benchmark_group("batch");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("score_csv", |b| {
        b.iter(|| {
            cdr::score_csv(&engine, &data[..], std::io::sink(), "bench", false, None)
                .expect("scores")
        })
    });
    g.bench_function("score_columns", |b| {
        b.iter(|| cdr::score_columns(&engine, black_box(&cols), n, 1))
    });
    // The well-formed rows only: malformed ones never reach the scorer.
    g.throughput(Throughput::Elements(calls.len() as u64));
    g.bench_function("score only", |b| {
        b.iter(|| {
            for call in &calls {
                black_box(engine.score(black_box(call)));
            }
        })
    });
    g.finish();
}

// What `criterion_group!`/`criterion_main!` expand to, written out: their generated `pub fn`
// has no doc comment and the crate warns on missing docs.
fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    bench(&mut c);
    c.final_summary();
}
