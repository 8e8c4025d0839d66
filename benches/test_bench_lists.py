"""Number lists (groups "lists: …"): fraudcore beside `set`, rbloom and pyprobables.

Keys are E.164 numbers drawn without repetition from a Kazakh (+7 700…+7 779) and a Russian
(+7 900…+7 999) range, from a fixed seed. Sizes: 1 M and 10 M keys when timed
(`--benchmark-enable`), 20 000 under the default `pytest` run, where each benchmark runs once.

* **Membership**: one `key in structure` per call (`operator.contains`, which is what `in`
  runs), on one pre-drawn key, so the key's cache lines stay hot: this is the cost of the call
  from Python and of hashing, not of a DRAM miss. The "call overhead" benchmark times the same
  loop around `operator.is_`; subtract it to compare the structures alone. fraudcore's exact
  list answers from its bloom filter on a miss and from bloom + exact set on a hit; the
  bloom-only filter (`to_filter`, 1e-4) is the like-for-like rival of rbloom (Python's `hash()`
  of the int, 1e-4) and pyprobables (pure Python; keys as `str`, 1e-4). pyprobables is skipped
  where inserting the keys would take over two minutes (at 10 M: ~50 µs per insert).
* **Build**: `from_numbers`, `set()` and `rbloom.Bloom` + `update` over the same list of ints.
* **Memory**, bytes per number: fraudcore `size_bytes / len` (the exact list holds its bloom
  filter too); rbloom `size_in_bits / 8`; pyprobables `number_bits / 8` (its bit array); `set`
  is `sys.getsizeof(set)` (its hash table, 16 bytes a slot) plus `sys.getsizeof` of every int
  (32 bytes for an 11-digit number), as a set built from a file owns its ints.
* **False positives** of the bloom-only filter on 1 M absent keys from the same ranges, with
  rbloom's on the same keys beside it; asserted within 1.5x of the configured rate.
* **100 M** (opt-in, `FRAUDCORE_BENCH_100M=1`; ~3 min, 2.5 GB of memory, 1.3 GB of disk):
  writes 100 M numbers as `+7…` lines (runs of 1 M numbers of both ranges in shuffled order,
  each number kept with probability 15/256, until 100 M are written) to a text file in a
  temporary directory, then times `NumberList.from_file` (read + parse + build), `save`,
  `NumberList.load` (memory map, warm page cache; target < 1 s) and lookups on the loaded list.

Run timed with `-p no:randomly` (as `make bench` does): the sizes are module-scoped fixtures,
built once each only while the tests of one size run together.
"""

from __future__ import annotations

import itertools
import operator
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import probables
import pytest
import rbloom

import fraudcore

SEED = 20240602
FPR = 1e-4
TIMED_SIZES = (1_000_000, 10_000_000)
QUICK_SIZES = (20_000,)
ABSENT = 1_000_000
PYPROBABLES_BUDGET_S = 120.0
KZ = (77_000_000_000, 77_800_000_000)  # half-open ranges of E.164 digits
RU = (79_000_000_000, 80_000_000_000)
BIG = 100_000_000
BIG_ENV = "FRAUDCORE_BENCH_100M"
# Calibrate on warm calls: a cold first call (page faults) would fix one call per round, and
# then the timer's own overhead (~100 ns) would be in the figure.
WARM = pytest.mark.benchmark(warmup=True, warmup_iterations=10_000)


def _timed(config: pytest.Config) -> bool:
    session = getattr(config, "_benchmarksession", None)
    if session is not None:
        return not session.disabled
    return not config.getoption("benchmark_disable") or config.getoption("benchmark_enable")


def _label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "size" in metafunc.fixturenames:
        sizes = TIMED_SIZES if _timed(metafunc.config) else QUICK_SIZES
        if metafunc.function.__name__.startswith("test_build_"):
            sizes = sizes[:1]
        metafunc.parametrize("size", sizes, ids=[_label(n) for n in sizes], scope="module")


def _draw(rng: random.Random, n: int) -> List[int]:
    """`n` distinct numbers: 4/9 Kazakh then 5/9 Russian, each part in random order."""
    kz = n * 4 // 9
    return rng.sample(range(*KZ), kz) + rng.sample(range(*RU), n - kz)


def _absent(rng: random.Random, present: set, n: int) -> List[int]:
    """`n` non-members from the same ranges (drawn with replacement: fine for a rate)."""
    out: List[int] = []
    while len(out) < n:
        kz = (n - len(out)) * 4 // 9
        batch = rng.choices(range(*KZ), k=kz) + rng.choices(range(*RU), k=n - len(out) - kz)
        out += [k for k in batch if k not in present]
    return out


@pytest.fixture(scope="module")
def keys(size: int) -> List[int]:
    return _draw(random.Random(SEED + size), size)


@pytest.fixture(scope="module")
def pyset(keys: List[int]) -> set:
    return set(keys)


@pytest.fixture(scope="module")
def probes(keys: List[int], pyset: set) -> Tuple[int, int]:
    """(hit, miss): a member and a non-member drawn from the same ranges."""
    rng = random.Random(SEED)
    return rng.choice(keys), _absent(rng, pyset, 1)[0]


@pytest.fixture(scope="module")
def exact(keys: List[int]) -> fraudcore.NumberList:
    return fraudcore.NumberList.from_numbers(keys, name="bench", fpr=FPR)


@pytest.fixture(scope="module")
def bloom_only(exact: fraudcore.NumberList, keys: List[int]) -> fraudcore.NumberList:
    return exact.to_filter(capacity=len(keys), fpr=FPR)


@pytest.fixture(scope="module")
def rb(keys: List[int]) -> rbloom.Bloom:
    b = rbloom.Bloom(len(keys), FPR)
    b.update(keys)
    return b


@pytest.fixture(scope="module")
def pp(keys: List[int]) -> probables.BloomFilter:
    f = probables.BloomFilter(est_elements=len(keys), false_positive_rate=FPR)
    head = min(len(keys), 20_000)
    t = time.perf_counter()
    for k in keys[:head]:
        f.add(str(k))
    estimate = (time.perf_counter() - t) * len(keys) / head
    if estimate > PYPROBABLES_BUDGET_S:
        pytest.skip(
            f"pyprobables inserts in pure Python: {len(keys):,} keys would take "
            f"~{estimate / 60:.0f} min (budget {PYPROBABLES_BUDGET_S:.0f} s)"
        )
    for k in keys[head:]:
        f.add(str(k))
    return f


def _membership(benchmark, structure, key, *, impl: str, operation: str, size: int) -> bool:
    benchmark.group = f"lists: {operation}, {_label(size)} keys"
    found = benchmark(operator.contains, structure, key)
    benchmark.extra_info.update(impl=impl, operation=operation, items=1, keys=size)
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["ns_per_item_median"] = benchmark.stats.stats.median * 1e9
    return found


@WARM
def test_call_overhead(benchmark, size, probes):
    # The timing loop around a two-argument builtin: the floor under every `in` below.
    benchmark.group = f"lists: in, hit, {_label(size)} keys"
    benchmark(operator.is_, probes, probes[0])
    benchmark.extra_info.update(impl="call overhead", operation="in, hit", items=1, keys=size)


@WARM
@pytest.mark.parametrize("hit", [True, False], ids=["hit", "miss"])
def test_fraudcore_exact(benchmark, size, exact, probes, hit):
    key = probes[0] if hit else probes[1]
    op = "in, hit" if hit else "in, miss"
    assert _membership(benchmark, exact, key, impl="fraudcore", operation=op, size=size) is hit


@WARM
@pytest.mark.parametrize("hit", [True, False], ids=["hit", "miss"])
def test_fraudcore_filter(benchmark, size, bloom_only, probes, hit):
    key = probes[0] if hit else probes[1]
    op = "in, hit" if hit else "in, miss"
    impl = "fraudcore filter"
    assert _membership(benchmark, bloom_only, key, impl=impl, operation=op, size=size) is hit


@WARM
@pytest.mark.parametrize("hit", [True, False], ids=["hit", "miss"])
def test_set(benchmark, size, pyset, probes, hit):
    key = probes[0] if hit else probes[1]
    op = "in, hit" if hit else "in, miss"
    assert _membership(benchmark, pyset, key, impl="set", operation=op, size=size) is hit


@WARM
@pytest.mark.parametrize("hit", [True, False], ids=["hit", "miss"])
def test_rbloom(benchmark, size, rb, probes, hit):
    key = probes[0] if hit else probes[1]
    op = "in, hit" if hit else "in, miss"
    assert _membership(benchmark, rb, key, impl="rbloom", operation=op, size=size) is hit


@WARM
@pytest.mark.parametrize("hit", [True, False], ids=["hit", "miss"])
def test_pyprobables(benchmark, size, pp, probes, hit):
    key = str(probes[0] if hit else probes[1])
    op = "in, hit" if hit else "in, miss"
    assert bool(_membership(benchmark, pp, key, impl="pyprobables", operation=op, size=size)) is hit


def _build(benchmark, fn, keys: List[int], impl: str) -> None:
    benchmark.group = "lists: build"
    benchmark.pedantic(fn, args=(keys,), rounds=3, iterations=1)
    benchmark.extra_info.update(impl=impl, operation="build", items=len(keys), keys=len(keys))


def _rbloom_build(keys: List[int]) -> rbloom.Bloom:
    b = rbloom.Bloom(len(keys), FPR)
    b.update(keys)
    return b


def test_build_fraudcore(benchmark, size, keys):
    _build(benchmark, lambda ks: fraudcore.NumberList.from_numbers(ks, name="b"), keys, "fraudcore")


def test_build_set(benchmark, size, keys):
    _build(benchmark, set, keys, "set")


def test_build_rbloom(benchmark, size, keys):
    _build(benchmark, _rbloom_build, keys, "rbloom")


def test_memory(benchmark, size, keys, pyset, exact, bloom_only, rb):
    def measure() -> Dict[str, float]:
        n = len(keys)
        # Allocated on construction, so no inserts are needed for pyprobables' size.
        pp_bits = probables.BloomFilter(est_elements=n, false_positive_rate=FPR).number_bits
        table = sys.getsizeof(pyset)
        ints = sum(map(sys.getsizeof, pyset))
        return {
            "fraudcore_bytes_per_number": exact.size_bytes / len(exact),
            "fraudcore_bloom_bytes_per_number": exact.bloom["bytes"] / len(exact),
            "filter_bytes_per_number": bloom_only.size_bytes / n,
            "rbloom_bytes_per_number": rb.size_in_bits / 8 / n,
            "pyprobables_bytes_per_number": pp_bits / 8 / n,
            "set_bytes_per_number": (table + ints) / n,
            "set_table_bytes_per_number": table / n,
            "set_int_bytes_per_number": ints / n,
        }

    benchmark.group = "lists: memory"
    figures = benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update(figures, impl="fraudcore", operation="list memory", keys=size)
    assert len(exact) == len(pyset) == size
    assert all(0 < v < 200 for v in figures.values())


def test_false_positives(benchmark, size, keys, pyset, exact, bloom_only, rb):
    absent = _absent(random.Random(SEED + 1), pyset, ABSENT)

    def measure() -> Dict[str, float]:
        return {
            "filter_fpr": sum(map(bloom_only.__contains__, absent)) / len(absent),
            "rbloom_fpr": sum(map(rb.__contains__, absent)) / len(absent),
            "exact_false_positives": sum(map(exact.__contains__, absent)),
        }

    benchmark.group = "lists: false positives"
    figures = benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update(
        figures,
        impl="fraudcore filter",
        operation="false positives",
        keys=size,
        absent=len(absent),
        configured_fpr=bloom_only.fpr,
    )
    assert figures["exact_false_positives"] == 0
    assert figures["filter_fpr"] <= 1.5 * FPR


def _runs(rng: random.Random, run: int = 1_000_000) -> Iterator[Tuple[int, int]]:
    runs = [(lo, min(lo + run, hi)) for lo, hi in (KZ, RU) for lo in range(lo, hi, run)]
    rng.shuffle(runs)
    return iter(runs)


def _write_big(path: Path, count: int) -> Tuple[List[int], List[int]]:
    """Writes `count` numbers as '+7…' lines; returns (some members, some non-members)."""
    rng = random.Random(SEED)
    keep = bytes(1 if b < 15 else 0 for b in range(256))  # 15/256 of 1.8 G ≈ 105 M
    hits: List[int] = []
    misses: List[int] = []
    left = count
    with open(path, "w") as f:
        for lo, hi in _runs(rng):
            if left == 0:
                break
            chosen = rng.randbytes(hi - lo).translate(keep)
            numbers = list(itertools.islice(itertools.compress(range(lo, hi), chosen), left))
            if numbers:
                f.write("+" + "\n+".join(map(str, numbers)) + "\n")
                hits.append(numbers[len(numbers) // 2])
            gap = chosen.find(0)
            if gap >= 0:
                misses.append(lo + gap)
            left -= len(numbers)
    assert left == 0, "the ranges hold fewer numbers than asked for"
    return hits, misses


def _ns_per_lookup(lst: fraudcore.NumberList, probes: List[int]) -> Tuple[float, int]:
    t = time.perf_counter()
    found = sum(map(lst.__contains__, probes))
    return (time.perf_counter() - t) / len(probes) * 1e9, found


@pytest.mark.skipif(os.environ.get(BIG_ENV) != "1", reason=f"opt-in: set {BIG_ENV}=1 (~3 min)")
def test_100m_from_file_save_load(benchmark, engine, tmp_path):
    t = time.perf_counter()
    text = tmp_path / "numbers.txt"
    hits, misses = _write_big(text, BIG)
    generate_s = time.perf_counter() - t

    benchmark.group = "lists: 100M"
    t = time.perf_counter()
    built = benchmark.pedantic(
        fraudcore.NumberList.from_file,
        args=(engine, text),
        kwargs={"name": "big"},
        rounds=1,
        iterations=1,
    )
    from_file_s = time.perf_counter() - t
    rss_after_build = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    text_bytes = text.stat().st_size
    text.unlink()  # 1.3 GB; pytest keeps the last three temporary directories

    path = tmp_path / "big.fclist"
    t = time.perf_counter()
    built.save(path)
    save_s = time.perf_counter() - t
    report = built.report or {}
    del built

    t = time.perf_counter()
    loaded = fraudcore.NumberList.load(path)
    load_s = time.perf_counter() - t
    hit_ns, found = _ns_per_lookup(loaded, hits)
    miss_ns, false_hits = _ns_per_lookup(loaded, misses)

    benchmark.extra_info.update(
        impl="fraudcore",
        operation="100M list",
        numbers=len(loaded),
        items=len(loaded),
        text_bytes=text_bytes,
        generate_s=generate_s,
        from_file_s=from_file_s,
        save_s=save_s,
        load_s=load_s,
        fclist_bytes=path.stat().st_size,
        bytes_per_number=loaded.size_bytes / len(loaded),
        bloom_bytes_per_number=loaded.bloom["bytes"] / len(loaded),
        lookup_hit_ns=hit_ns,
        lookup_miss_ns=miss_ns,
        lookups=len(hits) + len(misses),
        peak_rss_bytes=rss_after_build,
        bad_lines=report.get("bad"),
    )
    assert len(loaded) == BIG
    assert found == len(hits) and false_hits == 0
    del loaded
    path.unlink()
