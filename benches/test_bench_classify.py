"""Normalise and classify ~2000 raw numbers: fraudcore beside phonenumbers (group "classify").

Each benchmark walks the whole list once per round, so the per-number cost is the round time
divided by the list length (recorded as `ns_per_item` in `extra_info`). Raw numbers are read
as a Kazakh switch reads them: fraudcore on `national` ingress, phonenumbers with default
region KZ; both accept `+` numbers as they are and KZ national formats such as `8 (701) ...`.
With numbers from ~245 regions, phonenumbers' patterns overflow Python's `re` cache (512
entries) and are recompiled: that is what a Python service with mixed traffic pays, too.
"""

from __future__ import annotations

from typing import List

import phonenumbers
import pytest
from phonenumbers import NumberParseException, carrier, geocoder

pytestmark = pytest.mark.benchmark(group="classify")

# fraudcore's type names, keyed by phonenumbers' PhoneNumberType values.
_TYPE_NAMES = {v: k.lower() for k, v in vars(phonenumbers.PhoneNumberType).items() if k.isupper()}


@pytest.fixture(scope="module")
def e164_numbers(engine, raw_numbers) -> List[str]:
    normalised = (engine.normalize(raw, "national") for raw in raw_numbers)
    return [e for e in normalised if e is not None]


def _phonenumbers_classify(raws: List[str]) -> None:
    parse, valid = phonenumbers.parse, phonenumbers.is_valid_number
    kind, region = phonenumbers.number_type, phonenumbers.region_code_for_number
    for raw in raws:
        try:
            n = parse(raw, "KZ")
        except NumberParseException:
            continue
        valid(n)
        kind(n)
        region(n)


def test_fraudcore_normalize_classify(engine, raw_numbers, run_per_item):
    def run(raws: List[str]) -> None:
        # Bound methods hoisted: the loop should time fraudcore, not attribute lookups.
        normalize, classify = engine.normalize, engine.classify
        for raw in raws:
            e164 = normalize(raw, "national")
            if e164 is not None:
                classify(e164)

    run_per_item(run, raw_numbers, impl="fraudcore", operation="normalise + classify")


def test_phonenumbers_normalize_classify(raw_numbers, run_per_item):
    run_per_item(
        _phonenumbers_classify, raw_numbers, impl="phonenumbers", operation="normalise + classify"
    )


def test_fraudcore_classify_e164(engine, e164_numbers, run_per_item):
    def run(numbers: List[str]) -> None:
        classify = engine.classify
        for n in numbers:
            classify(n)

    run_per_item(run, e164_numbers, impl="fraudcore", operation="classify E.164")


def test_phonenumbers_classify_e164(e164_numbers, run_per_item):
    run_per_item(
        _phonenumbers_classify, e164_numbers, impl="phonenumbers", operation="classify E.164"
    )


def test_fraudcore_lookup_names(engine, raw_numbers, run_per_item):
    def run(raws: List[str]) -> None:
        lookup = engine.lookup
        for raw in raws:
            info = lookup(raw, "national")
            # Names become Python strings only when read; phonenumbers' side builds them too.
            _ = (info.carrier, info.location)

    run_per_item(run, raw_numbers, impl="fraudcore", operation="lookup + carrier + area")


def test_phonenumbers_lookup_names(raw_numbers, run_per_item):
    def run(raws: List[str]) -> None:
        parse, valid = phonenumbers.parse, phonenumbers.is_valid_number
        kind, region = phonenumbers.number_type, phonenumbers.region_code_for_number
        for raw in raws:
            try:
                n = parse(raw, "KZ")
            except NumberParseException:
                continue
            valid(n)
            kind(n)
            region(n)
            carrier.name_for_number(n, "en")
            geocoder.description_for_number(n, "en")

    run_per_item(run, raw_numbers, impl="phonenumbers", operation="lookup + carrier + area")


def test_same_answers(engine, raw_numbers):
    """The side-by-side is fair only if both libraries reach the same answers."""
    mismatches = []
    for raw in raw_numbers:
        info = engine.lookup(raw, "national")
        try:
            n = phonenumbers.parse(raw, "KZ")
            ref = (
                phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164),
                phonenumbers.region_code_for_number(n),
                phonenumbers.is_valid_number(n),
                _TYPE_NAMES[phonenumbers.number_type(n)],
            )
        except NumberParseException:
            ref = (None, None, False, "unknown")
        if (info.e164, info.region, info.valid, info.type) != ref:
            mismatches.append((raw, info, ref))
    assert mismatches == []
