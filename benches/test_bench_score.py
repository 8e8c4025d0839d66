"""Score calls with the default policy and 1 M-number lists: fraudcore beside pure Python.

The alternative is `reference_policy.ReferencePolicy`: the same rules written with phonenumbers
and Python sets, the way a team would without fraudcore. Both get the same lists (a 1 M-number
blocklist, DNO list and partner list, a small allowlist) and the same calls; `test_same_verdicts`
checks they agree. The single-call benchmarks give the per-call median directly (target:
fraudcore <= 1 us); the call-mix benchmarks walk ~1000 mixed calls per round.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Dict, List

import pytest
from conftest import _record
from reference_policy import ReferencePolicy

import fraudcore
from fraudcore import NumberList

pytestmark = pytest.mark.benchmark(group="score")

LIST_SIZE = 1_000_000
# A Kazakh mobile CLI arriving from an international gateway: the spoofing case, full path.
CALL = {
    "timestamp": 1_717_200_000.0,
    "caller": "+77011234567",
    "callee": "87272123456",
    "ingress": "international",
    "roaming": None,
    "attestation": "C",
    "duration": None,
    "trunk": "gw-ams-01",
}


def _numbers(rng: random.Random, count: int) -> List[int]:
    """Distinct Kazakh and Russian mobile numbers as E.164 integers."""
    out = set()
    while len(out) < count:
        out.add(
            rng.choice((7700, 7701, 7705, 7707, 7747, 7771, 7777, 7916, 7903)) * 10**7
            + rng.randrange(10**7)
        )
    return sorted(out)


@pytest.fixture(scope="module")
def lists() -> Dict[str, List[int]]:
    rng = random.Random(7)
    return {
        "blocklist": _numbers(rng, LIST_SIZE),
        "dno": _numbers(rng, LIST_SIZE),
        "partner": _numbers(rng, LIST_SIZE),
        "allowlist": _numbers(rng, 1000),
    }


def without_velocity_rules() -> fraudcore.Policy:
    """The default policy with its velocity rules switched off (`enabled = false`), so the
    engine keeps no counters: the policy the rule-engine target (<= 1 us) was set for, before
    the velocity rules (<= 1.5 us) joined it."""
    counters = "|".join(f[2:] for f in fraudcore._fraudcore.POLICY_FEATURES if f.startswith("V."))
    reads_counters = re.compile(rf"\b(caller|destination|trunk)\.({counters})\b")
    path = Path(fraudcore.DEFAULT_POLICY)
    text = path.read_text(encoding="utf-8")
    ids = [r["id"] for r in fraudcore.Policy.default().rules if reads_counters.search(r["when"])]
    assert len(ids) >= 5, ids
    for rule_id in ids:
        text = text.replace(f'id = "{rule_id}"\n', f'id = "{rule_id}"\nenabled = false\n', 1)
    policy = fraudcore.Policy.from_str(text, name="no-velocity", base_dir=path.parent)
    assert {r["id"] for r in policy.rules}.isdisjoint(ids)
    return policy


def _with_lists(e: fraudcore.Engine, lists, capacity: int = LIST_SIZE) -> fraudcore.Engine:
    """The benchmark's lists on `e`: exact blocklist, DNO list and allowlist, a bloom-only
    partner list at 1e-4 sized for `capacity` numbers."""
    e.set_list(NumberList.from_numbers(lists["blocklist"], name="blocklist"))
    e.set_list(NumberList.from_numbers(lists["dno"], name="dno", kind="dno"))
    partner = NumberList.from_numbers(lists["partner"], name="p").to_filter(
        capacity=capacity, fpr=1e-4, name="partner", kind="partner"
    )
    e.set_list(partner)
    e.set_list(NumberList.from_numbers(lists["allowlist"], name="allowlist", kind="allow"))
    return e


@pytest.fixture(scope="module")
def listed_engine(lists) -> fraudcore.Engine:
    return _with_lists(fraudcore.Engine.default(), lists)


@pytest.fixture(scope="module")
def listed_engine_no_velocity(lists) -> fraudcore.Engine:
    return _with_lists(fraudcore.Engine(without_velocity_rules()), lists)


@pytest.fixture(scope="module")
def reference(lists) -> ReferencePolicy:
    return ReferencePolicy(**lists)


@pytest.fixture(scope="module")
def policy_calls(calls, lists) -> List[dict]:
    """The shared call mix, with list members, premium and IRSF destinations mixed in."""
    rng = random.Random(11)
    out = []
    for call in calls:
        c = dict(call)
        r = rng.random()
        for name, share in (
            ("blocklist", 0.05),
            ("dno", 0.03),
            ("partner", 0.03),
            ("allowlist", 0.02),
        ):
            if r < share:
                c["caller"] = "+" + str(rng.choice(lists[name]))
                c["ingress"] = rng.choice(("national", "onnet"))
                break
            r -= share
        r = rng.random()
        if r < 0.03:
            c["callee"] = rng.choice(("+449098790000", "+19005550123"))
        elif r < 0.05:
            c["callee"] = rng.choice(("0053 78123456", "+2524123456", "+88234567890"))
        out.append(c)
    return out


def _score_all(score, calls) -> None:
    for call in calls:
        score(call)


def test_fraudcore_score_one(listed_engine, reference, run_per_item):
    verdict = run_per_item(
        listed_engine.score, CALL, impl="fraudcore", operation="score one call", count=1
    )
    assert verdict.action == reference.score(CALL)[0] == "block"


def test_fraudcore_score_one_call_object(listed_engine, run_per_item):
    call = fraudcore.Call(
        CALL["caller"],
        CALL["callee"],
        CALL["ingress"],
        timestamp=CALL["timestamp"],
        attestation="C",
    )
    verdict = run_per_item(
        listed_engine.score, call, impl="fraudcore", operation="score one fraudcore.Call", count=1
    )
    assert verdict.action == "block"


def test_fraudcore_score_one_no_velocity(listed_engine_no_velocity, run_per_item):
    verdict = run_per_item(
        listed_engine_no_velocity.score,
        CALL,
        impl="fraudcore",
        operation="score one call, velocity rules off",
        count=1,
    )
    assert verdict.action == "block"
    # The [velocity] section stays, but no rule reads a counter: nothing is recorded.
    assert listed_engine_no_velocity.stats()["velocity"]["tracked_keys"] == 0


def test_fraudcore_score_one_call_object_no_velocity(listed_engine_no_velocity, run_per_item):
    call = fraudcore.Call(CALL["caller"], CALL["callee"], CALL["ingress"], attestation="C")
    verdict = run_per_item(
        listed_engine_no_velocity.score,
        call,
        impl="fraudcore",
        operation="score one fraudcore.Call, velocity rules off",
        count=1,
    )
    assert verdict.action == "block"


def test_reference_score_one(reference, benchmark):
    """Each round starts with no events for the caller: the pure-Python counters keep every
    event, so one call repeated would make each round slower than the last (and the ratio
    depend on the round count). The cheapest case for the reference."""

    def no_events():
        reference.callers.clear()
        return (CALL,), {}

    benchmark.pedantic(reference.score, setup=no_events, rounds=2000, warmup_rounds=20)
    _record(benchmark, 1, "phonenumbers", "score one call")


def test_fraudcore_score_list(listed_engine, policy_calls, run_per_item):
    run_per_item(
        lambda cs: _score_all(listed_engine.score, cs),
        policy_calls,
        impl="fraudcore",
        operation="score call mix",
    )


def test_reference_score_list(reference, policy_calls, run_per_item):
    run_per_item(
        lambda cs: _score_all(reference.score, cs),
        policy_calls,
        impl="phonenumbers",
        operation="score call mix",
    )


def test_same_verdicts(listed_engine, reference, policy_calls):
    """Both scorers must agree, or the side-by-side compares different work."""
    differ = []
    hits = set()
    for call in policy_calls:
        v = listed_engine.score(call)
        action, _, score, reasons = reference.score(call)
        hits.update(v.reasons)
        if (v.action, list(v.reasons)) != (action, reasons) or abs(v.score - score) > 1e-9:
            differ.append((call, v, action, reasons))
    assert differ == []
    # The mix exercises the lists, the destinations and the spoofing rules.
    assert {
        "blocklisted_cli",
        "dno_cli",
        "partner_listed_cli",
        "allowlisted_cli",
        "spoofed_home_cli",
        "irsf_premium_destination",
        "irsf_high_risk_destination",
    } <= hits
