"""Building Join nodes from a join condition: equi-keys, pushed-down filters and a residual."""

from __future__ import annotations

from sqlglot import exp

from tidal.sql.plan import (
    Field,
    Filter,
    Join,
    Plan,
    Project,
    cast,
    conjunction,
    conjuncts,
    ref,
    ref_index,
    referenced,
    remap,
)
from tidal.sql.typeinfer import TypeInference

# Which join kinds let a condition on only one side filter that side before the join.
_PUSH_LEFT = {"inner", "right", "semi"}
_PUSH_RIGHT = {"inner", "left", "semi", "anti"}


def make_join(
    left: Plan, right: Plan, kind: str, condition: exp.Expression | None, infer: TypeInference
) -> Plan:
    """A Join of ``left`` and ``right``; ``condition`` reads left columns then right columns.

    The output has the left columns then the right ones (only the left for semi and anti joins).
    """
    width = len(left.schema)
    left_only, right_only, pairs, residual = [], [], [], []
    for part in conjuncts(condition):
        positions = referenced(part)
        pair = _equi_pair(part, width)
        if pair is not None:
            pairs.append(pair)
        elif positions and max(positions) < width and kind in _PUSH_LEFT:
            left_only.append(part)
        elif positions and min(positions) >= width and kind in _PUSH_RIGHT:
            right_only.append(remap(part, lambda i: i - width))
        else:
            residual.append(part)
    if left_only:
        left = Filter(left, conjunction(left_only))
    if right_only:
        right = Filter(right, conjunction(right_only))
    right_width = len(right.schema)
    left_keys, right_keys, left, right = key_columns(left, right, width, pairs, infer)
    extra_left = len(left.schema) - width
    extra_right = len(right.schema) - right_width
    condition = conjunction(
        [remap(p, lambda i: i if i < width else i + extra_left) for p in residual]
    )
    fields = left.schema if kind in ("semi", "anti") else left.schema + right.schema
    join = Join(left, right, kind, tuple(left_keys), tuple(right_keys), condition, fields)
    return drop_helper_columns(join, width, extra_left, right_width, extra_right)


def _equi_pair(part: exp.Expression, width: int) -> tuple[exp.Expression, exp.Expression] | None:
    """``l = r`` with each side reading one input only, as (left expression, right expression)."""
    sides = split_sides(part, width) if isinstance(part, exp.EQ) else None
    return None if sides is None else sides[:2]


def split_sides(part: exp.Binary, width: int) -> tuple[exp.Expression, exp.Expression, bool] | None:
    """A comparison of the left input (columns below ``width``) with the right one, as (left
    expression, right expression remapped to the right input's positions, whether the
    operands were swapped to get there), or None if a side reads both inputs or neither."""
    a, b = part.this, part.expression
    side_a, side_b = referenced(a), referenced(b)
    if not side_a or not side_b:
        return None
    if max(side_a) < width <= min(side_b):
        return a, remap(b, lambda i: i - width), False
    if max(side_b) < width <= min(side_a):
        return b, remap(a, lambda i: i - width), True
    return None


def key_columns(left: Plan, right: Plan, width: int, pairs, infer: TypeInference):
    """Key positions on each side, projecting expressions or casts into extra columns as needed."""
    left_extra: list[exp.Expression] = []
    right_extra: list[exp.Expression] = []
    left_keys, right_keys = [], []
    for left_expr, right_expr in pairs:
        (left_type,) = infer.infer([left_expr], left.schema)
        (right_type,) = infer.infer([right_expr], right.schema)
        if left_type != right_type:
            common = infer.common_type(left_type, right_type)
            left_expr = _cast(left_expr, left_type, common)
            right_expr = _cast(right_expr, right_type, common)
        left_keys.append(_position(left_expr, left, left_extra))
        right_keys.append(_position(right_expr, right, right_extra))
    left = _append(left, left_extra, infer)
    right = _append(right, right_extra, infer)
    return left_keys, right_keys, left, right


def _cast(expression: exp.Expression, have: str, want: str) -> exp.Expression:
    return expression if have == want else cast(expression, want)


def _position(expression: exp.Expression, side: Plan, extra: list[exp.Expression]) -> int:
    if isinstance(expression, exp.Column):
        return ref_index(expression)
    extra.append(expression)
    return len(side.schema) + len(extra) - 1


def _append(plan: Plan, extra: list[exp.Expression], infer: TypeInference) -> Plan:
    if not extra:
        return plan
    types = infer.infer(extra, plan.schema)
    exprs = tuple(ref(i) for i in range(len(plan.schema))) + tuple(extra)
    fields = plan.schema + tuple(Field(f"__key{i}", t) for i, t in enumerate(types))
    return Project(plan, exprs, fields)


def drop_helper_columns(
    join: Join, width: int, extra_left: int, right_width: int, extra_right: int
) -> Plan:
    """Project away the key columns ``_append`` added, restoring the join's natural output."""
    if not extra_left and not extra_right:
        return join
    keep = list(range(width))
    if join.kind not in ("semi", "anti"):
        keep += [width + extra_left + i for i in range(right_width)]
    return Project(join, tuple(ref(i) for i in keep), tuple(join.schema[i] for i in keep))


def key_condition(join: Join) -> exp.Expression | None:
    """A join's key pairs as a condition over (left columns, right columns)."""
    width = len(join.left.schema)
    return conjunction(
        [
            exp.EQ(this=ref(a), expression=ref(width + b))
            for a, b in zip(join.left_keys, join.right_keys)
        ]
    )
