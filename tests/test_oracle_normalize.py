"""E.164 normalisation agrees with phonenumbers.parse on valid numbers in every format."""

from __future__ import annotations

import phonenumbers
import pytest
from engines import bare
from hypothesis import given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat as F

import fraudcore
from oracle import e164, valid_examples

GEOGRAPHIC = [(r, n) for r, n in valid_examples() if r != "001"]


def parsed(raw, region):
    try:
        return e164(phonenumbers.parse(raw, region))
    except phonenumbers.NumberParseException:
        return None


@pytest.fixture(scope="module")
def kz():
    return bare("KZ", ["00"])


_engines = {}


def home(region):
    if region not in _engines:
        _engines[region] = bare(region)
    return _engines[region]


@pytest.mark.parametrize(
    "form",
    [
        "e164",
        "international",
        "idd_810",
        "idd_00",
        "digits_on_international",
        "e164_on_international",
    ],
)
def test_international_forms_of_every_example(kz, form):
    for _, n in valid_examples():
        s = e164(n)
        digits = s[1:]
        raw, ingress, oracle_raw, oracle_region = {
            "e164": (s, "national", s, "KZ"),
            "international": (
                phonenumbers.format_number(n, F.INTERNATIONAL),
                "national",
                None,
                "KZ",
            ),
            "idd_810": ("810 " + digits, "national", None, "KZ"),
            "idd_00": ("00" + digits, "national", s, None),
            "digits_on_international": (digits, "international", s, None),
            "e164_on_international": (s, "international", s, None),
        }[form]
        want = parsed(oracle_raw or raw, oracle_region)
        assert want is not None
        assert kz.normalize(raw, ingress) == want, (raw, ingress)


@given(st.sampled_from(GEOGRAPHIC), st.sampled_from(["national", "nsn", "cc_nsn", "prefix_nsn"]))
def test_national_forms_with_any_home_region(example, form):
    region, n = example
    nsn = phonenumbers.national_significant_number(n)
    prefix = phonenumbers.PhoneMetadata.metadata_for_region(region).national_prefix or ""
    raw = {
        "national": phonenumbers.format_number(n, F.NATIONAL),
        "nsn": nsn,
        "cc_nsn": f"{n.country_code}{nsn}",
        "prefix_nsn": prefix + nsn,
    }[form]
    want = parsed(raw, region)
    if want is not None:
        assert home(region).normalize(raw, "national") == want, (region, raw)
        assert home(region).normalize(raw, "onnet") == want


@pytest.mark.parametrize(
    "raw",
    [
        "+77011234567",
        "77011234567",
        "87011234567",
        "8 (701) 123-45-67",
        "+7 701 123 45 67",
        "810 7 701 123 45 67",
        "00 7 701 123 45 67",
        "7011234567",
        "8.701.123.45.67",
        "tel:+7-701-123-45-67",
    ],
)
def test_the_formats_switches_present(kz, raw):
    assert kz.normalize(raw) == "+77011234567"


@pytest.mark.parametrize(
    "raw, want",
    [("79161234567", "+79161234567"), ("7 495 123 45 67", "+74951234567")],
)
def test_shared_country_code_without_plus(kz, raw, want):
    """Deliberate difference: phonenumbers reads these in KZ as invalid `+7 7916…` numbers."""
    assert kz.normalize(raw) == want
    assert parsed(raw, "KZ") != want


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("", "empty"),
        ("()", "empty"),
        ("Anonymous", "withheld"),
        ("+7701abc4567", "bad_character"),
        ("+7 701 123 45 67 ext 5", "bad_character"),
        ("+", "empty"),
        ("+7", "too_short"),
        ("1" * 40, "too_long"),
        ("+999 123 456", "unknown_country_code"),
        ("0" * 300, "too_long"),
    ],
)
def test_garbage_has_a_reason(kz, raw, reason):
    assert kz.normalize(raw) is None
    assert kz.lookup(raw).invalid_reason == reason
    assert reason in fraudcore.INVALID_REASONS
