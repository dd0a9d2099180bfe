"""Intervals as keys: equal intervals (24 hours and 1 day, 30 days and 1 month) are one group,
one DISTINCT row and match in joins, as in DuckDB; the key shows in DuckDB's normal form."""

from __future__ import annotations

import datetime

import duckdb
import pyarrow as pa
import pytest

from tidal.engine import Database

ROWS = ", ".join(
    f"({value})"
    for value in [
        "INTERVAL '24 hours'",
        "INTERVAL '1 day'",
        "INTERVAL '30 days'",
        "INTERVAL '1 month'",
        "INTERVAL '-25 hours'",
        "INTERVAL '-1 day -1 hour'",
        "INTERVAL '90 minutes'",
        "NULL",
    ]
)
CHANGES = [
    f"INSERT INTO t VALUES {ROWS}",
    "DELETE FROM t WHERE i = INTERVAL '1 day'",  # both rows of the day
    "INSERT INTO t VALUES (INTERVAL '1 day'), (INTERVAL '720 hours')",
]
QUERIES = {
    "distinct": "SELECT DISTINCT i FROM t",
    "group_by": "SELECT i, count(*) AS n FROM t GROUP BY i",
    "join": "SELECT a.i, count(*) AS n FROM t AS a JOIN t AS b ON a.i = b.i GROUP BY a.i",
}


def _length(value):
    """An interval's length in microseconds, months as 30 days (how DuckDB compares them)."""
    if isinstance(value, datetime.timedelta):  # DuckDB's Python value: months already as days
        return value // datetime.timedelta(microseconds=1)
    if isinstance(value, pa.MonthDayNano):
        return (value.months * 30 + value.days) * 86_400_000_000 + value.nanoseconds // 1000
    return value


def _rows(rows) -> list[tuple]:
    return sorted((tuple(_length(v) for v in row) for row in rows), key=repr)


@pytest.mark.parametrize("name", QUERIES)
def test_equal_intervals_are_one_key(name):
    db = Database()
    db.execute("CREATE TABLE t (i INTERVAL)")
    db.execute(f"CREATE MATERIALIZED VIEW v AS {QUERIES[name]}")
    oracle = duckdb.connect()
    oracle.execute("CREATE TABLE t (i INTERVAL)")
    for change in CHANGES:
        db.execute(change)
        oracle.execute(change)
        view = db.execute("SELECT * FROM v")
        assert _rows(zip(*(c.to_pylist() for c in view.columns))) == _rows(
            oracle.execute(QUERIES[name]).fetchall()
        )
    day = db.execute("SELECT i FROM v WHERE i = INTERVAL '1 day'").column(0).to_pylist()
    assert day == [pa.MonthDayNano([0, 1, 0])]  # the normal form, whichever row came first
