"""Operator state round-trips: a dataflow restored from another's snapshot continues exactly
as the original would (the basis of checkpoints)."""

from __future__ import annotations

import pytest

from tidal.engine import Database
from tidal.engine.dataflow import Dataflow
from tidal.engine.zset import consolidate

VIEWS = {
    "accumulating": "SELECT k, count(*) AS n, sum(v) AS s, avg(d) AS a FROM t GROUP BY k",
    "global": "SELECT count(*) AS n, sum(v) AS s FROM t",
    "moments": "SELECT k, stddev_pop(d) AS sd, covar_pop(v, d) AS c, bool_and(v > 5) AS b "
    "FROM t GROUP BY k",
    "global_moments": "SELECT var_samp(v) AS vs, bool_or(d > 1) AS b FROM t",
    "recompute": "SELECT k, min(v) AS lo, max(v) AS hi, count(DISTINCT v) AS d FROM t GROUP BY k",
    "inner_join": "SELECT t.k, t.v, u.name FROM t JOIN u ON t.k = u.k",
    "outer_join": "SELECT t.k, u.name FROM t FULL JOIN u ON t.k = u.k",
    "top_n": "SELECT k, v FROM t ORDER BY v DESC, k LIMIT 3",
    "window": "SELECT k, v, row_number() OVER (PARTITION BY k ORDER BY v, d) AS rn FROM t",
    "values": "SELECT t.k FROM t JOIN (VALUES (1), (2)) AS w(k) ON t.k = w.k",
}

CHANGES = [
    "INSERT INTO t VALUES (1, 10, 0.5), (1, 20, 1.5), (2, 5, 2.5), (NULL, 7, 0.0)",
    "INSERT INTO u VALUES (1, 'one'), (3, 'three')",
    "UPDATE t SET v = v + 1 WHERE k = 1",
    "INSERT INTO t VALUES (3, 1, 9.5), (2, 30, 1.0)",
    "DELETE FROM t WHERE v = 21",
    "INSERT INTO u VALUES (2, 'two'), (NULL, 'none')",
    "DELETE FROM u WHERE k = 1",
]


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_restored_dataflow_continues_like_the_original(name):
    db = Database()
    db.execute("CREATE TABLE t (k INTEGER, v INTEGER, d DOUBLE)")
    db.execute("CREATE TABLE u (k INTEGER, name VARCHAR)")
    db.execute(f"CREATE MATERIALIZED VIEW m AS {VIEWS[name]}")
    original = db.relations.views["m"].dataflow
    for statement in CHANGES[:3]:
        db.execute(statement)
    restored = Dataflow(original.plan, db.backend)
    restored.restore(original.snapshot())

    # From here on, feed both dataflows the same changes and compare what they emit.
    outputs = {"original": [], "restored": []}
    step = original.step

    def step_both(deltas, watermarks=None):
        result = step(deltas, watermarks)
        outputs["original"].append(_sorted(consolidate(result)))
        outputs["restored"].append(_sorted(consolidate(restored.step(deltas, watermarks))))
        return result

    original.step = step_both
    for statement in CHANGES[3:]:
        db.execute(statement)
    assert len(outputs["original"]) == len(CHANGES) - 3
    assert outputs["original"] == outputs["restored"]
    held, held_again = original.output_rows(), restored.output_rows()
    if held is not None:  # the operator holding the result holds the same rows
        assert _sorted(consolidate(held)) == _sorted(consolidate(held_again))


def _sorted(table):
    return table.sort_by([(n, "ascending") for n in table.column_names])
