"""Key values as SQL compares them, before Arrow hashes or groups them.

Arrow tells -0.0 from 0.0 when it hashes, and ``INTERVAL '24 hours'`` from ``INTERVAL '1 day'``;
SQL (and DuckDB) does not.
"""

from __future__ import annotations

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
