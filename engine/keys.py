"""Joining Arrow tables on key columns where NULL equals NULL (GROUP BY and set semantics).

Arrow's hash join never matches NULL keys (SQL join semantics). Grouping state needs a NULL
key to find its own group, so each key column is joined as (value with NULL filled, is NULL).
Arrow also tells -0.0 from 0.0 when it hashes (SQL does not): ``canonical`` keys first.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def canonical(column):
    """A key column as Arrow should hash it: a float column with -0.0 made 0.0 (-0.0 + 0.0 is
    0.0), so that both land in one group and match as join keys, as in DuckDB."""
    if pa.types.is_floating(column.type):
        return pc.add(column, pa.scalar(0.0, column.type))
    return column


def _zero(arrow_type: pa.DataType) -> pa.Scalar:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pa.scalar("", arrow_type)
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return pa.scalar(b"", arrow_type)
    if pa.types.is_boolean(arrow_type):
        return pa.scalar(False)
    if pa.types.is_date32(arrow_type) or pa.types.is_time32(arrow_type):
        return pa.scalar(0, pa.int32()).cast(arrow_type)
    return pa.scalar(0, pa.int64()).cast(arrow_type)


def null_safe(table: pa.Table, keys: list[str], prefix: str) -> tuple[pa.Table, list[str]]:
    """``table`` plus, per key, a NULL-filled copy and a NULL flag; returns the join key names."""
    names = []
    for i, key in enumerate(keys):
        column = table.column(key)
        if column.null_count == 0 and not pa.types.is_null(column.type):
            filled = column
        else:
            filled = pc.fill_null(column, _zero(column.type))
        table = table.append_column(f"{prefix}v{i}", filled)
        table = table.append_column(f"{prefix}n{i}", pc.is_null(column))
        names += [f"{prefix}v{i}", f"{prefix}n{i}"]
    return table, names


def join_null_safe(
    left: pa.Table, right: pa.Table, left_keys: list[str], right_keys: list[str], join_type: str
) -> pa.Table:
    """``left`` joined to ``right`` on the keys with NULL = NULL; helper columns are dropped.

    Column names of the two sides must differ.
    """
    left_plus, left_names = null_safe(left, left_keys, "__lk")
    right_plus, right_names = null_safe(right, right_keys, "__rk")
    joined = left_plus.join(
        right_plus,
        keys=left_names,
        right_keys=right_names,
        join_type=join_type,
        coalesce_keys=False,
        use_threads=False,
    )
    helpers = [n for n in joined.column_names if n.startswith(("__lk", "__rk"))]
    return joined.drop_columns(helpers)
