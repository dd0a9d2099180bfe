"""The WITH RECURSIVE operator (tidal.engine.operators.fixpoint): which path a tick takes,
the iteration limit, and its state surviving a snapshot."""

from __future__ import annotations

import pytest

from tidal.catalog.sqlstate import TidalError
from tidal.engine import Database
from tidal.engine.operators import fixpoint
from tidal.engine.operators.fixpoint import RecursiveOperator
from tidal.sql import lower
from tidal.sql.recursive import MAX_ITERATIONS

CLOSURE = (
    "CREATE MATERIALIZED VIEW reach AS WITH RECURSIVE reach(src, dst) AS (SELECT src, dst "
    "FROM edges UNION SELECT r.src, e.dst FROM reach r JOIN edges e ON r.dst = e.src) "
    "SELECT * FROM reach"
)
BATCH = (
    "WITH RECURSIVE reach(src, dst) AS (SELECT src, dst FROM edges UNION SELECT r.src, e.dst "
    "FROM reach r JOIN edges e ON r.dst = e.src) SELECT * FROM reach ORDER BY 1, 2"
)


@pytest.fixture
def db():
    database = Database()
    database.execute("CREATE TABLE edges (src INTEGER, dst INTEGER)")
    yield database
    database.close()


def _rows(db: Database, sql: str) -> list[tuple]:
    table = db.execute(sql)
    return sorted(zip(*table.to_pydict().values()))


def _spy(monkeypatch) -> list:
    """The results of every semi-naive evaluation (None where it gave up)."""
    results: list = []
    original = RecursiveOperator._semi_naive

    def recording(self, relations):
        result = original(self, relations)
        results.append(result)
        return result

    monkeypatch.setattr(RecursiveOperator, "_semi_naive", recording)
    return results


def test_insertions_are_semi_naive_and_deletions_recompute(db, monkeypatch):
    results = _spy(monkeypatch)
    db.execute(CLOSURE)
    db.execute("INSERT INTO edges VALUES (1, 2), (2, 3)")
    db.execute("INSERT INTO edges VALUES (3, 1)")  # closes a cycle
    assert [r is not None and r.num_rows for r in results] == [3, 6]
    assert _rows(db, "SELECT * FROM reach") == _rows(db, BATCH)
    db.execute("DELETE FROM edges WHERE src = 3")
    assert len(results) == 2  # a deletion does not try
    assert _rows(db, "SELECT * FROM reach") == [(1, 2), (1, 3), (2, 3)]


def test_a_long_semi_naive_evaluation_recomputes_instead(db, monkeypatch):
    monkeypatch.setattr(fixpoint, "SEMI_NAIVE_ITERATIONS", 3)
    results = _spy(monkeypatch)
    db.execute(CLOSURE)
    db.execute("INSERT INTO edges VALUES " + ", ".join(f"({i}, {i + 1})" for i in range(2, 9)))
    db.execute("INSERT INTO edges VALUES (1, 2)")  # reaches 7 more nodes, one per iteration
    assert results[-1] is None
    assert _rows(db, "SELECT * FROM reach") == _rows(db, BATCH)
    assert len(_rows(db, "SELECT * FROM reach")) == 8 * 9 // 2


def test_a_step_that_is_not_monotone_is_recomputed(db, monkeypatch):
    results = _spy(monkeypatch)
    db.execute("CREATE TABLE blocked (node INTEGER)")
    db.execute(
        "CREATE MATERIALIZED VIEW safe AS WITH RECURSIVE r(node) AS (SELECT 1 UNION SELECT "
        "e.dst FROM r JOIN edges e ON r.node = e.src WHERE e.dst NOT IN (SELECT node FROM "
        "blocked)) SELECT * FROM r"
    )
    db.execute("INSERT INTO edges VALUES (1, 2), (2, 3)")
    assert _rows(db, "SELECT * FROM safe") == [(1,), (2,), (3,)]
    db.execute("INSERT INTO blocked VALUES (2)")  # an insertion that removes rows
    assert _rows(db, "SELECT * FROM safe") == [(1,)]
    assert results == []


def test_union_all_over_a_cycle_stops_at_the_iteration_limit(db):
    db.execute(
        "CREATE MATERIALIZED VIEW walks AS WITH RECURSIVE w(node) AS (SELECT 1 UNION ALL "
        "SELECT e.dst FROM w JOIN edges e ON w.node = e.src) SELECT * FROM w"
    )
    db.execute("INSERT INTO edges VALUES (1, 2)")
    with pytest.raises(TidalError) as caught:
        db.execute("INSERT INTO edges VALUES (2, 1)")
    assert caught.value.sqlstate == "54001"
    assert f"more than {MAX_ITERATIONS} iterations" in caught.value.message
    assert _rows(db, "SELECT * FROM edges") == [(1, 2)]  # the tick was undone
    assert _rows(db, "SELECT * FROM walks") == [(1,), (2,)]


def test_union_without_a_bound_stops_at_the_iteration_limit(db):
    for sql in (
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION SELECT n + 1 FROM t) SELECT * FROM t",
        (
            "CREATE MATERIALIZED VIEW up AS WITH RECURSIVE t(n) AS (SELECT 1 UNION "
            "SELECT n + 1 FROM t) SELECT * FROM t"
        ),
    ):
        with pytest.raises(TidalError) as caught:
            db.execute(sql)
        assert caught.value.sqlstate == "54001"


def test_paths_multiplying_around_a_cycle_stop_at_the_row_limit(db, monkeypatch):
    monkeypatch.setattr(lower, "MAX_ROWS", 1000)
    db.execute("INSERT INTO edges VALUES (1, 1), (1, 1)")  # each iteration doubles the walks
    with pytest.raises(TidalError) as caught:
        db.execute(
            "WITH RECURSIVE w(node) AS (SELECT 1 UNION ALL SELECT e.dst FROM w JOIN edges e "
            "ON w.node = e.src) SELECT count(*) FROM w"
        )
    assert caught.value.sqlstate == "54001"
    assert "more than 10000000 rows" in caught.value.message


def test_the_state_survives_a_snapshot(db):
    db.execute(CLOSURE)
    db.execute("INSERT INTO edges VALUES (1, 2), (2, 3)")
    dataflow = db.relations.views["reach"].dataflow
    state = dataflow.snapshot()
    db.execute("INSERT INTO edges VALUES (3, 4)")
    dataflow.restore(state)
    operator = next(op for op in dataflow.operators if isinstance(op, RecursiveOperator))
    assert operator.result.num_rows == 3
