"""Join: inner equi-joins by the delta rule; outer, semi and anti joins by keyed recompute.

Inner join state: both inputs arranged by their join keys. For changes dL, dR in a tick,

    d(L join R) = dL join R  +  (L + dL) join dR

so each side's changes look up only the matching keys of the other side. Weights multiply: (k,x,+1) join (k,y,+2) -> (k,x,k,y,+2).

Interval and window joins: a row that no future row of the other side can match (by the
watermarks and the join's time conditions, tidal.sql.eventtime) is dropped from state.

Outer, semi and anti joins: an outer row's padding appears and disappears as matches come
and go, so the rows of each touched key are joined again (recompute.py), by DuckDB.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidal.engine.arrangement import Arrangement, key_hash
from tidal.engine.expressions import compile_predicate
from tidal.engine.keys import join_indices
from tidal.engine.operators.base import Operator, change_schema
from tidal.engine.operators.recompute import RecomputeOperator
from tidal.engine.zset import WEIGHT, concat
from tidal.sql.eventtime import state_expiry
from tidal.sql.plan import Join


def join_operator(node: Join, compute) -> Operator:
    if node.kind == "inner":
        return InnerJoin(node)
    inputs = [change_schema(node.left.schema), change_schema(node.right.schema)]
    keys = [tuple(node.left_keys), tuple(node.right_keys)]
    output_key = tuple(node.left_keys) if node.kind in ("semi", "anti") else None
    return RecomputeOperator(inputs, keys, change_schema(node.schema), compute, output_key)


class InnerJoin(Operator):
    def __init__(self, node: Join) -> None:
        self.schema = change_schema(node.schema)
        self.left_width = len(node.left.schema)
        self.left_keys = tuple(node.left_keys)
        self.right_keys = tuple(node.right_keys)
        self.left = Arrangement(change_schema(node.left.schema), self.left_keys)
        self.right = Arrangement(change_schema(node.right.schema), self.right_keys)
        self.residual = (
            compile_predicate(node.condition, node.schema) if node.condition is not None else None
        )
        # (side, column, bound): rows of a side that no future row of the other side can match.
        self.expiry = [(e.input, e.column, e.bound) for e in state_expiry(node)]

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        delta_left, delta_right = inputs
        out = []
        if delta_left.num_rows:
            hashes = key_hash(delta_left, self.left_keys)
            out.append(self._join(delta_left, self.right.lookup(hashes, consolidated=False)))
            self.left.insert(delta_left, hashes)
        if delta_right.num_rows:
            hashes = key_hash(delta_right, self.right_keys)
            out.append(self._join(self.left.lookup(hashes, consolidated=False), delta_right))
            self.right.insert(delta_right, hashes)
        return concat(out, self.schema)

    def _join(self, left: pa.Table, right: pa.Table) -> pa.Table:
        if left.num_rows == 0 or right.num_rows == 0:
            return self.empty()
        right_names = [f"r{i}" for i in range(right.num_columns - 1)] + ["__rweight"]
        right = right.rename_columns(right_names)
        if self.left_keys:
            left_rows, right_rows = join_indices(
                left, [f"c{k}" for k in self.left_keys], right, [f"r{k}" for k in self.right_keys]
            )
            joined = _paired(left.take(left_rows), right.take(right_rows))
        else:
            joined = _cross(left, right)
        weight = pc.multiply(joined.column(WEIGHT), joined.column("__rweight"))
        arrays = [joined.column(f"c{i}") for i in range(self.left_width)]
        arrays += [joined.column(n) for n in right_names[:-1]] + [weight]
        result = pa.Table.from_arrays(arrays, schema=self.schema)
        if self.residual is not None and result.num_rows:
            result = result.filter(self.residual(result))
        return result

    def on_watermark(self, watermarks: Mapping[str, int | None]) -> pa.Table | None:
        for side, column, bound in self.expiry:
            watermark = bound.value(watermarks)
            if watermark is not None:
                (self.left, self.right)[side].drop_below(column, watermark)
        return None

    def snapshot(self) -> dict:
        return {"left": self.left.snapshot(), "right": self.right.snapshot()}

    def restore(self, state: dict) -> None:
        self.left.restore(state["left"])
        self.right.restore(state["right"])

    def state_rows(self) -> int:
        return len(self.left) + len(self.right)


def _cross(left: pa.Table, right: pa.Table) -> pa.Table:
    """Every pair of rows (a join without equality keys)."""
    left_index = np.repeat(np.arange(left.num_rows), right.num_rows)
    right_index = np.tile(np.arange(right.num_rows), left.num_rows)
    return _paired(left.take(pa.array(left_index)), right.take(pa.array(right_index)))


def _paired(left_rows: pa.Table, right_rows: pa.Table) -> pa.Table:
    """The columns of both, side by side (their names are distinct)."""
    columns = {n: left_rows.column(n) for n in left_rows.column_names}
    columns.update({n: right_rows.column(n) for n in right_rows.column_names})
    return pa.table(columns)
