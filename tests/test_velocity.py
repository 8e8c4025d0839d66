"""Velocity counters through the engine: against a naive, exact, unbounded model; bounded
under a flood; replay equals replay; statistics."""

from __future__ import annotations

import math
from typing import Dict, List, Tuple

from engines import policy
from hypothesis import given, settings
from hypothesis import strategies as st

import fraudcore

WINDOW, TOLERANCE, GAP, SHORT = 600, 30, 10, 6.0
POLICY = f"""
home_region = "KZ"
[velocity]
max_keys = 4096
shards = 4
window = {WINDOW}
late_tolerance = {TOLERANCE}
sequential_gap = {GAP}
short_call = {SHORT}
[[rules]]
id = "busy"
when = "caller.calls_1m >= 3"
score = 0.6
[[rules]]
id = "dest"
when = "destination.calls_1s >= 2 or trunk.calls_1m >= 4"
score = 0.2
"""

CALLERS = ["+77011234567", "+77011234568", "+79161234567"]
CALLEES = [77272123450 + i for i in range(12)] + [77272123470]


class Model:
    """Keeps every counted event of one key; the counters as the velocity module defines them."""

    def __init__(self):
        self.events: List[Tuple[int, int, float]] = []  # (second, callee, duration or nan)
        self.t = None

    def record(self, ts: float, callee: int, duration) -> bool:
        """Counts the event unless it is late; returns whether it was counted."""
        if not (0 <= ts < 2**32):
            return False
        s = math.floor(ts)
        g = WINDOW // 12
        if self.t is not None:
            if s < self.t - TOLERANCE:
                return False
            if s // g > self.t // g + 12:
                self.events, self.t = [], None
        self.events.append((s, callee, math.nan if duration is None else duration))
        self.t = s if self.t is None else max(self.t, s)
        return True

    def counters(self) -> Dict[str, object]:
        t, g = self.t, WINDOW // 12
        minute = [e for e in self.events if t - 60 < e[0] <= t]
        window = [e for e in self.events if t // g - 12 <= e[0] // g <= t // g]
        known = [e for e in window if e[2] == e[2] and e[2] >= 0]
        short = [e for e in known if e[2] < SHORT]
        callees = [e[1] for e in self.events if e[1]]
        seq = rep = 0
        for a, b in zip(reversed(callees[:-1]), reversed(callees)):
            if 1 <= abs(b - a) <= GAP:
                seq += 1
            else:
                break
        for a, b in zip(reversed(callees[:-1]), reversed(callees)):
            if a == b:
                rep += 1
            else:
                break
        return {
            "calls_1s": sum(1 for e in self.events if e[0] == t),
            "calls_1m": len(minute),
            "calls_window": len(window),
            "distinct_callees": len({e[1] for e in minute if e[1]}),
            "short_calls": len(short),
            "known_durations": len(known),
            "short_share": len(short) / len(known) if known else None,
            "sequential": seq,
            "repeat_callee": rep,
        }


events = st.lists(
    st.tuples(
        st.sampled_from(CALLERS),
        st.sampled_from(CALLEES),
        # Mostly forward in time, sometimes back (within or beyond the tolerance), a jump.
        # and steps on the edges of the minute, the buckets, the window and the tolerance.
        st.one_of(
            st.integers(0, 5),
            st.integers(-40, -1),
            st.sampled_from([-31, -30, -29, 49, 50, 59, 60, 61, 200, 599, 600, 650, 5000]),
        ),
        st.floats(0, 0.999),
        st.one_of(st.none(), st.sampled_from([0.0, 3.0, 5.9, 6.0, 120.0])),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=200)
@given(events)
def test_counters_match_a_naive_exact_model(stream):
    engine = fraudcore.Engine(policy(POLICY))
    models: Dict[str, Model] = {c: Model() for c in CALLERS}
    destination = Model()
    clock, late = 1_800_000_000, 0
    for caller, callee, step, frac, duration in stream:
        clock += step
        ts = clock + frac
        v = engine.score(
            {
                "caller": caller,
                "callee": f"+{callee}",
                "ingress": "national",
                "timestamp": ts,
                "duration": duration,
            }
        )
        if not models[caller].record(ts, callee, duration):
            late += 1
        # Every callee is Kazakh: one destination key (+7) sees the whole stream.
        if not destination.record(ts, callee, duration):
            late += 1
        got = engine.counters(caller, now=ts)
        assert got == models[caller].counters(), (caller, ts)
        assert engine.counters(7, kind="destination", now=ts) == destination.counters()
        assert ("busy" in v.reasons) == (models[caller].counters()["calls_1m"] >= 3)
    assert engine.stats()["velocity"]["late_events"] == late


def _burst(engine, caller, n, start):
    for i in range(n):
        engine.score(
            {
                "caller": caller,
                "callee": f"+7727212{i:04d}",
                "ingress": "national",
                "timestamp": start + i,
            }
        )


def test_a_flood_of_one_off_callers_stays_under_the_cap_and_spares_the_burst():
    text = POLICY.replace("max_keys = 4096", "max_keys = 256")
    engine = fraudcore.Engine(policy(text))
    start = 1_800_000_000
    _burst(engine, "+77011234567", 5, start)
    for i in range(20_000):  # random spoofed CLIs, one call each
        engine.score(
            {
                "caller": f"+7701{(i * 7919) % 10**7:07d}",
                "callee": "+77272123456",
                "ingress": "national",
                "timestamp": start + 5 + i / 1000,
            }
        )
    stats = engine.stats()["velocity"]
    assert stats["tracked_keys"] <= stats["max_keys"] == 256
    assert stats["evicted_lru"] >= 20_000 - 256
    # The caller mid-burst kept its counters.
    c = engine.counters("+77011234567", now=start + 25)
    assert c is not None and c["calls_1m"] == 5


def test_replaying_the_same_stream_gives_the_same_verdicts():
    stream = []
    for i in range(3000):
        stream.append(
            {
                "caller": f"+7701{(i * 31) % 13:07d}",
                "callee": f"+7727212{(i * 17) % 300:04d}",
                "ingress": "national",
                "timestamp": 1_800_000_000 + i * 0.37,
                "trunk": f"gw-{i % 3}",
            }
        )

    def replay():
        e = fraudcore.Engine(policy(POLICY))
        return [(v.action, v.score, v.reasons) for v in map(e.score, stream)]

    first = replay()
    assert first == replay()
    assert any("busy" in r for _, _, r in first) and any("dest" in r for _, _, r in first)


def test_stats_count_actions_and_reasons():
    engine = fraudcore.Engine(policy(POLICY))
    _burst(engine, "+77011234567", 4, 1_800_000_000)
    s = engine.stats()
    assert s["calls"] == 4 and s["actions"] == {"allow": 2, "flag": 2, "block": 0}
    assert s["reasons"]["busy"] == 2 and s["velocity"]["recorded"] == 8
    assert 0 < s["velocity"]["max_memory"] <= s["velocity"]["bytes_per_key"] * 4096
    assert engine.counters("+79991112233") is None
    assert engine.counters(7, kind="destination", now=1_800_000_003)["calls_1m"] == 4
    assert fraudcore.Engine(policy('home_region = "KZ"')).stats()["velocity"] is None
