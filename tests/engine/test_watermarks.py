"""Watermarks at the edge of the dataflow: late rows, idle relations, and undone ticks."""

from __future__ import annotations

import pytest

from tidal.engine import Database, DataError
from tidal.sql.errors import SqlError

BASE = "2024-01-01 00:00:00"


def at(seconds: int) -> str:
    return f"TIMESTAMP '{BASE}' + INTERVAL '{seconds}' SECOND"


def watermarks(db: Database) -> dict[str, tuple]:
    rows = db.execute("SHOW WATERMARKS").to_pylist()
    return {r["relation"]: (r["watermark"], r["late_rows"], r["idle"]) for r in rows}


def counts(db: Database, view: str) -> list[tuple]:
    return sorted(
        (r["window_end"].second, r["n"]) for r in db.execute(f"SELECT * FROM {view}").to_pylist()
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_an_idle_relation_stops_holding_back_a_view_of_two():
    clock = Clock()
    db = Database(clock=clock)
    for name, idle in (("fast", ""), ("slow", " WITH (watermark_idle_timeout = '10 seconds')")):
        db.execute(f"CREATE TABLE {name} (ts TIMESTAMP, WATERMARK FOR ts AS ts){idle}")
    db.execute(
        "CREATE MATERIALIZED VIEW both_ AS SELECT f.window_end, count(*) AS n "
        "FROM TUMBLE(fast, ts, INTERVAL '5' SECOND) f JOIN TUMBLE(slow, ts, INTERVAL '5' SECOND) s "
        "ON f.window_end = s.window_end GROUP BY f.window_end EMIT ON WINDOW CLOSE"
    )
    db.execute(f"INSERT INTO slow VALUES ({at(1)})")
    db.execute(f"INSERT INTO fast VALUES ({at(2)}), ({at(12)})")
    assert counts(db, "both_") == []  # slow's watermark (1 s) holds the window [0, 5) open
    clock.now += 11
    assert db.tick()  # no rows, but slow has gone idle: it takes fast's watermark
    assert watermarks(db)["slow"][2] is True
    assert counts(db, "both_") == [(5, 1)]
    db.execute(f"INSERT INTO slow VALUES ({at(3)}), ({at(13)})")  # 3 s is now late for slow
    assert watermarks(db)["slow"][1] == 1
    assert watermarks(db)["slow"][2] is False


def test_late_rows_go_to_the_late_table_and_nowhere_else():
    db = Database()
    db.execute(
        "CREATE TABLE ev (k INT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND) "
        "WITH (late_table = 'ev_late')"
    )
    db.execute("CREATE MATERIALIZED VIEW n AS SELECT count(*) AS n FROM ev")
    db.execute(f"INSERT INTO ev VALUES (1, {at(10)}), (2, {at(5)})")  # same tick: both on time
    db.execute(f"INSERT INTO ev VALUES (3, {at(7)}), (4, {at(8)}), (5, NULL)")  # wm 8: 7 is late
    assert db.execute("SELECT n FROM n").to_pylist() == [{"n": 3}]
    assert sorted(r["k"] for r in db.execute("SELECT k FROM ev_late").to_pylist()) == [3, 5]
    assert sorted(r["k"] for r in db.execute("SELECT k FROM ev").to_pylist()) == [1, 2, 4]
    assert watermarks(db)["ev"][1] == 2
    with pytest.raises(SqlError) as error:
        db.execute("DELETE FROM ev WHERE k = 1")
    assert error.value.sqlstate == "0A000"
    db.execute("DELETE FROM ev_late WHERE k = 5")  # the late table is an ordinary table
    assert db.execute("SELECT count(*) AS c FROM ev_late").to_pylist() == [{"c": 1}]


def test_a_late_table_must_be_a_new_name():
    db = Database()
    db.execute("CREATE TABLE taken (x INT)")
    with pytest.raises(SqlError) as error:
        db.execute(
            "CREATE TABLE ev (ts TIMESTAMP, WATERMARK FOR ts AS ts) WITH (late_table = 'taken')"
        )
    assert error.value.sqlstate == "42P07"
    assert "ev" not in db.catalog


def test_an_undone_tick_leaves_the_watermark_where_it_was():
    db = Database()
    db.execute("CREATE TABLE ev (v INT, ts TIMESTAMP, WATERMARK FOR ts AS ts)")
    db.execute("CREATE MATERIALIZED VIEW q AS SELECT 10 / v AS x FROM ev")
    db.execute(f"INSERT INTO ev VALUES (1, {at(5)})")
    before = watermarks(db)["ev"]
    with pytest.raises(DataError):
        db.execute(f"INSERT INTO ev VALUES (0, {at(50)})")
    assert watermarks(db)["ev"] == before
    db.execute(f"INSERT INTO ev VALUES (2, {at(6)})")  # still on time: the watermark is 5 s
    assert sorted(r["x"] for r in db.execute("SELECT x FROM q").to_pylist()) == [5, 10]


def test_dropping_a_relation_drops_its_watermark():
    db = Database()
    db.execute("CREATE TABLE ev (ts TIMESTAMP, WATERMARK FOR ts AS ts)")
    db.execute("DROP TABLE ev")
    assert db.execute("SHOW WATERMARKS").num_rows == 0
