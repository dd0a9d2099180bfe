"""Watermarks of tables and sources, and the late rows they hold back.

A relation declared ``WATERMARK FOR ts AS ts - delay`` has a watermark: the largest ``ts`` applied
so far minus the delay (None before the first row). It advances at tick boundaries only. At the
start of a tick, a row whose ``ts`` is below the watermark (or NULL) is late: it reaches no
table contents and no view. Late rows are counted per relation and, with the option
``late_table = 'name'``, appended to that table (same columns), where they can be queried.

An idle relation must not hold back views that also read busier ones: with
``watermark_idle_timeout = '30 s'``, a relation that has had no rows for that long (by the
clock) takes the largest watermark of the busy relations, if that is ahead of its own. Its own
late rows are then judged by that watermark, so nothing a view has closed is ever changed.

A source read from several partitions (Kafka) gives its own ``bound`` instead: the newest event
time all its partitions have reached (each partition's largest, the smallest of those), leaving
out partitions idle for ``watermark_idle_timeout``; the watermark follows that bound, so a
partition that lags behind holds it back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidal.catalog.objects import Source, Table
from tidal.sql.errors import SqlError
from tidal.sql.intervals import duration_seconds

IDLE_TIMEOUT = "watermark_idle_timeout"
# The key of the tick's processing time (microseconds since the epoch, UTC) among the watermarks
# operators receive: temporal filters compare rows with it.
NOW = "now()"
LATE_TABLE = "late_table"


def micros(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Timestamps as int64 microseconds since the epoch (NULL as the smallest int64)."""
    unit_type = pa.timestamp("us", tz=column.type.tz)
    as_micros = pc.cast(column, unit_type, safe=False).cast(pa.int64())
    return pc.fill_null(as_micros, np.iinfo(np.int64).min).to_numpy()


def to_timestamps(
    values: np.ndarray, arrow_type: pa.DataType, null: np.ndarray | None = None
) -> pa.Array:
    """int64 microseconds as timestamps of ``arrow_type`` (NULL where ``null``)."""
    micros_type = pa.timestamp("us", tz=arrow_type.tz)
    mask = null if null is not None and null.any() else None
    return pa.array(values, micros_type, mask=mask).cast(arrow_type, safe=False)


@dataclass
class EventTime:
    """One relation's event time: its column, delay, watermark and late-row count."""

    column: int
    delay: int
    idle_timeout: float | None = None
    late_table: str | None = None
    watermark: int | None = None
    late_rows: int = 0
    last_rows_at: float = 0.0
    idle: bool = False
    # (clock, idle timeout) -> the newest event time (microseconds) the source vouches for,
    # None while it cannot say; set for sources read from several partitions.
    bound: Callable[[float, float | None], int | None] | None = None

    @classmethod
    def of(cls, relation: Table | Source) -> EventTime:
        """From the relation's WATERMARK FOR clause and its event-time options."""
        names = [c.name.lower() for c in relation.columns]
        timeout = relation.option(IDLE_TIMEOUT)
        late_table = relation.option(LATE_TABLE)
        if late_table is not None and not late_table.strip():
            raise SqlError("late_table names the table for late rows: it cannot be empty")
        return cls(
            names.index(relation.watermark.column.lower()),
            relation.watermark.delay,
            duration_seconds(timeout, f"option {IDLE_TIMEOUT} =") if timeout is not None else None,
            late_table,
        )


class Watermarks:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.relations: dict[str, EventTime] = {}

    def add(self, name: str, event_time: EventTime) -> None:
        event_time.last_rows_at = self.clock()
        self.relations[name.lower()] = event_time

    def remove(self, name: str) -> None:
        self.relations.pop(name.lower(), None)

    def values(self) -> dict[str, int | None]:
        """Each relation's watermark, and the clock under ``NOW``."""
        values: dict[str, int | None] = {n: e.watermark for n, e in self.relations.items()}
        values[NOW] = int(self.clock() * 1_000_000)
        return values

    def split_late(self, name: str, delta: pa.Table) -> tuple[pa.Table, pa.Table | None]:
        """``delta`` (insertions) as its on-time rows and its late rows (None if none)."""
        event_time = self.relations.get(name)
        if event_time is None or delta.num_rows == 0:
            return delta, None
        event_time.last_rows_at = self.clock()
        event_time.idle = False
        times = micros(delta.column(event_time.column))
        late = times == np.iinfo(np.int64).min  # NULL event time: never placeable in time
        if event_time.watermark is not None:
            late |= times < event_time.watermark
        if not late.any():
            return delta, None
        event_time.late_rows += int(late.sum())
        return delta.filter(pa.array(~late)), delta.filter(pa.array(late))

    def advance(self, deltas: dict[str, pa.Table]) -> bool:
        """Move each relation's watermark past the on-time rows of this tick, then let idle
        relations catch up with the busy ones; True if any watermark moved."""
        before = self.values()
        now = self.clock()
        for name, event_time in self.relations.items():
            delta = deltas.get(name)
            if event_time.bound is not None:
                newest = event_time.bound(now, event_time.idle_timeout)
            elif delta is not None and delta.num_rows:
                newest = int(micros(delta.column(event_time.column)).max())
            else:
                continue
            if newest is None:
                continue
            newest -= event_time.delay
            if event_time.watermark is None or newest > event_time.watermark:
                event_time.watermark = newest
        busy = [
            e.watermark
            for e in self.relations.values()
            if e.watermark is not None and not self._idle(e, now)
        ]
        for event_time in self.relations.values():
            if busy and self._idle(event_time, now):
                event_time.idle = True
                if event_time.watermark is None or event_time.watermark < max(busy):
                    event_time.watermark = max(busy)
        after = self.values()
        return any(after[name] != before[name] for name in self.relations)

    @staticmethod
    def _idle(event_time: EventTime, now: float) -> bool:
        timeout = event_time.idle_timeout
        return timeout is not None and now - event_time.last_rows_at >= timeout

    def snapshot(self) -> dict[str, tuple]:
        return {
            name: (e.watermark, e.late_rows, e.last_rows_at, e.idle)
            for name, e in self.relations.items()
        }

    def restore(self, state: dict[str, tuple]) -> None:
        for name, (watermark, late_rows, last_rows_at, idle) in state.items():
            if name in self.relations:
                e = self.relations[name]
                e.watermark, e.late_rows, e.last_rows_at, e.idle = (
                    watermark,
                    late_rows,
                    last_rows_at,
                    idle,
                )
