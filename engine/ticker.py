"""The ticker: a background thread that keeps sources flowing into a running Database.

    ticker = Ticker(db)
    ticker.start()      # `tidal serve` and the interactive shell
    ...
    ticker.stop()       # joins the thread

It loops: unless a subscriber's buffer is full (``db.feeds.blocked()``: the sources then
wait, unread, for the slow reader), it runs ``db.tick()``, which polls every source once. When
no tick ran (no source had rows; a throttled source has none yet) it sleeps ``interval``
seconds, so ticks follow the data as it arrives. Ticks start at most every ``pace`` seconds:
a tick takes what arrived meanwhile, so a steady stream makes a few larger ticks rather than
one per poll (each tick has a fixed cost, and each remakes the snapshots reads share). A
source with a backlog (it filled its batch, ``TickLoop.backlog``) is read again without a pause.

With ``owns_polling=True`` (``tidal serve``) the ticker is the only one to poll the sources:
``db.reads.poll_first`` is off while it runs, so ad hoc reads serve the latest completed tick
instead of polling first. The shell keeps the default: a query there reads bounded inputs
(files, finite datagen) to their end first, as ``tidal run`` does. A tick that fails (a view cannot process a
batch: the batch is skipped, the tick undone) is reported through ``db.take_source_errors()``
and the loop goes on: one bad batch must not stop ingestion. Near the memory budget the ticks
poll no source (tidal.engine.memory): the loop goes on at ``interval``, and sources are read
again as soon as a tick finds the state shrunk.
"""

from __future__ import annotations

import threading
import time
from typing import Self

from tidal.engine.database import Database
from tidal.engine.errors import DataError
from tidal.sql.errors import SqlError

# After a tick that ran, wait at least this long before the next one, so that statements from
# other threads get the database's lock between ticks.
YIELD_SECONDS = 0.001
PACE_SECONDS = 0.05  # the shortest time from the start of one tick to the start of the next


class Ticker:
    def __init__(
        self,
        db: Database,
        interval: float = 0.05,
        pace: float = PACE_SECONDS,
        owns_polling: bool = False,
    ) -> None:
        self.db = db
        self.interval = interval
        self.pace = pace
        self.owns_polling = owns_polling
        self.ticks = 0  # ticks this ticker ran
        self.failures = 0  # ticks that raised
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        if self.owns_polling:
            self.db.reads.poll_first = False
        self._thread = threading.Thread(target=self._run, name="tidal-ticker", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop ticking; returns when the thread has finished its current tick."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self.owns_polling:
            self.db.reads.poll_first = True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            ran = self._step()
            paced = max(YIELD_SECONDS, self.pace - (time.monotonic() - started))
            if self.db.tick_loop.backlog:  # a source has more rows than a tick takes
                paced = YIELD_SECONDS
            self._stop.wait(paced if ran else self.interval)

    def _step(self) -> bool:
        """One round: a tick unless subscribers hold the sources back; True if a tick ran."""
        try:
            with self.db.tick_loop.exclusive():
                if self.db.feeds.blocked():
                    return False
            ran = self.db.tick()
        except Exception as error:  # noqa: BLE001 (whatever a tick met, ingestion goes on)
            kind = "" if isinstance(error, (DataError, SqlError)) else f"{type(error).__name__}: "
            self._failed(f"a tick failed and was undone: {kind}{error}")
            return False
        self.ticks += int(ran)
        return ran

    def _failed(self, message: str) -> None:
        self.failures += 1
        self.db.tick_loop.report(message)
