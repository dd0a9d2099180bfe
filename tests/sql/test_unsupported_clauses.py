"""SQL the binder does not implement is refused by name (SQLSTATE 0A000), never dropped: a
clause or argument that sqlglot parsed and no part of the compiler consumed is an error that
names it, in queries, views and batch mode alike."""

from __future__ import annotations

import pytest
from sqlglot import exp

from tidal.engine import Database
from tidal.sql import clauses
from tidal.sql.binder import Binder
from tidal.sql.errors import SqlError
from tidal.sql.parser import parse_statement


@pytest.fixture(scope="module")
def db() -> Database:
    database = Database()
    database.execute("""
        CREATE TABLE a (k INTEGER, x INTEGER);
        CREATE TABLE b (k INTEGER, y INTEGER);
        INSERT INTO a VALUES (1, 10), (2, 20);
        INSERT INTO b VALUES (2, 200), (3, 300);
    """)
    return database


def refusal(db: Database, sql: str) -> str:
    """The message of the 0A000 error ``sql`` gets, as a query and as a materialized view."""
    messages = []
    for statement in (sql, f"CREATE MATERIALIZED VIEW refused AS {sql}"):
        with pytest.raises(SqlError) as caught:
            db.execute(statement)
        assert caught.value.sqlstate == "0A000", caught.value.message
        messages.append(caught.value.message)
    assert db.catalog.find("refused") is None
    return messages[0]


def test_asof_join_is_refused_as_asof_join_not_as_natural_join(db):
    message = refusal(db, "SELECT a.k FROM a ASOF JOIN b ON a.k >= b.k")
    assert message == "not supported: ASOF JOIN"


REFUSED = {
    "qualify": ("SELECT k FROM a QUALIFY row_number() OVER (ORDER BY k) = 1", "QUALIFY in SELECT"),
    "tablesample": ("SELECT k FROM a TABLESAMPLE BERNOULLI (50)", "SAMPLE in FROM (TABLESAMPLE"),
    "connect_by": ("SELECT k FROM a CONNECT BY PRIOR k = x", "CONNECT in SELECT (CONNECT BY"),
    "group_by_all": ("SELECT k, count(*) AS n FROM a GROUP BY ALL", "ALL in GROUP BY"),
    "fetch_with_ties": (
        "SELECT k FROM a ORDER BY x FETCH FIRST 1 ROWS WITH TIES",
        "WITH TIES in LIMIT / FETCH (FETCH FIRST 1 ROWS WITH TIES)",
    ),
    "limit_percent": ("SELECT k FROM a ORDER BY k LIMIT 50 PERCENT", "PERCENT in LIMIT"),
    "for_update": ("SELECT k FROM a FOR UPDATE", "LOCKS in SELECT (FOR UPDATE)"),
    "select_into": ("SELECT k INTO other FROM a", "INTO in SELECT"),
    "system_time": ("SELECT * FROM a FOR SYSTEM_TIME AS OF now()", "VERSION in FROM"),
    "parenthesized_join": ("SELECT a.k FROM (a JOIN b ON a.k = b.k)", "JOINS in FROM"),
    "catalog_qualified_table": ("SELECT k FROM db.public.a", "CATALOG in FROM"),
    "schema_qualified_column": ("SELECT x.public.a.k FROM a", "CATALOG in a column reference"),
    "cluster_by": ("SELECT k FROM a CLUSTER BY k", "CLUSTER in SELECT"),
    "in_a_subquery": ("SELECT k FROM a WHERE k IN (SELECT k FROM b QUALIFY k = 2)", "QUALIFY"),
    "in_a_cte": ("WITH c AS (SELECT k FROM a TABLESAMPLE 10 ROWS) SELECT k FROM c", "SAMPLE"),
    "in_a_window_frame_of_a_view": (
        "SELECT first_value(k) OVER (ORDER BY k) AS f FROM a ORDER BY k LIMIT 1 PERCENT",
        "PERCENT",
    ),
}


@pytest.mark.parametrize("sql, words", REFUSED.values(), ids=REFUSED.keys())
def test_a_clause_the_binder_does_not_implement_is_refused_by_name(db, sql, words):
    message = refusal(db, sql)
    assert message.startswith("not supported: ")
    assert words in message


def test_an_argument_no_part_of_the_binder_names_is_refused_without_being_listed_anywhere(db):
    """The mechanism, not a list: PREWHERE (ClickHouse's) is named nowhere in tidal."""
    query = parse_statement("SELECT k FROM a")
    query.set("prewhere", exp.Where(this=exp.column("k").eq(1)))
    with pytest.raises(SqlError) as caught:
        db.compiler.query(query)
    assert caught.value.sqlstate == "0A000"
    assert caught.value.message == "not supported: PREWHERE in SELECT (WHERE k = 1)"


def test_every_argument_a_binds_table_names_is_one_sqlglot_has():
    """A BINDS entry that sqlglot renamed would silently stop binding that argument."""
    for node_class, arguments in clauses._bound_by(Binder).items():
        assert set(arguments) <= set(node_class.arg_types), node_class.__name__


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("SELECT k FROM a ORDER BY k FETCH FIRST 1 ROWS ONLY", [1]),
        ("SELECT k FROM a ORDER BY k FETCH FIRST ROW ONLY", [1]),
        ("SELECT k FROM a ORDER BY k OFFSET 1 ROWS FETCH NEXT 5 ROWS ONLY", [2]),
        ("SELECT k FROM a ORDER BY k LIMIT ALL", [1, 2]),
        ("SELECT k FROM ONLY a ORDER BY k", [1, 2]),
        ("WITH c AS MATERIALIZED (SELECT k FROM a) SELECT k FROM c ORDER BY k", [1, 2]),
        (
            (
                "SELECT sum(x) OVER (ORDER BY k ROWS BETWEEN 1 PRECEDING AND CURRENT ROW "
                "EXCLUDE CURRENT ROW) AS s FROM a ORDER BY k"
            ),
            [None, 10],
        ),
    ],
)
def test_clauses_the_binder_implements_are_bound(db, sql, expected):
    assert [next(iter(row.values())) for row in db.execute(sql).to_pylist()] == expected
