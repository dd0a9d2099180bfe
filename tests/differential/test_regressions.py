"""Minimal scenarios of bugs the differential tests found, kept so they stay fixed."""

from __future__ import annotations

import pytest

from .harness import run_scenario
from .queries import q
from .schema import Scenario

NAN, NEG_ZERO = "CAST('NaN' AS DOUBLE)", "CAST('-0.0' AS DOUBLE)"
INF, NEG_INF = "CAST('Infinity' AS DOUBLE)", "CAST('-Infinity' AS DOUBLE)"


def _d_rows(*values: str) -> str:
    rows = ", ".join(f"({i}, 'a', {i}, {d}, NULL, NULL, NULL)" for i, d in enumerate(values))
    return f"INSERT INTO t1 VALUES {rows}"


REGRESSIONS = {
    # Batch lowering of VALUES cast a column of only NULLs to type NULL (a DuckDB syntax error).
    "all_null_insert": (
        q("r", "SELECT k, v + 1 AS a FROM t1"),
        ["INSERT INTO t1 VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL)"],
    ),
    # The SUM/AVG accumulator filled NULL decimals with an int64 zero cast to DECIMAL(10,2).
    "avg_of_null_decimal": (
        q("r", "SELECT g, avg(m) AS am, sum(m) AS sm FROM t1 GROUP BY g"),
        ["INSERT INTO t1 VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL)"],
    ),
    # NaN never equalled the stored NaN group key, so its retraction opened a new group.
    "nan_group_retraction": (
        q("r", "SELECT d, count(*) AS n FROM t1 GROUP BY d"),
        [_d_rows(NAN, NAN), "DELETE FROM t1 WHERE k = 0"],
    ),
    # Native comparisons used IEEE rules: DuckDB's NaN equals NaN and is above every number.
    "nan_comparisons": (
        q("r", "SELECT k, d > 1 AS gt, d = d AS eq, d < 0 AS lt FROM t1 WHERE d >= 2"),
        [_d_rows(NAN, INF, "1.0")],
    ),
    # -0.0 and 0.0 went to two groups (one slot written twice), two DISTINCT rows, no join match.
    "negative_zero_is_zero": (
        q("r", "SELECT d, count(*) AS n, sum(v) AS s FROM t1 GROUP BY d"),
        [_d_rows(NEG_ZERO, "0.0"), "DELETE FROM t1 WHERE k = 1"],
    ),
    "negative_zero_distinct": (q("r", "SELECT DISTINCT d FROM t1"), [_d_rows(NEG_ZERO, "0.0")]),
    "negative_zero_join": (
        q("r", "SELECT a.k, b.k AS k2 FROM t1 a JOIN t1 b ON a.d = b.d"),
        [_d_rows(NEG_ZERO, "0.0")],
    ),
    # A float sum kept inf - inf = NaN after the infinity was deleted.
    "retracted_infinity": (
        q("r", "SELECT g, sum(d) AS s, avg(d) AS a FROM t1 GROUP BY g", approx=True),
        [
            _d_rows(INF, "1.0", NEG_INF, NAN),
            "DELETE FROM t1 WHERE k = 3",
            "DELETE FROM t1 WHERE k = 0",
            "UPDATE t1 SET d = 2.0 WHERE k = 2",
        ],
    ),
    # Correlated NOT IN was refused; it is an anti join that also matches NULLs on either side.
    "correlated_not_in_nulls": (
        q(
            "r",
            "SELECT k, v FROM t1 WHERE v NOT IN (SELECT x FROM t3 WHERE t3.k = t1.k)",
            tables="t1 t3",
        ),
        [
            "INSERT INTO t1 (k, g, v) VALUES (1, 'a', 1), (2, 'a', NULL), (3, 'a', 3), (4, 'a', 4)",
            "INSERT INTO t3 VALUES (1, 'a', 2), (2, 'a', 5), (3, 'a', NULL), (3, 'a', 1)",
            "DELETE FROM t3 WHERE x IS NULL",
        ],
    ),
    # A FULL JOIN ... USING put the merged key last (x, y, k); it comes first (k, x, y).
    "full_join_using_star": (
        q("r", "SELECT * FROM t1 FULL JOIN t2 USING (k)", tables="t1 t2"),
        [
            "INSERT INTO t1 (k, g, v) VALUES (1, 'a', 1), (2, 'b', NULL), (NULL, 'c', 3)",
            "INSERT INTO t2 VALUES (2, 'x', 5), (3, 'y', 6), (NULL, 'z', 7)",
            "DELETE FROM t1 WHERE k = 2",
        ],
    ),
    # A named window (WINDOW w AS ..., OVER w) was ignored: every rank was 1.
    "named_window": (
        q(
            "r",
            "SELECT g, v, rank() OVER w AS r FROM t1 WINDOW w AS (PARTITION BY g ORDER BY v DESC)",
        ),
        [
            "INSERT INTO t1 (k, g, v) VALUES (1, 'a', 1), (2, 'a', 2), (3, 'b', 3), (4, 'a', NULL)",
            "UPDATE t1 SET v = 5 WHERE k = 1",
        ],
    ),
    # BY NAME was dropped: the columns were matched by position.
    "union_all_by_name": (
        q("r", "SELECT k, v FROM t1 UNION ALL BY NAME SELECT x AS v, k FROM t3", tables="t1 t3"),
        ["INSERT INTO t1 (k, v) VALUES (1, 10), (2, 20)", "INSERT INTO t3 VALUES (3, 'a', 30)"],
    ),
}


@pytest.mark.parametrize("name", REGRESSIONS)
def test_regression(name):
    query, statements = REGRESSIONS[name]
    for view_at in (0, len(statements)):  # maintained from the start, and backfilled at the end
        run_scenario(query, Scenario(tuple(statements), 0, view_at))
