"""phonenumbers as the numbering-plan oracle: number generators and the expected answers."""

from __future__ import annotations

import random
from functools import lru_cache
from typing import List, Optional, Tuple

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, carrier
from phonenumbers.geodata import GEOCODE_DATA, GEOCODE_LONGEST_PREFIX
from phonenumbers.prefix import _prefix_description_for_number

TYPE_NAMES = {
    getattr(PhoneNumberType, name): name.lower()
    for name in dir(PhoneNumberType)
    if name.isupper() and isinstance(getattr(PhoneNumberType, name), int)
}
EXAMPLE_TYPES = [t for t in TYPE_NAMES if t not in (PhoneNumberType.UNKNOWN,)]


@lru_cache(maxsize=None)
def valid_examples() -> List[Tuple[str, phonenumbers.PhoneNumber]]:
    """(region, number) for every example number phonenumbers ships, geographic and not."""
    out = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for t in EXAMPLE_TYPES:
            n = phonenumbers.example_number_for_type(region, t)
            if n is not None and phonenumbers.is_valid_number(n):
                out.append((region, n))
    for cc in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        meta = phonenumbers.PhoneMetadata.metadata_for_nongeo_region(cc)
        for attr in (
            "toll_free",
            "premium_rate",
            "shared_cost",
            "voip",
            "personal_number",
            "uan",
            "mobile",
        ):
            desc = getattr(meta, attr, None)
            if desc is not None and desc.example_number:
                n = phonenumbers.parse("+%d%s" % (cc, desc.example_number))
                if phonenumbers.is_valid_number(n):
                    out.append(("001", n))
    return out


def e164(n: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(n, PhoneNumberFormat.E164)


def mutate(rng: random.Random, n: phonenumbers.PhoneNumber) -> str:
    """An example number with some trailing digits replaced (often still valid)."""
    s = e164(n)
    k = rng.randint(1, min(5, len(s) - 3))
    return s[:-k] + "".join(rng.choice("0123456789") for _ in range(k))


def random_number(rng: random.Random) -> str:
    """A random digit string behind a real country code: mostly invalid, sometimes not."""
    cc = rng.choice(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE))
    length = rng.randint(2, 16 - len(str(cc)))
    return "+%d%s" % (cc, "".join(rng.choice("0123456789") for _ in range(length)))


def expected(raw_e164: str) -> Optional[dict]:
    """What phonenumbers says of an E.164 string, or None if it cannot parse it."""
    try:
        n = phonenumbers.parse(raw_e164)
    except phonenumbers.NumberParseException:
        return None
    valid = phonenumbers.is_valid_number(n)
    location = None
    if valid:
        location = (
            _prefix_description_for_number(GEOCODE_DATA, GEOCODE_LONGEST_PREFIX, n, "en") or None
        )
    return {
        "e164": e164(n),
        "region": phonenumbers.region_code_for_number(n),
        "valid": valid,
        "type": TYPE_NAMES[phonenumbers.number_type(n)],
        "carrier": carrier.name_for_number(n, "en") or None,
        "location": location,
    }


def observed(info) -> dict:
    return {k: getattr(info, k) for k in ("e164", "region", "valid", "type", "carrier", "location")}
