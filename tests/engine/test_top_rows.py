"""``ROW_NUMBER() ... <= k`` over insert-only input keeps only the first k rows per partition:
results equal DuckDB's after every batch (NULLs, ties and DESC included), and the state stays
at k rows per partition however many rows arrive."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tidal.engine import Database
from tidal.engine.operators.top_rows import TopRowsOperator
from tidal.sql.parser import parse_statement

FIRST_TWO = (
    "SELECT * FROM (SELECT k, v, w, ts, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC "
    "NULLS LAST, w) AS rn FROM t) AS ranked WHERE rn <= 2"
)
FIRST = (
    "SELECT k, v FROM (SELECT t.*, ROW_NUMBER() OVER (PARTITION BY k, w ORDER BY v NULLS FIRST, t.ts) "
    "AS rn FROM t JOIN u ON t.k = u.id) AS ranked WHERE rn = 1"
)

_row = st.tuples(
    st.sampled_from(["NULL", "1", "2", "3"]),
    st.one_of(st.just("NULL"), st.integers(-3, 3).map(str)),
    st.sampled_from(["NULL", "'a'", "'b'"]),
    st.integers(0, 59).map(lambda s: f"'2024-01-01 00:00:{s:02d}'"),
)


def _database() -> Database:
    db = Database()
    db.execute(
        "CREATE TABLE t (k INTEGER, v BIGINT, w VARCHAR, ts TIMESTAMP, "
        "WATERMARK FOR ts AS ts - INTERVAL '1' DAY)"
    )
    db.execute(
        "CREATE TABLE u (id INTEGER, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' DAY)"
    )
    db.execute("INSERT INTO u VALUES (1, '2024-01-01'), (2, '2024-01-01'), (2, '2024-01-01')")
    for name, query in (("first_two", FIRST_TWO), ("first", FIRST)):
        db.execute(f"CREATE MATERIALIZED VIEW {name} AS {query}")
        assert any(isinstance(op, TopRowsOperator) for op in db.relations.views[name].dataflow.operators)
    return db


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.lists(st.lists(_row, max_size=6), min_size=1, max_size=6))
def test_first_rows_equal_duckdb(batches):
    db = _database()
    for batch in batches:
        if batch:
            db.execute("INSERT INTO t VALUES " + ", ".join(f"({', '.join(r)})" for r in batch))
        for view, query in (("first_two", FIRST_TWO), ("first", FIRST)):
            ours = db.execute(f"SELECT * FROM {view}").to_pylist()
            theirs = db.query(db.compiler.query(parse_statement(query)).plan).to_pylist()
            assert sorted(map(repr, ours)) == sorted(map(repr, theirs))


def test_state_is_k_rows_per_partition():
    db = _database()
    for start in range(0, 2000, 500):
        values = ", ".join(
            f"({i % 3 + 1}, {i}, 'x', '2024-01-01')" for i in range(start, start + 500)
        )
        db.execute(f"INSERT INTO t VALUES {values}")
    top = next(
        op for op in db.relations.views["first_two"].dataflow.operators if isinstance(op, TopRowsOperator)
    )
    assert top.state_rows() == 3 * 2
    assert sorted(r["v"] for r in db.execute("SELECT v FROM first_two").to_pylist()) == [
        1994,
        1995,
        1996,
        1997,
        1998,
        1999,
    ]
