"""fraudcore: in-process CLI-spoofing and phone-fraud scoring.

>>> import fraudcore
>>> engine = fraudcore.Engine.default()
>>> call = {"caller": "+77011234567", "callee": "87272123456", "ingress": "international"}
>>> engine.score(call).action
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
from ._fraudcore import (
    INVALID_REASONS,
    Call,
    NumberInfo,
    NumberingPlan,
    NumberList,
    Verdict,
    __version__,
)

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
    "NumberList",
    "ParseError",
    "Verdict",
    "__version__",
]
