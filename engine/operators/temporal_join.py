"""Temporal (lookup) join: each stream row joined with the table as it is when the row arrives.

State: the table side only, arranged by the join keys; the stream side is not kept, because
a table change never revisits the stream rows joined before it (tidal.sql.temporal_joins).
In a tick, the table's changes are applied first, then the stream's new rows look up their
keys (so a view's first tick, its backfill, joins the stream with the table as it is then).

    table {(a, 1)};  stream +(a)  ->  +(a, a, 1);  table (a, 1) -> (a, 2)  ->  nothing
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tidal.engine.arrangement import Arrangement, key_hash
from tidal.engine.operators.asof_join import Compute, join_left_linear
from tidal.engine.operators.base import Operator, change_schema
from tidal.sql.temporal_joins import TemporalJoin


class TemporalJoinOperator(Operator):
    def __init__(self, node: TemporalJoin, compute: Compute) -> None:
        self.schema = change_schema(node.schema)
        self.compute = compute
        self.left_keys, self.right_keys = tuple(node.left_keys), tuple(node.right_keys)
        self.table = Arrangement(change_schema(node.right.schema), self.right_keys)

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        stream, table = inputs
        if table.num_rows:
            self.table.insert(table)
        if stream.num_rows == 0:
            return self.empty()
        matches = self.table.lookup(np.unique(key_hash(stream, self.left_keys)))
        return join_left_linear(self.compute, stream, matches, self.schema)

    def snapshot(self) -> dict:
        return {"table": self.table.snapshot()}

    def restore(self, state: dict) -> None:
        self.table.restore(state["table"])

    def state_rows(self) -> int:
        return len(self.table)
