"""The system relations: tidal's own state as read-only relations, computed when read.

    tidal_sources        per source (or table fed by a connector): rows, bytes, errors, lag
    tidal_source_errors  the newest problems sources met: where, what, when
    tidal_views          per view: materialized or not, rows held in its operators' state
    tidal_operators      per operator of every view and sink of a query: rows, time, state
    tidal_sinks          per sink: rows written, last tick, ticks staged, commit lag
    tidal_ticks          the recent ticks: when, how long, rows in and out

They are read like any table (``SELECT``, joins with user relations), from the embedded
Database and over pgwire alike; the catalog refuses DML, CREATE of their names and views over
them (tidal.catalog.catalog). Their rows come from the counters of tidal.engine.telemetry and
from the relation registry, fresh at each read (never from a snapshot).

    >>> from tidal.engine import Database
    >>> db = Database()
    >>> _ = db.execute("CREATE TABLE t (k INTEGER)")
    >>> _ = db.execute("CREATE MATERIALIZED VIEW c AS SELECT count(*) AS n FROM t")
    >>> _ = db.execute("INSERT INTO t VALUES (1), (2)")
    >>> db.execute("SELECT name, materialized, state_rows FROM tidal_views").to_pylist()
    [{'name': 'c', 'materialized': True, 'state_rows': 1}]
    >>> db.execute("SELECT tick, rows_in, rows_out FROM tidal_ticks").to_pylist()  # n: 0 out, 2 in
    [{'tick': 1, 'rows_in': 2, 'rows_out': 2}]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pyarrow as pa

from tidal.catalog import Catalog
from tidal.catalog.objects import Column, SystemRelation
from tidal.engine.memory import MemoryBudget
from tidal.engine.relations import Relations
from tidal.engine.telemetry import Telemetry

MICROS = 1_000_000


def _relation(name: str, columns: str) -> SystemRelation:
    """A system relation from ``"name TYPE, ..."``."""
    pairs = (column.split(maxsplit=1) for column in columns.split(","))
    return SystemRelation(name, tuple(Column(n, t) for n, t in pairs))


SOURCES = _relation(
    "tidal_sources",
    "name VARCHAR, kind VARCHAR, connector VARCHAR, rows BIGINT, bytes BIGINT, errors BIGINT, "
    "watermark TIMESTAMP, lag_seconds DOUBLE, idle BOOLEAN",
)
SOURCE_ERRORS = _relation(
    "tidal_source_errors", "source VARCHAR, location VARCHAR, problem VARCHAR, at TIMESTAMP"
)
VIEWS = _relation(
    "tidal_views",
    "name VARCHAR, materialized BOOLEAN, state_rows BIGINT, state_bytes BIGINT, definition VARCHAR",
)
OPERATORS = _relation(
    "tidal_operators",
    "view VARCHAR, operator VARCHAR, depth INTEGER, rows_in BIGINT, rows_out BIGINT, "
    "last_rows_in BIGINT, last_rows_out BIGINT, seconds DOUBLE, state_rows BIGINT, "
    "state_bytes BIGINT",
)
SINKS = _relation(
    "tidal_sinks",
    "name VARCHAR, connector VARCHAR, rows BIGINT, last_tick BIGINT, staged_ticks BIGINT, "
    "lag_seconds DOUBLE",
)
TICKS = _relation(
    "tidal_ticks",
    "tick BIGINT, started_at TIMESTAMP, seconds DOUBLE, rows_in BIGINT, rows_out BIGINT",
)
RELATIONS = (SOURCES, SOURCE_ERRORS, VIEWS, OPERATORS, SINKS, TICKS)


class SystemRelations:
    """Computes the system relations' rows from the registry and the counters (call under
    the engine's lock: it reads the dataflows). A view's ``state_bytes`` is as the memory
    budget last measured it (after every tick: tidal.engine.memory), so reading it is free."""

    def __init__(
        self, catalog: Catalog, relations: Relations, telemetry: Telemetry, memory: MemoryBudget
    ) -> None:
        self.catalog = catalog
        self.relations = relations
        self.telemetry = telemetry
        self.memory = memory
        self._rows: dict[str, Callable[[], Iterator[dict]]] = {
            SOURCES.name: self.sources,
            SOURCE_ERRORS.name: self.source_errors,
            VIEWS.name: self.views,
            OPERATORS.name: self.operators,
            SINKS.name: self.sinks,
            TICKS.name: self.ticks,
        }
        for relation in RELATIONS:
            catalog.add_system(relation)

    def rows(self, name: str) -> pa.Table:
        """A system relation's rows now, with its column names."""
        relation = self.catalog.get(name)
        return pa.Table.from_pylist(list(self._rows[relation.name]()), relation.arrow_schema())

    def sources(self) -> Iterator[dict]:
        now = self.telemetry.clock()
        event_times = self.relations.watermarks.relations
        for key, base in self.relations.bases.items():
            if base.reader is None:
                continue
            counts = self.telemetry.source(key, base.reader)
            event_time = event_times.get(key)
            watermark = event_time.watermark if event_time is not None else None
            yield {
                "name": base.relation.name,
                "kind": base.relation.kind,
                "connector": base.relation.option("connector"),
                "rows": counts.rows,
                "bytes": counts.bytes,
                "errors": counts.errors,
                "watermark": watermark,
                "lag_seconds": now - watermark / MICROS if watermark is not None else None,
                "idle": event_time.idle if event_time is not None else None,
            }

    def source_errors(self) -> Iterator[dict]:
        for problem in list(self.telemetry.errors):
            yield {
                "source": problem.source,
                "location": problem.location,
                "problem": problem.problem,
                "at": round(problem.at * MICROS),
            }

    def views(self) -> Iterator[dict]:
        held = dict(self.memory.usage.holders)
        for view in self.catalog.objects():
            if view.kind not in ("view", "materialized view"):
                continue
            entry = self.relations.views.get(view.name.lower())
            dataflow = entry.dataflow if entry is not None else None
            yield {
                "name": view.name,
                "materialized": view.materialized,
                "state_rows": dataflow.state_rows() if dataflow is not None else None,
                "state_bytes": held.get(f"view {view.name}") if view.materialized else None,
                "definition": view.definition,
            }

    def operators(self) -> Iterator[dict]:
        dataflows = [(v.view.name, v.dataflow) for v in self.relations.views.values()]
        dataflows += [(s.sink.name, s.dataflow) for s in self.relations.sinks.values()]
        for name, dataflow in dataflows:
            if dataflow is None:  # batch mode; a sink of a relation
                continue
            for stats in dataflow.operator_stats():
                yield {
                    "view": name,
                    "operator": stats.operator,
                    "depth": stats.depth,
                    "rows_in": stats.rows_in,
                    "rows_out": stats.rows_out,
                    "last_rows_in": stats.last_rows_in,
                    "last_rows_out": stats.last_rows_out,
                    "seconds": stats.seconds,
                    "state_rows": stats.state_rows,
                    "state_bytes": stats.state_bytes,
                }

    def sinks(self) -> Iterator[dict]:
        now = self.telemetry.clock()
        for sink in self.relations.sinks.values():
            # Staging writers (tidal.engine.connectors.base.SinkWriter.stages) keep the ticks
            # not published yet in ``staged``, oldest first, as (tick, changes).
            staged = list(getattr(sink.writer, "staged", ())) if sink.writer.stages else []
            started = self.telemetry.tick_started_at(staged[0][0]) if staged else None
            yield {
                "name": sink.sink.name,
                "connector": sink.sink.option("connector"),
                "rows": sink.rows_written,
                "last_tick": sink.last_tick or None,
                "staged_ticks": len(staged),
                "lag_seconds": now - started if started is not None else 0.0,
            }

    def ticks(self) -> Iterator[dict]:
        for tick in list(self.telemetry.ticks):
            yield {
                "tick": tick.tick,
                "started_at": round(tick.started_at * MICROS),
                "seconds": tick.seconds,
                "rows_in": tick.rows_in,
                "rows_out": tick.rows_out,
            }
