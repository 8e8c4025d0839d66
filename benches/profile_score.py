"""Scores the benchmark's spoofing call N times on the benchmark's engine, for profilers.

Instruction counts are repeatable where wall-clock time is not::

    PYTHONHASHSEED=0 valgrind --tool=callgrind \\
        --toggle-collect='_fraudcore::python::engine::PyEngine::__pymethod_score__' \\
        python benches/profile_score.py 2000 [--call] [--no-velocity] [--list-size 100000]

divides by N to give instructions per `score()` (the Python call's own work included, the
loop and the verdict's release not). `--time` prints the best and the median per-call time
of 60 batches of N calls instead.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from test_bench_score import CALL, _numbers, _with_lists, without_velocity_rules  # noqa: E402

import fraudcore  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, help="calls to score")
    ap.add_argument("--call", action="store_true", help="a fraudcore.Call, not a dict")
    ap.add_argument("--no-velocity", action="store_true", help="velocity rules switched off")
    ap.add_argument("--list-size", type=int, default=1_000_000, help="numbers per list")
    ap.add_argument("--time", action="store_true", help="print the best time per call")
    args = ap.parse_args()

    rng = random.Random(7)
    lists = {
        "blocklist": _numbers(rng, args.list_size),
        "dno": _numbers(rng, args.list_size),
        "partner": _numbers(rng, args.list_size),
        "allowlist": _numbers(rng, 1000),
    }
    policy = without_velocity_rules() if args.no_velocity else fraudcore.Policy.default()
    engine = _with_lists(fraudcore.Engine(policy), lists, args.list_size)
    call = fraudcore.Call(**CALL) if args.call else CALL
    score = engine.score
    if not args.time:
        for _ in range(args.n):
            score(call)
        return
    per_call = []
    for _ in range(60):
        start = time.perf_counter()
        for _ in range(args.n):
            score(call)
        per_call.append((time.perf_counter() - start) / args.n)
    print(
        f"per score(): best {min(per_call) * 1e9:.0f} ns, "
        f"median {statistics.median(per_call) * 1e9:.0f} ns of 60 batches of {args.n:,}"
    )


if __name__ == "__main__":
    main()
