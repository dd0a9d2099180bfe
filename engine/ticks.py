"""The tick loop: how time advances. Poll the sources, apply a tick, undo it if it fails, publish.

In a tick every source contributes at most one batch and DML contributes its changes; rows behind
their relation's watermark are taken out (into a late table, if one is named) and the watermarks
advance; then the relation registry (tidal.engine.relations) runs every view's dataflow once and
writes the sinks. A tick that fails anywhere is undone as a whole: the tables' contents and the
watermarks go back to where they were and every view is rebuilt from its inputs, so a failed
statement changes nothing. A tick that completes is published to the ``on_tick`` listeners in
order (snapshots for reads, then subscriptions): the one seam where work that must see every
completed tick hooks in.

With a data directory, a ``Journal`` (tidal.engine.durability) sees every tick before it counts:
it logs what the tick took in, so that ``replay`` can run the same tick again after a restart,
with the same source rows, watermarks and clock, and check that it came out the same.

``TickLoop`` owns the lock that serializes every change of the engine's state: ticks, DDL and
DML hold it (``exclusive()``), reads of a fresh snapshot do not need it.

It also keeps the state within the memory budget (tidal.engine.memory): the state is measured
before every poll and after every tick; near the budget no source is polled (backpressure,
said once through ``report``), and DML that would take the state past the budget is undone
with 53200. Ticks still run meanwhile, for DML and for windows closing as time passes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from tidal.engine.batch import BatchError
from tidal.engine.cancellation import cancel_point, current_cancellation
from tidal.engine.connectors import ConnectorError
from tidal.engine.errors import DataError
from tidal.engine.expressions import EvaluationError
from tidal.engine.memory import MemoryBudget, Usage, measure
from tidal.engine.relations import Base, Relations
from tidal.engine.telemetry import Telemetry
from tidal.engine.watermarks import Watermarks
from tidal.engine.zset import WEIGHT, concat, rename_positional

log = logging.getLogger(__name__)

DEFAULT_BATCH_ROWS = 65_536
LOCK_POLL_SECONDS = 0.05  # how often a statement waiting for the lock looks for a cancel

# Called after each completed tick with its number and every relation's changes in it.
TickListener = Callable[[int, dict[str, pa.Table]], None]


class Journal(Protocol):
    """What keeps a durable record of the ticks (tidal.engine.durability.Durability)."""

    def record(
        self,
        tick: int,
        changes: dict[str, pa.Table],
        values: dict[str, int | None],
        outputs: dict[str, pa.Table],
        sync: bool,
    ) -> None:
        """Log a tick that ran: its tables' ``changes`` (DML, and the rows of logged
        readers), the watermarks and clock ``values`` its views ran with, and every relation's
        changes (``outputs``). ``sync``: make the record durable before returning (else DML
        waits for ``sync``). Raising undoes it."""

    def record_failed(self, tick: int) -> None:
        """Log that a tick failed and was undone: the source rows it read are not read again."""

    def check(self, tick: int, outputs: dict[str, pa.Table]) -> None:
        """Compare a replayed tick's outputs with what was logged when it first ran."""

    def sync(self) -> None:
        """Wait until this thread's logged DML is durable."""


@dataclass(frozen=True)
class Progress:
    """How far a catch-up (reading bounded inputs to their end) has got: the source rows its
    ticks took in, the seconds since it began, and the fraction of the inputs read where their
    size is known (the least advanced reader's; None if no reader knows its size)."""

    rows: int
    seconds: float
    fraction: float | None
    finished: bool = False


@dataclass(frozen=True)
class Replayed:
    """A logged tick to run again: tables' changes, sources' positions after it (each source
    reads up to there), and the watermarks and clock it ran with."""

    changes: dict[str, pa.Table]
    positions: dict[str, dict]
    watermarks: dict
    values: dict[str, int | None]
    applied: bool = True  # False: the tick failed; its source rows are read and dropped


class TickLoop:
    def __init__(
        self,
        relations: Relations,
        watermarks: Watermarks,
        batch_rows: int,
        memory: MemoryBudget | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.relations = relations
        self.watermarks = watermarks
        self.batch_rows = batch_rows
        self.memory = memory or MemoryBudget()
        self.telemetry = telemetry or Telemetry()  # counted per tick and per batch
        self.ticks = 0  # completed ticks
        self.backlog = False  # the last tick() left rows waiting in a source
        self.on_tick: list[TickListener] = []
        # Told after each tick of a catch-up, and at its end (a terminal shows a progress line).
        self.on_progress: Callable[[Progress], None] | None = None
        self.journal: Journal | None = None
        self.replaying = False  # recovery re-runs DDL: nothing is polled meanwhile
        self._lock = threading.RLock()
        self._depth = threading.local()  # how many exclusive() this thread is inside
        self._source_errors: list[str] = []

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the engine still: no tick, DDL or DML runs meanwhile (re-entrant). With a
        journal, leaving the outermost one waits until this thread's DML is durable: after
        the lock is released, so that one fsync serves every client that wrote meanwhile."""
        depth = getattr(self._depth, "value", 0)
        self._acquire()
        self._depth.value = depth + 1
        try:
            yield
        finally:
            self._depth.value = depth
            self._lock.release()
        if depth == 0 and self.journal is not None:
            self.journal.sync()

    @contextlib.contextmanager
    def held(self, timeout: float) -> Iterator[bool]:
        """The lock for a reader that would rather go without than wait long (a metrics
        scrape while a backfill runs): yields whether it has it."""
        got = self._lock.acquire(timeout=timeout)
        try:
            yield got
        finally:
            if got:
                self._lock.release()

    def _acquire(self) -> None:
        """Take the lock; a statement cancelled while it waits stops waiting."""
        if current_cancellation() is None:
            self._lock.acquire()
            return
        while not self._lock.acquire(timeout=LOCK_POLL_SECONDS):
            cancel_point()

    # --- what makes a tick ----------------------------------------------------------------------

    def apply_changes(self, table: str, changes: pa.Table) -> None:
        """Apply DML changes (plain rows with ``__weight``) to a table in one tick."""
        self.apply_all({table: changes})

    def apply_all(self, changes: dict[str, pa.Table]) -> None:
        """Apply DML changes of several tables (plain rows with ``__weight``) in one tick, all
        or nothing (a transaction's)."""
        with self.exclusive():
            changes = {table.lower(): rename_positional(c) for table, c in changes.items()}
            if _adds_rows(changes) and self._past_budget(sum(c.nbytes for c in changes.values())):
                # Refused before it runs: undoing a tick rebuilds every view.
                raise self.memory.refuse(f"adding rows to {', '.join(sorted(changes))}")
            self._run(changes)

    def tick(self) -> bool:
        """Poll every source once and run a tick if any had rows, or if an idle source's
        watermark moved (windows may close), or if a view follows the clock; True if one ran.
        ``backlog``: a source filled its batch, so more rows are waiting."""
        with self._lock:
            self.measure_state()  # a DROP or DELETE since the last tick may have made room
            deltas = self._poll(drain=False)
            self.backlog = any(d.num_rows >= self.batch_rows for d in deltas.values())
            if deltas or self.watermarks.advance({}) or self.relations.uses_clock():
                self._run(deltas)
                return True
            self._publish()  # ticks a sink could not publish before: try again
            return False

    def catch_up(self, retained_only: bool = False) -> None:
        """Read every bounded input to its end (files present now, finite datagen), and what
        unbounded sources have produced by now. ``retained_only``: leave sources that keep no
        rows unread (a new view is to see their rows from now on)."""
        with self._lock:
            self.measure_state()
            started, rows = time.monotonic(), 0
            while True:
                deltas = self._poll(drain=True, bounded_only=True, retained_only=retained_only)
                if not deltas:
                    break
                self._run(deltas)
                rows += sum(d.num_rows for d in deltas.values())
                self._tell_progress(started, rows, finished=False)
            deltas = self._poll(drain=False, retained_only=retained_only)
            if deltas:
                self._run(deltas)
            if rows:
                self._tell_progress(started, rows, finished=True)

    def _tell_progress(self, started: float, rows: int, finished: bool) -> None:
        if self.on_progress is None:
            return
        fractions = [
            done / total
            for base in self.relations.bases.values()
            if base.reader is not None
            and base.reader.bounded
            and (known := base.reader.progress()) is not None
            for done, total in [known]
            if total
        ]
        fraction = min(fractions) if fractions else None
        self.on_progress(Progress(rows, time.monotonic() - started, fraction, finished))

    def _poll(
        self, drain: bool, bounded_only: bool = False, retained_only: bool = False
    ) -> dict[str, pa.Table]:
        if self.replaying or self.memory.paused:  # nothing polled: see the module docstring
            return {}
        deltas = {}
        for name, base in self.relations.bases.items():
            reader = base.reader
            if (
                reader is None
                or (bounded_only and not reader.bounded)
                or (retained_only and base.contents is None)
            ):
                continue
            try:
                batch = reader.poll(self.batch_rows, drain=drain)
            except ConnectorError as error:
                # A source that cannot be read (a missing file) must not stop the others or
                # every query: report it, and try again at the next poll.
                self.report(str(error))
                continue
            if batch is not None and batch.num_rows:
                self.telemetry.source_read(name, reader, batch.num_rows, batch.nbytes)
                deltas[name] = self.relations.polled_changes(name, batch)
            self._collect_reader_errors(base)
        return deltas

    def _collect_reader_errors(self, base: Base) -> None:
        errors = getattr(base.reader, "errors", None)
        if errors:
            for error in errors:
                self.telemetry.source_error(base.relation.name, base.reader, error)
                self.report(f"source {base.relation.name}: {error}")
            errors.clear()

    # --- running one ----------------------------------------------------------------------------

    def replay(self, logged: Replayed) -> None:
        """Run a logged tick again (recovery): each source reads exactly up to its logged
        position, the watermarks and clock are the logged ones."""
        with self._lock:
            deltas = dict(logged.changes)
            for name, position in logged.positions.items():
                reader = self.relations.bases[name].reader
                if reader.logged:  # its rows are among the logged changes
                    reader.restore(position)
                    continue
                batch = reader.replay(position)
                if batch is not None and batch.num_rows:
                    deltas[name] = self.relations.polled_changes(name, batch)
                reader.errors.clear()  # said when the tick first ran
            if logged.applied:
                self._run(deltas, logged)
            else:  # as when it failed: its rows dropped, every view rebuilt from its inputs
                self.relations.undo({})

    def _run(self, base_deltas: dict[str, pa.Table], replayed: Replayed | None = None) -> None:
        started_at, started = self.telemetry.clock(), time.perf_counter_ns()
        rows_in = sum(delta.num_rows for delta in base_deltas.values())
        watermarks_before = self.watermarks.snapshot()
        tick = self.ticks + 1
        readers = {n: self.relations.bases[n].reader for n in base_deltas}
        dml = {n: d for n, d in base_deltas.items() if readers[n] is None}
        polled = len(dml) < len(base_deltas)  # source rows: their positions moved
        # What the log keeps of the tick: DML, and the rows that cannot be read again.
        logged = [n for n, reader in readers.items() if reader is not None and reader.logged]
        changes = {**dml, **{n: base_deltas[n] for n in logged}}
        base_deltas = self._without_late_rows(base_deltas)
        if replayed is None:
            self.watermarks.advance(base_deltas)
            values = self.watermarks.values()
        else:
            self.watermarks.restore(replayed.watermarks)
            values = replayed.values
        try:
            deltas = self.relations.step(base_deltas, values, tick)
            self._check_memory(dml, polled, replayed is not None)
            if self.journal is not None and replayed is None:
                # Durable now when an outside party is told of the tick: an upstream that
                # forgets the rows, or a sink that publishes what cannot be taken back.
                sync = bool(logged) or self.relations.staging()
                self.journal.record(tick, changes, values, deltas, sync)
            elif self.journal is not None:
                self.journal.check(tick, deltas)
        except Exception as error:
            # Undo the tick at the tables and rebuild the views, whatever went wrong.
            self.watermarks.restore(watermarks_before)
            self.relations.undo(base_deltas)
            if self.journal is not None and replayed is None and polled:
                self.journal.record_failed(tick)
            # A statement's own tick fails to its client; one of source rows fails to no one.
            level = logging.WARNING if polled else logging.INFO
            log.log(level, "tick %d failed and was undone: %s", tick, error)
            if not isinstance(error, (EvaluationError, BatchError, ArithmeticError)):
                raise
            raise DataError(
                f"a view could not process the change, so it was not applied: {error}"
            ) from None
        if replayed is None:
            self._acknowledge(logged)
        self._publish()
        # Listeners see the tick before it counts as completed: a reader that does not wait
        # for the lock keeps the previous tick's snapshot until the new one is ready.
        for listener in self.on_tick:
            listener(tick, deltas)
        self.ticks = tick
        rows_out = sum(d.num_rows for n, d in deltas.items() if n in self.relations.views)
        seconds = (time.perf_counter_ns() - started) / 1e9
        self.telemetry.tick_done(tick, started_at, seconds, rows_in, rows_out)

    def _acknowledge(self, names: list[str]) -> None:
        """Tell logged readers that their rows up to now are durable."""
        for name in names:
            reader = self.relations.bases[name].reader
            try:
                reader.acknowledge(reader.snapshot())
            except ConnectorError as error:  # said, and acknowledged with a later tick
                self.report(f"{self.relations.bases[name].relation.kind} {name}: {error}")

    def _publish(self) -> None:
        """Sinks that stage write their staged (durable) ticks out; one that cannot keeps
        them for the next try, and says why once."""
        for sink in self.relations.sinks.values():
            if sink.writer.stages:
                try:
                    sink.writer.publish()
                except ConnectorError as error:  # its message names the sink
                    self.report(str(error))

    # --- memory -----------------------------------------------------------------------------------

    def measure_state(self) -> Usage:
        """Measure the state held (tidal.engine.memory.measure) and pause or resume the sources
        by it, saying so once."""
        with self._lock:
            self._take_measure(measure(self._state_holders()))
            return self.memory.usage

    def _take_measure(self, usage: Usage) -> None:
        change = self.memory.update(usage)
        if change is not None:
            self.report(change)

    def check_new_state(self, kind: str, name: str, drop: Callable[[], None]) -> None:
        """After a statement made new state (a materialized view's backfill): if the state is
        now past the budget, ``drop`` what it made and refuse it with 53200."""
        with self._lock:
            usage = self.measure_state()
            if usage.total > self.memory.limit:
                error = self.memory.refuse(f"{kind} {name}")
                drop()
                self.measure_state()
                raise error

    def _check_memory(self, changes: dict[str, pa.Table], polled: bool, replayed: bool) -> None:
        """Refuse a tick of DML that adds rows (not one of sources: they pause instead) if it
        took the state past the budget: raising undoes it. DML that deletes as many rows as it
        adds goes through, to make room."""
        usage = measure(self._state_holders())
        if usage.total > self.memory.limit and not (polled or replayed) and _adds_rows(changes):
            raise self.memory.refuse(f"adding rows to {', '.join(sorted(changes))}")
        self._take_measure(usage)

    def _past_budget(self, more: int) -> bool:
        """Whether ``more`` bytes would take the state (as last measured) past the budget."""
        return self.memory.usage.total + more > self.memory.limit

    def _state_holders(self) -> Iterator[tuple[str, tuple]]:
        """Every relation by its kind and name, with what holds its state."""
        for base in self.relations.bases.values():
            kind = "table" if base.reader is None else "source"
            yield f"{kind} {base.relation.name}", (base.contents,)
        for view in self.relations.views.values():
            yield f"view {view.view.name}", (view.contents, view.dataflow)
        for sink in self.relations.sinks.values():
            yield f"sink {sink.sink.name}", (sink.dataflow,)

    def _without_late_rows(self, deltas: dict[str, pa.Table]) -> dict[str, pa.Table]:
        """The tick's changes with late rows taken out (and put in late tables, if named)."""
        on_time: dict[str, pa.Table] = {}
        for name, delta in deltas.items():
            kept, late = self.watermarks.split_late(name, delta)
            on_time[name] = kept
            late_table = self.watermarks.relations[name].late_table if late is not None else None
            if late_table is not None and late_table.lower() in self.relations.bases:
                key = late_table.lower()
                on_time[key] = concat([on_time[key], late]) if key in on_time else late
        return on_time

    # --- problems sources met -------------------------------------------------------------------

    def report(self, message: str) -> None:
        """Keep a problem for ``take_source_errors`` (the same one at every poll is said once)."""
        with self._lock:
            if message not in self._source_errors:
                self._source_errors.append(message)
                log.info("%s", message)

    def take_source_errors(self) -> list[str]:
        """Problems sources met since the last call (bad lines skipped, unreadable files)."""
        with self._lock:
            errors, self._source_errors = self._source_errors, []
            return errors


def _adds_rows(changes: dict[str, pa.Table]) -> bool:
    """Whether changes insert more rows than they delete."""
    return sum(pc.sum(c.column(WEIGHT)).as_py() or 0 for c in changes.values()) > 0
