"""Snapshots and prepared reads (tidal.engine.reads, tidal.engine.prepared_statements): what a
read sees after ticks, DML, DDL and drops, how prepared plans follow the catalog, and reads while
a ticker owns the polling."""

from __future__ import annotations

import time

import pytest

from tidal.engine import Database
from tidal.engine.reads import MISS
from tidal.engine.ticker import Ticker
from tidal.sql.errors import SqlError
from tidal.sql.parser import parse_statement

POINT = "SELECT * FROM totals WHERE k = $1"


@pytest.fixture
def db():
    db = Database()
    db.execute("CREATE TABLE t (k BIGINT, v INTEGER)")
    db.execute(
        "CREATE MATERIALIZED VIEW totals AS SELECT k, sum(v) AS s, count(*) AS n FROM t GROUP BY k"
    )
    db.execute("INSERT INTO t VALUES (1, 10), (2, 20), (1, 5)")
    yield db
    db.close()


def prepared(db: Database, text: str, types: tuple[str, ...], *arguments, wait: bool = True):
    return db.prepare(parse_statement(text), types).run(list(arguments), wait)


def rows(table) -> list[tuple]:
    return [tuple(r.values()) for r in table.to_pylist()]


def test_a_prepared_point_read_sees_every_insert_and_delete(db):
    assert rows(prepared(db, POINT, ("BIGINT",), 1)) == [(1, 15, 2)]
    db.execute("INSERT INTO t VALUES (1, 100)")
    assert rows(prepared(db, POINT, ("BIGINT",), 1)) == [(1, 115, 3)]
    db.execute("DELETE FROM t WHERE k = 1")
    assert rows(prepared(db, POINT, ("BIGINT",), 1)) == []
    assert rows(prepared(db, POINT, ("BIGINT",), 2)) == [(2, 20, 1)]
    assert rows(prepared(db, POINT, ("BIGINT",), None)) == []


def test_reads_between_ticks_share_one_snapshot_and_a_tick_makes_a_new_one(db):
    first = db.reads.contents("totals")
    assert db.reads.contents("totals") is first
    db.execute("INSERT INTO t VALUES (3, 1)")
    second = db.reads.contents("totals")
    assert second is not first and sorted(rows(second)) == [(1, 15, 2), (2, 20, 1), (3, 1, 1)]


def test_a_tick_remakes_the_snapshots_that_were_read_and_drops_the_others(db):
    db.reads.contents("totals")
    db.reads.contents("t")
    db.execute("INSERT INTO t VALUES (3, 1)")  # the tick remakes both: both were read
    assert set(db.reads._snapshots) == {"totals", "t"}
    assert db.reads._snapshots["totals"].tick == db.ticks
    db.reads.contents("totals")
    db.execute("INSERT INTO t VALUES (4, 1)")  # only totals was read since
    assert set(db.reads._snapshots) == {"totals"}
    assert (4, 1, 1) in rows(db.reads._snapshots["totals"].rows)


def test_a_dropped_and_recreated_relation_is_read_anew(db):
    point = db.prepare(parse_statement(POINT), ("BIGINT",))
    assert rows(point.run([2])) == [(2, 20, 1)]
    db.execute("DROP MATERIALIZED VIEW totals")
    with pytest.raises(SqlError, match="totals"):
        point.run([2])  # compiled again for the new catalog: the binder says what is missing
    db.execute("CREATE MATERIALIZED VIEW totals AS SELECT k, max(v) AS s, 7 AS n FROM t GROUP BY k")
    assert rows(point.run([1])) == [(1, 10, 7)]
    db.execute("DROP TABLE t CASCADE")
    db.execute("CREATE TABLE t (k BIGINT, v INTEGER)")
    assert db.execute("SELECT count(*) AS n FROM t").to_pylist() == [{"n": 0}]


def test_a_statement_that_needs_duckdb_runs_there_with_its_arguments(db):
    db.reads.poll_first = False
    text = "SELECT k, s + 1 AS s1 FROM totals WHERE k = $1"
    assert rows(prepared(db, text, ("BIGINT",), 1)) == [(1, 16)]
    assert prepared(db, text, ("BIGINT",), 1, wait=False) is MISS  # DuckDB: on a thread
    limited = "SELECT * FROM totals WHERE k >= $1 ORDER BY k LIMIT $2"
    assert rows(prepared(db, limited, ("BIGINT",) * 2, 1, 1)) == [(1, 15, 2)]
    assert rows(prepared(db, limited, ("BIGINT",) * 2, 1, 2)) == [(1, 15, 2), (2, 20, 1)]


def test_sorted_results_are_kept_per_tick_for_the_same_arguments(db):
    text = "SELECT k, s FROM totals WHERE n >= $1 ORDER BY s DESC LIMIT 1"
    first = prepared(db, text, ("BIGINT",), 0)
    assert rows(first) == [(2, 20)]
    assert prepared(db, text, ("BIGINT",), 0) is first
    assert rows(prepared(db, text, ("BIGINT",), 2)) == [(1, 15)]
    db.execute("INSERT INTO t VALUES (1, 50)")
    assert rows(prepared(db, text, ("BIGINT",), 0)) == [(1, 65)]


def test_without_waiting_a_read_misses_until_its_plan_and_snapshot_are_ready(db):
    db.reads.poll_first = False
    point = db.prepare(parse_statement(POINT), ("BIGINT",))
    assert point.run([1], wait=False) is MISS  # not compiled yet
    assert rows(point.run([1])) == [(1, 15, 2)]
    assert rows(point.run([1], wait=False)) == [(1, 15, 2)]
    db.execute("CREATE TABLE other (x INTEGER)")  # the catalog changed: compile again
    assert point.run([1], wait=False) is MISS
    assert rows(point.run([1])) == [(1, 15, 2)]
    db.execute("INSERT INTO t VALUES (1, 1)")  # a tick: the snapshot is made by the tick
    assert rows(point.run([1], wait=False)) == [(1, 16, 3)]
    db.reads.poll_first = True
    assert point.run([1], wait=False) is MISS  # it would poll first


def _counting_source(db: Database) -> None:
    db.execute(
        "CREATE SOURCE s (i BIGINT) WITH (connector = 'datagen', 'rows-per-second' = '100000')"
    )
    db.execute("CREATE MATERIALIZED VIEW c AS SELECT count(*) AS n FROM s")


def test_reads_poll_the_sources_unless_a_ticker_owns_the_polling():
    db = Database()
    _counting_source(db)
    before = db.ticks
    db.execute("SELECT * FROM c")
    assert db.ticks > before  # the read polled the source and ran a tick
    ticker = Ticker(db, interval=0.01, pace=10.0, owns_polling=True).start()
    try:
        assert not db.reads.poll_first
        deadline = time.monotonic() + 10
        while ticker.ticks < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        held = db.ticks
        for _ in range(3):
            time.sleep(0.01)
            db.execute("SELECT * FROM c")
        assert db.ticks == held  # reads served the last tick; the next one is 10 s away
    finally:
        ticker.stop()
    assert db.reads.poll_first
    db.close()
