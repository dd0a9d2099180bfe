"""Python aggregate: GROUP BY keys with Python aggregates (and COUNT(*)), maintained by their
own ``accumulate`` and ``retract``.

A Python aggregate (``CREATE AGGREGATE ... LANGUAGE python``) that defines ``retract`` is
maintained incrementally: per group, its state (``create_state()``), with each inserted row
``accumulate``d into it and each deleted row ``retract``ed out of it, as RisingWave does; a
touched group's row is retracted and its new one (``finish(state)``) emitted. Rows with a NULL
argument, or that fail the call's FILTER, are skipped. Without ``retract``, or with windows whose
state expires, the aggregate is recomputed per touched group instead (RecomputeAggregate), from
the rows in the order of their values, as batch mode computes it. Incremental states see rows in
arrival order: an aggregate whose answer depends on that order may differ from batch mode.

State: per group, its row count, one state per call and the row it emitted. Per changed row,
one Python call per aggregate (a Python aggregate is Python per row whatever the engine).

    SELECT k, total(v): (a, 3, +1) (a, 4, +1) -> (a, 7, +1);  then (a, 3, -1) -> (a, 7, -1) (a, 4, +1)
"""

from __future__ import annotations

import copy

import pyarrow as pa
import pyarrow.compute as pc

from tidal.engine.operators.base import Operator, change_schema
from tidal.engine.udf import registry
from tidal.engine.zset import WEIGHT
from tidal.sql.eventtime import state_expiry
from tidal.sql.plan import Aggregate
from tidal.sql.python_functions import is_python_aggregate


def incremental(node: Aggregate) -> bool:
    """Whether the node is all Python aggregates with ``retract`` (and COUNT(*)), and no state
    expiry: then PythonAggregateOperator maintains it."""
    calls = node.aggregates
    if state_expiry(node) or not any(is_python_aggregate(c.name) for c in calls):
        return False
    for call in calls:
        if call.name == "count_star":
            continue
        function = registry.lookup(call.name) if is_python_aggregate(call.name) else None
        if function is None or function.parts is None or "retract" not in function.parts:
            return False
    return True


class PythonAggregateOperator(Operator):
    def __init__(self, node: Aggregate) -> None:
        self.schema = change_schema(node.schema)
        self.keys = list(node.keys)
        self.calls = node.aggregates
        self.functions = [
            None if c.name == "count_star" else registry.lookup(c.name) for c in self.calls
        ]
        # key -> [row count, [state per call]]; key -> the row it emitted
        self.groups: dict[tuple, list] = {}
        self.emitted: dict[tuple, tuple] = {}
        self.started = False

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        (delta,) = inputs
        touched = dict.fromkeys(self._apply(delta)) if delta.num_rows else {}
        if not self.keys and not self.started:
            touched[()] = None  # a global aggregate has its one row, even over no input
        self.started = True
        rows = []
        for key in touched:
            old = self.emitted.pop(key, None)
            new = self._row(key)
            if old == new:
                self.emitted[key] = old
                continue
            if old is not None:
                rows.append((*old, -1))
            if new is not None:
                rows.append((*new, 1))
                self.emitted[key] = new
        return self._table(rows)

    def _apply(self, delta: pa.Table) -> list[tuple]:
        """Accumulate or retract every row of ``delta``; the keys of the groups it touched."""
        columns = delta.columns
        keys = list(zip(*(columns[k].to_pylist() for k in self.keys))) or [()] * delta.num_rows
        weights = delta.column(WEIGHT).to_pylist()
        inputs = [self._inputs(call, delta) for call in self.calls]
        for row, (key, weight) in enumerate(zip(keys, weights)):
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = [0, [self._new_state(f) for f in self.functions]]
            group[0] += weight
            for j, function in enumerate(self.functions):
                arguments = inputs[j][row] if function is not None else None
                if arguments is None:
                    continue
                step = function.parts["accumulate" if weight > 0 else "retract"]
                for _ in range(abs(weight)):
                    group[1][j] = self._call(function, step, group[1][j], *arguments)
            if group[0] == 0 and self.keys:
                del self.groups[key]
        return keys

    def _inputs(self, call, delta: pa.Table) -> list[tuple | None]:
        """Per row, the call's arguments; None where one is NULL or FILTER is false."""
        if call.name == "count_star":
            return []
        columns = [delta.column(a) for a in call.args]
        skip = pc.is_null(columns[0]) if columns else None
        for column in columns[1:]:
            skip = pc.or_(skip, pc.is_null(column))
        if call.filter is not None:
            skip = pc.or_(skip, pc.invert(pc.fill_null(delta.column(call.filter), False)))
        values = list(zip(*(c.to_pylist() for c in columns)))
        return [None if s else v for s, v in zip(skip.to_pylist(), values)]

    def _row(self, key: tuple) -> tuple | None:
        group = self.groups.get(key)
        if group is None and self.keys:
            return None
        if group is None or group[0] == 0:  # the global row over no input
            group = self.groups[key] = [0, [self._new_state(f) for f in self.functions]]
        values = [
            group[0] if f is None else self._call(f, f.parts["finish"], group[1][j])
            for j, f in enumerate(self.functions)
        ]
        return (*key, *values)

    def _new_state(self, function):
        return None if function is None else self._call(function, function.parts["create_state"])

    @staticmethod
    def _call(function, step, *arguments):
        try:
            return step(*arguments)
        except Exception as error:  # noqa: BLE001 (the user's code: say whose and on what)
            raise registry.FunctionFailed(
                f"aggregate {function.name} failed in {step.__name__}{arguments!r}: "
                f"{type(error).__name__}: {error}"
            ) from None

    def _table(self, rows: list[tuple]) -> pa.Table:
        names = self.schema.names
        try:
            return pa.Table.from_pylist([dict(zip(names, r)) for r in rows], schema=self.schema)
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as error:
            raise registry.FunctionFailed(
                f"an aggregate's finish returned a value not of its return type: {error}"
            ) from None

    def output_rows(self) -> pa.Table:
        return self._table([(*row, 1) for row in self.emitted.values()])

    def snapshot(self) -> dict:
        # copied: a user's accumulate may change its state in place
        return copy.deepcopy(
            {"groups": self.groups, "emitted": self.emitted, "started": self.started}
        )

    def restore(self, state: dict) -> None:
        state = copy.deepcopy(state)
        self.groups, self.emitted, self.started = (
            state["groups"],
            state["emitted"],
            state["started"],
        )

    def state_rows(self) -> int:
        return len(self.groups)
