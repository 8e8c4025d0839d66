"""Concurrency under load: scoring threads while the policy is reloaded and lists are replaced
and updated; every verdict is one a configuration gives, and no list update is lost. Then the
engine, after all that, across fork(); and an import that starts no threads."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import fraudcore
from fraudcore import NumberList

# Policies A and B differ in one rule's action: a spoofed home CLI blocks in A, flags in B.
POLICY = """\
home_region = "KZ"
international_prefixes = ["00"]

[lists.blocklist]
kind = "block"

[lists.dno]
kind = "dno"

[[rules]]
id = "spoofed_home_cli"
when = "ingress == 'international' and roaming != true and caller.is_home"
score = 0.6
action = "{spoof_action}"

[[rules]]
id = "blocklisted_cli"
when = "caller in blocklist"
action = "block"

[[rules]]
id = "dno_cli"
when = "caller in dno"
action = "block"

[[rules]]
id = "withheld"
when = "caller.invalid_reason == 'withheld'"
score = 0.5
"""
POLICY_A = fraudcore.Policy.from_str(POLICY.format(spoof_action="block"), name="a.toml")
POLICY_B = fraudcore.Policy.from_str(POLICY.format(spoof_action="flag"), name="b.toml")

TOGGLED = 77011110000  # added to and removed from the live blocklist by the updater
DNO = 77012220000  # on one of the two dno lists the replacer swaps in
CALLERS = ["+77011234567", TOGGLED, DNO, "+79161234567", "+12015550123", "anonymous", "junk"]
CALLS = [
    {"caller": caller, "callee": "87272123456", "ingress": ingress, "roaming": roaming}
    for caller in CALLERS
    for ingress in ("international", "national")
    for roaming in (False, None)
]
UPDATES = range(77013000000, 77013000000 + 1_000_000)  # numbers the updater adds (not scored)


def observed(v):
    return (v.action, v.reasons, round(v.score, 9))


def expected_verdicts():
    """Per call, the verdicts of the 8 configurations: policy A or B, TOGGLED on the blocklist
    or not, DNO on the dno list or not."""
    allowed = [set() for _ in CALLS]
    for policy, toggled, dno in itertools.product(
        (POLICY_A, POLICY_B), (False, True), (False, True)
    ):
        engine = fraudcore.Engine(policy)
        engine.set_list(NumberList.from_numbers([TOGGLED] if toggled else [], name="blocklist"))
        engine.set_list(NumberList.from_numbers([DNO] if dno else [], name="dno", kind="dno"))
        for i, call in enumerate(CALLS):
            allowed[i].add(observed(engine.score(call)))
    return allowed


def test_scoring_while_reloading_replacing_and_updating_lists():
    allowed = expected_verdicts()
    # The configurations differ where they should: the policy alone decides spoofed calls.
    spoofed = CALLS.index(
        {
            "caller": "+77011234567",
            "callee": "87272123456",
            "ingress": "international",
            "roaming": False,
        }
    )
    assert {a for a, _, _ in allowed[spoofed]} == {"block", "flag"}

    engine = fraudcore.Engine(POLICY_A)
    live = NumberList.from_numbers([], name="blocklist")
    engine.set_list(live)
    stop = threading.Event()
    bad, seen, counts = [], [set() for _ in CALLS], {"scored": 0, "reloads": 0, "swaps": 0}
    added, removed = [], []
    errors = []

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - reported below, with the thread's name
                errors.append((threading.current_thread().name, repr(e)))
                stop.set()

        return run

    @guarded
    def score():
        n = 0
        while not stop.is_set():
            for i, call in enumerate(CALLS):
                got = observed(engine.score(call))
                seen[i].add(got)
                if got not in allowed[i]:
                    bad.append((call, got))
            n += len(CALLS)
        counts["scored"] += n

    @guarded
    def reload():
        for policy in itertools.cycle((POLICY_B, POLICY_A)):
            if stop.is_set():
                break
            engine.reload(policy)
            counts["reloads"] += 1

    last_dno = []

    @guarded
    def update():
        dno_lists = itertools.cycle(
            (
                NumberList.from_numbers([DNO], name="dno", kind="dno"),
                NumberList.from_numbers([], name="dno", kind="dno"),
            )
        )
        numbers = iter(UPDATES)
        i = 0
        while not stop.is_set():
            last_dno[:] = [next(dno_lists)]
            engine.set_list(last_dno[0])
            counts["swaps"] += 1
            # The live list: toggle the scored number; add numbers, remove every third again.
            (live.add if i % 2 == 0 else live.remove)(TOGGLED)
            for _ in range(20):
                n = next(numbers)
                assert live.add(n)
                added.append(n)
                if n % 3 == 0:
                    assert live.remove(n)
                    removed.append(n)
            if i % 50 == 0:
                live.compact()
            i += 1

    threads = [threading.Thread(target=score, name=f"score-{i}") for i in range(3)]
    threads += [
        threading.Thread(target=reload, name="reload"),
        threading.Thread(target=update, name="update"),
    ]
    for t in threads:
        t.start()
    time.sleep(3.5)
    stop.set()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive(), t.name
    assert not errors, errors
    assert not bad, bad[:5]
    assert counts["scored"] > 1000 and counts["reloads"] > 10 and counts["swaps"] > 10, counts
    # Both policies were seen in force while the others ran.
    assert {a for a, _, _ in seen[spoofed]} == {"block", "flag"}

    # No update lost: the live list, and the engine's blocklist (the same list: reloads keep a
    # list whose declaration did not change), hold every added number and no removed one.
    gone = set(removed)
    lists = {lst.name: lst for lst in engine.lists}
    current = lists["blocklist"]
    # The last set_list is in force: no reload put back an older list.
    assert (DNO in lists["dno"]) == (DNO in last_dno[0])
    for lst in (live, current):
        assert all(n in lst for n in added if n not in gone)
        assert not any(n in lst for n in gone)
    assert len(live) == len(added) - len(gone) + (TOGGLED in live)
    live.compact()
    assert all(n in current for n in added if n not in gone) and not any(n in current for n in gone)
    on_list = engine.score({"caller": added[1], "callee": "87272123456", "ingress": "national"})
    assert "blocklisted_cli" in on_list.reasons

    if hasattr(os, "fork"):
        _scores_alike_in_a_forked_child(engine)


def _scores_alike_in_a_forked_child(engine):
    """After the stress (threads joined), a forked child scores exactly as the parent."""
    want = repr([observed(engine.score(c)) for c in CALLS]).encode()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            got = repr([observed(engine.score(c)) for c in CALLS]).encode()
            engine.reload(POLICY_A)
            engine.set_list(NumberList.from_numbers([1], name="dno", kind="dno"))
        except BaseException as e:  # noqa: BLE001 - reported through the pipe
            got = repr(e).encode()
        os.write(write, got)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        got = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert got == want


THREAD_COUNT = """
import json, os, threading
def threads():
    tasks = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else None
    return [threading.active_count(), tasks]
before = threads()
import fraudcore
after_import = threads()
engine = fraudcore.Engine.default()
engine.score({"caller": "+77011234567", "callee": "87272123456", "ingress": "international"})
print(json.dumps([before, after_import, threads()]))
"""


def test_importing_fraudcore_starts_no_threads():
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(THREAD_COUNT)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    before, after_import, after_scoring = json.loads(proc.stdout)
    # Python threads and OS threads (/proc/self/task, on Linux) alike.
    assert after_import == before
    assert after_scoring == before  # nor does building an engine and scoring


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_engine_loaded_before_fork_scores_in_the_child():
    # Also in test_threads_and_fork.py (with the session engine); here with lists and a
    # reload done in the parent first, and the child changing its own copy only.
    engine = fraudcore.Engine(POLICY_A)
    engine.set_list(NumberList.from_numbers([TOGGLED], name="blocklist"))
    engine.reload(POLICY_B)
    _scores_alike_in_a_forked_child(engine)
    assert {lst.name: len(lst) for lst in engine.lists} == {"blocklist": 1, "dno": 0}
