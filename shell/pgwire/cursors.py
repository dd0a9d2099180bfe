"""SQL cursors: ``DECLARE c CURSOR FOR <query or SUBSCRIBE>``, then ``FETCH``, ``CLOSE``; a
session keeps its cursors in ``Cursors``.

A cursor over a query holds its result (read at one tick) and hands it out in pieces. A cursor
over ``SUBSCRIBE`` hands out the subscription's changes as they come (Materialize's columns:
``mz_timestamp``, ``mz_progressed`` with PROGRESS, ``mz_diff``, then the relation's):
``FETCH n c`` returns up to n rows; if none is ready it waits, up to ``WITH (timeout = ...)``
or, without a timeout, until there is at least one.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import pyarrow as pa

from tidal.catalog.sqlstate import (
    CONFIGURATION_LIMIT_EXCEEDED,
    DUPLICATE_CURSOR,
    INVALID_CURSOR_NAME,
)
from tidal.engine.subscriptions import Subscription, Update
from tidal.shell.pgwire.error_responses import ServerError
from tidal.shell.pgwire.subscription_feed import (
    WAIT_SLICE,
    Waiter,
    subscription_rows,
    subscription_schema,
)


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


class Cursors:
    """A session's cursors by name. Those declared inside a transaction block without HOLD
    close when the block ends; the others live until CLOSE or the end of the session."""

    def __init__(self) -> None:
        self._open: dict[str, Cursor] = {}
        self._in_block: set[str] = set()

    def get(self, name: str) -> Cursor | None:
        return self._open.get(name)

    def find(self, name: str) -> Cursor:
        cursor = self._open.get(name)
        if cursor is None:
            raise ServerError(f'cursor "{name}" does not exist', INVALID_CURSOR_NAME)
        return cursor

    def check_free(self, name: str) -> None:
        if name in self._open:
            raise ServerError(f'cursor "{name}" already exists', DUPLICATE_CURSOR)

    def add(self, name: str, cursor: Cursor, in_block: bool) -> None:
        self.check_free(name)
        self._open[name] = cursor
        if in_block:
            self._in_block.add(name)

    def close(self, name: str | None) -> None:
        """Close cursor ``name``, or (None) every cursor."""
        for key in [name] if name is not None else list(self._open):
            self.find(key)
            self._open.pop(key).close()
            self._in_block.discard(key)

    def end_block(self) -> None:
        for name in self._in_block:
            cursor = self._open.get(name)
            if cursor is not None and not cursor.hold:
                self._open.pop(name).close()
        self._in_block.clear()
