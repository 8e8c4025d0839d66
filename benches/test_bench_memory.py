"""Plan memory and start-up (group "plan memory"): figures in `extra_info`, never asserted.

Memory: bytes per prefix of the compiled carrier/area trie (`range_bytes / range_prefixes`)
beside marisa-trie and a dict over the very same prefixes. fraudcore stores two 4-byte name
ids per prefix (names live once in a shared table, reported as `fraudcore_names_bytes`), so
the like-for-like marisa structure is a `RecordTrie("<II")`; the keys-only `Trie` and the
`BytesTrie` holding the names inline bound it from both sides.

Start-up: a fresh interpreter imports fraudcore, builds `Engine.default()` and scores one call,
with the compiled-plan cache already warm (target: <= 1 s).
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Dict, List, Tuple

import marisa_trie
import pytest

import fraudcore
from fraudcore import _plan

pytestmark = pytest.mark.benchmark(group="plan memory")

_STARTUP = """
import time
t = time.perf_counter()
import fraudcore
e = fraudcore.Engine.default()
v = e.score({"caller": "+77011234567", "callee": "87272123456", "ingress": "international"})
assert v.action == "block"
print(time.perf_counter() - t)
"""


def _ranges() -> Dict[str, Tuple[str, str]]:
    """prefix -> (carrier, area) exactly as the Rust plan compiler merges them."""
    src = _plan.extract_source()
    merged: Dict[str, List[str]] = {}
    for prefix, name in src["carriers"]:
        merged.setdefault(prefix, ["", ""])[0] = name
    for prefix, name in src["locations"]:
        merged.setdefault(prefix, ["", ""])[1] = name
    return {p: (c, a) for p, (c, a) in merged.items()}


def _dict_bytes(d: Dict[str, Tuple[str, str]]) -> int:
    # Table + key strings + value tuples; each distinct name counted once (shared objects).
    names = {id(n): n for pair in d.values() for n in pair}
    return (
        sys.getsizeof(d)
        + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in d.items())
        + sum(sys.getsizeof(n) for n in names.values())
    )


def _measure_memory() -> Dict[str, float]:
    stats = fraudcore.Engine.default().plan.stats()
    ranges = _ranges()
    names = sorted({n for pair in ranges.values() for n in pair if n})
    ids = {n: i for i, n in enumerate(names)}
    none = 0xFFFFFFFF
    records = [(p, (ids.get(c, none), ids.get(a, none))) for p, (c, a) in ranges.items()]
    payload = [(p, f"{c}\0{a}".encode()) for p, (c, a) in ranges.items()]
    n = len(ranges)
    return {
        "prefixes": n,
        "plan_prefixes": stats["range_prefixes"],
        "fraudcore_bytes": stats["range_bytes"],
        "fraudcore_bytes_per_prefix": stats["range_bytes"] / stats["range_prefixes"],
        "fraudcore_names_bytes": sum(len(x.encode()) + 24 for x in names),  # String + bytes
        "marisa_trie_bytes_per_prefix": len(marisa_trie.Trie(ranges).tobytes()) / n,
        "marisa_record_bytes_per_prefix": len(marisa_trie.RecordTrie("<II", records).tobytes()) / n,
        "marisa_bytes_bytes_per_prefix": len(marisa_trie.BytesTrie(payload).tobytes()) / n,
        "dict_bytes_per_prefix": _dict_bytes(ranges) / n,
    }


def test_plan_memory(benchmark):
    figures = benchmark.pedantic(_measure_memory, rounds=1, iterations=1)
    benchmark.extra_info.update(figures, impl="fraudcore", operation="plan memory")
    # The comparison is meaningful only over the same prefix set.
    assert figures["prefixes"] == figures["plan_prefixes"] > 0
    assert all(v > 0 for v in figures.values())


def test_startup(benchmark):
    _plan.load_plan()  # warm the compiled-plan cache, as any later start-up finds it

    def start() -> Tuple[float, float]:
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", _STARTUP], check=True, capture_output=True, text=True
        ).stdout
        return time.perf_counter() - t, float(out)

    wall, inside = benchmark.pedantic(start, rounds=1, iterations=1)
    benchmark.extra_info.update(
        impl="fraudcore", operation="start-up", startup_s=wall, import_to_verdict_s=inside
    )
    assert 0 < inside <= wall
