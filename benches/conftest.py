"""Shared inputs for the benchmarks: one engine, ~2000 raw numbers and ~1000 calls.

Everything is generated from a fixed seed, so every run and every library sees the same inputs.
Numbers come from phonenumbers' example numbers (every region, several types) with the last four
digits randomised, plus Kazakh numbers in the national formats a KZ switch actually receives.
"""

from __future__ import annotations

import random
from typing import Callable, Dict, List, Optional, Tuple

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

import fraudcore

SEED = 20240601
N_INTERNATIONAL = 1600
N_KZ_NATIONAL = 400
N_CALLS = 1000

_TYPES = (
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.VOIP,
    PhoneNumberType.PREMIUM_RATE,
)
# Kazakh mobile operator codes and (area code, subscriber digits) of big cities.
_KZ_MOBILE = ("700", "701", "702", "705", "707", "708", "747", "771", "775", "776", "777", "778")
_KZ_FIXED = (("727", 7), ("7172", 6), ("7212", 6), ("7252", 6))
_KZ_FORMATS = (
    "8 ({a}) {s}",
    "8{a}{d}",
    "+7 {a} {s}",
    "8-{a}-{s}",
    "7{a}{d}",
    "+7{a}{d}",
)
_TRUNKS = ("gw-ams-01", "gw-fra-02", "kt-ala-core", "onnet-ast-1")


def _randomise_tail(e164: str, rng: random.Random) -> str:
    # Keep the range (and so region and type) but vary the subscriber part.
    return e164[:-4] + f"{rng.randrange(10_000):04d}"


def _international(rng: random.Random, count: int) -> List[str]:
    examples = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in _TYPES:
            n = phonenumbers.example_number_for_type(region, kind)
            if n is not None:
                examples.append(phonenumbers.format_number(n, PhoneNumberFormat.E164))
    return [_randomise_tail(rng.choice(examples), rng) for _ in range(count)]


def _kz_national(rng: random.Random) -> str:
    if rng.random() < 0.7:
        area, digits = rng.choice(_KZ_MOBILE), 7
    else:
        area, digits = rng.choice(_KZ_FIXED)
    d = "".join(rng.choice("0123456789") for _ in range(digits))
    spaced = f"{d[:-4]}-{d[-4:-2]}-{d[-2:]}"
    return rng.choice(_KZ_FORMATS).format(a=area, d=d, s=spaced)


def make_numbers(seed: int = SEED) -> List[str]:
    """~2000 raw numbers: E.164 from many regions and KZ numbers in national formats."""
    rng = random.Random(seed)
    numbers = _international(rng, N_INTERNATIONAL)
    numbers += [_kz_national(rng) for _ in range(N_KZ_NATIONAL)]
    rng.shuffle(numbers)
    return numbers


def _caller(rng: random.Random, foreign: List[str]) -> Tuple[str, str, Optional[bool]]:
    """(caller, ingress, roaming) drawn from a plausible traffic mix."""
    r = rng.random()
    if r < 0.45:  # foreign CLI through an international gateway
        return rng.choice(foreign), "international", None
    if r < 0.60:  # a KZ CLI from abroad: spoofed unless the subscriber is roaming
        kz = "+7" + rng.choice(_KZ_MOBILE) + f"{rng.randrange(10**7):07d}"
        return kz, "international", rng.choice((None, False, True))
    if r < 0.90:  # domestic traffic in national format
        return _kz_national(rng), rng.choice(("national", "onnet")), None
    if r < 0.95:
        return rng.choice(("anonymous", "restricted", "Private")), "national", None
    return rng.choice(("", "12345", "+7 (701) 12", "not-a-number")), "international", None


def make_calls(numbers: List[str], seed: int = SEED) -> List[Dict[str, object]]:
    """~1000 call dicts with every CDR field, in timestamp order."""
    rng = random.Random(seed + 1)
    foreign = [n for n in numbers if n.startswith("+") and not n.startswith("+7")]
    calls, ts = [], 1_717_200_000.0
    for _ in range(N_CALLS):
        ts += rng.expovariate(1 / 0.5)
        caller, ingress, roaming = _caller(rng, foreign)
        callee = (
            rng.choice(("112", "101", "103", "104")) if rng.random() < 0.03 else _kz_national(rng)
        )
        calls.append(
            {
                "timestamp": round(ts, 3),
                "caller": caller,
                "callee": callee,
                "ingress": ingress,
                "roaming": roaming,
                "attestation": rng.choice((None, None, "A", "B", "C")),
                "duration": None if rng.random() < 0.2 else round(rng.expovariate(1 / 90), 1),
                "trunk": rng.choice(_TRUNKS),
            }
        )
    return calls


@pytest.fixture(scope="session")
def engine() -> fraudcore.Engine:
    return fraudcore.Engine.default()


@pytest.fixture(scope="session")
def raw_numbers() -> List[str]:
    return make_numbers()


@pytest.fixture(scope="session")
def calls(raw_numbers: List[str]) -> List[Dict[str, object]]:
    return make_calls(raw_numbers)


def _record(benchmark, items: int, impl: str, operation: str) -> None:
    """Tags a benchmark for benches/table.py; adds per-item times once it has been timed."""
    benchmark.extra_info.update(impl=impl, operation=operation, items=items)
    if benchmark.stats is not None:  # None under --benchmark-disable
        s = benchmark.stats.stats
        benchmark.extra_info["ns_per_item"] = s.mean / items * 1e9
        benchmark.extra_info["ns_per_item_median"] = s.median / items * 1e9


@pytest.fixture
def run_per_item(benchmark) -> Callable:
    """`run_per_item(fn, items, impl=..., operation=...)`: time `fn(items)`, one pass per round."""

    def run(fn: Callable, items, *, impl: str, operation: str, count: Optional[int] = None):
        result = benchmark(fn, items)
        _record(benchmark, count if count is not None else len(items), impl, operation)
        return result

    return run
