"""Temporal filter: rows whose visibility depends on the clock (tidal.sql.temporal).

``ts > now() - INTERVAL '1' HOUR``: a row is visible until the clock reaches ts + 1 hour, then it
is retracted. ``ts <= now() - INTERVAL '5' MINUTE``: a row is held back until it is old enough,
then inserted. The clock only moves forward, so a row's visibility changes at most twice; state
holds only the rows whose visibility can still change (visible rows that will expire, rows
waiting to appear).

The clock is the tick's processing time, passed with the watermarks under ``NOW``.

    ts > now() - 10s, now = 00:00:05:  (a, 00:00:01, +1)  ->  (a, 00:00:01, +1)
    later, now = 00:00:11:                               ->  (a, 00:00:01, -1)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from tidal.engine.operators.base import Operator, change_schema
from tidal.engine.watermarks import NOW, micros
from tidal.engine.zset import concat, consolidate, negate
from tidal.sql.plan import Plan
from tidal.sql.temporal import TemporalCondition

_COMPARE = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal}


class TemporalFilterOperator(Operator):
    def __init__(self, node: Plan, conditions: list[TemporalCondition]) -> None:
        self.schema = change_schema(node.schema)
        self.conditions = conditions
        self.arrived = self.empty()  # this tick's input, judged at on_watermark
        self.held = self.empty()
        self.now: int | None = None

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        (delta,) = inputs
        if delta.num_rows:
            self.arrived = concat([self.arrived, delta], self.schema)
        return self.empty()

    def on_watermark(self, watermarks: Mapping[str, int | None]) -> pa.Table | None:
        now = watermarks.get(NOW)
        if now is None:
            return None
        before, self.now = self.now, now
        out = []
        if before is not None and self.held.num_rows:
            was, is_ = self._visible(self.held, before), self._visible(self.held, now)
            out.append(self.held.filter(pa.array(is_ & ~was)))
            out.append(negate(self.held.filter(pa.array(was & ~is_))))
        arrived, self.arrived = self.arrived, self.empty()
        if arrived.num_rows:
            out.append(arrived.filter(pa.array(self._visible(arrived, now))))
            self.held = concat([self.held, arrived], self.schema)
        if self.held.num_rows:
            self.held = consolidate(self.held)
            self.held = self.held.filter(pa.array(~self._settled(self.held, now)))
        return concat(out, self.schema)

    def _visible(self, rows: pa.Table, now: int) -> np.ndarray:
        visible = np.ones(rows.num_rows, dtype=bool)
        for c in self.conditions:
            times = micros(rows.column(c.column))
            null = times == np.iinfo(np.int64).min
            visible &= _COMPARE[c.op](times + c.shift, now) & ~null
        return visible

    def _settled(self, rows: pa.Table, now: int) -> np.ndarray:
        """Rows whose visibility can no longer change as the clock moves on: those an expiring
        condition already rejects (for good), and visible rows with nothing left to expire."""
        expired = np.zeros(rows.num_rows, dtype=bool)
        for c in self.conditions:
            times = micros(rows.column(c.column))
            expired |= times == np.iinfo(np.int64).min  # a NULL time is never visible
            if c.expires:
                expired |= ~_COMPARE[c.op](times + c.shift, now)
        if any(c.expires for c in self.conditions):
            return expired
        return expired | self._visible(rows, now)

    def snapshot(self) -> dict:
        # ``arrived`` too: without the clock in a tick's watermarks, rows wait there.
        return {"arrived": self.arrived, "held": self.held, "now": self.now}

    def restore(self, state: dict) -> None:
        self.arrived, self.held, self.now = state["arrived"], state["held"], state["now"]

    def state_rows(self) -> int:
        return self.held.num_rows
