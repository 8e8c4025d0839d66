"""Extract the numbering plan from the installed phonenumbers and cache the compiled form.

phonenumbers is the source of truth for the plan: its per-territory patterns, its carrier and
geocoding prefix tables and its short-number (emergency) data. This module turns them into
plain data for the Rust compiler, once per phonenumbers version, and keeps the compiled plan in
a cache file so later start-ups only memory-load it.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Optional

import phonenumbers
from phonenumbers import PhoneMetadata

from . import _fraudcore

_TYPE_FIELDS = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)


def _desc(desc: Any) -> Optional[dict]:
    if desc is None:
        return None
    return {
        "pattern": desc.national_number_pattern,
        "lengths": list(desc.possible_length or ()),
        "local_lengths": list(desc.possible_length_local_only or ()),
    }


def _territory(meta: Any, ident: str) -> dict:
    types = {name: _desc(getattr(meta, name)) for name in _TYPE_FIELDS}
    return {
        "id": ident,
        "country_code": meta.country_code,
        "international_prefix": meta.international_prefix,
        "national_prefix": meta.national_prefix,
        "national_prefix_for_parsing": meta.national_prefix_for_parsing,
        "national_prefix_transform_rule": meta.national_prefix_transform_rule,
        "leading_digits": meta.leading_digits,
        "same_mobile_and_fixed_line_pattern": bool(meta.same_mobile_and_fixed_line_pattern),
        "general": _desc(meta.general_desc) or {"pattern": None},
        "types": {k: v for k, v in types.items() if v is not None},
    }


def _english(table: dict, keep: Any) -> list:
    return sorted((p, names["en"]) for p, names in table.items() if "en" in names and keep(p))


def extract_source(regions: Optional[Iterable[str]] = None) -> dict:
    """The numbering plan of the installed phonenumbers as plain data (see `metadata.rs`).

    `regions` limits the extract to some territories (for small test fixtures).
    """
    from phonenumbers.carrierdata import CARRIER_DATA
    from phonenumbers.geodata import GEOCODE_DATA

    wanted = None if regions is None else {r.upper() for r in regions}
    country_codes, territories, codes = [], [], set()
    for cc, ids in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()):
        ids = [i for i in ids if wanted is None or i in wanted]
        metas = []
        for ident in ids:
            if ident == "001":
                meta = PhoneMetadata.metadata_for_nongeo_region(cc)
            else:
                meta = PhoneMetadata.metadata_for_region(ident)
            if meta is not None:
                metas.append((ident, meta))
        if not metas:
            continue
        codes.add(str(cc))
        country_codes.append([cc, [i for i, _ in metas]])
        territories.extend(_territory(m, i) for i, m in metas)

    prefixes = tuple(sorted(codes))

    def in_scope(prefix: str) -> bool:
        return wanted is None or prefix.startswith(prefixes)

    emergency = {}
    for region in phonenumbers.SUPPORTED_SHORT_REGIONS:
        if wanted is not None and region not in wanted:
            continue
        short = PhoneMetadata.short_metadata_for_region(region)
        if short is not None and short.emergency is not None:
            pattern = short.emergency.national_number_pattern
            if pattern:
                emergency[region] = pattern
    return {
        "source": f"phonenumbers {phonenumbers.__version__}",
        "country_codes": country_codes,
        "territories": territories,
        "carriers": _english(CARRIER_DATA, in_scope),
        "locations": _english(GEOCODE_DATA, in_scope),
        "emergency": emergency,
    }


def cache_dir() -> Path:
    """Where compiled plans are kept: `$FRAUDCORE_CACHE_DIR`, else the user cache directory."""
    env = os.environ.get("FRAUDCORE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fraudcore"


def cache_path() -> Path:
    """The cache file for this phonenumbers version, fraudcore version and plan format."""
    versions = f"pn{phonenumbers.__version__}-fc{_fraudcore.__version__}"
    name = f"numplan-{versions}-v{_fraudcore.PLAN_FORMAT_VERSION}.fcplan"
    return cache_dir() / name


@functools.lru_cache(maxsize=None)
def load_plan() -> "_fraudcore.NumberingPlan":
    """The compiled plan: from the cache when present and sound, else compiled and cached.

    Memoised: every engine of a process shares one plan.
    """
    path = cache_path()
    if path.exists():
        try:
            return _fraudcore.NumberingPlan.load(str(path))
        except (ValueError, OSError):
            pass  # corrupt or from another build: recompile below
    plan = _fraudcore.NumberingPlan.compile(json.dumps(extract_source()))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".numplan-", dir=str(path.parent))
        os.close(fd)
        plan.save(tmp)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home still works, just without the cache
    return plan
