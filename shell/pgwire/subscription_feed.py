"""A subscription's changes as the server hands them out: rows in Materialize's layout, and
waiting for them without blocking the event loop.

Each row carries ``mz_timestamp`` (the tick), ``mz_progressed`` (only WITH (PROGRESS)) and
``mz_diff`` (+1 or -1) before the relation's columns. COPY (copy.py) streams them; a cursor
(cursors.py) hands them out in pieces.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import numpy as np
import pyarrow as pa

from tidal.engine.subscriptions import Subscription, Update

# How long one wait on a subscription lasts before the server checks for a cancel or a
# disconnect; each wait holds one thread of the server's wait pool.
WAIT_SLICE = 0.25

Waiter = Callable[[Subscription, float], Awaitable[list[Update]]]


def subscription_schema(subscription: Subscription) -> pa.Schema:
    """The columns a subscription's rows go out with (Materialize's layout)."""
    fields = [pa.field("mz_timestamp", pa.int64())]
    if subscription.progress:
        fields.append(pa.field("mz_progressed", pa.bool_()))
    fields.append(pa.field("mz_diff", pa.int64()))
    return pa.schema(fields + list(subscription.schema)[:-1])


def subscription_rows(subscription: Subscription, update: Update) -> pa.Table:
    """One update as rows in ``subscription_schema`` (a progress update is one row whose
    ``mz_progressed`` is true and whose other columns are NULL)."""
    schema = subscription_schema(subscription)
    if update.rows is None:
        arrays = [pa.array([update.tick], pa.int64()), pa.array([True])]
        arrays += [pa.nulls(1, f.type) for f in list(schema)[2:]]
        return pa.Table.from_arrays(arrays, schema=schema)
    rows = update.rows
    n = rows.num_rows
    arrays = [pa.array(np.full(n, update.tick, dtype=np.int64))]
    if subscription.progress:
        arrays.append(pa.array(np.zeros(n, dtype=bool)))
    arrays.append(rows.column(rows.num_columns - 1))
    arrays += rows.columns[:-1]
    return pa.Table.from_arrays(arrays, schema=schema)


async def wait_in(pool, subscription: Subscription, timeout: float) -> list[Update]:
    """``subscription.next(timeout)`` on a thread of ``pool`` (it blocks)."""
    if timeout <= 0:
        return subscription.next(timeout=0)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, subscription.next, timeout)
