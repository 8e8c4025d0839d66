"""The traffic simulator: determinism, the CDR contract, and labels equal to the default policy's
verdicts when one engine with the World's lists scores the calls in order."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter, defaultdict

import pytest

import fraudcore
from fraudcore import _simulate as sim

N = 20_000
CDR = sim.FIELDS[:9]
NAMES = [s.name for s in sim.SCENARIOS]
LEGITIMATE = {s.name for s in sim.SCENARIOS if s.expected == "allow"}
CAMPAIGNS = {"robocall_burst", "sequential_dialling", "wangiri_burst", "pbx_irsf_pumping"}
VELOCITY_RULES = {
    "robocall_burst",
    "robocall_burst_critical",
    "sequential_dialling",
    "wangiri_burst",
    "irsf_pumping",
    "irsf_pumping_night",
}
NIGHT = 1_795_932_000.0 - 12 * 3600  # 23:00 at UTC+5 (the default start is 11:00)


def operator_engine(world=None):
    """A fresh default engine (fresh velocity counters) with the World's lists."""
    engine = fraudcore.Engine.default()
    (world or sim.world()).apply(engine)
    return engine


def score_all(calls, engine=None):
    engine = engine or operator_engine()
    return [engine.score({k: c[k] for k in CDR}) for c in calls]


@pytest.fixture(scope="module")
def calls():
    return list(sim.simulate(N))


@pytest.fixture(scope="module")
def verdicts(calls):
    return score_all(calls)


def mismatch_table(calls, verdicts) -> str:
    """Per scenario: calls, mismatches, and the first mismatch."""
    total, wrong, first = Counter(), Counter(), {}
    for c, v in zip(calls, verdicts):
        total[c["scenario"]] += 1
        if v.action != c["expected"]:
            wrong[c["scenario"]] += 1
            first.setdefault(c["scenario"], (c, v))
    lines = [f"{'scenario':<26} {'calls':>6} {'wrong':>6}  first mismatch"]
    for name in NAMES:
        example = ""
        if name in first:
            c, v = first[name]
            example = f"expected {c['expected']}, got {v.action} {v.reasons} for {c}"
        lines.append(f"{name:<26} {total[name]:>6} {wrong[name]:>6}  {example}")
    return "\n".join(lines)


def assert_labels_match(calls, verdicts):
    if any(c["expected"] != v.action for c, v in zip(calls, verdicts)):
        pytest.fail("labels differ from the default policy:\n" + mismatch_table(calls, verdicts))


def test_labels_equal_the_default_policys_verdicts(calls, verdicts):
    assert_labels_match(calls, verdicts)


def test_labels_hold_at_night_other_seeds_and_rates():
    for seed, start, rate in [(1, NIGHT, 500.0), (2, NIGHT, 40.0), (3, 1e9, 5_000.0)]:
        calls = list(sim.simulate(N, seed=seed, start=start, rate=rate))
        assert_labels_match(calls, score_all(calls))


def test_every_rule_of_the_default_policy_fires_somewhere():
    fired = set()
    for start in (1_795_932_000.0, NIGHT):
        for v in score_all(sim.simulate(N, start=start)):
            fired.update(v.reasons)
    rules = {r["id"] for r in fraudcore.Policy.default().rules}
    assert rules <= fired, rules - fired


def test_velocity_scenarios_pass_through_each_level(calls):
    levels = defaultdict(set)
    for c in calls:
        levels[c["scenario"]].add(c["expected"])
    assert levels["robocall_burst"] == {"allow", "flag", "block"}
    assert levels["sequential_dialling"] >= {"allow", "flag"}
    assert levels["wangiri_burst"] >= {"allow", "flag"}
    assert levels["pbx_irsf_pumping"] == {"flag", "block"}
    # The burst's labels follow the rule thresholds: allowed until its 20th call in a minute.
    burst = [c for c in calls if c["scenario"] == "robocall_burst"]
    caller = burst[0]["caller"]
    first = [c["expected"] for c in burst if c["caller"] == caller]
    assert first[:19] == ["allow"] * 19 and first[19] == "flag" and first[59] == "block"


def test_the_night_rule_blocks_the_pbx_from_its_fifth_call():
    calls = list(sim.simulate(N, seed=4, start=NIGHT))
    night_only = [
        v
        for c, v in zip(calls, score_all(calls))
        if "irsf_pumping_night" in v.reasons and "irsf_pumping" not in v.reasons
    ]
    assert night_only and all(v.action == "block" for v in night_only)


def test_background_traffic_never_trips_a_velocity_rule(calls, verdicts):
    for c, v in zip(calls, verdicts):
        if c["scenario"] not in CAMPAIGNS:
            assert not VELOCITY_RULES & set(v.reasons), (c, v)


def test_legitimate_calls_present_valid_numbers(calls, verdicts):
    for c, v in zip(calls, verdicts):
        if c["scenario"] in LEGITIMATE and c["scenario"] != "withheld_national":
            assert v.caller.valid, (c, v.caller)
        if c["scenario"] in LEGITIMATE and c["scenario"] != "emergency_call":
            assert v.callee.valid, (c, v.callee)
    regions = defaultdict(Counter)
    for c, v in zip(calls, verdicts):
        regions[c["scenario"]][v.caller.region] += 1
    assert set(regions["onnet_subscriber"]) == {"KZ"}
    assert set(regions["roaming_home"]) == {"KZ"}
    assert set(regions["russian_caller"]) == {"RU"}
    assert len(regions["foreign_caller"]) >= 15 and "KZ" not in regions["foreign_caller"]


def test_same_seed_same_calls():
    assert list(sim.simulate(3_000, seed=7)) == list(sim.simulate(3_000, seed=7))


def test_different_seeds_differ():
    a, b = list(sim.simulate(1_000, seed=1)), list(sim.simulate(1_000, seed=2))
    assert sum(x["caller"] == y["caller"] for x, y in zip(a, b)) < 10
    assert a[0]["timestamp"] != b[0]["timestamp"]


def test_timestamps_are_poisson_arrivals_in_order(calls):
    times = [c["timestamp"] for c in calls]
    assert times == sorted(times) and times[0] >= 1_795_932_000.0
    mean_gap = (times[-1] - times[0]) / (len(times) - 1)
    assert mean_gap == pytest.approx(1 / 500.0, rel=0.05)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert sum(g > mean_gap for g in gaps) / len(gaps) == pytest.approx(math.exp(-1), abs=0.02)
    assert all(round(t * 1e6) / 1e6 == t for t in times)  # whole microseconds
    fast = [c["timestamp"] for c in sim.simulate(5_000, start=1e9, rate=10_000.0)]
    assert (fast[-1] - fast[0]) / (len(fast) - 1) == pytest.approx(1e-4, rel=0.05)


def test_every_scenario_appears_in_proportion(calls):
    counts = Counter(c["scenario"] for c in calls)
    assert set(counts) == set(NAMES) == set(sim.DEFAULT_MIX)
    assert sum(sim.DEFAULT_MIX.values()) == pytest.approx(1.0)
    legitimate = sum(sim.DEFAULT_MIX[n] for n in LEGITIMATE)
    assert 0.8 <= legitimate <= 0.9
    for name, share in sim.DEFAULT_MIX.items():
        sigma = math.sqrt(N * share * (1 - share))
        assert abs(counts[name] - N * share) < 5 * sigma + 1, (name, counts[name], N * share)


def test_a_custom_mix():
    calls = list(sim.simulate(2_000, mix={"spoofed_home_cli": 1, "wangiri_one_ring": 3}))
    counts = Counter(c["scenario"] for c in calls)
    assert set(counts) == {"spoofed_home_cli", "wangiri_one_ring"}
    assert 1_350 < counts["wangiri_one_ring"] < 1_650
    only = list(sim.simulate(500, mix={"robocall_burst": 1.0, "foreign_caller": 0}))
    assert {c["scenario"] for c in only} == {"robocall_burst"}
    assert_labels_match(only, score_all(only))


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"n": -1}, "n"),
        ({"n": 1.5}, "n"),
        ({"n": 10, "rate": 0}, "rate"),
        ({"n": 10, "start": -1.0}, "start"),
        ({"n": 10, "mix": {"robocal": 1}}, "robocal"),
        ({"n": 10, "mix": {"robocall_burst": -1}}, "robocall_burst"),
        ({"n": 10, "mix": {"robocall_burst": 0}}, "no scenario"),
    ],
)
def test_bad_arguments_are_refused_when_called(kwargs, word):
    with pytest.raises(ValueError, match=word):
        sim.simulate(**kwargs)


def test_calls_follow_the_cdr_contract(calls):
    scenarios = {s.name: s for s in sim.SCENARIOS}
    for c in calls:
        assert tuple(c) == sim.FIELDS
        assert isinstance(c["timestamp"], float)
        assert isinstance(c["caller"], str) and isinstance(c["callee"], str)
        assert c["caller"] and c["callee"]
        assert c["ingress"] in ("international", "national", "onnet")
        assert c["roaming"] in (True, False, None)
        assert c["attestation"] in ("A", "B", "C", None)
        assert c["duration"] is None or (isinstance(c["duration"], int) and c["duration"] >= 0)
        assert c["trunk"] is None or (isinstance(c["trunk"], str) and c["trunk"])
        assert c["network_number"] is None or isinstance(c["network_number"], str)
        assert c["expected"] in ("allow", "flag", "block")
        assert c["scenario"] in scenarios
        if c["scenario"] not in CAMPAIGNS:
            assert c["expected"] == scenarios[c["scenario"]].expected
        if c["roaming"]:
            assert c["ingress"] == "international"
        fraudcore.Call(**{k: c[k] for k in CDR})  # the typed call accepts every field
    assert Counter(c["ingress"] for c in calls).most_common(1)[0][0] == "onnet"


def test_written_csv_replays_to_the_same_verdicts():
    calls = list(sim.simulate(5_000, seed=5))
    out = io.StringIO()
    assert sim.write_csv(iter(calls), out) == len(calls)
    lines = out.getvalue().splitlines()
    assert lines[0] == ",".join(sim.FIELDS) and len(lines) == len(calls) + 1
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {r["roaming"] for r in rows} == {"true", "false", ""}
    assert all(float(r["timestamp"]) == c["timestamp"] for r, c in zip(rows, calls))
    engine = operator_engine()
    for row, call in zip(rows, calls):
        v = engine.score({k: row[k] for k in CDR if row[k] != ""})
        assert v.action == row["expected"] == call["expected"], (row, v)


def test_world_lists_are_disjoint_and_applied():
    w = sim.world()
    assert w == sim.world(0) and w != sim.world(1)
    lists = [set(w.dno), set(w.blocklist), set(w.partner), set(w.allowlist)]
    assert sum(map(len, lists)) == len(set().union(*lists))
    engine = operator_engine(w)
    applied = {lst.name: lst for lst in engine.lists}
    assert {name: lst.kind for name, lst in applied.items()} == {
        "dno": "dno",
        "blocklist": "block",
        "partner": "partner",
        "allowlist": "allow",
    }
    assert len(applied["dno"]) == len(w.dno) and len(applied["allowlist"]) == len(w.allowlist)
    assert not applied["partner"].exact and w.partner[0] in applied["partner"]


def test_an_empty_world_refuses_the_scenarios_that_need_its_lists():
    empty = sim.World(dno=[], blocklist=[], partner=[], allowlist=[])
    calls = list(
        sim.simulate(2_000, world=empty, mix={"onnet_subscriber": 1, "spoofed_home_cli": 1})
    )
    assert_labels_match(calls, score_all(calls, operator_engine(empty)))
    with pytest.raises(ValueError, match="dno"):
        list(sim.simulate(10, world=empty, mix={"dno_cli": 1}))


def test_constants_match_the_default_policy():
    """The generator's copy of the default policy (scores, thresholds, [velocity]) is current."""
    tomllib = pytest.importorskip("tomllib")
    with open(fraudcore.DEFAULT_POLICY, "rb") as f:
        toml = tomllib.load(f)
    rules = {r["id"]: r for r in toml["rules"]}
    score = {r: rules[r].get("score") for r in rules}
    assert (sim.FLAG_AT, sim.BLOCK_AT) == (toml["thresholds"]["flag"], toml["thresholds"]["block"])
    assert score["partner_listed_cli"] == sim.S_PARTNER
    assert score["withheld_cli_international"] == sim.S_WITHHELD_INTL
    assert score["irsf_premium_destination"] == sim.S_PREMIUM
    assert score["irsf_high_risk_destination"] == sim.S_IRSF
    assert score["wangiri_high_risk_range"] == sim.S_WANGIRI_RANGE
    assert score["wangiri_one_ring"] == sim.S_ONE_RING
    assert f"duration < {sim.ONE_RING_BELOW}" in rules["wangiri_one_ring"]["when"]
    assert score["weak_attestation"] == sim.S_WEAK
    assert score["robocall_burst"] == sim.S_BURST
    assert score["sequential_dialling"] == sim.S_SEQUENTIAL
    assert score["wangiri_burst"] == sim.S_WANGIRI
    when = {r: rules[r]["when"] for r in rules}
    assert (
        f"caller.calls_1m >= {sim.BURST_CALLS} and caller.distinct_callees >= {sim.BURST_DISTINCT}"
        in when["robocall_burst"]
    )
    assert (
        f"caller.calls_1m >= {sim.CRITICAL_CALLS} and "
        f"caller.distinct_callees >= {sim.CRITICAL_DISTINCT}" in when["robocall_burst_critical"]
    )
    assert f"caller.sequential >= {sim.SEQUENTIAL}" == when["sequential_dialling"]
    assert f"caller.distinct_callees >= {sim.WANGIRI_DISTINCT}" in when["wangiri_burst"]
    assert f"caller.short_share >= {sim.WANGIRI_SHORT}" in when["wangiri_burst"]
    assert f"caller.calls_window >= {sim.PUMPING_CALLS}" in when["irsf_pumping"]
    assert f"caller.calls_window >= {sim.PUMPING_NIGHT_CALLS}" in when["irsf_pumping_night"]
    assert f"hour >= {sim.NIGHT_FROM} or hour < {sim.NIGHT_UNTIL}" in when["irsf_pumping_night"]
    velocity = toml["velocity"]
    assert (velocity["window"], velocity["short_call"], velocity["sequential_gap"]) == (
        sim.WINDOW,
        sim.SHORT_CALL,
        sim.SEQUENTIAL_GAP,
    )
    assert toml["utc_offset"] == "+05:00" and sim.UTC_OFFSET == 5 * 3600
    blocking = {r for r in rules if rules[r].get("action") == "block"}
    assert blocking >= {"robocall_burst_critical", "irsf_pumping", "irsf_pumping_night"}


def test_public_items_are_documented():
    for name in sim.__all__:
        item = getattr(sim, name)
        if callable(item):
            assert item.__doc__ and item.__doc__.strip(), name
    assert sim.World.apply.__doc__
