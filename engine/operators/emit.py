"""EMIT ON WINDOW CLOSE: holds its input's changes until they are final, then emits them once.

When the watermark of the column that decides (window_end of a windowed aggregate, usually)
passes a row, the row leaves the buffer, consolidated, as an insertion, and nothing upstream can
retract it any more. A row and its retraction share that column's value, so consolidating only
the released rows is exact; the rest of the buffer is consolidated when it has doubled, so
updates to open windows do not pile up. State: the rows of windows still open.

    pending {(w1, a, 3)}, watermark passes w1's end  ->  (w1, a, 3, +1)
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

from tidal.engine.operators.base import Operator, change_schema
from tidal.engine.watermarks import micros
from tidal.engine.zset import concat, consolidate
from tidal.sql.eventtime import TimeBound
from tidal.sql.plan import Emit


class EmitOperator(Operator):
    def __init__(self, node: Emit, bound: TimeBound) -> None:
        self.schema = change_schema(node.schema)
        self.time = node.time
        self.bound = bound
        self.pending = self.empty()
        self.consolidated_rows = 0  # the buffer's size when it was last consolidated

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        (delta,) = inputs
        if delta.num_rows:
            self.pending = concat([self.pending, delta], self.schema)
        return self.empty()

    def on_watermark(self, watermarks: Mapping[str, int | None]) -> pa.Table | None:
        watermark = self.bound.value(watermarks)
        if watermark is None or self.pending.num_rows == 0:
            return None
        final = micros(self.pending.column(self.time)) < watermark
        released = consolidate(self.pending.filter(pa.array(final))) if final.any() else None
        if released is not None:
            self.pending = self.pending.filter(pa.array(~final))
        if self.pending.num_rows > 2 * self.consolidated_rows:
            self.pending = consolidate(self.pending)
            self.consolidated_rows = self.pending.num_rows
        return released

    def snapshot(self) -> dict:
        return {"pending": self.pending, "consolidated_rows": self.consolidated_rows}

    def restore(self, state: dict) -> None:
        self.pending = state["pending"]
        self.consolidated_rows = state["consolidated_rows"]

    def state_rows(self) -> int:
        return self.pending.num_rows
