"""Reads made cheap: snapshots of relations per tick, prepared plans, and the native path.

A server answers many small reads between ticks; each used to consolidate the relation it
read, bind its statement again and go through DuckDB. Here:

- **Snapshots.** A relation's rows (``Database.contents``) are kept per relation, valid while
  neither the completed tick (every source batch and DML statement) nor the catalog
  (``catalog.version``: every CREATE and DROP) has changed. Reads between two ticks
  share one snapshot; a snapshot is an immutable Arrow table, so a read that finds its snapshot
  fresh needs no lock: it sees the relation as of the last completed tick even while the next
  one runs. Batch mode keeps no snapshots (its views are computed at each read).
- **Native plans.** A plan over one relation made of filters, column projections, ORDER BY and
  LIMIT runs with kernels (tidal.engine.simple_plans); anything else goes to DuckDB as before.
- **Prepared reads.** ``execute_prepared`` keeps the bound, compiled plan of a statement with
  ``$n`` parameters by its text and parameter types, checked against the catalog version, so
  a prepared statement is parsed and bound once, not at each execution. Its parameters are
  typed stand-ins (``tidal.sql.plan.parameter``), their values read at each run. Only plans
  that run natively are kept; for the others it returns None and the caller runs the statement as
  before. Results of plans that sort are kept per snapshot for the same arguments (many
  clients asking for the same top 10 between two ticks sort once).

When a background ticker feeds the database, reads do not poll the sources first
(``Database.read_catch_up`` is False): they serve the latest completed tick. ``tidal run``
and the shell keep polling, which reads bounded inputs to their end before each query.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import pyarrow as pa
from sqlglot import exp

from tidal.engine.batch import BatchBackend, BatchError
from tidal.engine.errors import DataError
from tidal.engine.relations import Relations
from tidal.engine.simple_plans import NativePlan, NotNative, compile_plan
from tidal.engine.ticks import TickLoop
from tidal.engine.watermarks import NOW
from tidal.sql.compiler import Compiler
from tidal.sql.errors import SqlError
from tidal.sql.eventtime import emit_as_filter
from tidal.sql.plan import Plan, parameter, scans
from tidal.sql.temporal import at_time

PREPARED_PLANS = 512  # statements whose plans are kept (least recently used dropped)
KEPT_RESULTS = 256  # results of sorting plans kept per snapshot
INLINE_ROWS = 100_000  # execute_prepared(wait=False) leaves longer scans to a thread
MISS = object()  # execute_prepared(wait=False): it would have to wait for the database lock


@dataclass
class Snapshot:
    """A relation's rows as of ``tick`` under catalog ``version``."""

    tick: int
    version: int
    rows: pa.Table
    results: OrderedDict = field(default_factory=OrderedDict)  # (plan, arguments) -> rows
    read: bool = True  # read since it was made: a tick then makes the next one right away
    cache: dict = field(default_factory=dict)  # what plans share over these rows (simple_plans)


_NOT_NATIVE = object()  # a prepared statement known to need DuckDB (per catalog version)


class Reads:
    def __init__(
        self, ticks: TickLoop, relations: Relations, compiler: Compiler, backend: BatchBackend
    ) -> None:
        self.ticks = ticks
        self.relations = relations
        self.catalog = compiler.catalog
        self.compiler = compiler
        self.backend = backend
        self.poll_first = True  # poll the sources before reads; off while a Ticker polls
        self._snapshots: dict[str, Snapshot] = {}
        # (text, parameter types) -> (catalog version, NativePlan or _NOT_NATIVE)
        self._prepared: OrderedDict[tuple, tuple] = OrderedDict()
        self._guard = threading.Lock()  # for the LRU dicts, touched without the database lock

    # --- ad hoc plans (under the database lock) -----------------------------------------------

    def query(self, plan: Plan) -> pa.Table:
        """An ad hoc query plan's result over the current contents (after bounded inputs are
        read, unless a ticker does the polling)."""
        if self.poll_first:
            self.ticks.catch_up()
        watermarks = self.relations.watermarks.values()
        plan = at_time(emit_as_filter(plan, watermarks), watermarks[NOW])
        try:
            return self.run(plan)
        except BatchError as error:
            raise DataError(str(error)) from None

    def run(self, plan: Plan) -> pa.Table:
        """``plan``'s result over the relations' current rows: natively where it can."""
        compiled = compile_plan(plan)
        if compiled is not None:
            snapshot = self._snapshot(compiled.relation)
            try:
                return compiled.run(snapshot.rows, (), snapshot.cache)
            except NotNative:
                pass
        relations = {
            name: self.contents(name) for name in {s.relation.lower() for s in scans(plan)}
        }
        return self.backend.run(plan, relations)

    def contents(self, name: str) -> pa.Table:
        """A relation's rows (Relations.contents), from the snapshot while it is fresh (hold the
        lock)."""
        return self._snapshot(name).rows

    def _snapshot(self, name: str) -> Snapshot:
        key = name.lower()
        snapshot = self._fresh(key)
        if snapshot is not None:
            return snapshot
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

    # --- prepared statements (any thread) -------------------------------------------------------

    def execute_prepared(
        self,
        text: str,
        statement: exp.Expression,
        parameter_types: tuple[str, ...],
        arguments: list,
        wait: bool = True,
    ):
        """The result of query ``statement`` (whose text is ``text``) with ``$n`` of SQL type
        ``parameter_types[n - 1]`` bound to ``arguments[n - 1]`` (a Python int, float, str,
        bool or None), or None if it does not run natively: then run it the usual way. With ``wait=False`` it never waits for the
        database lock and returns ``MISS`` where it would have to (a new statement, a tick
        since the last read, a source to poll)."""
        key = (text, parameter_types)
        with self._guard:
            prepared = self._prepared.get(key)
            if prepared is not None:
                self._prepared.move_to_end(key)
        if prepared is None or prepared[0] != self.catalog.version:
            if not wait:
                return MISS
            with self.ticks.exclusive():
                prepared = self._prepare(statement, parameter_types)
            with self._guard:
                self._prepared[key] = prepared
                if len(self._prepared) > PREPARED_PLANS:
                    self._prepared.popitem(last=False)
        version, plan = prepared
        if plan is _NOT_NATIVE:
            return None
        snapshot = self._fresh(plan.relation.lower()) if not self.poll_first else None
        if snapshot is None:
            if not wait:
                return MISS
            with self.ticks.exclusive():
                if self.poll_first:
                    self.ticks.catch_up()
                if self.catalog.version != version:
                    return None  # a DDL statement came in between: the usual way re-binds
                snapshot = self._snapshot(plan.relation)
        if not wait and snapshot.rows.num_rows > INLINE_ROWS:
            return MISS  # a scan this long should not hold up the caller's event loop
        return self._result(plan, snapshot, arguments)

    def _prepare(self, statement: exp.Expression, parameter_types: tuple[str, ...]) -> tuple:
        """(catalog version, compiled plan or _NOT_NATIVE); hold the database lock."""
        version = self.catalog.version
        slotted = _with_parameters(statement, parameter_types)
        if slotted is None:
            return version, _NOT_NATIVE
        try:
            plan = self.compiler.query(slotted).plan
        except (SqlError, Exception):  # noqa: BLE001 - the usual way reports it
            return version, _NOT_NATIVE
        compiled = compile_plan(plan)
        return version, compiled if compiled is not None else _NOT_NATIVE

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


def _with_parameters(statement: exp.Expression, parameter_types: tuple[str, ...]):
    """A copy of ``statement`` with each ``$n`` a typed stand-in; None if one has no type."""
    slotted = statement.copy()
    for node in list(slotted.find_all(exp.Parameter)):
        inner = node.this
        number = int(inner.this) if isinstance(inner, exp.Literal) and inner.this.isdigit() else 0
        if not 1 <= number <= len(parameter_types):
            return None
        node.replace(parameter(number, parameter_types[number - 1]))
    if slotted.find(exp.Placeholder):
        return None
    return slotted
