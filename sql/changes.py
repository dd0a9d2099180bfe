"""What kinds of change a plan's output can carry, and what that allows operators to keep.

A plan is insert-only when its rows are never retracted: it reads only sources, ``APPEND ONLY``
tables and tables with a watermark (append-only streams) through filters, projections, window assignment (tumble, hop,
cumulate; a session's rows move when sessions merge), inner joins and UNION ALL. Over an
insert-only input, MIN and MAX need no multiset of values: the running extreme is enough, as for
COUNT/SUM/AVG; and the first k rows of a partition (``ROW_NUMBER() ... <= k``) need only those k
rows kept. COUNT(DISTINCT x) is accumulated under any input, as a count per (group, x) pair.
"""

from __future__ import annotations

from sqlglot import exp

from tidal.sql.aggregates import INVERTIBLE
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
    TopN,
    WindowTVF,
    ref_index,
)
from tidal.sql.temporal_joins import TemporalJoin

# Types whose MIN/MAX an accumulator keeps (as 64-bit numbers, or the string itself).
_EXTREME_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE", "DATE", "VARCHAR")
_EXTREME_PREFIXES = ("TIMESTAMP", "DECIMAL")


def insert_only(plan: Plan) -> bool:
    if isinstance(plan, Scan):
        return plan.kind == "source" or (
            plan.kind == "table" and (plan.watermark is not None or plan.append_only)
        )
    if isinstance(plan, Filter):
        return not plan.predicate.find(exp.CurrentTimestamp) and insert_only(plan.input)
    if isinstance(plan, Project) or (isinstance(plan, WindowTVF) and plan.kind != "session"):
        return insert_only(plan.input)
    if isinstance(plan, SetOp) and plan.kind == "union" and plan.all:
        return insert_only(plan.left) and insert_only(plan.right)
    if isinstance(plan, Join) and plan.kind == "inner":  # expired state is never retracted
        return insert_only(plan.left) and insert_only(plan.right)
    if isinstance(plan, TemporalJoin):  # a table change never revisits joined rows
        return insert_only(plan.left)
    return False


def first_rows_limit(node: Filter) -> tuple[OverWindow, int] | None:
    """For ``WHERE rn <= k`` over ``ROW_NUMBER() OVER (...) AS rn`` of insert-only input (through
    projections of plain columns): the window node and k. Only those k rows per partition can
    ever be in the result, so only they need keeping."""
    bound = _row_bound(node.predicate)
    if bound is None:
        return None
    column, limit = bound
    below = node.input
    while isinstance(below, Project) and isinstance(below.exprs[column], exp.Column):
        column, below = ref_index(below.exprs[column]), below.input
    if not (isinstance(below, OverWindow) and len(below.calls) == 1):
        return None
    call = below.calls[0]
    if (
        not isinstance(call.function, exp.RowNumber)
        or not call.order
        or column != len(below.input.schema)
        or not insert_only(below.input)
    ):
        return None
    return below, limit


def _row_bound(predicate: exp.Expression) -> tuple[int, int] | None:
    """``c <= k``, ``c < k`` or ``c = 1`` (k a positive integer): the column and k."""
    if not isinstance(predicate, (exp.LTE, exp.LT, exp.EQ)):
        return None
    column, literal = predicate.this, predicate.expression
    if not (isinstance(column, exp.Column) and isinstance(literal, exp.Literal)):
        return None
    if literal.is_string or not literal.name.isdigit():
        return None
    limit = int(literal.name) - (1 if isinstance(predicate, exp.LT) else 0)
    if limit < 1 or (isinstance(predicate, exp.EQ) and limit != 1):
        return None
    return ref_index(column), limit


def accumulates(node: Aggregate) -> bool:
    """Whether every call of the aggregate can be kept as accumulators per group."""

    def accumulable(call) -> bool:
        if call.distinct:  # COUNT(DISTINCT x): a count per (group, x) pair
            return call.name == "count"
        if call.name in INVERTIBLE:
            return True
        value_type = node.input.schema[call.args[0]].type if call.args else ""
        return (
            call.name in ("min", "max")
            and (value_type in _EXTREME_TYPES or value_type.startswith(_EXTREME_PREFIXES))
            and insert_only(node.input)
        )

    return all(accumulable(c) for c in node.aggregates)


def unique_key(plan: Plan) -> list[int]:
    """Output columns that identify a row of the plan's result, if the plan says so (else []).

    Keys start at a keyed table's primary key, a GROUP BY and a DISTINCT, and pass through
    everything that keeps each row at most once: filters, projections that keep the key's
    columns, window functions, TopN, semi and anti joins; a join's key is its inputs' keys
    together (the left key alone when the join matches each left row to one right row at most).

    >>> from tidal.sql.plan import Field, Filter, Scan
    >>> scan = Scan("t", "table", (Field("k", "INTEGER"), Field("v", "INTEGER")), key=(0,))
    >>> unique_key(Filter(scan, exp.true()))
    [0]
    """
    if isinstance(plan, Scan):
        return list(plan.key)
    if isinstance(plan, Aggregate):
        return list(range(len(plan.keys))) if plan.keys else []
    if isinstance(plan, Distinct) or (isinstance(plan, SetOp) and not plan.all):
        return list(range(len(plan.schema)))
    if isinstance(plan, (Filter, Emit, TopN, Sort, Limit, OverWindow)):
        return unique_key(plan.input)
    if isinstance(plan, WindowTVF):
        inner = unique_key(plan.input)
        one_window = plan.kind in ("tumble", "session")  # hop and cumulate repeat a row
        return inner if one_window or not inner else [*inner, len(plan.input.schema)]
    if isinstance(plan, (Join, TemporalJoin)):
        return _join_key(plan)
    if isinstance(plan, Project):
        return _projected_key(plan)
    return []


def _projected_key(plan: Project) -> list[int]:
    inner = unique_key(plan.input)
    if not inner:
        return []
    positions: dict[int, int] = {}
    for i, e in enumerate(plan.exprs):
        if isinstance(e, exp.Column):
            positions.setdefault(ref_index(e), i)
    return [positions[k] for k in inner] if all(k in positions for k in inner) else []


def _join_key(plan: Join) -> list[int]:
    left = unique_key(plan.left)
    if plan.kind in ("semi", "anti"):
        return left
    right = unique_key(plan.right)
    if left and plan.kind in ("inner", "left") and right and set(right) <= set(plan.right_keys):
        return left  # each left row meets one right row at most
    if not (left and right):
        return []
    width = len(plan.left.schema)
    return [*left, *(width + k for k in right)]
