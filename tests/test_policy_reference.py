"""The compiled rule evaluator agrees with a small pure-Python reference evaluator.

Hypothesis generates policies within the condition grammar (features of every type, `and`,
`or`, `not`, comparisons, `in` lists, list membership, prefix lists and tags, observe mode,
thresholds) and calls; the reference evaluates the same conditions over the numbers' facts
(as `engine.lookup` reports them; classification itself is checked against phonenumbers
elsewhere) and combines the matching rules by the documented semantics. Action, would-be
action, score and the ordered reasons must agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import phonenumbers
from engines import policy
from hypothesis import given, settings
from hypothesis import strategies as st

import fraudcore

NUMBERS = [
    "+77011234567",  # KZ mobile
    "+77272123456",  # KZ fixed line, Almaty
    "87011234568",  # KZ mobile, national format
    "+79161234567",  # RU mobile
    "+74951234567",  # RU fixed line
    "+12015550123",  # US
    "+442071838750",  # GB fixed line
    "+4419001234567",  # GB, not valid
    "+5378123456",  # CU
    "+882345678901",  # international networks
    "+76001234567",  # +7 6xx: unallocated without the overlay
    "anonymous",
    "hello",
    "",
    "+7",
]
LIST_A = [77011234567, 79161234567, 442071838750]
LIST_B = [77272123456, 12015550123]
PREFIXES = {"pl_cuba": ["+53"], "pl_intl": ["+882", "+883"], "pl_kz_mobile": ["+7701"]}
REGIONS = ["KZ", "RU", "US", "GB", "CU", "001"]
TYPES = ["mobile", "fixed_line", "fixed_line_or_mobile", "premium_rate", "unknown"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

WHO = ["caller", "callee", "network_number"]
DURATIONS = [0, 2.5, 5.5, 30, None]
HOURS = [0, 5, 12, 23]


# --- Conditions: (text, evaluator) pairs built together. -------------------------------------


@dataclass
class Facts:
    call: Dict[str, Any]
    numbers: Dict[str, Optional[fraudcore.NumberInfo]]  # None: the field was not given
    lists: Dict[str, set]
    hour: int
    weekday: str

    def number(self, who: str, prop: str):
        info = self.numbers[who]
        parsed = info is not None and info.e164 is not None
        if prop == "present":
            raw = self.call.get(who)
            return info is not None and bool(raw and raw.strip()) and info.invalid_reason != "empty"
        if prop == "parsed":
            return parsed
        if prop == "valid":
            return parsed and info.valid
        if prop == "invalid_reason":
            return info.invalid_reason if info is not None else None
        if prop == "is_home":
            return parsed and info.region == "KZ"
        if not parsed:
            return frozenset() if prop == "tags" else None
        if prop == "region":
            return info.region
        if prop == "type":
            return info.type
        if prop == "country_code":
            return float(_cc(info.e164))
        if prop == "e164":
            return info.e164
        if prop == "tags":
            return frozenset(info.tags)
        raise AssertionError(prop)


def _cc(e164: str) -> int:
    return phonenumbers.parse(e164).country_code


def eq(a, b) -> bool:
    return a == b if (a is None) == (b is None) else False


def lit(v) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return "'" + v + "'"
    return repr(v)


def compare(op: str, feature: str, getter, value):
    """`feature op value` and its meaning."""
    text = f"{feature} {op} {lit(value)}"

    def run(f: Facts) -> bool:
        x = getter(f)
        if op == "==":
            return eq(x, value)
        if op == "!=":
            return not eq(x, value)
        if x is None:
            return False
        return {"<": x < value, "<=": x <= value, ">": x > value, ">=": x >= value}[op]

    return text, run


def call_feature(name):
    return lambda f: f.call.get(name) if name != "hour" else f.hour


@st.composite
def leaf(draw):
    kind = draw(st.sampled_from(["sym", "bool", "num", "text", "number", "list", "tag", "in"]))
    if kind == "sym":
        name, values = draw(
            st.sampled_from(
                [
                    ("ingress", ["international", "national", "onnet"]),
                    ("attestation", ["A", "B", "C", None]),
                    ("weekday", WEEKDAYS),
                ]
            )
        )
        op = draw(st.sampled_from(["==", "!="]))
        value = draw(st.sampled_from(values))
        getter = (lambda f: f.weekday) if name == "weekday" else call_feature(name)
        return compare(op, name, getter, value)
    if kind == "bool":
        who = draw(st.sampled_from(WHO))
        prop = draw(st.sampled_from(["present", "parsed", "valid", "is_home"]))
        if draw(st.booleans()):
            return f"{who}.{prop}", lambda f: f.number(who, prop)
        if draw(st.booleans()):
            value = draw(st.sampled_from([True, False, None]))
            return compare(
                draw(st.sampled_from(["==", "!="])), "roaming", call_feature("roaming"), value
            )
        return compare("==", f"{who}.{prop}", lambda f: f.number(who, prop), draw(st.booleans()))
    if kind == "num":
        which = draw(st.sampled_from(["duration", "hour", "cc"]))
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
        if which == "cc":
            who = draw(st.sampled_from(WHO))
            value = draw(st.sampled_from([1, 7, 44, 53, 882, 100]))
            return compare(
                op, f"{who}.country_code", lambda f: f.number(who, "country_code"), value
            )
        pool = DURATIONS if which == "duration" else HOURS
        value = draw(st.sampled_from([v for v in pool if v is not None]))
        return compare(op, which, call_feature(which), value)
    if kind == "text":
        op = draw(st.sampled_from(["==", "!="]))
        who = draw(st.sampled_from(WHO))
        prop, values = draw(
            st.sampled_from(
                [
                    ("region", REGIONS + [None]),
                    ("type", TYPES + [None]),
                    ("invalid_reason", ["withheld", "bad_character", "too_short", "empty", None]),
                ]
            )
        )
        return compare(
            op, f"{who}.{prop}", lambda f: f.number(who, prop), draw(st.sampled_from(values))
        )
    if kind == "number":
        a, b = draw(st.sampled_from(WHO)), draw(st.sampled_from(WHO))
        op = draw(st.sampled_from(["==", "!="]))
        text = f"{a}.e164 {op} {b}.e164"

        def run(f: Facts) -> bool:
            same = eq(f.number(a, "e164"), f.number(b, "e164"))
            return same if op == "==" else not same

        return text, run
    if kind == "list":
        who, name = draw(st.sampled_from(WHO)), draw(st.sampled_from(["la", "lb", "lallow"]))

        def run(f: Facts) -> bool:
            e = f.number(who, "e164")
            return e is not None and int(e[1:]) in f.lists[name]

        return f"{who} in {name}", run
    if kind == "tag":
        who, name = draw(st.sampled_from(WHO)), draw(st.sampled_from(sorted(PREFIXES)))
        if draw(st.booleans()):
            text = f"{who} in {name}"
        else:
            text = f"'{name}' in {who}.tags"
        return text, lambda f: name in f.number(who, "tags")
    # in [...]
    negated = draw(st.booleans())
    choice = draw(st.sampled_from(["ingress", "trunk", "region"]))
    if choice == "ingress":
        values = draw(
            st.lists(
                st.sampled_from(["international", "national", "onnet"]), min_size=1, max_size=3
            )
        )
        name, getter = "ingress", call_feature("ingress")
    elif choice == "trunk":
        values = draw(st.lists(st.sampled_from(["gw-1", "gw-2", ""]), min_size=1, max_size=3))
        name, getter = "trunk", lambda f: f.call.get("trunk") or ""
    else:
        who = draw(st.sampled_from(WHO))
        values = draw(st.lists(st.sampled_from(REGIONS), min_size=1, max_size=3))
        name, getter = f"{who}.region", (lambda f: f.number(who, "region"))
    text = f"{name} {'not in' if negated else 'in'} [{', '.join(lit(v) for v in values)}]"

    def run(f: Facts) -> bool:
        x = getter(f)
        hit = x is not None and x in values
        return not hit if negated else hit

    return text, run


def combine(kind, parts):
    texts = [f"({t})" for t, _ in parts]
    runs = [r for _, r in parts]
    if kind == "and":
        return " and ".join(texts), lambda f: all(r(f) for r in runs)
    return " or ".join(texts), lambda f: any(r(f) for r in runs)


conditions = st.recursive(
    leaf(),
    lambda inner: st.one_of(
        inner.map(lambda p: (f"not ({p[0]})", lambda f, r=p[1]: not r(f))),
        st.tuples(st.sampled_from(["and", "or"]), st.lists(inner, min_size=2, max_size=3)).map(
            lambda kp: combine(*kp)
        ),
    ),
    max_leaves=6,
)


@st.composite
def rules(draw):
    out = []
    for i in range(draw(st.integers(1, 6))):
        text, run = draw(conditions)
        score = draw(st.sampled_from([0.0, 0.1, 0.35, 0.5, 0.9, 1.0]))
        action = draw(st.sampled_from([None, None, "block", "flag", "allow"]))
        if score == 0.0 and action is None:
            score = 0.3
        out.append(
            {
                "id": f"r{i}",
                "when": text,
                "run": run,
                "score": score,
                "action": action,
                "observe": draw(st.booleans()) and draw(st.booleans()),
            }
        )
    return out


@st.composite
def policies(draw):
    rs = draw(rules())
    flag = draw(st.sampled_from([0.3, 0.5]))
    block = draw(st.sampled_from([0.5, 0.9, 1.0]))
    mode = draw(st.sampled_from(["enforce", "enforce", "observe"]))
    offset = draw(st.sampled_from(["+05:00", "-03:30", "Z"]))
    return {"rules": rs, "flag": flag, "block": block, "mode": mode, "offset": offset}


def render(p) -> str:
    lines = [
        'home_region = "KZ"',
        'international_prefixes = ["00"]',
        f'mode = "{p["mode"]}"',
        f'utc_offset = "{p["offset"]}"',
        f"[thresholds]\nflag = {p['flag']}\nblock = {p['block']}",
        '[lists.la]\nkind = "block"',
        '[lists.lb]\nkind = "partner"',
        '[lists.lallow]\nkind = "allow"',
    ]
    for name, prefixes in PREFIXES.items():
        lines.append(f"[prefixes.{name}]\nprefixes = {json.dumps(prefixes)}")
    for r in p["rules"]:
        lines.append("[[rules]]")
        lines.append(f'id = "{r["id"]}"')
        lines.append(f"when = {json.dumps(r['when'])}")
        lines.append(f"score = {r['score']}")
        if r["action"]:
            lines.append(f'action = "{r["action"]}"')
        lines.append(f"observe = {'true' if r['observe'] else 'false'}")
    return "\n".join(lines) + "\n"


calls = st.fixed_dictionaries(
    {
        "caller": st.sampled_from(NUMBERS),
        "callee": st.sampled_from(NUMBERS + ["112", "104"]),
        "ingress": st.sampled_from(["international", "national", "onnet"]),
    },
    optional={
        "roaming": st.sampled_from([True, False, None]),
        "attestation": st.sampled_from(["A", "B", "C", None]),
        "duration": st.sampled_from(DURATIONS),
        "trunk": st.sampled_from(["gw-1", "gw-2", ""]),
        "network_number": st.sampled_from(NUMBERS[:10]),
    },
    # 1_795_932_000 is a Sunday 06:00 UTC.
).map(lambda c: {**c, "timestamp": 1_795_932_000 + 3600 * (len(c["caller"]) % 24)})


# --- The reference. ---------------------------------------------------------------------------


def local_time(ts: float, offset: str) -> Tuple[int, str]:
    secs = (
        0
        if offset == "Z"
        else (1 if offset[0] == "+" else -1) * (int(offset[1:3]) * 3600 + int(offset[4:6]) * 60)
    )
    t = int(ts // 1) + secs
    return (t % 86400) // 3600, WEEKDAYS[(t // 86400 + 3) % 7]


def reference(p, engine: fraudcore.Engine, call, lists) -> Tuple[str, str, float, List[str]]:
    callee_ingress = "national" if call["ingress"] == "international" else call["ingress"]
    numbers = {
        "caller": engine.lookup(call.get("caller") or "", call["ingress"]),
        "callee": engine.lookup(call.get("callee") or "", callee_ingress),
        "network_number": (
            engine.lookup(call["network_number"], call["ingress"])
            if call.get("network_number")
            else None
        ),
    }
    hour, weekday = local_time(call["timestamp"], p["offset"])
    facts = Facts(call, numbers, lists, hour, weekday)
    emergency = engine.is_emergency(call.get("callee") or "")
    matched = []
    for i, r in enumerate(p["rules"]):
        if r["run"](facts):
            matched.append(
                (i, r["id"], r["score"], r["action"], r["observe"] or p["mode"] == "observe")
            )
    rank = {"block": 0, "allow": 1, "flag": 2, None: 3}
    matched.sort(key=lambda m: (rank[m[3]], -m[2], m[0]))
    reasons = [m[1] for m in matched] + (["emergency_callee"] if emergency else [])

    def score_of(ms):
        keep = 1.0
        for m in ms:
            keep *= 1.0 - m[2]
        return 1.0 - keep

    def decide(ms):
        effects = {m[3] for m in ms}
        if "block" in effects:
            a = "block"
        elif "allow" in effects:
            a = "allow"
        else:
            s = score_of(ms)
            a = "block" if s >= p["block"] else "flag" if s >= p["flag"] else "allow"
            if "flag" in effects and a == "allow":
                a = "flag"
        return "flag" if emergency and a == "block" else a

    return decide([m for m in matched if not m[4]]), decide(matched), score_of(matched), reasons


@settings(max_examples=400)
@given(policies(), st.lists(calls, min_size=1, max_size=8))
def test_compiled_rules_agree_with_the_reference(p, some_calls):
    engine = fraudcore.Engine(policy(render(p)))
    lists = {"la": set(LIST_A), "lb": set(LIST_B), "lallow": {77011234567, 12015550123}}
    engine.set_list(fraudcore.NumberList.from_numbers(sorted(lists["la"]), name="la"))
    engine.set_list(
        fraudcore.NumberList.from_numbers(sorted(lists["lb"]), name="lb", kind="partner")
    )
    engine.set_list(
        fraudcore.NumberList.from_numbers(sorted(lists["lallow"]), name="lallow", kind="allow")
    )
    for call in some_calls:
        v = engine.score(call)
        action, would, score, reasons = reference(p, engine, call, lists)
        got = (v.action, v.would_action, list(v.reasons))
        assert got == (action, would, reasons), (render(p), call)
        assert abs(v.score - score) < 1e-9, (render(p), call)


def test_comparisons_at_their_boundaries():
    """Each operator on equal, smaller and larger values, and on unknown (none) values."""
    cases = [
        ("duration >= 5", {"duration": 5}, True),
        ("duration > 5", {"duration": 5}, False),
        ("duration <= 5", {"duration": 5}, True),
        ("duration < 5", {"duration": 5}, False),
        ("duration < 5", {}, False),
        ("duration != 5", {}, True),
        ("duration == none", {}, True),
        ("caller.country_code >= 7", {}, True),
        ("caller.country_code > 7", {}, False),
        ("7 < caller.country_code", {}, False),
        ("7 <= caller.country_code", {}, True),
        ("roaming != true", {"roaming": None}, True),
        ("roaming == false", {"roaming": None}, False),
        ("attestation in ['A', 'B']", {}, False),
        ("attestation not in ['A', 'B']", {}, True),
        ("network_number.region == none", {}, True),
        ("caller.e164 == '+77011234567'", {}, True),
        ("caller.e164 == network_number.e164", {}, False),
        ("callee.e164 == network_number.e164", {"callee": "", "network_number": "x"}, True),
        ("hour == 11 and weekday == 'sun'", {"timestamp": 1_795_932_000}, True),
        ("true and not false", {}, True),
    ]
    for when, fields, expected in cases:
        text = f'home_region = "KZ"\nutc_offset = "+05:00"\n[[rules]]\nid = "r"\nwhen = "{when}"\n'
        engine = fraudcore.Engine(policy(text + 'action = "flag"\n'))
        call = {"caller": "+77011234567", "callee": "87272123456", "ingress": "national", **fields}
        assert (engine.score(call).action == "flag") is expected, when
