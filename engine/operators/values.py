"""Values: constant rows, emitted once with weight +1 at the first tick. State: whether it has.

VALUES (1), (2):   first tick -> (1, +1) (2, +1);   later ticks -> nothing
"""

from __future__ import annotations

import pyarrow as pa

from tidal.engine.operators.base import Operator, change_schema
from tidal.engine.zset import with_weight


class ValuesOperator(Operator):
    def __init__(self, rows: pa.Table, fields) -> None:
        self.schema = change_schema(fields)
        self.rows = with_weight(rows.rename_columns(self.schema.names[:-1])).cast(self.schema)
        self.emitted = False

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        if self.emitted:
            return self.empty()
        self.emitted = True
        return self.rows

    def snapshot(self) -> dict:
        return {"emitted": self.emitted}

    def restore(self, state: dict) -> None:
        self.emitted = state["emitted"]
