"""Damaged, replaced and unwritable files: refused with a named error, never a crash, and
never a half-changed engine.

Files are the README's "Persistence format": a 24-byte header (magic, version u32 LE, CRC-32
of the payload u32 LE, payload length u64 LE), then the payload. Damage with the checksum
fixed up reaches the payload decoders (postcard, regex-automata's DFA check, the plan's index
validation, the list sections); the loops that do this run in a child interpreter, so a
segfault or an abort fails the test instead of killing pytest.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import zlib

import pytest

import fraudcore
from fraudcore import NumberList, _plan

HEADER = 24


def fix_header(data: bytes) -> bytes:
    """`data` with the header's checksum and length rewritten to match its payload."""
    payload = data[HEADER:]
    return data[:12] + struct.pack("<IQ", zlib.crc32(payload), len(payload)) + payload


def run_isolated(script: str, **params) -> dict:
    """Runs `script` in a fresh interpreter (`P` holds `params`); it prints a JSON summary as
    its last line. A crash, a signal or an uncaught exception fails the calling test."""
    code = "import json, sys\nP = json.loads(sys.argv[1])\n" + textwrap.dedent(CHILD_HELPERS)
    code += textwrap.dedent(script)
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(params)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        how = (
            f"killed by {signal.Signals(-proc.returncode).name}"
            if proc.returncode < 0
            else f"exit {proc.returncode}"
        )
        pytest.fail(f"child interpreter failed ({how}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# Shared by the child scripts: damage helpers and "use what loaded" checks. Only fraudcore's
# documented errors may come out of a load; anything else propagates and fails the child.
CHILD_HELPERS = """
import random, struct, zlib
import fraudcore

def fix_header(data):
    payload = data[24:]
    return data[:12] + struct.pack("<IQ", zlib.crc32(payload), len(payload)) + payload

def damages(data, rng, header_bytes, random_flips):
    # every bit of the first `header_bytes` bytes, then random bits anywhere
    for at in range(min(header_bytes, len(data))):
        for bit in range(8):
            yield at, bit
    for _ in range(random_flips):
        yield rng.randrange(len(data)), rng.randrange(8)

def flipped(data, at, bit):
    b = bytearray(data)
    b[at] ^= 1 << bit
    return bytes(b)

RAW = ["+77011234567", "8 (701) 123-45-67", "87272123456", "+79161234567", "810 7 916 123 45 67",
       "00 7 701 123 45 67", "+80012345678", "112", "+4930123456", "7"]

def use_plan(plan):
    plan.stats(), plan.source
    try:
        engine = fraudcore.Engine(fraudcore.Policy.from_str('home_region = "KZ"', plan=plan))
    except fraudcore.FraudcoreError:
        return "loaded"  # e.g. KZ damaged away: the plan loads, a KZ policy does not
    for raw in RAW:
        for ingress in ("national", "international"):
            engine.normalize(raw, ingress)
            engine.lookup(raw, ingress)
        engine.classify(raw)
        engine.is_emergency(raw)
        engine.score({"caller": raw, "callee": raw, "ingress": "international"})
    return "used"

def use_list(lst, members):
    exact = lst.exact
    len(lst), lst.size_bytes, lst.bloom, lst.fpr, lst.name, lst.kind
    for n in members[:50] + [1, 2**63, KZ_PROBE]:
        answer = lst.lookup(n)
        assert answer in (("absent", "present") if exact else ("absent", "probable")), answer
        n in lst
    if exact:
        keys = [int(s[1:]) for s in lst]
        assert keys == sorted(set(keys)), "an exact list iterates increasing numbers"
        assert len(keys) == len(lst)
    assert lst.add(KZ_PROBE) in (True, False) and KZ_PROBE in lst
    lst.compact()
    assert KZ_PROBE in lst
    lst.remove(KZ_PROBE)
    assert KZ_PROBE not in lst
    return "used"

KZ_PROBE = 77055550000

def try_load(loader, data, path, use):
    with open(path, "wb") as f:
        f.write(data)
    try:
        thing = loader(path)
    except fraudcore.CorruptFileError:
        return "corrupt"
    return use(thing)
"""


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory):
    """A compiled plan of KZ alone (+7 with its carriers and areas): ~36 KB, loads in 0.2 ms."""
    plan = fraudcore.NumberingPlan.compile(json.dumps(_plan.extract_source(["KZ"])))
    path = tmp_path_factory.mktemp("plan") / "kz.fcplan"
    plan.save(path)
    return path


def kz_numbers(n):
    return [77010000000 + i * 7919 % 9_999_991 for i in range(n)]


@pytest.fixture(scope="module")
def list_files(tmp_path_factory):
    """An exact list and a bloom-only filter of 2000 numbers, saved."""
    d = tmp_path_factory.mktemp("lists")
    exact = NumberList.from_numbers(kz_numbers(2000), name="corrupt-me", kind="dno")
    exact.save(d / "exact.fclist")
    exact.to_filter(capacity=2000, name="partner", kind="partner").save(d / "filter.fclist")
    return {"exact": d / "exact.fclist", "filter": d / "filter.fclist"}


# --- truncation, bit flips, wrong version and magic -------------------------------------------


PLAN_LOOP = """
rng = random.Random(P["seed"])
data = open(P["file"], "rb").read()
load = fraudcore.NumberingPlan.load
out = {"corrupt": 0, "loaded": 0, "used": 0}
for cut in sorted(set(list(range(0, 80)) + list(range(80, len(data), 97)) + [len(data) - 1])):
    assert try_load(load, data[:cut], P["scratch"], use_plan) == "corrupt", ("cut", cut)
    if cut > 24:  # the same truncation with a matching header reaches the decoder
        assert try_load(load, fix_header(data[:cut]), P["scratch"], use_plan) == "corrupt", cut
for at, bit in damages(data, rng, 24 + P["payload_bytes"], P["random_flips"]):
    bad = flipped(data, at, bit)
    assert try_load(load, bad, P["scratch"], use_plan) == "corrupt", ("flip", at, bit)
    if at >= 24:
        out[try_load(load, fix_header(bad), P["scratch"], use_plan)] += 1
print(json.dumps(out))
"""


def test_plan_cache_truncated_or_bit_flipped_is_refused_or_usable(plan_file, tmp_path):
    out = run_isolated(
        PLAN_LOOP,
        file=str(plan_file),
        scratch=str(tmp_path / "damaged.fcplan"),
        seed=20240611,
        payload_bytes=300,
        random_flips=2000,
    )
    # Every damage without the checksum fixed is refused (asserted in the child); with it, most
    # flips are caught by the decoders, the rest change a name or a pattern and still work.
    assert out["corrupt"] > 1000 and out["corrupt"] + out["loaded"] + out["used"] > 4000


LIST_LOOP = """
rng = random.Random(P["seed"])
data = open(P["file"], "rb").read()
members = P["members"]
load = fraudcore.NumberList.load
use = lambda lst: use_list(lst, members)
out = {"corrupt": 0, "used": 0}
for cut in sorted(set(list(range(0, 200)) + list(range(200, len(data), 61)) + [len(data) - 1])):
    assert try_load(load, data[:cut], P["scratch"], use) == "corrupt", ("cut", cut)
    if cut > 24:
        assert try_load(load, fix_header(data[:cut]), P["scratch"], use) == "corrupt", cut
for at, bit in damages(data, rng, 24 + 80 + 16, P["random_flips"]):
    bad = flipped(data, at, bit)
    assert try_load(load, bad, P["scratch"], use) == "corrupt", ("flip", at, bit)
    if at >= 24:
        out[try_load(load, fix_header(bad), P["scratch"], use)] += 1
print(json.dumps(out))
"""


@pytest.mark.parametrize("which", ["exact", "filter"])
def test_list_file_truncated_or_bit_flipped_is_refused_or_usable(list_files, tmp_path, which):
    out = run_isolated(
        LIST_LOOP,
        file=str(list_files[which]),
        scratch=str(tmp_path / "damaged.fclist"),
        members=kz_numbers(2000),
        seed=7,
        random_flips=1200,
    )
    # Flips in the meta words (kind, flags, hash version, blocks, k, fpr, lengths) are refused;
    # a flip inside the bloom words or the name still loads, and the list still answers.
    assert out["corrupt"] > 300 and out["used"] > 300


def _loader(kind):
    return fraudcore.NumberingPlan.load if kind == "plan" else NumberList.load


@pytest.mark.parametrize("kind", ["plan", "exact", "filter"])
def test_wrong_version_magic_and_length_are_named(plan_file, list_files, tmp_path, kind):
    good = (plan_file if kind == "plan" else list_files[kind]).read_bytes()
    load = _loader(kind)
    path = tmp_path / "wrong.bin"
    version = struct.unpack_from("<I", good, 8)[0]
    for other in (0, version - 1, version + 1, 0xFFFF_FFFF):
        path.write_bytes(good[:8] + struct.pack("<I", other) + good[12:])
        with pytest.raises(fraudcore.CorruptFileError, match=f"format version {other}") as info:
            load(path)
        assert str(path) in str(info.value)
    other_magic = b"FCLIST\0\0" if kind == "plan" else b"FCPLAN\0\0"
    for magic in (b"\0" * 8, b"fcplan\0\0", other_magic, b"FCSNAP\0\0", b"\x7fELF\x02\x01\x01\0"):
        path.write_bytes(magic + good[8:])
        with pytest.raises(fraudcore.CorruptFileError, match="not a fraudcore"):
            load(path)
    for length in (0, len(good) - HEADER - 1, len(good) - HEADER + 1, 2**63, 2**64 - 1):
        path.write_bytes(good[:16] + struct.pack("<Q", length) + good[24:])
        with pytest.raises(fraudcore.CorruptFileError, match="header says"):
            load(path)
    path.write_bytes(good)
    load(path)  # the pristine bytes still load


def test_other_files_are_refused(tmp_path, plan_file):
    """An empty file, a text file, a directory: named errors, never a crash."""
    for load in (fraudcore.NumberingPlan.load, NumberList.load):
        (tmp_path / "empty").write_bytes(b"")
        with pytest.raises(fraudcore.CorruptFileError):
            load(tmp_path / "empty")
        (tmp_path / "text").write_text("+77011234567\n" * 100)
        with pytest.raises(fraudcore.CorruptFileError):
            load(tmp_path / "text")
        with pytest.raises(fraudcore.FileError):
            load(tmp_path)


# --- a mapped list replaced by rename --------------------------------------------------------

POLICY = """\
home_region = "KZ"
international_prefixes = ["00"]

[lists.blocklist]
kind = "block"
file = "{block}"

[lists.dno]
kind = "dno"

[[rules]]
id = "blocklisted"
when = "caller in blocklist"
action = "block"

[[rules]]
id = "dno"
when = "caller in dno"
action = "block"

[[rules]]
id = "spoofed"
when = "ingress == 'international' and roaming != true and caller.is_home"
score = 0.95
"""

BLOCKED, DNO_NUMBER, OTHER = 77011234567, 77017654321, 77050000001


def calls():
    """Calls whose verdicts depend on the policy and on both lists."""
    out = []
    for caller in (BLOCKED, DNO_NUMBER, OTHER, 79161234567, "anonymous"):
        for ingress in ("national", "international"):
            out.append({"caller": caller, "callee": "87272123456", "ingress": ingress})
    return out


def verdicts(engine):
    return [(v.action, v.reasons, round(v.score, 6)) for v in map(engine.score, calls())]


def write_policy(directory, name="policy.toml", block="block.fclist", text=POLICY):
    path = directory / name
    path.write_text(text.format(block=block))
    return path


def test_a_list_replaced_by_rename_keeps_the_mapped_copy_working(tmp_path):
    NumberList.from_numbers([BLOCKED], name="blocklist").save(tmp_path / "block.fclist")
    engine = fraudcore.Engine(write_policy(tmp_path))
    loaded = NumberList.load(tmp_path / "block.fclist")
    before = verdicts(engine)
    assert before[0][1] == ("blocklisted",)

    # Another list, then garbage, renamed over the mapped file; then the name removed.
    NumberList.from_numbers([OTHER], name="blocklist").save(tmp_path / "new.fclist")
    os.replace(tmp_path / "new.fclist", tmp_path / "block.fclist")
    assert verdicts(engine) == before
    (tmp_path / "junk").write_bytes(os.urandom(4096))
    os.replace(tmp_path / "junk", tmp_path / "block.fclist")
    assert verdicts(engine) == before
    os.unlink(tmp_path / "block.fclist")
    for _ in range(3):
        assert verdicts(engine) == before
        assert BLOCKED in loaded and list(loaded) == [f"+{BLOCKED}"] and len(loaded) == 1
        assert loaded.add(OTHER) and OTHER in loaded
        loaded.compact()  # folds into owned memory; the unlinked mapping stays valid
        assert loaded.remove(OTHER) and OTHER not in loaded


# --- a failed reload changes nothing ----------------------------------------------------------


def test_a_failed_reload_keeps_the_previous_policy_and_lists(tmp_path):
    NumberList.from_numbers([BLOCKED], name="blocklist").save(tmp_path / "block.fclist")
    good = write_policy(tmp_path)
    engine = fraudcore.Engine(good)
    engine.set_list(NumberList.from_numbers([DNO_NUMBER], name="dno", kind="dno"))
    before = verdicts(engine)
    state = (
        engine.policy.source,
        engine.policy.rules,
        [(lst.name, len(lst)) for lst in engine.lists],
    )
    assert ("block", ("dno",), 0.0) in before

    (tmp_path / "corrupt.fclist").write_bytes(fix_header(b"FCLIST\0\0" + bytes(16) + b"\x07" * 80))
    (tmp_path / "bad.txt").write_text("+77011234567\nnot a number\n")
    broken = {
        "syntax": (POLICY + "\n[[rules]\n", fraudcore.ParseError),
        "unknown feature": (
            POLICY + '[[rules]]\nid = "x"\nwhen = "caller.regoin == \'KZ\'"\nscore = 0.5\n',
            fraudcore.ParseError,
        ),
        "missing list file": (POLICY.replace("{block}", "absent.fclist"), fraudcore.FileError),
        "corrupt list file": (
            POLICY.replace("{block}", "corrupt.fclist"),
            fraudcore.CorruptFileError,
        ),
        "bad list line": (POLICY.replace("{block}", "bad.txt"), fraudcore.ParseError),
        "list file is a directory": (POLICY.replace("{block}", "."), fraudcore.FileError),
        "binary policy": ("\x00\x01\x02", fraudcore.ParseError),
    }
    for what, (text, error) in broken.items():
        path = tmp_path / f"broken-{what.replace(' ', '-')}.toml"
        path.write_text(text.format(block="block.fclist") if "{block}" in text else text)
        with pytest.raises(error):
            engine.reload(path)
        with pytest.raises(fraudcore.FraudcoreError):
            engine.reload(fraudcore.Policy.from_str(path.read_text(), base_dir=tmp_path))
        assert verdicts(engine) == before, what
    for bad_arg, error in (
        (tmp_path / "absent.toml", fraudcore.FileError),
        (42, fraudcore.InvalidTypeError),
    ):
        with pytest.raises(error):
            engine.reload(bad_arg)
    # The list the good policy names, damaged in place of the old one (by rename).
    (tmp_path / "corrupt.fclist").rename(tmp_path / "block.fclist")
    with pytest.raises(fraudcore.CorruptFileError):
        engine.reload(good)
    assert verdicts(engine) == before
    assert (
        engine.policy.source,
        engine.policy.rules,
        [(lst.name, len(lst)) for lst in engine.lists],
    ) == state

    # Repaired: the reload goes through and keeps the list it was given by set_list.
    NumberList.from_numbers([BLOCKED], name="blocklist").save(tmp_path / "block.fclist")
    engine.reload(good)
    assert verdicts(engine) == before


# --- saving where it cannot be written --------------------------------------------------------


@pytest.fixture(scope="module")
def small_plan(plan_file):
    return fraudcore.NumberingPlan.load(plan_file)


def savers(small_plan):
    lst = NumberList.from_numbers(kz_numbers(100), name="saved")
    return {"list": lst.save, "filter": lst.to_filter(capacity=100).save, "plan": small_plan.save}


@pytest.mark.parametrize("what", ["list", "filter", "plan"])
def test_saving_into_a_missing_directory_is_a_file_error(tmp_path, small_plan, what):
    save = savers(small_plan)[what]
    target = tmp_path / "no" / "such" / "dir" / "x.bin"
    with pytest.raises(fraudcore.FileError) as info:
        save(target)
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOENT
    assert info.value.filename == str(target)  # the file asked for, not a temporary one
    assert not (tmp_path / "no").exists()
    (tmp_path / "file").write_text("a file, not a directory")
    with pytest.raises(fraudcore.FileError) as info:
        save(tmp_path / "file" / "x.bin")
    assert info.value.errno == errno.ENOTDIR


@pytest.mark.parametrize("what", ["list", "filter", "plan"])
def test_saving_over_a_directory_leaves_it_and_no_temporary_file(tmp_path, small_plan, what):
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "inside").write_text("kept")
    with pytest.raises(fraudcore.FileError) as info:
        savers(small_plan)[what](tmp_path / "target")
    assert info.value.errno == errno.EISDIR and info.value.filename == str(tmp_path / "target")
    assert (tmp_path / "target" / "inside").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]


def _as_unprivileged_child(fn):
    """Runs `fn` in a forked child, as `nobody` when we are root (root writes anywhere), and
    returns what it returned (a short string) or the exception it raised, as text."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no pytest teardown, report through the pipe
        os.close(read)
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            result = str(fn())
        except BaseException as e:  # noqa: BLE001 - everything is reported to the parent
            result = f"{type(e).__name__} errno={getattr(e, 'errno', None)}: {e}"
        os.write(write, result.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        out = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status}"
    return out


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and POSIX permissions")
@pytest.mark.parametrize("what", ["list", "filter", "plan"])
def test_saving_into_a_read_only_directory_leaves_the_old_file(small_plan, what):
    # Not under tmp_path: pytest's base directory is private to root, and the child may be
    # `nobody`, which must reach the directory to be refused by its mode.
    base = tempfile.mkdtemp(prefix="fraudcore-ro-")
    try:
        os.chmod(base, 0o755)
        ro = os.path.join(base, "ro")
        os.mkdir(ro)
        target = os.path.join(ro, "existing.bin")
        with open(target, "wb") as f:
            f.write(b"old contents")
        os.chmod(target, 0o644)
        os.chmod(ro, 0o555)
        save = savers(small_plan)[what]
        probe = _as_unprivileged_child(lambda: open(os.path.join(ro, "probe"), "w") and "wrote")
        if probe == "wrote":
            pytest.skip("directory permissions are not enforced here")
        out = _as_unprivileged_child(lambda: save(target) or "saved")
        assert out.startswith("FileError") and f"errno={errno.EACCES}" in out, out
        assert target in out, out
        with open(target, "rb") as f:
            assert f.read() == b"old contents"
        assert os.listdir(ro) == ["existing.bin"]
    finally:
        os.chmod(os.path.join(base, "ro"), 0o755)
        shutil.rmtree(base)
