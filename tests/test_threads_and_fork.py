"""Engines are immutable: safe to share between threads and across fork()."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

CALLS = [
    ({"caller": "+77011234567", "callee": "87272123456", "ingress": "international"}, "block"),
    ({"caller": "+77011234567", "callee": "87272123456", "ingress": "onnet"}, "allow"),
    ({"caller": "+79161234567", "callee": "87011234567", "ingress": "international"}, "allow"),
    ({"caller": "junk", "callee": "112", "ingress": "international"}, "flag"),
]


def test_many_threads_score_one_engine(engine):
    def work(i):
        call, want = CALLS[i % len(CALLS)]
        return all(engine.score(call).action == want for _ in range(2000))

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(work, range(32)))


def test_import_starts_no_threads():
    assert threading.active_count() == 1 or all(
        t.name != "fraudcore" for t in threading.enumerate()
    )


def _score_in_child(engine, queue):
    queue.put([engine.score(c).action for c, _ in CALLS])


@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX")
def test_engine_loaded_before_fork_works_in_children(engine):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    children = [ctx.Process(target=_score_in_child, args=(engine, queue)) for _ in range(3)]
    for child in children:
        child.start()
    results = [queue.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    assert results == [[want for _, want in CALLS]] * 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_os_fork_child_scores(engine):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: score, report, exit without running pytest's teardown
        os.close(read)
        os.write(write, engine.score(CALLS[0][0]).action.encode())
        os._exit(0)
    os.close(write)
    assert os.read(read, 16) == b"block"
    assert os.waitpid(pid, 0)[1] == 0
