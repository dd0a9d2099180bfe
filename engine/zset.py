"""Z-set change batches: Arrow tables with an int64 ``__weight`` column.

+n inserts n copies of a row, -n retracts them; an update is a retraction plus an insertion.

>>> import pyarrow as pa
>>> t = pa.table({"k": ["a", "a", "b"], WEIGHT: [1, -1, 2]})
>>> consolidate(t).to_pydict()
{'k': ['b'], '__weight': [2]}
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidal.engine.keys import hashable

WEIGHT = "__weight"


def data_columns(table: pa.Table) -> list[str]:
    return [name for name in table.column_names if name != WEIGHT]


def with_weight(table: pa.Table, weight: int = 1) -> pa.Table:
    """Every row of a plain table, with the given weight."""
    return table.append_column(WEIGHT, pa.array(np.full(table.num_rows, weight, dtype=np.int64)))


def negate(table: pa.Table) -> pa.Table:
    index = table.schema.get_field_index(WEIGHT)
    return table.set_column(index, WEIGHT, pc.negate(table.column(WEIGHT)))


def empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


def concat(tables: list[pa.Table], schema: pa.Schema | None = None) -> pa.Table:
    tables = [t for t in tables if t is not None]
    if not tables:
        if schema is None:
            raise ValueError("concat of nothing needs a schema")
        return schema.empty_table()
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="none")


def _groupable(table: pa.Table) -> tuple[pa.Table, dict[str, pa.DataType], list[str]]:
    """Arrow cannot group on some types: group on an encodable stand-in. A null-typed column
    becomes zeros (the replaced types are returned); a list, struct or map column becomes an
    id per distinct value (those columns are returned: their values are taken back from a row
    of each group)."""
    replaced = {}
    nested = []
    for i, field in enumerate(table.schema):
        if pa.types.is_null(field.type):
            table = table.set_column(
                i, field.name, pa.array(np.zeros(table.num_rows, dtype=np.int8))
            )
            replaced[field.name] = field.type
        elif pa.types.is_nested(field.type):
            table = table.set_column(i, field.name, _value_ids(table.column(i)))
            nested.append(field.name)
    return table, replaced, nested


def _value_ids(column: pa.ChunkedArray) -> pa.Array:
    """The same id for equal values (NULL equal to NULL, NaN to NaN, as identical rows are)."""
    ids: dict = {}
    return pa.array([ids.setdefault(hashable(v), len(ids)) for v in column.to_pylist()], pa.int64())


def consolidate(table: pa.Table) -> pa.Table:
    """Sum the weights of identical rows and drop rows whose weight is zero."""
    if table.num_rows == 0:
        return table
    columns = data_columns(table)
    if not columns:
        total = pc.sum(table.column(WEIGHT)).as_py() or 0
        return pa.table({WEIGHT: pa.array([total] if total else [], pa.int64())})
    schema = table.schema
    groupable, replaced, nested = _groupable(table)
    aggregates = [(WEIGHT, "sum")]
    if nested:  # a row of each group, to take the nested values from
        groupable = groupable.append_column("__row", pa.array(np.arange(table.num_rows)))
        aggregates.append(("__row", "min"))
    summed = groupable.group_by(columns, use_threads=False).aggregate(aggregates)
    summed = summed.rename_columns(columns + [WEIGHT] + (["__row"] if nested else []))
    summed = summed.filter(pc.not_equal(summed.column(WEIGHT), 0))
    for name, arrow_type in replaced.items():
        index = summed.schema.get_field_index(name)
        summed = summed.set_column(index, name, pa.nulls(summed.num_rows, arrow_type))
    for name in nested:
        index = summed.schema.get_field_index(name)
        summed = summed.set_column(index, name, table.column(name).take(summed.column("__row")))
    return summed.select(schema.names).cast(schema)


def expand(table: pa.Table) -> pa.Table:
    """The rows of a consolidated, all-positive Z-set as a plain table (weight n -> n copies)."""
    weights = table.column(WEIGHT).to_numpy()
    if (weights < 0).any():
        raise ValueError("cannot expand a Z-set with negative weights into rows")
    plain = table.drop_columns([WEIGHT])
    if (weights == 1).all():
        return plain
    return plain.take(pa.array(np.repeat(np.arange(len(weights)), weights)))


def rename_positional(table: pa.Table) -> pa.Table:
    """Data columns renamed ``c0`` .. ``cN`` (the names plan expressions read), weight kept."""
    names = [f"c{i}" for i in range(len(table.column_names))]
    if WEIGHT in table.column_names:
        names[table.column_names.index(WEIGHT)] = WEIGHT
    return table.rename_columns(names)


def weighted_rows(table: pa.Table) -> list[tuple]:
    """Each row's values and then its weight, as a tuple (for per-row state of a few rows)."""
    data = [c for c in table.column_names if c != WEIGHT] + [WEIGHT]
    return list(zip(*(table.column(c).to_pylist() for c in data)))


def take(entries: list[list], weight: int) -> list[tuple[object, int]]:
    """Take ``weight`` units from ``entries`` (``[value, weight]`` pairs, earliest first),
    removing what is used up: the values taken and how much of each.

    >>> entries = [["a", 1], ["b", 2]]
    >>> take(entries, 2), entries
    ([('a', 1), ('b', 1)], [['b', 1]])
    """
    taken = []
    while weight > 0 and entries:
        amount = min(weight, entries[0][1])
        taken.append((entries[0][0], amount))
        weight -= amount
        entries[0][1] -= amount
        if entries[0][1] == 0:
            entries.pop(0)
    return taken
