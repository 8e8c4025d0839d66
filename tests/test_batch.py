"""Batch scoring: the CDR CSV contract, `fraudcore score`, `score_many`; replay equals live."""

from __future__ import annotations

import csv
import gc
import io
import struct
import subprocess
import sys

import pytest

import fraudcore
from fraudcore.cli import main

HEADER = "timestamp,caller,callee,ingress,roaming,attestation,duration,trunk,network_number"
ROWS = [
    "1795932000,+77011234567,87272123456,international,,,,gw-1,",
    "1795932001,+79161234567,87272123456,international,false,A,30,gw-1,",
    "1795932002,+77011234567,87272123456,international,yes,,,gw-2,",
    "1795932003,anonymous,87011234567,international,,C,,gw-1,",
    "1795932004,+442071838750,87011234567,international,,,,gw-1,+77011234567",
    "1795932005,hello,112,national,,,,,",
]


def score_text(tmp_path, text: bytes, strict: bool = False):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_bytes(text)
    engine = fraudcore.Engine.default()
    summary = engine.score_csv(src, out, strict=strict)
    return out.read_bytes(), summary


def rows_of(data: bytes):
    return list(csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline="")))


def live(call_rows):
    """What engine.score says of the same calls, one by one, from a fresh engine."""
    engine = fraudcore.Engine.default()
    out = []
    for r in call_rows:
        call = {k: v for k, v in r.items() if v != "" and k in HEADER.split(",")}
        v = engine.score(call)
        out.append((v.action, f"{v.score:.6f}".rstrip("0").rstrip("."), ";".join(v.reasons)))
    return out


def test_replay_equals_live(tmp_path):
    data, summary = score_text(tmp_path, ("\n".join([HEADER, *ROWS]) + "\n").encode())
    got = [(r[-3], r[-2], r[-1]) for r in rows_of(data)[1:]]
    calls = list(csv.DictReader(io.StringIO("\n".join([HEADER, *ROWS]))))
    assert got == live(calls)
    assert summary["rows"] == 6 and summary["malformed"] == 0
    assert summary["actions"] == {"allow": 2, "flag": 2, "block": 2}


def test_the_command_line_equals_live_on_simulated_traffic(tmp_path):
    """A larger mixed stream, with velocity counters: the CSV path and score() agree."""
    from fraudcore import _simulate

    src = tmp_path / "sim.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        _simulate.write_csv(_simulate.simulate(3000, seed=3), f)
    out = tmp_path / "out.csv"
    assert main(["score", str(src), "-o", str(out)]) == 0
    with open(src, newline="", encoding="utf-8") as f:
        calls = list(csv.DictReader(f))
    scored = rows_of(out.read_bytes())
    assert [(r[-3], r[-2], r[-1]) for r in scored[1:]] == live(calls)


@pytest.mark.parametrize(
    "text, expect",
    [
        # Quoting, embedded commas and newlines, extra columns passed through.
        (
            b"id,caller,callee,ingress,note\n"
            b'7,"+7 701 123 45 67",87272123456,onnet,"a, ""b""\nc"\n',
            [
                ["id", "caller", "callee", "ingress", "note", "action", "score", "reasons"],
                ["7", "+7 701 123 45 67", "87272123456", "onnet", 'a, "b"\nc', "allow", "0", ""],
            ],
        ),
        # A byte-order mark and CRLF line ends; columns in any order and case.
        (
            b"\xef\xbb\xbfIngress,Callee,Caller\r\ninternational,87272123456,+77011234567\r\n",
            [
                ["Ingress", "Callee", "Caller", "action", "score", "reasons"],
                [
                    "international",
                    "87272123456",
                    "+77011234567",
                    "block",
                    "0.955",
                    "spoofed_home_cli;weak_attestation",
                ],
            ],
        ),
        # Empty values are unknown; a truncated last line has its missing fields empty.
        (
            b"caller,callee,ingress,roaming,duration\n+77011234567,87272123456,international,,\n"
            b"+79161234567,87272123456,international",
            [
                [
                    "caller",
                    "callee",
                    "ingress",
                    "roaming",
                    "duration",
                    "action",
                    "score",
                    "reasons",
                ],
                [
                    "+77011234567",
                    "87272123456",
                    "international",
                    "",
                    "",
                    "block",
                    "0.955",
                    "spoofed_home_cli;weak_attestation",
                ],
                [
                    "+79161234567",
                    "87272123456",
                    "international",
                    "",
                    "",
                    "allow",
                    "0.1",
                    "weak_attestation",
                ],
            ],
        ),
        # Input columns named like the output ones are overwritten in place.
        (
            b"caller,action,callee,ingress\n+77011234567,old,87272123456,national\n",
            [
                ["caller", "action", "callee", "ingress", "score", "reasons"],
                ["+77011234567", "allow", "87272123456", "national", "0", ""],
            ],
        ),
    ],
)
def test_csv_contract(tmp_path, text, expect):
    data, summary = score_text(tmp_path, text)
    assert rows_of(data) == expect
    assert summary["malformed"] == 0


def test_a_non_utf8_byte(tmp_path):
    data, _ = score_text(
        tmp_path, b"caller,callee,ingress,raw\n+7701\xff1234567,87272123456,national,\xfe\n"
    )
    assert data.endswith(b"\xfe,block,1,invalid_cli\n")  # passed through byte for byte


def test_malformed_rows_are_counted_reported_and_fatal_when_strict(tmp_path):
    text = (
        b"caller,callee,ingress,roaming\n+77011234567,87272123456,mars,\n"
        b"+77011234567,87272123456,national,maybe\n+77011234567,87272123456,national,,extra\n"
        b"+77011234567,87272123456,national,no\n"
    )
    data, summary = score_text(tmp_path, text)
    assert summary["malformed"] == 3 and summary["rows"] == 4
    assert [line for line, _ in summary["first_malformed"]] == [2, 3, 4]
    assert "mars" in summary["first_malformed"][0][1]
    assert [r[-1] for r in rows_of(data)[1:4]] == [
        "malformed:ingress",
        "malformed:roaming",
        "malformed:5 fields where the header has 4",
    ]
    with pytest.raises(fraudcore.ParseError, match=r"in\.csv:2:1: ingress"):
        score_text(tmp_path, text, True)


def test_missing_required_columns(tmp_path):
    with pytest.raises(fraudcore.ParseError, match='no "ingress" column'):
        score_text(tmp_path, b"caller,callee\n1,2\n")
    with pytest.raises(fraudcore.FileError):
        fraudcore.Engine.default().score_csv(tmp_path / "none.csv", tmp_path / "o.csv")


def test_command_line_reads_stdin_writes_stdout_and_exits_with_codes(tmp_path):
    text = "\n".join([HEADER, *ROWS]) + "\nx,y,z,mars,,,,,\n"
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "fraudcore.cli", "score", *a],
        input=text,
        capture_output=True,
        text=True,
    )
    r = run("-")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == HEADER + ",action,score,reasons"
    assert len(r.stdout.splitlines()) == 8
    assert "7 calls in" in r.stderr and "line 8:" in r.stderr and "malformed" in r.stderr
    assert run("-", "--strict").returncode == 1
    observed = run("-", "--observe")
    assert observed.stdout.splitlines()[0].endswith(",reasons,would_action")
    assert ",allow,0.955,spoofed_home_cli;weak_attestation,block" in observed.stdout
    assert (
        subprocess.run(
            [sys.executable, "-m", "fraudcore.cli", "score"], capture_output=True
        ).returncode
        == 2
    )


def test_score_many_equals_score_and_names_the_bad_index():
    calls = list(csv.DictReader(io.StringIO("\n".join([HEADER, *ROWS]))))
    calls = [{k: v for k, v in c.items() if v} for c in calls]
    calls[1] = fraudcore.Call(**{k: calls[1][k] for k in ("caller", "callee", "ingress")})
    many = fraudcore.Engine.default().score_many(iter(calls))
    one = fraudcore.Engine.default()
    assert [(v.action, v.reasons) for v in many] == [
        (v.action, v.reasons) for v in map(one.score, calls)
    ]
    with pytest.raises(fraudcore.InvalidValueError, match=r"calls\[2\]: roaming"):
        one.score_many([calls[0], calls[0], {**calls[0], "roaming": "maybe"}])
    with pytest.raises(fraudcore.InvalidTypeError, match=r"calls\[0\]: call"):
        one.score_many([42])


def test_score_many_creates_its_verdicts_with_the_collector_paused():
    """A large batch's verdicts are created without a collection in between (each is a
    tracked object), and the collector's state is the caller's again afterwards."""
    call = {"caller": "+77011234567", "callee": "87272123456", "ingress": "international"}
    engine = fraudcore.Engine.default()
    collections = []

    def heard(phase, info):
        if phase == "start":
            collections.append(info["generation"])

    threshold = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    gc.callbacks.append(heard)
    try:
        verdicts = engine.score_many([call] * 3000)
        assert collections == [] and gc.isenabled()
        assert len(verdicts) == 3000 and {v.action for v in verdicts} == {"block"}
        # Without the pause 3000 new tracked objects set off collections.
        kept = [engine.score(call) for _ in range(3000)]
        assert collections and len(kept) == 3000
        gc.disable()
        try:
            engine.score_many([call] * 3000)
            assert not gc.isenabled()
        finally:
            gc.enable()
    finally:
        gc.callbacks.remove(heard)
        gc.set_threshold(*threshold)


def test_score_table_accepts_pyarrow_polars_and_pandas():
    pa = pytest.importorskip("pyarrow")
    pl = pytest.importorskip("polars")
    pd = pytest.importorskip("pandas")
    data = {
        "Caller": ["+77011234567", "+79161234567", None, "x", "+77011234567"],
        "callee": ["87272123456"] * 5,
        "ingress": ["international", "international", "national", "mars", "national"],
        "roaming": [None, False, True, None, None],
        "duration": [None, 3.0, None, 1.0, 2.5],
        "timestamp": [1_795_932_000 + i for i in range(5)],
        "extra": list("abcde"),
    }
    engine = fraudcore.Engine.default()
    want = {
        "action": ["block", "allow", "block", None, "allow"],
        "reasons": [
            "spoofed_home_cli;weak_attestation",
            "weak_attestation",
            "invalid_cli",
            "malformed:ingress",
            "",
        ],
    }
    for table in (
        pa.table(data),
        pl.DataFrame(data),
        pd.DataFrame(data),
        pa.table(data).to_batches()[0],
        pl.DataFrame(data).lazy().collect(),
    ):
        out = engine.score_table(table).to_pydict()
        assert {k: out[k] for k in want} == want, type(table)
        assert out["score"][0] == pytest.approx(0.955) and out["score"][3] is None
    # String views (polars' own strings), dictionary-encoded text, a sliced table.
    t = pa.table(data)
    sliced = engine.score_table(t.slice(1, 3)).to_pydict()
    assert sliced["action"] == want["action"][1:4]
    # `string` (32-bit offsets, read in place), `large_string`, and columns of several chunks.
    large = t.cast(
        pa.schema(
            [
                pa.field(f.name, pa.large_string()) if pa.types.is_string(f.type) else f
                for f in t.schema
            ]
        )
    )
    chunked = pa.concat_tables([t.slice(0, 2), t.slice(2, 1), t.slice(3)])
    assert chunked.column("Caller").num_chunks == 3
    for table in (large, chunked, large.slice(1, 3)):
        out = engine.score_table(table).to_pydict()
        first = 1 if table.num_rows == 3 else 0
        assert out["reasons"] == want["reasons"][first : first + table.num_rows]
    cat = pd.DataFrame(data).astype({"ingress": "category"})
    assert engine.score_table(cat).to_pydict()["action"] == want["action"]
    with pytest.raises(fraudcore.InvalidValueError, match="no 'ingress' column"):
        engine.score_table(pa.table({"caller": ["1"], "callee": ["2"]}))
    with pytest.raises(fraudcore.InvalidTypeError, match="table"):
        engine.score_table([1, 2, 3])


def test_score_table_takes_arrow_arrays_through_the_c_data_interface():
    """Columns reach Rust as `__arrow_c_array__` capsules: each array is moved out of its
    capsule (which is left released) and read in place; what is not utf8, large_utf8 or
    float64, a released array or a column shorter than the table is refused by name."""
    pa = pytest.importorskip("pyarrow")
    from fraudcore import _table

    engine = fraudcore.Engine.default()
    caller = pa.array(["+77011234567", None, "+79161234567"])
    callee = pa.array(["87272123456"] * 3, pa.large_string())
    ingress = pa.array(["international", "national", "international"])
    timestamp = pa.array([1_795_932_000.0, None, 1_795_932_002.5])

    def specs(**columns):
        return [
            columns[f].__arrow_c_array__() if f in columns else None for f in _table.CALL_FIELDS
        ]

    given = specs(caller=caller, callee=callee, ingress=ingress, timestamp=timestamp)
    actions, scores, offsets, reasons, malformed, first = engine._score_columns(3, given)
    assert list(actions) == [2, 2, 0] and malformed == 0 and first == []
    assert reasons.decode().startswith("spoofed_home_cli;weak_attestation")
    # The same capsules again: the arrays were taken, their capsules left released.
    with pytest.raises(
        fraudcore.InvalidValueError, match="timestamp: the Arrow array was released"
    ):
        engine._score_columns(3, given)
    with pytest.raises(fraudcore.InvalidValueError, match='caller: Arrow format "l" is not'):
        engine._score_columns(3, specs(caller=pa.array([1, 2, 3]), callee=callee, ingress=ingress))
    with pytest.raises(
        fraudcore.InvalidValueError, match="caller: 3 rows in the column, 4 in the table"
    ):
        engine._score_columns(4, specs(caller=caller, callee=callee, ingress=ingress))
    not_capsules = specs(caller=caller, ingress=ingress)
    not_capsules[2] = ("a", "b")
    with pytest.raises(fraudcore.InvalidTypeError, match="callee: expected an Arrow PyCapsule"):
        engine._score_columns(3, not_capsules)
    # Null slots are read through the validity bitmap, whatever bytes they hold: a null
    # duration slot holding -1.0 and a null roaming slot holding "maybe", both arrays offset.
    durations = struct.pack("<4d", 9.0, 3.0, -1.0, 5.0)
    duration = pa.Array.from_buffers(
        pa.float64(), 3, [pa.py_buffer(bytes([0b1011])), pa.py_buffer(durations)], offset=1
    )
    roaming = pa.Array.from_buffers(
        pa.string(),
        3,
        [
            pa.py_buffer(bytes([0b1101])),
            pa.py_buffer(struct.pack("<5i", 0, 5, 10, 15, 20)),
            pa.py_buffer(b"maybemaybe" + b"falsefalse"),
        ],
        offset=1,
    )
    assert duration.to_pylist() == [3.0, None, 5.0]
    assert roaming.to_pylist() == [None, "false", "false"]
    three = pa.table({"caller": caller, "callee": callee, "ingress": ingress})
    out = engine.score_table(three.append_column("duration", duration)).to_pydict()
    assert all(a is not None for a in out["action"]), out
    out = engine.score_table(three.append_column("roaming", roaming)).to_pydict()
    assert all(a is not None for a in out["action"]), out
    # Empty tables, all-null columns, and columns sliced out of larger arrays.
    empty = pa.table({"caller": pa.array([], pa.string()), "callee": [], "ingress": []})
    assert (
        engine.score_table(
            empty.cast(pa.schema([(n, pa.string()) for n in empty.column_names]))
        ).num_rows
        == 0
    )
    nulls = pa.table(
        {"caller": pa.nulls(2, pa.string()), "callee": ["1", "2"], "ingress": ["national"] * 2}
    )
    live = engine.score({"caller": None, "callee": "1", "ingress": "national"})
    assert engine.score_table(nulls).to_pydict()["reasons"] == [";".join(live.reasons)] * 2
    whole = pa.table(
        {"caller": caller, "callee": callee, "ingress": ingress, "timestamp": timestamp}
    )
    assert (
        engine.score_table(whole.slice(2)).to_pydict()
        == engine.score_table(pa.Table.from_pylist(whole.slice(2).to_pylist())).to_pydict()
    )


def test_score_table_equals_score_on_simulated_traffic():
    pa = pytest.importorskip("pyarrow")
    from fraudcore import _simulate

    calls = list(_simulate.simulate(5000, seed=5))
    table = pa.Table.from_pylist(calls)
    a, b = fraudcore.Engine.default(), fraudcore.Engine.default()
    _simulate.world(0).apply(a)
    _simulate.world(0).apply(b)
    out = a.score_table(table).to_pydict()
    fields = set(HEADER.split(","))
    live_v = [b.score({k: v for k, v in c.items() if k in fields}) for c in calls]
    assert out["action"] == [v.action for v in live_v]
    assert out["reasons"] == [";".join(v.reasons) for v in live_v]


def test_snapshots_carry_policy_files_and_lists(tmp_path):
    engine = fraudcore.Engine.default()
    engine.set_list(
        fraudcore.NumberList.from_numbers(range(77050000000, 77050100000), name="dno", kind="dno")
    )
    blocklist = fraudcore.NumberList.from_numbers([77011234567], name="blocklist")
    engine.set_list(blocklist)
    blocklist.add(77011234568)  # a live update is part of the snapshot
    path = tmp_path / "engine.fcsnap"
    engine.save_snapshot(path)
    loaded = fraudcore.Engine.load(path)
    assert "snapshot" in loaded.policy.source and len(loaded.policy.rules) == 22
    assert {lst.name: len(lst) for lst in loaded.lists} == {
        "allowlist": 0,
        "blocklist": 2,
        "dno": 100_000,
        "partner": 0,
    }
    calls = [
        {"caller": c, "callee": "87272123456", "ingress": i}
        for c in ("+77011234568", "+77050012345", "+77011234567", "+79161234567", "+53712345")
        for i in ("national", "international")
    ]
    assert [(v.action, v.reasons) for v in loaded.score_many(calls)] == [
        (v.action, v.reasons) for v in engine.score_many(calls)
    ]
    # From the command line, and as --policy of fraudcore score.
    out = tmp_path / "cli.fcsnap"
    assert main(["compile", fraudcore.DEFAULT_POLICY, "-o", str(out)]) == 0
    assert fraudcore.Engine(out).policy.rules == fraudcore.Policy.default().rules
    # Damage is refused.
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(fraudcore.CorruptFileError):
        fraudcore.Engine.load(path)
