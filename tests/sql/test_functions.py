"""CREATE FUNCTION: SQL scalar functions expanded where they are called."""

from __future__ import annotations

import pytest

from tidal.engine import Database
from tidal.sql.errors import SqlError


@pytest.fixture
def db() -> Database:
    db = Database()
    db.execute(
        "CREATE FUNCTION count_char(s VARCHAR, c VARCHAR) RETURNS BIGINT LANGUAGE SQL "
        "RETURN length(s) - length(replace(s, c, ''))"
    )
    db.execute("CREATE FUNCTION twice(x BIGINT) RETURNS BIGINT AS 'SELECT x * 2'")
    db.execute("CREATE FUNCTION quad(x BIGINT) RETURNS BIGINT AS $$SELECT twice(twice(x))$$")
    db.execute("CREATE TABLE t (a VARCHAR, n BIGINT)")
    db.execute("INSERT INTO t VALUES ('abcabc', 2), ('ccc', NULL), (NULL, 5)")
    return db


def test_a_function_in_a_view_and_a_query_gives_the_same(db):
    query = "SELECT a, count_char(a, 'c') AS k, quad(n) AS q FROM t"
    db.execute(f"CREATE MATERIALIZED VIEW v AS {query}")
    db.execute("INSERT INTO t VALUES ('cc', 1)")
    expected = {("abcabc", 2, 8), ("ccc", 3, None), (None, None, 20), ("cc", 2, 4)}
    for sql in (query, "SELECT * FROM v"):
        assert {tuple(r.values()) for r in db.execute(sql).to_pylist()} == expected


def test_a_function_used_by_a_view_cannot_be_dropped_alone(db):
    db.execute("CREATE VIEW v AS SELECT twice(n) AS d FROM t")
    with pytest.raises(SqlError) as error:
        db.execute("DROP FUNCTION twice")
    assert error.value.sqlstate == "2BP01"
    db.execute("DROP VIEW v")
    db.execute("DROP FUNCTION quad")
    db.execute("DROP FUNCTION twice")
    with pytest.raises(SqlError):
        db.execute("SELECT twice(1)")


@pytest.mark.parametrize(
    ("sql", "sqlstate"),
    [
        ("CREATE FUNCTION length(x INT) RETURNS INT RETURN x", "42723"),
        ("CREATE FUNCTION f(x INT) RETURNS INT RETURN y", "42703"),
        ("CREATE FUNCTION f(x INT) RETURNS INT RETURN x || 'a'", "42P13"),
        ("CREATE FUNCTION f(x INT) RETURNS INT LANGUAGE plpgsql RETURN x", "0A000"),
        ("CREATE FUNCTION f(x INT) RETURNS INT LANGUAGE python RETURN x", "42P13"),
        ("SELECT twice(1, 2)", "42883"),
    ],
)
def test_bad_functions_and_calls_are_refused(db, sql, sqlstate):
    with pytest.raises(SqlError) as error:
        db.execute(sql)
    assert error.value.sqlstate == sqlstate
