"""Z-set deltas shown as change kinds: Flink's changelog (+I -U +U -D) and upserts by key.

Inside tidal every change is a row with a weight (see ARCHITECTURE.md section 2). Only at the
edges (sinks, the shell's changelog mode, subscriptions) is a delta shown as change kinds, and
these functions are the one place that decides how.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidal.engine.zset import WEIGHT

OP = "op"

_CHANGELOG_OPS = pa.array(["+I", "-U", "+U", "-D"])
_INSERT, _UPDATE_BEFORE, _UPDATE_AFTER, _DELETE = range(4)
_UPSERT_OPS = pa.array(["upsert", "delete"])


def to_changelog(changes: pa.Table, key_columns: list[str]) -> pa.Table:
    """A consolidated delta as Flink-style change rows: ``op`` then the data columns.

    Within the delta, a retracted row and an inserted row with equal key values (NULLs equal)
    pair up as ``-U`` (old) immediately followed by ``+U`` (new); unpaired retractions are
    ``-D``, unpaired insertions ``+I``. A weight of magnitude n gives n rows. Without key
    columns nothing pairs. With keys, rows come out sorted by key; for each key the pairs first,
    then its ``-D`` rows, then its ``+I`` rows. Without keys, rows keep their input order.

    >>> delta = pa.table({"k": [1, 1, 2], "v": ["a", "b", "c"], "__weight": [-1, 1, 2]})
    >>> to_changelog(delta, ["k"]).to_pydict()
    {'op': ['-U', '+U', '+I', '+I'], 'k': [1, 1, 2, 2], 'v': ['a', 'b', 'c', 'c']}
    """
    data = changes.drop_columns([WEIGHT])
    weights = _weights(changes)
    if not key_columns:
        rows = np.repeat(np.arange(len(weights)), np.abs(weights))
        codes = np.where(weights[rows] < 0, _DELETE, _INSERT)
        return _with_op(data.take(rows), _CHANGELOG_OPS, codes)
    order, group = _key_groups(changes, key_columns)
    weights = weights[order]
    copies = np.abs(weights)
    rows = np.repeat(order, copies)
    group = np.repeat(group, copies)
    negative = np.repeat(weights < 0, copies)
    return _pair(data, rows, group, negative)


def to_upsert(changes: pa.Table, key_columns: list[str]) -> pa.Table:
    """A consolidated delta as upserts by key: ``op`` ('upsert' or 'delete') then the columns.

    Each inserted row is an ``upsert`` carrying the full new row; a key that is only retracted
    in this delta is a ``delete`` carrying the old row. A key retracted and re-inserted in the
    same delta is just its ``upsert``. The key is expected to be unique, so weights are read for
    their sign only. Rows come out sorted by key.

    >>> delta = pa.table({"k": [1, 1, 2], "v": ["a", "b", "c"], "__weight": [-1, 1, -1]})
    >>> to_upsert(delta, ["k"]).to_pydict()
    {'op': ['upsert', 'delete'], 'k': [1, 2], 'v': ['b', 'c']}
    """
    if not key_columns:
        raise ValueError("to_upsert needs key columns: without a unique key use to_changelog")
    order, group = _key_groups(changes, key_columns)
    negative = _weights(changes)[order] < 0
    has_insert = np.zeros(int(group[-1]) + 1 if len(group) else 0, dtype=bool)
    has_insert[group[~negative]] = True
    keep = ~negative | ~has_insert[group]
    codes = np.where(negative[keep], 1, 0)
    return _with_op(changes.drop_columns([WEIGHT]).take(order[keep]), _UPSERT_OPS, codes)


def _weights(changes: pa.Table) -> np.ndarray:
    return changes.column(WEIGHT).to_numpy().astype(np.int64, copy=False)


def _key_groups(changes: pa.Table, key_columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Row order sorted by key (stable) and, along it, a group number per distinct key."""
    keys = changes.select(key_columns)
    order = pc.sort_indices(keys, sort_keys=[(c, "ascending") for c in key_columns])
    order_np = order.to_numpy().astype(np.int64, copy=False)
    if len(order_np) == 0:
        return order_np, order_np
    same = np.ones(len(order_np) - 1, dtype=bool)
    for name in key_columns:
        same &= _equal_to_previous(keys.column(name).take(order))
    group = np.concatenate([[0], np.cumsum(~same)])
    return order_np, group


def _equal_to_previous(column: pa.ChunkedArray) -> np.ndarray:
    """For each row but the first: is its value equal to the row before (NULL equals NULL)?"""
    column = column.combine_chunks()
    current, previous = column[1:], column[:-1]
    equal = pc.fill_null(pc.equal(current, previous), False)
    both_null = pc.and_(pc.is_null(current), pc.is_null(previous))
    return pc.or_(equal, both_null).to_numpy(zero_copy_only=False)


def _pair(data: pa.Table, rows: np.ndarray, group: np.ndarray, negative: np.ndarray) -> pa.Table:
    """Pair the k-th retraction of each key with its k-th insertion; order the output rows."""
    n_groups = int(group[-1]) + 1 if len(group) else 0
    rank = np.empty(len(rows), dtype=np.int64)
    counts = []
    for side in (negative, ~negative):
        side_group = group[side]  # sorted, since rows are sorted by key
        rank[side] = np.arange(len(side_group)) - np.searchsorted(side_group, side_group)
        counts.append(np.bincount(side_group, minlength=n_groups))
    pairs = np.minimum(*counts)[group]
    paired = rank < pairs
    codes = np.where(
        negative,
        np.where(paired, _UPDATE_BEFORE, _DELETE),
        np.where(paired, _UPDATE_AFTER, _INSERT),
    )
    # Within a key: pairs (old then new) first, then deletes, then inserts.
    slot = np.where(paired, 0, np.where(negative, 1, 2))
    within = np.where(paired, 2 * rank + ~negative, rank)
    out = np.lexsort((within, slot, group))
    return _with_op(data.take(rows[out]), _CHANGELOG_OPS, codes[out])


def _with_op(data: pa.Table, ops: pa.Array, codes: np.ndarray) -> pa.Table:
    op = ops.take(pa.array(codes, type=pa.int8()))
    return data.add_column(0, OP, op)
