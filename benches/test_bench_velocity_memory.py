"""Velocity memory under a flood of distinct callers: resident memory stays within the cap.

A fresh process builds the default engine (velocity cap 100,000 keys, at most
`stats()["velocity"]["max_memory"]` bytes), then streams distinct random Kazakh CLIs through
`score_table` in chunks of 250,000 calls: 2 M in the test suite, 10 M with
`FRAUDCORE_BENCH_10M=1`. Resident memory (VmRSS) is read before and after; its growth must stay
under the documented cap plus the chunk's transient buffers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, sys
import pyarrow as pa
import fraudcore

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024

n, chunk = int(sys.argv[1]), 250_000
engine = fraudcore.Engine.default()
t0 = 1_795_932_000.0
before = rss()
after_chunk = []
for start in range(0, n, chunk):
    m = min(chunk, n - start)
    # Distinct CLIs: i -> i * 7919 mod 10^9 is a permutation.
    callers = [f"+77{(i * 7919) % 10**9:09d}" for i in range(start, start + m)]
    table = pa.table({
        "caller": callers,
        "callee": ["87272123456"] * m,
        "ingress": ["national"] * m,
        "timestamp": [t0 + (start + i) / 5000 for i in range(m)],
    })
    engine.score_table(table)
    del table, callers
    after_chunk.append(rss())
v = engine.stats()["velocity"]
print(json.dumps({"calls": n, "rss_before": before, "rss": after_chunk, **v}))
"""


def test_a_flood_of_distinct_callers_stays_under_the_cap(benchmark):
    pytest.importorskip("pyarrow")
    n = 10_000_000 if os.environ.get("FRAUDCORE_BENCH_10M") else 2_000_000

    def run():
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(n)], capture_output=True, text=True, check=True
        )
        return json.loads(out.stdout)

    r = benchmark.pedantic(run, rounds=1, iterations=1)
    rss = r["rss"]
    growth = max(rss) - r["rss_before"]
    assert r["tracked_keys"] <= r["max_keys"]
    assert r["evicted_lru"] + r["evicted_expired"] >= n - r["max_keys"]
    # The cap fills within the first chunk; after that, millions more callers add nothing.
    assert max(rss[2:]) - rss[1] <= 32 * 2**20, r
    # In all: the cap plus one chunk's transient buffers (its Python strings, the Arrow
    # table, the copies handed to Rust and the result, ~100 MB at 250 k calls).
    assert growth <= r["max_memory"] + 160 * 2**20, r
    benchmark.extra_info.update(
        operation="velocity memory",
        calls=n,
        rss_growth_mb=growth / 2**20,
        steady_growth_mb=(max(rss[2:]) - rss[1]) / 2**20,
        max_memory_mb=r["max_memory"] / 2**20,
        tracked_keys=r["tracked_keys"],
    )
