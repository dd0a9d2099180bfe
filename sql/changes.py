"""What kinds of change a plan's output can carry, and what that allows operators to keep.

A plan is insert-only when its rows are never retracted: it reads only sources and tables with
a watermark (append-only streams) through filters, projections, window assignment (tumble, hop,
cumulate; a session's rows move when sessions merge) and UNION ALL. Over an insert-only input,
MIN and MAX need no multiset of values: the running extreme is enough, as for COUNT/SUM/AVG.
COUNT(DISTINCT x) is accumulated under any input, as a count per (group, x) pair.
"""

from __future__ import annotations

from sqlglot import exp

from tidal.sql.aggregates import INVERTIBLE
from tidal.sql.plan import Aggregate, Filter, Plan, Project, Scan, SetOp, WindowTVF

# Types whose MIN/MAX an accumulator keeps (as 64-bit numbers).
_EXTREME_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE", "DATE")
_EXTREME_PREFIXES = ("TIMESTAMP", "DECIMAL")


def insert_only(plan: Plan) -> bool:
    if isinstance(plan, Scan):
        return plan.kind == "source" or (plan.kind == "table" and plan.watermark is not None)
    if isinstance(plan, Filter):
        return not plan.predicate.find(exp.CurrentTimestamp) and insert_only(plan.input)
    if isinstance(plan, Project) or (isinstance(plan, WindowTVF) and plan.kind != "session"):
        return insert_only(plan.input)
    if isinstance(plan, SetOp) and plan.kind == "union" and plan.all:
        return insert_only(plan.left) and insert_only(plan.right)
    return False


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
