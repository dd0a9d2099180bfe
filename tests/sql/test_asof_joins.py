"""ASOF joins: ties broken the same way in a view and in batch mode, what is refused, and that a
right change re-joins only the left rows whose match it can move (the differential suite,
tests/differential/test_asof_joins.py, checks the answers against DuckDB)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tidal.engine import Database
from tidal.engine.operators.asof_join import AsofJoinOperator
from tidal.sql.errors import SqlError
from tidal.sql.parser import parse_statement

SETUP = """
    CREATE TABLE t (s VARCHAR, ts INTEGER);
    CREATE TABLE q (s VARCHAR, ts INTEGER, v INTEGER);
"""
QUERY = "SELECT t.s, t.ts, q.ts AS qts, q.v FROM t ASOF LEFT JOIN q ON t.s = q.s AND t.ts >= q.ts"


def _rows(table: pa.Table) -> list[tuple]:
    return sorted((tuple(r.values()) for r in table.to_pylist()), key=repr)


@pytest.mark.parametrize("batch_mode", [False, True])
def test_tied_right_rows_match_the_least_by_their_other_columns(batch_mode):
    db = Database(batch_mode=batch_mode)
    db.execute(SETUP)
    db.execute(f"CREATE MATERIALIZED VIEW m AS {QUERY}")
    db.execute("INSERT INTO t VALUES ('a', 5), ('a', 7)")
    db.execute("INSERT INTO q VALUES ('a', 5, 30), ('a', 5, 10), ('a', 5, 20)")
    assert _rows(db.read("m")) == [("a", 5, 5, 10), ("a", 7, 5, 10)]
    db.execute("DELETE FROM q WHERE v = 10")
    assert _rows(db.read("m")) == [("a", 5, 5, 20), ("a", 7, 5, 20)]
    assert _rows(db.execute(QUERY)) == [("a", 5, 5, 20), ("a", 7, 5, 20)]


def test_a_view_created_after_the_data_equals_one_created_before():
    db = Database()
    db.execute(SETUP)
    db.execute(f"CREATE MATERIALIZED VIEW before AS {QUERY}")
    db.execute("INSERT INTO t VALUES ('a', 1), ('a', 4), ('a', 9), ('b', 2), (NULL, 3)")
    db.execute("INSERT INTO q VALUES ('a', 3, 1), ('a', 8, 2), ('b', 2, 3)")
    db.execute("UPDATE q SET ts = 5 WHERE v = 2")
    db.execute(f"CREATE MATERIALIZED VIEW after AS {QUERY}")
    expected = [("a", 1, None, None), ("a", 4, 3, 1), ("a", 9, 5, 2), ("b", 2, 2, 3)]
    expected.append((None, 3, None, None))
    assert _rows(db.read("before")) == _rows(db.read("after")) == sorted(expected, key=repr)


def test_a_right_change_rejoins_only_the_left_rows_it_can_move():
    db = Database()
    db.execute(SETUP)
    db.execute(f"CREATE MATERIALIZED VIEW m AS {QUERY}")
    db.execute("INSERT INTO t VALUES " + ", ".join(f"('a', {i})" for i in range(100)))
    db.execute("INSERT INTO q VALUES ('a', 10, 1), ('a', 50, 2)")
    (operator,) = [
        op for op in db.relations.views["m"].dataflow.operators if isinstance(op, AsofJoinOperator)
    ]
    joined = []
    compute = operator.compute
    operator.compute = lambda inputs: joined.append(inputs[0].num_rows) or compute(inputs)
    db.execute("INSERT INTO q VALUES ('a', 60, 3)")  # moves the trades at 60 .. 99
    assert joined == [40, 40]  # those rows, with the new quotes and with the old
    joined.clear()
    db.execute("DELETE FROM q WHERE v = 1")  # moves the trades at 10 .. 49
    assert joined == [40, 40]
    rows = {r["ts"]: (r["qts"], r["v"]) for r in db.read("m").to_pylist()}
    assert rows[45] == (None, None) and rows[55] == (50, 2) and rows[60] == (60, 3)


@pytest.mark.parametrize(
    "condition, message",
    [
        ("t.s = q.s", "exactly one inequality"),
        ("t.s = q.s AND t.ts >= q.ts AND t.ts > q.v", "exactly one inequality"),
        ("t.s = q.s AND t.ts >= q.ts AND q.v > 0", "only equalities and one inequality"),
        ("t.s = q.s AND t.ts >= q.ts OR t.ts < 0", "only equalities and one inequality"),
        ("t.s <> q.s AND t.ts >= q.ts", "only equalities and one inequality"),
    ],
)
def test_conditions_beyond_keys_and_one_inequality_are_refused(condition, message):
    db = Database()
    db.execute(SETUP)
    with pytest.raises(SqlError) as caught:
        db.execute(f"SELECT * FROM t ASOF JOIN q ON {condition}")
    assert message in caught.value.message


@pytest.mark.parametrize("side", ["RIGHT", "FULL"])
def test_asof_right_and_full_joins_are_refused_by_name(side):
    db = Database()
    db.execute(SETUP)
    with pytest.raises(SqlError) as caught:
        db.execute(f"SELECT * FROM t ASOF {side} JOIN q ON t.s = q.s AND t.ts >= q.ts")
    assert caught.value.sqlstate == "0A000"
    assert f"ASOF {side} JOIN" in caught.value.message


def test_the_plan_names_the_keys_and_the_inequality():
    db = Database()
    db.execute(SETUP)
    plan = db.compiler.query(parse_statement(QUERY)).plan
    text = "\n".join(str(r["QUERY PLAN"]) for r in db.execute(f"EXPLAIN {QUERY}").to_pylist())
    assert "AsofJoin left keys=[s = s] ts >= ts" in text, text
    assert plan is not None
