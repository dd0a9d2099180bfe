"""EMIT ON WINDOW CLOSE over a windowed stream joined with a table that has no watermark.

The table does not hold back the window close: the join's output keeps the stream's watermark
(tidal.sql.eventtime, ``through_tables``). After every tick the view equals DuckDB's batch
answer over the same rows, restricted to the windows final under the watermark, here computed
by the test itself (bids arrive in time order with no delay, so none is late and the watermark
is the newest time). A change to the table after a window closed changes that window's joined
rows too, so the view stays equal to the batch answer.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidal.engine import Database

from .profiles import PROFILE
from .reference import Reference, assert_same_rows

BASE = dt.datetime(2024, 1, 1)
BIDS = "CREATE TABLE bids (k INTEGER, v INTEGER, ts TIMESTAMP{})"
DIM = "CREATE TABLE dim (k INTEGER, name VARCHAR)"

PER_WINDOW = (
    "SELECT window_start, window_end, k, count(*) AS n, sum(v) AS s "
    "FROM TUMBLE(bids, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end, k"
)
# The same windows in plain DuckDB: 10-second buckets by epoch arithmetic.
PER_WINDOW_ORACLE = (
    "SELECT window_end, k, count(*) AS n, sum(v) AS s FROM (SELECT *, "
    "make_timestamp((epoch_us(ts) // 10000000 + 1) * 10000000) AS window_end FROM bids) "
    "GROUP BY window_end, k"
)
VIEWS = {
    "inner": (
        f"SELECT w.window_end, w.k, d.name, w.n, w.s FROM ({PER_WINDOW}) w JOIN dim d ON w.k = d.k",
        (
            f"SELECT w.window_end, w.k, d.name, w.n, w.s FROM ({PER_WINDOW_ORACLE}) w "
            "JOIN dim d ON w.k = d.k WHERE w.window_end <= {wm}"
        ),
    ),
    "left": (
        (
            f"SELECT w.window_end, w.k, d.name, w.n FROM ({PER_WINDOW}) w "
            "LEFT JOIN dim d ON w.k = d.k AND d.name <> 'z'"
        ),
        (
            f"SELECT w.window_end, w.k, d.name, w.n FROM ({PER_WINDOW_ORACLE}) w "
            "LEFT JOIN dim d ON w.k = d.k AND d.name <> 'z' WHERE w.window_end <= {wm}"
        ),
    ),
    "right": (
        f"SELECT d.name, w.window_end, w.s FROM dim d RIGHT JOIN ({PER_WINDOW}) w ON w.k = d.k",
        (
            f"SELECT d.name, w.window_end, w.s FROM dim d RIGHT JOIN ({PER_WINDOW_ORACLE}) w "
            "ON w.k = d.k WHERE w.window_end <= {wm}"
        ),
    ),
    "grouped_after_join": (
        (
            f"SELECT w.window_end, d.name, sum(w.n) AS n FROM ({PER_WINDOW}) w "
            "JOIN dim d ON w.k = d.k GROUP BY w.window_end, d.name"
        ),
        (
            f"SELECT w.window_end, d.name, sum(w.n) AS n FROM ({PER_WINDOW_ORACLE}) w "
            "JOIN dim d ON w.k = d.k WHERE w.window_end <= {wm} GROUP BY w.window_end, d.name"
        ),
    ),
    "rows": (
        "SELECT b.ts, b.k, d.name FROM bids b JOIN dim d ON b.k = d.k",
        "SELECT b.ts, b.k, d.name FROM bids b JOIN dim d ON b.k = d.k WHERE b.ts < {wm}",
    ),
}

_KEYS = st.one_of(st.none(), st.integers(1, 3))
_DIM_CHANGES = st.one_of(
    st.builds(
        lambda k, name: f"INSERT INTO dim VALUES ({'NULL' if k is None else k}, '{name}')",
        _KEYS,
        st.sampled_from(["x", "y", "z"]),
    ),
    st.builds(
        "UPDATE dim SET name = '{}' WHERE k = {}".format, st.sampled_from("xyz"), st.integers(1, 3)
    ),
    st.builds("DELETE FROM dim WHERE k = {}".format, st.integers(1, 3)),
)
# Bids in time order, a batch 0-12 s after the previous one: never late.
_BIDS = st.tuples(
    st.integers(0, 12),
    st.lists(st.tuples(_KEYS, st.sampled_from([None, 1, 5])), min_size=1, max_size=3),
)


def _literal(seconds: int) -> str:
    return f"TIMESTAMP '{BASE + dt.timedelta(seconds=seconds)}'"


@pytest.mark.parametrize("name", list(VIEWS))
@PROFILE
@given(
    steps=st.lists(st.one_of(_DIM_CHANGES, _BIDS), min_size=1, max_size=10),
    created_at=st.integers(0, 10),
)
def test_emit_on_window_close_through_a_table_join_equals_duckdb(name, steps, created_at):
    view, oracle = VIEWS[name]
    db, reference = Database(), Reference()
    db.execute(BIDS.format(", WATERMARK FOR ts AS ts"))
    reference.execute(BIDS.format(""))
    for statement in (DIM, "INSERT INTO dim VALUES (1, 'x'), (2, 'y')"):
        db.execute(statement)
        reference.execute(statement)
    now, newest = 0, None
    try:
        for position, step in enumerate([*steps, None]):
            if position == created_at or (step is None and created_at >= len(steps)):
                db.execute(f"CREATE MATERIALIZED VIEW v AS {view} EMIT ON WINDOW CLOSE")
            if isinstance(step, str):
                statement = step
            elif step is not None:
                now += step[0]
                values = ", ".join(
                    f"({'NULL' if k is None else k}, {'NULL' if v is None else v}, {_literal(now)})"
                    for k, v in step[1]
                )
                statement = f"INSERT INTO bids VALUES {values}"
                newest = now
            else:
                break
            db.execute(statement)
            reference.execute(statement)
            if position >= created_at:
                wm = "NULL" if newest is None else _literal(newest)
                expected, _ = reference.query(oracle.format(wm=wm))
                assert_same_rows(db.read("v"), expected, False, f"{name} after {statement}")
                ad_hoc = db.execute(f"{view} EMIT ON WINDOW CLOSE")
                assert_same_rows(ad_hoc, expected, False, f"{name} ad hoc after {statement}")
    finally:
        db.close()
        reference.close()


def test_a_closed_window_is_emitted_once_and_follows_later_table_changes():
    db = Database()
    db.execute(BIDS.format(", WATERMARK FOR ts AS ts"))
    db.execute(DIM)
    db.execute("INSERT INTO dim VALUES (1, 'x')")
    db.execute(f"CREATE MATERIALIZED VIEW v AS {VIEWS['inner'][0]} EMIT ON WINDOW CLOSE")
    changes = db.subscribe("v")
    db.execute(f"INSERT INTO bids VALUES (1, 5, {_literal(1)}), (1, 5, {_literal(3)})")
    assert db.read("v").num_rows == 0  # the window [0 s, 10 s) is open
    db.execute(f"INSERT INTO bids VALUES (1, 1, {_literal(10)})")
    assert [r["n"] for r in db.read("v").to_pylist()] == [2]  # closed, without waiting for dim
    db.execute("UPDATE dim SET name = 'y' WHERE k = 1")
    assert [r["name"] for r in db.read("v").to_pylist()] == ["y"]
    del changes


@pytest.mark.parametrize("join", ["FULL JOIN dim d ON w.k = d.k", "JOIN bids b2 ON w.k = b2.k"])
def test_without_a_stream_side_that_is_never_padded_or_delayed_it_is_refused(join):
    db = Database()
    db.execute(BIDS.format(", WATERMARK FOR ts AS ts"))
    db.execute(DIM)
    with pytest.raises(Exception) as caught:
        db.execute(
            f"CREATE MATERIALIZED VIEW v AS SELECT w.window_end, w.k FROM ({PER_WINDOW}) w "
            f"{join} EMIT ON WINDOW CLOSE"
        )
    assert getattr(caught.value, "sqlstate", None) == "42P17"
