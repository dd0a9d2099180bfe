"""Calling a Python function over a batch of Arrow arguments, one failing row at a time.

A function is called in one of three styles:

- ``row`` (the default): a plain function of Python values, called once per row whose arguments
  are all non-NULL (a NULL argument gives NULL without a call, as PostgreSQL's ``RETURNS NULL ON
  NULL INPUT`` and DuckDB's default);
- ``arrow``: called with one ``pyarrow.Array`` per argument (NULLs included), it returns an
  array-like of the same length;
- ``pandas``: the same with ``pandas.Series``.

``call`` returns the values (NULL where a row failed) and the failures, each naming its row.
Errors are per row whatever the batching: when a vectorized call raises, the batch is split in
halves and each half called again, down to the single rows that fail (as the file source
isolates bad lines); the rows around them keep their values. A value that is not of the
declared return type fails its row too.

The same code runs in the engine's process and in worker processes (tidal.engine.udf.workers).

>>> import pyarrow as pa
>>> values, failures = call(lambda x: 10 // x, [pa.array([1, 0, None, 5])], pa.int64())
>>> values.to_pylist(), failures
([10, None, None, 2], [Failure(row=1, error='ZeroDivisionError: integer division or modulo by zero')])
>>> import pyarrow.compute as pc
>>> def halve(x):
...     if pc.any(pc.equal(x, 3)).as_py():
...         raise ValueError("three")
...     return pc.divide(x, 2)
>>> values, failures = call(halve, [pa.array([2, 3, 4, 6])], pa.int64(), "arrow")
>>> values.to_pylist(), failures
([1, None, 2, 3], [Failure(row=1, error='ValueError: three')])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidal.engine.cancellation import cancel_point

ROW, ARROW, PANDAS = "row", "arrow", "pandas"
_FIRST_PIECE = 4  # rows of the first piece of a row-at-a-time call (then growing)
_PIECE_SECONDS = 0.05
STYLES = (ROW, ARROW, PANDAS)


@dataclass(frozen=True)
class Failure:
    """Row ``row`` of the batch failed with ``error`` (the exception's type and message)."""

    row: int
    error: str


Arguments = Sequence[pa.Array]


def call(
    function: Callable,
    arguments: Arguments,
    result_type: pa.DataType,
    style: str = ROW,
    batch_size: int | None = None,
) -> tuple[pa.Array, list[Failure]]:
    """``function`` over the rows of ``arguments`` (equal-length arrays), at most
    ``batch_size`` rows per call: the values as ``result_type``, and the rows that failed."""
    arguments = [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in arguments]
    rows = len(arguments[0]) if arguments else 0
    # Row at a time with no batch_size: pieces growing to about _PIECE_SECONDS each, so a
    # cancelled statement stops soon even when each call is slow.
    adaptive = style == ROW and not batch_size
    size = _FIRST_PIECE if adaptive else max(1, batch_size or rows or 1)
    parts: list[pa.Array] = []
    failures: list[Failure] = []
    start = 0
    while start < rows:
        cancel_point()  # a cancelled statement stops between calls (a call itself runs on)
        chunk = [a.slice(start, size) for a in arguments]
        began = time.perf_counter()
        values, failed = _call_chunk(function, chunk, result_type, style)
        parts.append(values)
        failures.extend(Failure(f.row + start, f.error) for f in failed)
        start += size
        if adaptive:
            took = max(time.perf_counter() - began, 1e-6)
            size = max(1, min(size * 4, int(size * _PIECE_SECONDS / took)))
    if not parts:
        return pa.array([], result_type), []
    return (parts[0] if len(parts) == 1 else pa.concat_arrays(parts)), failures


def _call_chunk(function, arguments, result_type, style):
    if style == ROW:
        return _call_rows(function, arguments, result_type)
    return _call_vectorized(function, arguments, result_type, style)


# --- row at a time --------------------------------------------------------------------------------


def _call_rows(function, arguments, result_type):
    nulls = _any_null(arguments)
    if nulls is not None:  # call over the rows without NULLs, then put the NULL rows back
        valid = pc.invert(nulls)
        values, failures = _call_rows(function, [a.filter(valid) for a in arguments], result_type)
        present = valid.to_numpy(zero_copy_only=False)
        kept = np.flatnonzero(present)
        positions = pa.array(np.cumsum(present) - 1, mask=~present)
        return values.take(positions), [Failure(int(kept[f.row]), f.error) for f in failures]
    columns = [a.to_pylist() for a in arguments]
    rows = len(arguments[0]) if arguments else 1
    try:  # the fast path: no failure, one map
        results = list(map(function, *columns)) if columns else [function()]
    except Exception:  # noqa: BLE001 (the user's code may raise anything: find the rows)
        results = None
    if results is not None:
        return _as_array(results, result_type, rows)
    results, failures = [], []
    for row, values in enumerate(zip(*columns) if columns else [()]):
        try:
            results.append(function(*values))
        except Exception as error:  # noqa: BLE001 (the user's code fails this row only)
            results.append(None)
            failures.append(Failure(row, describe(error)))
    values, bad = _as_array(results, result_type, rows)
    return values, sorted(failures + bad, key=lambda f: f.row)


def _any_null(arguments) -> pa.Array | None:
    """Per row, whether any argument is NULL; None when none is."""
    if not any(a.null_count for a in arguments):
        return None
    mask = pc.is_null(arguments[0])
    for a in arguments[1:]:
        mask = pc.or_(mask, pc.is_null(a))
    return mask


# --- vectorized ---------------------------------------------------------------------------------


def _call_vectorized(function, arguments, result_type, style):
    """One call over the chunk; if it raises, the halves separately, down to single rows."""
    rows = len(arguments[0])
    try:
        values = _convert(_invoke(function, arguments, style), result_type, rows)
    except Exception as error:  # noqa: BLE001 (the user's code: isolate the failing rows)
        if rows <= 1:
            return pa.nulls(rows, result_type), [Failure(0, describe(error))] if rows else []
        half = rows // 2
        left, left_failures = _call_vectorized(
            function, [a.slice(0, half) for a in arguments], result_type, style
        )
        right, right_failures = _call_vectorized(
            function, [a.slice(half) for a in arguments], result_type, style
        )
        shifted = [Failure(f.row + half, f.error) for f in right_failures]
        return pa.concat_arrays([left, right]), left_failures + shifted
    return values, []


def _invoke(function, arguments, style):
    if style == ARROW:
        return function(*arguments)
    import pandas  # noqa: F401  (vectorized = 'pandas' needs pandas; the message says so)

    return function(*(a.to_pandas() for a in arguments))


def _convert(result, result_type: pa.DataType, rows: int) -> pa.Array:
    if isinstance(result, pa.ChunkedArray):
        result = result.combine_chunks()
    if not isinstance(result, pa.Array):
        if type(result).__name__ == "Series":
            result = pa.Array.from_pandas(result)
        else:
            result = pa.array(result)
    if len(result) != rows:
        raise ValueError(f"returned {len(result)} values for {rows} rows")
    return result if result.type == result_type else result.cast(result_type)


# --- results ------------------------------------------------------------------------------------


def _as_array(results: list, result_type: pa.DataType, rows: int) -> tuple[pa.Array, list]:
    """``results`` as an array of ``result_type``; a value that is not of that type is NULL and
    fails its row."""
    try:
        return pa.array(results, result_type), []
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        pass
    failures = []
    for row in range(rows):
        try:
            pa.array([results[row]], result_type)
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            failures.append(
                Failure(row, f"returned {results[row]!r}, which is not of type {result_type}")
            )
            results[row] = None
    return pa.array(results, result_type), failures


def describe(error: BaseException) -> str:
    """An exception as its type and message: ``ZeroDivisionError: division by zero``."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
