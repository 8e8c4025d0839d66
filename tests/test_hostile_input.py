"""Every call field is attacker-chosen: any str, any length, any bytes never crash scoring."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import fraudcore

texts = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=5000),
    st.binary(max_size=60),
    st.integers(min_value=0, max_value=2**64 - 1),
    st.none(),
    st.from_regex(r"\+?[0-9 ()\-.]{0,30}", fullmatch=True),
)


@given(texts, texts, st.sampled_from(["international", "national", "onnet"]), texts)
def test_scoring_never_raises_on_hostile_numbers(engine, caller, callee, ingress, network):
    v = engine.score(
        {"caller": caller, "callee": callee, "ingress": ingress, "network_number": network}
    )
    assert v.action in ("allow", "flag", "block")
    assert 0.0 <= v.score <= 1.0
    if v.caller.e164 is None:
        assert v.caller.invalid_reason in fraudcore.INVALID_REASONS


def test_lone_surrogates_and_nul_are_invalid(engine):
    for raw in ["+7701\ud800234567", "+7701\x00234567", "\udfff"]:
        assert engine.lookup(raw).invalid_reason == "bad_character"


def test_fullwidth_and_arabic_indic_digits_normalise(engine):
    assert engine.normalize("＋７７０１１２３４５６７") == "+77011234567"
    assert engine.normalize("+٧٧٠١١٢٣٤٥٦٧") == "+77011234567"


def test_overlong_input_is_rejected_without_scanning(engine):
    assert engine.lookup("+7" + "0" * 10_000_000).invalid_reason == "too_long"
