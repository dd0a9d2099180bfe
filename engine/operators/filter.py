"""Filter: keeps the changes whose row satisfies the predicate. Stateless.

WHERE c0 > 1:   (1, +1) (2, +1) (2, -1)  ->  (2, +1) (2, -1)
"""

from __future__ import annotations

import pyarrow as pa

from tidal.engine.expressions import compile_predicate
from tidal.engine.operators.base import Operator, change_schema
from tidal.engine.udf import dead_letters
from tidal.engine.zset import WEIGHT, take, weighted_rows
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
            marked = dead_letters.leave_out(delta.append_column("__keep", keep), failed, delta)
            keep = marked.column("__keep")
            delta = marked.drop_columns(["__keep"])
        return delta.filter(keep)


class RememberingFilterOperator(FilterOperator):
    """A filter calling a VOLATILE Python function: whether it kept a row may differ from call
    to call, so it remembers what it decided for each input row, and a retraction of the row
    goes (or not) as the row went. State: the decisions, per input row."""

    def __init__(self, node: Filter) -> None:
        super().__init__(node)
        self.kept: dict[tuple, list[list]] = {}  # input row -> [[kept?, weight], ...]

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        (delta,) = inputs
        if delta.num_rows == 0:
            return delta
        weights = delta.column(WEIGHT).to_numpy()
        inserted = delta.filter(pa.array(weights > 0))
        with dead_letters.evaluating() as failed:
            keep = self.predicate(inserted) if inserted.num_rows else pa.array([], pa.bool_())
        left_out = {letter[0] for letter in failed.letters}  # dead letters: not kept either
        decisions = [k and i not in left_out for i, k in enumerate(keep.to_pylist())]
        for row, kept in zip(weighted_rows(inserted), decisions):
            self.kept.setdefault(row[:-1], []).append([kept, row[-1]])
        dead_letters.leave_out(inserted, failed)  # (keeps the letters; decisions drop the rows)
        output = [inserted.filter(pa.array(decisions, pa.bool_()))]
        retracted = delta.filter(pa.array(weights < 0))
        if retracted.num_rows:
            output.append(
                retracted.filter(pa.array(self._forget(weighted_rows(retracted)), pa.bool_()))
            )
        return pa.concat_tables(output)

    def _forget(self, rows: list[tuple]) -> list[bool]:
        """Per retracted row, whether it was kept (its remembered decisions used up)."""
        decisions = []
        for row in rows:
            key, weight = row[:-1], -row[-1]
            remembered = self.kept.get(key, [])
            kept = bool(remembered and remembered[0][0])
            take(remembered, weight)
            if not remembered:
                self.kept.pop(key, None)
            decisions.append(kept)
        return decisions

    def output_rows(self) -> pa.Table:
        rows = [(*key, w) for key, made in self.kept.items() for kept, w in made if kept]
        names = self.schema.names
        return pa.Table.from_pylist([dict(zip(names, r)) for r in rows], schema=self.schema)

    def snapshot(self) -> dict:
        return {"kept": {k: [list(d) for d in v] for k, v in self.kept.items()}}

    def restore(self, state: dict) -> None:
        self.kept = {k: [list(d) for d in v] for k, v in state["kept"].items()}

    def state_rows(self) -> int:
        return sum(len(v) for v in self.kept.values())
