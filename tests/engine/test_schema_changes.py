"""CREATE OR REPLACE VIEW and ALTER: what they change, and that a refused or failed change
changes nothing."""

from __future__ import annotations

import pytest

from tidal.catalog.sqlstate import TidalError
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


# --- ALTER ---------------------------------------------------------------------------------------


def columns(db: Database, name: str) -> list[tuple[str, str, bool]]:
    return [(c.name, c.type, c.nullable) for c in db.catalog.get(name).columns]


def pg_columns(db: Database, name: str) -> list[tuple]:
    """information_schema.columns and pg_attribute agree with the catalog."""
    from tidal.catalog.pg_catalog import PgCatalog

    pg = PgCatalog(db.catalog)
    listed = [
        (r["column_name"], r["is_nullable"], r["column_default"])
        for r in pg.table("information_schema.columns").to_pylist()
        if r["table_name"] == name
    ]
    attributes = [r["attname"] for r in pg.table("pg_catalog.pg_attribute").to_pylist()]
    assert all(column in attributes for column, _, _ in listed)
    return listed


def test_add_column_gives_existing_rows_the_default_and_later_inserts_too(db):
    db.execute("ALTER TABLE t ADD COLUMN c INTEGER NOT NULL DEFAULT 7")
    assert columns(db, "t")[-1] == ("c", "INTEGER", False)
    assert pg_columns(db, "t")[-1] == ("c", "NO", "7")
    db.execute("INSERT INTO t (k, v) VALUES (3, 1)")
    assert rows(db, "SELECT * FROM t") == [(1, 5, 7), (1, 10, 7), (2, 20, 7), (3, 1, 7)]
    db.execute("CREATE MATERIALIZED VIEW by_c AS SELECT c, sum(v) AS s FROM t GROUP BY c")
    db.execute("UPDATE t SET c = 8 WHERE k = 1")
    assert rows(db, "SELECT * FROM by_c") == [(7, 21), (8, 15)]
    db.execute("INSERT INTO t (k, v) VALUES (3, 9)")
    assert rows(db, "SELECT * FROM top") == [(3, 45)]  # the views over t follow it still


def test_add_column_without_default_is_null(db):
    db.execute("ALTER TABLE t ADD c VARCHAR")
    db.execute("ALTER TABLE t ADD COLUMN IF NOT EXISTS c INTEGER")  # exists: nothing to do
    assert rows(db, "SELECT k, c FROM t") == [(1, None), (1, None), (2, None)]
    db.execute("INSERT INTO t VALUES (4, 7, 'x')")
    assert rows(db, "SELECT * FROM top") == [(3, 42)]


def test_drop_column_keeps_the_rows_and_the_views_over_other_columns(db):
    db.execute("ALTER TABLE t ADD COLUMN c INTEGER DEFAULT 1")
    db.execute("ALTER TABLE t DROP COLUMN c")
    assert columns(db, "t") == [("k", "INTEGER", True), ("v", "INTEGER", True)]
    db.execute("CREATE TABLE u (a INTEGER, b INTEGER, c INTEGER)")
    db.execute("INSERT INTO u VALUES (1, 2, 3), (1, 5, 3)")
    db.execute("CREATE MATERIALIZED VIEW over_u AS SELECT a, sum(c) AS s FROM u GROUP BY a")
    db.execute("ALTER TABLE u DROP COLUMN b")
    assert rows(db, "SELECT * FROM u") == [(1, 3), (1, 3)]
    db.execute("DELETE FROM u WHERE c = 3")
    db.execute("INSERT INTO u VALUES (2, 9)")
    assert rows(db, "SELECT * FROM over_u") == [(2, 9)]
    assert [r[0] for r in pg_columns(db, "u")] == ["a", "c"]


def test_rename_column_under_views_that_do_not_use_it(db):
    db.execute("CREATE TABLE u (a INTEGER, b INTEGER)")
    db.execute("INSERT INTO u VALUES (1, 2)")
    db.execute("CREATE MATERIALIZED VIEW over_u AS SELECT a FROM u")
    db.execute("ALTER TABLE u RENAME COLUMN b TO bee")
    assert rows(db, "SELECT bee FROM u") == [(2,)]
    db.execute("INSERT INTO u (a, bee) VALUES (5, 6)")
    assert rows(db, "SELECT * FROM over_u") == [(1,), (5,)]
    assert [r[0] for r in pg_columns(db, "u")] == ["a", "bee"]


def test_renames_of_every_kind(db, tmp_path):
    db.execute("CREATE TABLE lone (k INTEGER PRIMARY KEY, v INTEGER)")
    db.execute("INSERT INTO lone VALUES (1, 1)")
    db.execute("ALTER TABLE lone RENAME TO alone")
    db.execute("ALTER TABLE alone RENAME COLUMN k TO id")
    with pytest.raises(TidalError) as error:
        db.execute("INSERT INTO alone VALUES (1, 2)")
    assert error.value.sqlstate == "23505"  # the key moved with the table and the column
    assert db.catalog.get("alone").primary_key == ("id",)
    db.execute("ALTER MATERIALIZED VIEW top RENAME TO summit")
    db.execute("INSERT INTO t VALUES (5, 50)")
    assert rows(db, "SELECT * FROM summit") == [(3, 85)]
    db.execute("CREATE VIEW pv2 AS SELECT 1 AS one")
    db.execute("ALTER VIEW pv2 RENAME TO pv3")
    assert rows(db, "SELECT * FROM pv3") == [(1,)]
    path = tmp_path / "in.csv"
    path.write_text("a\n1\n")
    db.execute(
        f"CREATE SOURCE src (a INTEGER) WITH (connector = 'file', path = '{path}', format = 'csv')"
    )
    db.execute("ALTER SOURCE src RENAME TO src2")
    assert rows(db, "SELECT * FROM src2") == [(1,)]
    db.execute(
        f"CREATE SINK out FROM t WITH (connector = 'file', path = '{tmp_path}/o', format = 'jsonl')"
    )
    db.execute("ALTER SINK out RENAME TO out2")
    assert db.catalog.find("out") is None and db.catalog.get("out2").kind == "sink"
    assert str(db.execute("ALTER TABLE IF EXISTS nothing RENAME TO x")) == "ALTER TABLE"


@pytest.mark.parametrize(
    ("sql", "sqlstate", "words"),
    [
        ("ALTER TABLE t RENAME TO u", "2BP01", "materialized view m depend(s) on it"),
        ("ALTER MATERIALIZED VIEW m RENAME TO m2", "2BP01", "view pv"),
        ("ALTER TABLE t RENAME TO m", "42P07", "already exists"),
        ("ALTER TABLE t DROP COLUMN v", "2BP01", "cannot drop column 'v'"),
        ("ALTER TABLE t RENAME COLUMN k TO key", "2BP01", "cannot rename column 'k'"),
        ("ALTER TABLE t DROP COLUMN nope", "42703", "does not exist"),
        ("ALTER TABLE t ADD COLUMN k INTEGER", "42701", "already exists"),
        ("ALTER TABLE t ADD COLUMN c INTEGER NOT NULL", "23502", "give it a DEFAULT"),
        ("ALTER TABLE t ADD COLUMN c INTEGER DEFAULT random()", "0A000", "a constant"),
        ("ALTER TABLE t ADD COLUMN c INTEGER PRIMARY KEY", "0A000", "PRIMARY KEY"),
        ("ALTER TABLE t ADD COLUMN c INTEGER DEFAULT 'x'", "22P02", ""),
        ("ALTER TABLE t ALTER COLUMN k TYPE BIGINT", "0A000", "ALTER TABLE"),
        ("ALTER TABLE t ADD COLUMN a INTEGER, ADD COLUMN b INTEGER", "0A000", "one ALTER"),
        ("ALTER TABLE t DROP COLUMN v CASCADE", "0A000", "CASCADE"),
        ("ALTER VIEW m RENAME TO x", "42809", "use ALTER MATERIALIZED VIEW"),
        ("ALTER TABLE nothing RENAME TO x", "42P01", "does not exist"),
    ],
)
def test_a_refused_alter_changes_nothing(db, sql, sqlstate, words):
    with pytest.raises(TidalError) as error:
        db.execute(sql)
    assert error.value.sqlstate == sqlstate
    assert words in str(error.value)
    assert columns(db, "t") == [("k", "INTEGER", True), ("v", "INTEGER", True)]
    unchanged(db)


def test_a_table_with_a_watermark_is_not_altered():
    db = Database()
    db.execute(
        "CREATE TABLE ev (ts TIMESTAMP, v INTEGER, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)"
    )
    error = error_of(db, "ALTER TABLE ev ADD COLUMN c INTEGER")
    assert error.sqlstate == "0A000" and "watermark" in str(error)


def test_a_key_column_is_not_dropped():
    db = Database()
    db.execute("CREATE TABLE keyed (k INTEGER PRIMARY KEY, v INTEGER)")
    error = error_of(db, "ALTER TABLE keyed DROP COLUMN k")
    assert error.sqlstate == "2BP01" and "primary key" in str(error)
