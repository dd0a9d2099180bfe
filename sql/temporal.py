"""Temporal filters: conditions that compare a timestamp column with the clock.

``WHERE ts > now() - INTERVAL '1' HOUR`` keeps the last hour of rows: a materialized view with it
is kept up to date as the clock moves, rows leaving it as they grow old (and with
``ts <= now() - INTERVAL '5' MINUTE``, rows entering it once they are old enough). Each such
condition is ``column [+/- interval] <op> now() [+/- interval]`` (either side first), and is
normalized to ``column + shift <op> now``. ``now()`` is the time of the tick, in UTC, from the
Database's clock; batch evaluation substitutes the same instant (``at_time``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from tidal.sql.intervals import duration_us
from tidal.sql.plan import Filter, Plan, conjunction, conjuncts, ref_index

_FLIPPED = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE}
_OPS = {exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}


@dataclass(frozen=True)
class TemporalCondition:
    """``column + shift <op> now`` (shift in microseconds; op one of > >= < <=)."""

    column: int
    shift: int
    op: str

    @property
    def expires(self) -> bool:
        """True for a lower bound on the column (``>``/``>=``): rows leave as the clock passes."""
        return self.op in (">", ">=")


def split_temporal(
    predicate: exp.Expression,
) -> tuple[list[TemporalCondition], exp.Expression | None]:
    """A filter's temporal conditions, and the rest of its predicate (None if nothing is left)."""
    temporal, rest = [], []
    for part in conjuncts(predicate):
        condition = _temporal(part)
        if condition is None:
            rest.append(part)
        else:
            temporal.append(condition)
    return temporal, conjunction(rest)


def _temporal(node: exp.Expression) -> TemporalCondition | None:
    kind = type(node)
    if kind not in _OPS:
        return None
    left, right = _shifted(node.this), _shifted(node.expression)
    if left is None or right is None:
        return None
    if left[0] == "now" and right[0] != "now":
        left, right, kind = right, left, _FLIPPED[kind]
    if left[0] == "now" or right[0] != "now":
        return None
    return TemporalCondition(left[0], _micros(left[1]) - _micros(right[1]), _OPS[kind])


def _shifted(node: exp.Expression) -> tuple[int | str, exp.Expression | None] | None:
    """``c`` / ``now()`` with an optional ``+/- INTERVAL``: (column or "now", the shift). The
    shift is measured only once the condition is known to be temporal: ``d < DATE '...' +
    INTERVAL '3' MONTH`` is a plain condition, months and all."""
    while isinstance(node, exp.Paren):
        node = node.this
    shift = None
    if isinstance(node, (exp.Add, exp.Sub)) and isinstance(node.expression, exp.Interval):
        shift = node.expression if isinstance(node, exp.Add) else exp.Neg(this=node.expression)
        node = node.this
    if isinstance(node, exp.CurrentTimestamp):
        return "now", shift
    if isinstance(node, exp.Column):
        return ref_index(node), shift
    return None


def _micros(shift: exp.Expression | None) -> int:
    if shift is None:
        return 0
    if isinstance(shift, exp.Neg):
        return -duration_us(shift.this, "a temporal filter's interval")
    return duration_us(shift, "a temporal filter's interval")


def is_temporal(filter_: Filter) -> bool:
    return bool(split_temporal(filter_.predicate)[0])


def at_time(plan: Plan, now_us: int) -> Plan:
    """``plan`` with every ``now()`` replaced by the instant ``now_us`` (for batch evaluation)."""

    def visit(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.CurrentTimestamp):
            # exact to the microsecond (a float of seconds is not)
            return exp.Add(
                this=exp.func("to_timestamp", exp.Literal.number(0)),
                expression=exp.func("to_microseconds", exp.Literal.number(now_us)),
            )
        return node

    def rewrite(node: Plan) -> Plan:
        children = tuple(rewrite(c) for c in node.children())
        node = node.with_children(children)
        if isinstance(node, Filter) and node.predicate.find(exp.CurrentTimestamp):
            return Filter(node.input, node.predicate.transform(visit))
        return node

    return rewrite(plan)
