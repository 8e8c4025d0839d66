"""Classification agrees with phonenumbers (region, validity, type, carrier, location)."""

from __future__ import annotations

import os
import random

import phonenumbers
import pytest
from engines import bare
from hypothesis import given
from hypothesis import strategies as st

from oracle import expected, mutate, observed, random_number, valid_examples


@pytest.fixture(scope="module")
def plain():
    """No overlay: the operator overlay deliberately differs from phonenumbers."""
    return bare("KZ")


def test_every_example_number_agrees(plain):
    examples = valid_examples()
    assert len(examples) > 1300  # every region and type phonenumbers has examples for
    for _, n in examples:
        from oracle import e164

        s = e164(n)
        assert observed(plain.classify(s)) == expected(s), s


@given(st.randoms(use_true_random=False), st.sampled_from(valid_examples()))
def test_mutated_examples_agree(plain, rng, example):
    s = mutate(rng, example[1])
    want = expected(s)
    if want is not None:
        assert observed(plain.classify(s)) == want, s


@given(st.randoms(use_true_random=False))
def test_random_numbers_agree(plain, rng):
    s = random_number(rng)
    want = expected(s)
    if want is not None:
        assert observed(plain.classify(s)) == want, s


def test_agreement_rate_on_a_fixed_sample(plain):
    """The figure the README quotes; `FRAUDCORE_ORACLE_N` sets the sample size."""
    rng = random.Random(20261129)
    n = int(os.environ.get("FRAUDCORE_ORACLE_N", "4000"))
    examples = valid_examples()
    numbers = [mutate(rng, rng.choice(examples)[1]) for _ in range(n)]
    numbers += [random_number(rng) for _ in range(n)]
    compared = disagreements = 0
    for s in numbers:
        want = expected(s)
        if want is None:
            continue
        compared += 1
        got = observed(plain.classify(s))
        disagreements += got != want
    assert compared > n
    assert disagreements / compared <= 0.001, f"{disagreements} of {compared} disagree"


def test_separates_kz_from_ru_and_nanp_regions(plain):
    assert plain.classify("+77011234567").region == "KZ"
    assert plain.classify("+79161234567").region == "RU"
    assert plain.classify("+12125550000").region == "US"
    assert plain.classify("+14165550199").region == "CA"
    assert plain.classify("+18765550123").region == "JM"


def test_overlay_is_the_documented_difference(engine, plain):
    """Engine.default() lays the KZ overlay over the plan: +7 6xx is Kazakh, still unallocated."""
    assert plain.classify("+76001234567").region is None
    info = engine.classify("+76001234567")
    assert (info.region, info.valid, info.tags) == ("KZ", False, ("kz_reserved",))


def _pattern_sources():
    """(country code, national-number pattern) of every type description of every territory."""
    out = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        for attr in (
            "fixed_line",
            "mobile",
            "toll_free",
            "premium_rate",
            "shared_cost",
            "voip",
            "personal_number",
            "pager",
            "uan",
            "voicemail",
        ):
            desc = getattr(meta, attr)
            if desc is not None and desc.national_number_pattern:
                out.append((meta.country_code, desc.national_number_pattern))
    return out


PATTERNS = _pattern_sources()


@given(st.sampled_from(PATTERNS), st.data())
def test_numbers_drawn_from_the_metadata_patterns_agree(plain, source, data):
    """Valid-shaped numbers generated from the patterns themselves, not only the examples."""
    cc, pattern = source
    nsn = data.draw(st.from_regex(pattern, fullmatch=True).filter(lambda s: s.isascii()))
    s = f"+{cc}{nsn}"
    want = expected(s)
    if want is not None:
        assert observed(plain.classify(s)) == want, s
