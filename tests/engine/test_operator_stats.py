"""``Dataflow.operator_stats()``: per operator rows in and out (all and last tick), time in its
own step, state held, in plan order; the values worked out by hand from the changes fed."""

from __future__ import annotations

import itertools

import pyarrow as pa
import pytest

from tidal.engine import Database
from tidal.engine.operator_stats import OperatorStats


def changes(k: list[int], v: list[int], weight: int) -> pa.Table:
    return pa.table(
        {
            "k": pa.array(k, pa.int32()),
            "v": pa.array(v, pa.int32()),
            "__weight": pa.array([weight] * len(k), pa.int64()),
        }
    )


@pytest.fixture
def db() -> Database:
    db = Database()
    db.execute("CREATE TABLE t (k INTEGER, v INTEGER)")
    db.execute("CREATE TABLE other (x INTEGER)")
    db.execute(
        "CREATE MATERIALIZED VIEW s AS "
        "SELECT k, count(*) AS n, sum(v) AS total FROM t WHERE v > 5 GROUP BY k"
    )
    return db


def operators(db: Database, view: str = "s") -> dict[str, OperatorStats]:
    """The view's operators by kind (each kind once in these plans)."""
    found = db.relations.views[view].dataflow.operator_stats()
    return {stats.operator.split(" #")[0]: stats for stats in found}


def in_out(stats: OperatorStats) -> tuple[int, int, int, int]:
    return stats.rows_in, stats.rows_out, stats.last_rows_in, stats.last_rows_out


def test_plan_order_names_and_depths(db):
    found = db.relations.views["s"].dataflow.operator_stats()
    assert [s.operator for s in found] == [
        "Project #1",
        "AccumulatingAggregate #2",
        "Project #3",
        "Filter #4",
        "Scan #5",
    ]
    assert [s.depth for s in found] == [0, 1, 2, 3, 4]
    # Only the aggregate keeps state; the others say they keep none rather than 0.
    assert [s.state_rows is None for s in found] == [True, False, True, True, True]


def test_filter_and_aggregate_over_inserts_and_deletes(db):
    db.apply_changes("t", changes([1, 1, 2], [10, 3, 20], 1))
    ops = operators(db)
    assert in_out(ops["Scan"]) == (3, 3, 3, 3)
    assert in_out(ops["Filter"]) == (3, 2, 3, 2)  # (1, 3) fails v > 5
    # Two new groups: the aggregate's output is the view's rows.
    assert in_out(ops["AccumulatingAggregate"]) == (2, 2, 2, 2)
    assert ops["AccumulatingAggregate"].state_rows == 2 == db.execute("SELECT * FROM s").num_rows

    db.apply_changes("t", changes([1, 3], [7, 1], 1))
    ops = operators(db)
    assert in_out(ops["Filter"]) == (5, 3, 2, 1)
    # Group 1 changes: its old row retracted, its new row inserted.
    assert in_out(ops["AccumulatingAggregate"]) == (3, 4, 1, 2)
    assert ops["AccumulatingAggregate"].state_rows == 2

    db.apply_changes("t", changes([2, 1], [20, 3], -1))
    ops = operators(db)
    assert in_out(ops["Scan"]) == (7, 7, 2, 2)
    assert in_out(ops["Filter"]) == (7, 4, 2, 1)
    # Group 2's only row is deleted: the group's row is retracted; the group index keeps its
    # slot (count 0), so the state still holds two groups for one row of the view.
    assert in_out(ops["AccumulatingAggregate"]) == (4, 5, 1, 1)
    assert db.execute("SELECT * FROM s").num_rows == 1
    assert ops["AccumulatingAggregate"].state_rows == 2
    assert ops["AccumulatingAggregate"].state_bytes > 0


def test_a_tick_without_input_resets_the_last_tick_only(db):
    db.apply_changes("t", changes([1, 2], [10, 20], 1))
    db.apply_changes("other", pa.table({"x": pa.array([1], pa.int32()), "__weight": [1]}))
    ops = operators(db)
    assert in_out(ops["Filter"]) == (2, 2, 0, 0)
    assert in_out(ops["AccumulatingAggregate"]) == (2, 2, 0, 0)


def test_time_is_positive_and_grows(db):
    db.apply_changes("t", changes([1], [10], 1))
    before = operators(db)
    assert all(stats.seconds > 0 for stats in before.values())
    db.apply_changes("t", changes([2], [20], 1))
    after = operators(db)
    assert all(after[kind].seconds > before[kind].seconds for kind in before)


def test_bytes_only_when_asked(db):
    db.apply_changes("t", changes([1], [10], 1))
    dataflow = db.relations.views["s"].dataflow
    aggregate = dataflow.operator_stats(state_bytes=False)[1]
    assert (aggregate.state_rows, aggregate.state_bytes) == (1, None)


def test_every_operator_once_under_its_parent():
    db = Database()
    db.execute("CREATE TABLE a (k INTEGER, v INTEGER)")
    db.execute("CREATE TABLE b (k INTEGER, w INTEGER)")
    db.execute(
        "CREATE MATERIALIZED VIEW j AS SELECT a.k, v, w FROM a JOIN b ON a.k = b.k "
        "UNION SELECT k, v, v FROM a"
    )
    db.execute("INSERT INTO a VALUES (1, 2), (2, 3)")
    db.execute("INSERT INTO b VALUES (1, 5)")
    dataflow = db.relations.views["j"].dataflow
    found = dataflow.operator_stats()
    assert len(found) == len(dataflow.operators)
    assert found[0].depth == 0
    # Plan order: each operator's depth is at most one more than the one before it.
    assert all(b.depth <= a.depth + 1 for a, b in itertools.pairwise(found))
    kinds = [s.operator.split(" #")[0] for s in found]
    assert kinds[:2] == ["RecomputeUnion", "UnionAll"]  # UNION: union all, then distinct
    assert kinds.count("Scan") == 3
    join = found[kinds.index("InnerJoin")]
    assert (join.rows_in, join.state_rows) == (3, 3)  # both inputs arranged
    # The distinct keeps its input rows and its output rows: three of each.
    assert db.execute("SELECT * FROM j").num_rows == 3
    assert found[0].state_rows == 6


def test_a_sink_of_a_query_counts_too(db):
    db.execute("CREATE SINK big AS SELECT k, v FROM t WHERE v > 5 WITH (connector = 'blackhole')")
    db.apply_changes("t", changes([1, 2, 3], [10, 1, 20], 1))
    found = db.relations.sinks["big"].dataflow.operator_stats()
    assert [(s.operator, s.rows_in, s.rows_out) for s in found] == [
        ("Project #1", 2, 2),
        ("Filter #2", 3, 2),
        ("Scan #3", 3, 3),
    ]
    plan = db.execute("EXPLAIN ANALYZE big").column(0).to_pylist()
    assert plan[1].startswith("  Filter v > 5  (actual rows in=3 out=2, last tick in=3 out=2")


def test_explain_analyze_says_why_an_emit_has_no_numbers():
    db = Database()
    db.execute(
        "CREATE TABLE ev (ts TIMESTAMP, v INTEGER, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)"
    )
    db.execute(
        "CREATE MATERIALIZED VIEW w AS SELECT window_start, count(*) AS n "
        "FROM TUMBLE(ev, ts, INTERVAL '10' SECOND) GROUP BY window_start EMIT ON WINDOW CLOSE"
    )
    db.execute("INSERT INTO ev VALUES ('2026-01-01 00:00:01', 5), ('2026-01-01 00:00:31', 1)")
    plan = db.execute("EXPLAIN ANALYZE w").column(0).to_pylist()
    assert plan[0].endswith(
        "(no operator of its own: the aggregate below emits each closed window)"
    )
    (aggregate,) = [line for line in plan if line.strip().startswith("Aggregate")]
    # The first window closed when the watermark passed it: one row out, the other still open.
    assert "(actual rows in=2 out=1," in aggregate
