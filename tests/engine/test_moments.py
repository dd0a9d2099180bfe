"""The variance family's exact sums (tidal.engine.moments) against DuckDB, and in views."""

from __future__ import annotations

import math
import random

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from tidal.engine import Database
from tidal.engine.moments import UNARY, Moments
from tidal.engine.zset import WEIGHT, consolidate
from tidal.sql.aggregates import BINARY

VALUES = [0.1, -1.5, 2.5, 100.0, 0.25, 1e-3, 3e3, 7.0, 0.0, -0.0, 1e-300, 5e-324, 2.0**60]
SPECIAL = [math.inf, -math.inf, math.nan]


def _same(got, want) -> bool:
    if got is None or want is None:
        return got is None and want is None
    if math.isnan(got) or math.isnan(want):
        return math.isnan(got) and math.isnan(want)
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)


def _duckdb(names: list[str], args: str, rows: list[tuple[float, float]]) -> list:
    values = ", ".join(f"(CAST('{y!r}' AS DOUBLE), CAST('{x!r}' AS DOUBLE))" for y, x in rows)
    calls = ", ".join(f"{name}{args}" for name in names)
    return list(duckdb.sql(f"SELECT {calls} FROM (VALUES {values}) AS t(y, x)").fetchall()[0])


@pytest.mark.parametrize("seed", range(4))
def test_results_equal_duckdb_after_inserts_and_retractions(seed):
    rng = random.Random(seed)
    for trial in range(60):
        specials = SPECIAL if trial % 3 == 0 else []
        rows = [
            (rng.choice(VALUES + specials), rng.choice(VALUES + specials))
            for _ in range(rng.randint(1, 7))
        ]
        extra = [(rng.choice(VALUES + specials), rng.choice(VALUES)) for _ in range(3)]
        unary, binary = Moments(1), Moments(2)
        for moments in (unary, binary):
            moments.grow(1)
        for batch, weight in ((rows + extra, 1), (extra, -1)):  # the extra rows come and go
            slots, weights = np.zeros(len(batch), np.int64), np.full(len(batch), weight)
            ys, xs = (np.array(column) for column in zip(*batch))
            unary.update(slots, weights, [xs])
            binary.update(slots, weights, [ys, xs])
        for name, want in zip(UNARY, _duckdb(list(UNARY), "(x)", rows)):
            assert _same(unary.value(name, 0), want), (name, rows)
        if any(not math.isfinite(v) or abs(v) > 1e10 for row in rows for v in row):
            # DuckDB's covariance with an infinity depends on the order of the rows, and its
            # regr_intercept (mean(y) - slope * mean(x) in doubles) loses digits that the
            # exact sums keep when the values span many orders of magnitude
            continue
        for name, want in zip(BINARY, _duckdb(list(BINARY), "(y, x)", rows)):
            assert _same(binary.value(name, 0), want), (name, rows)


def test_equal_values_have_no_spread_once_the_others_are_gone():
    """With sums kept as doubles, deleting 100 from {0.1, 0.1, 100} leaves a residue of about
    1e-12 in the variance (a standard deviation of 1e-6) where DuckDB says 0."""
    db = Database()
    db.execute("CREATE TABLE t (g INTEGER, x DOUBLE)")
    db.execute(
        "CREATE MATERIALIZED VIEW v AS SELECT g, stddev_samp(x) AS sd, var_pop(x) AS vp, "
        "corr(x, x) AS r FROM t GROUP BY g"
    )
    db.execute("INSERT INTO t VALUES (1, 0.1), (1, 0.1), (1, 100.0), (1, 0.3)")
    db.execute("DELETE FROM t WHERE x > 0.2")
    [row] = db.read("v").to_pylist()
    assert (row["sd"], row["vp"]) == (0.0, 0.0)
    assert math.isnan(row["r"])


def test_a_stddev_view_keeps_one_row_per_group():
    db = Database()
    db.execute("CREATE TABLE t (g INTEGER, x DOUBLE, v INTEGER)")
    db.execute(
        "CREATE MATERIALIZED VIEW v AS SELECT g, stddev(x) AS s, covar_samp(x, v) AS c, "
        "bool_and(v > 0) AS p FROM t GROUP BY g"
    )
    for start in range(0, 4000, 1000):
        rows = ", ".join(f"({i % 7}, {i * 0.5}, {i % 11})" for i in range(start, start + 1000))
        db.execute(f"INSERT INTO t VALUES {rows}")
    assert db.stats()["v"].state_rows == 7
    expected = db.execute("SELECT g, stddev(x) AS s FROM t GROUP BY g ORDER BY g").to_pylist()
    got = sorted(db.read("v").select(["g", "s"]).to_pylist(), key=lambda r: r["g"])
    assert [r["g"] for r in got] == [r["g"] for r in expected]
    for mine, theirs in zip(got, expected):
        assert math.isclose(mine["s"], theirs["s"], rel_tol=1e-12)


def test_large_weights_are_summed_in_parts():
    moments = Moments(1)
    moments.grow(1)
    weights = np.array([1 << 27, 1 << 27, 3])
    moments.update(np.zeros(3, np.int64), weights, [np.array([1.0, 3.0, 2.0])])
    assert moments.value("var_pop", 0) == pytest.approx(2**28 / (2**28 + 3), rel=1e-15)
    with pytest.raises(ArithmeticError):
        moments.update(np.zeros(1, np.int64), np.array([1 << 28]), [np.array([1.0])])


def test_snapshot_and_restore_keep_the_exact_sums():
    moments = Moments(2)
    moments.grow(2)
    moments.update(
        np.array([0, 0, 1]),
        np.array([1, 1, 1]),
        [np.array([0.1, 1e-300, 5.0]), np.array([3.0, 2.0**70, -1.0])],
    )
    restored = Moments(2)
    restored.restore(moments.snapshot(2))
    for name in BINARY:
        for slot in (0, 1):
            assert _same(restored.value(name, slot), moments.value(name, slot)), name


def test_consolidation_groups_list_columns():
    """Arrow cannot group on lists: consolidation gives each distinct list an id (NaN equal to
    NaN, as identical rows are)."""
    table = pa.table(
        {
            "k": [1, 1, 2, 1, 2],
            "a": pa.array([[1.0, None], [1.0, None], [math.nan], [2.0], [math.nan]]),
            WEIGHT: [1, -1, 2, 1, -2],
        }
    )
    assert consolidate(table).to_pylist() == [{"k": 1, "a": [2.0], WEIGHT: 1}]
