"""Keyed recompute: incremental maintenance of any operator that is partitioned by a key.

If an operator's output rows for key ``k`` depend only on its input rows with key ``k`` (a GROUP
BY with MIN/MAX, a window function's partition, a TopN, DISTINCT, INTERSECT, an outer join's key),
then for the keys a tick touches:

    output change = f(new input rows of those keys) - f(old input rows of those keys)

State: one arrangement per input (all its rows, by key), and optionally the output by key, so
the old output need not be computed again. Bounded only by the input size: this is the general,
always-correct path; hot operators (invertible aggregates, inner joins) have their own.

``f`` is the plan node itself evaluated by DuckDB over the affected rows (the same lowering
batch mode uses), or a native function where that is trivial.

    SELECT k, max(v) GROUP BY k:   state {(a,3)};  delta (a,5,+1)  ->  (a,3,-1) (a,5,+1)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tidal.engine.arrangement import Arrangement, key_hash
from tidal.engine.operators.base import Operator
from tidal.engine.zset import concat, consolidate, negate
from tidal.sql.eventtime import TimeBound

Compute = Callable[[list[pa.Table]], pa.Table]


@dataclass(frozen=True)
class StateExpiry:
    """Rows of input ``input`` with timestamp ``column`` below ``bound`` are final; so are output
    rows with ``output_column`` below it (the same value, e.g. a window_end grouping key)."""

    input: int
    column: int
    output_column: int | None
    bound: TimeBound


class RecomputeOperator(Operator):
    def __init__(
        self,
        input_schemas: list[pa.Schema],
        keys: list[tuple[int, ...]],
        schema: pa.Schema,
        compute: Compute,
        output_key: tuple[int, ...] | None = None,
    ) -> None:
        """``keys[i]``: input i's key columns; ``output_key``, if given: the same key in the output
        (then the output is kept in state rather than recomputed for the old rows)."""
        self.schema = schema
        self.keys = keys
        self.compute = compute
        self.inputs = [Arrangement(s, k) for s, k in zip(input_schemas, keys)]
        self.output = Arrangement(schema, output_key) if output_key is not None else None
        self.expiry: list[StateExpiry] = []

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        if all(d.num_rows == 0 for d in inputs):
            return self.empty()
        hashes = [
            key_hash(d, k) if d.num_rows else np.empty(0, np.uint64)
            for d, k in zip(inputs, self.keys)
        ]
        affected = np.unique(np.concatenate(hashes))
        old_inputs = [a.lookup(affected) for a in self.inputs]
        new_inputs = [
            consolidate(concat([old, d])) if d.num_rows else old
            for old, d in zip(old_inputs, inputs)
        ]
        if self.output is not None:
            old_output = self.output.lookup(affected)
        else:
            old_output = self._run(old_inputs)
        new_output = self._run(new_inputs)
        for arrangement, delta, h in zip(self.inputs, inputs, hashes):
            arrangement.insert(delta, h)
        change = consolidate(concat([new_output, negate(old_output)]))
        if self.output is not None:
            self.output.insert(change)
        return change

    def _run(self, inputs: list[pa.Table]) -> pa.Table:
        if all(t.num_rows == 0 for t in inputs) and not self._emits_on_empty():
            return self.empty()
        result = self.compute(inputs)
        return result.cast(self.schema) if result.schema != self.schema else result

    def _emits_on_empty(self) -> bool:
        return False

    def on_watermark(self, watermarks: Mapping[str, int | None]) -> pa.Table | None:
        for expiry in self.expiry:
            watermark = expiry.bound.value(watermarks)
            if watermark is None:
                continue
            self.inputs[expiry.input].drop_below(expiry.column, watermark)
            if self.output is not None and expiry.output_column is not None:
                self.output.drop_below(expiry.output_column, watermark)
        return None

    def output_rows(self) -> pa.Table | None:
        # With expiry the state no longer holds final rows: the view keeps its own.
        return self.output.rows() if self.output is not None and not self.expiry else None

    def snapshot(self) -> dict:
        state = {f"input{i}": a.snapshot() for i, a in enumerate(self.inputs)}
        if self.output is not None:
            state["output"] = self.output.snapshot()
        return state

    def restore(self, state: dict) -> None:
        for i, arrangement in enumerate(self.inputs):
            arrangement.restore(state[f"input{i}"])
        if self.output is not None:
            self.output.restore(state["output"])

    def state_rows(self) -> int:
        return sum(len(a) for a in self.inputs) + (len(self.output) if self.output else 0)
