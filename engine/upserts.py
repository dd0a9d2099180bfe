"""Upserts and deletes by key, as a connector gives them, turned into a table's weighted changes.

An UPSERT reader (tidal.engine.connectors.base) polls rows with an ``__op`` per row: insert or
replace the row with this key, delete the row with this key, or delete every row. The rows of
one poll apply in their order: per key the last one wins, and a TRUNCATE undoes whatever came
before it. The result is a Z-set against the table's current rows: the rows replaced or deleted
with weight -1, the rows that are there afterwards with +1, consolidated, so that a row upserted
again with the same values changes nothing. Vectorized: the last row per key is found with
Arrow's group-by, the current rows with the key lookup of tidal.engine.primary_keys.

    >>> import pyarrow as pa
    >>> from tidal.engine.collection import Collection
    >>> held = pa.table({"c0": pa.array([1, 2]), "c1": pa.array(["a", "b"]), "__weight": pa.array([1, 1])})
    >>> contents = Collection(held.schema)
    >>> contents.apply(held)
    >>> polled = pa.table({"k": pa.array([1, 3, 3, 2]), "v": pa.array(["x", "y", "z", None]),
    ...                    "__op": pa.array([1, 1, 1, 0], pa.int8())})
    >>> change = upsert_changes(polled, [0], contents)
    >>> sorted(zip(*change.to_pydict().values()))
    [(1, 'a', -1), (1, 'x', 1), (2, 'b', -1), (3, 'z', 1)]
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from tidal.engine.collection import Collection
from tidal.engine.connectors.base import OP, TRUNCATE, UPSERT_ROW
from tidal.engine.primary_keys import rows_with_keys
from tidal.engine.zset import concat, consolidate, negate, rename_positional, with_weight

_INDEX = "__index"


def upsert_changes(
    polled: pa.Table, key: list[int], contents: Collection, errors: list[str] | None = None
) -> pa.Table:
    """The weighted changes (positional columns) that ``polled`` (the declared columns and
    OP) makes to a table whose key is at positions ``key`` and whose rows are ``contents``.
    An upsert or delete whose key has a NULL is left out, and said in ``errors``."""
    missing = pc.and_(pc.not_equal(polled.column(OP), TRUNCATE), _any_null(polled, key))
    if pc.any(missing).as_py():
        if errors is not None:
            count = pc.sum(missing).as_py()
            errors.append(f"{count} row(s) without a value in the primary key left out")
        polled = polled.filter(pc.invert(missing))
    ops = polled.column(OP)
    rows = rename_positional(polled.drop_columns([OP]))
    truncates = pc.indices_nonzero(pc.equal(ops, TRUNCATE))
    everything = len(truncates) > 0
    if everything:  # what came before the last TRUNCATE no longer matters
        after = truncates[-1].as_py() + 1
        rows, ops = rows.slice(after), ops.slice(after)
    rows = rows.append_column(_INDEX, pa.array(range(rows.num_rows), pa.int64()))
    key_names = [rows.column_names[k] for k in key]
    last = rows.group_by(key_names, use_threads=False).aggregate([(_INDEX, "max")])
    final = rows.take(last.column(f"{_INDEX}_max")).drop_columns([_INDEX])
    kept = pc.equal(ops.take(last.column(f"{_INDEX}_max")), UPSERT_ROW)
    held = contents.changes()
    if everything:
        gone = consolidate(held)
    else:
        gone = rows_with_keys(held, key, final.select(key_names))
    added = with_weight(final.filter(kept))
    return consolidate(concat([negate(gone), added.cast(held.schema)]))


def _any_null(rows: pa.Table, positions: list[int]) -> pa.ChunkedArray:
    mask = None
    for position in positions:
        null = pc.is_null(rows.column(position))
        mask = null if mask is None else pc.or_(mask, null)
    return mask
