"""Filter: keeps the changes whose row satisfies the predicate. Stateless.

WHERE c0 > 1:   (1, +1) (2, +1) (2, -1)  ->  (2, +1) (2, -1)
"""

from __future__ import annotations

import pyarrow as pa

from tidal.engine.expressions import compile_predicate
from tidal.engine.operators.base import Operator, change_schema
from tidal.engine.udf import dead_letters
from tidal.sql.plan import Filter


class FilterOperator(Operator):
    def __init__(self, node: Filter) -> None:
        self.schema = change_schema(node.schema)
        self.predicate = compile_predicate(node.predicate, node.input.schema)

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        (delta,) = inputs
        if delta.num_rows == 0:
            return delta
        with dead_letters.evaluating() as failed:
            keep = self.predicate(delta)
        if failed.letters:  # rows a Python function failed on leave (tidal.engine.udf)
            delta = delta.append_column("__keep", keep)
            delta = dead_letters.leave_out(delta, failed)
            keep = delta.column("__keep")
            delta = delta.drop_columns(["__keep"])
        return delta.filter(keep)
