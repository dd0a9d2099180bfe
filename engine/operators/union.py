"""Union all: the changes of both inputs, unchanged. Stateless.

(a, +1)  and  (a, +1) (b, -1)  ->  (a, +1) (a, +1) (b, -1)
"""

from __future__ import annotations

import pyarrow as pa

from tidal.engine.operators.base import Operator, change_schema
from tidal.sql.plan import SetOp


class UnionAllOperator(Operator):
    def __init__(self, node: SetOp) -> None:
        self.schema = change_schema(node.schema)

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        parts = [
            t.rename_columns(self.schema.names).cast(self.schema) for t in inputs if t.num_rows
        ]
        return pa.concat_tables(parts) if parts else self.empty()
