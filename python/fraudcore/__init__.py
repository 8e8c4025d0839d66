"""fraudcore: in-process CLI-spoofing and phone-fraud scoring.

>>> import fraudcore
>>> engine = fraudcore.Engine.default()
>>> call = {"caller": "+77011234567", "callee": "87272123456", "ingress": "international"}
>>> engine.score(call).action
'block'
"""

from __future__ import annotations

from ._data import data_path as _data_path
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
    Policy,
    Verdict,
    __version__,
)

#: The bundled default policy file (copy it to start your own).
DEFAULT_POLICY = _data_path("default_policy.toml")

__all__ = [
    "Call",
    "DEFAULT_POLICY",
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
    "Policy",
    "Verdict",
    "__version__",
]
