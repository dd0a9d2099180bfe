"""The Database: ticks, backfill, dependencies, and that a failed statement changes nothing."""

from __future__ import annotations

import pytest

from tidal.engine import Database, DataError
from tidal.sql import SqlError


def rows(db: Database, sql: str) -> list[tuple]:
    table = db.execute(sql)
    return sorted(
        (tuple(r.values()) for r in table.to_pylist()),
        key=lambda row: [(v is None, v if v is not None else 0) for v in row],
    )


@pytest.fixture
def db() -> Database:
    db = Database()
    db.execute("CREATE TABLE t (k VARCHAR, v INTEGER)")
    db.execute("INSERT INTO t VALUES ('a', 1), ('a', 2), ('b', 4)")
    return db


def test_a_view_created_after_the_data_is_backfilled_then_maintained(db):
    db.execute(
        "CREATE MATERIALIZED VIEW s AS SELECT k, sum(v) AS total, max(v) AS top FROM t GROUP BY k"
    )
    assert rows(db, "SELECT * FROM s") == [("a", 3, 2), ("b", 4, 4)]
    db.execute("DELETE FROM t WHERE v = 2")
    db.execute("UPDATE t SET v = 10 WHERE k = 'b'")
    assert rows(db, "SELECT * FROM s") == [("a", 1, 1), ("b", 10, 10)]


def test_views_on_views_see_the_same_tick(db):
    db.execute("CREATE MATERIALIZED VIEW s AS SELECT k, sum(v) AS total FROM t GROUP BY k")
    db.execute("CREATE VIEW big AS SELECT k FROM s WHERE total > 3")
    db.execute("CREATE MATERIALIZED VIEW n AS SELECT count(*) AS c FROM big")
    assert rows(db, "SELECT * FROM n") == [(1,)]
    db.execute("INSERT INTO t VALUES ('a', 5)")
    assert rows(db, "SELECT * FROM n") == [(2,)]


def test_a_failing_insert_changes_nothing_and_the_database_keeps_working(db):
    db.execute("CREATE MATERIALIZED VIEW q AS SELECT k, 100 / v AS r FROM t")
    before_t, before_q = rows(db, "SELECT * FROM t"), rows(db, "SELECT * FROM q")
    with pytest.raises(DataError):
        db.execute("INSERT INTO t VALUES ('c', 0)")
    assert rows(db, "SELECT * FROM t") == before_t
    assert rows(db, "SELECT * FROM q") == before_q
    db.execute("INSERT INTO t VALUES ('c', 5)")
    assert ("c", 20) in rows(db, "SELECT * FROM q")


def test_drop_is_refused_while_others_depend_unless_cascade(db):
    db.execute("CREATE MATERIALIZED VIEW s AS SELECT k FROM t")
    with pytest.raises(SqlError) as error:
        db.execute("DROP TABLE t")
    assert error.value.sqlstate == "2BP01" and "CASCADE" in error.value.message
    db.execute("DROP TABLE t CASCADE")
    assert rows(db, "SHOW MATERIALIZED VIEWS") == [] and rows(db, "SHOW TABLES") == []


def test_global_aggregate_has_one_row_over_no_input():
    db = Database()
    db.execute("CREATE TABLE e (v INTEGER)")
    db.execute(
        "CREATE MATERIALIZED VIEW g AS SELECT count(*) AS n, sum(v) AS s, min(v) AS m FROM e"
    )
    assert rows(db, "SELECT * FROM g") == [(0, None, None)]
    db.execute("INSERT INTO e VALUES (3)")
    db.execute("DELETE FROM e")
    assert rows(db, "SELECT * FROM g") == [(0, None, None)]


def test_datagen_source_with_a_row_count_is_read_to_its_end_before_a_query():
    db = Database()
    db.execute(
        "CREATE SOURCE g (id BIGINT) WITH (connector = 'datagen', 'fields.id.kind' = 'sequence', "
        "'fields.id.start' = '1', 'fields.id.end' = '1000')"
    )
    db.execute("CREATE MATERIALIZED VIEW c AS SELECT count(*) AS n, sum(id) AS s FROM g")
    assert rows(db, "SELECT * FROM c") == [(1000, 500500)]


def test_not_in_stays_right_as_the_subquery_gains_a_null():
    # Regression: a global aggregate's emitted row once aliased its live accumulators, so rows
    # held downstream (here, in the NOT IN's join state) changed under later ticks.
    db = Database()
    db.execute("CREATE TABLE t1 (k INTEGER, g VARCHAR)")
    db.execute("CREATE TABLE t2 (k INTEGER)")
    db.execute(
        "CREATE MATERIALIZED VIEW q AS SELECT k, g FROM t1 WHERE k NOT IN (SELECT k FROM t2)"
    )
    db.execute("INSERT INTO t1 VALUES (0, 'a'), (NULL, 'b')")
    assert rows(db, "SELECT * FROM q") == [(0, "a"), (None, "b")]  # NOT IN (empty) is true
    db.execute("INSERT INTO t2 VALUES (NULL)")
    assert rows(db, "SELECT * FROM q") == []
    db.execute("INSERT INTO t1 VALUES (NULL, 'c'), (5, 'd')")
    assert rows(db, "SELECT * FROM q") == []
    db.execute("DELETE FROM t2")
    assert rows(db, "SELECT * FROM q") == [(0, "a"), (5, "d"), (None, "b"), (None, "c")]


def test_a_source_that_does_not_retain_feeds_views_but_cannot_be_queried():
    db = Database()
    db.execute(
        "CREATE SOURCE g (id BIGINT) WITH (connector = 'datagen', 'fields.id.kind' = 'sequence', "
        "'fields.id.start' = '1', 'fields.id.end' = '10', retain = 'false')"
    )
    db.execute("CREATE MATERIALIZED VIEW c AS SELECT count(*) AS n FROM g")
    assert rows(db, "SELECT * FROM c") == [(10,)]
    with pytest.raises(SqlError) as error:
        db.execute("SELECT * FROM g")
    assert "retain" in error.value.message


def test_data_errors_carry_postgres_codes_and_script_errors_their_script_line(db):
    db.execute("CREATE MATERIALIZED VIEW q AS SELECT 10 / v AS r FROM t")
    with pytest.raises(DataError) as error:
        db.execute("INSERT INTO t VALUES ('z', 0)")
    assert error.value.sqlstate == "22012"
    with pytest.raises(SqlError) as error:
        db.execute("SELECT 1;\n\nSELEC v FROM t")
    assert (error.value.line, error.value.sqlstate) == (3, "42601")


def test_bad_lines_in_a_source_are_skipped_and_reported(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,x\noops,y\n3,z\n")
    db = Database(base_dir=tmp_path)
    db.execute(
        "CREATE SOURCE s (a INTEGER, b VARCHAR) WITH (connector='file', path='x.csv', format='csv')"
    )
    assert rows(db, "SELECT * FROM s") == [(1, "x"), (3, "z")]
    problems = db.take_source_errors()
    assert len(problems) == 1 and "x.csv:3" in problems[0]
    assert db.take_source_errors() == []


def test_files_and_lines_that_appear_later_are_read_before_the_next_query(tmp_path):
    folder = tmp_path / "clicks"
    folder.mkdir()
    (folder / "a.csv").write_text("user_id,url\n1,/home\n")
    db = Database(base_dir=tmp_path)
    db.execute(
        "CREATE SOURCE clicks (user_id BIGINT, url VARCHAR) "
        "WITH (connector = 'file', path = 'clicks/', format = 'csv')"
    )
    db.execute(
        "CREATE MATERIALIZED VIEW per_user AS SELECT user_id, count(*) AS n FROM clicks GROUP BY user_id"
    )
    assert rows(db, "SELECT * FROM per_user") == [(1, 1)]
    with open(folder / "a.csv", "a") as appended:
        appended.write("1,/docs\n2,/ho")  # the half line waits for its newline
    (folder / "b.csv").write_text("user_id,url\n3,/x\n")
    assert rows(db, "SELECT * FROM per_user") == [(1, 2), (3, 1)]
    with open(folder / "a.csv", "a") as appended:
        appended.write("me\n")
    assert rows(db, "SELECT * FROM per_user") == [(1, 2), (2, 1), (3, 1)]
