"""The bundled default policy written the way a Python team would without fraudcore.

phonenumbers for parsing and classification, Python `set`s for the lists, `str.startswith` for
the prefix lists, and the documented combination semantics. Used by the score benchmarks as the
side-by-side alternative, and checked to give the same verdicts as the engine.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable, List, Mapping, Optional, Set, Tuple

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

import fraudcore

HOME = "KZ"
EMERGENCY = frozenset({"112", "101", "102", "103", "104"})
# The bundled overlay: +7 6xx and +7 0xx are Kazakh ranges phonenumbers leaves unattributed.
KZ_OVERLAY = ("+76", "+70")


def _prefixes(name: str) -> Tuple[str, ...]:
    path = Path(fraudcore.DEFAULT_POLICY).parent / "prefixes" / name
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        p = line.split("#")[0].replace(" ", "").strip()
        if p:
            out.append(p)
    return tuple(out)


IRSF = _prefixes("irsf_high_risk.txt")
WANGIRI = _prefixes("wangiri_high_risk.txt")


def _parse(raw: str, ingress: str) -> Optional[phonenumbers.PhoneNumber]:
    """The number as fraudcore reads it on `ingress`, or None if it is not one."""
    text = raw.strip()
    if not text:
        return None
    if ingress == "international" and not text.startswith("+"):
        # Country code first, after an optional 00 (fraudcore's international reading).
        digits = "".join(c for c in text if c.isdigit())
        text = "+" + (digits[2:] if digits.startswith("00") else digits)
    elif text.startswith("00"):
        # The policy's extra international prefix (phonenumbers knows only KZ's 810).
        text = "+" + text[2:]
    try:
        return phonenumbers.parse(text, HOME)
    except NumberParseException:
        return None


class Number:
    """What the rules ask of one number."""

    __slots__ = ("e164", "key", "region", "valid", "cc", "type")

    def __init__(self, n: phonenumbers.PhoneNumber):
        self.e164 = phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)
        self.key = int(self.e164[1:])
        self.cc = n.country_code
        self.valid = phonenumbers.is_valid_number(n)
        self.region = (
            HOME if self.e164.startswith(KZ_OVERLAY) else phonenumbers.region_code_for_number(n)
        )
        self.type = phonenumbers.number_type(n)


class Counters:
    """One caller's calls, kept whole (a Python team's first version): the counters the
    default policy reads, with the engine's definitions (whole seconds, 300 s buckets)."""

    __slots__ = ("events", "t")

    def __init__(self):
        self.events: List[Tuple[int, int, Optional[float]]] = []  # (second, callee, duration)
        self.t = -1

    def record(self, second: int, callee: int, duration: Optional[float]) -> None:
        if self.t >= 0 and second < self.t - 30:
            return  # late
        if self.t >= 0 and second // 300 > self.t // 300 + 12:
            self.events = []
        self.events.append((second, callee, duration))
        self.t = max(self.t, second)

    def view(self) -> dict:
        t = self.t
        minute = [e for e in self.events if t - 60 < e[0] <= t]
        window = [e for e in self.events if t // 300 - 12 <= e[0] // 300 <= t // 300]
        known = [e for e in window if e[2] is not None and e[2] >= 0]
        short = [e for e in known if e[2] < 6.0]
        callees = [e[1] for e in self.events if e[1]]
        seq = 0
        for a, b in zip(reversed(callees[:-1]), reversed(callees)):
            if not 1 <= abs(b - a) <= 10:
                break
            seq += 1
        return {
            "calls_1m": len(minute),
            "calls_window": len(window),
            "distinct": len({e[1] for e in minute if e[1]}),
            "sequential": seq,
            "short_share": len(short) / len(known) if known else None,
        }


class ReferencePolicy:
    """The default policy's rules over Python sets (`dno`, `blocklist`, `partner`, `allowlist`)
    and per-caller event lists for the velocity rules."""

    def __init__(self, **lists: Iterable[int]):
        self.lists: dict[str, Set[int]] = {
            name: set(lists.get(name, ())) for name in ("dno", "blocklist", "partner", "allowlist")
        }
        self.callers: dict[int, Counters] = {}

    def score(self, call: Mapping[str, Any]) -> Tuple[str, str, float, List[str]]:
        """(action, would_action, score, reasons) of `call`."""
        ingress = str(call["ingress"])
        raw_caller = str(call.get("caller") or "")
        withheld = raw_caller.strip().lower() in {
            "anonymous",
            "restricted",
            "private",
            "withheld",
            "unavailable",
            "unknown",
        }
        p = None if withheld else _parse(raw_caller, ingress)
        caller = Number(p) if p is not None else None
        net_raw = call.get("network_number")
        q = _parse(str(net_raw), ingress) if net_raw else None
        net = Number(q) if q is not None else None
        callee_ingress = "national" if ingress == "international" else ingress
        r = _parse(str(call.get("callee") or ""), callee_ingress)
        callee = Number(r) if r is not None else None
        lists = self.lists
        abroad = ingress == "international" and call.get("roaming") is not True
        duration = call.get("duration")
        matched: List[Tuple[str, float, Optional[str]]] = []

        def rule(rid: str, when: bool, score: float, action: Optional[str] = None) -> None:
            if when:
                matched.append((rid, score, action))

        def listed(n: Optional[Number], name: str) -> bool:
            return n is not None and n.key in lists[name]

        home = caller is not None and caller.region == HOME
        rule("spoofed_home_cli", abroad and home, 0.95, "block")
        rule(
            "spoofed_home_network_number",
            abroad and net is not None and net.region == HOME,
            0.95,
            "block",
        )
        rule(
            "network_number_mismatch", home and net is not None and net.region != HOME, 0.9, "block"
        )
        rule("dno_cli", listed(caller, "dno") or listed(net, "dno"), 1.0, "block")
        rule(
            "blocklisted_cli",
            (listed(caller, "blocklist") and not listed(caller, "allowlist"))
            or listed(net, "blocklist"),
            1.0,
            "block",
        )
        rule("partner_listed_cli", listed(caller, "partner") or listed(net, "partner"), 0.6)
        rule("invalid_cli", caller is None and not withheld, 1.0, "block")
        bad = caller is not None and not caller.valid
        rule("unallocated_home_cli", bad and (home or caller.cc == 7), 1.0, "block")
        rule("unallocated_foreign_cli", bad and caller.cc != 7, 0.6)
        rule("withheld_cli_international", withheld and ingress == "international", 0.5)
        rule(
            "irsf_premium_destination",
            callee is not None
            and callee.type == PhoneNumberType.PREMIUM_RATE
            and callee.region != HOME,
            0.6,
        )
        rule("irsf_high_risk_destination", callee is not None and callee.e164.startswith(IRSF), 0.5)
        wangiri = (
            ingress == "international" and caller is not None and caller.e164.startswith(WANGIRI)
        )
        rule("wangiri_high_risk_range", wangiri, 0.5)
        rule("wangiri_one_ring", wangiri and duration is not None and duration < 5, 0.6)
        if caller is not None:
            ts = call.get("timestamp")
            second = int(ts // 1) if ts is not None else int(time.time())
            c = self.callers.setdefault(caller.key, Counters())
            c.record(second, callee.key if callee is not None else 0, duration)
            v = c.view()
            rule("robocall_burst", v["calls_1m"] >= 20 and v["distinct"] >= 15, 0.6)
            rule(
                "robocall_burst_critical",
                v["calls_1m"] >= 60 and v["distinct"] >= 40,
                0.95,
                "block",
            )
            rule("sequential_dialling", v["sequential"] >= 8, 0.7)
            share = v["short_share"]
            rule(
                "wangiri_burst",
                ingress == "international"
                and v["distinct"] >= 10
                and (share is None or share >= 0.8),
                0.7,
            )
            pumped = (
                callee is not None
                and callee.region != HOME
                and (callee.e164.startswith(IRSF) or callee.type == PhoneNumberType.PREMIUM_RATE)
            )
            hour = ((second + 5 * 3600) % 86400) // 3600
            rule("irsf_pumping", pumped and v["calls_window"] >= 20, 0.95, "block")
            rule(
                "irsf_pumping_night",
                pumped and v["calls_window"] >= 5 and (hour >= 22 or hour < 6),
                0.9,
                "block",
            )
        rule(
            "weak_attestation",
            ingress == "international" and call.get("attestation") in ("C", None),
            0.1,
        )
        rule("allowlisted_cli", listed(caller, "allowlist"), 0.0, "allow")
        rank = {"block": 0, "allow": 1, "flag": 2, None: 3}
        matched.sort(key=lambda m: (rank[m[2]], -m[1]))
        keep = 1.0
        for _, s, _ in matched:
            keep *= 1.0 - s
        score = 1.0 - keep
        effects = {m[2] for m in matched}
        if "block" in effects:
            action = "block"
        elif "allow" in effects:
            action = "allow"
        else:
            action = "block" if score >= 0.9 else "flag" if score >= 0.5 else "allow"
        reasons = [m[0] for m in matched]
        emergency = str(call.get("callee") or "").replace(" ", "").replace("-", "") in EMERGENCY
        if emergency:
            reasons.append("emergency_callee")
            if action == "block":
                action = "flag"
        return action, action, score, reasons
