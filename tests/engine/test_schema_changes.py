"""CREATE OR REPLACE VIEW and ALTER: what they change, and that a refused or failed change
changes nothing."""

from __future__ import annotations

import pytest

from tidal.engine import Database
from tidal.engine.errors import DataError
from tidal.sql.errors import SqlError


def rows(db: Database, sql: str) -> list[tuple]:
    return sorted(tuple(r.values()) for r in db.execute(sql).to_pylist())


@pytest.fixture(params=[False, True], ids=["incremental", "batch"])
def db(request):
    db = Database(batch_mode=request.param)
    db.execute("CREATE TABLE t (k INTEGER, v INTEGER)")
    db.execute("INSERT INTO t VALUES (1, 10), (2, 20), (1, 5)")
    db.execute("CREATE MATERIALIZED VIEW m AS SELECT k, sum(v) AS s FROM t GROUP BY k")
    db.execute("CREATE VIEW pv AS SELECT k, s FROM m WHERE s > 6")
    db.execute("CREATE MATERIALIZED VIEW top AS SELECT count(*) AS n, sum(s) AS total FROM pv")
    return db


def error_of(db: Database, sql: str) -> SqlError:
    with pytest.raises(SqlError) as error:
        db.execute(sql)
    return error.value


def unchanged(db: Database) -> None:
    """The fixture's views hold what they held, and still follow changes."""
    assert rows(db, "SELECT * FROM m") == [(1, 15), (2, 20)]
    assert rows(db, "SELECT * FROM top") == [(2, 35)]
    db.execute("INSERT INTO t VALUES (3, 7)")
    assert rows(db, "SELECT * FROM top") == [(3, 42)]


def test_replace_a_materialized_view_backfills_it_and_what_reads_it(db):
    db.execute(
        "CREATE OR REPLACE MATERIALIZED VIEW m AS SELECT k, sum(v) * 2 AS s FROM t GROUP BY k"
    )
    assert rows(db, "SELECT * FROM m") == [(1, 30), (2, 40)]
    assert rows(db, "SELECT * FROM top") == [(2, 70)]
    db.execute("DELETE FROM t WHERE k = 2")
    assert rows(db, "SELECT * FROM top") == [(1, 30)]
    definition = db.catalog.get("m").definition
    assert "* 2" in definition


def test_replace_a_plain_view_recompiles_the_materialized_views_over_it(db):
    db.execute("CREATE OR REPLACE VIEW pv AS SELECT k, s FROM m WHERE s > 16")
    assert rows(db, "SELECT * FROM top") == [(1, 20)]
    db.execute("INSERT INTO t VALUES (1, 2)")
    assert rows(db, "SELECT * FROM top") == [(2, 37)]


def test_or_replace_of_a_new_name_creates_it(db):
    assert str(db.execute("CREATE OR REPLACE VIEW fresh AS SELECT 1 AS a")) == "CREATE VIEW"
    assert rows(db, "SELECT * FROM fresh") == [(1,)]


def test_a_view_nobody_reads_may_change_its_columns(db):
    db.execute("CREATE OR REPLACE MATERIALIZED VIEW top AS SELECT k FROM t")
    assert [c.name for c in db.catalog.get("top").columns] == ["k"]
    assert rows(db, "SELECT * FROM top") == [(1,), (1,), (2,)]


@pytest.mark.parametrize(
    ("sql", "sqlstate", "words"),
    [
        (
            "CREATE OR REPLACE MATERIALIZED VIEW m AS SELECT k, count(*) AS s FROM t GROUP BY k",
            "2BP01",
            "view pv, materialized view top depend(s) on it",
        ),
        (
            "CREATE OR REPLACE MATERIALIZED VIEW m AS SELECT k, sum(v) AS t FROM t GROUP BY k",
            "2BP01",
            "cannot change the columns",
        ),
        ("CREATE OR REPLACE VIEW m AS SELECT 1 AS k", "42809", "CREATE OR REPLACE MATERIALIZED"),
        ("CREATE OR REPLACE MATERIALIZED VIEW pv AS SELECT 1 AS k", "42809", "is a view"),
        ("CREATE OR REPLACE VIEW t AS SELECT 1 AS k", "42809", "not a view"),
        ("CREATE OR REPLACE MATERIALIZED VIEW m AS SELECT k, s FROM pv", "42P17", "reads 'm'"),
        ("CREATE OR REPLACE MATERIALIZED VIEW m AS SELECT k, s FROM m", "42P17", "reads 'm'"),
        ("CREATE OR REPLACE TABLE t (a INTEGER)", "0A000", "CREATE OR REPLACE TABLE"),
    ],
)
def test_a_refused_replacement_changes_nothing(db, sql, sqlstate, words):
    error = error_of(db, sql)
    assert error.sqlstate == sqlstate
    assert words in str(error)
    unchanged(db)


def test_a_sink_under_the_view_refuses_the_replacement(db, tmp_path):
    db.execute(
        f"CREATE SINK out FROM top WITH (connector = 'file', path = '{tmp_path}/o.jsonl', format = 'jsonl')"
    )
    error = error_of(db, "CREATE OR REPLACE VIEW pv AS SELECT k, s FROM m")
    assert error.sqlstate == "2BP01" and "sink out" in str(error)
    unchanged(db)


def test_a_replacement_whose_backfill_fails_changes_nothing():
    db = Database()
    db.execute("CREATE TABLE t (k INTEGER, v INTEGER)")
    db.execute("INSERT INTO t VALUES (1, 10), (2, 20), (1, 5)")
    db.execute("CREATE MATERIALIZED VIEW m AS SELECT k, sum(v) AS s FROM t GROUP BY k")
    db.execute("CREATE VIEW pv AS SELECT k, s FROM m WHERE s > 6")
    db.execute("CREATE MATERIALIZED VIEW top AS SELECT count(*) AS n, sum(s) AS total FROM pv")
    with pytest.raises(DataError):  # the new view is fine, the one over it divides by zero
        db.execute("CREATE OR REPLACE VIEW pv AS SELECT k, s / (s - 15) AS s FROM m")
    assert "s > 6" in db.catalog.get("pv").definition
    unchanged(db)
