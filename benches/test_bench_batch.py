"""Batch scoring side by side: `fraudcore score` (the CSV path), `score_many`, `score_table`
and two threads at once, beside a pure-Python csv + phonenumbers scorer of the same policy.

Timed runs (`make bench`) score 1 M simulated calls; under `--benchmark-disable` (the test
suite) 20 k, so every benchmark still runs once. The pure-Python scorer takes ~0.1-0.4 ms a
call, so it scores a 2,000-call sample of the same file; every row reports per-call time.
"""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import pytest
from reference_policy import ReferencePolicy

import fraudcore
from fraudcore import _simulate

pytestmark = pytest.mark.benchmark(group="batch")
CDR_FIELDS = set(_simulate.FIELDS) - {"scenario", "expected"}


@pytest.fixture(scope="module")
def n_calls(request) -> int:
    # `--benchmark-enable` (make bench) overrides the `--benchmark-disable` of addopts.
    config = request.config
    timed = not config.getoption("benchmark_disable") or config.getoption("benchmark_enable")
    return 1_000_000 if timed else 20_000


@pytest.fixture(scope="module")
def world():
    return _simulate.world(0)


@pytest.fixture(scope="module")
def cdr_file(tmp_path_factory, n_calls) -> Path:
    path = tmp_path_factory.mktemp("cdr") / "calls.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        _simulate.write_csv(_simulate.simulate(n_calls, seed=1), f)
    return path


@pytest.fixture(scope="module")
def call_dicts(cdr_file):
    with open(cdr_file, newline="", encoding="utf-8") as f:
        return [{k: v for k, v in r.items() if k in CDR_FIELDS and v} for r in csv.DictReader(f)]


def engine_for(world, policy=None) -> fraudcore.Engine:
    """An engine with `policy` (the default policy if None) and the world's lists."""
    e = fraudcore.Engine(policy) if policy is not None else fraudcore.Engine.default()
    world.apply(e)
    return e


# Each batch benchmark takes the median of three rounds (one sample of a one-second job on this
# shared 2-core machine is mostly the machine), each on a fresh engine or reference scorer
# (counters start empty, as in a replay) built untimed.
ROUNDS = {"rounds": 3, "iterations": 1}


def fresh(make):
    """A pedantic `setup`: a new scorer for each round, passed to the timed function."""
    return lambda: ((make(),), {})


def test_fraudcore_score_csv(benchmark, cdr_file, world, n_calls, tmp_path):
    out = tmp_path / "out.csv"
    summary = benchmark.pedantic(
        lambda e: e.score_csv(cdr_file, out), setup=fresh(lambda: engine_for(world)), **ROUNDS
    )
    assert summary["rows"] == n_calls and summary["malformed"] == 0
    benchmark.extra_info.update(
        impl="fraudcore", operation="CDR CSV file → scored CSV", items=n_calls
    )
    _per_item(benchmark, n_calls)


def test_reference_csv(benchmark, cdr_file, world):
    sample = 2000

    def reference() -> ReferencePolicy:
        return ReferencePolicy(
            dno=world.dno,
            blocklist=world.blocklist,
            partner=world.partner,
            allowlist=world.allowlist,
        )

    def run(ref):
        with (
            open(cdr_file, newline="", encoding="utf-8") as f,
            open(cdr_file.with_suffix(".ref.csv"), "w", newline="", encoding="utf-8") as out,
        ):
            reader, writer = csv.DictReader(f), csv.writer(out)
            for i, row in enumerate(reader):
                if i == sample:
                    break
                call = {k: v for k, v in row.items() if k in CDR_FIELDS and v != ""}
                for k in ("timestamp", "duration"):
                    if k in call:
                        call[k] = float(call[k])
                if "roaming" in call:
                    call["roaming"] = call["roaming"] == "true"
                action, _, score, reasons = ref.score(call)
                writer.writerow([*row.values(), action, score, ";".join(reasons)])

    benchmark.pedantic(run, setup=fresh(reference), **ROUNDS)
    benchmark.extra_info.update(
        impl="csv + phonenumbers", operation="CDR CSV file → scored CSV", items=sample
    )
    _per_item(benchmark, sample)


def test_fraudcore_score_many(benchmark, call_dicts, world):
    verdicts = benchmark.pedantic(
        lambda e: e.score_many(call_dicts), setup=fresh(lambda: engine_for(world)), **ROUNDS
    )
    assert len(verdicts) == len(call_dicts)
    benchmark.extra_info.update(
        impl="fraudcore", operation="score_many (dicts)", items=len(call_dicts)
    )
    _per_item(benchmark, len(call_dicts))


def test_fraudcore_score_table(benchmark, call_dicts, world):
    pa = pytest.importorskip("pyarrow")
    table = pa.Table.from_pylist(call_dicts)
    out = benchmark.pedantic(
        lambda e: e.score_table(table), setup=fresh(lambda: engine_for(world)), **ROUNDS
    )
    assert out.num_rows == table.num_rows
    benchmark.extra_info.update(
        impl="fraudcore", operation="score_table (pyarrow)", items=table.num_rows
    )
    _per_item(benchmark, table.num_rows)


def test_fraudcore_score_table_no_velocity_two_threads(benchmark, call_dicts, world):
    """Without velocity rules the table is scored on two threads."""
    pa = pytest.importorskip("pyarrow")
    table = pa.Table.from_pylist(call_dicts)
    text = Path(fraudcore.DEFAULT_POLICY).read_text()
    text = text.split("[velocity]")[0] + "[lists." + text.split("[lists.", 1)[1]
    for rid in (
        "robocall_burst",
        "robocall_burst_critical",
        "sequential_dialling",
        "wangiri_burst",
        "irsf_pumping",
        "irsf_pumping_night",
    ):
        text = text.replace(f'id = "{rid}"\n', f'id = "{rid}"\nenabled = false\n', 1)
    policy = fraudcore.Policy.from_str(text, base_dir=str(Path(fraudcore.DEFAULT_POLICY).parent))
    assert policy.rules and not any("calls_" in r["when"] for r in policy.rules)
    out = benchmark.pedantic(
        lambda e: e.score_table(table, threads=2),
        setup=fresh(lambda: engine_for(world, policy)),
        **ROUNDS,
    )
    assert out.num_rows == table.num_rows
    benchmark.extra_info.update(
        impl="fraudcore", operation="score_table, no velocity, 2 threads", items=table.num_rows
    )
    _per_item(benchmark, table.num_rows)


def test_two_threads_scoring_at_once(benchmark, call_dicts, world):
    """Two Python threads each `score_many` half the calls on one engine (velocity on):
    the scoring runs without the GIL, so they overlap."""
    half = len(call_dicts) // 2
    parts = [call_dicts[:half], call_dicts[half:]]
    engines = []

    def run(engine):
        engines.append(engine)
        threads = [threading.Thread(target=engine.score_many, args=(p,)) for p in parts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    benchmark.pedantic(run, setup=fresh(lambda: engine_for(world)), **ROUNDS)
    assert all(e.stats()["calls"] == len(call_dicts) for e in engines)
    benchmark.extra_info.update(
        impl="fraudcore", operation="score_many, 2 threads at once", items=len(call_dicts)
    )
    _per_item(benchmark, len(call_dicts))


def _per_item(benchmark, items: int) -> None:
    if benchmark.stats is not None:
        s = benchmark.stats.stats
        benchmark.extra_info["ns_per_item"] = s.mean / items * 1e9
        benchmark.extra_info["ns_per_item_median"] = s.median / items * 1e9
