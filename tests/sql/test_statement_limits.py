"""Statement limits (tidal.sql.limits) and statements that leaked Python exceptions (issue 15):
each is refused with its SQLSTATE and a message saying what to do, and the database goes on."""

from __future__ import annotations

import pytest

from tidal.catalog import sqlstate
from tidal.catalog.sqlstate import TidalError
from tidal.engine.database import Database
from tidal.sql import limits
from tidal.sql.errors import resource_error


@pytest.fixture(scope="module")
def db():
    db = Database()
    db.execute("CREATE TABLE dept (id INT, name VARCHAR)")
    db.execute(
        "CREATE TABLE clicks (user_id INT, ts TIMESTAMP, "
        "WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)"
    )
    db.execute("INSERT INTO dept VALUES (1, 'a'), (2, 'b')")
    return db


def refused(db, sql: str, code: str, match: str | None = None) -> TidalError:
    with pytest.raises(TidalError, match=match) as caught:
        db.execute(sql)
    assert caught.value.sqlstate == code, caught.value
    assert db.execute("SELECT count(*) AS n FROM dept").to_pylist() == [{"n": 2}]
    return caught.value


def nested(n: int, open_: str, inner: str, close: str) -> str:
    return open_ * n + inner + close * n


DEEP = {
    "parentheses": lambda n: "SELECT " + nested(n, "(", "1", ")"),
    "function calls": lambda n: "SELECT " + nested(n, "abs(", "1", ")"),
    "CASE": lambda n: "SELECT " + nested(n, "CASE WHEN true THEN ", "1", " END"),
    "subqueries": lambda n: "SELECT * FROM " + nested(n, "(SELECT * FROM ", "dept", ") s"),
    "scalar subqueries": lambda n: "SELECT " + nested(n, "(SELECT ", "1", ")"),
    "unary minus": lambda n: "SELECT " + "- " * n + "1",
    "NOT": lambda n: "SELECT " + "NOT " * n + "true",
    "arrays": lambda n: "SELECT " + nested(n, "ARRAY[", "1", "]"),
}


@pytest.mark.parametrize("shape", DEEP)
def test_deep_nesting_is_refused_before_parsing(db, shape):
    refused(db, DEEP[shape](500), sqlstate.STATEMENT_TOO_COMPLEX, "limit of 128")


@pytest.mark.parametrize("shape", [s for s in DEEP if s not in ("arrays", "scalar subqueries")])
def test_nesting_within_the_limit_runs(db, shape):
    # 64 levels: sqlglot alone needed ~25 Python frames a level, past the default 1,000
    assert db.execute(DEEP[shape](64)).num_rows >= 1


def test_arrays_nest_up_to_the_type_depth_limit(db):
    # 22 nested ARRAY[...] took minutes to parse (sqlglot read each level twice), in FROM too
    assert db.execute(DEEP["arrays"](limits.MAX_TYPE_DEPTH)).num_rows == 1
    # 63 levels ended in ArrowInvalid when DuckDB handed the result over
    refused(db, DEEP["arrays"](63), sqlstate.STATEMENT_TOO_COMPLEX, "nested 63 levels deep")
    nested_in_from = "SELECT * FROM unnest(" + nested(60, "ARRAY[", "1", "]") + ")"
    refused(db, nested_in_from, sqlstate.STATEMENT_TOO_COMPLEX, "type nested")
    refused(db, "SELECT * FROM " + nested(60, "ARRAY[", "1", "]"), sqlstate.FEATURE_NOT_SUPPORTED)


ODD = {
    "SELECT * FROM dept ORDER BY 1e400": "non-integer constant in ORDER BY",
    "SELECT id FROM dept GROUP BY 1.5": "non-integer constant in GROUP BY",
    "UPDATE dept SET id": "UPDATE needs SET column = value",
    "SELECT id FROM TUMBLE(clicks, ts,": "interval argument of TUMBLE",
    "SELECT * FROM TABLE(TUMBLE(TABLE clicks, f(ts), INTERVAL '1' SECOND))": "column name",
    "INSERT INTO dept VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET name :: f(x)": "SET column",
    "ALTER TABLE dept ADD COLUMN status DEFAULT VARCHAR 'new'": "'status' needs a type",
}


@pytest.mark.parametrize("sql", ODD)
def test_fuzzer_findings_are_syntax_errors(db, sql):
    refused(db, sql, sqlstate.SYNTAX_ERROR, ODD[sql])


def test_a_huge_value_in_an_error_message_is_reported_at_once(db):
    # matching DuckDB's message against a pattern took quadratic time in the value's length
    huge = "'" + "x" * 300_000 + "'"
    refused(db, f"SELECT CAST({huge} AS DOUBLE)", sqlstate.INVALID_TEXT_REPRESENTATION)


LONG_CHAINS = {
    "AND": lambda n: "SELECT * FROM dept WHERE " + " AND ".join(["id > 0"] * n),
    "OR": lambda n: "SELECT * FROM dept WHERE " + " OR ".join([f"id = {i}" for i in range(n)]),
    "+": lambda n: "SELECT " + " + ".join(["id"] * n) + " FROM dept",
    "UNION ALL": lambda n: " UNION ALL ".join(["SELECT id FROM dept"] * n),
}


@pytest.mark.parametrize("operator", LONG_CHAINS)
def test_long_operator_chains_bind(db, operator):
    # 138 ANDs ended in RecursionError in the binder
    assert db.execute(LONG_CHAINS[operator](300)).num_rows >= 1


@pytest.mark.parametrize("operator", LONG_CHAINS)
def test_chains_past_the_tree_depth_limit_are_refused(db, operator):
    refused(db, LONG_CHAINS[operator](1500), sqlstate.STATEMENT_TOO_COMPLEX, "1,000 levels")


def test_a_statement_past_the_length_limit_is_refused(db):
    text = "SELECT '" + "x" * limits.MAX_STATEMENT_LENGTH + "'"
    refused(db, text, sqlstate.PROGRAM_LIMIT_EXCEEDED, "COPY")


def test_a_values_list_past_the_limit_is_refused_and_says_copy(db):
    rows = ", ".join(f"({i}, 'n')" for i in range(limits.MAX_VALUES_ROWS + 1))
    error = refused(db, f"INSERT INTO dept VALUES {rows}", sqlstate.PROGRAM_LIMIT_EXCEEDED)
    assert "10,001 rows" in error.message and "COPY ... FROM STDIN" in error.message


def test_values_rows_are_counted_per_list():
    from tidal.sql.dialect import Tidal

    two = "SELECT * FROM (VALUES (1), (2)) a, (VALUES (3), (4)) b"
    assert limits._most_values_rows(Tidal().tokenize(two)) == 2


@pytest.mark.parametrize("literal", ["9" * 200_000, "1." + "9" * 200_000, "1e" + "9" * 5000])
def test_a_huge_numeric_literal_is_refused(db, literal):
    refused(db, f"SELECT {literal}", sqlstate.PROGRAM_LIMIT_EXCEEDED, "numeric literal too long")


def test_a_lone_surrogate_is_refused_and_show_tables_still_works(db):
    refused(db, 'CREATE TABLE "a\udc80b" (x INT)', sqlstate.CHARACTER_NOT_IN_REPERTOIRE)
    names = db.execute("SHOW TABLES").column(0).to_pylist()
    assert "dept" in names and not any("\udc80" in n for n in names)


INCOMPLETE = {
    "EXPLAIN": "EXPLAIN needs a statement",
    "EXPLAIN CREATE VIEW w": "CREATE VIEW needs a query",
    "EXPLAIN CREATE MATERIALIZED VIEW w": "CREATE VIEW needs a query",
    "CREATE VIEW recent": "CREATE VIEW needs a query",
    "DELETE dept WHERE id = 1": "DELETE needs FROM: DELETE FROM dept",
    "INSERT INTO dept": "INSERT needs rows",
    "INSERT INTO VALUES (1)": "INSERT needs a table",
    "UPDATE dept SET": "UPDATE needs SET",
    "SELECT * FROM HOP(clicks, , INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)": "missing",
    "SELECT * FROM TUMBLE(clicks, ts, )": "missing",
    "SELECT coalesce(1, , 2)": "missing",
    "SELECT ARRAY[1,,2]": "missing",
}


@pytest.mark.parametrize("sql", INCOMPLETE)
def test_an_incomplete_statement_is_a_syntax_error(db, sql):
    refused(db, sql, sqlstate.SYNTAX_ERROR, INCOMPLETE[sql])


def test_the_missing_argument_is_located(db):
    error = refused(db, "SELECT abs(, 1)", sqlstate.SYNTAX_ERROR)
    assert (error.line, error.column) == (1, 12)


@pytest.mark.parametrize("kind", ["DECIMAL(0,0)", "DECIMAL(39,2)", "NUMERIC(5,6)"])
def test_a_decimal_out_of_range_is_refused(db, kind):
    refused(db, f"CREATE TABLE d (a {kind})", sqlstate.INVALID_PARAMETER_VALUE, "from 1 to 38")


def test_running_out_of_memory_or_stack_has_a_sqlstate():
    import numpy as np

    try:
        np.empty(1 << 62, dtype=np.uint8)
    except MemoryError as error:  # numpy's own subclass
        assert resource_error(error).sqlstate == sqlstate.OUT_OF_MEMORY
    assert resource_error(RecursionError()).sqlstate == sqlstate.STATEMENT_TOO_COMPLEX


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT repeat('x', 1000000000)",
        "SELECT lpad('x', 2000000000)",
        "SELECT rpad('', 1000000000)",
    ],
)
def test_a_string_past_the_value_limit_is_refused_before_it_is_built(db, sql):
    error = refused(db, sql, sqlstate.PROGRAM_LIMIT_EXCEEDED, "67,108,864 characters")
    assert "ask for a shorter value" in error.message


def test_bounded_string_functions_keep_their_results(db):
    rows = db.execute("SELECT repeat('ab', 3) AS r, lpad('x', 3) AS l, rpad('x', 4, 'yz') AS p")
    assert rows.to_pylist() == [{"r": "ababab", "l": "  x", "p": "xyzy"}]


@pytest.mark.parametrize("raised", ["arrow", "numpy", "recursion"])
def test_memory_and_stack_errors_through_execute_have_sqlstates(monkeypatch, raised):
    import numpy as np
    import pyarrow as pa

    def run(statement):
        if raised == "arrow":
            raise pa.ArrowMemoryError("malloc of size 1073741824 failed")
        if raised == "numpy":
            np.empty(1 << 62, dtype=np.uint8)
        raise RecursionError("maximum recursion depth exceeded")

    db = Database()
    monkeypatch.setattr(db.session, "run", run)
    with pytest.raises(TidalError) as caught:
        db.execute("SELECT 1")
    expected = sqlstate.STATEMENT_TOO_COMPLEX if raised == "recursion" else sqlstate.OUT_OF_MEMORY
    assert caught.value.sqlstate == expected
    assert "Error" not in caught.value.message


def test_catalog_postgres_reads_catalog_queries_as_postgres_does_and_arrays_at_once():
    import pathlib
    import time

    import sqlglot

    from tidal.sql.dialect import CatalogPostgres

    folder = pathlib.Path(__file__).parents[1] / "pgwire" / "catalog_sql"
    texts = [
        s for p in sorted(folder.glob("*.sql")) for s in p.read_text().split(";\n") if s.strip()
    ]
    assert len(texts) > 20
    for text in texts:
        theirs = [e.sql("postgres") for e in sqlglot.parse(text, read="postgres") if e]
        assert [e.sql("postgres") for e in sqlglot.parse(text, read=CatalogPostgres) if e] == theirs
    started = time.monotonic()
    sqlglot.parse("SELECT " + nested(60, "ARRAY[", "1", "]"), read=CatalogPostgres)
    assert time.monotonic() - started < 5  # sqlglot's own Postgres: 2^60 steps
