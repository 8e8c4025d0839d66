"""Columnar scoring: pandas, polars and pyarrow tables through the Arrow interface.

`Engine.score_table(table)` reads the call-field columns of any table pyarrow can import (a
`pyarrow.Table` or `RecordBatch`, anything with `__arrow_c_stream__` such as a polars
DataFrame, or a pandas DataFrame), hands each column's Arrow array to Rust through the Arrow
C data interface (`__arrow_c_array__` capsules: Rust reads the buffers in place, never a
Python object per value), scores every row without the GIL, and returns a `pyarrow.Table`
with the columns `action`, `score` and `reasons` in row order, to attach to the input.
pyarrow is an optional dependency: `pip install 'fraudcore[arrow]'`.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

from ._errors import InvalidTypeError, InvalidValueError

CALL_FIELDS = (
    "timestamp",
    "caller",
    "callee",
    "ingress",
    "roaming",
    "attestation",
    "duration",
    "trunk",
    "network_number",
)
_SECONDS = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.compute
    except ImportError as e:  # pragma: no cover - exercised where pyarrow is absent
        raise InvalidTypeError(
            "table: score_table needs pyarrow; install it with pip install 'fraudcore[arrow]'"
        ) from e
    return pyarrow


def as_arrow(table: Any):
    """The table as a `pyarrow.Table`."""
    pa = _pyarrow()
    if isinstance(table, pa.Table):
        return table
    if isinstance(table, pa.RecordBatch):
        return pa.Table.from_batches([table])
    if hasattr(table, "__arrow_c_stream__"):
        return pa.table(table)
    if type(table).__module__.split(".")[0] == "pandas" and hasattr(table, "columns"):
        return pa.Table.from_pandas(table, preserve_index=False)
    raise InvalidTypeError(
        f"table: expected a pyarrow, polars or pandas table, got {type(table).__name__}"
    )


def _text_spec(pa, arr) -> Tuple[Any, ...]:
    # `string` and `large_string` are read as they are; anything else is cast.
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.large_string())
    return arr.__arrow_c_array__()


def _spec(pa, column, field: str) -> Optional[Tuple[Any, ...]]:
    pc = pa.compute
    if isinstance(column, pa.ChunkedArray):
        # One chunk as it is: `combine_chunks` would copy it.
        arr = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    else:
        arr = column
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    t = arr.type
    if field in ("timestamp", "duration") and not (
        pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
    ):
        if pa.types.is_timestamp(t) or pa.types.is_duration(t):
            arr = pc.divide(arr.cast(pa.int64()).cast(pa.float64()), _SECONDS[t.unit])
        elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t):
            arr = arr.cast(pa.float64())
        else:
            raise InvalidTypeError(f"{field}: a column of {t} is not seconds")
        return arr.__arrow_c_array__()
    if pa.types.is_boolean(t):
        arr = pc.if_else(arr, "true", "false")
    elif pa.types.is_null(t):
        arr = arr.cast(pa.large_string())
    elif not (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)
        or pa.types.is_integer(t)
    ):
        raise InvalidTypeError(f"{field}: a column of {t} is not text")
    return _text_spec(pa, arr)


def score_table(engine, table: Any, threads: int = 2):
    """See the module documentation."""
    pa = _pyarrow()
    t = as_arrow(table)
    names = {name.lower(): name for name in t.column_names}
    for required in ("caller", "callee", "ingress"):
        if required not in names:
            raise InvalidValueError(
                f"table: no {required!r} column (required: caller, callee, ingress)"
            )
    specs = [_spec(pa, t.column(names[f]), f) if f in names else None for f in CALL_FIELDS]
    n = t.num_rows
    actions, scores, offsets, reasons, _, _ = engine._score_columns(n, specs, threads)
    codes = pa.Array.from_buffers(pa.uint8(), n, [None, pa.py_buffer(actions)])
    malformed = pa.compute.equal(codes, 255)
    action = pa.DictionaryArray.from_arrays(
        pa.compute.if_else(malformed, None, codes), ["allow", "flag", "block"]
    )
    score = pa.Array.from_buffers(pa.float64(), n, [None, pa.py_buffer(scores)])
    score = pa.compute.if_else(malformed, None, score)
    why = pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(reasons)]
    )
    return pa.table({"action": action, "score": score, "reasons": why})
