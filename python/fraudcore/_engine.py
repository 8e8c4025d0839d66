"""`Engine` with its Python conveniences; scoring itself is the inherited Rust method."""

from __future__ import annotations

from ._fraudcore import Engine as _RustEngine

__all__ = ["Engine"]


class Engine(_RustEngine):
    """Scores calls: `engine.score(call)` → `Verdict`.

    `Engine(policy=None, *, plan=None)`: `policy` is a `fraudcore.Policy`, the path of a
    policy file, or None for the bundled default policy; `plan` a `NumberingPlan` to read a
    policy file with (default: compiled from the installed phonenumbers, cached).
    """

    __slots__ = ()

    @classmethod
    def default(cls) -> "Engine":
        """The bundled default policy: a Kazakhstan-style anti-spoofing deployment (home KZ,
        `00` beside `810`, `104` as an emergency number, the KZ range overlay, empty operator
        lists; see `fraudcore.DEFAULT_POLICY`)."""
        return cls()
