"""ASOF joins (DuckDB's): the plan node, and building it from an ``ASOF [LEFT] JOIN ... ON``.

``FROM trades t ASOF JOIN quotes q ON t.sym = q.sym AND t.ts >= q.ts`` pairs each left row with
the one right row of equal keys whose ``ts`` is the greatest at or below the left's (``>``:
below; ``<=`` and ``<``: the least at or above, above). ``ASOF LEFT JOIN`` keeps a left row
without a match, padded with NULLs. NULL keys and NULL times never match.

Where several right rows tie on the keys and the time, DuckDB picks one of them arbitrarily;
tidal picks the least of them by their other columns, ascending, in the engine and in the
lowering alike, so that a view always equals its batch answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from tidal.sql.errors import SqlError, unsupported
from tidal.sql.joins import drop_helper_columns, key_columns, split_sides
from tidal.sql.plan import Field, Plan, conjunction, conjuncts
from tidal.sql.typeinfer import TypeInference

# ``left op right`` for each comparison, and the same comparison read right to left.
_OPERATORS = {exp.GTE: ">=", exp.GT: ">", exp.LTE: "<=", exp.LT: "<"}
_FLIPPED = {">=": "<=", ">": "<", "<=": ">=", "<": ">"}


@dataclass(frozen=True)
class AsofJoin(Plan):
    """Each left row with the right row of equal keys (``left_keys[i] = right_keys[i]``) that
    is nearest by ``left[left_time] op right[right_time]``; ``kind`` is ``inner`` or ``left``.
    The output has the left columns then the right ones."""

    left: Plan
    right: Plan
    kind: str
    left_keys: tuple[int, ...]
    right_keys: tuple[int, ...]
    left_time: int
    right_time: int
    op: str  # >=, >, <=, <: the left time compared with the right time
    schema: tuple[Field, ...]

    def children(self) -> tuple[Plan, ...]:
        return (self.left, self.right)

    def describe(self) -> str:
        """The node's line in EXPLAIN."""
        names = [f.name for f in self.left.schema], [f.name for f in self.right.schema]
        keys = ", ".join(
            f"{names[0][a]} = {names[1][b]}" for a, b in zip(self.left_keys, self.right_keys)
        )
        time = f"{names[0][self.left_time]} {self.op} {names[1][self.right_time]}"
        return f"AsofJoin {self.kind} keys=[{keys}] {time}"


def make_asof_join(
    left: Plan, right: Plan, kind: str, condition: exp.Expression | None, infer: TypeInference
) -> Plan:
    """An AsofJoin of ``left`` and ``right``; ``condition`` reads left columns then right
    columns, and must be equalities between the sides and exactly one inequality."""
    if kind not in ("inner", "left"):
        raise unsupported(f"ASOF {kind.upper()} JOIN (ASOF JOIN and ASOF LEFT JOIN are supported)")
    if condition is None:
        raise SqlError("ASOF JOIN needs an ON or USING condition with one inequality")
    width = len(left.schema)
    pairs, inequalities = [], []
    for part in conjuncts(condition):
        pair = _sides(part, width)
        if pair is None:
            raise unsupported(
                f"{part.sql(dialect='duckdb')} in ASOF JOIN ... ON: only equalities and one "
                "inequality (>=, >, <=, <) between a left and a right expression"
            )
        (pairs if isinstance(part, exp.EQ) else inequalities).append(pair)
    if len(inequalities) != 1:
        raise SqlError(
            "ASOF JOIN ... ON needs exactly one inequality (>=, >, <=, <) between the sides, "
            f"found {len(inequalities)}"
        )
    (left_time, right_time, op) = inequalities[0]
    right_width = len(right.schema)
    left_positions, right_positions, left, right = key_columns(
        left, right, width, [(a, b) for a, b, _ in pairs] + [(left_time, right_time)], infer
    )
    extra_left = len(left.schema) - width
    extra_right = len(right.schema) - right_width
    join = AsofJoin(
        left,
        right,
        kind,
        tuple(left_positions[:-1]),
        tuple(right_positions[:-1]),
        left_positions[-1],
        right_positions[-1],
        op,
        left.schema + right.schema,
    )
    return drop_helper_columns(join, width, extra_left, right_width, extra_right)


def _sides(part: exp.Expression, width: int):
    """``(left expression, right expression, op)`` for a comparison of one side with the other
    (the right one remapped to the right input's positions), else None."""
    op = _OPERATORS.get(type(part), "=" if isinstance(part, exp.EQ) else None)
    sides = None if op is None else split_sides(part, width)
    if sides is None:
        return None
    left, right, swapped = sides
    return left, right, _FLIPPED.get(op, op) if swapped else op


def asof_using(condition: exp.Expression) -> exp.Expression:
    """``ASOF JOIN ... USING (k, t)``'s condition: equal keys, then ``left.t >= right.t``."""
    parts = conjuncts(condition)
    last = parts[-1]
    parts[-1] = exp.GTE(this=last.this, expression=last.expression)
    return conjunction(parts)
