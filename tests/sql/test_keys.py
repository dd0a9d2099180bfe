"""Keys in the compiler: declaring them, the table clauses, ON CONFLICT plans, and the unique
key a plan derives from them."""

from __future__ import annotations

import pytest

from tidal.catalog import Catalog
from tidal.catalog.objects import CONFLICT_OVERWRITE, CONFLICT_UPDATE_IF_NOT_NULL
from tidal.sql import ddl
from tidal.sql.changes import insert_only, unique_key
from tidal.sql.compiler import Compiler
from tidal.sql.dialect import Tidal
from tidal.sql.dml import CONFLICTS, DO_NOTHING, DO_UPDATE
from tidal.sql.errors import SqlError
from tidal.sql.parser import parse_statement


@pytest.fixture
def compiler():
    catalog = Catalog()
    for sql in (
        "CREATE TABLE t (k INTEGER PRIMARY KEY, g VARCHAR, v INTEGER)",
        "CREATE TABLE u (a INTEGER, b VARCHAR, x INTEGER, PRIMARY KEY (a, b))",
        "CREATE TABLE bag (k INTEGER, v INTEGER)",
        "CREATE TABLE events (k INTEGER, v INTEGER) APPEND ONLY",
    ):
        catalog.add(ddl.table(parse_statement(sql)))
    return Compiler(catalog)


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE t (k INT PRIMARY KEY, v INT) ON CONFLICT OVERWRITE",
        "CREATE TABLE t (k INT PRIMARY KEY, v INT) ON CONFLICT DO UPDATE IF NOT NULL",
        "CREATE TABLE t (k INT, v INT) APPEND ONLY",
        "CREATE TABLE t (k INT PRIMARY KEY, v INT) ON CONFLICT IGNORE WITH (late_table='x')",
    ],
)
def test_table_clauses_parse_and_print_back(sql):
    """RisingWave's clauses after the columns are parsed (not left as a raw command)."""
    statement = parse_statement(sql)
    assert statement.key == "create"
    assert parse_statement(statement.sql(dialect=Tidal)) == statement


def test_declared_keys_and_rules():
    table = ddl.table(
        parse_statement(
            "CREATE TABLE t (a INT, b TEXT, v INT, CONSTRAINT pk PRIMARY KEY (b, a) NOT ENFORCED) "
            "ON CONFLICT DO UPDATE IF NOT NULL"
        )
    )
    assert table.primary_key == ("b", "a")
    assert table.key_positions() == [1, 0]
    assert table.constraint == "pk"
    assert table.on_conflict == CONFLICT_UPDATE_IF_NOT_NULL
    assert [c.nullable for c in table.columns] == [False, False, True]
    older = ddl.table(
        parse_statement("CREATE TABLE o (k INT PRIMARY KEY) ON CONFLICT DO UPDATE FULL")
    )
    assert older.on_conflict == CONFLICT_OVERWRITE


UPSERT = "INSERT INTO t VALUES (1, 'a', 1) ON CONFLICT (k) DO UPDATE"


@pytest.mark.parametrize(
    "sql, sqlstate",
    [
        ("INSERT INTO t VALUES (1, 'a', 1) ON CONFLICT (g) DO NOTHING", "42P10"),
        ("INSERT INTO t VALUES (1, 'a', 1) ON CONFLICT (k) WHERE k > 0 DO NOTHING", "0A000"),
        ("INSERT INTO t VALUES (1, 'a', 1) ON DUPLICATE KEY UPDATE v = 1", "0A000"),
        (
            "INSERT INTO t VALUES (1, 'a', 1) ON CONFLICT (k) DO UPDATE SET (g, v) = ('b', 2)",
            "0A000",
        ),
        ("INSERT INTO t VALUES (1, 'a', 1) ON CONFLICT (k) DO UPDATE SET v = 1, v = 2", "42601"),
        (f"{UPSERT} SET v = (SELECT max(v) FROM bag)", "0A000"),
        (f"{UPSERT} SET v = rank() OVER (ORDER BY t.v)", "42803"),
        ("INSERT OR REPLACE INTO bag VALUES (1, 1)", "42P10"),
        ("INSERT INTO t BY NAME SELECT 1 AS k", "0A000"),
        ("INSERT INTO t DEFAULT VALUES", "0A000"),
        ("UPDATE t SET v = 1 ORDER BY k", "0A000"),
    ],
)
def test_conflict_clauses_that_are_refused(compiler, sql, sqlstate):
    with pytest.raises(SqlError) as error:
        compiler.change(parse_statement(sql))
    assert error.value.sqlstate == sqlstate


def test_conflict_rules_of_inserts(compiler):
    def action(sql):
        conflict = compiler.change(parse_statement(sql)).conflict
        return conflict and conflict.action

    assert action("INSERT INTO t VALUES (1, 'a', 1)") == "error"
    assert action("INSERT INTO t VALUES (1, 'a', 1) ON CONFLICT DO NOTHING") == DO_NOTHING
    assert action("INSERT OR IGNORE INTO t VALUES (1, 'a', 1)") == DO_NOTHING
    assert action("INSERT OR REPLACE INTO t VALUES (1, 'a', 1)") == DO_UPDATE
    assert action("INSERT INTO bag VALUES (1, 1)") is None
    assert action("INSERT INTO bag VALUES (1, 1) ON CONFLICT DO NOTHING") is None


def test_do_update_plans_over_the_conflicts(compiler):
    """SET and WHERE read the existing row (c0..) and the proposed one (excluded, c3..)."""
    change = compiler.change(
        parse_statement(
            "INSERT INTO t AS old VALUES (1, 'a', 1) ON CONFLICT (k) DO UPDATE "
            "SET v = old.v + excluded.v WHERE old.g <> excluded.g"
        )
    )
    update = change.conflict.update
    assert [s.relation for s in update.walk() if hasattr(s, "relation")] == [CONFLICTS]
    assert update.names == ["k", "g", "v", "__update"]
    assert [e.sql() for e in update.exprs[2:]] == [
        'CAST("c2" + "c5" AS INT)',
        '"c1" <> "c4"',
    ]
    assert not change.conflict.sets_key


@pytest.mark.parametrize(
    "sql, key",
    [
        ("SELECT * FROM t", [0]),
        ("SELECT v, k FROM t WHERE v > 1", [1]),
        ("SELECT v FROM t", []),
        ("SELECT * FROM u", [0, 1]),
        ("SELECT b, x, a FROM u", [2, 0]),
        ("SELECT * FROM bag", []),
        ("SELECT g, count(*) AS n FROM t GROUP BY g", [0]),
        # a join on the right side's whole key keeps each left row once
        ("SELECT u.a, u.b, t.v FROM u JOIN t ON u.a = t.k", [0, 1]),
        ("SELECT u.a, u.b, t.v FROM u LEFT JOIN t ON u.a = t.k", [0, 1]),
        # else the key is both keys together
        ("SELECT t.k, u.a, u.b FROM t JOIN u ON t.k = u.a", [0, 1, 2]),
        ("SELECT t.k, t.v FROM t WHERE EXISTS (SELECT 1 FROM bag WHERE bag.k = t.k)", [0]),
        ("SELECT k, v, row_number() OVER (PARTITION BY g ORDER BY v) AS r FROM t", [0]),
        ("SELECT k, v FROM t UNION ALL SELECT k, v FROM t", []),
        ("SELECT k, v FROM t UNION SELECT k, v FROM bag", [0, 1]),
    ],
)
def test_unique_keys_flow_from_table_keys(compiler, sql, key):
    plan = compiler.query(parse_statement(sql), ad_hoc=False).plan
    assert unique_key(plan) == key


def test_append_only_tables_are_insert_only(compiler):
    def plan(sql):
        return compiler.query(parse_statement(sql), ad_hoc=False).plan

    assert insert_only(plan("SELECT k, v FROM events WHERE v > 0"))
    assert not insert_only(plan("SELECT k, v FROM bag"))
    assert not insert_only(plan("SELECT k, v FROM t"))
