"""Bugs the random query generator found, each minimized to a small query and data.

Every test asserts the right answer (the view equals DuckDB's after every tick, generator_run.py)
and is marked ``xfail(strict=True)`` until the bug is fixed: then it passes, strict xfail fails
the suite, and whoever fixed it removes the mark (and the case numbers it names from ``KNOWN`` in
test_generated_queries.py). benchmarks/RESULTS.md lists them with tidal's and DuckDB's answers.
"""

from __future__ import annotations

import pytest

from .generator_run import Case, run


def assert_identical(tables: list[str], query: str, statements: list[str], view_at: int) -> None:
    """The view of ``query`` created before ``statements[view_at]`` equals DuckDB's throughout."""
    outcome = run(Case("finding", tuple(tables), query, tuple(statements), view_at))
    assert outcome.kind == "identical", f"{outcome.kind}: {outcome.reason}\n{outcome.detail}"


@pytest.mark.xfail(
    strict=True,
    reason="engine/arrangement.py _fixed_width_bits casts date32 straight to int64, which "
    "Arrow cannot: ArrowNotImplementedError for every DATE key (GROUP BY, join, DISTINCT, "
    "PARTITION BY, set operations)",
)
@pytest.mark.parametrize(
    "query",
    [
        "SELECT d, count(*) AS n FROM t GROUP BY d",
        "SELECT a.k AS k FROM t AS a JOIN t AS b ON a.d = b.d",
        "SELECT DISTINCT d FROM t",
    ],
    ids=["group_by", "join", "distinct"],
)
def test_date_key(query):
    tables = ["CREATE TABLE t (k INTEGER, d DATE)"]
    assert_identical(tables, query, ["INSERT INTO t VALUES (1, DATE '2024-01-01')"], 0)


@pytest.mark.xfail(
    strict=True,
    reason="after an outer JOIN ... USING (k), a qualified a.k or b.k reads the merged column "
    "(COALESCE of both sides) instead of that side's own k, NULL where it has no match",
)
@pytest.mark.parametrize("join", ["FULL", "LEFT", "RIGHT"])
def test_qualified_column_of_outer_join_using(join):
    tables = ["CREATE TABLE a (k INTEGER)", "CREATE TABLE b (k INTEGER)"]
    data = ["INSERT INTO a VALUES (1), (2)", "INSERT INTO b VALUES (2), (3)"]
    query = f"SELECT a.k AS ak, b.k AS bk FROM a {join} JOIN b USING (k)"
    assert_identical(tables, query, data, 2)
