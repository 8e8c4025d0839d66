"""Labelled call traffic for the bundled default policy: a seeded, fast generator.

`simulate(n)` yields call dicts in timestamp order: mostly legitimate Kazakh traffic, with the
fraud the default policy is written against mixed in (`DEFAULT_MIX`). Every call carries its
scenario and `expected`, the action `fraudcore.Engine.default()` takes on it once
`World.apply` has filled the policy's lists and one engine scores the calls in order. Used by
`fraudcore simulate`, `fraudcore demo`, the tests and the benchmarks. Standard library only.

Velocity scenarios (robocall bursts, sequential dialling, wangiri bursts, a hacked PBX) are
campaigns of one fresh CLI each; their labels follow the policy's counters call by call
(`_Counters` replays the definitions of `rust/velocity`). Small pools (the allowlist, the
partner list) are counted the same way. Every other CLI comes from a range large enough that it
calls too rarely to trip a velocity rule. Ranges are split so that traffic never hits the
World's lists by accident (see `world`).

Speed (benchmarks generate millions of calls): every random choice is one `getrandbits` into a
table of 2**k entries, and a call is a copy of a prepared template (`_variants`).
"""

from __future__ import annotations

import csv
import random
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from math import log
from typing import (
    Any,
    Callable,
    ClassVar,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
)

__all__ = [
    "DEFAULT_MIX",
    "FIELDS",
    "SCENARIOS",
    "Scenario",
    "World",
    "simulate",
    "world",
    "write_csv",
]

ALLOW, FLAG, BLOCK = "allow", "flag", "block"


@dataclass(frozen=True)
class Scenario:
    """A kind of call: `name` (the `scenario` field), `expected` (what the policy does to it;
    for velocity campaigns, once the pattern is established: each call carries its own
    `expected`), `label` (human text)."""

    name: str
    expected: str
    label: str


#: Every scenario `simulate` generates, legitimate ones first.
SCENARIOS: Tuple[Scenario, ...] = (
    Scenario("onnet_subscriber", ALLOW, "own subscriber calls a number at home or abroad"),
    Scenario("national_offnet", ALLOW, "caller from another domestic network"),
    Scenario("foreign_caller", ALLOW, "foreign caller from abroad (UZ, KG, TR, CN, DE, ...)"),
    Scenario("russian_caller", ALLOW, "Russian +7 mobile or landline calling from abroad"),
    Scenario("roaming_home", ALLOW, "own subscriber roaming abroad calls home"),
    Scenario("allowlisted_bank", ALLOW, "a bank's registered outbound number (allowlisted)"),
    Scenario("withheld_national", ALLOW, "withheld CLI from a domestic network"),
    Scenario("emergency_call", ALLOW, "call to an emergency number (112, 101-104)"),
    Scenario("spoofed_home_cli", BLOCK, "Kazakh CLI, often a bank's, spoofed from abroad"),
    Scenario("spoofed_network_number", BLOCK, "foreign CLI with a Kazakh network number"),
    Scenario("network_number_mismatch", BLOCK, "Kazakh CLI with a foreign network number"),
    Scenario("dno_cli", BLOCK, "a bank hotline (do-not-originate) placing a call"),
    Scenario("blocklisted_cli", BLOCK, "a number on the shared blocklist (CLI or network number)"),
    Scenario("partner_listed", FLAG, "a number a partner operator reports (bloom filter)"),
    Scenario("invalid_cli", BLOCK, "a CLI that is not a number: letters, too short"),
    Scenario("unallocated_home", BLOCK, "a CLI in an unallocated Kazakh range (+7 6xx, +7 0xx)"),
    Scenario("unallocated_foreign", FLAG, "a foreign CLI no plan knows: too short, no such area"),
    Scenario("withheld_international", FLAG, "withheld CLI from abroad"),
    Scenario("irsf_premium", FLAG, "own subscriber calls a foreign premium-rate number"),
    Scenario("irsf_high_risk", FLAG, "own subscriber calls an IRSF high-risk destination"),
    Scenario("wangiri_one_ring", FLAG, "one-ring call from a wangiri range (CDR: 0-4 s)"),
    Scenario("robocall_burst", BLOCK, "one CLI, 60+ calls a minute to 40+ subscribers"),
    Scenario("sequential_dialling", FLAG, "one CLI dialling through a number block"),
    Scenario("wangiri_burst", FLAG, "one foreign CLI ringing many subscribers briefly"),
    Scenario("pbx_irsf_pumping", BLOCK, "hacked PBX pumping calls to IRSF destinations"),
)

#: The default share of each scenario (sums to 1): 85 % legitimate traffic, fraud 0.5-2 % a
#: scenario. Campaigns reach their thresholds when `rate × share` gives them a call every few
#: seconds or faster: at the default 500 calls/s a robocall burst makes 10 calls a second.
DEFAULT_MIX: Dict[str, float] = {
    # legitimate: 0.85
    "onnet_subscriber": 0.45,
    "national_offnet": 0.22,
    "foreign_caller": 0.08,
    "russian_caller": 0.04,
    "roaming_home": 0.03,
    "allowlisted_bank": 0.02,
    "withheld_national": 0.005,
    "emergency_call": 0.005,
    # fraud with a fixed label: 0.10
    "spoofed_home_cli": 0.02,
    "spoofed_network_number": 0.005,
    "network_number_mismatch": 0.005,
    "dno_cli": 0.01,
    "blocklisted_cli": 0.01,
    "partner_listed": 0.005,
    "invalid_cli": 0.005,
    "unallocated_home": 0.005,
    "unallocated_foreign": 0.005,
    "withheld_international": 0.01,
    "irsf_premium": 0.005,
    "irsf_high_risk": 0.005,
    "wangiri_one_ring": 0.01,
    # velocity campaigns, labelled call by call: 0.05
    "robocall_burst": 0.02,
    "sequential_dialling": 0.01,
    "wangiri_burst": 0.01,
    "pbx_irsf_pumping": 0.01,
}

#: CSV header order: the CDR fields, then the labels.
FIELDS: Tuple[str, ...] = (
    "timestamp",
    "caller",
    "callee",
    "ingress",
    "roaming",
    "attestation",
    "duration",
    "trunk",
    "network_number",
    "scenario",
    "expected",
)

# --- The default policy, as far as labels need it (tests/test_simulate.py checks these against
# default_policy.toml). Scores of score-only rules; thresholds of the velocity rules.
FLAG_AT, BLOCK_AT = 0.5, 0.9
S_PARTNER = 0.6  # partner_listed_cli
S_WITHHELD_INTL = 0.5  # withheld_cli_international
S_PREMIUM = 0.6  # irsf_premium_destination
S_IRSF = 0.5  # irsf_high_risk_destination
S_WANGIRI_RANGE = 0.5  # wangiri_high_risk_range
S_ONE_RING = 0.6  # wangiri_one_ring: duration < ONE_RING_BELOW
ONE_RING_BELOW = 5
S_WEAK = 0.1  # weak_attestation: international, attestation C or none
BURST_CALLS, BURST_DISTINCT, S_BURST = 20, 15, 0.6  # robocall_burst
CRITICAL_CALLS, CRITICAL_DISTINCT = 60, 40  # robocall_burst_critical: block
SEQUENTIAL, S_SEQUENTIAL = 8, 0.7  # sequential_dialling
WANGIRI_DISTINCT, WANGIRI_SHORT, S_WANGIRI = 10, 0.8, 0.7  # wangiri_burst
PUMPING_CALLS, PUMPING_NIGHT_CALLS = 20, 5  # irsf_pumping, irsf_pumping_night: block
NIGHT_FROM, NIGHT_UNTIL = 22, 6
# [velocity] and utc_offset of the default policy.
WINDOW, SHORT_CALL, SEQUENTIAL_GAP, UTC_OFFSET = 3600, 6.0, 10, 5 * 3600
GRANULE = WINDOW // 12

# --- Numbers. A range is (country code, national prefixes, random digits after the prefix).
_KZ_OWN = ("701", "702", "775", "778")  # the home operator's mobile codes (Kcell/Activ)
_KZ_OTHER = ("700", "705", "707", "708", "747", "771", "776", "777")
_KZ_MOBILE = _KZ_OWN + _KZ_OTHER
_RU_MOBILE = ("903", "905", "909", "915", "916", "925", "926", "985", "999")
_RU_FIXED = ("495", "499", "812")
# Valid in phonenumbers for any random digits (the tests check every generated caller).
_FOREIGN = (  # (cc, prefixes, digits, weight): legitimate callers from abroad
    ("998", ("90", "91", "93", "94", "97"), 7, 14),  # Uzbekistan
    ("996", ("55", "70"), 7, 8),  # Kyrgyzstan
    ("90", ("532", "542", "555"), 7, 8),  # Turkey
    ("86", ("138", "139"), 8, 8),  # China
    ("49", ("151",), 8, 4),  # Germany, mobile
    ("49", ("30",), 8, 2),  # Berlin
    ("44", ("7400", "7500", "7824"), 6, 4),  # UK, mobile
    ("44", ("2079",), 6, 2),  # London
    ("1", ("2122", "2125", "4153", "3057", "6468"), 6, 4),  # United States
    ("971", ("50",), 7, 4),  # UAE
    ("82", ("1023",), 6, 3),  # South Korea
    ("91", ("98",), 8, 3),  # India
    ("995", ("555", "599"), 6, 3),  # Georgia
    ("992", ("50",), 7, 3),  # Tajikistan
    ("994", ("50",), 7, 3),  # Azerbaijan
    ("33", ("612", "678"), 6, 2),  # France
    ("39", ("333", "347"), 7, 2),  # Italy
)
_WANGIRI = (  # ranges under prefixes/wangiri_high_risk.txt
    ("216", ("20", "98"), 6, 4),  # Tunisia
    ("222", ("3",), 7, 2),  # Mauritania
    ("225", ("07",), 8, 2),  # Cote d'Ivoire
    ("235", ("66",), 6, 2),  # Chad
    ("242", ("066",), 6, 2),  # Republic of the Congo
    ("243", ("81",), 7, 2),  # DR Congo
    ("261", ("32",), 7, 2),  # Madagascar
    ("269", ("3",), 6, 2),  # Comoros
    ("373", ("69", "78"), 6, 2),  # Moldova
    ("387", ("61",), 6, 2),  # Bosnia and Herzegovina
    ("960", ("7",), 6, 2),  # Maldives
)
_WANGIRI_FRESH = (  # one-ring campaigns from ranges no prefix list has yet
    ("375", ("291", "447"), 6, 2),  # Belarus
    ("383", ("44",), 6, 1),  # Kosovo
    ("94", ("77",), 7, 1),  # Sri Lanka
    ("257", ("79",), 6, 1),  # Burundi
)
_UNALLOCATED = (  # foreign CLIs that parse but are in no range (flagged: plans may lag)
    ("44", ("20794",), 3, 1),  # London, too short
    ("1", ("555", "211"), 7, 2),  # no such US area code
    ("49", ("15",), 4, 1),  # German mobile, too short
    ("998", ("90",), 4, 1),  # Uzbek mobile, too short
    ("86", ("13",), 6, 1),  # Chinese mobile, too short
)
_IRSF = (  # destinations under prefixes/irsf_high_risk.txt, with their rule scores
    ("53", ("52", "55"), 6, 4, (S_IRSF,)),  # Cuba
    ("252", ("61",), 7, 2, (S_IRSF,)),  # Somalia
    ("224", ("622",), 6, 2, (S_IRSF,)),  # Guinea
    ("232", ("76",), 6, 2, (S_IRSF,)),  # Sierra Leone
    ("231", ("77",), 7, 2, (S_IRSF,)),  # Liberia
    ("239", ("990",), 4, 1, (S_IRSF,)),  # Sao Tome and Principe
    ("220", ("70",), 5, 1, (S_IRSF,)),  # Gambia
    ("675", ("7",), 7, 2, (S_IRSF,)),  # Papua New Guinea
    ("674", ("555",), 4, 1, (S_IRSF,)),  # Nauru
    ("682", ("50",), 3, 1, (S_IRSF,)),  # Cook Islands
    ("882", ("16",), 5, 1, (S_IRSF,)),  # International Networks
    ("371", ("90",), 6, 1, (S_PREMIUM, S_IRSF)),  # Latvia, premium rate
)
_PREMIUM = (  # foreign premium-rate numbers outside the IRSF list
    ("44", ("909",), 7, 4, (S_PREMIUM,)),  # UK 09
    ("1", ("9002", "9005", "9009"), 6, 2, (S_PREMIUM,)),  # US 1-900
    ("49", ("90010", "90030"), 5, 1, (S_PREMIUM,)),  # Germany 0900
)

# Calls from the home network and from abroad present numbers in these forms.
_KZ_HOME_FORMATS = (  # (format, weight); `s` is the 10-digit national number
    (lambda s: "+7" + s, 6),
    (lambda s: "8" + s, 5),
    (lambda s: "+7 " + s[:3] + " " + s[3:6] + " " + s[6:8] + " " + s[8:], 2),
    (lambda s: "8 (" + s[:3] + ") " + s[3:6] + "-" + s[6:8] + "-" + s[8:], 1),
    (lambda s: "7" + s, 1),
    (lambda s: s, 1),
)
_KZ_CITY_FORMATS = (  # landlines with a 4-digit area code
    (lambda s: "+7" + s, 6),
    (lambda s: "8" + s, 5),
    (lambda s: "+7 " + s[:4] + " " + s[4:6] + " " + s[6:8] + " " + s[8:], 2),
    (lambda s: "8 (" + s[:4] + ") " + s[4:6] + "-" + s[6:8] + "-" + s[8:], 2),
    (lambda s: "7" + s, 1),
)
_KZ_ABROAD_FORMATS = (  # +7 numbers arriving from an international gateway
    (lambda s: "+7" + s, 8),
    (lambda s: "7" + s, 4),
    (lambda s: "+7 " + s[:3] + " " + s[3:6] + " " + s[6:8] + " " + s[8:], 2),
    (lambda s: "007" + s, 1),
)
# Prefixes: of foreign numbers (country code and national number) arriving from abroad,
_INTL_PREFIXES = (("+", 8), ("", 4), ("00", 2))
# of numbers abroad that a home subscriber dials,
_DIAL_ABROAD = (("810", 3), ("00", 3), ("+", 2), ("8 10 ", 1))
# and of home numbers (10 digits) that calls are made to, as switches pass them on.
_DIAL_HOME = (("8", 6), ("+7", 3), ("7", 2), ("", 1))
_WITHHELD = ("anonymous", "Anonymous", "restricted", "private", "unavailable", "withheld")
_TOO_SHORT = ("+7701", "7012", "8 701 12", "123", "0")  # +7 and too few digits, or nothing
_NOT_A_NUMBER = (
    "ABC-123-DEF",
    "701 ABC 45 67",
    "N/A",
    "null",
    "+7 701 1O3 45 67",
    "77011234567x",
    "+77011234567;ext=12",
    "+999 123 4567",
    "99",
)
_EMERGENCY = (("112", 4), ("102", 2), ("103", 2), ("101", 1), ("104", 1))
_TRUNKS_ONNET = ("msc-ala-1", "msc-ala-2", "msc-ast-1", "ims-core-1")
_TRUNKS_NATIONAL = ("ix-kazakhtelecom", "ix-beeline", "ix-tele2", "ix-altel")
_TRUNKS_INTL = ("intl-gw-1", "intl-gw-2", "intl-gw-3", "intl-gw-1")


@dataclass
class World:
    """The operator data the traffic assumes: numbers for the policy's lists."""

    dno: List[int]
    blocklist: List[int]
    partner: List[int]
    allowlist: List[int]

    #: The capacity operators agreed on for shared filters: far above the partner list's size,
    #: so a number not on it is practically never a probable hit and labels stay exact.
    PARTNER_CAPACITY: ClassVar[int] = 100_000

    def apply(self, engine: Any) -> None:
        """Fills `engine`'s lists with `set_list`: `dno` (kind "dno"), `blocklist` ("block"),
        `partner` as a bloom-only filter of `PARTNER_CAPACITY`, the way partners share it,
        and `allowlist` ("allow")."""
        from ._fraudcore import NumberList

        engine.set_list(NumberList.from_numbers(self.dno, name="dno", kind="dno"))
        engine.set_list(NumberList.from_numbers(self.blocklist, name="blocklist", kind="block"))
        shared = NumberList.from_numbers(self.partner, name="partner", kind="partner")
        engine.set_list(
            shared.to_filter(capacity=self.PARTNER_CAPACITY, name="partner", kind="partner")
        )
        engine.set_list(NumberList.from_numbers(self.allowlist, name="allowlist", kind="allow"))


def world(seed: int = 0) -> World:
    """The operator's lists, drawn from number blocks the rest of the traffic never uses.

    Kazakh mobile subscribers are `+7 7xx d......` with `d` 1-9; with `d` = 0 the next digit
    splits the rest: `00` the blocklist, `01` partner reports (as for Russian `+7 9xx`), `02`
    fresh CLIs of fraud campaigns. Banks own Almaty `+7 727 25x xxxx` and Astana
    `+7 7172 5x xxxx`: hotlines on the DNO list at 250 / 50, outbound numbers on the allowlist
    at 259 / 59. Other landlines are Almaty `+7 727 2[6-9]…/3[0-4]…` and Astana, Shymkent,
    Karaganda `+7 7172/7252/7212 [2-4]…`; hacked PBXs sit at `+7 727 35…`.
    """
    rng = random.Random(f"fraudcore-world-{seed}")

    def sample(heads: Sequence[int], digits: int, n: int) -> List[int]:
        out: set = set()
        while len(out) < n:
            out.add(rng.choice(heads) * 10**digits + rng.randrange(10**digits))
        return sorted(out)

    kz = [int("7" + c) * 100 for c in _KZ_MOBILE]
    ru = [int("7" + c) * 100 for c in _RU_MOBILE]
    return World(
        dno=sample([7727250], 4, 150) + sample([7717250], 4, 50),
        blocklist=sorted(sample(kz, 5, 4000) + sample(ru, 5, 500)),
        partner=sorted(sample([h + 1 for h in kz], 5, 1500) + sample([h + 1 for h in ru], 5, 500)),
        allowlist=sample([7727259], 4, 300) + sample([7717259], 4, 100),
    )


@lru_cache(maxsize=None)
def _default_world() -> World:
    return world(0)


def _decide(scores: Sequence[float], hard: bool, allow: bool) -> str:
    """The default policy's action from the matching rules, as rust/policy/mod.rs decides it
    (hard block, else allowlist, else the combined score). No scenario calls an emergency
    number with a blocking reason, so the emergency downgrade is left out."""
    if hard:
        return BLOCK
    if allow or not scores:
        return ALLOW
    keep = 1.0
    for s in sorted(scores, reverse=True):  # the engine's order, so the same rounding
        keep *= 1.0 - s
    score = 1.0 - keep
    return BLOCK if score >= BLOCK_AT else FLAG if score >= FLAG_AT else ALLOW


def _velocity(
    c: Tuple[int, int, int, int, Optional[float]], scores: List[float], intl: bool
) -> bool:
    """Appends the scores of the velocity rules the counters `c` trip; True if one blocks."""
    calls, distinct, _, sequential, short = c
    if calls >= BURST_CALLS and distinct >= BURST_DISTINCT:
        scores.append(S_BURST)
    if sequential >= SEQUENTIAL:
        scores.append(S_SEQUENTIAL)
    if intl and distinct >= WANGIRI_DISTINCT and (short is None or short >= WANGIRI_SHORT):
        scores.append(S_WANGIRI)
    return calls >= CRITICAL_CALLS and distinct >= CRITICAL_DISTINCT


class _Key:
    """One caller's counting state (see `_Counters`)."""

    __slots__ = ("now", "last", "seq", "minute", "callees", "long", "calls", "known", "short")

    def __init__(self, now: int) -> None:
        self.now, self.last, self.seq = now, 0, 0
        self.minute: deque = deque()  # (second, callee) of the calls in the minute
        self.callees: Dict[int, int] = {}  # callee -> its calls in the minute
        self.long: deque = deque()  # (bucket, known, short) of the calls in the window
        self.calls = self.known = self.short = 0


class _Counters:
    """The engine's `caller.*` velocity counters (rust/velocity, `Counters`) for the CLIs whose
    labels depend on them, exact for calls in timestamp order.

    The engine may forget a key when its velocity memory is full, if some `max_keys / 5` new
    callers arrive between two of the key's calls. A campaign calls every `1 / share` calls,
    far more often; a pool number (allowlist, partner list) can go for longer, but then its
    per-minute counters are too low to matter, and no rule reads its long window."""

    def __init__(self) -> None:
        self.keys: Dict[int, _Key] = {}

    def record(
        self, caller: int, second: int, callee: int, duration: Optional[float]
    ) -> Tuple[int, int, int, int, Optional[float]]:
        """Counts a call; returns (calls_1m, distinct_callees, calls_window, sequential,
        short_share) with it."""
        bucket = second // GRANULE
        k = self.keys.get(caller)
        if k is None or bucket > k.now // GRANULE + 12:  # new, or expired: starts afresh
            k = self.keys[caller] = _Key(second)
        k.now = second
        minute, callees = k.minute, k.callees
        while minute and minute[0][0] <= second - 60:
            gone = minute.popleft()[1]
            left = callees[gone] - 1
            if left:
                callees[gone] = left
            else:
                del callees[gone]
        minute.append((second, callee))
        callees[callee] = callees.get(callee, 0) + 1
        long = k.long
        while long and long[0][0] < bucket - 12:
            _, known, short = long.popleft()
            k.calls -= 1
            k.known -= known
            k.short -= short
        known = duration is not None
        short = known and duration < SHORT_CALL  # type: ignore[operator]
        long.append((bucket, known, short))
        k.calls += 1
        k.known += known
        k.short += short
        last, k.last = k.last, callee
        gap = callee - last if callee > last else last - callee
        k.seq = k.seq + 1 if 0 < gap <= SEQUENTIAL_GAP and last else 0
        return len(minute), len(callees), k.calls, k.seq, (k.short / k.known if k.known else None)


def _table(pairs: Iterable[Tuple[Any, float]], bits: int) -> Tuple[Any, ...]:
    """2**bits items in proportion to their weights (every weighted item at least once), to
    choose from with one `getrandbits(bits)`."""
    items = [(item, w) for item, w in pairs if w > 0]
    size, total = 1 << bits, sum(w for _, w in items)
    if not 0 < len(items) <= size:
        raise ValueError(f"cannot spread {len(items)} items over {size} slots")
    exact = [w / total * size for _, w in items]
    counts = [max(1, int(x)) for x in exact]
    spare = size - sum(counts)
    by_gap = sorted(range(len(items)), key=lambda i: counts[i] - exact[i])
    for i in range(spare):  # largest remainders first
        counts[by_gap[i % len(items)]] += 1
    while spare < 0:  # items raised to one slot: take the slots back from the largest
        j = max(range(len(counts)), key=counts.__getitem__)
        counts[j] -= 1
        spare += 1
    return tuple(item for (item, _), c in zip(items, counts) for _ in range(c))


def _ranges(spec: Sequence[tuple]) -> Tuple[Tuple[str, int, tuple], ...]:
    """256 (country code + prefix, 10**digits, rule scores) entries of weighted ranges."""
    flat = []
    for cc, prefixes, digits, weight, *scores in spec:
        for p in prefixes:
            flat.append(((cc + p, 10**digits, scores[0] if scores else ()), weight / len(prefixes)))
    return _table(flat, 8)


def _bases(codes: Iterable[Tuple[str, float]]) -> Tuple[int, ...]:
    """64 national-number bases `7xx1000000` for mobile codes: add a number below 9,000,000."""
    return _table(((int(c) * 10**7 + 10**6, w) for c, w in codes), 6)


# The choice tables. Mobile code bases: our subscribers (ported-in ones too), other networks'.
_HOME, _CITY, _ABROAD = (
    _table(f, 4) for f in (_KZ_HOME_FORMATS, _KZ_CITY_FORMATS, _KZ_ABROAD_FORMATS)
)
_INTL, _OUT, _IN = (_table(f, 4) for f in (_INTL_PREFIXES, _DIAL_ABROAD, _DIAL_HOME))
_OWN = _bases([(c, 3) for c in _KZ_OWN] + [(c, 1) for c in _KZ_OTHER])
_OTHER = _bases([(c, 2) for c in _KZ_OTHER] + [(c, 1) for c in _KZ_OWN])
_ANY = _bases((c, 1) for c in _KZ_MOBILE)
_RU = _bases([(c, 3) for c in _RU_MOBILE] + [(c, 2) for c in _RU_FIXED])
# Landlines (base, span, formats): Almaty 727 2600000-3499999, 7172/7252/7212 200000-499999.
_LAND = _table(
    [
        ((7_272_600_000, 900_000, _HOME), 4),
        ((7_172_200_000, 300_000, _CITY), 2),
        ((7_252_200_000, 300_000, _CITY), 1),
        ((7_212_200_000, 300_000, _CITY), 1),
    ],
    3,
)
_FOREIGN_T, _WANGIRI_T, _FRESH_T = _ranges(_FOREIGN), _ranges(_WANGIRI), _ranges(_WANGIRI_FRESH)
_UNALLOCATED_T, _IRSF_T, _PREMIUM_T = _ranges(_UNALLOCATED), _ranges(_IRSF), _ranges(_PREMIUM)
_PUMPED = _table([(_IRSF_T, 3), (_PREMIUM_T, 1)], 2)
_CODES = _table(((c, 1) for c in _KZ_MOBILE), 6)


@lru_cache(maxsize=None)
def _called() -> Tuple[str, ...]:
    """16,384 subscriber numbers (7 digits after the code) that calls are made to: called
    numbers take no part in the policy's counters, so a fixed set saves drawing them."""
    rng = random.Random("fraudcore-called")
    return tuple(str(1_000_000 + rng.getrandbits(23)) for _ in range(1 << 14))


# 1024 call lengths: one in ten unknown (scored live), the rest spread around a minute.
_LENGTHS = random.Random(0)
_DUR = tuple(None if i % 10 == 0 else int(_LENGTHS.lognormvariate(4.0, 1.1)) for i in range(1024))
# Attestation: mostly none, as on networks without STIR/SHAKEN; C counts only on international.
_ATT_INTL = _table([(None, 14), ("A", 1), ("B", 1)], 4)
_ATT_SPOOF = _table([(None, 6), ("C", 1), ("B", 1)], 3)
_ATT_ONNET = _table([(None, 3), ("A", 1)], 2)
_ROAMING_ONNET = _table([(False, 3), (None, 1)], 2)
_EMERGENCY_T = _table(_EMERGENCY, 4)
# The fields of a route that vary per call: each field's values in proportion, 2**k of them.
_ONNET = {
    "ingress": ("onnet",),
    "roaming": _ROAMING_ONNET,
    "attestation": _ATT_ONNET,
    "trunk": _TRUNKS_ONNET,
}
_NATIONAL = {"ingress": ("national",), "trunk": _TRUNKS_NATIONAL}
_FROM_ABROAD = {"ingress": ("international",), "attestation": _ATT_INTL, "trunk": _TRUNKS_INTL}
_SPOOFED = {"ingress": ("international",), "attestation": _ATT_SPOOF, "trunk": _TRUNKS_INTL}


def _variants(scenario: str, expected: str, route: Mapping[str, tuple], **more: tuple) -> tuple:
    """64 templates of a call on `route` (`_ONNET`, `_NATIONAL`, `_FROM_ABROAD`, `_SPOOFED`):
    every combination of the route's and `more`'s field values, repeated to 64, so that one
    `getrandbits(6)` draws them all in proportion. A call copies one and fills in timestamp,
    caller, callee and duration: cheaper than building an 11-key dict."""
    base = dict.fromkeys(FIELDS)
    base.update(scenario=scenario, expected=expected)
    calls = [base]
    for field, values in {**route, **more}.items():
        calls = [{**c, field: v} for v in values for c in calls]
    if 64 % len(calls):
        raise ValueError(f"{scenario}: {len(calls)} variants do not divide 64")
    return tuple(calls * (64 // len(calls)))


def _mix(mix: Optional[Mapping[str, float]]) -> Mapping[str, float]:
    if mix is None:
        return DEFAULT_MIX
    names = [s.name for s in SCENARIOS]
    for name, share in mix.items():
        if name not in names:
            raise ValueError(f"mix: unknown scenario {name!r} (one of {', '.join(names)})")
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share < 1e300:
            raise ValueError(f"mix: the share of {name!r} is not a number ≥ 0: {share!r}")
    if not sum(mix.values()) > 0:
        raise ValueError("mix: no scenario has a share above 0")
    return mix


def simulate(
    n: int,
    *,
    seed: int = 0,
    start: float = 1_795_932_000.0,
    rate: float = 500.0,
    mix: Optional[Mapping[str, float]] = None,
    world: Optional[World] = None,
) -> Iterator[Dict[str, Any]]:
    """Yields `n` call dicts in timestamp order (Poisson arrivals at `rate` calls/s from `start`,
    to the microsecond), each with the CDR fields timestamp, caller, callee, ingress, roaming,
    attestation, duration, trunk, network_number (None where absent) plus "scenario" (a
    `Scenario.name`) and "expected" (the default policy's action, `world` applied).

    `mix` maps scenario names to shares (normalised; a scenario not named gets none), default
    `DEFAULT_MIX`. `world` is the operator data, default `world()` whatever the seed: the lists
    stay, the traffic changes. The same arguments give the same calls."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n: expected a whole number ≥ 0, got {n!r}")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < 1e12:
        raise ValueError(f"rate: expected calls per second above 0, got {rate!r}")
    if isinstance(start, bool) or not isinstance(start, (int, float)) or not 0 <= start < 2**32:
        raise ValueError(f"start: expected Unix seconds in [0, 2**32), got {start!r}")
    shares = _mix(mix)
    return _generate(n, seed, start, rate, shares, world or _default_world())


def _generate(
    n: int, seed: int, start: float, rate: float, shares: Mapping[str, float], w: World
) -> Iterator[Dict[str, Any]]:
    rng = random.Random(seed)
    bits = rng.getrandbits
    makers = _scenarios(rng, w)
    table = _table(((makers[name], share) for name, share in shares.items()), 16)
    gap = _exponential()
    us, mean = float(round(start * 1e6)), 1e6 / rate  # whole microseconds, exact below 2**53
    for _ in range(n):
        us += int(mean * gap[bits(16)] + 0.5)
        yield table[bits(16)](us / 1e6)


@lru_cache(maxsize=None)
def _exponential() -> Tuple[float, ...]:
    """Quantiles of the unit exponential distribution at the midpoints of 65,536 equal steps:
    indexed by 16 random bits, the gaps between Poisson arrivals (inverse-CDF sampling)."""
    return tuple(-log(1.0 - (i + 0.5) / 65536) for i in range(65536))


def _pool(numbers: Sequence[int], name: str, rnd: Callable[[], float]) -> Callable[[], str]:
    """A chooser of the E.164 digits of one of `numbers` (the World's list `name`)."""
    digits = [str(x) for x in numbers]
    size = len(digits)

    def draw() -> str:
        if not size:
            raise ValueError(f"simulate: the World's {name} list is empty")
        return digits[int(rnd() * size)]

    return draw


def _scenarios(rng: random.Random, w: World) -> Dict[str, Callable[[float], Dict[str, Any]]]:
    """One function per scenario, timestamp -> call dict: closures over `rng` and the tables
    above, one `getrandbits` per choice. Calls are copies of `_variants` templates."""
    rnd, bits = rng.random, rng.getrandbits
    counters = _Counters()
    HOME, CITY, ABROAD, INTL, OUT, IN = _HOME, _CITY, _ABROAD, _INTL, _OUT, _IN
    OWN, OTHER, ANY, LAND, DUR = _OWN, _OTHER, _ANY, _LAND, _DUR
    CODES, CALLED = _CODES, _called()
    KZ = 70_000_000_000  # + a national number: the E.164 digits as an int
    # Call templates by scenario, on its usual route (national unless named here).
    onnet = ("onnet_subscriber", "emergency_call", "irsf_premium", "irsf_high_risk")
    abroad = ("foreign_caller", "russian_caller", "withheld_international", "wangiri_burst")
    routes = {**dict.fromkeys(onnet, _ONNET), **dict.fromkeys(abroad, _FROM_ABROAD)}
    V = {s.name: _variants(s.name, s.expected, routes.get(s.name, _NATIONAL)) for s in SCENARIOS}
    V["roaming_home"] = _variants("roaming_home", ALLOW, _FROM_ABROAD, roaming=(True,))

    def mobile(bases: Tuple[int, ...] = ANY) -> str:
        """A subscriber's 10-digit national number: 1,000,000-9,388,607 after the code."""
        return str(bases[bits(6)] + bits(23))

    def foreign(ranges: Tuple[Tuple[str, int, tuple], ...] = _FOREIGN_T) -> str:
        """Country code and national number of a number in one of `ranges`."""
        head, size, _ = ranges[bits(8)]
        return head + str(size + int(rnd() * size))[1:]

    def home_callee() -> str:
        """A home number as dialled: 7 in 8 mobiles (subscribers from `_called()`), the rest
        landlines. The common scenarios write it out."""
        if bits(3):
            return IN[bits(4)] + CODES[bits(6)] + CALLED[bits(14)]
        return landline_callee()

    def landline_callee() -> str:
        """A home landline as dialled."""
        base, span, _ = LAND[bits(3)]
        return IN[bits(4)] + str(base + int(rnd() * span))

    def home_caller(bases: Tuple[int, ...]) -> str:
        """A home CLI as presented: 7 in 8 mobiles (codes from `bases`), the rest landlines."""
        if bits(3):
            return HOME[bits(4)](str(bases[bits(6)] + bits(23)))
        base, span, fmts = LAND[bits(3)]
        return fmts[bits(4)](str(base + int(rnd() * span)))

    def make(variants: tuple, ts: float, caller: str, callee: str = "", **fields: Any) -> dict:
        """A call from one of `variants`; `fields` override the template's."""
        c = variants[bits(6)].copy()
        c["timestamp"] = ts
        c["caller"] = caller
        c["callee"] = callee or home_callee()
        c["duration"] = DUR[bits(10)]
        if fields:
            c.update(fields)
        return c

    # --- Legitimate traffic: the common cases, written out.
    ONNET_V, NATIONAL_V = V["onnet_subscriber"], V["national_offnet"]
    FOREIGN_V, RUSSIAN_V, ROAMING_V = V["foreign_caller"], V["russian_caller"], V["roaming_home"]

    def onnet_subscriber(ts: float) -> Dict[str, Any]:
        c = ONNET_V[bits(6)].copy()
        c["timestamp"] = ts
        c["caller"] = HOME[bits(4)](str(OWN[bits(6)] + bits(23)))
        if not bits(4):  # 1 in 16 abroad
            c["callee"] = OUT[bits(4)] + foreign()
        elif bits(3):  # as home_callee()
            c["callee"] = IN[bits(4)] + CODES[bits(6)] + CALLED[bits(14)]
        else:
            c["callee"] = landline_callee()
        c["duration"] = DUR[bits(10)]
        return c

    def national_offnet(ts: float) -> Dict[str, Any]:
        c = NATIONAL_V[bits(6)].copy()
        c["timestamp"] = ts
        c["caller"] = home_caller(OTHER)
        c["callee"] = (
            IN[bits(4)] + CODES[bits(6)] + CALLED[bits(14)] if bits(3) else landline_callee()
        )
        c["duration"] = DUR[bits(10)]
        return c

    def foreign_caller(ts: float) -> Dict[str, Any]:
        c = FOREIGN_V[bits(6)].copy()
        c["timestamp"] = ts
        c["caller"] = INTL[bits(4)] + foreign()
        c["callee"] = (
            IN[bits(4)] + CODES[bits(6)] + CALLED[bits(14)] if bits(3) else landline_callee()
        )
        c["duration"] = DUR[bits(10)]
        return c

    def russian_caller(ts: float) -> Dict[str, Any]:
        c = RUSSIAN_V[bits(6)].copy()
        c["timestamp"] = ts
        c["caller"] = ABROAD[bits(4)](str(_RU[bits(6)] + bits(23)))
        c["callee"] = (
            IN[bits(4)] + CODES[bits(6)] + CALLED[bits(14)] if bits(3) else landline_callee()
        )
        c["duration"] = DUR[bits(10)]
        return c

    def roaming_home(ts: float) -> Dict[str, Any]:
        c = ROAMING_V[bits(6)].copy()
        c["timestamp"] = ts
        c["caller"] = ABROAD[bits(4)](str(OWN[bits(6)] + bits(23)))
        c["callee"] = (
            IN[bits(4)] + CODES[bits(6)] + CALLED[bits(14)] if bits(3) else landline_callee()
        )
        c["duration"] = DUR[bits(10)]
        return c

    allowlisted = _pool(w.allowlist, "allowlist", rnd)

    def allowlisted_bank(ts: float) -> Dict[str, Any]:
        e, cs = allowlisted(), mobile()
        caller = (HOME if e[1:4] == "727" else CITY)[bits(4)](e[1:])
        c = make(V["allowlisted_bank"], ts, caller, IN[bits(4)] + cs)
        counts = counters.record(int(e), int(ts), KZ + int(cs), c["duration"])
        # The allowlist overrides score verdicts, not the critical robocall rule's block.
        c["expected"] = _decide((), _velocity(counts, [], False), True)
        return c

    def withheld_national(ts: float) -> Dict[str, Any]:
        return make(V["withheld_national"], ts, _WITHHELD[int(rnd() * 6)])

    def emergency_call(ts: float) -> Dict[str, Any]:
        return make(V["emergency_call"], ts, HOME[bits(4)](mobile(OWN)), _EMERGENCY_T[bits(4)])

    # --- Fraud whose label no counter changes: hard blocks, and flags from CLIs that call once.
    dno = _pool(w.dno, "dno", rnd)
    bank_block = _table([("72725", 3), ("71725", 1)], 2)  # 0-8 next: not the allowlist's 9

    def bank_number() -> str:
        """A bank's landline, national digits: a hotline on the DNO list, or another."""
        if w.dno and bits(1):
            return dno()[1:]
        return bank_block[bits(2)] + str(100_000 + int(rnd() * 90_000))[1:]

    spoofed_v = _variants("spoofed_home_cli", BLOCK, _SPOOFED, roaming=(False, None))

    def spoofed_home_cli(ts: float) -> Dict[str, Any]:
        s = bank_number() if bits(1) else mobile()
        return make(spoofed_v, ts, ABROAD[bits(4)](s))

    nn_v = _variants("spoofed_network_number", BLOCK, _SPOOFED)

    def spoofed_network_number(ts: float) -> Dict[str, Any]:
        nn = "+7" + (bank_number() if bits(1) else mobile())
        return make(nn_v, ts, INTL[bits(4)] + foreign(), network_number=nn)

    def network_number_mismatch(ts: float) -> Dict[str, Any]:
        nn = "+" + foreign()
        return make(V["network_number_mismatch"], ts, home_caller(ANY), network_number=nn)

    dno_v = _variants("dno_cli", BLOCK, _SPOOFED)

    def dno_cli(ts: float) -> Dict[str, Any]:
        e, r = dno(), bits(2)
        if r == 0:  # the hotline in the network-asserted identity, behind another CLI
            return make(V["dno_cli"], ts, home_caller(OTHER), network_number="+" + e)
        if r == 1:
            return make(dno_v, ts, ABROAD[bits(4)](e[1:]))
        return make(V["dno_cli"], ts, (HOME if e[1:4] == "727" else CITY)[bits(4)](e[1:]))

    blocked = _pool(w.blocklist, "blocklist", rnd)
    blocked_v = _variants("blocklisted_cli", BLOCK, _FROM_ABROAD)
    blocked_onnet_v = _variants("blocklisted_cli", BLOCK, _ONNET)

    def blocklisted_cli(ts: float) -> Dict[str, Any]:
        e, r = blocked(), bits(2)
        if r == 0:  # in the network-asserted identity, behind a clean CLI
            return make(V["blocklisted_cli"], ts, home_caller(OTHER), network_number="+" + e)
        if e[1] == "9":  # a Russian number: from abroad
            return make(blocked_v, ts, ABROAD[bits(4)](e[1:]))
        return make((blocked_onnet_v, V["blocklisted_cli"])[r & 1], ts, HOME[bits(4)](e[1:]))

    partner = _pool(w.partner, "partner", rnd)
    partner_v = _variants("partner_listed", FLAG, _FROM_ABROAD)

    def partner_listed(ts: float) -> Dict[str, Any]:
        e, cs = partner(), mobile()
        if e[1] == "9":  # Russian numbers arrive from abroad, Kazakh ones from next door
            c = make(partner_v, ts, ABROAD[bits(4)](e[1:]), IN[bits(4)] + cs)
            scores = [S_PARTNER, S_WEAK] if c["attestation"] is None else [S_PARTNER]
        else:
            c = make(V["partner_listed"], ts, HOME[bits(4)](e[1:]), IN[bits(4)] + cs)
            scores = [S_PARTNER]
        counts = counters.record(int(e), int(ts), KZ + int(cs), c["duration"])
        hard = _velocity(counts, scores, c["ingress"] == "international")
        c["expected"] = _decide(scores, hard, False)
        return c

    invalid_v = _variants("invalid_cli", BLOCK, _SPOOFED)

    def invalid_cli(ts: float) -> Dict[str, Any]:
        r = bits(2)
        if r == 0:  # +7 and too few digits: unallocated_home_cli
            return make(V["invalid_cli"], ts, _TOO_SHORT[int(rnd() * 5)])
        junk = _NOT_A_NUMBER[int(rnd() * 9)]
        return make(invalid_v if r == 1 else V["invalid_cli"], ts, junk)

    unallocated_v = _variants("unallocated_home", BLOCK, _SPOOFED)

    def unallocated_home(ts: float) -> Dict[str, Any]:
        s = "6660"[bits(2)] + str(int(rnd() * 9e8) + 100_000_000)  # +7 6xx, +7 0xx
        if bits(2) == 0:
            return make(unallocated_v, ts, ABROAD[bits(4)](s))
        return make(V["unallocated_home"], ts, HOME[bits(4)](s))

    unallocated_foreign_v = _variants("unallocated_foreign", FLAG, _SPOOFED)

    def unallocated_foreign(ts: float) -> Dict[str, Any]:
        return make(unallocated_foreign_v, ts, INTL[bits(4)] + foreign(_UNALLOCATED_T))

    def withheld_international(ts: float) -> Dict[str, Any]:
        return make(V["withheld_international"], ts, _WITHHELD[int(rnd() * 6)])

    def irsf_premium(ts: float) -> Dict[str, Any]:
        callee = OUT[bits(4)] + foreign(_PREMIUM_T)
        return make(V["irsf_premium"], ts, HOME[bits(4)](mobile(OWN)), callee)

    def irsf_high_risk(ts: float) -> Dict[str, Any]:
        callee = OUT[bits(4)] + foreign(_IRSF_T)
        return make(V["irsf_high_risk"], ts, HOME[bits(4)](mobile(OWN)), callee)

    wangiri_v = _variants("wangiri_one_ring", FLAG, _FROM_ABROAD)

    def wangiri_one_ring(ts: float) -> Dict[str, Any]:
        caller = INTL[bits(4)] + foreign(_WANGIRI_T)
        return make(wangiri_v, ts, caller, duration=bits(2) + bits(1))  # rang off in 0-4 s

    # --- Velocity campaigns: one fresh CLI each, labelled call by call from its counters.
    def campaign_call(
        variants: tuple, ts: float, caller: str, callee: str, duration: Any, trunk: str
    ) -> dict:
        """A campaign's call, from its CLI and trunk (`expected` still the scenario's)."""
        c = variants[bits(6)].copy()
        c["timestamp"] = ts
        c["caller"] = caller
        c["callee"] = callee
        c["duration"] = duration
        c["trunk"] = trunk
        return c

    serial = iter(range(1 << 62))
    offset = int(rnd() * 100_000)

    def fresh(head: str) -> str:
        """`head` and five digits not used before in this run (a permutation of a counter)."""
        return head + str(100_000 + (offset + next(serial) * 7919) % 100_000)[1:]

    def campaign(length: Callable[[], int], begin: Callable[[], list]) -> Callable[[], list]:
        """The running campaign's state; a new campaign once the last has made its calls."""
        state: list = [0, None]

        def step() -> list:
            if state[0] <= 0:
                state[0], state[1] = length(), begin()
            state[0] -= 1
            return state[1]

        return step

    def new_callee(seen: set) -> str:
        cs = mobile()
        while cs in seen:
            cs = mobile()
        seen.add(cs)
        return cs

    def robo_begin() -> list:
        s = fresh(CODES[bits(6)] + "02")  # a fresh SIM or virtual number
        trunk = ("sip-wholesale-1", "sip-wholesale-2")[bits(1)]
        return [HOME[bits(4)](s), KZ + int(s), set(), trunk]

    robo = campaign(lambda: 65 + int(rnd() * 90), robo_begin)

    def robocall_burst(ts: float) -> Dict[str, Any]:
        caller, key, seen, trunk = robo()
        cs = new_callee(seen)
        d = int(rnd() * 40) if bits(2) else None
        scores: List[float] = []
        hard = _velocity(counters.record(key, int(ts), KZ + int(cs), d), scores, False)
        c = campaign_call(V["robocall_burst"], ts, caller, IN[bits(4)] + cs, d, trunk)
        c["expected"] = _decide(scores, hard, False)
        return c

    def seq_begin() -> list:
        s = fresh(CODES[bits(6)] + "02")
        first = ANY[bits(6)] + int(rnd() * 8_990) * 1000  # +7 7xx xxxx 000 onwards
        return [HOME[bits(4)](s), KZ + int(s), first, _TRUNKS_NATIONAL[bits(2)]]

    seq = campaign(lambda: 12 + int(rnd() * 30), seq_begin)

    def sequential_dialling(ts: float) -> Dict[str, Any]:
        st = seq()
        caller, key, number, trunk = st
        st[2] = number + 1 + bits(1) + bits(1)  # the next number, 1 to 3 on
        d = int(rnd() * 20) if bits(1) else None
        scores: List[float] = []
        hard = _velocity(counters.record(key, int(ts), KZ + number, d), scores, False)
        c = campaign_call(V["sequential_dialling"], ts, caller, IN[bits(4)] + str(number), d, trunk)
        c["expected"] = _decide(scores, hard, False)
        return c

    def wangiri_begin() -> list:
        e = foreign(_FRESH_T)
        return [INTL[bits(4)] + e, int(e), set(), _TRUNKS_INTL[bits(2)]]

    wburst = campaign(lambda: 12 + int(rnd() * 30), wangiri_begin)

    def wangiri_burst(ts: float) -> Dict[str, Any]:
        caller, key, seen, trunk = wburst()
        cs = new_callee(seen)
        d = bits(2) if bits(3) else None  # rings of 0-3 s, or scored live
        c = campaign_call(V["wangiri_burst"], ts, caller, IN[bits(4)] + cs, d, trunk)
        scores = [S_WEAK] if c["attestation"] is None else []
        hard = _velocity(counters.record(key, int(ts), KZ + int(cs), d), scores, True)
        c["expected"] = _decide(scores, hard, False)
        return c

    def pbx_begin() -> list:
        s = fresh("72735")  # an enterprise's Almaty number
        dests = []
        for _ in range(2 + bits(2)):  # a few destinations, called over and over
            head, size, static = _PUMPED[bits(2)][bits(8)]
            e = head + str(size + int(rnd() * size))[1:]
            dests.append((OUT[bits(4)] + e, int(e), static))
        return [HOME[bits(4)](s), KZ + int(s), dests, "sip-pbx-" + s[-4:]]

    pbx = campaign(lambda: 20 + int(rnd() * 50), pbx_begin)
    pbx_v = _variants("pbx_irsf_pumping", BLOCK, _ONNET, trunk=(None,))

    def pbx_irsf_pumping(ts: float) -> Dict[str, Any]:
        caller, key, dests, trunk = pbx()
        callee, number, static = dests[int(rnd() * len(dests))]
        d = int(rnd() * 900) + 30 if bits(2) else None
        second = int(ts)
        counts = counters.record(key, second, number, d)
        scores = list(static)
        hard = _velocity(counts, scores, False)
        hour = (second + UTC_OFFSET) // 3600 % 24
        night = hour >= NIGHT_FROM or hour < NIGHT_UNTIL
        calls = counts[2]
        hard = hard or calls >= PUMPING_CALLS or (night and calls >= PUMPING_NIGHT_CALLS)
        c = campaign_call(pbx_v, ts, caller, callee, d, trunk)
        c["expected"] = _decide(scores, hard, False)
        return c

    scope = locals()
    return {s.name: scope[s.name] for s in SCENARIOS}


def write_csv(calls: Iterable[Mapping[str, Any]], file: Any) -> int:
    """Writes a header (`FIELDS`) and one row per call to the text file `file`: None as an empty
    string, roaming as true/false, timestamps exactly (`repr`). Returns the rows written."""
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(FIELDS)
    rows = 0
    for c in calls:
        roaming = c.get("roaming")
        writer.writerow(
            (
                c["timestamp"],
                c["caller"],
                c["callee"],
                c["ingress"],
                "" if roaming is None else "true" if roaming else "false",
                *("" if c.get(k) is None else c[k] for k in FIELDS[5:]),
            )
        )
        rows += 1
    return rows
