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
from tidal.engine.zset import WEIGHT, take, weighted_rows
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
        return dead_letters.leave_out(*self._project(delta))

    def _project(self, delta: pa.Table) -> tuple[pa.Table, dead_letters.Failed]:
        """Every row's output, and the rows Python functions failed on as dead letters."""
        with dead_letters.evaluating() as failed:
            arrays = [column(delta) for column in self.columns] + [delta.column(WEIGHT)]
        return pa.Table.from_arrays(arrays, schema=self.schema), failed


class RememberingProjectOperator(ProjectOperator):
    """A projection calling a VOLATILE Python function: its output for a row may differ from
    call to call, so it remembers what it emitted for each input row, and a retraction of the
    row retracts exactly that (a recomputation would retract a row never emitted). State: the
    emitted rows, per input row.

    SELECT c0, random_score(c0):  (7, +1) -> (7, 0.42, +1);  (7, -1) -> (7, 0.42, -1)
    """

    def __init__(self, node: Project) -> None:
        super().__init__(node)
        self.emitted: dict[tuple, list[list]] = {}  # input row -> [[output row, weight], ...]

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        (delta,) = inputs
        if delta.num_rows == 0:
            return self.empty()
        weights = delta.column(WEIGHT).to_numpy()
        inserted = delta.filter(pa.array(weights > 0))
        computed, failed = self._project(inserted)
        left_out = {letter[0] for letter in failed.letters}  # dead letters: nothing emitted
        outputs = weighted_rows(computed)
        for i, (row, out) in enumerate(zip(weighted_rows(inserted), outputs)):
            if i not in left_out:
                self.emitted.setdefault(row[:-1], []).append([out[:-1], row[-1]])
        output = dead_letters.leave_out(computed, failed)
        retracted = []
        for row in weighted_rows(delta.filter(pa.array(weights < 0))):
            key, weight = row[:-1], -row[-1]
            remembered = self.emitted.get(key, [])
            retracted.extend((*out, -taken) for out, taken in take(remembered, weight))
            if not remembered:
                self.emitted.pop(key, None)
        if not retracted:
            return output
        names = self.schema.names
        undone = pa.Table.from_pylist([dict(zip(names, r)) for r in retracted], schema=self.schema)
        return pa.concat_tables([output, undone])

    def output_rows(self) -> pa.Table:
        rows = [(*out, weight) for outs in self.emitted.values() for out, weight in outs]
        names = self.schema.names
        return pa.Table.from_pylist([dict(zip(names, r)) for r in rows], schema=self.schema)

    def snapshot(self) -> dict:
        return {"emitted": {k: [[o, w] for o, w in v] for k, v in self.emitted.items()}}

    def restore(self, state: dict) -> None:
        self.emitted = {k: [[o, w] for o, w in v] for k, v in state["emitted"].items()}

    def state_rows(self) -> int:
        return sum(len(v) for v in self.emitted.values())
