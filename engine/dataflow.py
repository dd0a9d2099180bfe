"""The dataflow of a view: one operator per plan node, stepped in topological order each tick."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

import pyarrow as pa
from sqlglot import exp

from tidal.engine.batch import BatchBackend
from tidal.engine.cancellation import cancel_point
from tidal.engine.operator_stats import OperatorCounters, OperatorStats
from tidal.engine.operators.aggregate import AccumulatingAggregate, aggregate_operator
from tidal.engine.operators.asof_join import AsofJoinOperator
from tidal.engine.operators.base import Operator, change_schema
from tidal.engine.operators.emit import EmitOperator
from tidal.engine.operators.filter import FilterOperator, RememberingFilterOperator
from tidal.engine.operators.fixpoint import RecursiveOperator
from tidal.engine.operators.join import join_operator
from tidal.engine.operators.ordered import (
    distinct_operator,
    over_window_operator,
    set_operator,
    top_n_operator,
)
from tidal.engine.operators.project import ProjectOperator, RememberingProjectOperator
from tidal.engine.operators.recompute import StateExpiry
from tidal.engine.operators.session_window import SessionOperator
from tidal.engine.operators.temporal_filter import TemporalFilterOperator
from tidal.engine.operators.temporal_join import TemporalJoinOperator
from tidal.engine.operators.top_rows import TopRowsOperator
from tidal.engine.operators.union import UnionAllOperator
from tidal.engine.operators.unnest import UnnestOperator
from tidal.engine.operators.values import ValuesOperator
from tidal.engine.operators.window_assign import WindowAssignOperator
from tidal.engine.udf.evaluation import calls_volatile
from tidal.engine.zset import concat
from tidal.sql.asof_joins import AsofJoin
from tidal.sql.changes import first_rows_limit
from tidal.sql.errors import unsupported
from tidal.sql.eventtime import emit_bound, state_expiry, time_columns
from tidal.sql.lower import lower
from tidal.sql.plan import (
    Aggregate,
    Distinct,
    Emit,
    Filter,
    Join,
    OverWindow,
    Plan,
    Project,
    Recursive,
    Scan,
    SetOp,
    TopN,
    Unnest,
    Values,
    WindowCall,
    WindowTVF,
    ref_index,
)
from tidal.sql.temporal import is_temporal, split_temporal
from tidal.sql.temporal_joins import TemporalJoin


class ScanOperator(Operator):
    """The entry of a relation's changes (tables, sources, materialized views) into a dataflow."""

    def __init__(self, node: Scan) -> None:
        self.relation = node.relation.lower()
        self.schema = change_schema(node.schema)

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        (delta,) = inputs
        if delta is None or delta.num_rows == 0:
            return self.empty()
        return pa.Table.from_arrays(delta.columns, schema=self.schema)


# Functions whose value depends on when or how often they run. A view's rows are computed as
# its inputs change, so with these they would not be what its query gives when run now.
_VOLATILE = tuple(
    getattr(exp, name)
    for name in (
        "Rand",
        "CurrentTimestamp",
        "CurrentDate",
        "CurrentTime",
        "CurrentDatetime",
        "Localtimestamp",
        "Localtime",
        "Uuid",
    )
    if hasattr(exp, name)
)
_VOLATILE_NAMES = {
    "random",
    "now",
    "today",
    "get_current_timestamp",
    "transaction_timestamp",
    "statement_timestamp",
    "clock_timestamp",
    "gen_random_uuid",
    "uuid",
    "nextval",
    "setseed",
    "current_localtimestamp",
}


def _refuse_volatile(plan: Plan) -> None:
    for node in plan.walk():
        values = list(vars(node).values())
        if isinstance(node, Filter):  # now() in temporal conditions is maintained as time passes
            values = [split_temporal(node.predicate)[1]]
        for expression in _expressions(values):
            for call in expression.find_all(exp.Func):
                name = call.name if isinstance(call, exp.Anonymous) else call.sql_name()
                if isinstance(call, _VOLATILE) or name.lower() in _VOLATILE_NAMES:
                    raise unsupported(
                        f"{call.sql()} in a materialized view: its value depends on "
                        "when the view's rows are computed (use a plain VIEW)"
                    )


def _expressions(values) -> list[exp.Expression]:
    """The scalar expressions among plan node fields (nested in tuples and window calls)."""
    found = []
    for value in values:
        if isinstance(value, exp.Expression):
            found.append(value)
        elif isinstance(value, tuple):
            found += _expressions(list(value))
        elif isinstance(value, WindowCall):
            found.append(value.function)
    return found


class Dataflow:
    """Operators for a plan. ``step`` maps each scanned relation's changes to the plan's changes."""

    def __init__(self, plan: Plan, backend: BatchBackend) -> None:
        _refuse_volatile(plan)
        self.plan = plan
        self.backend = backend
        self.operators: list[Operator] = []
        self.nodes: list[Plan] = []
        self.children: list[list[int]] = []
        # ROW_NUMBER() nodes (by id) whose rows beyond the first k per partition are filtered
        # out above them: over insert-only input they keep only those k rows.
        self._row_limits: dict[int, int] = {}
        self.root = self._build(plan)
        self.counters = [OperatorCounters() for _ in self.operators]
        self.created = time.monotonic()  # for rates since creation

    @property
    def relations(self) -> set[str]:
        return {op.relation for op in self.operators if isinstance(op, ScanOperator)}

    @property
    def uses_clock(self) -> bool:
        """Whether the result changes as time passes (a temporal filter): ticks must run even
        when no data arrives."""
        return any(isinstance(op, TemporalFilterOperator) for op in self.operators)

    def _build(self, node: Plan) -> int:
        if isinstance(node, Recursive):  # runs its sub-plans itself, over its scans' rows
            operator = RecursiveOperator(node, self.backend)
            scans = [self._add(ScanOperator(scan), scan, []) for scan in operator.inputs]
            return self._add(operator, node, scans)
        if isinstance(node, Filter) and (found := first_rows_limit(node)) is not None:
            self._row_limits[id(found[0])] = found[1]
        children = [self._build(child) for child in node.children()]
        if isinstance(node, Filter) and is_temporal(node):
            conditions, rest = split_temporal(node.predicate)
            if rest is not None:
                children = [self._add(FilterOperator(Filter(node.input, rest)), node, children)]
            return self._add(TemporalFilterOperator(node, conditions), node, children)
        if isinstance(node, SetOp) and node.kind == "union" and not node.all:
            children = [self._add(UnionAllOperator(node), node, children)]
            return self._add(distinct_operator(Distinct(node)), node, children)
        if isinstance(node, Emit) and self._emitted_by_aggregate(node, children[0]):
            return children[0]
        return self._add(self._operator(node), node, children)

    def _emitted_by_aggregate(self, node: Emit, index: int) -> bool:
        """EMIT ON WINDOW CLOSE over a windowed aggregate (through filters and projections): the
        aggregate itself emits each group once, when its window closes, instead of updating
        every tick into a buffer. True if it took that on."""
        column = node.time
        while isinstance(self.operators[index], (FilterOperator, ProjectOperator)):
            below = self.nodes[index]
            if isinstance(below, Project):
                if not isinstance(below.exprs[column], exp.Column):
                    return False
                column = ref_index(below.exprs[column])
            index = self.children[index][0]
        operator = self.operators[index]
        return isinstance(operator, AccumulatingAggregate) and operator.emit_on_close(column)

    def _add(self, operator: Operator, node: Plan, children: list[int]) -> int:
        self.operators.append(operator)
        self.nodes.append(node)
        self.children.append(children)
        return len(self.operators) - 1

    def _operator(self, node: Plan) -> Operator:
        if id(node) in self._row_limits:
            return _expiring(TopRowsOperator(node, self._row_limits[id(node)]), node)
        build = _BUILDERS.get(type(node))
        if build is None:
            raise unsupported(f"{type(node).__name__} in a materialized view")
        return build(node, self.backend)

    def step(
        self, deltas: dict[str, pa.Table], watermarks: Mapping[str, int | None] | None = None
    ) -> pa.Table:
        """The plan's output changes for one tick, given each relation's changes (absent = none)
        and the relations' watermarks after the tick."""
        results: list[pa.Table] = []
        for operator, children, counters in zip(self.operators, self.children, self.counters):
            if isinstance(operator, ScanOperator):
                inputs = [deltas.get(operator.relation)]
            else:
                inputs = [results[c] for c in children]
            # The inputs' steps ran before this one: the time measured here is its own.
            start = time.perf_counter_ns()
            output = operator.step(inputs)
            released = operator.on_watermark(watermarks) if watermarks else None
            if released is not None and released.num_rows:
                output = concat([output, released], operator.schema)
            counters.add(
                sum(batch.num_rows for batch in inputs if batch is not None),
                output.num_rows,
                time.perf_counter_ns() - start,
            )
            cancel_point()  # a long step (a view's backfill) can be cancelled
            results.append(output)
        return results[self.root]

    def output_rows(self, index: int | None = None) -> pa.Table | None:
        """The plan's whole current result, derived from the state of the operator that holds
        it (through any filters and projections above that operator); None if none holds it."""
        index = self.root if index is None else index
        operator = self.operators[index]
        held = operator.output_rows()
        if held is not None:
            return held
        if isinstance(operator, (FilterOperator, ProjectOperator)):
            below = self.output_rows(self.children[index][0])
            return None if below is None else operator.step([below])
        return None

    def snapshot(self) -> list[dict]:
        """Every operator's state, in operator order: cheap (Arrow tables are shared, mutable
        state is copied), picklable, and left as it is by later ticks."""
        return [op.snapshot() for op in self.operators]

    def restore(self, states: list[dict]) -> None:
        """Back to a ``snapshot`` of a dataflow of the same plan (this one built afresh)."""
        if len(states) != len(self.operators):
            raise ValueError(
                f"a state of {len(states)} operators cannot be restored into a dataflow of "
                f"{len(self.operators)}: it was taken from a different plan"
            )
        for operator, state in zip(self.operators, states):
            operator.restore(state)

    def state_rows(self) -> int:
        return sum(op.state_rows() for op in self.operators)

    def operator_stats(self, state_bytes: bool = True) -> list[OperatorStats]:
        """Each operator's counts since the dataflow was built, in plan order (the root first,
        then each input below it). ``state_bytes``: measure the bytes held (walks each stateful
        operator's attributes, not its rows; else None)."""
        found = []
        for number, (index, depth) in enumerate(self.plan_order(), start=1):
            operator = self.operators[index]
            stateful = operator.keeps_state()
            found.append(
                self.counters[index].stats(
                    f"{operator.kind(self.nodes[index])} #{number}",
                    depth,
                    state_rows=operator.state_rows() if stateful else None,
                    state_bytes=operator.held_bytes() if stateful and state_bytes else None,
                )
            )
        return found

    def plan_order(self, index: int | None = None, depth: int = 0) -> Iterator[tuple[int, int]]:
        """(operator index, depth) from the root down, each operator before its inputs."""
        index = self.root if index is None else index
        yield index, depth
        for child in self.children[index]:
            yield from self.plan_order(child, depth + 1)

    def held_bytes(self) -> int:
        """The bytes the operators hold as they are (``Operator.held_bytes``)."""
        return sum(op.held_bytes() for op in self.operators)


def _values(node: Values, backend: BatchBackend) -> Operator:
    rows = backend.query(lower(node, lambda scan: scan.relation), {})
    return ValuesOperator(rows.select(list(range(len(node.schema)))), node.schema)


def _set_op(node: SetOp, backend: BatchBackend) -> Operator:
    if node.kind == "union":  # UNION ALL; UNION adds a Distinct in Dataflow._build
        return UnionAllOperator(node)
    return _expiring(set_operator(node, backend.compute(node)), node)


def _expiring(operator, node: Plan):
    """A keyed-recompute operator that drops state the watermarks have made final (its key
    columns keep their positions in its output)."""
    operator.expiry = [
        StateExpiry(e.input, e.column, e.column, e.bound) for e in state_expiry(node)
    ]
    return operator


def _window_tvf(node: WindowTVF, backend: BatchBackend) -> Operator:
    if node.kind == "session":
        end = time_columns(node).get(len(node.schema) - 1)
        return SessionOperator(node, backend.compute(node), end)
    return WindowAssignOperator(node)


def _emit(node: Emit, backend: BatchBackend) -> Operator:
    return EmitOperator(node, emit_bound(node))


# How each plan node becomes an operator; stateful ones get the node's DuckDB evaluation too.
_BUILDERS: dict[type, Callable[[Plan, BatchBackend], Operator]] = {
    Scan: lambda node, backend: ScanOperator(node),
    Values: _values,
    Filter: lambda node, backend: (
        RememberingFilterOperator(node) if calls_volatile(node.predicate) else FilterOperator(node)
    ),
    Project: lambda node, backend: (
        RememberingProjectOperator(node) if calls_volatile(*node.exprs) else ProjectOperator(node)
    ),
    Aggregate: lambda node, backend: aggregate_operator(node, backend.compute(node)),
    Join: lambda node, backend: join_operator(node, backend.compute(node)),
    AsofJoin: lambda node, backend: AsofJoinOperator(node, backend.compute(node)),
    TemporalJoin: lambda node, backend: TemporalJoinOperator(node, backend.compute(node)),
    SetOp: _set_op,
    Distinct: lambda node, backend: _expiring(distinct_operator(node), node),
    TopN: lambda node, backend: top_n_operator(node, backend.compute(node)),
    OverWindow: lambda node, backend: _expiring(
        over_window_operator(node, backend.compute(node)), node
    ),
    WindowTVF: _window_tvf,
    Emit: _emit,
    Unnest: lambda node, backend: UnnestOperator(node),
}
