"""`Engine` with its Python conveniences; scoring itself is the inherited Rust method."""

from __future__ import annotations

from ._data import data_path
from ._fraudcore import Engine as _RustEngine

__all__ = ["Engine"]


class Engine(_RustEngine):
    """Scores calls: `engine.score(call)` → `Verdict`.

    `Engine(home_region, *, international_prefixes=[], emergency_numbers=[], overlay=None,
    flag_threshold=0.5, block_threshold=0.9, plan=None)` builds exactly what it is given;
    `Engine.default()` is the bundled Kazakhstan deployment.
    """

    __slots__ = ()

    @classmethod
    def default(cls) -> "Engine":
        """Home KZ; `00` accepted beside `810`; `104` as an emergency number beside the
        112 and 101-103 of phonenumbers' data; the bundled KZ range overlay (`+7 6xx` and
        `+7 0xx` are Kazakh blocks that phonenumbers does not attribute to KZ)."""
        return cls(
            "KZ",
            international_prefixes=["00"],
            emergency_numbers=["104"],
            overlay=data_path("kz_overlay.csv"),
        )
