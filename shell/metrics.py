"""``/metrics``: the engine's counters in Prometheus text, for ``--metrics-port``.

    tidal serve --init pipeline.sql --metrics-port 9187
    curl -s http://127.0.0.1:9187/metrics | grep tidal_source_rows_total

A custom collector reads the counters (tidal.engine.telemetry) and the registry at scrape
time: no second set of counters to keep in step. prometheus_client writes the exposition
format and serves it from a thread of its own. The names are in docs/operations.md.

    >>> from tidal.engine import Database
    >>> from prometheus_client import CollectorRegistry, generate_latest
    >>> db = Database()
    >>> _ = db.execute("CREATE TABLE t (k INTEGER)")
    >>> _ = db.execute("INSERT INTO t VALUES (1)")
    >>> registry = CollectorRegistry()
    >>> registry.register(EngineCollector(db))
    >>> print([l for l in generate_latest(registry).decode().splitlines() if "ticks_total" in l])
    ['# HELP tidal_ticks_total Ticks completed since the start', '# TYPE tidal_ticks_total counter', 'tidal_ticks_total 1.0']
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from tidal.engine import Database
from tidal.engine.telemetry import TICK_BUCKETS

# A scrape waits this long for a running tick to end before it leaves out what needs the
# engine held still (per source, view and sink); the engine-wide counters are always there.
LOCK_SECONDS = 2.0
COUNTER, GAUGE = CounterMetricFamily, GaugeMetricFamily


class EngineCollector:
    """Everything ``/metrics`` shows of one Database, computed at each scrape."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        telemetry = self.db.telemetry
        ticks = telemetry.tick_count  # read once: ticks complete while a scrape runs
        yield _tick_histogram(telemetry, ticks)
        yield _counter("ticks", "Ticks completed since the start", ticks)
        yield from self._clients()
        checkpoints = telemetry.checkpoints
        yield _counter("checkpoints", "Checkpoints written since the start", checkpoints.count)
        if checkpoints.last_seconds is not None:
            yield _gauge(
                "checkpoint_duration_seconds",
                "How long the last checkpoint took, from capture to durable",
                checkpoints.last_seconds,
            )
            yield _gauge("checkpoint_bytes", "The last checkpoint's size", checkpoints.last_bytes)
        with self.db.tick_loop.held(LOCK_SECONDS) as held:
            if held:
                yield from self._relations()

    def _clients(self) -> Iterator[Metric]:
        clients = self.db.telemetry.clients
        yield _gauge("pgwire_connections", "pgwire sessions open now", clients.connections)
        yield _counter("pgwire_queries", "Statements pgwire clients ran", clients.queries)
        errors = CounterMetricFamily(
            "tidal_pgwire_errors", "Statements of pgwire clients that failed", labels=["sqlstate"]
        )
        for code, count in sorted(dict(clients.errors).items()):
            errors.add_metric([code], count)
        yield errors

    def _relations(self) -> Iterator[Metric]:
        system = self.db.system_relations
        yield from _per(
            "source",
            list(system.sources()),
            [
                ("source_rows", "Rows read by a source", "rows", COUNTER),
                ("source_bytes", "Arrow bytes read by a source", "bytes", COUNTER),
                ("source_bad_records", "Bad records a source skipped", "errors", COUNTER),
                # microseconds in the system relation, seconds since the epoch here
                ("source_watermark_seconds", "A source's watermark", "watermark", GAUGE, 1e-6),
                ("source_lag_seconds", "Now minus a source's watermark", "lag_seconds", GAUGE),
            ],
        )
        late = CounterMetricFamily(
            "tidal_late_rows", "Rows behind their relation's watermark", labels=["relation"]
        )
        for name, event_time in sorted(self.db.watermarks.relations.items()):
            late.add_metric([name], event_time.late_rows)
        yield late
        yield from _per(
            "view",
            [v for v in system.views() if v["materialized"]],
            [
                ("operator_state_rows", "Rows in a view's operators' state", "state_rows", GAUGE),
                ("operator_state_bytes", "Bytes a view's state holds", "state_bytes", GAUGE),
            ],
        )
        yield from _per(
            "sink",
            list(system.sinks()),
            [
                ("sink_rows", "Change rows written to a sink", "rows", COUNTER),
                (
                    "sink_commit_lag_seconds",
                    "Age of a sink's oldest staged tick",
                    "lag_seconds",
                    GAUGE,
                ),
            ],
        )


def _per(label: str, rows: list[dict], columns: list[tuple]) -> Iterator[Metric]:
    """One family per column of ``rows`` (a system relation's), one sample per row with a
    value: (metric name, help, column, family[, scale])."""
    for name, help_text, column, family, *scale in columns:
        metric = family(f"tidal_{name}", help_text, labels=[label])
        for row in rows:
            if row[column] is not None:
                metric.add_metric([row["name"]], row[column] * (scale[0] if scale else 1))
        yield metric


def _tick_histogram(telemetry, ticks: int) -> HistogramMetricFamily:
    buckets, total = [], 0
    for bound, count in zip(TICK_BUCKETS, list(telemetry.tick_buckets)):
        total = min(total + count, ticks)  # a tick counted in a bucket since ``ticks`` was read
        buckets.append((repr(bound), total))
    buckets.append(("+Inf", ticks))
    return HistogramMetricFamily(
        "tidal_tick_duration_seconds",
        "How long a tick took: polling aside, its views' and sinks' work",
        buckets=buckets,
        sum_value=telemetry.tick_seconds,
    )


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"tidal_{name}", help_text, value=value)


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"tidal_{name}", help_text, value=value)


def serve_metrics(db: Database, host: str, port: int, who: str) -> WSGIServer | None:
    """Serve ``/metrics`` of ``db`` on ``host:port`` from a daemon thread: its server
    (``shutdown()`` stops it), or None (said on stderr) if it cannot listen there."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(db))
    try:
        server, _thread = start_http_server(port, host, registry)
    except OSError as error:
        print(
            f"{who}: cannot serve metrics on {host}:{port}: {error.strerror or error}; "
            "choose another --metrics-port (0: any free one)",
            file=sys.stderr,
        )
        return None
    return server
