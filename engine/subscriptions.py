"""Subscriptions: a relation's changes, tick by tick, delivered to a reader through a buffer.

    >>> from tidal.engine import Database
    >>> db = Database()
    >>> _ = db.execute("CREATE TABLE t (k VARCHAR)")
    >>> _ = db.execute("INSERT INTO t VALUES ('a')")
    >>> s = db.subscribe("t")
    >>> _ = db.execute("UPDATE t SET k = 'b'")
    >>> [(u.tick, u.rows.to_pylist()) for u in s.next(timeout=0)]
    [(1, [{'k': 'a', 'diff': 1}]), (2, [{'k': 'a', 'diff': -1}, {'k': 'b', 'diff': 1}])]

The database calls ``Feeds.publish`` after every committed tick (under its lock); a reader
calls ``Subscription.next`` from any thread without taking the database's lock.

Per relation that has ever been subscribed to, a ``Feed`` keeps the consolidated changes of the
last ``history_ticks`` ticks (at most ``history_rows`` rows), so that a client can resume with
``AS OF tick``. Relations nobody subscribed to cost nothing: their changes are never
consolidated here.

Backpressure: a subscription's buffer holds up to ``buffer_rows`` rows. While any buffer is
full, ``Feeds.blocked()`` is true and the ticker stops polling sources (sources are pull-based,
so nothing is lost). DML ticks still run; a subscription whose buffer passes 4 x its bound, or
stays full for ``stall_timeout`` seconds without its reader taking anything, is ended with
``error`` set (SQLSTATE 53400).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from tidal.catalog.objects import Relation, Source, Table, View
from tidal.catalog.sqlstate import (
    ADMIN_SHUTDOWN,
    CONFIGURATION_LIMIT_EXCEEDED,
    INVALID_PARAMETER_VALUE,
    OBJECT_NOT_IN_PREREQUISITE_STATE,
    UNDEFINED_TABLE,
    WRONG_OBJECT_TYPE,
)
from tidal.engine.zset import WEIGHT, concat, consolidate, negate
from tidal.sql.errors import SqlError, undefined_table, unsupported

DIFF = "diff"
OVERFLOW_FACTOR = 4  # a buffer this many times over its bound ends the subscription


def subscribable(obj: object, name: str, batch_mode: bool = False) -> Relation:
    """The relation named ``name`` (catalog object ``obj``), if it can be subscribed to."""
    if obj is None:
        raise undefined_table(f"relation {name!r} does not exist")
    if isinstance(obj, View) and not obj.materialized:
        raise unsupported(
            f"SUBSCRIBE to the plain view {obj.name!r}: subscribe to a materialized view: "
            "CREATE MATERIALIZED VIEW ... AS <its query>"
        )
    if not isinstance(obj, (View, Table, Source)):
        raise SqlError(
            f"cannot subscribe to {obj.kind} {obj.name!r}: subscribe to a materialized view, "
            "a table or a source",
            sqlstate=WRONG_OBJECT_TYPE,
        )
    if batch_mode:
        raise unsupported("SUBSCRIBE in batch mode: nothing changes after the script has run")
    return obj


@dataclass(frozen=True)
class Update:
    """One tick's changes to a relation (``rows``: its columns plus ``diff``, +1 or -1 per row,
    retractions first), or with ``progress`` a promise that every change up to and including
    ``tick`` has been sent (``rows`` is None)."""

    tick: int
    rows: pa.Table | None
    progress: bool = False


class Subscription:
    """A reader's end of a relation's changes. ``tick``: the tick the snapshot shows (and after
    which changes follow). Thread-safe; see the module docstring for the buffer's bound."""

    def __init__(
        self,
        name: str,
        schema: pa.Schema,
        tick: int,
        progress: bool,
        buffer_rows: int,
        stall_timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if buffer_rows < 1:
            raise SqlError(
                "a subscription's buffer_rows must be at least 1", sqlstate=INVALID_PARAMETER_VALUE
            )
        self.name = name
        self.schema = schema
        self.tick = tick
        self.progress = progress
        self.buffer_rows = buffer_rows
        self.stall_timeout = stall_timeout
        self._clock = clock
        self._condition = threading.Condition()
        self._updates: deque[Update] = deque()
        self._rows = 0
        self._ended = False  # no update will be added
        self._error: str | None = None
        self._sqlstate: str | None = None
        self._full_since: float | None = None
        self._initial_rows = 0  # rows of the snapshot and replay, until they are read

    # --- the reader's side ----------------------------------------------------------------------

    def next(self, timeout: float | None = None) -> list[Update]:
        """Every update waiting, in tick order; blocks until there is one or ``timeout`` seconds
        pass (then []). Returns [] at once when the subscription has ended and is drained."""
        with self._condition:
            if not self._updates and not self._ended:
                self._condition.wait_for(lambda: self._updates or self._ended, timeout)
            updates = list(self._updates)
            self._updates.clear()
            self._rows = self._initial_rows = 0
            self._full_since = None
            return updates

    def close(self) -> None:
        """Stop receiving (idempotent); the database forgets the subscription at its next tick."""
        with self._condition:
            self._ended = True
            self._updates.clear()
            self._rows = 0
            self._condition.notify_all()

    @property
    def closed(self) -> bool:
        """True once no more updates will come (closed, or ended by the database)."""
        return self._ended

    @property
    def error(self) -> str | None:
        """Why the database ended the subscription (the relation was dropped, it fell behind)."""
        return self._error

    @property
    def sqlstate(self) -> str | None:
        """The SQLSTATE of ``error``: 53400 (fell behind), 42P01 (dropped), 57P01 (shut down)."""
        return self._sqlstate

    @property
    def buffered_rows(self) -> int:
        return self._rows

    # --- the database's side --------------------------------------------------------------------

    def push(self, update: Update) -> None:
        with self._condition:
            if self._ended:
                return
            if update.progress and self._updates and self._updates[-1].progress:
                self._updates[-1] = update  # a later progress says all an earlier one said
            else:
                self._updates.append(update)
            if update.rows is not None:
                self._rows += update.rows.num_rows
                if self._rows >= self.buffer_rows and self._full_since is None:
                    self._full_since = self._clock()
            self._condition.notify_all()

    def started(self) -> None:
        """The snapshot and replay are in: a snapshot larger than the buffer is allowed (it
        holds the sources back until it is read, but does not count as falling behind)."""
        with self._condition:
            self._initial_rows = self._rows

    @property
    def full(self) -> bool:
        return not self._ended and self._rows >= self.buffer_rows

    def check_behind(self) -> None:
        """End the subscription if its reader fell too far behind (see the module docstring)."""
        with self._condition:
            if self._ended or self._full_since is None:
                return
            if self._rows - self._initial_rows > OVERFLOW_FACTOR * self.buffer_rows:
                why = f"{self._rows} rows waiting, over {OVERFLOW_FACTOR} x buffer_rows"
            elif self._clock() - self._full_since > self.stall_timeout:
                why = f"its buffer stayed full for over {self.stall_timeout:g} s"
            else:
                return
        self.end(
            f"subscription to {self.name} ended: the client fell behind ({why} = "
            f"{self.buffer_rows}); read faster or subscribe with a larger buffer",
            CONFIGURATION_LIMIT_EXCEEDED,
            discard=True,
        )

    def end(self, error: str, sqlstate: str, discard: bool = False) -> None:
        """End the subscription with ``error``; what is buffered stays readable unless
        ``discard``."""
        with self._condition:
            if self._ended:
                return
            self._ended = True
            self._error, self._sqlstate = error, sqlstate
            if discard:
                self._updates.clear()
                self._rows = 0
            self._condition.notify_all()


@dataclass
class Feed:
    """A relation's subscribers and its recent consolidated changes (positional columns and
    weights): ``history`` holds every change of the ticks after ``start``."""

    schema: pa.Schema  # of the subscribers' rows
    start: int
    history: deque[tuple[int, pa.Table]]
    history_rows: int = 0
    subscribers: list[Subscription] = field(default_factory=list)

    def rows(self, change: pa.Table) -> pa.Table:
        """A consolidated change as the subscribers' rows: weight w becomes |w| rows with
        diff +1 or -1, retractions first."""
        weights = change.column(WEIGHT).to_numpy()
        order = np.argsort(weights > 0, kind="stable")
        counts = np.abs(weights[order])
        index = np.repeat(order, counts)
        diff = pa.array(np.repeat(np.sign(weights[order]), counts).astype(np.int64))
        data = change.drop_columns([WEIGHT])
        if len(index) != len(weights) or (order != np.arange(len(order))).any():
            data = data.take(pa.array(index))
        return pa.Table.from_arrays([*data.columns, diff], schema=self.schema)

    def changes_after(self, tick: int) -> list[tuple[int, pa.Table]]:
        return [(t, change) for t, change in self.history if t > tick]


class Feeds:
    """Every relation's feed, kept by the Database (see the module docstring)."""

    def __init__(
        self,
        history_ticks: int = 1000,
        history_rows: int = 1_000_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.history_ticks = history_ticks
        self.history_rows = history_rows
        self.clock = clock
        self._feeds: dict[str, Feed] = {}

    def subscribe(
        self,
        name: str,
        schema: pa.Schema,
        tick: int,
        current: Callable[[], pa.Table] | None,
        snapshot: bool = True,
        progress: bool = False,
        as_of: int | None = None,
        buffer_rows: int = 100_000,
        stall_timeout: float = 60.0,
    ) -> Subscription:
        """A subscription to relation ``name`` (of user columns ``schema``) at ``tick``, the
        last completed one. ``current()``: the relation's consolidated rows (positional); None
        for a source that keeps no rows (then there is no snapshot)."""
        if snapshot and current is None:
            raise SqlError(
                f"source {name!r} does not keep its rows (retain = 'false'), so it has no "
                "snapshot: SUBSCRIBE ... WITH (SNAPSHOT = false)",
                sqlstate=OBJECT_NOT_IN_PREREQUISITE_STATE,
            )
        key = name.lower()
        feed = self._feeds.get(key)
        if feed is None:
            feed = Feed(pa.schema([*schema, pa.field(DIFF, pa.int64())]), tick, deque())
        start = tick if as_of is None else self._check_as_of(name, feed, as_of, tick)
        subscription = Subscription(
            name, feed.schema, start, progress, buffer_rows, stall_timeout, self.clock
        )
        replay = feed.changes_after(start)
        if snapshot:
            rows = current()
            if replay:
                rows = consolidate(concat([rows, *(negate(c) for _, c in replay)]))
            if rows.num_rows:
                subscription.push(Update(start, feed.rows(rows)))
        for t, change in replay:
            subscription.push(Update(t, feed.rows(change)))
        if progress:
            subscription.push(Update(tick, None, progress=True))
        subscription.started()
        feed.subscribers.append(subscription)
        self._feeds[key] = feed
        return subscription

    def _check_as_of(self, name: str, feed: Feed, as_of: int, tick: int) -> int:
        if feed.start <= as_of <= tick:
            return as_of
        if as_of > tick:
            problem = f"tick {as_of} has not happened yet (the latest is {tick})"
        else:
            problem = f"tick {as_of} is older than the history kept"
        available = f"ticks {feed.start} to {tick}" if feed.start < tick else f"tick {tick}"
        raise SqlError(
            f"SUBSCRIBE {name} AS OF {as_of}: {problem}; AS OF takes {available} (history "
            f"starts at the first SUBSCRIBE and keeps the last {self.history_ticks} ticks)",
            sqlstate=INVALID_PARAMETER_VALUE,
        )

    def publish(self, tick: int, deltas: dict[str, pa.Table]) -> None:
        """Hand a committed tick's changes (positional, unconsolidated) to every feed."""
        for key, feed in self._feeds.items():
            feed.subscribers = [s for s in feed.subscribers if not s.closed]
            delta = deltas.get(key)
            change = consolidate(delta) if delta is not None and delta.num_rows else None
            if change is not None and change.num_rows:
                feed.history.append((tick, change))
                feed.history_rows += change.num_rows
                if feed.subscribers:
                    update = Update(tick, feed.rows(change))
                    for subscription in feed.subscribers:
                        subscription.push(update)
            progress = Update(tick, None, progress=True)
            for subscription in feed.subscribers:
                if subscription.progress:
                    subscription.push(progress)
                subscription.check_behind()
            self._trim(feed, tick)

    def _trim(self, feed: Feed, tick: int) -> None:
        feed.start = max(feed.start, tick - self.history_ticks)
        while feed.history and (
            feed.history[0][0] <= feed.start or feed.history_rows > self.history_rows
        ):
            dropped, change = feed.history.popleft()
            feed.history_rows -= change.num_rows
            feed.start = max(feed.start, dropped)

    def snapshot(self) -> dict[str, tuple]:
        """Every feed's history (kept in checkpoints: ``AS OF`` resumes across a restart)."""
        return {
            key: (feed.schema, feed.start, list(feed.history), feed.history_rows)
            for key, feed in self._feeds.items()
        }

    def restore(self, state: dict[str, tuple]) -> None:
        for key, (schema, start, history, rows) in state.items():
            self._feeds[key] = Feed(schema, start, deque(history), rows)

    def blocked(self) -> bool:
        """Whether some subscription's buffer is full (after ending those that fell behind)."""
        blocked = False
        for feed in self._feeds.values():
            for subscription in feed.subscribers:
                subscription.check_behind()
                blocked = blocked or subscription.full
        return blocked

    def end(self, key: str, error: str, sqlstate: str = UNDEFINED_TABLE) -> None:
        """End the subscriptions of a relation and forget its history (it was dropped)."""
        feed = self._feeds.pop(key, None)
        for subscription in feed.subscribers if feed else []:
            subscription.end(error, sqlstate)

    def end_all(self, error: str) -> None:
        for key in list(self._feeds):
            self.end(key, error, ADMIN_SHUTDOWN)

    def subscriptions(self) -> list[Subscription]:
        return [s for f in self._feeds.values() for s in f.subscribers if not s.closed]
