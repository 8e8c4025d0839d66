"""Policies: the bundled default on labelled traffic, validation errors, reload, observe mode."""

from __future__ import annotations

import csv
import shutil
import threading
from pathlib import Path

import pytest
from engines import policy

import fraudcore
from fraudcore.cli import main

DATA = Path(__file__).with_name("data")
FIELDS = ("caller", "callee", "ingress", "roaming", "attestation", "duration", "trunk")
# The labelled calls happen on a Monday at 11:00 in Kazakhstan (+05:00), the same whenever the
# tests run: without a timestamp a call happens now, and at night `irsf_pumping_night` joins in.
DAYTIME = 1_764_568_800


def scenarios():
    with open(DATA / "default_policy_scenarios.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


@pytest.fixture(scope="module")
def operator_engine():
    """The default policy with the lists an operator would fill."""
    e = fraudcore.Engine.default()
    e.set_list(fraudcore.NumberList.from_numbers([77272505050], name="dno", kind="dno"))
    e.set_list(fraudcore.NumberList.from_numbers([77051112233], name="blocklist"))
    shared = fraudcore.NumberList.from_numbers([79031234567], name="x").to_filter(
        capacity=1000, name="partner", kind="partner"
    )
    e.set_list(shared)
    e.set_list(fraudcore.NumberList.from_numbers([77272590000], name="allowlist", kind="allow"))
    return e


@pytest.mark.parametrize("row", scenarios(), ids=lambda r: r["scenario"])
def test_default_policy_on_labelled_traffic(operator_engine, row):
    call = {k: row[k] for k in FIELDS if row[k]}
    call["timestamp"] = DAYTIME
    if row["network_number"]:
        call["network_number"] = row["network_number"]
    v = operator_engine.score(call)
    assert v.action == row["expected"], (v, row)
    if row["first_reason"]:
        assert v.reasons[0] == row["first_reason"], (v, row)
    elif v.action == "allow":
        assert not any(d["action"] == "block" for d in v.details)


def test_every_default_rule_is_exercised_by_the_labelled_traffic(operator_engine):
    fired = set()
    for row in scenarios():
        call = {k: row[k] for k in FIELDS if row[k]}
        if row["network_number"]:
            call["network_number"] = row["network_number"]
        fired.update(operator_engine.score(call).reasons)
    rules = {r["id"] for r in operator_engine.policy.rules}
    # Velocity rules need streams: test_default_velocity_rules_catch_bursts... fires each.
    velocity = {
        r["id"]
        for r in operator_engine.policy.rules
        if "caller.calls" in r["when"]
        or "caller.sequential" in r["when"]
        or "caller.distinct" in r["when"]
    }
    assert velocity == {
        "robocall_burst",
        "robocall_burst_critical",
        "sequential_dialling",
        "wangiri_burst",
        "irsf_pumping",
        "irsf_pumping_night",
    }
    assert rules - velocity <= fired, rules - velocity - fired


def test_default_policy_describes_itself():
    p = fraudcore.Policy.default()
    assert p.home_region == "KZ" and p.mode == "enforce" and p.thresholds == (0.5, 0.9)
    assert {lst["name"]: lst["kind"] for lst in p.lists} == {
        "allowlist": "allow",
        "blocklist": "block",
        "dno": "dno",
        "partner": "partner",
    }
    assert all(r["description"] for r in p.rules)
    assert "spoofed_home_cli" in p.summary() and "Policy(" in repr(p)


BASE = 'home_region = "KZ"\n[lists.fraud]\nkind = "block"\n'


@pytest.mark.parametrize(
    "text, where, word",
    [
        # TOML syntax and unknown keys.
        ('home_region = "KZ"\nrules = [\n', ":2:", "unclosed array"),
        ('home_region = "KZ"\nthreshold = 1\n', ":2:1:", "threshold"),
        ('home_region = "KZ"\n[thresholds]\nflag = "high"\n', ":3:8:", "high"),
        # Settings.
        ('home_region = "XX"\n', ":1:15:", "XX"),
        ('home_region = "KZ"\nmode = "observer"\n', ":2:8:", "did you mean 'observe'"),
        ('home_region = "KZ"\n[thresholds]\nflag = 0.95\nblock = 0.9\n', ":3:8:", "0.95"),
        ('home_region = "KZ"\n[thresholds]\nblock = 1.5\n', ":3:9:", "1.5"),
        ('home_region = "KZ"\nutc_offset = "+25:00"\n', ":2:14:", "+25:00"),
        ('home_region = "KZ"\nemergency_numbers = ["1x"]\n', ":2:22:", "1x"),
        # Lists.
        (BASE + '[lists.x]\nkind = "blok"\n', ":5:8:", "did you mean 'block'"),
        (BASE + '[lists.y]\nkind = "block"\nfpr = 2\n', ":6:7:", "fpr"),
        ('home_region = "KZ"\n[lists.caller]\nkind = "block"\n', ":2:8:", "caller"),
        # Rules.
        (
            BASE + '[[rules]]\nid = "a"\nwhen = "caller.regoin == \'KZ\'"\naction = "block"\n',
            ":6:9:",
            "did you mean 'caller.region'",
        ),
        (
            BASE + '[[rules]]\nid = "a"\nwhen = "caller in frau"\naction = "block"\n',
            ":6:19:",
            "unknown list 'frau'; did you mean 'fraud'",
        ),
        (
            BASE + '[[rules]]\nid = "a"\nwhen = "duration > \'long\'"\naction = "block"\n',
            ":6:20:",
            "'long'",
        ),
        (
            BASE + '[[rules]]\nid = "a"\nwhen = "ingress == \'abroad\'"\naction = "block"\n',
            ":6:20:",
            "'abroad' is not a value of 'ingress'",
        ),
        (
            BASE + '[[rules]]\nid = "a"\nwhen = "roaming"\naction = "block"\n',
            ":6:9:",
            "roaming == true",
        ),
        (
            BASE + '[[rules]]\nid = "a"\nwhen = "caller.valid and"\naction = "block"\n',
            ":6:25:",
            "ends too early",
        ),
        (BASE + '[[rules]]\nid = "a"\nwhen = "caller.valid"\nscore = 1.2\n', ":7:9:", "1.2"),
        (
            BASE + '[[rules]]\nid = "a"\nwhen = "caller.valid"\naction = "blok"\n',
            ":7:10:",
            "did you mean 'block'",
        ),
        (BASE + '[[rules]]\nid = "a"\nwhen = "caller.valid"\n', ":5:6:", "no effect"),
        (
            BASE + '[[rules]]\nid = "a"\nwhen = "caller.valid"\naction = "flag"\n'
            '[[rules]]\nid = "a"\nwhen = "callee.valid"\naction = "flag"\n',
            ":9:6:",
            'duplicate rule id "a" (first on line 5)',
        ),
        (
            BASE + '[[rules]]\nid = "bad id!"\nwhen = "caller.valid"\naction = "flag"\n',
            ":5:6:",
            "bad id!",
        ),
        (
            BASE + '[[rules]]\nid = "a"\nwhen = "\'x\' in caller.tags"\naction = "flag"\n',
            ":6:9:",
            "unknown tag 'x'",
        ),
    ],
)
def test_validation_errors_name_file_line_column_and_word(text, where, word):
    with pytest.raises(fraudcore.ParseError) as info:
        policy(text, name="policy.toml")
    message = str(info.value)
    assert message.startswith("policy.toml" + where), message
    assert word in message, message
    assert isinstance(info.value, ValueError) and isinstance(info.value, fraudcore.FraudcoreError)


def test_files_named_by_a_policy_are_read_relative_to_it(tmp_path):
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "fraud.txt").write_text("# confirmed\n+77011234567\n8 705 111 22 33\n")
    (tmp_path / "premium.txt").write_text("+44 909  # UK premium\n+1 900\n")
    (tmp_path / "p.toml").write_text(
        BASE.replace('kind = "block"\n', 'kind = "block"\nfile = "lists/fraud.txt"\n')
        + '[prefixes.premium]\nfile = "premium.txt"\ntags = ["irsf"]\n'
        + '[[rules]]\nid = "fraud"\nwhen = "caller in fraud"\naction = "block"\n'
        + '[[rules]]\nid = "prem"\nwhen = "callee in premium and \'irsf\' in callee.tags"\n'
        + 'action = "flag"\n'
    )
    e = fraudcore.Engine(tmp_path / "p.toml")
    assert e.policy.lists[0]["numbers"] == 2
    call = {"caller": "+77051112233", "callee": "87272123456", "ingress": "national"}
    assert e.score(call).reasons == ("fraud",)
    premium = {"caller": "+77011234568", "callee": "+19005550123", "ingress": "national"}
    assert e.score(premium).reasons == ("prem",)
    assert e.classify("+449098790000").tags == ("premium", "irsf")
    # A bad line in a list file names that file and line.
    (tmp_path / "lists" / "fraud.txt").write_text("+77011234567\nnot a number\n")
    with pytest.raises(fraudcore.ParseError, match=r"fraud\.txt:2:1:.*not a number"):
        fraudcore.Policy.from_file(tmp_path / "p.toml")
    (tmp_path / "lists" / "fraud.txt").unlink()
    with pytest.raises(fraudcore.FileError, match="fraud.txt"):
        fraudcore.Policy.from_file(tmp_path / "p.toml")


def test_saved_list_files_load_under_the_policys_name_and_kind(tmp_path):
    fraudcore.NumberList.from_numbers([77011234567], name="whatever", kind="partner").save(
        tmp_path / "l.fclist"
    )
    text = 'home_region = "KZ"\n[lists.fraud]\nkind = "block"\nfile = "l.fclist"\n'
    p = policy(text, base_dir=str(tmp_path))
    assert p.lists[0]["numbers"] == 1 and p.lists[0]["kind"] == "block"


OBSERVE = """
home_region = "KZ"
mode = "observe"
[[rules]]
id = "spoof"
when = "ingress == 'international' and roaming != true and caller.is_home"
score = 0.95
action = "block"
"""
SPOOF = {"caller": "+77011234567", "callee": "87272123456", "ingress": "international"}


def test_observe_mode_blocks_nothing_and_says_what_would_have_been():
    v = fraudcore.Engine(policy(OBSERVE)).score(SPOOF)
    assert (v.action, v.would_action, v.reasons) == ("allow", "block", ("spoof",))
    assert v.details[0]["observe"] and "would_action='block'" in repr(v)
    per_rule = OBSERVE.replace('mode = "observe"', "").replace(
        'action = "block"', 'action = "block"\nobserve = true'
    )
    v = fraudcore.Engine(policy(per_rule)).score(SPOOF)
    assert (v.action, v.would_action) == ("allow", "block")


def test_reload_swaps_the_policy_while_threads_score():
    engine = fraudcore.Engine(policy(OBSERVE))
    enforce = policy(OBSERVE.replace('mode = "observe"', 'mode = "enforce"'))
    observe = policy(OBSERVE)
    stop, seen, bad = threading.Event(), set(), []

    def score():
        while not stop.is_set():
            v = engine.score(SPOOF)
            seen.add(v.action)
            if (v.action, v.would_action) not in {("allow", "block"), ("block", "block")}:
                bad.append(v)

    threads = [threading.Thread(target=score) for _ in range(2)]
    for t in threads:
        t.start()
    for i in range(300):
        engine.reload(enforce if i % 2 == 0 else observe)
    engine.reload(enforce)
    stop.set()
    for t in threads:
        t.join()
    assert not bad and engine.score(SPOOF).action == "block"
    assert engine.policy.mode == "enforce"


def test_reload_keeps_lists_whose_declaration_did_not_change(tmp_path):
    engine = fraudcore.Engine.default()
    engine.set_list(fraudcore.NumberList.from_numbers([77051112233], name="blocklist"))
    engine.reload(fraudcore.DEFAULT_POLICY)
    assert 77051112233 in next(lst for lst in engine.lists if lst.name == "blocklist")
    # A policy whose blocklist reads another file starts from that file.
    folder = tmp_path / "p"
    shutil.copytree(Path(fraudcore.DEFAULT_POLICY).parent, folder)
    (folder / "lists" / "blocklist.txt").write_text("+77011234567\n")
    engine.reload(folder / "default_policy.toml")
    blocklist = next(lst for lst in engine.lists if lst.name == "blocklist")
    assert 77011234567 in blocklist and 77051112233 not in blocklist


def test_check_policy_command(tmp_path, capsys):
    assert main(["check-policy", fraudcore.DEFAULT_POLICY]) == 0
    out = capsys.readouterr().out
    assert "22 rules" in out and "spoofed_home_cli" in out and "list dno (dno)" in out
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'home_region = "KZ"\n[[rules]]\nid = "a"\nwhen = "calle.valid"\naction = "flag"\n'
    )
    assert main(["check-policy", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:4:9:" in err and "did you mean 'callee.valid'" in err


def test_readme_documents_every_feature():
    from fraudcore._fraudcore import POLICY_FEATURES

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- features -->")[1].split("<!-- /features -->")[0]
    for name in POLICY_FEATURES:
        assert f"`{name.replace('*.', 'N.')}`" in table, name
    assert any(name.startswith("V.") for name in POLICY_FEATURES)


DAY = 1_795_932_000  # 2026-11-29 06:00 UTC, 11:00 in Almaty
NIGHT = DAY + 13 * 3600  # 00:00 in Almaty


def _stream(engine, caller, callees, start, step, **fields):
    out = []
    for i, callee in enumerate(callees):
        call = {"caller": caller, "callee": callee, "ingress": "national", **fields}
        out.append(engine.score({**call, "timestamp": start + i * step}))
    return out


def test_default_velocity_rules_catch_bursts_and_spare_busy_subscribers():
    engine = fraudcore.Engine.default()
    # A robocaller: 60 different subscribers in one minute.
    callees = [f"+7701{(i * 7_919_191) % 10**7:07d}" for i in range(60)]
    v = _stream(engine, "+77051112200", callees, DAY, 1.0)
    assert [x.action for x in v[:19]] == ["allow"] * 19
    assert v[19].action == "flag" and v[19].reasons == ("robocall_burst",)
    assert v[59].action == "block" and v[59].reasons[0] == "robocall_burst_critical"
    # Dialling through a number block.
    v = _stream(engine, "+77051112201", [f"+7727212345{i}" for i in range(10)], DAY, 30.0)
    assert [x.action for x in v] == ["allow"] * 8 + ["flag"] * 2
    assert "sequential_dialling" in v[8].reasons
    # A one-ring campaign from abroad (a CLI on no list and in no high-risk range).
    v = _stream(
        engine, "+442071838700", callees[:10], DAY, 3.0, ingress="international", attestation="A"
    )
    assert v[8].action == "allow" and v[9].reasons == ("wangiri_burst",)
    # A hacked PBX pumping calls to Cuba: by day from the 20th call in the window, at night
    # from the 5th.
    v = _stream(engine, "+77172555000", ["0053 78123456"] * 20, DAY, 60.0)
    assert [x.action for x in v] == ["flag"] * 19 + ["block"]
    assert v[19].reasons[0] == "irsf_pumping"
    v = _stream(engine, "+77172555001", ["+449098790000"] * 5, NIGHT, 60.0)
    assert [x.action for x in v] == ["flag"] * 4 + ["block"]
    assert v[4].reasons[0] == "irsf_pumping_night"
    # A busy subscriber: 12 calls in an hour to three numbers.
    friends = ["+77011234567", "+77272123456", "+77172123456"] * 4
    v = _stream(engine, "+77051112202", friends, DAY, 300.0)
    assert {x.action for x in v} == {"allow"}
    assert engine.counters("+77051112202", now=DAY + 3300)["calls_window"] == 12
