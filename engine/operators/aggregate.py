"""Group aggregate: GROUP BY keys with aggregate functions, maintained under retraction.

Two implementations, chosen from the aggregate calls:

- ``AccumulatingAggregate`` when every call is COUNT(*), COUNT, SUM or AVG (FILTER allowed, no
  DISTINCT): these are invertible, so per group it keeps only accumulators (row count, and per
  call a non-NULL count and a sum). Over an insert-only input (tidal.sql.changes) MIN and MAX
  too, as running extremes. State: one row per group. Bounded by the number of groups.
- otherwise a keyed recompute (MIN/MAX under retraction, COUNT(DISTINCT), BOOL_AND, STDDEV...):
  the input rows of each group are kept, and a touched group is aggregated again by DuckDB.

A global aggregate (no GROUP BY) has exactly one output row, also over no input, as in PostgreSQL.

    SELECT k, count(*), sum(v) GROUP BY k:
    state {a: n=1 sum=3};  delta (a,4,+1) (b,1,+1)  ->  (a,1,3,-1) (a,2,7,+1) (b,1,1,+1)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidal.catalog import types
from tidal.engine.aggregate_values import (
    as_doubles,
    as_numbers,
    checked_add,
    count_non_finite,
    extreme,
    from_numbers,
    is_number,
    with_non_finite,
)
from tidal.engine.group_index import GroupIndex
from tidal.engine.keys import canonical
from tidal.engine.moments import UNARY, Moments
from tidal.engine.operators.base import Operator, change_schema
from tidal.engine.operators.python_aggregate import PythonAggregateOperator, incremental
from tidal.engine.operators.recompute import RecomputeOperator, StateExpiry
from tidal.engine.watermarks import micros
from tidal.engine.zset import WEIGHT, concat, consolidate
from tidal.sql.aggregates import BINARY
from tidal.sql.changes import accumulates
from tidal.sql.eventtime import TimeBound, state_expiry
from tidal.sql.plan import Aggregate, AggregateCall


def aggregate_operator(node: Aggregate, compute) -> Operator:
    """Accumulators where every call allows them (the variance family over numbers) and the
    keys are hashable by Arrow (not lists or structs), else a keyed recompute."""
    if incremental(node):
        return PythonAggregateOperator(node)
    expiry = state_expiry(node)
    key_types = [types.to_arrow(node.input.schema[k].type) for k in node.keys]
    numeric = all(
        is_number(types.to_arrow(node.input.schema[a].type))
        for call in node.aggregates
        if call.name in _MOMENTS
        for a in call.args
    )
    if accumulates(node) and numeric and not any(pa.types.is_nested(t) for t in key_types):
        operator = AccumulatingAggregate(node)
        operator.expiry = [(node.keys.index(e.column), e.bound) for e in expiry]
        return operator
    operator = RecomputeAggregate(node, compute)
    operator.expiry = [StateExpiry(0, e.column, node.keys.index(e.column), e.bound) for e in expiry]
    return operator


class AccumulatingAggregate(Operator):
    """COUNT / SUM / AVG per group as numpy accumulators indexed by group slot (group_index.py).

    Per group: the row count (the group exists while it is positive) and, per call, the count of
    non-NULL inputs and their sum: int64 for integers and decimals (decimals as unscaled
    integers, so sums are exact; an overflow is an error, not a wrong answer), float64 for floats.
    A float sum counts its infinities and NaNs apart from the finite sum: retracting them must
    undo them, and inf - inf is NaN, not 0.
    """

    def __init__(self, node: Aggregate) -> None:
        self.node = node
        self.schema = change_schema(node.schema)
        self.keys = [f"k{i}" for i in range(len(node.keys))]
        input_types = [types.to_arrow(f.type) for f in node.input.schema]
        self.value_types = [
            input_types[c.args[0]] if c.name in _VALUED else None for c in node.aggregates
        ]
        self.columns = ["__rows"] + [
            name for j, c in enumerate(node.aggregates) for name in self._call_columns(j, c)
        ]
        self.index = GroupIndex()
        self.accumulators = {name: np.zeros(0, dtype=self._dtype(name)) for name in self.columns}
        self.started = False
        # (key position, bound): groups whose time key is below the bound are final (windows
        # closed by the watermark); they are dropped once they are a quarter of the groups.
        self.expiry: list[tuple[int, TimeBound]] = []
        self.on_close = False  # EMIT ON WINDOW CLOSE: emit each group once, when final
        # COUNT(DISTINCT x): the count of each (group keys, x) pair, per call; a group's
        # distinct count changes when a pair's count leaves or reaches zero. Calls on the same
        # column (with different FILTERs, as in Nexmark q16) share one index of pairs:
        # x's input column -> (pair index, counts with one column per call, the calls).
        distinct: dict[int, list[int]] = {}
        for j, call in enumerate(node.aggregates):
            if call.distinct:
                distinct.setdefault(call.args[0], []).append(j)
        self.pairs = {
            column: (GroupIndex(), np.zeros((0, len(calls)), dtype=np.int64), calls)
            for column, calls in distinct.items()
        }
        # The variance family: exact sums per group (moments.py), one set per (arguments,
        # FILTER), shared by the calls that read them (stddev(x) and var_pop(x)).
        self.moments: dict[tuple, Moments] = {}
        for call in node.aggregates:
            if call.name in _MOMENTS:
                self.moments.setdefault((call.args, call.filter), Moments(len(call.args)))

    def _call_columns(self, j: int, call: AggregateCall) -> list[str]:
        if call.name in _MOMENTS:
            return []
        if call.name in ("bool_and", "bool_or"):  # the counts of non-NULL and of true values
            return [f"n{j}", f"t{j}"]
        if call.name not in _VALUED:
            return [f"n{j}"]
        floating = pa.types.is_floating(self.value_types[j])
        if call.name in ("min", "max"):  # the extreme of the non-NaN values, and the NaN count
            return [f"n{j}", f"m{j}"] + ([f"nan{j}"] if floating else [])
        non_finite = [f"inf{j}", f"neginf{j}", f"nan{j}"]
        return [f"n{j}", f"s{j}"] + (non_finite if floating else [])

    def _dtype(self, name: str) -> np.dtype:
        if name[0] in "sm" and pa.types.is_floating(self.value_types[int(name[1:])]):
            return np.dtype(np.float64)
        if name[0] == "m" and pa.types.is_string(self.value_types[int(name[1:])]):
            return np.dtype(object)  # the extreme string itself (None: no value yet)
        return np.dtype(np.int64)

    def _reduction(self, name: str) -> str:
        """How partial values of accumulator ``name`` combine: sum, or min / max (extremes)."""
        return self.node.aggregates[int(name[1:])].name if name[0] == "m" else "sum"

    def _identity(self, name: str):
        """The accumulator's value for a group with no input."""
        reduction = self._reduction(name)
        if reduction == "sum":
            return 0
        if self._dtype(name) == object:
            return None
        if self._dtype(name) == np.float64:
            return -np.inf if reduction == "max" else np.inf
        info = np.iinfo(np.int64)
        return info.min if reduction == "max" else info.max

    def _combine(self, name: str, before: np.ndarray, change: np.ndarray) -> np.ndarray:
        reduction = self._reduction(name)
        if reduction == "sum":
            return checked_add(before, change, name)
        if before.dtype == object:  # strings: Arrow compares them (as DuckDB does, by bytes)
            extreme = pc.max_element_wise if reduction == "max" else pc.min_element_wise
            strings = (pa.array(before, pa.string()), pa.array(change, pa.string()))
            return extreme(*strings).to_numpy(zero_copy_only=False)
        return (np.maximum if reduction == "max" else np.minimum)(before, change)

    def emit_on_close(self, key: int) -> bool:
        """Emit each group once, when output column ``key`` (a grouping key with a watermark)
        makes it final, and nothing before; False if ``key`` cannot decide that."""
        if key not in [position for position, _ in self.expiry]:
            return False
        self.on_close = True
        return True

    # --- per tick ---

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        (delta,) = inputs
        first = not self.started
        self.started = True
        if not self.keys:
            return self._global_step(delta, first)
        if delta.num_rows == 0:
            return self.empty()
        partial = self._partial(delta)
        slots, _ = self.index.slots(partial.select(self.keys))
        self._grow(self.index.size)
        old = self._state(slots)
        if self.moments:
            self._add_moments(delta, slots[self._row_groups(partial, delta.num_rows)])
        new = {
            name: self._combine(name, old[name], partial.column(name).to_numpy())
            for name in self.columns
        }
        new.update(self._moment_values(slots))
        gone = new["__rows"] == 0
        for name, acc in self.accumulators.items():
            acc[slots] = (
                np.where(gone, self._identity(name), new[name]) if gone.any() else new[name]
            )
        if self.on_close:
            return self.empty()
        keys = partial.select(self.keys)
        existed, exists = old["__rows"] > 0, new["__rows"] > 0
        return concat(
            [
                self._outputs(keys.filter(existed), _rows(old, existed), -1),
                self._outputs(keys.filter(exists), _rows(new, exists), 1),
            ]
        )

    def _global_step(self, delta: pa.Table, first: bool) -> pa.Table:
        self._grow(1)
        if delta.num_rows == 0 and not first:
            return self.empty()
        # Copies: pa.array() wraps numpy memory without copying, and the accumulators change later.
        old = {name: value.copy() for name, value in self._state(np.zeros(1, np.int64)).items()}
        if delta.num_rows:
            partial = self._partial(delta)
            for name, acc in self.accumulators.items():
                acc[:1] = self._combine(name, acc[:1], partial.column(name).to_numpy())
            self._add_moments(delta, np.zeros(delta.num_rows, np.int64))
        new = {name: value.copy() for name, value in self._state(np.zeros(1, np.int64)).items()}
        keys = pa.table({"__unit": [0]}).select([])
        parts = [] if first else [self._outputs(keys, old, -1)]
        return concat(parts + [self._outputs(keys, new, 1)], self.schema)

    def _grow(self, size: int) -> None:
        capacity = len(self.accumulators["__rows"])
        if size > capacity:
            grown = max(size, 2 * capacity, 1024)
            for name, acc in self.accumulators.items():
                bigger = np.full(grown, self._identity(name), dtype=acc.dtype)
                bigger[:capacity] = acc
                self.accumulators[name] = bigger
            for moments in self.moments.values():
                moments.grow(grown)

    def _state(self, slots: np.ndarray) -> dict[str, np.ndarray]:
        """The accumulators of groups ``slots``, and their variance-family values."""
        state = {name: acc[slots] for name, acc in self.accumulators.items()}
        state.update(self._moment_values(slots))
        return state

    def _moment_values(self, slots: np.ndarray) -> dict[str, np.ndarray]:
        """Per variance-family call j: its values ``v{j}`` and NULL flags ``null{j}``."""
        out = {}
        for j, call in enumerate(self.node.aggregates):
            if call.name in _MOMENTS:
                moments = self.moments[(call.args, call.filter)]
                out[f"v{j}"], out[f"null{j}"] = moments.values(call.name, slots)
        return out

    @staticmethod
    def _row_groups(partial: pa.Table, rows: int) -> np.ndarray:
        """The row of ``partial`` (grouped) that each of the delta's ``rows`` went into."""
        lists = partial.column("__row")
        flat, parents = pc.list_flatten(lists).to_numpy(), pc.list_parent_indices(lists).to_numpy()
        groups = np.empty(rows, np.int64)
        groups[flat[flat >= 0]] = parents[flat >= 0]
        return groups

    def _add_moments(self, delta: pa.Table, slots: np.ndarray) -> None:
        """Adds the delta's rows to the exact sums of each variance-family argument set."""
        weight = delta.column(WEIGHT).to_numpy()
        for (args, filter_), moments in self.moments.items():
            columns = [delta.column(c) for c in args]
            if filter_ is None and not any(c.null_count for c in columns):
                moments.update(slots, weight, [as_doubles(c) for c in columns])
                continue
            keep = np.ones(delta.num_rows, dtype=bool)
            for column in columns:
                keep &= column.is_valid().to_numpy(zero_copy_only=False)
            if filter_ is not None:
                keep &= pc.fill_null(delta.column(filter_), False).to_numpy(zero_copy_only=False)
            rows = np.nonzero(keep)[0]
            values = [as_doubles(c.take(rows)) for c in columns]
            moments.update(slots[rows], weight[rows], values)

    def _partial(self, delta: pa.Table) -> pa.Table:
        """Per group of the delta: the sums of weight-scaled accumulator inputs."""
        weight = delta.column(WEIGHT)
        columns = {k: canonical(delta.column(p)) for k, p in zip(self.keys, self.node.keys)}
        columns["__rows"] = weight
        for j, call in enumerate(self.node.aggregates):
            if call.name in _MOMENTS:
                continue
            effective = weight
            if call.filter is not None:
                keep = pc.fill_null(delta.column(call.filter), False)
                effective = pc.if_else(keep, weight, 0)
            if call.name == "count_star":
                columns[f"n{j}"] = effective
                continue
            values = delta.column(call.args[0])
            present = pc.if_else(pc.is_valid(values), effective, 0)
            columns[f"n{j}"] = present  # for DISTINCT: the pairs' weights, replaced below
            if call.name in ("bool_and", "bool_or"):
                columns[f"t{j}"] = pc.if_else(pc.fill_null(values, False), present, 0)
            elif call.name in ("min", "max"):  # insert-only input: every weight is positive
                numbers = values if pa.types.is_string(values.type) else as_numbers(values)
                if pa.types.is_floating(numbers.type):
                    nan = pc.fill_null(pc.is_nan(numbers), False)
                    columns[f"nan{j}"] = pc.if_else(nan, present, 0)
                    numbers = pc.if_else(nan, None, numbers)
                columns[f"m{j}"] = pc.if_else(pc.greater(present, 0), numbers, None)
            elif call.name in ("sum", "avg"):
                numbers = as_numbers(values)
                if pa.types.is_floating(numbers.type):
                    numbers = count_non_finite(j, numbers, present, columns)
                columns[f"s{j}"] = pc.multiply_checked(
                    pc.fill_null(numbers, 0), present.cast(numbers.type)
                )
        if self.moments and self.keys:  # which group each row goes to (_row_groups)
            columns["__row"] = pa.array(np.arange(delta.num_rows))
        table = pa.table(columns)
        if self.pairs:
            changes = self._distinct_changes(delta, table)
            # a distinct count moves only with its pairs (above)
            for j in (j for _, _, calls in self.pairs.values() for j in calls):
                position = table.schema.get_field_index(f"n{j}")
                table = table.set_column(
                    position, f"n{j}", pa.array(np.zeros(len(table), np.int64))
                )
            table = pa.concat_tables([table, *changes])
        if not self.keys:
            reduce = {"sum": pc.sum, "min": pc.min, "max": pc.max}
            return pa.table(
                {
                    n: pa.array(
                        [_or(reduce[self._reduction(n)](table.column(n)), self._identity(n))]
                    )
                    for n in self.columns
                }
            )
        lists = [("__row", "list")] if "__row" in table.column_names else []
        grouped = table.group_by(self.keys, use_threads=False).aggregate(
            [(n, self._reduction(n)) for n in self.columns] + lists
        )
        grouped = grouped.rename_columns([n.rsplit("_", 1)[0] for n in grouped.column_names])
        for name in self.columns:
            if name[0] == "m" and self._identity(name) is not None:  # no value: the identity
                column = pc.fill_null(grouped.column(name), self._identity(name))
                grouped = grouped.set_column(grouped.schema.get_field_index(name), name, column)
        return grouped

    def _distinct_changes(self, delta: pa.Table, table: pa.Table) -> list[pa.Table]:
        """Rows like ``table``'s adding, per group, the change of each COUNT(DISTINCT): +1 for a
        value whose count rose from zero, -1 for one that fell to zero."""
        out = []
        for column, (index, counts, calls) in self.pairs.items():
            pairs = table.select(self.keys).append_column("__x", canonical(delta.column(column)))
            weights = [f"n{j}" for j in calls]
            for name in weights:
                pairs = pairs.append_column(name, table.column(name))
            moved = pc.not_equal(pairs.column(weights[0]), 0)
            for name in weights[1:]:
                moved = pc.or_(moved, pc.not_equal(pairs.column(name), 0))
            pairs = pairs.filter(moved)
            if pairs.num_rows == 0:
                continue
            grouped = pairs.group_by([*self.keys, "__x"], use_threads=False).aggregate(
                [(name, "sum") for name in weights]
            )
            slots, _ = index.slots(grouped.select([*self.keys, "__x"]))
            if index.size > len(counts):
                grown = np.zeros((index.size - len(counts), len(calls)), np.int64)
                counts = np.concatenate([counts, grown])
            old = counts[slots]
            new = old + np.column_stack([grouped.column(f"{n}_sum").to_numpy() for n in weights])
            counts[slots] = new
            self.pairs[column] = (index, counts, calls)
            change = (new > 0).astype(np.int64) - (old > 0).astype(np.int64)
            keys = grouped.select(self.keys)
            columns = {k: keys.column(k) for k in self.keys}
            for name in table.column_names[len(self.keys) :]:  # in the table's order
                if name in weights:
                    columns[name] = change[:, weights.index(name)]
                elif name[0] == "m":  # no value for a MIN/MAX
                    columns[name] = pa.nulls(keys.num_rows, table.schema.field(name).type)
                elif name == "__row":  # not a row of the delta
                    columns[name] = np.full(keys.num_rows, -1, np.int64)
                else:
                    columns[name] = np.zeros(keys.num_rows, dtype=self._dtype(name))
            out.append(pa.table(columns).cast(table.schema))
        return out

    def _outputs(
        self, keys: pa.Table, accumulators: dict[str, np.ndarray], weight: int
    ) -> pa.Table:
        """Output rows (keys, aggregate values) for accumulator values, with the given weight."""
        arrays = list(keys.columns)
        for j, call in enumerate(self.node.aggregates):
            target = self.schema.field(len(self.keys) + j).type
            if call.name in _MOMENTS:
                values = pa.array(accumulators[f"v{j}"], mask=accumulators[f"null{j}"])
                arrays.append(values.cast(target))
                continue
            count = accumulators[f"n{j}"]
            if call.name in ("bool_and", "bool_or"):
                true = accumulators[f"t{j}"]
                value = true == count if call.name == "bool_and" else true > 0
                arrays.append(pa.array(value, mask=count == 0))
                continue
            if call.name in ("count_star", "count"):
                arrays.append(pa.array(count).cast(target))
                continue
            if call.name in ("min", "max"):
                arrays.append(extreme(call.name, accumulators, j, self.value_types[j], target))
                continue
            empty_group = count == 0
            total = accumulators[f"s{j}"]
            if f"nan{j}" in accumulators:
                total = with_non_finite(total, accumulators, j)
            if call.name == "sum":
                value = from_numbers(total, self.value_types[j], target, empty_group)
            else:
                scale = self.value_types[j].scale if pa.types.is_decimal(self.value_types[j]) else 0
                with np.errstate(divide="ignore", invalid="ignore"):
                    mean = total.astype(np.float64) / 10.0**scale / count
                value = pa.array(mean, mask=empty_group).cast(target)
            arrays.append(value)
        weights = pa.array(np.full(len(accumulators["__rows"]), weight, dtype=np.int64))
        return pa.Table.from_arrays(arrays + [weights], schema=self.schema)

    def on_watermark(self, watermarks: Mapping[str, int | None]) -> pa.Table | None:
        size = self.index.size
        if not self.expiry or not size:
            return None
        final = self.accumulators["__rows"][:size] <= 0
        for position, bound in self.expiry:
            watermark = bound.value(watermarks)
            if watermark is not None:
                final |= micros(self.index.key_column(position)) < watermark
        released = None
        if self.on_close:
            closed = np.nonzero(final & (self.accumulators["__rows"][:size] > 0))[0]
            if len(closed):
                released = self._outputs(self.index.keys(closed), self._state(closed), 1)
                self.accumulators["__rows"][closed] = 0  # emitted: never again
        if final.sum() * 4 >= size:
            kept = np.nonzero(~final)[0]
            self.index = self.index.compacted(kept)
            self.accumulators = {name: acc[kept] for name, acc in self.accumulators.items()}
            self.moments = {key: m.compacted(kept) for key, m in self.moments.items()}
            for column, (index, counts, calls) in self.pairs.items():  # pairs share group keys
                closed = np.zeros(index.size, dtype=bool)
                for position, bound in self.expiry:
                    watermark = bound.value(watermarks)
                    if watermark is not None:
                        closed |= micros(index.key_column(position)) < watermark
                kept_pairs = np.nonzero(~closed)[0]
                self.pairs[column] = (index.compacted(kept_pairs), counts[kept_pairs], calls)
        return released

    def output_rows(self) -> pa.Table | None:
        if self.expiry:
            return None  # final groups leave the state: the view keeps its own rows
        if not self.keys:
            if not self.started:
                return self.empty()
            return self._outputs(
                pa.table({"__unit": [0]}).select([]), self._state(np.zeros(1, np.int64)), 1
            )
        size = self.index.size
        alive = np.nonzero(self.accumulators["__rows"][:size] > 0)[0]
        if not len(alive):
            return self.empty()
        return self._outputs(self.index.keys(alive), self._state(alive), 1)

    def snapshot(self) -> dict:
        size = self.index.size if self.keys else min(1, len(self.accumulators["__rows"]))
        # Copies: pa.table() wraps numpy memory without copying, and later ticks change the
        # accumulators in place.
        return {
            "keys": self.index.snapshot(),
            "started": self.started,
            "accumulators": pa.table({n: a[:size].copy() for n, a in self.accumulators.items()}),
            "pairs": {x: (i.snapshot(), c[: i.size].copy()) for x, (i, c, _) in self.pairs.items()},
            "moments": [m.snapshot(size) for m in self.moments.values()],
        }

    def restore(self, state: dict) -> None:
        self.index.restore(state["keys"])
        self.started = state["started"]
        self.accumulators = {
            n: state["accumulators"].column(n).to_numpy().copy() for n in self.columns
        }
        for moments, saved in zip(self.moments.values(), state["moments"]):
            moments.restore(saved)
        for column, (keys, counts) in state["pairs"].items():
            index = GroupIndex()
            index.restore(keys)
            self.pairs[column] = (index, counts.copy(), self.pairs[column][2])

    def state_rows(self) -> int:
        pairs = sum(index.size for index, _, _ in self.pairs.values())
        return (self.index.size if self.keys else 1) + pairs


_VALUED = ("sum", "avg", "min", "max")
_MOMENTS = UNARY + BINARY


def _or(scalar: pa.Scalar, default):
    value = scalar.as_py()
    return default if value is None else value


def _rows(accumulators: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[mask] for name, values in accumulators.items()}


class RecomputeAggregate(RecomputeOperator):
    """An aggregate with non-invertible calls: recomputed per touched group (see recompute.py)."""

    def __init__(self, node: Aggregate, compute) -> None:
        keys = tuple(node.keys)
        super().__init__(
            [change_schema(node.input.schema)],
            [keys],
            change_schema(node.schema),
            compute,
            output_key=tuple(range(len(keys))),
        )
        self.global_ = not keys
        self.started = False

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        if self.global_ and not self.started:
            self.started = True
            (delta,) = inputs
            output = self._run([consolidate(delta)])  # the one row, even over no input
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
