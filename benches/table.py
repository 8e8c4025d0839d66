"""Print the README's benchmark table (Markdown) from a pytest-benchmark JSON file.

Reproduce with::

    make bench

which runs ``python -m pytest benches --benchmark-enable --benchmark-only
--benchmark-min-time=0.0001 --benchmark-warmup=on --benchmark-warmup-iterations=100
--benchmark-json=target/bench.json -p no:randomly``, then the criterion benches (``cargo bench
--bench`` ``core``, ``velocity``, ``batch`` and ``lists``), then ``python benches/table.py
target/bench.json``. Criterion's estimates
(``target/criterion/*/new/estimates.json``, or under ``$CARGO_TARGET_DIR``) are added when present;
run ``cargo bench`` with ``FRAUDCORE_PLAN=<compiled-plan cache>`` to time the full plan rather than
the small test sample. The 100 M number-list rows appear when the run had
``FRAUDCORE_BENCH_100M=1`` (benches/test_bench_lists.py).

Times are medians per item (per number or per call); ratio = alternative / fraudcore, so
``12.0x`` means fraudcore is twelve times faster (or, for memory, smaller).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
# Memory figures of test_bench_memory.py: (label, extra_info key), fraudcore first.
MEMORY = [
    ("marisa `RecordTrie`, same two ids", "marisa_record_bytes_per_prefix"),
    ("marisa `Trie`, keys only", "marisa_trie_bytes_per_prefix"),
    ("marisa `BytesTrie`, names inline", "marisa_bytes_bytes_per_prefix"),
    ("`dict` of name tuples", "dict_bytes_per_prefix"),
]


def fmt_ns(ns: Optional[float]) -> str:
    if ns is None:
        return "—"
    if ns < 1e3:
        return f"{ns:.0f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.2f} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.1f} ms"
    return f"{ns / 1e9:.2f} s"


def ratio(alt: Optional[float], ours: Optional[float]) -> str:
    if not (alt and ours):
        return "—"
    r = alt / ours
    return f"{r:.1f}x" if r >= 1 else f"{r:.2f}x"


def python_rows(bench: dict) -> List[str]:
    """Timing rows by operation, then memory and start-up rows."""
    ops: Dict[str, Dict[str, float]] = {}  # operation -> impl -> ns per item
    extra: Dict[str, dict] = {}
    for b in bench["benchmarks"]:
        info = b.get("extra_info", {})
        op, impl = info.get("operation"), info.get("impl")
        if _is_list_bench(b):
            continue  # list_rows
        if op in ("plan memory", "start-up", "velocity memory"):
            extra[op] = info
        elif op and impl:
            ops.setdefault(op, {})[impl] = b["stats"]["median"] / info.get("items", 1) * 1e9
    rows = []
    for op, times in ops.items():
        ours = times.pop("fraudcore", None)
        alt_name, alt = next(iter(times.items()), ("", None))
        alt_cell = f"{fmt_ns(alt)} ({alt_name})" if alt_name else "—"
        rows.append(f"| {op} | {fmt_ns(ours)} | {alt_cell} | {ratio(alt, ours)} |")
    mem = extra.get("plan memory")
    if mem:
        ours = mem["fraudcore_bytes_per_prefix"]
        for label, key in MEMORY:
            alt = mem.get(key)
            rows.append(
                f"| plan trie, bytes per prefix ({mem['prefixes']:,}) | {ours:.1f} B "
                f"| {alt:.1f} B ({label}) | {ratio(alt, ours)} |"
            )
    vel = extra.get("velocity memory")
    if vel:
        rows.append(
            f"| velocity: resident growth, {vel['calls']:,} distinct callers (cap "
            f"{vel['tracked_keys']:,} keys, at most {vel['max_memory_mb']:.0f} MB) "
            f"| {vel['rss_growth_mb']:.0f} MB ({vel['steady_growth_mb']:.0f} MB once full) "
            "| — | — |"
        )
    start = extra.get("start-up")
    if start:
        wall, inside = start["startup_s"], start["import_to_verdict_s"]
        rows.append(
            "| start-up: import + `Engine.default()` + one score, warm cache "
            f"| {wall:.2f} s (in-process {inside:.2f} s) | — | — |"
        )
    return rows


# Number lists (test_bench_lists.py): fraudcore impl -> like-for-like alternatives.
LIST_PAIRS = [
    ("fraudcore", "set"),
    ("fraudcore", "rbloom"),
    ("fraudcore filter", "rbloom"),
    ("fraudcore filter", "pyprobables"),
]
LIST_LABELS = {"fraudcore": "exact", "fraudcore filter": "filter"}
# Memory figures: (fraudcore key, fraudcore label, alternative key, alternative label).
LIST_MEMORY = [
    ("fraudcore", "exact", "set", "`set` of ints"),
    ("filter", "filter", "rbloom", "rbloom"),
    ("filter", "filter", "pyprobables", "pyprobables"),
]


def _is_list_bench(b: dict) -> bool:
    return (b.get("group") or "").startswith("lists")


def _keys(n: int) -> str:
    return f"{n / 1e6:g} M" if n >= 1_000_000 else f"{n:,}"


def list_rows(bench: dict) -> List[str]:
    """Number lists: `in` and build times, bytes per number, false positives, the 100 M run."""
    times: Dict[tuple, Dict[str, float]] = {}  # (operation, keys) -> impl -> ns per item
    extra: Dict[tuple, dict] = {}
    for b in filter(_is_list_bench, bench["benchmarks"]):
        info = b.get("extra_info", {})
        op, impl, keys = info.get("operation"), info.get("impl"), info.get("keys")
        if op in ("list memory", "false positives", "100M list"):
            extra[(op, keys)] = info
        elif op and impl:
            ns = b["stats"]["median"] / info.get("items", 1) * 1e9
            times.setdefault((op, keys), {})[impl] = ns
    rows = []
    for (op, keys), t in times.items():
        label = f"`key in list`, {op[4:]}" if op.startswith("in, ") else f"{op}, per number"
        for ours_impl, alt_impl in LIST_PAIRS:
            ours, alt = t.get(ours_impl), t.get(alt_impl)
            if ours is None or alt is None:
                continue
            rows.append(
                f"| {label} ({_keys(keys)} keys) | {fmt_ns(ours)} ({LIST_LABELS[ours_impl]}) "
                f"| {fmt_ns(alt)} ({alt_impl}) | {ratio(alt, ours)} |"
            )
        if "call overhead" in t:
            rows.append(
                f"| {label} ({_keys(keys)} keys): timing-loop overhead in every cell "
                f"| {fmt_ns(t['call overhead'])} | — | — |"
            )
    for (op, keys), info in extra.items():
        if op == "list memory":
            for ours_key, ours_label, alt_key, alt_label in LIST_MEMORY:
                ours = info[f"{ours_key}_bytes_per_number"]
                alt = info[f"{alt_key}_bytes_per_number"]
                rows.append(
                    f"| list memory, bytes per number ({_keys(keys)}) | {ours:.2f} B "
                    f"({ours_label}) | {alt:.2f} B ({alt_label}) | {ratio(alt, ours)} |"
                )
        elif op == "false positives":
            ours, alt = info["filter_fpr"], info["rbloom_fpr"]
            rows.append(
                f"| false-positive rate at {info['configured_fpr']:g} ({_keys(keys)} keys, "
                f"{_keys(info['absent'])} absent) | {ours:.2e} (filter) | {alt:.2e} (rbloom) "
                f"| {ratio(alt, ours)} |"
            )
        elif op == "100M list":
            n = _keys(info["numbers"])
            rows += [
                f"| {n} numbers: `NumberList.from_file` (read + parse + build) "
                f"| {info['from_file_s']:.1f} s | — | — |",
                f"| {n} numbers: `save` / `NumberList.load` (mmap, warm cache) "
                f"| {info['save_s']:.2f} s / {info['load_s']:.3f} s | — | — |",
                f"| {n} numbers: bytes per number (file {info['fclist_bytes'] / 1e6:,.0f} MB) "
                f"| {info['bytes_per_number']:.2f} B | — | — |",
                f"| {n} numbers: `in` on the loaded list, hit / miss "
                f"| {fmt_ns(info['lookup_hit_ns'])} / {fmt_ns(info['lookup_miss_ns'])} | — | — |",
            ]
    return rows


# Criterion benchmark ids (benches/rust/core.rs) -> the Rust call they time, per number.
CRITERION = {
    "normalize": "`Engine::normalize`",
    "classify": "`Engine::classify`",
    "normalize+classify": "`Engine::lookup` (normalise + classify)",
    "score": "`Engine::score`",
}


def criterion_rows(target: Path) -> List[str]:
    """Top-level benches in CRITERION order, then groups (`rule/...`, `velocity/...`)."""
    rows = []
    order = list(CRITERION)
    found = []
    for path in target.glob("criterion/**/new/estimates.json"):
        bench_dir = path.parent.parent
        name = bench_dir.relative_to(target / "criterion").as_posix()
        found.append((name, path))
    top = sorted(
        (f for f in found if "/" not in f[0]),
        key=lambda f: (order.index(f[0]) if f[0] in order else len(order), f[0]),
    )
    groups = sorted(f for f in found if "/" in f[0])
    for name, path in top + groups:
        median = json.loads(path.read_text())["median"]["point_estimate"]
        label = CRITERION.get(name, f"`{name}`")
        # Benches that time many rows per iteration declare them: report per row.
        meta = path.parent / "benchmark.json"
        rows_per_iter = 1
        if meta.exists():
            throughput = json.loads(meta.read_text()).get("throughput") or {}
            rows_per_iter = throughput.get("Elements") or 1
        if rows_per_iter > 1:
            label += f" (per row of {rows_per_iter:,})"
        rows.append(f"| Rust {label}, criterion | {fmt_ns(median / rows_per_iter)} | — | — |")
    return rows


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} BENCH_JSON", file=sys.stderr)
        return 2
    bench = json.loads(Path(argv[1]).read_text())
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    print("| operation | fraudcore | alternative | ratio |")
    print("|---|---|---|---|")
    for row in python_rows(bench) + list_rows(bench) + criterion_rows(target):
        print(row)
    machine = bench.get("machine_info", {})
    print(
        f"\n{machine.get('cpu', {}).get('brand_raw', 'unknown CPU')}, "
        f"{machine.get('python_implementation', 'Python')} {machine.get('python_version', '')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
