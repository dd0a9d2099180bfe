"""Key values as SQL compares them, before Arrow hashes, groups or joins them.

Arrow tells -0.0 from 0.0 when it hashes, and ``INTERVAL '24 hours'`` from ``INTERVAL '1 day'``;
SQL (and DuckDB) does not. Arrow cannot hash list, STRUCT or MAP values at all: they are
numbered per distinct value first.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_NANOS_PER_DAY = 86_400 * 10**9
_DAYS_PER_MONTH = 30
# A month_day_nano value's 16 bytes.
_INTERVAL = np.dtype([("months", "<i4"), ("days", "<i4"), ("nanos", "<i8")])


def canonical(column):
    """A key column as Arrow should hash it: a float column with -0.0 made 0.0 (-0.0 + 0.0 is
    0.0), an interval column in DuckDB's normal form, so that equal values land in one group and
    match as join keys, as in DuckDB.

    >>> canonical(pa.array([pa.MonthDayNano([0, 0, _NANOS_PER_DAY]), None])).to_pylist()
    [MonthDayNano(months=0, days=1, nanoseconds=0), None]
    """
    if pa.types.is_floating(column.type):
        return pc.add(column, pa.scalar(0.0, column.type))
    if column.type == pa.month_day_nano_interval():
        if isinstance(column, pa.ChunkedArray):
            return pa.chunked_array([_normal_intervals(c) for c in column.chunks], column.type)
        return _normal_intervals(column)
    return column


def comparable(column):
    """A key column Arrow's ``equal`` can compare: an interval column (which has no kernel) as
    the 16 bytes of its normal form, equal exactly when the intervals are."""
    if column.type != pa.month_day_nano_interval():
        return column
    column = canonical(column)
    if isinstance(column, pa.ChunkedArray):
        return pa.chunked_array([c.view(pa.binary(16)) for c in column.chunks], pa.binary(16))
    return column.view(pa.binary(16))


def _normal_intervals(array: pa.Array) -> pa.Array:
    """DuckDB's Interval::Normalize: whole days carried out of the time part, whole 30-day
    months out of the days, each division truncating toward zero as C++ does."""
    validity, data = array.buffers()
    values = np.frombuffer(data, _INTERVAL, count=len(array), offset=array.offset * 16)
    nanos = values["nanos"]
    carry_days = np.sign(nanos) * (np.abs(nanos) // _NANOS_PER_DAY)
    days = values["days"].astype(np.int64) + carry_days
    carry_months = np.sign(days) * (np.abs(days) // _DAYS_PER_MONTH)
    normal = np.empty(len(array), _INTERVAL)
    normal["months"] = values["months"] + carry_months
    normal["days"] = days - carry_months * _DAYS_PER_MONTH
    normal["nanos"] = nanos - carry_days * _NANOS_PER_DAY
    if validity is not None:
        validity = pc.is_valid(array).buffers()[1]
    return pa.Array.from_buffers(
        array.type, len(array), [validity, pa.py_buffer(normal.tobytes())], array.null_count
    )


def join_keys(columns: list) -> list:
    """Key columns as Arrow can join them: floats and intervals ``comparable``, and each list,
    STRUCT or MAP column (which Arrow cannot hash) an id per distinct value, numbered over all
    of ``columns`` together (so equal values in any of them get one id; NULL keeps NULL, as
    SQL keys never match NULL).

    >>> [c.to_pylist() for c in join_keys([pa.array([[1], None, [2]]), pa.array([[2], [1]])])]
    [[0, None, 1], [1, 0]]
    """
    if not columns or not pa.types.is_nested(columns[0].type):
        return [comparable(canonical(c)) for c in columns]
    ids: dict = {}
    out = []
    for column in columns:
        values = column.to_pylist()
        out.append(
            pa.array(
                [None if v is None else ids.setdefault(hashable(v), len(ids)) for v in values],
                pa.int64(),
            )
        )
    return out


def hashable(value):
    """A nested value as a hashable Python value that is equal exactly when the SQL values are
    identical (NaN equal to NaN, -0.0 to 0.0, a NULL element to a NULL element)."""
    if isinstance(value, list):
        return ("list", *(hashable(v) for v in value))
    if isinstance(value, dict):
        return ("struct", *((k, hashable(v)) for k, v in value.items()))
    if isinstance(value, tuple):  # a map entry
        return ("entry", *(hashable(v) for v in value))
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    return value  # Python's -0.0 == 0.0, with one hash


def join_indices(
    left: pa.Table, left_on: list[str], right: pa.Table, right_on: list[str]
) -> tuple[pa.Array, pa.Array]:
    """The row positions of ``left`` and ``right`` whose keys are equal (an inner equi-join);
    only the keys go through Arrow's join, which cannot carry nested columns."""
    keys_left, keys_right = {}, {}
    for i, (a, b) in enumerate(zip(left_on, right_on)):
        keys_left[f"k{i}"], keys_right[f"k{i}"] = join_keys([left.column(a), right.column(b)])
    keys_left["__li"] = pa.array(np.arange(left.num_rows, dtype=np.int64))
    keys_right["__ri"] = pa.array(np.arange(right.num_rows, dtype=np.int64))
    names = [f"k{i}" for i in range(len(left_on))]
    joined = pa.table(keys_left).join(
        pa.table(keys_right),
        keys=names,
        join_type="inner",
        coalesce_keys=False,
        use_threads=False,
    )
    return joined.column("__li"), joined.column("__ri")
