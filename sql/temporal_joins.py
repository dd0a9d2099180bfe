"""Temporal (lookup) joins: ``s JOIN t FOR SYSTEM_TIME AS OF PROCTIME() ON s.k = t.k``.

RisingWave's and Flink's processing-time temporal join: each row of the stream ``s`` is joined
with the rows ``t`` has when it arrives, and later changes to ``t`` do not change the rows
already joined. That is the point (a lookup of a dimension at the time of the event), and the
reason a maintained view of it is not a recomputation: the view's rows are, for each stream
row, the join with ``t`` as it was at the end of the tick that row arrived in (a view created
later starts from ``t`` as it is then, for the stream rows that exist). A query run once
(``SELECT``, batch mode) has one version of ``t``, the current one, and is the plain join.

The stream must be insert-only (a source, an ``APPEND ONLY`` table or one with a watermark),
as in RisingWave: a retraction could not find what its row was joined with. The join is
``[INNER]`` or ``LEFT`` with at least one equality between the sides.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from tidal.sql.plan import Field, Plan


@dataclass(frozen=True)
class TemporalJoin(Plan):
    """A Join (same fields) whose right side is looked up as of each left row's arrival."""

    left: Plan
    right: Plan
    kind: str
    left_keys: tuple[int, ...]
    right_keys: tuple[int, ...]
    condition: exp.Expression | None
    schema: tuple[Field, ...]

    def children(self) -> tuple[Plan, ...]:
        return (self.left, self.right)

    def describe(self) -> str:
        """The node's line in EXPLAIN."""
        pairs = ", ".join(
            f"{self.left.schema[a].name} = {self.right.schema[b].name}"
            for a, b in zip(self.left_keys, self.right_keys)
        )
        residual = " with a condition" if self.condition is not None else ""
        return f"TemporalJoin {self.kind} keys=[{pairs}]{residual} (lookup as of arrival)"
