"""Statistics of a Database: per relation, the state it holds and how far its connector got.

``Database.stats()`` gathers them as frozen values, for benchmarks and monitoring. Counting
rows, positions and late rows is cheap. ``held_bytes`` walks the state as it is held;
``state_bytes`` consolidates every relation's contents and snapshots every operator, so it
costs about as much as reading every view: ask for it after measuring anything else.

    >>> from tidal.engine import Database
    >>> db = Database()
    >>> _ = db.execute("CREATE TABLE t (k INTEGER, v INTEGER)")
    >>> _ = db.execute("CREATE MATERIALIZED VIEW s AS SELECT k, sum(v) AS total FROM t GROUP BY k")
    >>> _ = db.execute("INSERT INTO t VALUES (1, 10), (1, 5), (2, 7)")
    >>> stats = db.stats()
    >>> stats.ticks, stats["t"].kind, stats["s"].kind, stats["s"].state_rows
    (1, 'table', 'materialized view', 2)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from tidal.engine.collection import Collection
from tidal.engine.connectors import SinkWriter, SourceReader
from tidal.engine.dataflow import Dataflow
from tidal.engine.watermarks import EventTime

TABLE, SOURCE, VIEW, SINK = "table", "source", "materialized view", "sink"


@dataclass(frozen=True)
class RelationStats:
    """One table, source, materialized view or sink.

    ``state_rows``: rows held in its operators' state (views, sinks of a query; else None).
    ``held_bytes``: Arrow bytes held as they are, before any consolidation: the change batches
    appended to its contents, its arrangements' runs with their key hashes, tables operators
    keep (None unless asked for). ``state_bytes``: the same state consolidated: the contents'
    rows and every operator's snapshot (None unless asked for). ``position``: its connector's
    position as the connector states it (``snapshot()``: rows generated, file offsets, rows
    written). ``late_rows`` and ``watermark`` (microseconds): for relations with a watermark.
    """

    name: str
    kind: str
    state_rows: int | None = None
    held_bytes: int | None = None
    state_bytes: int | None = None
    position: Mapping[str, object] | None = None
    late_rows: int | None = None
    watermark: int | None = None


@dataclass(frozen=True)
class DatabaseStats:
    """The ticks run so far, and every relation's stats in creation order."""

    ticks: int
    relations: tuple[RelationStats, ...]

    def __getitem__(self, name: str) -> RelationStats:
        """A relation's stats by name (any case); KeyError if there is none."""
        for relation in self.relations:
            if relation.name.lower() == name.lower():
                return relation
        raise KeyError(name)

    def __contains__(self, name: str) -> bool:
        return any(relation.name.lower() == name.lower() for relation in self.relations)

    def of_kind(self, *kinds: str) -> Iterator[RelationStats]:
        return (relation for relation in self.relations if relation.kind in kinds)


class StoredRelation(Protocol):
    """A table or source as the Database keeps it (contents None: it retains no rows)."""

    contents: Collection | None
    reader: SourceReader | None


class MaterializedView(Protocol):
    """A materialized view as the Database keeps it (no dataflow in batch mode; no contents
    when an operator's state holds its rows)."""

    contents: Collection | None
    dataflow: Dataflow | None


class SinkEntry(Protocol):
    """A sink as the Database keeps it (a dataflow if it is a sink of a query)."""

    writer: SinkWriter
    dataflow: Dataflow | None


def database_stats(
    ticks: int,
    stored: Mapping[str, StoredRelation],
    views: Mapping[str, MaterializedView],
    sinks: Mapping[str, SinkEntry],
    event_times: Mapping[str, EventTime],
    held_bytes: bool = False,
    state_bytes: bool = False,
) -> DatabaseStats:
    """The stats of every relation, named in lower case as the Database keys them. The bytes
    held are measured for all of them before anything is consolidated for ``state_bytes``."""
    parts = [
        *(_Parts(n, _stored_kind(e), e.contents, None, e.reader) for n, e in stored.items()),
        *(_Parts(n, VIEW, e.contents, e.dataflow, None) for n, e in views.items()),
        *(_Parts(n, SINK, None, e.dataflow, e.writer) for n, e in sinks.items()),
    ]
    held = [part.held_bytes() if held_bytes else None for part in parts]
    relations = []
    for part, held_now in zip(parts, held):
        event_time = event_times.get(part.name)
        relations.append(
            RelationStats(
                part.name,
                part.kind,
                state_rows=part.dataflow.state_rows() if part.dataflow is not None else None,
                held_bytes=held_now,
                state_bytes=part.state_bytes() if state_bytes else None,
                position=part.connector.snapshot() if part.connector is not None else None,
                late_rows=event_time.late_rows if event_time is not None else None,
                watermark=event_time.watermark if event_time is not None else None,
            )
        )
    return DatabaseStats(ticks, tuple(relations))


def _stored_kind(relation: StoredRelation) -> str:
    return TABLE if relation.reader is None else SOURCE


@dataclass(frozen=True)
class _Parts:
    """What a relation holds: rows (contents), operator state (dataflow), a connector."""

    name: str
    kind: str
    contents: Collection | None
    dataflow: Dataflow | None
    connector: SourceReader | SinkWriter | None

    def held_bytes(self) -> int:
        held = self.contents.held_bytes() if self.contents is not None else 0
        return held + (self.dataflow.held_bytes() if self.dataflow is not None else 0)

    def state_bytes(self) -> int:
        """The state in Arrow bytes: the contents' rows and every operator's snapshot (what a
        checkpoint writes: arrangements' runs as they are, so retractions not merged away
        yet count too; aggregate accumulators). Consolidates the contents."""
        total = self.contents.rows().nbytes if self.contents is not None else 0
        return total + (_arrow_bytes(self.dataflow.snapshot()) if self.dataflow is not None else 0)


def _arrow_bytes(value: object) -> int:
    """The Arrow bytes of a snapshot: tables and arrays, and dicts or lists of them."""
    if isinstance(value, (pa.Table, pa.Array, pa.ChunkedArray)):
        return value.nbytes
    if isinstance(value, dict):
        return sum(_arrow_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_arrow_bytes(v) for v in value)
    return 0
