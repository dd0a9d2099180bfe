"""The engine's counters: what ticks, sources, checkpoints and clients did since the start.

The tick loop, durability and the pgwire server count into one ``Telemetry`` as they work, a
few integer additions per tick or per batch (never per row), under the lock of whoever
counts. Readers (the system relations of tidal.engine.system_relations, the Prometheus
endpoint of tidal.shell.metrics) copy what they need at read time; copying a dict or a deque
is one step under the GIL, so a reader never sees one half-changed.

    >>> telemetry = Telemetry(clock=lambda: 100.0)
    >>> reader = object()  # the source's reader
    >>> telemetry.source_read("clicks", reader, rows=3, nbytes=96)
    >>> telemetry.source_error("clicks", reader, "clicks.csv:4: expected 2 fields, found 3")
    >>> telemetry.tick_done(1, started_at=99.5, seconds=0.002, rows_in=3, rows_out=2)
    >>> telemetry.sources["clicks"].rows, telemetry.sources["clicks"].errors
    (3, 1)
    >>> telemetry.errors[0].location, telemetry.errors[0].problem
    ('clicks.csv:4', 'expected 2 fields, found 3')
    >>> telemetry.tick_count, telemetry.tick_buckets[:3]
    (1, [0, 1, 0])
"""

from __future__ import annotations

import bisect
import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# Upper bounds (seconds) of the tick duration histogram's buckets: a tick of a light pipeline
# takes about a millisecond, a backfill's seconds.
TICK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
KEPT_TICKS = 1000  # the recent ticks tidal_ticks shows
KEPT_ERRORS = 1000  # the newest problems of sources tidal_source_errors shows


@dataclass
class SourceCounts:
    """What one source (or table fed by a connector) read: rows, Arrow bytes, bad records;
    ``reader``: whose counts they are (a source dropped and created again counts from zero)."""

    reader: object = None
    rows: int = 0
    bytes: int = 0
    errors: int = 0


@dataclass(frozen=True)
class SourceProblem:
    """One problem a source's reader said: where (``file:line``, a partition and offset, as
    the reader put it; empty if it named no place), what, and when (seconds since the epoch)."""

    source: str
    location: str
    problem: str
    at: float


@dataclass(frozen=True)
class TickRecord:
    """One completed tick: when it started (seconds since the epoch), how long it took, the
    rows its tables and sources took in and the rows its views and sinks put out."""

    tick: int
    started_at: float
    seconds: float
    rows_in: int
    rows_out: int


@dataclass
class Checkpoints:
    """Checkpoints written: how many, the last one's duration (seconds) and size (bytes)."""

    count: int = 0
    last_seconds: float | None = None
    last_bytes: int | None = None


@dataclass
class ClientCounts:
    """The pgwire server's clients: connections open now, statements run, errors by SQLSTATE."""

    connections: int = 0
    queries: int = 0
    errors: dict[str, int] | None = None


class Telemetry:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.sources: dict[str, SourceCounts] = {}
        self.errors: collections.deque[SourceProblem] = collections.deque(maxlen=KEPT_ERRORS)
        self.ticks: collections.deque[TickRecord] = collections.deque(maxlen=KEPT_TICKS)
        self.tick_count = 0  # ticks completed by this process (not those replayed)
        self.tick_seconds = 0.0
        self.tick_buckets = [0] * len(TICK_BUCKETS)  # per bucket, not cumulative
        self.checkpoints = Checkpoints()
        self.clients = ClientCounts(errors={})
        self._clients_lock = threading.Lock()  # sessions count from several threads

    # --- sources ----------------------------------------------------------------------------------

    def source_read(self, source: str, reader: object, rows: int, nbytes: int) -> None:
        """A source's ``reader`` returned a batch of ``rows`` rows, ``nbytes`` Arrow bytes."""
        counts = self.source(source, reader)
        counts.rows += rows
        counts.bytes += nbytes

    def source_error(self, source: str, reader: object, said: str) -> None:
        """A source's ``reader`` skipped a bad record or met a problem; ``said`` as it said
        it (``where: problem``)."""
        self.source(source, reader).errors += 1
        location, found, problem = said.partition(": ")
        if not found:
            location, problem = "", said
        self.errors.append(SourceProblem(source, location, problem, self.clock()))

    def source(self, source: str, reader: object) -> SourceCounts:
        """The counts of ``source`` as read by ``reader`` (zeros if none yet)."""
        key = source.lower()
        counts = self.sources.get(key)
        if counts is None or counts.reader is not reader:
            counts = self.sources[key] = SourceCounts(reader)
        return counts

    # --- ticks ------------------------------------------------------------------------------------

    def tick_done(
        self, tick: int, started_at: float, seconds: float, rows_in: int, rows_out: int
    ) -> None:
        self.ticks.append(TickRecord(tick, started_at, seconds, rows_in, rows_out))
        self.tick_count += 1
        self.tick_seconds += seconds
        bucket = bisect.bisect_left(TICK_BUCKETS, seconds)
        if bucket < len(self.tick_buckets):  # a slower one is counted in +Inf only
            self.tick_buckets[bucket] += 1

    def tick_started_at(self, tick: int) -> float | None:
        """When a recent tick started (None if it is no longer kept)."""
        ticks = list(self.ticks)
        if not ticks or tick < ticks[0].tick:
            return None
        index = bisect.bisect_left([t.tick for t in ticks], tick)
        return ticks[index].started_at if index < len(ticks) and ticks[index].tick == tick else None

    # --- checkpoints and clients ------------------------------------------------------------------

    def checkpoint_done(self, seconds: float, nbytes: int) -> None:
        self.checkpoints.count += 1
        self.checkpoints.last_seconds = seconds
        self.checkpoints.last_bytes = nbytes

    def connection_opened(self) -> None:
        with self._clients_lock:
            self.clients.connections += 1

    def connection_closed(self) -> None:
        with self._clients_lock:
            self.clients.connections -= 1

    def statement_ran(self, sqlstate: str | None = None) -> None:
        """A client's statement ran; ``sqlstate``: it failed with that code."""
        with self._clients_lock:
            self.clients.queries += 1
            if sqlstate is not None:
                self.clients.errors[sqlstate] = self.clients.errors.get(sqlstate, 0) + 1
