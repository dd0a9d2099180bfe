"""Key values as SQL compares them, before Arrow hashes, groups or joins them.

Arrow tells -0.0 from 0.0 when it hashes; SQL (and DuckDB) does not. Arrow cannot hash list,
STRUCT or MAP values at all: they are numbered per distinct value first.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def canonical(column):
    """A key column as Arrow should hash it: a float column with -0.0 made 0.0 (-0.0 + 0.0 is
    0.0), so that both land in one group and match as join keys, as in DuckDB."""
    if pa.types.is_floating(column.type):
        return pc.add(column, pa.scalar(0.0, column.type))
    return column


def comparable(columns: list) -> list:
    """Key columns as Arrow can hash, group and join them: floats canonical, and each list,
    STRUCT or MAP column (which Arrow cannot hash) an id per distinct value, numbered over all
    of ``columns`` together (so equal values in any of them get one id; NULL keeps NULL, as
    SQL keys never match NULL).

    >>> [c.to_pylist() for c in comparable([pa.array([[1], None, [2]]), pa.array([[2], [1]])])]
    [[0, None, 1], [1, 0]]
    """
    if not columns or not pa.types.is_nested(columns[0].type):
        return [canonical(c) for c in columns]
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
        keys_left[f"k{i}"], keys_right[f"k{i}"] = comparable([left.column(a), right.column(b)])
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
