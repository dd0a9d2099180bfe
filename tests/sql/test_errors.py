"""Error messages and SQLSTATEs: each error says what is wrong and what to do, and after any
error the database keeps working and has lost nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tidal.engine import Database, DataError
from tidal.sql.errors import SqlError


@pytest.fixture(scope="module")
def db() -> Database:
    database = Database()
    database.execute("""
        CREATE TABLE orders (id INTEGER, customer VARCHAR, amount DECIMAL(8,2), placed TIMESTAMP);
        CREATE TABLE customers (id INTEGER, name VARCHAR);
        INSERT INTO orders VALUES (1, 'ann', 10.50, '2026-01-01 10:00:00'),
                                  (2, 'bob', 3.25, '2026-01-02 11:00:00');
        INSERT INTO customers VALUES (1, 'ann'), (2, 'bob');
        CREATE MATERIALIZED VIEW spend AS
            SELECT customer, sum(amount) AS total, count(*) AS n FROM orders GROUP BY customer;
        CREATE VIEW big AS SELECT id FROM orders WHERE amount > 5;
    """)
    return database


def error_of(db: Database, sql: str) -> SqlError:
    with pytest.raises(SqlError) as caught:
        db.execute(sql)
    return caught.value


# --- syntax errors -----------------------------------------------------------------------------


def test_a_misspelt_keyword_names_the_token_line_and_column(db):
    error = error_of(db, "SELECT * FORM orders")
    assert (error.sqlstate, error.line, error.column) == ("42601", 1, 15)
    assert error.message == "syntax error at or near 'orders'"
    assert str(error) == "syntax error at or near 'orders' (line 1, column 15)"


def test_a_statement_that_stops_early_says_so_on_the_right_line(db):
    error = error_of(db, "SELECT id,\n  amount\nFROM orders WHERE")
    assert (error.sqlstate, error.line, error.column) == ("42601", 3, 13)
    assert error.message.startswith("syntax error at end of input (after 'WHERE')")


def test_a_missing_parenthesis_is_named(db):
    error = error_of(db, "SELECT * FROM orders WHERE (id = 1")
    assert "expected ')'" in error.message
    assert error.line == 1


def test_an_unterminated_string_points_at_its_opening_quote(db):
    error = error_of(db, "SELECT id FROM orders\nWHERE customer = 'ann")
    assert (error.sqlstate, error.line, error.column) == ("42601", 2, 18)
    assert "unterminated quoted string" in error.message


def test_sqlglot_internals_do_not_leak_into_syntax_errors(db):
    for sql in ("SELECT 1 +", "SELECT * FROM orders LIMIT", "CREATE TABLE (a INTEGER)", "SELEC 1"):
        message = error_of(db, sql).message
        assert "sqlglot" not in message and "<class" not in message and "Token" not in message


# --- unknown names -----------------------------------------------------------------------------


def test_an_unknown_table_suggests_a_close_name(db):
    error = error_of(db, "SELECT * FROM order")
    assert error.sqlstate == "42P01"
    assert error.message == "unknown relation 'order'; did you mean 'orders'?"


def test_an_unknown_table_without_a_close_name_suggests_nothing(db):
    assert error_of(db, "SELECT * FROM zzz").message == "unknown relation 'zzz'"


def test_an_unknown_column_suggests_a_close_name(db):
    error = error_of(db, "SELECT amout FROM orders")
    assert error.sqlstate == "42703"
    assert error.message == "column 'amout' does not exist; did you mean 'amount'?"


def test_an_unknown_column_without_a_close_name_lists_the_columns(db):
    error = error_of(db, "SELECT qqq FROM orders")
    assert error.message == "column 'qqq' does not exist; available: amount, customer, id, placed"


def test_an_ambiguous_column_asks_for_a_qualifier(db):
    error = error_of(db, "SELECT id FROM orders o JOIN customers c ON o.customer = c.name")
    assert error.sqlstate == "42702"
    assert "'id' is ambiguous" in error.message and "qualify it" in error.message


def test_an_unknown_qualifier_is_a_missing_from_entry(db):
    error = error_of(db, "SELECT c.name FROM orders o")
    assert (error.sqlstate, error.message) == ("42P01", "missing FROM-clause entry for table 'c'")


# --- types ---------------------------------------------------------------------------------------


def test_adding_text_to_a_number_is_a_type_mismatch(db):
    error = error_of(db, "SELECT 'a' + 1")
    assert error.sqlstate == "42804"
    assert error.message.startswith("type mismatch:") and "explicit type casts" in error.message


@pytest.mark.parametrize(
    "sql, value, type_name",
    [
        ("SELECT * FROM orders WHERE id = 'x'", "'x'", "INTEGER"),
        ("SELECT * FROM orders WHERE 'x' <> id", "'x'", "INTEGER"),
        ("SELECT * FROM orders WHERE amount BETWEEN 1 AND 'lots'", "'lots'", "DECIMAL(8,2)"),
        ("SELECT * FROM orders WHERE placed IN ('2026-01-01', 'soon')", "'soon'", "TIMESTAMP"),
    ],
)
def test_a_constant_that_is_not_a_value_of_the_compared_type_is_refused_when_bound(
    db, sql, value, type_name
):
    error = error_of(db, sql)
    assert error.sqlstate == "42804"
    assert error.message.startswith(f"type mismatch: {value} is not a valid {type_name} value")
    assert "CAST" in error.message


def test_constants_that_are_values_of_the_type_are_accepted(db):
    rows = db.execute("SELECT id FROM orders WHERE id = '2' AND placed > '2026-01-01'")
    assert rows.column("id").to_pylist() == [2]


def test_a_view_with_a_bad_constant_is_refused_at_creation_not_at_the_first_insert(db):
    error = error_of(db, "CREATE MATERIALIZED VIEW bad AS SELECT * FROM orders WHERE id = 'x'")
    assert error.sqlstate == "42804"
    assert "bad" not in db.catalog


@pytest.mark.parametrize(
    "sql, clause, type_name",
    [
        ("SELECT * FROM orders WHERE customer", "WHERE", "VARCHAR"),
        ("SELECT customer FROM orders GROUP BY customer HAVING sum(id)", "HAVING", "HUGEINT"),
        ("SELECT * FROM orders o JOIN customers c ON c.name", "JOIN ... ON", "VARCHAR"),
    ],
)
def test_a_condition_must_be_boolean(db, sql, clause, type_name):
    error = error_of(db, sql)
    assert error.sqlstate == "42804"
    assert error.message.startswith(f"the condition of {clause} must be BOOLEAN, not {type_name}")


# --- DuckDB's errors in tidal's words ------------------------------------------------------------


def test_an_unknown_function_is_named_without_duckdbs_words(db):
    error = error_of(db, "SELECT no_such_function(id) FROM orders")
    assert (error.sqlstate, error.message) == (
        "42883",
        "function no_such_function(...) does not exist",
    )


def test_an_unknown_function_close_to_a_known_one_suggests_it(db):
    error = error_of(db, "SELECT lowr(customer) FROM orders")
    assert (error.sqlstate, error.message) == (
        "42883",
        "function lowr(...) does not exist; did you mean 'lower'?",
    )


def test_a_function_given_arguments_of_other_types_says_which_it_takes(db):
    error = error_of(db, "SELECT upper(id) FROM orders")
    assert (error.sqlstate, error.message) == (
        "42883",
        "function upper(INTEGER) does not exist; upper takes (VARCHAR): add explicit type casts",
    )


@pytest.mark.parametrize(
    "sql, message",
    [
        (
            "SELECT 'a' + 1",
            (
                "type mismatch: operator + has several versions that could take (VARCHAR, INTEGER): "
                "add explicit type casts"
            ),
        ),
        (
            "SELECT id + customer FROM orders",
            "type mismatch: operator + does not take (INTEGER, VARCHAR): add explicit type casts",
        ),
        (
            "SELECT * FROM orders WHERE customer > 5",
            "type mismatch: cannot compare VARCHAR with INTEGER: add an explicit CAST",
        ),
    ],
)
def test_a_type_mismatch_names_sql_types_not_duckdbs_internal_ones(db, sql, message):
    error = error_of(db, sql)
    assert (error.sqlstate, error.message) == ("42804", message)


@pytest.mark.parametrize(
    "sql, sqlstate, message",
    [
        ("SELECT 1 / 0", "22012", "division by zero"),
        ("SELECT id % (id - 1) FROM orders", "22012", "division by zero"),
        ("SELECT amount / 0.0 FROM orders", "22012", "division by zero"),
        (
            "SELECT CAST(customer AS INTEGER) FROM orders",
            "22P02",
            'invalid input syntax for type INTEGER: "ann"',
        ),
        ("SELECT CAST('x' AS INTEGER)", "22P02", 'invalid input syntax for type INTEGER: "x"'),
        (
            "SELECT CAST(3000000000 AS BIGINT)::INTEGER",
            "22003",
            "value 3000000000 is out of range for type INTEGER",
        ),
        (
            "SELECT 2147483647 * 2",
            "22003",
            "INTEGER out of range in multiplication (2147483647 * 2)",
        ),
        (
            "SELECT CAST('soon' AS TIMESTAMP)",
            "22007",
            (
                'invalid input syntax for type TIMESTAMP: "soon" (expected YYYY-MM-DD HH:MM[:SS[.US]]'
                "[±HH[:MM[:SS]]| ZONE])"
            ),
        ),
    ],
)
def test_an_error_on_the_data_is_in_tidals_words(db, sql, sqlstate, message):
    with pytest.raises(DataError) as caught:
        db.execute(sql)
    assert caught.value.sqlstate == sqlstate
    assert caught.value.message == message
    for duckdb_words in ("Error:", "INT32", "TRY(", "SET ", "error_on_division_by_zero", '"c0"'):
        assert duckdb_words not in caught.value.message


def test_a_view_that_fails_on_a_change_says_why_in_tidals_words(db):
    db.execute("CREATE TABLE divisors (d INTEGER)")
    db.execute("CREATE MATERIALIZED VIEW tenths AS SELECT 10 / d AS q FROM divisors")
    with pytest.raises(DataError) as caught:
        db.execute("INSERT INTO divisors VALUES (0)")
    assert caught.value.sqlstate == "22012"
    assert caught.value.message == (
        "a view could not process the change, so it was not applied: division by zero"
    )
    db.execute("DROP MATERIALIZED VIEW tenths; DROP TABLE divisors")


# --- grouping ------------------------------------------------------------------------------------


def test_a_column_outside_group_by_is_named(db):
    error = error_of(db, "SELECT customer, amount FROM orders GROUP BY customer")
    assert error.sqlstate == "42803"
    assert error.message == (
        "column 'amount' must appear in the GROUP BY clause or be used in an aggregate function"
    )


def test_an_aggregate_in_where_points_to_having(db):
    error = error_of(db, "SELECT customer FROM orders WHERE count(*) > 1 GROUP BY customer")
    assert error.sqlstate == "42803"
    assert error.message == "aggregate functions are not allowed in WHERE: use HAVING"


def test_nested_aggregates_show_the_calls_without_internal_column_names(db):
    error = error_of(db, "SELECT sum(sum(amount)) FROM orders")
    assert error.sqlstate == "42803"
    assert error.message == "aggregate function calls cannot be nested: SUM(SUM(...))"


def test_a_window_function_without_over_says_to_add_it(db):
    error = error_of(db, "SELECT lag(id) FROM orders")
    assert error.message == "window function LAG(...) requires an OVER clause: add OVER (...)"


# --- not supported -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql, words",
    [
        ("CREATE VIEW anyone AS SELECT DISTINCT ON (customer) id FROM orders", "picks the row"),
        ("CREATE MATERIALIZED VIEW first AS SELECT id FROM orders LIMIT 1", "add ORDER BY"),
        ("CREATE VIEW first AS SELECT id FROM orders LIMIT 1", "LIMIT without ORDER BY"),
        ("SELECT customer FROM orders GROUP BY customer WITH ROLLUP", "write ROLLUP (...)"),
        ("SELECT kurtosis(amount) FROM orders", "tidal maintains array_agg, avg, bool_and"),
        ("CREATE OR REPLACE TABLE big (one INTEGER)", "DROP it and create it again"),
        ("CREATE TABLE t (a INTEGER UNIQUE)", "declare the table's one key as PRIMARY KEY"),
        ("CREATE TABLE t (a INTEGER DEFAULT 0)", "defaults, checks and references are not"),
    ],
)
def test_unsupported_features_say_what_to_do_instead(db, sql, words):
    error = error_of(db, sql)
    assert error.sqlstate == "0A000"
    assert error.message.startswith("not supported: ")
    assert words in error.message


# --- objects -------------------------------------------------------------------------------------


def test_creating_an_existing_name_is_a_duplicate(db):
    error = error_of(db, "CREATE VIEW orders AS SELECT 1 AS one")
    assert (error.sqlstate, error.message) == (
        "42P07",
        "table 'orders' already exists: choose another name or DROP it first",
    )


def test_dropping_with_dependents_names_them_and_suggests_cascade(db):
    error = error_of(db, "DROP TABLE orders")
    assert error.sqlstate == "2BP01"
    assert "materialized view spend" in error.message and "view big" in error.message
    assert "DROP ... CASCADE" in error.message


def test_writing_to_a_view_is_refused(db):
    error = error_of(db, "DELETE FROM spend")
    assert error.sqlstate == "42809"
    assert "only tables accept INSERT, UPDATE and DELETE" in error.message


# --- the database survives every error -----------------------------------------------------------

BAD_STATEMENTS = [
    "SELECT * FORM orders",
    "SELECT 'unterminated",
    "SELECT * FROM nowhere",
    "SELECT nope FROM orders",
    "SELECT * FROM orders WHERE id = 'x'",
    "SELECT customer, amount FROM orders GROUP BY customer",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT count(*) FROM r) SELECT * FROM r",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n FROM r) SELECT * FROM r",
    "CREATE TABLE orders (x INTEGER)",
    "CREATE MATERIALIZED VIEW spend AS SELECT 1 AS one",
    "CREATE MATERIALIZED VIEW v1 AS SELECT id FROM orders LIMIT 1",
    "CREATE VIEW v2 AS SELECT nope FROM orders",
    "DROP TABLE orders",
    "DROP VIEW spend",
    "INSERT INTO orders VALUES (3, 'cy')",
    "INSERT INTO orders VALUES (3, 'cy', 1.00, NULL), ('four', 'dee', 1.00, NULL)",
    "INSERT INTO orders SELECT id + 10, customer, amount / 0, placed FROM orders",
    "UPDATE orders SET amount = amount / (id - 1)",
    "UPDATE orders SET id = 'x'",
    "DELETE FROM orders WHERE nope = 1",
    "INSERT INTO spend VALUES ('x', 1, 1)",
    "SELECT 1 / 0",
]


def _everything(db: Database) -> dict[str, list]:
    names = ["orders", "customers", "spend", "big"]
    state = {n: sorted(map(repr, db.execute(f"SELECT * FROM {n}").to_pylist())) for n in names}
    for kind in ("TABLES", "VIEWS", "MATERIALIZED VIEWS", "SOURCES", "SINKS"):
        state[kind] = db.execute(f"SHOW {kind}").column("name").to_pylist()
    return state


def test_a_batch_of_bad_statements_changes_nothing_and_the_database_keeps_working(db):
    before = _everything(db)
    for sql in BAD_STATEMENTS:
        with pytest.raises((SqlError, DataError)):
            db.execute(sql)
        assert _everything(db) == before, f"changed by: {sql}"
    db.execute("INSERT INTO orders VALUES (3, 'ann', 1.00, '2026-01-03 00:00:00')")
    ann = db.execute("SELECT total, n FROM spend WHERE customer = 'ann'").to_pylist()
    assert ann == [{"total": Decimal("11.50"), "n": 2}]
    db.execute("DELETE FROM orders WHERE id = 3")
    assert _everything(db) == before


@pytest.mark.parametrize(
    "sql, sqlstate, words",
    [
        ("CREATE TABLE s1.t1 (x INTEGER)", "3F000", "schema 's1' does not exist"),
        ("SELECT * FROM orders LIMIT 9223372036854775808", "22003", "out of range for BIGINT"),
        ("DROP FUNCTION no_such(INTEGER)", "42883", "function 'no_such' does not exist"),
    ],
)
def test_found_by_the_risingwave_yardstick(db, sql, sqlstate, words):
    """Each was accepted (a table in a schema that does not exist) or crashed (OverflowError)."""
    with pytest.raises(SqlError) as raised:
        db.execute(sql)
    assert raised.value.sqlstate == sqlstate and words in str(raised.value)


def test_drop_function_checks_the_argument_types_it_is_given():
    database = Database()
    database.execute("CREATE FUNCTION plus_one(x INTEGER) RETURNS INTEGER AS 'SELECT x + 1'")
    with pytest.raises(SqlError, match=r"plus_one\(VARCHAR\) does not exist; plus_one takes"):
        database.execute("DROP FUNCTION plus_one(text)")
    database.execute("DROP FUNCTION plus_one(int)")  # the name was '' before: not found
    assert "plus_one" not in database.catalog
