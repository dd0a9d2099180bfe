"""Prepared statements (tidal.engine.prepared_statements): compiled once, run with arguments,
and the same answers as the statement with its values written in."""

from __future__ import annotations

import pytest

from tidal.engine import Database
from tidal.engine.arguments import ArgumentError
from tidal.engine.prepared_statements import MISS
from tidal.sql.errors import SqlError
from tidal.sql.parser import parse_statement


@pytest.fixture
def db():
    db = Database()
    db.execute("CREATE TABLE t (k BIGINT, v INTEGER, d DATE, s VARCHAR)")
    db.execute(
        "INSERT INTO t VALUES (1, 10, '2026-01-01', 'a'), (2, 20, '2026-01-02', 'b'), "
        "(3, 5, '2026-01-03', 'c')"
    )
    yield db
    db.close()


def prepare(db: Database, text: str, *types: str | None):
    return db.prepare(parse_statement(text), types)


def test_a_query_runs_with_its_arguments_as_the_written_query_does(db):
    cases = [
        ("SELECT k, s FROM t WHERE v > $1 ORDER BY k", ["INTEGER"], [7], "7"),
        ("SELECT k FROM t WHERE d > $1 ORDER BY k", ["DATE"], ["2026-01-01"], "DATE '2026-01-01'"),
        ("SELECT k + $1 AS x FROM t ORDER BY x", ["BIGINT"], [10], "10"),
        ("SELECT k FROM t WHERE s IN ($1, 'c') ORDER BY k", ["VARCHAR"], ["a"], "'a'"),
        ("SELECT $1 * 2 AS x", ["DECIMAL(3,2)"], ["1.25"], "CAST(1.25 AS DECIMAL(3,2))"),
    ]
    for text, types, arguments, written in cases:
        mine = prepare(db, text, *types).run(arguments)
        theirs = db.execute(text.replace("$1", written))
        assert mine.to_pylist() == theirs.to_pylist(), text


def test_limits_and_window_offsets_are_constants_compiled_per_value(db):
    top = prepare(db, "SELECT k FROM t ORDER BY k LIMIT $1", "BIGINT")
    assert [r["k"] for r in top.run([2]).to_pylist()] == [1, 2]
    assert [r["k"] for r in top.run([1]).to_pylist()] == [1]
    lagged = prepare(db, "SELECT k, lag(v, $1) OVER (ORDER BY k) AS l FROM t ORDER BY k", "BIGINT")
    assert [r["l"] for r in lagged.run([1]).to_pylist()] == [None, 10, 20]
    assert [r["l"] for r in lagged.run([2]).to_pylist()] == [None, None, 10]
    assert lagged.columns() == [("k", "BIGINT"), ("l", "INTEGER")]


def test_a_parameter_of_unknown_type_is_a_text_literal_read_where_it_stands(db):
    later = prepare(db, "SELECT k FROM t WHERE d > $1 ORDER BY k", None)
    assert [r["k"] for r in later.run(["2026-01-02"]).to_pylist()] == [3]
    assert prepare(db, "SELECT $1 AS x", None).run(["it's"]).to_pylist() == [{"x": "it's"}]


def test_insert_update_and_delete_take_arguments_and_apply_in_one_tick(db):
    insert = prepare(db, "INSERT INTO t (k, s) VALUES ($1, $2)", "BIGINT", "VARCHAR")
    ticks = db.ticks
    assert str(insert.run([4, "d"])) == "INSERT 0 1"
    assert db.ticks == ticks + 1
    assert str(prepare(db, "UPDATE t SET v = $1 WHERE k = $2", "INTEGER", "BIGINT").run([7, 4]))
    assert db.execute("SELECT v, s FROM t WHERE k = 4").to_pylist() == [{"v": 7, "s": "d"}]
    assert str(prepare(db, "DELETE FROM t WHERE k >= $1", "BIGINT").run([3])) == "DELETE 2"
    assert db.execute("SELECT count(*) AS n FROM t").to_pylist() == [{"n": 2}]


def test_without_waiting_only_a_ready_simple_read_answers(db):
    db.reads.poll_first = False
    point = prepare(db, "SELECT s FROM t WHERE k = $1", "BIGINT")
    assert point.run([2], wait=False) is MISS
    assert point.run([2]).to_pylist() == [{"s": "b"}]
    assert point.run([3], wait=False).to_pylist() == [{"s": "c"}]
    change = prepare(db, "DELETE FROM t WHERE k = $1", "BIGINT")
    assert change.run([3], wait=False) is MISS  # a change always waits for the lock


def test_missing_values_and_parameters_outside_queries_and_dml_are_errors(db):
    with pytest.raises(ArgumentError, match=r"parameter \$2 has no value") as missing:
        prepare(db, "SELECT k FROM t WHERE k = $1 OR k = $2", "BIGINT", "BIGINT").run([1])
    assert missing.value.sqlstate == "22023"
    with pytest.raises(SqlError, match="parameters in CREATE") as refused:
        prepare(db, "CREATE VIEW w AS SELECT k FROM t WHERE k = $1", "BIGINT")
    assert refused.value.sqlstate == "0A000"


def test_a_statement_compiled_before_a_drop_says_what_is_missing(db):
    point = prepare(db, "SELECT s FROM t WHERE k = $1", "BIGINT")
    assert point.run([1]).to_pylist() == [{"s": "a"}]
    db.execute("DROP TABLE t")
    with pytest.raises(SqlError) as gone:
        point.run([1])
    assert gone.value.sqlstate == "42P01"
