"""engine.score() with the default policy: the anti-spoofing checks, the call contract and the
Verdict."""

from __future__ import annotations

from collections import UserDict
from types import MappingProxyType

import pytest
from engines import bare

import fraudcore

KZ_MOBILE = "+77011234567"
ALMATY = "87272123456"


def call(**fields):
    base = {"caller": KZ_MOBILE, "callee": ALMATY, "ingress": "international"}
    base.update(fields)
    return base


def test_home_cli_from_abroad_is_blocked(engine):
    v = engine.score(call(attestation="A"))
    assert (v.action, v.reasons) == ("block", ("spoofed_home_cli",))
    assert v.score == pytest.approx(0.95)
    # No attestation adds the weak signal.
    assert engine.score(call()).reasons == ("spoofed_home_cli", "weak_attestation")
    assert v.caller.e164 == KZ_MOBILE and v.caller.region == "KZ" and v.caller.type == "mobile"
    assert v.callee.e164 == "+77272123456" and v.callee.location == "Almaty"


@pytest.mark.parametrize("roaming", [True, "true", "yes", 1, "1"])
def test_roaming_subscribers_calling_home_are_allowed(engine, roaming):
    v = engine.score(call(roaming=roaming, attestation="A"))
    assert (v.action, v.reasons, v.score) == ("allow", (), 0.0)


@pytest.mark.parametrize("roaming", [None, False, "false", "", "unknown", 0])
def test_roaming_not_true_does_not_exempt(engine, roaming):
    assert engine.score(call(roaming=roaming)).action == "block"


@pytest.mark.parametrize("ingress", ["national", "onnet"])
def test_home_cli_on_domestic_ingress_is_allowed(engine, ingress):
    assert engine.score(call(ingress=ingress)).action == "allow"


@pytest.mark.parametrize(
    "caller", ["+79161234567", "+74951234567", "+14155552671", "+442071838750"]
)
def test_foreign_callers_from_abroad_are_allowed(engine, caller):
    v = engine.score(call(caller=caller))
    assert v.action == "allow", v.reasons


@pytest.mark.parametrize(
    "caller, reason, action",
    [
        ("ABC123", "invalid_cli", "block"),
        ("", "invalid_cli", "block"),
        (None, "invalid_cli", "block"),
        ("+76001234567", "unallocated_home_cli", "block"),
        ("+77001", "unallocated_home_cli", "block"),
        ("+4412345", "unallocated_foreign_cli", "flag"),
    ],
)
def test_invalid_and_unallocated_callers(engine, caller, reason, action):
    v = engine.score(call(caller=caller, ingress="national"))
    assert (v.action, v.reasons[0]) == (action, reason)


def test_withheld_cli_is_flagged_from_abroad_only(engine):
    v = engine.score(call(caller="anonymous", attestation="A"))
    assert (v.action, v.reasons) == ("flag", ("withheld_cli_international",))
    assert engine.score(call(caller="anonymous", ingress="national")).action == "allow"


def test_reasons_are_ordered_by_importance(engine):
    v = engine.score(call(caller="+76001234567"))
    assert v.reasons == ("unallocated_home_cli", "spoofed_home_cli", "weak_attestation")
    assert v.score == 1.0
    assert [d["action"] for d in v.details] == ["block", "block", None]
    assert v.details[1]["description"].startswith("Home-country CLI")


@pytest.mark.parametrize("callee", ["112", "101", "102", "103", "104"])
def test_emergency_calls_are_never_blocked(engine, callee):
    v = engine.score(call(caller="garbage!", callee=callee))
    assert v.action != "block"
    assert "emergency_callee" in v.reasons
    assert engine.is_emergency(callee)


def test_network_number_is_checked(engine):
    v = engine.score(call(caller="+442071838750", network_number=KZ_MOBILE, attestation="B"))
    assert (v.action, v.reasons) == ("block", ("spoofed_home_network_number",))
    assert v.network_number.region == "KZ"
    assert engine.score(call(caller="+442071838750")).network_number is None
    # A home CLI whose network-asserted identity is foreign: presentation spoofing.
    v = engine.score(call(ingress="national", network_number="+442071838750"))
    assert (v.action, v.reasons) == ("block", ("network_number_mismatch",))


def test_call_object_and_mappings_score_alike(engine):
    fields = call(roaming=False, attestation="C", duration=12, timestamp=1764374400, trunk="gw-1")
    expected = engine.score(fields)
    for form in (
        fraudcore.Call(**fields),
        MappingProxyType(fields),
        UserDict(fields),
        {**fields, "extra": "kept out of scoring"},
    ):
        v = engine.score(form)
        assert (v.action, v.score, v.reasons) == (expected.action, expected.score, expected.reasons)


def test_call_object_keeps_its_fields():
    c = fraudcore.Call(
        KZ_MOBILE, ALMATY, "International", roaming="yes", attestation="b", duration="3.5"
    )
    assert (c.ingress, c.roaming, c.attestation, c.duration) == ("international", True, "B", 3.5)
    assert c.timestamp is None and c.trunk == "" and c.network_number is None
    assert "Call(" in repr(c)


@pytest.mark.parametrize(
    "fields, exc, word",
    [
        ({"ingress": "satellite"}, fraudcore.InvalidValueError, "ingress"),
        ({"ingress": None}, fraudcore.InvalidTypeError, "ingress"),
        ({"roaming": "maybe"}, fraudcore.InvalidValueError, "roaming"),
        ({"roaming": 2}, fraudcore.InvalidValueError, "roaming"),
        ({"attestation": "D"}, fraudcore.InvalidValueError, "attestation"),
        ({"attestation": 1}, fraudcore.InvalidTypeError, "attestation"),
        ({"duration": -1}, fraudcore.InvalidValueError, "duration"),
        ({"duration": float("nan")}, fraudcore.InvalidValueError, "duration"),
        ({"duration": "long"}, fraudcore.InvalidValueError, "duration"),
        ({"timestamp": [1]}, fraudcore.InvalidTypeError, "timestamp"),
        ({"caller": 1.5}, fraudcore.InvalidTypeError, "caller"),
        ({"callee": ["112"]}, fraudcore.InvalidTypeError, "callee"),
        ({"trunk": object()}, fraudcore.InvalidTypeError, "trunk"),
    ],
)
def test_bad_fields_raise_named_errors(engine, fields, exc, word):
    with pytest.raises(exc, match=word) as info:
        engine.score(call(**fields))
    assert isinstance(info.value, fraudcore.FraudcoreError)
    stdlib = ValueError if issubclass(exc, ValueError) else TypeError
    assert isinstance(info.value, stdlib)


def test_missing_ingress_is_named(engine):
    with pytest.raises(fraudcore.InvalidValueError, match="ingress"):
        engine.score({"caller": KZ_MOBILE, "callee": ALMATY})


def test_non_mappings_are_rejected(engine):
    with pytest.raises(fraudcore.InvalidTypeError, match="call"):
        engine.score([KZ_MOBILE, ALMATY])


def test_numbers_given_as_ints_and_bytes(engine):
    v = engine.score(call(caller=77011234567, callee=b"87272123456"))
    assert v.caller.e164 == KZ_MOBILE and v.callee.e164 == "+77272123456"
    # Any int is read as its decimal text (a leading "-" is a separator like any other).
    assert engine.score(call(caller=-77011234567)).caller.e164 == KZ_MOBILE
    assert engine.score(call(caller=10**40)).caller.invalid_reason == "too_long"


def test_verdict_and_info_reprs(engine):
    v = engine.score(call(attestation="A"))
    assert repr(v) == "Verdict(action='block', score=0.950, reasons=('spoofed_home_cli',))"
    assert "KZ" in repr(v.caller) and "mobile" in repr(v.caller)
    assert "bad_character" in repr(engine.lookup("x"))


def test_engine_accepts_a_policy_a_path_or_nothing(tmp_path):
    default = fraudcore.Engine()
    assert default.policy.source == fraudcore.DEFAULT_POLICY
    assert fraudcore.Engine(fraudcore.DEFAULT_POLICY).policy.rules == default.policy.rules
    with pytest.raises(fraudcore.InvalidTypeError, match="policy"):
        fraudcore.Engine(42)
    with pytest.raises(fraudcore.FileError) as info:
        fraudcore.Engine(tmp_path / "missing.toml")
    assert isinstance(info.value, OSError)
    assert "Engine(policy=" in repr(default) and "rules=" in repr(default)


def test_thresholds_decide_between_flag_and_block():
    strict = bare(
        rules="[thresholds]\nflag = 0.3\nblock = 0.5\n"
        '[[rules]]\nid = "w"\nwhen = "caller.invalid_reason == \'withheld\'"\nscore = 0.5\n'
    )
    assert strict.score(call(caller="anonymous", ingress="national")).action == "block"
    assert strict.score(call(caller="+77011234567", ingress="national")).action == "allow"
