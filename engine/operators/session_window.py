"""Session windows: rows of a partition closer than the gap to the previous one share a session;
a row that falls between two sessions merges them.

A keyed recompute (recompute.py) by the PARTITION BY columns: a tick that touches a partition
assigns its rows to sessions again (DuckDB, the gaps-and-islands lowering batch mode uses) and
emits the difference, so a merge retracts the rows of both old sessions and inserts them with
the merged bounds. A session whose end is at or below the watermark can no longer grow (an
on-time row is at or after the watermark, so at least a gap after its last row): its rows leave
the state, which holds only open sessions.

    gap 10s, partition a: {(a, 00:00)} {(a, 00:15)}  + (a, 00:08)
        ->  retract both sessions; (a,00:00)(a,00:08)(a,00:15) in [00:00, 00:25)
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

from tidal.engine.operators.base import change_schema
from tidal.engine.operators.recompute import RecomputeOperator
from tidal.engine.watermarks import micros
from tidal.engine.zset import negate
from tidal.sql.eventtime import TimeBound
from tidal.sql.plan import WindowTVF


class SessionOperator(RecomputeOperator):
    def __init__(self, node: WindowTVF, compute, end_bound: TimeBound | None) -> None:
        super().__init__(
            [change_schema(node.input.schema)],
            [node.partition],
            change_schema(node.schema),
            compute,
            output_key=node.partition,
        )
        self.width = len(node.input.schema)
        self.end = self.width + 1
        self.end_bound = end_bound
        self.closed_below: int | None = None

    def on_watermark(self, watermarks: Mapping[str, int | None]) -> pa.Table | None:
        watermark = self.end_bound.value(watermarks) if self.end_bound else None
        if watermark is None or watermark == self.closed_below:
            return None
        self.closed_below = watermark
        rows = self.output.rows()
        closed = rows.filter(pa.array(micros(rows.column(self.end)) < watermark))
        if closed.num_rows:
            self.output.insert(negate(closed))
            inputs = closed.select([*range(self.width), closed.num_columns - 1])
            self.inputs[0].insert(negate(inputs.rename_columns(self.inputs[0].schema.names)))
        return None

    def snapshot(self) -> dict:
        return {**super().snapshot(), "closed_below": self.closed_below}

    def restore(self, state: dict) -> None:
        super().restore(state)
        self.closed_below = state["closed_below"]

    def output_rows(self) -> pa.Table | None:
        return None if self.end_bound else super().output_rows()
