"""Reads made cheap: snapshots of relations per tick, and plans that run without DuckDB.

A server answers many small reads between ticks; each would otherwise consolidate the relation
it reads and go through DuckDB. Here:

- **Snapshots.** A relation's rows (``Relations.contents``) are kept per relation, valid while
  neither the completed tick (every source batch and DML statement) nor the catalog
  (``catalog.version``: every CREATE and DROP) has changed. Reads between two ticks share one
  snapshot; a snapshot is an immutable Arrow table, so a read that finds its snapshot fresh
  needs no lock: it sees the relation as of the last completed tick even while the next one
  runs. Batch mode keeps no snapshots (its views are computed at each read).
- **System relations** (``tidal_sources``, ...: tidal.engine.system_relations) are computed at
  every read and never kept: their counters move between ticks.
- **Simple plans.** A plan over one relation made of filters, column projections, ORDER BY and
  LIMIT runs with kernels (tidal.engine.simple_plans); anything else runs on DuckDB. Results
  of plans that sort are kept per snapshot for the same arguments (many clients asking for the
  same top 10 between two ticks sort once).

Prepared statements (tidal.engine.prepared_statements) run their simple plans through
``read_simple``, from any thread. When a background ticker feeds the database, reads do not
poll the sources first (``poll_first`` is False): they serve the latest completed tick.
``tidal run`` and the shell keep polling, which reads bounded inputs to their end before each
query.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from tidal.engine.arguments import Arguments
from tidal.engine.batch import BatchBackend, BatchError
from tidal.engine.errors import DataError
from tidal.engine.relations import Relations
from tidal.engine.simple_plans import NativePlan, NotNative, compile_plan
from tidal.engine.ticks import TickLoop
from tidal.engine.watermarks import NOW
from tidal.sql.eventtime import emit_as_filter
from tidal.sql.plan import Plan, scans
from tidal.sql.temporal import at_time

KEPT_RESULTS = 256  # results of sorting plans kept per snapshot
INLINE_ROWS = 100_000  # read_simple(wait=False) leaves longer scans to a thread
MISS = object()  # read_simple(wait=False): it would have to wait for the database lock

# Where a read finds a relation's rows (by name) when not in the latest snapshot.
Contents = Callable[[str], pa.Table] | None


class PendingRead(functools.partial):
    """A query ready to run (``Reads.read``): call it for its rows, after the lock is
    released."""


@dataclass
class Snapshot:
    """A relation's rows as of ``tick`` under catalog ``version``."""

    tick: int
    version: int
    rows: pa.Table
    results: OrderedDict = field(default_factory=OrderedDict)  # (plan, arguments) -> rows
    read: bool = True  # read since it was made: a tick then makes the next one right away
    cache: dict = field(default_factory=dict)  # what plans share over these rows (simple_plans)


class Reads:
    def __init__(self, ticks: TickLoop, relations: Relations, system_rows: Contents = None) -> None:
        self.ticks = ticks
        self.relations = relations
        self.system_rows = system_rows  # a system relation's rows now (tidal_sources, ...)
        self.catalog = relations.catalog
        self.backend = BatchBackend(ad_hoc=True, memory_limit=ticks.memory.duckdb_limit)
        self.poll_first = True  # poll the sources before reads; off while a Ticker polls
        self._snapshots: dict[str, Snapshot] = {}
        self._guard = threading.Lock()  # for kept results, touched without the database lock

    # --- ad hoc plans (prepared under the database lock, run after it) ------------------------

    def query(self, plan: Plan, arguments: Arguments = (), contents: Contents = None) -> pa.Table:
        """An ad hoc query plan's result over the current contents (hold the lock): ``read``,
        run at once."""
        return self.read(plan, arguments, contents)()

    def read(self, plan: Plan, arguments: Arguments = (), contents: Contents = None) -> PendingRead:
        """Get an ad hoc query plan ready (hold the lock): after bounded inputs are read
        (unless a ticker does the polling), over the current contents, with its parameters'
        values ``arguments``; ``contents``: where the relations' rows come from instead (a
        transaction's). The PendingRead it returns computes the result from immutable tables
        only: call it after the lock is released, so that a long query holds up no tick, DML
        or other read."""
        if self.poll_first:
            self.ticks.catch_up()
        # EMIT ON WINDOW CLOSE and temporal filters as of the watermarks and the clock now
        watermarks = self.relations.watermarks.values()
        plan = at_time(emit_as_filter(plan, watermarks), watermarks[NOW])
        compiled = compile_plan(plan)
        if compiled is not None:
            if contents is not None:
                rows, cache = contents(compiled.relation), {}
            else:
                snapshot = self._snapshot(compiled.relation)
                rows, cache = snapshot.rows, snapshot.cache
            return PendingRead(self._run, plan, arguments, compiled, rows, cache)
        read = contents or self.contents
        relations = {name: read(name) for name in {s.relation.lower() for s in scans(plan)}}
        return PendingRead(self._run_on_duckdb, plan, arguments, relations)

    def _run(self, plan, arguments, compiled: NativePlan, rows: pa.Table, cache) -> pa.Table:
        try:
            return compiled.run(rows, arguments, cache)
        except NotNative:
            return self._run_on_duckdb(plan, arguments, {compiled.relation.lower(): rows})

    def _run_on_duckdb(self, plan: Plan, arguments: Arguments, relations) -> pa.Table:
        try:
            return self.backend.run(plan, relations, arguments)
        except BatchError as error:
            raise DataError(str(error)) from None

    def contents(self, name: str) -> pa.Table:
        """A relation's rows (Relations.contents), from the snapshot while it is fresh (hold the
        lock)."""
        return self._snapshot(name).rows

    def _snapshot(self, name: str) -> Snapshot:
        key = name.lower()
        snapshot = self._fresh(key)
        if snapshot is not None:
            return snapshot
        if self.system_rows is not None and self.catalog.is_system(key):
            # computed afresh at every read, never kept: its counters move between ticks
            return Snapshot(self.ticks.ticks, self.catalog.version, self.system_rows(key))
        snapshot = Snapshot(self.ticks.ticks, self.catalog.version, self.relations.contents(name))
        if not self.relations.batch_mode:
            # Older snapshots can never be fresh again: let their rows go.
            self._snapshots = {
                name: kept
                for name, kept in self._snapshots.items()
                if (kept.tick, kept.version) == (snapshot.tick, snapshot.version)
            }
            self._snapshots[key] = snapshot
        return snapshot

    def _fresh(self, key: str) -> Snapshot | None:
        snapshot = self._snapshots.get(key)
        if (
            snapshot is not None
            and snapshot.tick == self.ticks.ticks
            and snapshot.version == self.catalog.version
        ):
            snapshot.read = True
            return snapshot
        return None

    def refresh(self, tick: int) -> None:
        """Called by a tick about to complete as ``tick`` (a TickLoop listener): the
        snapshots read since the last tick are made anew for it, the others let go. So readers
        between ticks all find their snapshot ready, none waits for the lock to make it."""
        version = self.catalog.version
        made = {}
        for key, snapshot in self._snapshots.items():
            if snapshot.read and snapshot.version == version:
                # If its rows cannot be read, the read that needs them reports why.
                with contextlib.suppress(Exception):
                    made[key] = Snapshot(tick, version, self.relations.contents(key), read=False)
        self._snapshots = made

    # --- simple plans, from any thread ------------------------------------------------------------

    def read_simple(
        self, plan: NativePlan, version: int, arguments: Arguments, wait: bool = True
    ) -> pa.Table | object | None:
        """A simple plan's result (compiled under catalog ``version``) over its relation's
        latest snapshot, taking the lock only to make a snapshot. None if the catalog changed
        since ``version`` or the plan declines these arguments. With ``wait=False`` it never
        waits for the lock: ``MISS`` where it would have to (a tick since the last read, a
        source to poll, a scan too long to run on the caller's event loop)."""
        snapshot = self._fresh(plan.relation.lower()) if not self.poll_first else None
        if snapshot is None:
            if not wait:
                return MISS
            with self.ticks.exclusive():
                if self.poll_first:
                    self.ticks.catch_up()
                if self.catalog.version != version:
                    return None
                snapshot = self._snapshot(plan.relation)
        if snapshot.version != version:
            return None
        if not wait and snapshot.rows.num_rows > INLINE_ROWS:
            return MISS
        return self._result(plan, snapshot, arguments)

    def _result(self, plan: NativePlan, snapshot: Snapshot, arguments: list) -> pa.Table | None:
        key = None
        if plan.sorts:
            key = (plan, tuple((type(a), a) for a in arguments))
            with self._guard:
                kept = snapshot.results.get(key)
            if kept is not None:
                return kept
        try:
            result = plan.run(snapshot.rows, arguments, snapshot.cache)
        except NotNative:
            return None
        if key is not None:
            with self._guard:
                snapshot.results[key] = result
                if len(snapshot.results) > KEPT_RESULTS:
                    snapshot.results.popitem(last=False)
        return result
