"""Group aggregate: GROUP BY keys with aggregate functions, maintained under retraction.

Two implementations, chosen from the aggregate calls:

- ``AccumulatingAggregate`` when every call is COUNT(*), COUNT, SUM or AVG (FILTER allowed, no
  DISTINCT): these are invertible, so per group it keeps only accumulators (row count, and per
  call a non-NULL count and a sum). State: one row per group. Bounded by the number of groups.
- otherwise a keyed recompute (MIN/MAX under retraction, COUNT(DISTINCT), BOOL_AND, STDDEV...):
  the input rows of each group are kept, and a touched group is aggregated again by DuckDB.

A global aggregate (no GROUP BY) has exactly one output row, also over no input, as in PostgreSQL.

    SELECT k, count(*), sum(v) GROUP BY k:
    state {a: n=1 sum=3};  delta (a,4,+1) (b,1,+1)  ->  (a,1,3,-1) (a,2,7,+1) (b,1,1,+1)
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidal.catalog import types
from tidal.engine.keys import join_null_safe
from tidal.engine.operators.base import Operator, change_schema
from tidal.engine.operators.recompute import RecomputeOperator
from tidal.engine.zset import WEIGHT, concat, consolidate, negate, with_weight
from tidal.sql.plan import Aggregate, AggregateCall

INVERTIBLE = ("count_star", "count", "sum", "avg")


def aggregate_operator(node: Aggregate, compute) -> Operator:
    if all(c.name in INVERTIBLE and not c.distinct for c in node.aggregates):
        return AccumulatingAggregate(node)
    return RecomputeAggregate(node, compute)


class AccumulatingAggregate(Operator):
    def __init__(self, node: Aggregate) -> None:
        self.node = node
        self.schema = change_schema(node.schema)
        self.keys = [f"k{i}" for i in range(len(node.keys))]
        input_types = [types.to_arrow(f.type) for f in node.input.schema]
        self.sum_types = [_accumulator_type(input_types[c.args[0]]) if c.name in ("sum", "avg") else None
                          for c in node.aggregates]
        self.accumulators = ["__rows"] + [name for j, c in enumerate(node.aggregates)
                                          for name in self._call_columns(j, c)]
        self.state = self._empty_state()
        self.started = False

    def _call_columns(self, j: int, call: AggregateCall) -> list[str]:
        return [f"n{j}"] + ([f"s{j}"] if call.name in ("sum", "avg") else [])

    def _empty_state(self) -> pa.Table:
        key_fields = [pa.field(k, self.schema.field(i).type) for i, k in enumerate(self.keys)]
        acc_fields = [pa.field(name, self._acc_type(name)) for name in self.accumulators]
        return pa.schema(key_fields + acc_fields).empty_table()

    def _acc_type(self, name: str) -> pa.DataType:
        if name.startswith("s"):
            return self.sum_types[int(name[1:])]
        return pa.int64()

    # --- per tick ---

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        (delta,) = inputs
        first = not self.started
        self.started = True
        if delta.num_rows == 0:
            if first and not self.keys:
                return self._outputs(self._global_zero(), 1)
            return self.empty()
        partial = self._partial(delta)
        if self.keys:
            joined = join_null_safe(partial, self._prefixed_state(), self.keys,
                                    [f"old_{k}" for k in self.keys], "left outer")
        else:
            joined = _cross(partial, self._prefixed_state())
        old = self._side(joined, "old_")
        new = self._updated(joined, old)
        existed = pc.fill_null(pc.greater(old.column("__rows"), 0), False)
        exists = pc.greater(new.column("__rows"), 0)
        if not self.keys:
            if first:  # the empty aggregate row was never emitted: nothing to retract
                existed = pa.array([False])
            else:
                existed = pa.array([True])
            exists = pa.array([True])
        self._replace_state(partial, new)
        retract = self._outputs(old.filter(existed), -1)
        insert = self._outputs(new.filter(exists), 1)
        return consolidate(concat([retract, insert]))

    def _partial(self, delta: pa.Table) -> pa.Table:
        """Per group of the delta: the sums of weight-scaled accumulator inputs."""
        weight = delta.column(WEIGHT)
        columns = {k: delta.column(p) for k, p in zip(self.keys, self.node.keys)}
        columns["__rows"] = weight
        for j, call in enumerate(self.node.aggregates):
            effective = weight
            if call.filter is not None:
                keep = pc.fill_null(delta.column(call.filter), False)
                effective = pc.if_else(keep, weight, 0)
            if call.name == "count_star":
                columns[f"n{j}"] = effective
                continue
            values = delta.column(call.args[0])
            present = pc.if_else(pc.is_valid(values), effective, 0)
            columns[f"n{j}"] = present
            if call.name in ("sum", "avg"):
                accumulator = self.sum_types[j]
                filled = pc.fill_null(values, pa.scalar(0).cast(values.type)) if values.null_count else values
                scaled = pc.multiply_checked(filled.cast(accumulator) if not pa.types.is_decimal(accumulator)
                                             else filled, present)
                columns[f"s{j}"] = scaled
        table = pa.table(columns)
        if not self.keys:
            sums = {name: [pc.sum(table.column(name)).as_py()] for name in self.accumulators}
            return pa.table({n: pa.array(v, self._acc_type(n)) for n, v in sums.items()})
        grouped = table.group_by(self.keys, use_threads=False).aggregate(
            [(name, "sum") for name in self.accumulators])
        grouped = grouped.rename_columns([f"{n}_sum" if n in self.accumulators else n
                                          for n in grouped.column_names])
        arrays = [grouped.column(k) for k in self.keys]
        arrays += [_fill_zero(grouped.column(f"{n}_sum")).cast(self._acc_type(n)) for n in self.accumulators]
        return pa.Table.from_arrays(arrays, names=self.keys + self.accumulators)

    def _prefixed_state(self) -> pa.Table:
        state = self.state
        if not self.keys and state.num_rows == 0:
            state = self._global_zero()
        return state.rename_columns([f"old_{n}" for n in state.column_names])

    def _global_zero(self) -> pa.Table:
        return pa.table({n: pa.array([0], self._acc_type(n)).cast(self._acc_type(n))
                         for n in self.accumulators})

    def _side(self, joined: pa.Table, prefix: str) -> pa.Table:
        arrays = [joined.column(k) for k in self.keys]
        arrays += [joined.column(prefix + n) for n in self.accumulators]
        return pa.Table.from_arrays(arrays, names=self.keys + self.accumulators)

    def _updated(self, joined: pa.Table, old: pa.Table) -> pa.Table:
        arrays = [joined.column(k) for k in self.keys]
        for name in self.accumulators:
            before, change = _fill_zero(old.column(name)), joined.column(name)
            accumulator = self._acc_type(name)
            if pa.types.is_decimal(accumulator):
                # decimal(38) + decimal(38) would need precision 39: add at 37 (exact unless it overflows).
                narrower = pa.decimal128(37, accumulator.scale)
                before, change = before.cast(narrower), change.cast(narrower)
            arrays.append(pc.add_checked(before, change).cast(accumulator))
        return pa.Table.from_arrays(arrays, names=self.keys + self.accumulators)

    def _replace_state(self, partial: pa.Table, new: pa.Table) -> None:
        if not self.keys:
            self.state = new
            return
        untouched = join_null_safe(self.state, partial.select(self.keys).rename_columns(
            [f"d_{k}" for k in self.keys]), self.keys, [f"d_{k}" for k in self.keys], "left anti")
        alive = new.filter(pc.not_equal(new.column("__rows"), 0))
        self.state = concat([untouched.select(self.state.column_names), alive.cast(self.state.schema)])

    def _outputs(self, groups: pa.Table, weight: int) -> pa.Table:
        """Output rows (keys, aggregate values) for accumulator rows, with the given weight."""
        arrays = [groups.column(k) for k in self.keys]
        for j, call in enumerate(self.node.aggregates):
            count = groups.column(f"n{j}")
            target = self.schema.field(len(self.keys) + j).type
            if call.name in ("count_star", "count"):
                arrays.append(count.cast(target))
                continue
            total = groups.column(f"s{j}")
            empty_group = pc.equal(count, 0)
            if call.name == "sum":
                value = total.cast(target)
            else:
                value = pc.divide(total.cast(pa.float64()), pc.cast(count, pa.float64()))
                value = value.cast(target)
            arrays.append(pc.if_else(empty_group, pa.scalar(None, target), value))
        names = [f"c{i}" for i in range(len(arrays))]
        table = pa.Table.from_arrays(arrays, names=names) if arrays else pa.table({})
        weights = pa.array(np.full(groups.num_rows, weight, dtype=np.int64))
        if not arrays:
            return pa.table({WEIGHT: weights})
        return table.append_column(WEIGHT, weights).cast(self.schema)

    def snapshot(self) -> dict:
        return {"state": self.state, "started": self.started}

    def restore(self, state: dict) -> None:
        self.state = state["state"]
        self.started = state["started"]

    def state_rows(self) -> int:
        return self.state.num_rows


def _accumulator_type(value_type: pa.DataType) -> pa.DataType:
    if pa.types.is_decimal(value_type):
        return pa.decimal128(38, value_type.scale)
    if pa.types.is_floating(value_type):
        return pa.float64()
    return pa.int64()


def _fill_zero(column):
    if column.null_count == 0:
        return column
    return pc.fill_null(column, pa.scalar(0).cast(column.type))


def _cross(partial: pa.Table, state: pa.Table) -> pa.Table:
    """The one-row partial of a global aggregate beside the one-row state."""
    columns = {n: partial.column(n) for n in partial.column_names}
    columns.update({n: state.column(n) for n in state.column_names})
    return pa.table(columns)


class RecomputeAggregate(RecomputeOperator):
    """An aggregate with non-invertible calls: recomputed per touched group (see recompute.py)."""

    def __init__(self, node: Aggregate, compute) -> None:
        keys = tuple(node.keys)
        super().__init__([change_schema(node.input.schema)], [keys], change_schema(node.schema),
                         compute, output_key=tuple(range(len(keys))))
        self.global_ = not keys
        self.started = False

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        if self.global_ and not self.started:
            self.started = True
            (delta,) = inputs
            output = self._run([consolidate(delta)]) if delta.num_rows else self.compute([delta])
            for arrangement in self.inputs:
                arrangement.insert(delta)
            self.output.insert(output)
            return output
        return super().step(inputs)

    def _emits_on_empty(self) -> bool:
        return self.global_

    def snapshot(self) -> dict:
        return {**super().snapshot(), "started": self.started}

    def restore(self, state: dict) -> None:
        super().restore(state)
        self.started = state["started"]


__all__ = ["aggregate_operator", "AccumulatingAggregate", "RecomputeAggregate", "with_weight", "negate"]
