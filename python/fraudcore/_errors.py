"""The exception hierarchy. Every error fraudcore raises is a `FraudcoreError`; the leaves also
subclass the stdlib type a Python user would catch (`ValueError`, `TypeError`, `OSError`)."""

from __future__ import annotations

__all__ = [
    "FraudcoreError",
    "InvalidValueError",
    "InvalidTypeError",
    "ParseError",
    "CorruptFileError",
    "FileError",
]


class FraudcoreError(Exception):
    """Base class of every fraudcore error."""


class InvalidValueError(FraudcoreError, ValueError):
    """A value of the right type that cannot be used; the message names the field."""


class InvalidTypeError(FraudcoreError, TypeError):
    """A value of the wrong type; the message names the field and the type expected."""


class ParseError(InvalidValueError):
    """A text input (overlay, list, policy) that does not parse.

    The message starts `file:line:column:`.
    """


class CorruptFileError(InvalidValueError):
    """A persisted file that is truncated, damaged or of another format version."""


class FileError(FraudcoreError, OSError):
    """A file that cannot be read or written (`errno`, `strerror`, `filename` as for OSError)."""
