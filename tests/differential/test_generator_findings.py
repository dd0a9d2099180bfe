"""Bugs the random query generator found, each minimized to a small query and data.

Every test asserts the right answer (the view equals DuckDB's after every tick, generator_run.py).
A new finding is marked ``xfail(strict=True, raises=Finding)`` while it is open (its CI-slice
cases go in ``KNOWN`` in test_generated_queries.py); the fix removes the mark, and the test stays
as the regression test. benchmarks/RESULTS.md lists them with tidal's and DuckDB's answers.
"""

from __future__ import annotations

import pytest

from .generator_run import Case, run


class Finding(AssertionError):
    """The known bug showed itself (the outcome its test expects while it is open)."""


def assert_identical(
    tables: list[str], query: str, statements: list[str], view_at: int, bug: str
) -> None:
    """The view of ``query`` created before ``statements[view_at]`` equals DuckDB's throughout.

    While the bug is open the outcome is ``bug`` (mismatched, crashed, refused): that raises
    ``Finding``, which the test's xfail expects; any other failure fails the test.
    """
    outcome = run(Case("finding", tuple(tables), query, tuple(statements), view_at))
    message = f"{outcome.kind}: {outcome.reason}\n{outcome.detail}"
    if outcome.kind == bug:
        raise Finding(message)
    assert outcome.kind == "identical", message


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
    data = ["INSERT INTO t VALUES (1, DATE '2024-01-01')"]
    assert_identical(tables, query, data, 0, bug="crashed")


@pytest.mark.parametrize("join", ["FULL", "LEFT", "RIGHT"])
def test_qualified_column_of_outer_join_using(join):
    tables = ["CREATE TABLE a (k INTEGER)", "CREATE TABLE b (k INTEGER)"]
    data = ["INSERT INTO a VALUES (1), (2)", "INSERT INTO b VALUES (2), (3)"]
    query = f"SELECT a.k AS ak, b.k AS bk FROM a {join} JOIN b USING (k)"
    assert_identical(tables, query, data, 2, bug="mismatched")


@pytest.mark.parametrize(
    "having", ["k > min(v)", "max(v) <= k", "abs(k) = min(v)"], ids=["key_first", "key_last", "f"]
)
def test_having_compares_a_key_with_an_aggregate(having):
    tables = ["CREATE TABLE t (k INTEGER, v INTEGER)"]
    data = ["INSERT INTO t VALUES (1, 0), (1, 5), (2, 3), (3, 3)"]
    query = f"SELECT k, count(*) AS n FROM t GROUP BY k HAVING {having}"
    assert_identical(tables, query, data, 0, bug="refused")


@pytest.mark.parametrize(
    "expression",
    ["TIMESTAMP '2024-02-29 10:00:00'::DATE", "DATE '2024-02-29'::VARCHAR"],
    ids=["timestamp_to_date", "date_to_varchar"],
)
def test_typed_literal_then_cast(expression):
    tables = ["CREATE TABLE t (k INTEGER)"]
    query = f"SELECT k, {expression} AS x FROM t"
    assert_identical(tables, query, ["INSERT INTO t VALUES (1)"], 0, bug="mismatched")


@pytest.mark.parametrize("having", ["count(*) > 1", "false"], ids=["count", "false"])
@pytest.mark.parametrize("view_at", [0, 2], ids=["before_data", "after_data"])
def test_correlated_count_with_having(having, view_at):
    tables = ["CREATE TABLE a (k INTEGER)", "CREATE TABLE b (k INTEGER, w INTEGER)"]
    data = ["INSERT INTO a VALUES (1), (2), (3)", "INSERT INTO b VALUES (1, 10), (2, 20), (2, 30)"]
    query = f"SELECT k, (SELECT count(*) FROM b WHERE b.k = a.k HAVING {having}) AS n FROM a"
    assert_identical(tables, query, data, view_at, bug="mismatched")


@pytest.mark.parametrize(
    "item",
    ["coalesce(sum(w), 0)", "count(*) + 1", "CASE WHEN count(*) > 0 THEN NULL ELSE 5 END"],
    ids=["coalesce", "count_plus", "null_when_matched"],
)
def test_correlated_aggregate_over_no_rows(item):
    """An outer row no group matches gets the item computed over no rows, not NULL (found with
    the HAVING finding: only a bare count was given its empty value)."""
    tables = ["CREATE TABLE a (k INTEGER)", "CREATE TABLE b (k INTEGER, w INTEGER)"]
    data = ["INSERT INTO a VALUES (1), (2), (3)", "INSERT INTO b VALUES (1, 10), (2, NULL)"]
    query = f"SELECT k, (SELECT {item} FROM b WHERE b.k = a.k) AS n FROM a"
    assert_identical(tables, query, data, 0, bug="mismatched")


def test_named_window():
    tables = ["CREATE TABLE t (g INTEGER, o INTEGER, v INTEGER)"]
    data = ["INSERT INTO t VALUES (1, 1, 10), (1, 2, 20), (1, 3, 30), (2, 1, 5), (2, 2, 6)"]
    query = (
        "SELECT g, o, nth_value(v, 2) OVER w AS x FROM t WINDOW w AS (PARTITION BY g ORDER BY o)"
    )
    assert_identical(tables, query, data, 1, bug="mismatched")
