"""The `fraudcore` command line."""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from typing import List, Optional, Sequence

from . import __version__
from ._data import data_path
from ._engine import Engine
from ._errors import FraudcoreError

_CALL_FIELDS = (
    "timestamp",
    "caller",
    "callee",
    "ingress",
    "roaming",
    "attestation",
    "duration",
    "trunk",
    "network_number",
)


def _read_examples(path: str) -> List[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(row for row in f if not row.startswith("#")))


def _demo(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    engine = Engine.default()
    ready = time.perf_counter()
    rows = _read_examples(args.calls or data_path("examples.csv"))
    calls = [{k: row.get(k) for k in _CALL_FIELDS if row.get(k) not in (None, "")} for row in rows]
    verdicts = [engine.score(call) for call in calls]
    print(f"fraudcore {__version__} · {engine.plan.source} · home {engine.home_region}")
    print(f"{'action':<6} {'score':>5}  {'caller':<20} {'ingress':<13} {'caller is':<14} reasons")
    for row, verdict in zip(rows, verdicts):
        who = verdict.caller
        where = f"{who.region or '?'} {who.type}" if who.e164 else f"({who.invalid_reason})"
        print(
            f"{verdict.action:<6} {verdict.score:>5.2f}  {row['caller'][:20]:<20} "
            f"{row['ingress']:<13} {where[:14]:<14} {', '.join(verdict.reasons) or '-'}"
        )
        if row.get("scenario"):
            print(f"{'':14}└ {row['scenario']}")
    counts = Counter(v.action for v in verdicts)
    summary = ", ".join(f"{counts.get(a, 0)} {a}" for a in ("allow", "flag", "block"))
    print(f"\n{len(verdicts)} calls: {summary}. Engine ready in {ready - started:.2f} s.")
    return 0


def _normalize(args: argparse.Namespace) -> int:
    engine = Engine.default()
    for raw in args.numbers:
        print(f"{raw}\t{engine.normalize(raw, args.ingress) or '-'}")
    return 0


def _classify(args: argparse.Namespace) -> int:
    engine = Engine.default()
    for raw in args.numbers:
        print(repr(engine.lookup(raw, args.ingress)))
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fraudcore", description="CLI-spoofing and fraud scoring.")
    p.add_argument("--version", action="version", version=f"fraudcore {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="score the bundled example calls with the default engine")
    demo.add_argument("--calls", help="a CDR CSV to score instead of the bundled examples")
    demo.set_defaults(run=_demo)
    for name, run, text in (
        ("normalize", _normalize, "print the E.164 form of raw numbers"),
        ("classify", _classify, "print what the numbering plan says of raw numbers"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("numbers", nargs="+")
        cmd.add_argument("--ingress", default="national", choices=["international", "national", "onnet"])
        cmd.set_defaults(run=run)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the `fraudcore` command. Exit codes: 0 ok, 1 fraudcore error, 2 usage."""
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (FraudcoreError, OSError) as e:
        print(f"fraudcore: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
