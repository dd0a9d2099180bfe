"""Temporal filters (``ts > now() - INTERVAL ...``): a view holds the rows visible at the
clock's time, and rows leave as the clock passes them; a condition with a month interval that
does not read now() is an ordinary condition."""

from __future__ import annotations

import datetime

import pytest

from tidal.engine import Database
from tidal.sql.errors import SqlError

START = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC).timestamp()


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def _keys(db: Database, view: str) -> list[int]:
    return sorted(db.execute(f"SELECT k FROM {view}").column(0).to_pylist())


def test_rows_leave_a_temporal_filter_as_the_clock_passes_them():
    clock = Clock()
    db = Database(clock=clock)
    db.execute("CREATE TABLE t (k INTEGER, ts TIMESTAMP)")
    db.execute(
        "CREATE MATERIALIZED VIEW recent AS SELECT k FROM t WHERE ts > now() - INTERVAL '1 hour'"
    )
    db.execute(
        "INSERT INTO t VALUES (1, TIMESTAMP '2026-01-01 11:30:00'), "
        "(2, TIMESTAMP '2026-01-01 10:00:00'), (3, TIMESTAMP '2026-01-01 11:59:00')"
    )
    assert _keys(db, "recent") == [1, 3]
    clock.now = START + 45 * 60  # 12:45: 11:30 is more than an hour ago
    db.execute("INSERT INTO t VALUES (4, TIMESTAMP '2026-01-01 12:40:00')")
    assert _keys(db, "recent") == [3, 4]


def test_a_month_interval_without_now_is_an_ordinary_condition():
    """TPC-H q4's ``o_orderdate < DATE '1993-07-01' + INTERVAL '3' MONTH`` was refused as a
    temporal filter with a month interval (the RisingWave yardstick's tpch files)."""
    db = Database()
    db.execute("CREATE TABLE orders (k INTEGER, d DATE)")
    db.execute(
        "CREATE MATERIALIZED VIEW quarter AS SELECT k FROM orders "
        "WHERE d >= DATE '1993-07-01' AND d < DATE '1993-07-01' + INTERVAL '3' MONTH"
    )
    db.execute(
        "INSERT INTO orders VALUES (1, DATE '1993-07-01'), (2, DATE '1993-09-30'), "
        "(3, DATE '1993-10-01')"
    )
    assert _keys(db, "quarter") == [1, 2]


def test_a_temporal_filter_with_a_month_interval_is_refused():
    db = Database()
    db.execute("CREATE TABLE t (k INTEGER, ts TIMESTAMP)")
    with pytest.raises(SqlError, match="has months or years") as raised:
        db.execute(
            "CREATE MATERIALIZED VIEW v AS SELECT k FROM t WHERE ts > now() - INTERVAL '1 month'"
        )
    assert raised.value.sqlstate == "22023"
