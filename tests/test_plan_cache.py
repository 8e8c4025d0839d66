"""The compiled plan: built once per phonenumbers version, cached, verified when loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from engines import bare

import fraudcore
from fraudcore import _plan


@pytest.fixture(scope="module")
def small_plan():
    return fraudcore.NumberingPlan.compile(json.dumps(_plan.extract_source(["KZ", "RU", "DE"])))


def test_cache_file_is_named_for_both_versions():
    import phonenumbers

    name = _plan.cache_path().name
    assert phonenumbers.__version__ in name and fraudcore.__version__ in name


def test_save_and_load_round_trip(tmp_path, small_plan):
    path = tmp_path / "plan.fcplan"
    small_plan.save(path)
    loaded = fraudcore.NumberingPlan.load(str(path))
    assert loaded.source == small_plan.source and loaded.stats() == small_plan.stats()
    engine = bare("KZ", plan=loaded)
    assert engine.classify("+4930123456").region == "DE"
    assert engine.classify("+12125550000").region is None  # not in this small plan


def test_damaged_files_are_refused(tmp_path, small_plan):
    path = tmp_path / "plan.fcplan"
    small_plan.save(path)
    data = path.read_bytes()
    for cut in (0, 7, 12, 23, 24, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(fraudcore.CorruptFileError):
            fraudcore.NumberingPlan.load(path)
    for offset in (0, 9, 30, len(data) - 5):
        damaged = bytearray(data)
        damaged[offset] ^= 0x40
        path.write_bytes(bytes(damaged))
        with pytest.raises(fraudcore.CorruptFileError) as info:
            fraudcore.NumberingPlan.load(path)
        assert str(path) in str(info.value) and isinstance(info.value, ValueError)


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(fraudcore.FileError) as info:
        fraudcore.NumberingPlan.load(tmp_path / "absent.fcplan")
    assert isinstance(info.value, FileNotFoundError) or info.value.errno == 2


def test_bad_source_json_names_line_and_column():
    with pytest.raises(fraudcore.ParseError, match=r":1:\d+:"):
        fraudcore.NumberingPlan.compile('{"source": 1}')


def _fresh_python(code, cache_dir):
    env = dict(os.environ, FRAUDCORE_CACHE_DIR=str(cache_dir))
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


def test_first_use_compiles_and_caches_then_reuses(tmp_path):
    code = (
        "import fraudcore, fraudcore._plan as p\n"
        "e = fraudcore.Engine.default()\n"
        "print(e.score({'caller': '+77011234567', 'callee': '112', 'ingress': 'onnet'}).action)\n"
        "print(p.cache_path())\n"
    )
    action, path = _fresh_python(code, tmp_path).split()
    assert action == "allow" and os.path.exists(path)
    stamp = os.stat(path).st_mtime_ns
    _fresh_python(code, tmp_path)
    assert os.stat(path).st_mtime_ns == stamp  # reused, not rebuilt


def test_a_corrupt_cache_is_rebuilt(tmp_path):
    code = "import fraudcore._plan as p; p.load_plan(); print(p.cache_path())"
    path = _fresh_python(code, tmp_path).strip()
    with open(path, "r+b") as f:
        f.seek(100)
        f.write(b"\xff\xff\xff\xff")
    _fresh_python(code, tmp_path)
    fraudcore.NumberingPlan.load(path)  # sound again
