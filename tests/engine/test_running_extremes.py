"""MIN and MAX over insert-only input are kept as running extremes (accumulators), not as a
multiset of values: the results must equal DuckDB's over every type they cover, NaN included."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tidal.engine import Database
from tidal.engine.operators.aggregate import AccumulatingAggregate
from tidal.sql.parser import parse_statement

GROUPED = (
    "SELECT k, min(i) AS a, max(i) AS b, min(f) AS c, max(f) AS e, min(d) AS g, max(d) AS h, "
    "min(dt) AS x, max(dt) AS y, max(ts) AS z, min(s) AS p, max(s) AS q, count(*) AS n "
    "FROM t GROUP BY k"
)
GLOBAL = "SELECT min(f) AS a, max(i) AS b, max(dt) AS c, min(ts) AS d, max(s) AS e FROM t"

_row = st.tuples(
    st.sampled_from(["NULL", "1", "2"]),
    st.one_of(st.just("NULL"), st.integers(-9, 9).map(str)),
    st.sampled_from(["NULL", "-2", "1.5", "'nan'", "'inf'", "'-inf'", "-0.0", "0.0"]),
    st.sampled_from(["NULL", "1.25", "-3.50"]),
    st.one_of(st.just("NULL"), st.integers(1, 9).map(lambda d: f"'2024-01-0{d}'")),
    st.integers(0, 59).map(lambda s: f"'2024-01-01 00:00:{s:02d}'"),
    st.sampled_from(["NULL", "''", "'a'", "'B'", "'ab'", "'é'", "'z'"]),
)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.lists(st.lists(_row, max_size=5), min_size=1, max_size=6))
def test_running_min_max_equal_duckdb(batches):
    db = Database()
    db.execute(
        "CREATE TABLE t (k INTEGER, i BIGINT, f DOUBLE, d DECIMAL(10,2), dt DATE, ts TIMESTAMP, "
        "s VARCHAR, "
        "WATERMARK FOR ts AS ts - INTERVAL '1' DAY)"
    )
    db.execute(f"CREATE MATERIALIZED VIEW grouped AS {GROUPED}")
    db.execute(f"CREATE MATERIALIZED VIEW global AS {GLOBAL}")
    for view in ("grouped", "global"):
        assert any(
            isinstance(op, AccumulatingAggregate) for op in db.relations.views[view].dataflow.operators
        )
    for batch in batches:
        if batch:
            db.execute("INSERT INTO t VALUES " + ", ".join(f"({', '.join(r)})" for r in batch))
        for view, query in (("grouped", GROUPED), ("global", GLOBAL)):
            ours = db.execute(f"SELECT * FROM {view}").to_pylist()
            theirs = db.query(db.compiler.query(parse_statement(query)).plan).to_pylist()
            assert sorted(map(repr, ours)) == sorted(map(repr, theirs))
