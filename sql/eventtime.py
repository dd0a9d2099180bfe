"""Event time in a plan: which columns have a watermark, and what bounds an operator's state.

A relation declared ``WATERMARK FOR ts AS ts - delay`` has a watermark W (tidal.engine.watermarks):
no row with ``ts < W`` reaches a view any more. A plan column has a watermark when the same kind
of promise holds for the plan's output: every row the plan adds or retracts from now on has a
value at or above it in that column, so rows below it are final. Such a column's watermark is
a ``TimeBound``: the minimum, over some relations, of the relation's watermark plus an offset.

How columns keep or gain watermarks, node by node (``W`` the input column's watermark):

- scan: the ``WATERMARK FOR`` column, with offset 0;
- filter, project (bare column references), distinct, emit, unnest (its input's columns): unchanged;
- window TVF: the time column stays (for tumble/hop/cumulate: assignment is row by row);
  ``window_end`` gets W + 1 us (windows containing future rows end after them); ``window_start``
  W + 1 us - size; a session's rows can move to a merged session, so only its ``window_end``;
- aggregate, over window: grouping / partition keys keep theirs (a group's rows all share it);
- union, intersect, except: a column with a watermark on both sides, the smaller;
- temporal (lookup) join: the stream side's columns keep theirs;
- inner join: equal keys that both have one, the smaller; a column ``x`` with a condition
  ``x >= y + d`` (y on the other side) gets the smaller of its own and y's plus d (interval join).

Durations and watermark values are microseconds since the epoch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlglot import exp

from tidal.catalog.sqlstate import INVALID_OBJECT_DEFINITION
from tidal.sql.errors import SqlError
from tidal.sql.intervals import duration_us
from tidal.sql.plan import (
    Aggregate,
    Distinct,
    Emit,
    Filter,
    Join,
    Limit,
    OverWindow,
    Plan,
    Project,
    Scan,
    SetOp,
    Sort,
    Unnest,
    WindowTVF,
    conjuncts,
    ref,
    ref_index,
)
from tidal.sql.temporal_joins import TemporalJoin

# Column types that can carry event time.
TIME_TYPES = (
    "TIMESTAMP",
    "TIMESTAMP_MS",
    "TIMESTAMP_S",
    "TIMESTAMP_NS",
    "TIMESTAMP WITH TIME ZONE",
)


@dataclass(frozen=True)
class TimeBound:
    """min over ``terms`` of (watermark of relation + offset); relation names in lower case."""

    terms: frozenset[tuple[str, int]]

    @staticmethod
    def of(relation: str, offset: int = 0) -> TimeBound:
        return TimeBound(frozenset({(relation.lower(), offset)}))

    def shifted(self, offset: int) -> TimeBound:
        return TimeBound(frozenset((r, o + offset) for r, o in self.terms))

    def __or__(self, other: TimeBound) -> TimeBound:
        return TimeBound(self.terms | other.terms)

    @property
    def relations(self) -> set[str]:
        return {r for r, _ in self.terms}

    def value(self, watermarks: Mapping[str, int | None]) -> int | None:
        """The bound's value; None while any relation it reads has no watermark yet."""
        values = []
        for relation, offset in self.terms:
            watermark = watermarks.get(relation)
            if watermark is None:
                return None
            values.append(watermark + offset)
        return min(values)

    def describe(self) -> str:
        return " min ".join(
            f"wm({r}){duration_text(o)}" for r, o in sorted(self.terms, key=lambda t: t[0])
        )


def duration_text(offset: int) -> str:
    """A signed duration, short (' + 5s', ' - 1h'; '' for zero)."""
    if offset == 0:
        return ""
    sign = "+" if offset > 0 else "-"
    value = abs(offset)
    for unit, size in (("d", 86_400_000_000), ("h", 3_600_000_000), ("min", 60_000_000)):
        if value % size == 0:
            return f" {sign} {value // size}{unit}"
    if value % 1_000_000 == 0:
        return f" {sign} {value // 1_000_000}s"
    return f" {sign} {value}us"


TimeColumns = dict[int, TimeBound]


def time_columns(plan: Plan, through_tables: bool = False) -> TimeColumns:
    """The output columns of ``plan`` that have a watermark, and their bounds.

    With ``through_tables`` (for EMIT ON WINDOW CLOSE only), a join of a stream with a side
    that reads no relation with a watermark (a dimension table) keeps the stream's columns: a
    table does not hold back when a window closes. The promise is weaker there (a change to
    the table still changes joined rows below the watermark), so operators never bound their
    state by it; EMIT ON WINDOW CLOSE releases such later changes when they come."""
    if isinstance(plan, Scan):
        return {} if plan.watermark is None else {plan.watermark: TimeBound.of(plan.relation)}
    if isinstance(plan, (Filter, Distinct, Emit, Unnest)):
        return time_columns(plan.input, through_tables)
    if isinstance(plan, Project):
        below = time_columns(plan.input, through_tables)
        return {
            i: below[ref_index(e)]
            for i, e in enumerate(plan.exprs)
            if isinstance(e, exp.Column) and ref_index(e) in below
        }
    if isinstance(plan, WindowTVF):
        return _window_tvf(plan, through_tables)
    if isinstance(plan, Aggregate):
        below = time_columns(plan.input, through_tables)
        return {i: below[k] for i, k in enumerate(plan.keys) if k in below}
    if isinstance(plan, OverWindow):
        below = time_columns(plan.input, through_tables)
        partitions = [set(c.partition) for c in plan.calls]
        common = set.intersection(*partitions) if partitions else set()
        return {k: below[k] for k in common if k in below}
    if isinstance(plan, SetOp):
        left = time_columns(plan.left, through_tables)
        right = time_columns(plan.right, through_tables)
        return {i: left[i] | right[i] for i in left if i in right}
    if isinstance(plan, Join):
        return _join(plan, through_tables)
    if isinstance(plan, TemporalJoin):  # the stream's rows, each once, never revisited
        return time_columns(plan.left, through_tables)
    return {}


def _window_tvf(plan: WindowTVF, through_tables: bool) -> TimeColumns:
    below = time_columns(plan.input, through_tables)
    start, end = len(plan.input.schema), len(plan.input.schema) + 1
    if plan.time not in below:
        return {}
    bound = below[plan.time]
    if plan.kind == "session":
        return {end: bound.shifted(1)}
    return {**below, start: bound.shifted(1 - plan.size), end: bound.shifted(1)}


def _join(plan: Join, through_tables: bool) -> TimeColumns:
    if through_tables:
        passed = _through_table(plan)
        if passed is not None:
            return passed
    if plan.kind != "inner":
        return {}
    columns = joined_time_columns(plan, through_tables)
    out: TimeColumns = {}
    for column, bound in columns.items():
        lower_bounds = [
            columns[other].shifted(d)
            for x, other, d in join_constraints(plan)
            if x == column and other in columns
        ]
        if lower_bounds:
            for extra in lower_bounds:
                bound = bound | extra
            out[column] = bound
    return out


def _through_table(plan: Join) -> TimeColumns | None:
    """The stream side's columns, if the other side has no event time and the stream side's
    rows are never padded with NULLs (an inner join, or the outer join's preserved side)."""
    width = len(plan.left.schema)
    if not _has_event_time(plan.right) and plan.kind in ("inner", "left", "semi", "anti"):
        return time_columns(plan.left, True)
    if not _has_event_time(plan.left) and plan.kind in ("inner", "right"):
        return {width + i: b for i, b in time_columns(plan.right, True).items()}
    return None


def _has_event_time(plan: Plan) -> bool:
    return any(isinstance(node, Scan) and node.watermark is not None for node in plan.walk())


def joined_time_columns(plan: Join, through_tables: bool = False) -> TimeColumns:
    """The time columns of both join inputs, at their positions in the joined row."""
    width = len(plan.left.schema)
    right = {width + i: b for i, b in time_columns(plan.right, through_tables).items()}
    return {**time_columns(plan.left, through_tables), **right}


def join_constraints(plan: Join) -> list[tuple[int, int, int]]:
    """``(x, y, d)``: every joined row has ``x >= y + d``, x and y on different sides (positions
    in the joined row); from equal keys and from range conditions on column +/- INTERVAL."""
    width = len(plan.left.schema)
    facts = []
    for left, right in zip(plan.left_keys, plan.right_keys):
        facts += [(left, width + right, 0), (width + right, left, 0)]
    for part in conjuncts(plan.condition):
        facts += _range_facts(part)
    return [(x, y, d) for x, y, d in facts if (x < width) != (y < width)]


def _range_facts(node: exp.Expression) -> list[tuple[int, int, int]]:
    if isinstance(node, exp.Between):
        low = exp.GTE(this=node.this, expression=node.args["low"])
        high = exp.LTE(this=node.this, expression=node.args["high"])
        return _range_facts(low) + _range_facts(high)
    if isinstance(node, (exp.GTE, exp.GT)):
        greater, smaller = node.this, node.expression
    elif isinstance(node, (exp.LTE, exp.LT)):
        greater, smaller = node.expression, node.this
    else:
        return []
    a, b = _shifted_column(greater), _shifted_column(smaller)
    if a is None or b is None:
        return []
    # x + a_off >= y + b_off  =>  x >= y + (b_off - a_off)
    return [(a[0], b[0], b[1] - a[1])]


def _shifted_column(node: exp.Expression) -> tuple[int, int] | None:
    """``c`` -> (c, 0); ``c + INTERVAL i`` -> (c, i); ``c - INTERVAL i`` -> (c, -i)."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Column):
        return ref_index(node), 0
    if isinstance(node, (exp.Add, exp.Sub)) and isinstance(node.this, exp.Column):
        if not isinstance(node.expression, exp.Interval):
            return None
        micros = duration_us(node.expression, "an interval join's bound")
        return ref_index(node.this), micros if isinstance(node, exp.Add) else -micros
    return None


def emit_on_window_close(plan: Plan) -> Plan:
    """``plan`` showing only final rows: by its window_end column if it has one with a
    watermark, else by its first column with one (an ad hoc ORDER BY / LIMIT stays on top)."""
    if isinstance(plan, (Sort, Limit)):
        return plan.with_children((emit_on_window_close(plan.input),))
    columns = time_columns(plan, through_tables=True)
    if not columns:
        raise SqlError(
            "EMIT ON WINDOW CLOSE needs a watermark: the query's output must include a "
            "column with one, e.g. window_end of a window over a source or table declared "
            "with WATERMARK FOR",
            sqlstate=INVALID_OBJECT_DEFINITION,
        )
    ends = [i for i in sorted(columns) if plan.schema[i].name.lower() == "window_end"]
    return Emit(plan, ends[0] if ends else min(columns))


def emit_bound(node: Emit) -> TimeBound:
    """The watermark that makes an EMIT ON WINDOW CLOSE's rows final."""
    return time_columns(node.input, through_tables=True)[node.time]


@dataclass(frozen=True)
class Expiry:
    """Rows of a stateful node's input ``input`` whose ``column`` is below ``bound`` can never
    change its output again: its state drops them."""

    input: int
    column: int
    bound: TimeBound


def state_expiry(node: Plan) -> list[Expiry]:
    """What bounds a stateful node's state by watermark (empty: nothing does)."""
    if isinstance(node, Aggregate):
        below = time_columns(node.input)
        return [Expiry(0, k, below[k]) for k in node.keys if k in below]
    if isinstance(node, OverWindow):
        return [Expiry(0, k, b) for k, b in time_columns(node).items()]
    if isinstance(node, (Distinct, SetOp)):
        columns = time_columns(node)
        return [Expiry(i, k, b) for i in range(len(node.children())) for k, b in columns.items()]
    if isinstance(node, WindowTVF) and node.kind == "session":
        return [Expiry(0, k, b) for k, b in time_columns(node).items()]
    if isinstance(node, Emit):
        return [Expiry(0, node.time, emit_bound(node))]
    if isinstance(node, Join) and node.kind == "inner":
        width = len(node.left.schema)
        columns = joined_time_columns(node)
        return [
            Expiry(0, x, columns[y].shifted(d))
            if x < width
            else Expiry(1, x - width, columns[y].shifted(d))
            for x, y, d in join_constraints(node)
            if y in columns
        ]
    return []


def emit_as_filter(plan: Plan, watermarks: Mapping[str, int | None]) -> Plan:
    """``plan`` for one batch evaluation at the given watermarks: each EMIT ON WINDOW CLOSE
    becomes a filter keeping the rows that are final by then (none while there is no watermark)."""
    if not any(isinstance(node, Emit) for node in plan.walk()):
        return plan
    children = tuple(emit_as_filter(child, watermarks) for child in plan.children())
    if not isinstance(plan, Emit):
        return plan.with_children(children)
    (child,) = children
    watermark = emit_bound(plan).value(watermarks)
    if watermark is None:
        return Filter(child, exp.false())
    final = exp.LT(
        this=exp.func("epoch_us", ref(plan.time)), expression=exp.Literal.number(watermark)
    )
    return Filter(child, final)
