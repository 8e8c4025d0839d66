"""The `fraudcore` command."""

from __future__ import annotations

import subprocess
import sys

from fraudcore.cli import main


def test_demo_simulates_scores_and_summarises(capsys):
    assert main(["demo", "-n", "20000"]) == 0
    out = capsys.readouterr().out
    assert "20,000 calls (simulated)" in out and "calls/s" in out
    assert "spoofed_home_cli" in out and "robocall_burst" in out
    assert "detection rate: 100.0 %" in out and "false-positive rate: 0.00 %" in out


def test_demo_scores_a_labelled_file(capsys, tmp_path):
    from fraudcore import _data

    assert main(["demo", "--calls", _data.data_path("examples.csv")]) == 0
    out = capsys.readouterr().out
    assert "14 calls (from" in out and "spoofed_home_cli" in out


def test_simulate_writes_csv_and_list_files(tmp_path, capsys):
    out = tmp_path / "sim.csv"
    assert main(["simulate", "-n", "500", "-o", str(out), "--lists", str(tmp_path / "l")]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 501 and lines[0].startswith("timestamp,caller,callee,ingress")
    assert (tmp_path / "l" / "dno.txt").read_text().startswith("+7")


def test_normalize_and_classify(capsys):
    assert main(["normalize", "8 (701) 123-45-67", "junk"]) == 0
    assert capsys.readouterr().out.splitlines() == ["8 (701) 123-45-67\t+77011234567", "junk\t-"]
    assert main(["classify", "+79161234567"]) == 0
    assert "region='RU'" in capsys.readouterr().out


def test_missing_file_exits_1(capsys):
    assert main(["demo", "--calls", "/nonexistent.csv"]) == 1
    assert "nonexistent" in capsys.readouterr().err


def test_console_script_is_installed():
    out = subprocess.run(
        [sys.executable, "-m", "fraudcore.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith("fraudcore ")


def test_list_build_show_export_merge(tmp_path, capsys):
    src = tmp_path / "fraud.txt"
    src.write_text("+77011234567\n8 701 123 45 68\njunk\n", encoding="utf-8")
    out = tmp_path / "fraud.fclist"
    assert main(["list", "build", str(src), "-o", str(out), "--kind", "dno"]) == 0
    captured = capsys.readouterr()
    assert "fraud: dno, exact, 2 numbers" in captured.out
    assert "fraud.txt:3: 'junk' is not a number (bad_character)" in captured.err
    assert main(["list", "build", str(src), "-o", str(out), "--strict"]) == 1
    assert main(["list", "show", str(out)]) == 0
    a, b = tmp_path / "a.fclist", tmp_path / "b.fclist"
    for path in (a, b):
        assert (
            main(["list", "export", str(out), "-o", str(path), "--capacity", "1000", "--seed", "7"])
            == 0
        )
    assert (
        main(["list", "merge", str(a), str(b), "-o", str(tmp_path / "m.fclist"), "--name", "nat"])
        == 0
    )
    assert "nat: dno, bloom-only" in capsys.readouterr().out
