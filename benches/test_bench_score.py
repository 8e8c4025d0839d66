"""Score calls: fraudcore's `Engine.score` beside a pure-Python scorer on phonenumbers.

`reference_score` implements the engine's three built-in checks (rust/engine.rs) the way a
Python team would without fraudcore: an invalid or unallocated caller is blocked, a home (KZ)
caller on international ingress that is not roaming is blocked, and a call to an emergency
number is never blocked. The single-call benchmarks give the per-call median directly
(target: fraudcore <= 1 us); the list benchmarks walk ~1000 mixed calls per round.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Tuple

import phonenumbers
import pytest
from phonenumbers import NumberParseException

import fraudcore

pytestmark = pytest.mark.benchmark(group="score")

HOME = "KZ"
EMERGENCY = frozenset({"112", "101", "102", "103", "104"})
WITHHELD = frozenset({"anonymous", "restricted", "private", "withheld", "unavailable", "unknown"})
# The bundled overlay: +7 6xx and +7 0xx are Kazakh ranges phonenumbers leaves unattributed.
KZ_OVERLAY = ("+76", "+70")

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


def _parse(raw: str, ingress: str) -> Optional[phonenumbers.PhoneNumber]:
    """The number as fraudcore reads it on `ingress`, or None if it is not one."""
    text = raw.strip()
    if ingress == "international" and not text.startswith("+"):
        # Country code first, after an optional 00 (fraudcore's international reading).
        digits = "".join(c for c in text if c.isdigit())
        text = "+" + (digits[2:] if digits.startswith("00") else digits)
    try:
        return phonenumbers.parse(text, HOME)
    except NumberParseException:
        return None


def _region(n: phonenumbers.PhoneNumber) -> Optional[str]:
    e164 = phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)
    return HOME if e164.startswith(KZ_OVERLAY) else phonenumbers.region_code_for_number(n)


def reference_score(call: Mapping[str, Any]) -> Tuple[str, float, List[str]]:
    """(action, score, reasons) of `call` by the engine's three built-in checks."""
    caller, ingress = str(call.get("caller") or ""), str(call["ingress"])
    from_abroad = ingress == "international" and call.get("roaming") is not True
    reasons: List[Tuple[str, float, bool]] = []  # (id, weight, forces block)
    if caller.strip().lower() in WITHHELD:
        reasons.append(("cli_withheld", 0.5, False))
    else:
        n = _parse(caller, ingress)
        if n is None:
            reasons.append(("invalid_cli", 1.0, True))
        else:
            if not phonenumbers.is_valid_number(n):
                reasons.append(("unallocated_cli", 1.0, True))
            if from_abroad and _region(n) == HOME:
                reasons.append(("spoofed_home_cli", 0.95, True))
    network = call.get("network_number")
    if network and from_abroad:
        n = _parse(str(network), ingress)
        if n is not None and _region(n) == HOME:
            reasons.append(("spoofed_home_network_number", 0.95, True))
    emergency = str(call.get("callee") or "").replace(" ", "").replace("-", "") in EMERGENCY
    if emergency:
        reasons.append(("emergency_callee", 0.0, False))
    keep = 1.0
    for _, weight, _ in reasons:
        keep *= 1.0 - weight
    score = 1.0 - keep
    forced = any(f for _, _, f in reasons)
    action = "block" if forced or score >= 0.9 else "flag" if score >= 0.5 else "allow"
    if emergency and action == "block":
        action = "flag"
    return action, score, [r for r, _, _ in reasons]


def _score_all(score, calls) -> None:
    for call in calls:
        score(call)


def test_fraudcore_score_one(engine, run_per_item):
    verdict = run_per_item(
        engine.score, CALL, impl="fraudcore", operation="score one call", count=1
    )
    assert verdict.action == reference_score(CALL)[0] == "block"


def test_fraudcore_score_one_call_object(engine, run_per_item):
    call = fraudcore.Call(
        CALL["caller"],
        CALL["callee"],
        CALL["ingress"],
        timestamp=CALL["timestamp"],
        attestation="C",
    )
    verdict = run_per_item(
        engine.score, call, impl="fraudcore", operation="score one fraudcore.Call", count=1
    )
    assert verdict.action == "block"


def test_reference_score_one(run_per_item):
    run_per_item(reference_score, CALL, impl="phonenumbers", operation="score one call", count=1)


def test_fraudcore_score_list(engine, calls, run_per_item):
    run_per_item(
        lambda cs: _score_all(engine.score, cs), calls, impl="fraudcore", operation="score call mix"
    )


def test_reference_score_list(calls, run_per_item):
    run_per_item(
        lambda cs: _score_all(reference_score, cs),
        calls,
        impl="phonenumbers",
        operation="score call mix",
    )


def test_same_verdicts(engine, calls):
    """Both scorers must agree, or the side-by-side compares different work."""
    differ = []
    for call in calls:
        v, (action, score, reasons) = engine.score(call), reference_score(call)
        if (v.action, sorted(v.reasons)) != (action, sorted(reasons)) or abs(
            v.score - score
        ) > 1e-9:
            differ.append((call, v, action, reasons))
    assert differ == []
