"""The `fraudcore` command line."""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from typing import List, Optional, Sequence

from . import __version__
from ._engine import Engine
from ._errors import FraudcoreError
from ._fraudcore import NumberList, Policy

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
    """Simulates a busy period, scores it with the default policy, prints what was caught."""
    from . import _simulate

    started = time.perf_counter()
    engine = Engine(args.policy)
    if args.calls:
        rows = _read_examples(args.calls)
        calls = [{k: v for k, v in row.items() if k in _CALL_FIELDS and v} for row in rows]
        labels = [(row.get("scenario") or "-", row.get("expected") or "") for row in rows]
    else:
        world = _simulate.world(args.seed)
        world.apply(engine)
        calls, labels = [], []
        for call in _simulate.simulate(args.n, seed=args.seed, world=world):
            labels.append((call.pop("scenario"), call.pop("expected")))
            calls.append(call)
    ready = time.perf_counter()
    verdicts = engine.score_many(calls)
    took = time.perf_counter() - ready
    policy = engine.policy
    print(f"fraudcore {__version__} · {engine.plan.source} · policy {policy.source}")
    print(
        f"{len(calls):,} calls ({'from ' + args.calls if args.calls else 'simulated'}), "
        f"scored in {took:.2f} s: {len(calls) / max(took, 1e-9):,.0f} calls/s "
        f"(set-up {ready - started:.2f} s)\n"
    )
    _demo_examples(calls, labels, verdicts)
    _demo_table(labels, verdicts)
    return 0


def _demo_examples(calls, labels, verdicts) -> None:
    """One example call per scenario."""
    print(f"{'action':<6} {'score':>5}  {'caller':<16} {'ingress':<13} {'scenario':<24} reasons")
    seen = set()
    for call, (scenario, _), v in zip(calls, labels, verdicts):
        if scenario in seen:
            continue
        seen.add(scenario)
        caller = str(call.get("caller") or "")[:16]
        print(
            f"{v.action:<6} {v.score:>5.2f}  {caller:<16} {call['ingress']:<13} "
            f"{scenario[:24]:<24} {', '.join(v.reasons[:3]) or '-'}"
        )


def _demo_table(labels, verdicts) -> None:
    """Per scenario: calls, the share scored as labelled, the actions taken. Each call carries
    its own expected action (a burst is only recognisable from its 20th call or so)."""
    by: dict = {}
    should_catch = caught = legit = false_pos = 0
    for (scenario, expected), v in zip(labels, verdicts):
        row = by.setdefault(scenario, [0, 0, Counter()])
        row[0] += 1
        row[1] += v.action == expected
        row[2][v.action] += 1
        if expected == "allow":
            legit += 1
            false_pos += v.action != "allow"
        elif expected:
            should_catch += 1
            caught += v.action != "allow"
    print(f"\n{'scenario':<26} {'calls':>8} {'as labelled':>12}   allow   flag  block")
    for scenario, (n, right, counts) in by.items():
        shown = f"{100 * right / n:11.1f}%" if any(e for s, e in labels if s == scenario) else "-"
        print(
            f"{scenario[:26]:<26} {n:>8,} {shown:>12}  "
            f"{counts['allow']:>6} {counts['flag']:>6} {counts['block']:>6}"
        )
    if should_catch:
        print(
            f"\ndetection rate: {100 * caught / should_catch:.1f} % of {should_catch:,} calls "
            "the policy should catch were flagged or blocked"
        )
    if legit:
        print(f"false-positive rate: {100 * false_pos / legit:.2f} % of {legit:,} legitimate calls")


def _simulate_cmd(args: argparse.Namespace) -> int:
    from . import _simulate

    out = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout
    try:
        n = _simulate.write_csv(_simulate.simulate(args.n, seed=args.seed, rate=args.rate), out)
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"{n:,} calls written", file=sys.stderr)
    if args.lists:
        import os

        world = _simulate.world(args.seed)
        os.makedirs(args.lists, exist_ok=True)
        for name in ("dno", "blocklist", "partner", "allowlist"):
            with open(os.path.join(args.lists, f"{name}.txt"), "w", encoding="utf-8") as f:
                f.writelines(f"+{n}\n" for n in getattr(world, name))
        print(f"list files for the simulated world written to {args.lists}/", file=sys.stderr)
    return 0


def _normalize(args: argparse.Namespace) -> int:
    engine = Engine(args.policy)
    for raw in args.numbers:
        print(f"{raw}\t{engine.normalize(raw, args.ingress) or '-'}")
    return 0


def _classify(args: argparse.Namespace) -> int:
    engine = Engine(args.policy)
    for raw in args.numbers:
        print(repr(engine.lookup(raw, args.ingress)))
    return 0


def _step(text: str) -> float:
    print(text, end="", flush=True, file=sys.stderr)
    return time.perf_counter()


def _done(started: float, count: Optional[int] = None) -> None:
    took = time.perf_counter() - started
    rate = f", {count / took:,.0f}/s" if count and took > 0 else ""
    print(f" {took:.2f} s{rate}", file=sys.stderr)


def _list_info(lst: NumberList) -> str:
    per = lst.size_bytes / max(len(lst), 1)
    return (
        f"{lst.name}: {lst.kind}, {'exact' if lst.exact else 'bloom-only'}, {len(lst):,} numbers, "
        f"{lst.size_bytes:,} bytes ({per:.2f} per number), fpr {lst.fpr:g}, bloom {lst.bloom}"
    )


def _progress_bar(label: str):
    """A `progress(done, total)` callback drawing one line on a terminal; None when piped."""
    if not sys.stderr.isatty():
        return None
    started = time.perf_counter()

    def show(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9) / 1e6
        bar = "#" * int(30 * done / max(total, 1))
        pct = 100 * done / max(total, 1)
        print(f"\r{label} [{bar:<30}] {pct:5.1f}% {rate:6.1f} MB/s", end="", file=sys.stderr)

    return show


def _list_build(args: argparse.Namespace) -> int:
    engine = Engine(args.policy)
    t = _step(f"reading and parsing {args.input} …")
    lst = NumberList.from_file(
        engine,
        args.input,
        name=args.name,
        kind=args.kind,
        fpr=args.fpr,
        strict=args.strict,
        progress=_progress_bar("parsing"),
    )
    report = lst.report or {}
    _done(t, report.get("lines"))
    for line, text, reason in report.get("first_bad", []):
        print(f"{args.input}:{line}: {text!r} is not a number ({reason})", file=sys.stderr)
    if report.get("bad"):
        print(f"{report['bad']:,} of {report['lines']:,} lines skipped", file=sys.stderr)
    t = _step(f"writing {args.output} …")
    lst.save(args.output)
    _done(t)
    print(_list_info(lst))
    return 0


def _list_show(args: argparse.Namespace) -> int:
    for path in args.files:
        print(_list_info(NumberList.load(path)))
    return 0


def _list_export(args: argparse.Namespace) -> int:
    lst = NumberList.load(args.input)
    capacity = args.capacity or len(lst)
    shared = lst.to_filter(capacity=capacity, fpr=args.fpr, seed=args.seed, name=args.name)
    shared.save(args.output)
    print(_list_info(shared))
    return 0


def _list_merge(args: argparse.Namespace) -> int:
    merged = NumberList.load(args.inputs[0])
    for path in args.inputs[1:]:
        merged = merged.merge(NumberList.load(path), name=args.name)
    merged.save(args.output)
    print(_list_info(merged))
    return 0


def _engine_for(args: argparse.Namespace) -> Engine:
    engine = Engine(args.policy)  # a policy file or a snapshot
    if getattr(args, "observe", False):
        engine.reload(engine.policy.with_mode("observe"))
    return engine


def _print_summary(summary: dict, seconds: float, out=sys.stderr) -> None:
    """The end-of-run table: calls by action, top reasons, malformed rows, throughput."""
    rows = summary["rows"]
    scored = max(rows - summary["malformed"], 1)
    print(
        f"\n{rows:,} calls in {seconds:.2f} s ({rows / max(seconds, 1e-9):,.0f} calls/s)", file=out
    )
    for action in ("allow", "flag", "block"):
        n = summary["actions"][action]
        print(f"  {action:<6} {n:>12,}  {100 * n / scored:5.1f} %", file=out)
    top = sorted(summary["reasons"].items(), key=lambda kv: -kv[1])[:10]
    if top:
        print("top reasons:", file=out)
        for reason, n in top:
            print(f"  {reason:<32} {n:>12,}", file=out)
    if summary["malformed"]:
        print(
            f"{summary['malformed']:,} malformed rows (written with reason malformed:FIELD):",
            file=out,
        )
        for line, message in summary["first_malformed"]:
            print(f"  line {line}: {message}", file=out)


def _score(args: argparse.Namespace) -> int:
    engine = _engine_for(args)
    output = args.output or "-"
    if output == "-":
        sys.stdout.flush()
    progress = _progress_bar("scoring") if args.input != "-" else None
    started = time.perf_counter()
    summary = engine.score_csv(
        args.input,
        output,
        strict=args.strict,
        progress=(lambda done, total: progress(done, total or done)) if progress else None,
    )
    if progress:
        print(file=sys.stderr)
    _print_summary(summary, time.perf_counter() - started)
    return 0


def _compile(args: argparse.Namespace) -> int:
    t = _step(f"compiling {args.policy} and its lists …")
    engine = Engine(args.policy)
    engine.save_snapshot(args.output)
    _done(t)
    lists = ", ".join(f"{lst.name} {len(lst):,}" for lst in engine.lists)
    print(f"{args.output}: {len(engine.policy.rules)} rules; lists: {lists or 'none'}")
    return 0


def _check_policy(args: argparse.Namespace) -> int:
    policy = Policy.from_file(args.file)
    print(policy.summary(), end="")
    return 0


def _add_list_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    lists = sub.add_parser("list", help="build, inspect, share and merge number lists")
    cmds = lists.add_subparsers(dest="list_command", required=True)
    build = cmds.add_parser("build", help="text file (one number per line) → list file")
    build.add_argument("input")
    build.add_argument("-o", "--output", required=True)
    build.add_argument("--name")
    build.add_argument("--kind", default="block", choices=["block", "dno", "allow", "partner"])
    build.add_argument("--fpr", type=float, default=1e-4)
    build.add_argument("--strict", action="store_true", help="stop at the first bad line")
    build.add_argument(
        "--policy", help="read numbers with this policy's home dialling plan (default: bundled)"
    )
    build.set_defaults(run=_list_build)
    show = cmds.add_parser("show", help="describe list files")
    show.add_argument("files", nargs="+")
    show.set_defaults(run=_list_show)
    export = cmds.add_parser("export", help="list file → bloom-only filter to share")
    export.add_argument("input")
    export.add_argument("-o", "--output", required=True)
    export.add_argument("--capacity", type=int, help="agreed capacity (default: the list's size)")
    export.add_argument("--fpr", type=float, default=1e-4)
    export.add_argument("--seed", type=int, default=0)
    export.add_argument("--name")
    export.set_defaults(run=_list_export)
    merge = cmds.add_parser("merge", help="OR filters built with the same parameters")
    merge.add_argument("inputs", nargs="+")
    merge.add_argument("-o", "--output", required=True)
    merge.add_argument("--name")
    merge.set_defaults(run=_list_merge)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fraudcore", description="CLI-spoofing and fraud scoring.")
    p.add_argument("--version", action="version", version=f"fraudcore {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="simulate a busy period, score it with the default policy, show the catch"
    )
    demo.add_argument("--calls", help="a labelled CDR CSV to score instead of simulated traffic")
    demo.add_argument("-n", type=int, default=100_000, help="simulated calls (default 100,000)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--policy", help="a policy file (default: the bundled default policy)")
    demo.set_defaults(run=_demo)
    score = sub.add_parser(
        "score",
        help="score a CDR CSV file (or - for stdin) into a CSV with action, score, reasons",
        description="Streams IN (a CDR CSV with a header; '-' reads stdin) through the policy and "
        "writes the input columns plus action, score and reasons to OUT (default stdout). "
        "Exit codes: 0 done (malformed rows are reported and counted), 1 error (bad file, "
        "policy, or a malformed row under --strict), 2 usage.",
    )
    score.add_argument("input")
    score.add_argument("-o", "--output", help="output CSV (default: stdout)")
    score.add_argument("--policy", help="a policy file (default: the bundled default policy)")
    score.add_argument("--observe", action="store_true", help="run the policy in observe mode")
    score.add_argument("--strict", action="store_true", help="stop at the first malformed row")
    score.set_defaults(run=_score)
    sim = sub.add_parser(
        "simulate", help="write labelled simulated traffic (CDR CSV with scenario, expected)"
    )
    sim.add_argument("-n", type=int, default=100_000, help="calls (default 100,000)")
    sim.add_argument("-o", "--output", help="output CSV (default: stdout)")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--rate", type=float, default=500.0, help="calls per second of traffic")
    sim.add_argument("--lists", help="also write the world's list files into this folder")
    sim.set_defaults(run=_simulate_cmd)
    comp = sub.add_parser(
        "compile",
        help="policy + its files and lists → one snapshot file (load: Engine(path), --policy)",
    )
    comp.add_argument("policy")
    comp.add_argument("-o", "--output", required=True)
    comp.set_defaults(run=_compile)
    check = sub.add_parser("check-policy", help="validate a policy file and summarise its rules")
    check.add_argument("file")
    check.set_defaults(run=_check_policy)
    for name, run, text in (
        ("normalize", _normalize, "print the E.164 form of raw numbers"),
        ("classify", _classify, "print what the numbering plan says of raw numbers"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("numbers", nargs="+")
        cmd.add_argument(
            "--ingress", default="national", choices=["international", "national", "onnet"]
        )
        cmd.add_argument("--policy", help="a policy file (default: the bundled default policy)")
        cmd.set_defaults(run=run)
    _add_list_commands(sub)
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
