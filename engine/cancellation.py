"""Cancelling a running statement: a switch another thread turns, which the statement checks.

A front door runs each statement inside ``Cancellation.scope()`` on the thread that runs it; a
CancelRequest, a ``statement_timeout`` or Ctrl-C calls ``cancel()`` from elsewhere. The
statement notices at its next check point and raises ``QueryCanceled``:

- ``cancel_point()``, a no-op outside a scope, sits where a long statement passes often: between the
  operators of a dataflow step (a view's backfill), and while waiting for the engine's lock;
- DuckDB work registers its connection (``interrupting``), so ``cancel()`` interrupts it.

What a cancelled statement did is undone by the road it fails on (a tick is undone, a CREATE
adds nothing, a query's result is dropped), so it changes nothing. A cancel that comes after
the statement's last check point is too late, as in PostgreSQL: the statement succeeds.

    >>> switch = Cancellation()
    >>> with switch.scope():
    ...     cancel_point()  # nothing asked yet
    ...     switch.cancel()
    ...     cancel_point()
    Traceback (most recent call last):
    ...
    tidal.engine.cancellation.QueryCanceled: canceling statement due to user request
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from tidal.catalog.sqlstate import QUERY_CANCELED, TidalError

USER_REQUEST = "canceling statement due to user request"
STATEMENT_TIMEOUT = "canceling statement due to statement timeout"
SHUTDOWN = "canceling statement due to server shutdown"

_running = threading.local()  # the Cancellation of the statement this thread runs, if any


class QueryCanceled(TidalError):
    """The statement was cancelled (a client's request, its timeout); it changed nothing."""

    sqlstate = QUERY_CANCELED


class Cancellation:
    """One statement's cancel switch."""

    def __init__(self) -> None:
        self.reason: str | None = None  # why it was cancelled, once it is
        self._guard = threading.Lock()
        self._interrupts: list = []  # DuckDB connections running for the statement now

    def cancel(self, reason: str = USER_REQUEST) -> None:
        """Ask the statement to stop (from any thread): DuckDB work stops at once."""
        with self._guard:
            if self.reason is None:
                self.reason = reason
            for connection in self._interrupts:
                connection.interrupt()

    def check(self) -> None:
        if self.reason is not None:
            raise QueryCanceled(self.reason)

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Run the statement of this switch on this thread."""
        outer = getattr(_running, "value", None)
        _running.value = self
        try:
            self.check()  # cancelled while it waited for a thread
            yield
        finally:
            _running.value = outer


def cancel_point() -> None:
    """Raise QueryCanceled if the statement this thread runs was cancelled."""
    running = getattr(_running, "value", None)
    if running is not None:
        running.check()


def current_cancellation() -> Cancellation | None:
    """The switch of the statement this thread runs, if any."""
    return getattr(_running, "value", None)


@contextlib.contextmanager
def interrupting(connection) -> Iterator[None]:
    """Let a cancel of this thread's statement interrupt ``connection`` (DuckDB) meanwhile; a
    query it interrupted raises QueryCanceled."""
    running = current_cancellation()
    if running is None:
        yield
        return
    with running._guard:
        running._interrupts.append(connection)
    try:
        running.check()
        yield
    except Exception:
        running.check()  # interrupted: say why, not DuckDB's "INTERRUPT Error"
        raise
    finally:
        with running._guard:
            running._interrupts.remove(connection)
