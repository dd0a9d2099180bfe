"""Primary keys enforced: the rows a statement changes in a keyed table, resolved and checked.

A table's primary key follows PostgreSQL's rules: key columns are NOT NULL (23502), no two rows
share a key (23505), and a statement that breaks either changes nothing. The key is checked
once the statement's rows are known (as the SQL standard says, and as PostgreSQL does for a
DEFERRABLE key), so ``UPDATE t SET k = k + 1`` succeeds whatever the order of the rows.

An INSERT's proposed rows whose key the table holds (or which repeat a key of the same
statement) are *conflicts*, resolved by the INSERT's rule (tidal.sql.dml.Conflict), the rows in
the order the statement gave them:

- error: PostgreSQL's 23505;
- do nothing: the first row of a key is inserted if the table lacks the key; the others drop;
- do update: a conflicting row updates the existing row (SET ... WHERE ...); a key that one
  statement would insert or update twice is PostgreSQL's 21000, where DuckDB keeps the first
  row in silence;
- RisingWave's table rules, each row a one-row upsert in turn: overwrite (the last row of a key
  wins), do update if not null (each column's last non-NULL value wins, the existing row's
  first).

Everything is vectorized: the proposed keys are matched against the table's rows with Arrow's
``is_in`` and hash joins, and grouped with Arrow's group-by; no Python loop runs per row.

    >>> import pyarrow as pa
    >>> from tidal.catalog.objects import Column, Table
    >>> from tidal.sql.dml import DO_NOTHING, Conflict
    >>> t = Table("t", (Column("k", "INTEGER", False), Column("v", "INTEGER")), primary_key=("k",))
    >>> held = pa.table({"k": pa.array([1], pa.int32()), "v": pa.array([10], pa.int32())})
    >>> proposed = pa.table({"k": pa.array([1, 2, 2], pa.int32()), "v": pa.array([11, 20, 21], pa.int32())})
    >>> lookup = lambda keys: held.filter(pa.compute.is_in(held["k"], value_set=keys["k"]))
    >>> resolved = resolve_insert(t, proposed, Conflict(DO_NOTHING), lookup, None)
    >>> resolved.insertions.to_pydict(), resolved.count
    ({'k': [2], 'v': [20]}, 1)
    >>> try:
    ...     check_keys(t, proposed.slice(0, 0), proposed, lookup)
    ... except KeyViolation as error:
    ...     print(error.sqlstate, error)
    23505 duplicate key value violates unique constraint "t_pkey": Key (k)=(1) already exists
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidal.catalog.objects import (
    CONFLICT_ERROR,
    CONFLICT_OVERWRITE,
    CONFLICT_UPDATE_IF_NOT_NULL,
    Table,
)
from tidal.catalog.sqlstate import CARDINALITY_VIOLATION, UNIQUE_VIOLATION
from tidal.engine.errors import DataError
from tidal.engine.keys import canonical
from tidal.engine.zset import WEIGHT, consolidate
from tidal.sql.dml import DO_NOTHING, DO_UPDATE, Conflict

# The rows of a keyed table whose key is one of the given keys (a table of the key's columns,
# by name): the table's columns, by name.
Lookup = Callable[[pa.Table], pa.Table]
# An ON CONFLICT DO UPDATE's plan run over conflicts (existing row's columns, then the
# proposed row's, named c0..): the updated rows' columns, then whether to update.
RunUpdate = Callable[[pa.Table], pa.Table]

_ROW = "__row"
_UPDATE_WHERE = -1  # the column of the update plan's output that says whether to update


class KeyViolation(DataError):
    """A statement would break a table's primary key (23505), or update one row twice (21000);
    nothing was changed."""

    def __init__(self, message: str, sqlstate: str = UNIQUE_VIOLATION) -> None:
        super().__init__(message, sqlstate)


@dataclass(frozen=True)
class Resolved:
    """An INSERT's effect on a keyed table: the rows it removes (an updated row's old
    version), the rows it adds, and how many rows the command tag reports (inserted or
    updated). ``unchecked``: the key must still be checked (``check_keys``); else the rows
    keep it unique by how they were chosen."""

    deletions: pa.Table
    insertions: pa.Table
    count: int
    unchecked: bool = False


def resolve_insert(
    table: Table, rows: pa.Table, conflict: Conflict, lookup: Lookup, run_update: RunUpdate | None
) -> Resolved:
    """What an INSERT of ``rows`` (the table's columns, NOT NULL checked) does to ``table``."""
    empty = rows.schema.empty_table()
    if conflict.action == CONFLICT_ERROR or not rows.num_rows:
        return Resolved(empty, rows, rows.num_rows, unchecked=True)
    names = key_names(table)
    existing = lookup(rows.select(names))
    proposed = _Proposed(rows, names, existing)
    if conflict.action == DO_NOTHING:
        keep = ~proposed.matched & proposed.first
        return Resolved(empty, rows.filter(keep), int(keep.sum()))
    if conflict.action == CONFLICT_OVERWRITE:
        return Resolved(existing, rows.filter(proposed.last), rows.num_rows)
    if conflict.action == CONFLICT_UPDATE_IF_NOT_NULL:
        merged = _last_values(pa.concat_tables([existing, rows]), names)
        return Resolved(existing, merged, rows.num_rows)
    if conflict.action == DO_UPDATE:
        return _do_update(table, rows, proposed, existing, conflict, run_update)
    raise ValueError(f"unknown conflict action {conflict.action!r}")


def check_keys(table: Table, deletions: pa.Table, insertions: pa.Table, lookup: Lookup) -> None:
    """Raise 23505 if the table, less ``deletions`` (rows it holds) and plus ``insertions``,
    would hold a key twice."""
    if not insertions.num_rows:
        return
    names = key_names(table)
    existing = lookup(insertions.select(names))
    if not deletions.num_rows:  # a plain INSERT: no inserted key may exist, none may repeat
        if existing.num_rows:
            _duplicate(table, existing, names)
        if _distinct_keys(insertions, names) == insertions.num_rows:
            return
    parts = [(existing, 1), (deletions, -1), (insertions, 1)]
    keys = pa.concat_tables(
        _comparable(rows, names).append_column(
            WEIGHT, pa.array(np.full(rows.num_rows, weight, dtype=np.int64))
        )
        for rows, weight in parts
    )
    counts = consolidate(keys)
    duplicated = pc.greater(counts.column(WEIGHT), 1)
    if pc.any(duplicated).as_py():
        # Name the key as the inserted row spells it (not its comparable stand-in).
        first = counts.filter(duplicated).slice(0, 1).drop_columns([WEIGHT])
        _duplicate(table, _rows_with_keys(insertions, names, first), names)


def _duplicate(table: Table, rows: pa.Table, names: list[str]) -> None:
    """Raise 23505 naming the key of the first of ``rows``."""
    raise KeyViolation(
        f'duplicate key value violates unique constraint "{table.constraint}": '
        f"{_key_text(rows.slice(0, 1), names)} already exists"
    )


def _distinct_keys(rows: pa.Table, names: list[str]) -> int:
    """How many distinct keys ``rows`` hold."""
    keys = _comparable(rows, names)
    if keys.num_columns == 1:
        return len(pc.unique(keys.column(0)))
    return keys.group_by(keys.column_names, use_threads=False).aggregate([]).num_rows


def rows_with_keys(changes: pa.Table, key: list[int], keys: pa.Table) -> pa.Table:
    """The rows of ``changes`` (a Z-set: positional columns and weights, not consolidated)
    whose columns ``key`` equal a row of ``keys`` (the key's columns, in order), consolidated.
    A table's contents pass ``is_in`` on each key column (one pass over the table, hashing only
    the keys sought); rows of a composite key are then matched exactly by a join."""
    if not (changes.num_rows and keys.num_rows):
        return changes.schema.empty_table()
    mask = None
    for position, column in zip(key, keys.columns):
        hit = _is_in(canonical(changes.column(position)), canonical(column))
        mask = hit if mask is None else pc.and_(mask, hit)
    found = changes.filter(mask)
    if len(key) > 1 and found.num_rows:
        names = [found.column_names[p] for p in key]
        found = _rows_with_keys(found, names, keys)
    return consolidate(found)


# Up to this many keys sought, comparing with each is faster than hashing every row (is_in).
_FEW_KEYS = 4


def _is_in(values, sought) -> pa.ChunkedArray:
    """Whether each of ``values`` is one of ``sought`` (NaN is NaN, as in ``is_in``)."""
    if len(sought) <= _FEW_KEYS and not pa.types.is_floating(values.type):
        hit = None
        for value in sought:
            equal = pc.equal(values, value)
            hit = equal if hit is None else pc.or_(hit, equal)
        return hit
    if isinstance(sought, pa.ChunkedArray):
        sought = sought.combine_chunks()
    return pc.is_in(values, value_set=sought)


def key_names(table: Table) -> list[str]:
    return [table.columns[p].name for p in table.key_positions()]


class _Proposed:
    """Where each proposed row stands: whether the table holds its key (``matched``, and which
    existing row: ``match``), and whether it is the first or last row of its key."""

    def __init__(self, rows: pa.Table, names: list[str], existing: pa.Table) -> None:
        count = rows.num_rows
        keys = _comparable(rows, names)
        numbered = keys.append_column(_ROW, pa.array(np.arange(count, dtype=np.int64)))
        held = _comparable(existing, names).append_column(
            "__existing", pa.array(np.arange(existing.num_rows, dtype=np.int64))
        )
        pairs = numbered.join(held, keys=list(keys.column_names), join_type="inner")
        self.match = np.full(count, -1, dtype=np.int64)
        self.match[pairs.column(_ROW).to_numpy()] = pairs.column("__existing").to_numpy()
        self.matched = self.match >= 0
        groups = numbered.group_by(list(keys.column_names), use_threads=False).aggregate(
            [(_ROW, "min"), (_ROW, "max")]
        )
        self.first = np.zeros(count, dtype=bool)
        self.first[groups.column(f"{_ROW}_min").to_numpy()] = True
        self.last = np.zeros(count, dtype=bool)
        self.last[groups.column(f"{_ROW}_max").to_numpy()] = True


def _do_update(
    table: Table,
    rows: pa.Table,
    proposed: _Proposed,
    existing: pa.Table,
    conflict: Conflict,
    run_update: RunUpdate | None,
) -> Resolved:
    """PostgreSQL's ``ON CONFLICT DO UPDATE``: rows whose key is new are inserted, the others
    update their existing row where WHERE holds; a key inserted or updated by one row of the
    statement cannot be met by a later one (21000)."""
    names = key_names(table)
    fresh = ~proposed.matched
    _cannot_affect_twice(rows, names, fresh & ~proposed.last)
    positions = np.flatnonzero(proposed.matched)
    old = existing.take(proposed.match[positions])
    new = rows.take(positions)
    if conflict.update is not None and positions.size:
        pairs = pa.Table.from_arrays(
            [*old.columns, *new.columns],
            names=[f"c{i}" for i in range(2 * rows.num_columns)],
        )
        updated = run_update(pairs)
        where = updated.column(updated.num_columns + _UPDATE_WHERE)
        chosen = pc.fill_null(where, False).to_numpy(zero_copy_only=False).astype(bool)
        new = pa.Table.from_arrays(
            [updated.column(i).cast(f.type) for i, f in enumerate(rows.schema)],
            schema=rows.schema,
        )
    else:
        chosen = np.ones(positions.size, dtype=bool)
    _cannot_affect_twice(new, names, chosen & ~proposed.last[positions])
    insertions = pa.concat_tables([rows.filter(fresh), new.filter(chosen)])
    return Resolved(old.filter(chosen), insertions, insertions.num_rows, conflict.sets_key)


def _cannot_affect_twice(rows: pa.Table, names: list[str], twice: np.ndarray) -> None:
    if twice.any():
        row = rows.filter(twice).slice(0, 1)
        raise KeyViolation(
            "ON CONFLICT DO UPDATE command cannot affect row a second time: rows proposed for "
            f"insertion within the same command share a key ({_key_text(row, names)})",
            CARDINALITY_VIOLATION,
        )


def _last_values(rows: pa.Table, names: list[str]) -> pa.Table:
    """One row per key: each column's last non-NULL value in the order of ``rows``."""
    keys = _comparable(rows, names)
    position = pa.array(np.arange(rows.num_rows, dtype=np.int64))
    picks = [pc.if_else(pc.is_valid(column), position, None) for column in rows.columns]
    picked = [f"__pick{i}" for i in range(rows.num_columns)]
    table = pa.Table.from_arrays([*keys.columns, *picks], names=[*keys.column_names, *picked])
    groups = table.group_by(list(keys.column_names), use_threads=False).aggregate(
        [(name, "max") for name in picked]
    )
    columns = [rows.column(i).take(groups.column(f"{name}_max")) for i, name in enumerate(picked)]
    return pa.Table.from_arrays(columns, schema=rows.schema)


def _comparable(rows: pa.Table, names: list[str]) -> pa.Table:
    """A table's key columns as Arrow should hash them (-0.0 as 0.0), named k0, k1, ..."""
    return pa.Table.from_arrays(
        [canonical(rows.column(name)) for name in names],
        names=[f"k{i}" for i in range(len(names))],
    )


def _rows_with_keys(rows: pa.Table, names: list[str], keys: pa.Table) -> pa.Table:
    """The rows of ``rows`` whose columns ``names`` equal a row of ``keys`` (matched exactly)."""
    numbered = _comparable(rows, names).append_column(
        _ROW, pa.array(np.arange(rows.num_rows, dtype=np.int64))
    )
    sought = pa.Table.from_arrays(
        [canonical(column) for column in keys.columns], names=numbered.column_names[:-1]
    )
    found = numbered.join(sought, keys=sought.column_names, join_type="left semi")
    return rows.take(np.sort(found.column(_ROW).to_numpy()))


def _key_text(row: pa.Table, names: list[str]) -> str:
    """PostgreSQL's way of naming a key: ``Key (a, b)=(1, x)``."""
    values = [row.column(name)[0].as_py() for name in names]
    return f"Key ({', '.join(names)})=({', '.join(str(v) for v in values)})"
