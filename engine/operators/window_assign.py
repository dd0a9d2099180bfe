"""Window assignment (TUMBLE, HOP, CUMULATE): each row with the bounds of each window it falls
in. Stateless and linear: a change's windows carry its weight. Vectorized over epoch
microseconds, the same arithmetic as the DuckDB lowering (tidal.sql.lower).

    TUMBLE 10s:        (a, 00:00:07, +1)  ->  (a, 00:00:07, 00:00:00, 00:00:10, +1)
    HOP 5s slide 10s:  (a, 00:00:07, +1)  ->  (... 00:00:00, 00:00:10, +1) (... 00:00:05, 00:00:15, +1)
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tidal.engine.operators.base import Operator, change_schema
from tidal.engine.watermarks import micros, to_timestamps
from tidal.engine.zset import WEIGHT
from tidal.sql.plan import WindowTVF

_NULL = np.iinfo(np.int64).min


class WindowAssignOperator(Operator):
    def __init__(self, node: WindowTVF) -> None:
        self.node = node
        self.schema = change_schema(node.schema)
        self.time_type = self.schema.field(node.time).type

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        (delta,) = inputs
        if delta.num_rows == 0:
            return self.empty()
        node = self.node
        times = micros(delta.column(node.time))
        null = times == _NULL
        if node.kind == "tumble":
            start = times - (times - node.offset) % node.size
            rows, end = np.arange(len(times)), start + node.size
        elif node.kind == "hop":  # windows starting i slides before the latest one
            count = -(-node.size // node.slide)
            rows, back = _repeat(len(times), count, (times - node.offset) % node.slide, node.slide)
            keep = (back < node.size) & ~null[rows]
            rows, start = rows[keep], times[rows[keep]] - back[keep]
            end = start + node.size
        else:  # cumulate: from the size-aligned start, growing by steps past the row
            count = node.size // node.slide
            into = (times - node.offset) % node.size
            rows, grown = _repeat(len(times), count, np.zeros_like(times), node.slide)
            grown += node.slide
            keep = (grown > into[rows]) & ~null[rows]
            rows, grown = rows[keep], grown[keep]
            start = times[rows] - into[rows]
            end = start + grown
        taken = delta if node.kind == "tumble" else delta.take(pa.array(rows))
        null_rows = null[rows] if node.kind == "tumble" else None
        bounds = [
            to_timestamps(start, self.time_type, null_rows),
            to_timestamps(end, self.time_type, null_rows),
        ]
        columns = taken.columns[:-1] + bounds + [taken.column(WEIGHT)]
        return pa.Table.from_arrays(columns, schema=self.schema)


def _repeat(rows: int, count: int, first: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row index ``count`` times, beside ``first[row] + i * step`` for i = 0..count-1."""
    index = np.repeat(np.arange(rows), count)
    return index, first[index] + np.tile(np.arange(count, dtype=np.int64) * step, rows)
