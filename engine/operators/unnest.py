"""Unnest: each change row once per element of its lists, the elements appended. Stateless.

The lists of one row are read in step; a shorter or NULL list gives NULL, and a row whose
lists are all empty or NULL gives no row. Each output row keeps its input row's weight:

generate_series(1, c0) over c0:   (2, +1) (1, -1)  ->  (2, 1, +1) (2, 2, +1) (1, 1, -1)
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidal.engine.operators.base import Operator, change_schema
from tidal.engine.zset import WEIGHT
from tidal.sql.plan import Unnest


class UnnestOperator(Operator):
    def __init__(self, node: Unnest) -> None:
        self.schema = change_schema(node.schema)
        self.lists = node.lists
        self.width = len(node.input.schema)

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        (delta,) = inputs
        if delta.num_rows == 0:
            return self.empty()
        lists = [delta.column(c).combine_chunks() for c in self.lists]
        lengths = [pc.fill_null(pc.list_value_length(a), 0).to_numpy() for a in lists]
        counts = np.maximum.reduce(lengths).astype(np.int64)
        parent = np.repeat(np.arange(delta.num_rows), counts)
        # the position of each output row in its input row's lists
        position = np.arange(parent.size) - np.repeat(np.cumsum(counts) - counts, counts)
        rows = delta.take(parent)
        elements = [_elements(a, n, parent, position) for a, n in zip(lists, lengths)]
        arrays = rows.columns[: self.width] + elements + [rows.column(WEIGHT)]
        return pa.Table.from_arrays(arrays, schema=self.schema)


def _elements(lists: pa.Array, lengths: np.ndarray, parent: np.ndarray, position: np.ndarray):
    """Element ``position`` of list ``parent`` for each output row (NULL past its end)."""
    offsets = lists.offsets.to_numpy()
    inside = position < lengths[parent]
    indices = pa.array(offsets[parent] + position, mask=~inside, type=pa.int64())
    return lists.values.take(indices)
