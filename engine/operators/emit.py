"""EMIT ON WINDOW CLOSE: holds its input's changes until they are final, then emits them once.

Pending changes are kept consolidated; when the watermark of the column that decides (window_end
of a windowed aggregate, usually) passes a row, the row leaves the buffer as an insertion, and
nothing upstream can retract it any more. State: the rows of windows still open.

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

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        (delta,) = inputs
        if delta.num_rows:
            self.pending = concat([self.pending, delta], self.schema)
        return self.empty()

    def on_watermark(self, watermarks: Mapping[str, int | None]) -> pa.Table | None:
        watermark = self.bound.value(watermarks)
        if watermark is None or self.pending.num_rows == 0:
            return None
        self.pending = consolidate(self.pending)
        final = micros(self.pending.column(self.time)) < watermark
        if not final.any():
            return None
        released = self.pending.filter(pa.array(final))
        self.pending = self.pending.filter(pa.array(~final))
        return released

    def snapshot(self) -> dict:
        return {"pending": consolidate(self.pending)}

    def restore(self, state: dict) -> None:
        self.pending = state["pending"]

    def state_rows(self) -> int:
        return self.pending.num_rows
