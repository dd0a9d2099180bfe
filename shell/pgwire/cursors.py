"""SQL cursors: ``DECLARE c CURSOR FOR <query or SUBSCRIBE>``, then ``FETCH``, ``CLOSE``.

A cursor over a query holds its result (read at one tick) and hands it out in pieces. A cursor
over ``SUBSCRIBE`` hands out the subscription's changes as they come (Materialize's columns:
``mz_timestamp``, ``mz_progressed`` with PROGRESS, ``mz_diff``, then the relation's):
``FETCH n c`` returns up to n rows; if none is ready it waits, up to ``WITH (timeout = ...)``
or, without a timeout, until there is at least one.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

import pyarrow as pa

from tidal.catalog.sqlstate import CONFIGURATION_LIMIT_EXCEEDED
from tidal.engine.subscriptions import Subscription, Update
from tidal.shell.pgwire.copy import subscription_rows, subscription_schema
from tidal.shell.pgwire.error_responses import ServerError

# How long one wait on a subscription lasts before the server checks for a cancel or a
# disconnect; each wait holds one thread of the server's wait pool.
WAIT_SLICE = 0.25

Waiter = Callable[[Subscription, float], Awaitable[list[Update]]]


class ResultCursor:
    """A cursor over a query's rows."""

    def __init__(self, table: pa.Table, hold: bool, binary: bool) -> None:
        self.table = table
        self.position = 0
        self.hold = hold
        self.binary = binary

    @property
    def schema(self) -> pa.Schema:
        return self.table.schema

    async def fetch(self, count: int | None, timeout: float | None, check: Callable) -> pa.Table:
        end = (
            self.table.num_rows
            if count is None
            else min(self.position + count, self.table.num_rows)
        )
        rows = self.table.slice(self.position, end - self.position)
        self.position = end
        return rows

    def close(self) -> None:
        self.table = self.table.slice(0, 0)


class SubscriptionCursor:
    """A cursor over a subscription: rows not fetched yet wait in ``pending``."""

    def __init__(self, subscription: Subscription, wait: Waiter, hold: bool, binary: bool) -> None:
        self.subscription = subscription
        self.wait = wait
        self.hold = hold
        self.binary = binary
        self.pending: deque[pa.Table] = deque()
        self.pending_rows = 0
        self.schema = subscription_schema(subscription)

    async def fetch(self, count: int | None, timeout: float | None, check: Callable) -> pa.Table:
        """Up to ``count`` rows (None: all that are ready); waits as the module says.
        ``check()`` raises if the statement was cancelled or the client left."""
        self._take(await self.wait(self.subscription, 0))
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.pending_rows and not self.subscription.closed:
            remaining = WAIT_SLICE if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                break
            check()
            self._take(await self.wait(self.subscription, min(WAIT_SLICE, remaining)))
        if not self.pending_rows and self.subscription.error:
            raise ServerError(
                self.subscription.error, self.subscription.sqlstate or CONFIGURATION_LIMIT_EXCEEDED
            )
        return self._pop(count)

    def _take(self, updates: list[Update]) -> None:
        for update in updates:
            rows = subscription_rows(self.subscription, update)
            self.pending.append(rows)
            self.pending_rows += rows.num_rows

    def _pop(self, count: int | None) -> pa.Table:
        wanted = self.pending_rows if count is None else min(count, self.pending_rows)
        taken: list[pa.Table] = []
        while wanted > 0:
            head = self.pending[0]
            if head.num_rows <= wanted:
                taken.append(self.pending.popleft())
                wanted -= head.num_rows
            else:
                taken.append(head.slice(0, wanted))
                self.pending[0] = head.slice(wanted)
                wanted = 0
        rows = pa.concat_tables(taken) if taken else self.schema.empty_table()
        self.pending_rows -= rows.num_rows
        return rows

    def close(self) -> None:
        self.subscription.close()
        self.pending.clear()
        self.pending_rows = 0


Cursor = ResultCursor | SubscriptionCursor


async def wait_in(pool, subscription: Subscription, timeout: float) -> list[Update]:
    """``subscription.next(timeout)`` on a thread of ``pool`` (it blocks)."""
    if timeout <= 0:
        return subscription.next(timeout=0)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, subscription.next, timeout)
