"""Package surface: exports, version, the type stub against the built module, the README."""

from __future__ import annotations

import doctest
import pathlib
import re
import subprocess
import sys

import pytest

import fraudcore

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_exports_and_version():
    for name in fraudcore.__all__:
        assert hasattr(fraudcore, name), name
    cargo = (ROOT / "Cargo.toml").read_text()
    assert re.search(r'^version = "%s"$' % re.escape(fraudcore.__version__), cargo, re.M)


def test_error_hierarchy():
    assert issubclass(fraudcore.InvalidValueError, (fraudcore.FraudcoreError, ValueError))
    assert issubclass(fraudcore.InvalidTypeError, TypeError)
    assert issubclass(fraudcore.ParseError, ValueError)
    assert issubclass(fraudcore.CorruptFileError, ValueError)
    assert issubclass(fraudcore.FileError, OSError)


def test_stub_matches_the_extension():
    pytest.importorskip("mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "fraudcore._fraudcore", "--ignore-missing-stub"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_quickstart_runs():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(>>> .*?)```", text, re.S)
    assert blocks, "README has no >>> quickstart"
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    namespace: dict = {}  # blocks build on each other, as in a session
    for i, block in enumerate(blocks):
        test = parser.get_doctest(block, namespace, f"README[{i}]", "README.md", 0)
        runner.run(test, clear_globs=False)
        namespace.update(test.globs)  # DocTest copies its globals
    assert runner.failures == 0


def test_package_docstring_example():
    assert doctest.testmod(fraudcore).failed == 0
