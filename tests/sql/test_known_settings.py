"""SET of another engine's settings: accepted when the value is tidal's behaviour, refused
naming tidal's value otherwise, in the embedded engine (the shell, ``tidal run``)."""

from __future__ import annotations

import duckdb
import pytest

from tidal.engine import Database
from tidal.sql.errors import SqlError
from tidal.sql.known_settings import FIXED, TUNING, checked


@pytest.fixture
def db():
    return Database()


@pytest.mark.parametrize(
    "statement",
    [
        "SET integer_division = true",
        "SET integer_division TO on",
        "SET default_null_order = 'nulls_last_on_asc_first_on_desc'",
        "SET default_null_order = 'postgres'",
        "SET TimeZone = 'UTC'",
        "SET TIME ZONE 'UTC'",
        "SET TIME ZONE LOCAL",
        "SET RW_IMPLICIT_FLUSH TO true",
        "SET streaming_parallelism = 4",
        "SET streaming_parallelism TO default",
        "SET rw_streaming_enable_delta_join TO true",
        "SET query_mode TO local",
        "RESET integer_division",
        "RESET ALL",
    ],
)
def test_the_behaviour_is_accepted(db, statement):
    assert str(db.execute(statement)) in ("SET", "RESET")


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("SET integer_division = false", "integer_division = 'true'"),
        ("SET default_null_order = 'nulls_last'", "'nulls_last_on_asc_first_on_desc'"),
        ("SET default_null_order = 'nulls_first'", "'nulls_last_on_asc_first_on_desc'"),
        ("SET TIME ZONE 'Europe/Paris'", "TimeZone = 'UTC'"),
        ("SET RW_IMPLICIT_FLUSH TO false", "rw_implicit_flush = 'true'"),
        ("SET background_ddl = true", "background_ddl = 'false'"),
    ],
)
def test_another_behaviour_is_refused_naming_tidals(db, statement, named):
    with pytest.raises(SqlError) as error:
        db.execute(statement)
    assert error.value.sqlstate == "0A000"
    assert named in str(error.value)


def test_an_unknown_setting_is_42704(db):
    with pytest.raises(SqlError) as error:
        db.execute("SET threads = 8")  # DuckDB's: no client may reach DuckDB's settings
    assert error.value.sqlstate == "42704"


def test_the_fixed_values_are_what_duckdb_runs_with(db):
    """The table says what tidal does: integer division truncates and NULLs sort as
    PostgreSQL sorts them, in views and ad hoc queries alike."""
    db.execute("SET integer_division = true")
    db.execute("SET default_null_order = 'postgres'")
    db.execute("CREATE TABLE t (x INTEGER)")
    db.execute("INSERT INTO t VALUES (7), (NULL), (2)")
    db.execute("CREATE MATERIALIZED VIEW q AS SELECT x / 2 AS h FROM t")
    assert sorted(db.execute("SELECT h FROM q").column(0).to_pylist(), key=str) == [1, 3, None]
    ordered = db.execute("SELECT x FROM t ORDER BY x").column(0).to_pylist()
    assert ordered == [2, 7, None]
    assert db.execute("SELECT x FROM t ORDER BY x DESC").column(0).to_pylist() == [None, 7, 2]
    reference = duckdb.connect()
    reference.execute("SET integer_division = true")
    reference.execute(f"SET default_null_order = '{FIXED['default_null_order'].value}'")
    assert reference.execute("SELECT 7 / 2").fetchone() == (3,)
    rows = reference.execute("SELECT * FROM (VALUES (1), (NULL)) v(x) ORDER BY x").fetchall()
    assert rows == [(1,), (None,)]


def test_tuning_knobs_take_any_value():
    assert all(checked(name, "whatever") == "whatever" for name in TUNING)
