"""Files bundled with the package."""

from __future__ import annotations

from pathlib import Path

_DATA = Path(__file__).with_name("data")


def data_path(name: str) -> str:
    """Absolute path of a bundled data file (`kz_overlay.csv`, `examples.csv`)."""
    path = _DATA / name
    if not path.is_file():
        raise FileNotFoundError(str(path))
    return str(path)
