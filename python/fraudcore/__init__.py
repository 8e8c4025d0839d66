"""fraudcore: in-process CLI-spoofing and phone-fraud scoring.

>>> import fraudcore
>>> engine = fraudcore.Engine.default()
>>> engine.score({"caller": "+77011234567", "callee": "87272123456", "ingress": "international"}).action
'block'
"""

from __future__ import annotations

from ._engine import Engine
from ._errors import (
    CorruptFileError,
    FileError,
    FraudcoreError,
    InvalidTypeError,
    InvalidValueError,
    ParseError,
)
from ._fraudcore import INVALID_REASONS, Call, NumberInfo, NumberingPlan, Verdict, __version__

__all__ = [
    "Call",
    "CorruptFileError",
    "Engine",
    "FileError",
    "FraudcoreError",
    "INVALID_REASONS",
    "InvalidTypeError",
    "InvalidValueError",
    "NumberInfo",
    "NumberingPlan",
    "ParseError",
    "Verdict",
    "__version__",
]
