"""The workloads of ``tidal bench core``: their tables, view and generated changes.

Rows are generated with numpy up front (not timed) and handed out as mini-batches of changes
(plain columns plus ``__weight``): inserts, and for ``join`` updates of orders and customers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

WEIGHT = "__weight"
REGIONS = 50  # join: customers' regions


@dataclass
class Feed:
    """A workload's data: the ticks to feed (table, change batch, kind) and the final tables."""

    ticks: list[tuple[str, pa.Table, str]] = field(default_factory=list)
    final: dict[str, pa.Table] = field(default_factory=dict)


@dataclass(frozen=True)
class Workload:
    """A benchmark: tables to create, the view's query, and how to generate its data."""

    name: str
    tables: dict[str, str]  # name -> column list, as in CREATE TABLE name (...)
    query: str
    generate: Callable[[argparse.Namespace], Feed]
    float_columns: tuple[str, ...] = ()  # compared with a tolerance by --verify


def _strings(prefix: str, count: int, indices: np.ndarray) -> pa.Array:
    """A VARCHAR column drawn from ``count`` distinct strings (cheap: one ``take``)."""
    pool = pa.array([f"{prefix}{i:05d}" for i in range(count)], pa.string())
    return pool.take(pa.array(indices))


def _weighted(columns: dict[str, pa.Array | np.ndarray], weight: int) -> pa.Table:
    """A change batch: the columns plus ``__weight`` (+1 insert, -1 delete) on every row."""
    table = pa.table(columns)
    return table.append_column(WEIGHT, pa.array(np.full(table.num_rows, weight, np.int64)))


def _inserts(table: pa.Table) -> pa.Table:
    """Every row of ``table`` with weight +1."""
    return _weighted({name: table.column(name) for name in table.column_names}, 1)


def _slices(table: pa.Table, batch_rows: int, name: str) -> Iterator[tuple[str, pa.Table, str]]:
    """Insert ticks: ``table`` cut into batches (zero-copy slices)."""
    for start in range(0, table.num_rows, batch_rows):
        yield name, table.slice(start, batch_rows), "insert"


def _filter_project_data(args: argparse.Namespace) -> Feed:
    rng = np.random.default_rng(args.seed)
    n = args.rows
    t = pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "a": pa.array(rng.integers(0, 1000, n, dtype=np.int32)),
            "b": pa.array(np.round(rng.random(n) * 1000, 3)),
            "s": _strings("s", 1000, rng.integers(0, 1000, n)),
        }
    )
    return Feed(list(_slices(_inserts(t), args.batch_rows, "t")), {"t": t})


def _group_by_data(args: argparse.Namespace) -> Feed:
    rng = np.random.default_rng(args.seed)
    n, groups = args.rows, _scaled(args.groups, args.rows)
    t = pa.table(
        {
            "k": pa.array(rng.integers(0, groups, n, dtype=np.int64)),
            "v": pa.array(rng.integers(0, 1000, n, dtype=np.int32)),
            "x": pa.array(rng.random(n)),
        }
    )
    return Feed(list(_slices(_inserts(t), args.batch_rows, "t")), {"t": t})


def _scaled(count: int, rows: int) -> int:
    """A key count, at most a tenth of the rows (so small runs still repeat keys)."""
    return max(1, min(count, rows // 10))


@dataclass
class _JoinState:
    """The current orders and customers while update ticks are generated."""

    rng: np.random.Generator
    order_customer: np.ndarray
    amount: np.ndarray
    region: np.ndarray
    regions: int = REGIONS

    def order_rows(self, ids: np.ndarray, amounts: np.ndarray) -> dict:
        return {"id": ids, "customer": self.order_customer[ids], "amount": amounts}

    def update_orders(self, inserted: int, count: int) -> pa.Table:
        """Retract ``count`` existing orders and insert them with a new amount."""
        ids = np.unique(self.rng.integers(0, inserted, count))
        new = np.round(self.rng.random(len(ids)) * 1000, 2)
        old = self.order_rows(ids, self.amount[ids])
        self.amount[ids] = new
        return pa.concat_tables([_weighted(old, -1), _weighted(self.order_rows(ids, new), 1)])

    def move_customers(self, count: int) -> pa.Table:
        """Retract ``count`` customers and insert them with another region."""
        ids = np.unique(self.rng.integers(0, len(self.region), count))
        moved = (self.region[ids] + self.rng.integers(1, self.regions, len(ids))) % self.regions
        old = {"customer": ids, "region": _strings("region_", self.regions, self.region[ids])}
        self.region[ids] = moved
        new = {"customer": ids, "region": _strings("region_", self.regions, moved)}
        return pa.concat_tables([_weighted(old, -1), _weighted(new, 1)])

    def customers(self) -> pa.Table:
        ids = np.arange(len(self.region), dtype=np.int64)
        return pa.table({"customer": ids, "region": _strings("region_", self.regions, self.region)})

    def orders(self) -> pa.Table:
        ids = np.arange(len(self.amount), dtype=np.int64)
        return pa.table(self.order_rows(ids, self.amount))


def _join_data(args: argparse.Namespace) -> Feed:
    """Customers first; then order batches, every ``update_every``-th one an update batch
    (half the batch's orders retracted and re-inserted with a new amount) followed by a tick
    that moves 0.1% of the customers to another region."""
    rng = np.random.default_rng(args.seed)
    n, customers = args.rows, _scaled(args.customers, args.rows)
    state = _JoinState(
        rng,
        rng.integers(0, customers, n, dtype=np.int64),
        np.round(rng.random(n) * 1000, 2),
        rng.integers(0, REGIONS, customers),
    )
    feed = Feed()
    feed.ticks += list(_slices(_inserts(state.customers()), args.batch_rows, "customers"))
    inserted, batch = 0, 0
    while inserted < n:
        batch += 1
        if args.update_every and batch % args.update_every == 0 and inserted:
            updates = state.update_orders(inserted, args.batch_rows // 2)
            feed.ticks.append(("orders", updates, "update"))
            moved = state.move_customers(max(1, customers // 1000))
            feed.ticks.append(("customers", moved, "move"))
            continue
        ids = np.arange(inserted, min(n, inserted + args.batch_rows), dtype=np.int64)
        orders = _weighted(state.order_rows(ids, state.amount[ids]), 1)
        feed.ticks.append(("orders", orders, "insert"))
        inserted += len(ids)
    feed.final = {"orders": state.orders(), "customers": state.customers()}
    return feed


WORKLOADS = {
    "filter_project": Workload(
        "filter_project",
        {"t": "id BIGINT, a INTEGER, b DOUBLE, s VARCHAR"},
        "SELECT id, a * 2 + 1 AS a2, b * 1.5 AS b2 FROM t WHERE a % 10 < 5",
        _filter_project_data,
    ),
    "group_by": Workload(
        "group_by",
        {"t": "k BIGINT, v INTEGER, x DOUBLE"},
        "SELECT k, count(*) AS n, sum(v) AS total, avg(x) AS mean FROM t GROUP BY k",
        _group_by_data,
        float_columns=("mean",),
    ),
    "join": Workload(
        "join",
        {
            "orders": "id BIGINT, customer BIGINT, amount DOUBLE",
            "customers": "customer BIGINT, region VARCHAR",
        },
        "SELECT c.region, o.id, o.amount FROM orders o JOIN customers c ON o.customer = c.customer",
        _join_data,
    ),
}
