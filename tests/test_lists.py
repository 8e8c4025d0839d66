"""Number lists: exact and bloom-only, loading, live updates, sharing, persistence, scoring."""

from __future__ import annotations

import random
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fraudcore
from fraudcore import NumberList

KZ = 77011234567


def kz_numbers(n, seed=0):
    rng = random.Random(seed)
    return sorted({77_000_000_000 + rng.randrange(100_000_000) for _ in range(n)})


def test_exact_list_is_a_read_only_set():
    numbers = kz_numbers(1000)
    lst = NumberList.from_numbers(numbers, name="fraud")
    assert len(lst) == 1000 and lst.exact and lst.kind == "block"
    assert numbers[0] in lst and f"+{numbers[1]}" in lst and f"+7 {str(numbers[2])[1:]}" in lst
    assert 1 not in lst and "garbage" not in lst and None not in lst
    assert list(lst) == [f"+{n}" for n in numbers]
    assert lst.lookup(numbers[0]) == "present" and lst.lookup(5) == "absent"
    assert "NumberList(name='fraud'" in repr(lst)


@given(
    st.sets(st.integers(10**10, 10**12), max_size=300),
    st.sets(st.integers(10**10, 10**12), max_size=300),
)
def test_no_false_negatives_and_no_false_positives(members, others):
    lst = NumberList.from_numbers(members, name="t", fpr=0.01)
    assert all(n in lst for n in members)
    assert not any(n in lst for n in others - members)


def test_loading_a_text_file_reports_bad_lines(tmp_path, engine):
    path = tmp_path / "dno.txt"
    path.write_text(
        "# bank hotlines (do not originate)\n"
        "+7 727 250 00 00\n"
        "8 (727) 259-99-99   # second line\n"
        "not a number\n"
        "\n"
        "77272588888\n"
        "+7\n",
        encoding="utf-8",
    )
    lst = NumberList.from_file(engine, path, kind="dno")
    assert lst.name == "dno" and lst.kind == "dno" and len(lst) == 3
    assert lst.report == {
        "lines": 7,
        "numbers": 3,
        "bad": 2,
        "first_bad": [(4, "not a number", "bad_character"), (7, "+7", "too_short")],
    }
    with pytest.raises(fraudcore.ParseError, match=r"dno\.txt:4:1:.*not a number"):
        NumberList.from_file(engine, path, kind="dno", strict=True)
    with pytest.raises(fraudcore.InvalidValueError, match="kind"):
        NumberList.from_file(engine, path, kind="grey")
    with pytest.raises(fraudcore.FileError):
        NumberList.from_file(engine, tmp_path / "absent.txt")


def test_loading_reports_progress_and_raises_callback_errors(tmp_path, engine):
    path = tmp_path / "big.txt"
    path.write_text("".join(f"+7701{i:07d}\n" for i in range(600_000)), encoding="utf-8")
    seen = []
    lst = NumberList.from_file(
        engine, path, progress=lambda done, total: seen.append((done, total))
    )
    size = path.stat().st_size
    assert len(lst) == 600_000 and len(seen) >= 2
    assert all(total == size for _, total in seen) and max(d for d, _ in seen) == size

    def broken(done, total):
        raise RuntimeError("progress display failed")

    with pytest.raises(RuntimeError, match="progress display failed"):
        NumberList.from_file(engine, path, progress=broken)


def test_live_updates_and_compaction():
    lst = NumberList.from_numbers([KZ], name="live")
    assert lst.add(KZ + 1) and not lst.add(KZ + 1)
    assert lst.remove(KZ) and not lst.remove(KZ)
    assert (KZ in lst, KZ + 1 in lst, len(lst), lst.delta_len) == (False, True, 1, 2)
    lst.compact()
    assert (KZ in lst, KZ + 1 in lst, len(lst), lst.delta_len) == (False, True, 1, 0)
    with pytest.raises(fraudcore.InvalidValueError, match="number"):
        lst.add("not a number")


def test_save_and_load_through_a_memory_map(tmp_path):
    numbers = kz_numbers(20_000)
    lst = NumberList.from_numbers(numbers, name="fraud", kind="dno", fpr=1e-4)
    lst.add(79161234567)
    path = tmp_path / "fraud.fclist"
    lst.save(path)
    back = NumberList.load(path)
    assert (back.name, back.kind, len(back)) == ("fraud", "dno", len(numbers) + 1)
    assert list(back) == list(lst)
    data = path.read_bytes()
    for cut in (0, 8, 24, 100, len(data) // 2, len(data) - 8):
        path.write_bytes(data[:cut])
        with pytest.raises(fraudcore.CorruptFileError):
            NumberList.load(path)
    for at in (3, 10, 40, len(data) // 3, len(data) - 2):
        damaged = bytearray(data)
        damaged[at] ^= 0x01
        path.write_bytes(bytes(damaged))
        with pytest.raises(fraudcore.CorruptFileError):
            NumberList.load(path)


def test_sharing_filters_between_operators(tmp_path):
    a, b = kz_numbers(3000, 1), kz_numbers(3000, 2)
    params = {"capacity": 10_000, "fpr": 1e-3, "seed": 2026}
    fa = NumberList.from_numbers(a, name="op_a").to_filter(**params)
    fb = NumberList.from_numbers(b, name="op_b").to_filter(**params)
    assert not fa.exact and fa.kind == "block"
    assert (
        NumberList.from_numbers(a, name="x").to_filter(kind="partner", **params).kind == "partner"
    )
    fa.save(tmp_path / "a.fclist")
    shared = NumberList.load(tmp_path / "a.fclist")
    merged = shared.merge(fb, name="national")
    union = NumberList.from_numbers(sorted(set(a) | set(b)), name="u").to_filter(**params)
    assert merged.bloom == union.bloom
    assert all(n in merged for n in a + b)
    assert merged.lookup(a[0]) == "probable"
    with pytest.raises(fraudcore.InvalidTypeError):
        list(merged)
    other = NumberList.from_numbers(b, name="x").to_filter(capacity=20_000, fpr=1e-3, seed=2026)
    with pytest.raises(fraudcore.InvalidValueError, match="filter"):
        fa.merge(other)


def test_bloom_only_false_positive_rate_is_as_configured():
    members = kz_numbers(100_000, 3)
    filt = NumberList.from_numbers(members, name="m").to_filter(capacity=100_000, fpr=1e-3)
    rng = random.Random(4)
    member_set = set(members)
    probes = [
        n
        for n in (78_000_000_000 + rng.randrange(10**9) for _ in range(1_000_000))
        if n not in member_set
    ]
    rate = sum(p in filt for p in probes) / len(probes)
    assert rate <= 1.5e-3, rate


def test_engine_scores_with_lists(engine):
    kz_engine = fraudcore.Engine.default()
    kz_engine.set_list(NumberList.from_numbers([77272500000], name="dno", kind="dno"))
    kz_engine.set_list(NumberList.from_numbers([KZ], name="blocklist"))
    call = {"caller": "+77272500000", "callee": "87011234567", "ingress": "national"}
    assert kz_engine.score(call).reasons == ("dno_cli",)
    assert kz_engine.score({**call, "caller": "+77011234567"}).reasons == ("blocklisted_cli",)
    kz_engine.set_list(NumberList.from_numbers([KZ], name="allowlist", kind="allow"))
    v = kz_engine.score({**call, "caller": "+77011234567"})
    assert (v.action, v.reasons) == ("allow", ("allowlisted_cli",))
    assert [lst.name for lst in kz_engine.lists] == ["allowlist", "blocklist", "dno", "partner"]
    # The allowlist vouches for the CLI only, not for a blocklisted network number with it.
    kz_engine.set_list(NumberList.from_numbers([KZ, 77051234567], name="blocklist"))
    v = kz_engine.score({**call, "caller": "+77011234567", "network_number": "+77051234567"})
    assert v.action == "block" and v.reasons[0] == "blocklisted_cli"
    # A list the policy does not declare, or of another kind, is refused.
    with pytest.raises(fraudcore.InvalidValueError, match='declares no list "pai"'):
        kz_engine.set_list(NumberList.from_numbers([1], name="pai"))
    with pytest.raises(fraudcore.InvalidValueError, match="declares it dno"):
        kz_engine.set_list(NumberList.from_numbers([1], name="dno"))
    assert kz_engine.clear_list("allowlist") and not kz_engine.clear_list("allowlist")
    assert all(len(lst) == 0 for lst in engine.lists)  # other engines are unaffected


def test_bloom_only_lists_remember_removals():
    f = NumberList.from_numbers([KZ], name="f").to_filter(capacity=100)
    assert f.add(KZ + 1) and f.remove(KZ + 1) and KZ + 1 not in f
    assert f.remove(KZ) and KZ not in f
    with pytest.raises(fraudcore.InvalidValueError, match="removals"):
        f.save("/tmp/never-written.fclist")


def test_updates_while_scoring_from_threads():
    eng = fraudcore.Engine.default()
    lst = NumberList.from_numbers([], name="blocklist")
    eng.set_list(lst)
    numbers = [77011000000 + i for i in range(2000)]
    stop = threading.Event()
    errors = []

    def score():
        while not stop.is_set():
            v = eng.score(
                {"caller": "+77011000005", "callee": "87272123456", "ingress": "national"}
            )
            if v.action not in ("allow", "block"):
                errors.append(v)

    def replace():
        while not stop.is_set():
            eng.set_list(NumberList.from_numbers([], name="dno", kind="dno"))

    threads = [threading.Thread(target=score) for _ in range(3)] + [
        threading.Thread(target=replace)
    ]
    for t in threads:
        t.start()
    for i, n in enumerate(numbers):
        lst.add(n)
        if i % 500 == 0:
            lst.compact()
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert all(n in lst for n in numbers) and len(lst) == len(numbers)


def _sections(data: bytes):
    """Byte offsets where the sections of a .fclist file end (see the README's format)."""
    words = [int.from_bytes(data[24 + 8 * i : 32 + 8 * i], "little") for i in range(10)]
    name_end = 24 + 80 + (words[8] + 7) // 8 * 8
    bloom_end = name_end + words[3] * 64
    return [8, 12, 16, 24, 24 + 80, name_end, bloom_end, len(data)]


@pytest.mark.parametrize("exact", [True, False])
def test_truncation_at_every_section_boundary_is_refused(tmp_path, exact):
    lst = NumberList.from_numbers(kz_numbers(5000), name="sections")
    if not exact:
        lst = lst.to_filter(capacity=5000)
    path = tmp_path / "s.fclist"
    lst.save(path)
    data = path.read_bytes()
    for end in _sections(data):
        for cut in (end - 1, end, end + 1):
            if 0 < cut < len(data):
                path.write_bytes(data[:cut])
                with pytest.raises(fraudcore.CorruptFileError):
                    NumberList.load(path)
    path.write_bytes(data)
    assert len(NumberList.load(path)) == len(lst)


def test_wrong_magic_and_version_are_named(tmp_path):
    path = tmp_path / "v.fclist"
    NumberList.from_numbers([KZ], name="v").save(path)
    data = bytearray(path.read_bytes())
    data[8] = 99  # format version
    path.write_bytes(bytes(data))
    with pytest.raises(fraudcore.CorruptFileError, match="format version 99"):
        NumberList.load(path)
    path.write_bytes(b"NOTALIST" + bytes(data[8:]))
    with pytest.raises(fraudcore.CorruptFileError, match="not a fraudcore"):
        NumberList.load(path)
