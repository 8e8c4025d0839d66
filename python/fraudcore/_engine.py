"""`Engine` with its Python conveniences; scoring itself is the inherited Rust method."""

from __future__ import annotations

import os
from typing import Any, Union

from ._fraudcore import Engine as _RustEngine

__all__ = ["Engine"]


class Engine(_RustEngine):
    """Scores calls: `engine.score(call)` → `Verdict`.

    `Engine(policy=None, *, plan=None)`: `policy` is a `fraudcore.Policy`, the path of a
    policy file or of a snapshot, or None for the bundled default policy; `plan` a
    `NumberingPlan` to read a policy file with (default: compiled from the installed
    phonenumbers, cached).
    """

    __slots__ = ()

    def score_table(self, table: Any, *, threads: int = 2):
        """Scores every row of a pandas, polars or pyarrow table (columns named as the call
        fields) without the GIL; returns a `pyarrow.Table` of `action`, `score`, `reasons` in
        row order. Needs pyarrow (`pip install 'fraudcore[arrow]'`). A row whose fields do not
        parse gets a null action and score and the reason `malformed:FIELD`. Rows run on
        `threads` threads unless a rule reads velocity counters (then in row order).

        The columns' Arrow buffers are read in place (the Arrow C data interface), so, as
        that interface requires, they must not be written until this returns: do not write
        from another thread to a numpy array a column shares memory with meanwhile."""
        from ._table import score_table

        return score_table(self, table, threads)

    @classmethod
    def load(cls, snapshot: Union[str, "os.PathLike[str]"], *, plan=None) -> "Engine":
        """An engine from a snapshot written by `save_snapshot` or `fraudcore compile`: the
        policy recompiled from its text, the lists memory-mapped in place."""
        return cls(snapshot, plan=plan)

    @classmethod
    def default(cls) -> "Engine":
        """The bundled default policy: a Kazakhstan-style anti-spoofing deployment (home KZ,
        `00` beside `810`, `104` as an emergency number, the KZ range overlay, empty operator
        lists; see `fraudcore.DEFAULT_POLICY`)."""
        return cls()
