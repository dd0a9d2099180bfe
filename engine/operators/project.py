"""Project: computes the output columns of each change, keeping its weight. Stateless.

A row a Python function failed on with ``on_error = 'dead_letter'`` is left out (its dead
letter kept: tidal.engine.udf.dead_letters).

SELECT c0 * 10:   (1, +1) (2, -1)  ->  (10, +1) (20, -1)
"""

from __future__ import annotations

import pyarrow as pa
from sqlglot import exp

from tidal.engine.expressions import compile_expression
from tidal.engine.operators.base import Operator, change_schema
from tidal.engine.udf import dead_letters
from tidal.engine.zset import WEIGHT
from tidal.sql.plan import Project, ref_index


class ProjectOperator(Operator):
    def __init__(self, node: Project) -> None:
        self.schema = change_schema(node.schema)
        self.columns = [self._compile(e, node, i) for i, e in enumerate(node.exprs)]

    def _compile(self, expression: exp.Expression, node: Project, index: int):
        target = self.schema.field(index).type
        if isinstance(expression, exp.Column):
            position = ref_index(expression)  # a plain column: no kernel call at all
            return lambda batch: (
                batch.column(position)
                if batch.column(position).type == target
                else batch.column(position).cast(target)
            )
        return compile_expression(expression, node.input.schema, node.schema[index].type)

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        (delta,) = inputs
        if delta.num_rows == 0:
            return self.empty()
        with dead_letters.evaluating() as failed:
            arrays = [column(delta) for column in self.columns] + [delta.column(WEIGHT)]
        return dead_letters.leave_out(pa.Table.from_arrays(arrays, schema=self.schema), failed)
