"""The operator interface: one required method, ``step``, as in Arroyo.

Every stream between operators is a Z-set change batch (tidal.engine.zset): columns ``c0``..
``cN`` in the plan node's output order, plus ``__weight``. ``step`` receives one change batch per
input for the current tick and returns the node's output changes for that tick. Then
``on_watermark`` receives the relations' watermarks as of the tick: operators that keep state by
event time drop what has become final, and may emit more changes (closed windows).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from tidal.catalog import types
from tidal.engine.arrangement import Arrangement
from tidal.engine.zset import WEIGHT
from tidal.sql.plan import Field, Plan, SetOp


def change_schema(fields: tuple[Field, ...]) -> pa.Schema:
    """The Arrow schema of a change batch for rows with ``fields``."""
    return pa.schema(
        [pa.field(f"c{i}", types.to_arrow(f.type)) for i, f in enumerate(fields)]
        + [pa.field(WEIGHT, pa.int64())]
    )


class Operator:
    """A dataflow node. ``schema`` is the Arrow schema of its output change batches."""

    schema: pa.Schema

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        raise NotImplementedError

    def on_watermark(self, watermarks: Mapping[str, int | None]) -> pa.Table | None:
        """Changes released by the watermarks (relation name -> microseconds), if any."""
        return None

    def snapshot(self) -> dict:
        """The operator's state, to be restored by ``restore`` (stateless operators keep none)."""
        return {}

    def restore(self, state: dict) -> None:
        pass

    def output_rows(self) -> pa.Table | None:
        """The operator's whole current output (consolidated), if its state holds it; else None.

        A materialized view whose result such an operator holds is read from it rather than
        keeping a second copy of its rows.
        """
        return None

    def state_rows(self) -> int:
        """Rows held in state, for EXPLAIN ANALYZE and benchmarks."""
        return 0

    def keeps_state(self) -> bool:
        """Whether it holds rows between ticks: those that do say how many (``state_rows``)."""
        return type(self).state_rows is not Operator.state_rows

    def kind(self, node: Plan) -> str:
        """What it is, for EXPLAIN ANALYZE: its class's name without "Operator"; a generic
        keyed recompute is named after its plan node (``RecomputeDistinct``, ``RecomputeUnion``)."""
        name = type(self).__name__.removesuffix("Operator")
        if name != "Recompute":
            return name
        return name + (node.kind.title() if isinstance(node, SetOp) else type(node).__name__)

    def held_bytes(self) -> int:
        """The bytes held in state as they are, before any consolidation (for ``stats()`` and
        the memory budget): the arrangements, Arrow tables and arrays, and numpy arrays among
        the operator's attributes, directly, in lists and dicts, or in the engine's objects
        that hold them (a group index, moments)."""
        return sum(_held_bytes(value, set()) for value in vars(self).values())

    def empty(self) -> pa.Table:
        return self.schema.empty_table()


def _held_bytes(value: object, seen: set[int]) -> int:
    if isinstance(value, Arrangement):
        return value.held_bytes()
    if isinstance(value, (pa.Table, pa.Array, pa.ChunkedArray, np.ndarray)):
        return value.nbytes
    if id(value) in seen:  # an object reached twice counts once
        return 0
    seen.add(id(value))
    if isinstance(value, (list, tuple)):
        return sum(_held_bytes(v, seen) for v in value)
    if isinstance(value, dict):
        return sum(_held_bytes(v, seen) for v in value.values())
    if type(value).__module__.startswith("tidal.engine") and hasattr(value, "__dict__"):
        return sum(_held_bytes(v, seen) for v in vars(value).values())
    return 0
