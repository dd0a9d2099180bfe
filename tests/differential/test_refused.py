"""Queries tidal cannot maintain correctly are refused (SQLSTATE 0A000), never run wrong."""

from __future__ import annotations

import pytest

from tidal.engine import Database
from tidal.sql.errors import SqlError

from .schema import TABLES

REFUSED = {
    "exists_under_or": (
        "SELECT k FROM t1 WHERE EXISTS (SELECT 1 FROM t2 WHERE t2.k = t1.k) OR v > 5"
    ),
    "in_subquery_in_select": "SELECT k, v IN (SELECT w FROM t2) AS i FROM t1",
    "correlated_exists_aggregate": "SELECT k FROM t1 WHERE EXISTS (SELECT max(w) FROM t2 "
    "WHERE t2.k = t1.k GROUP BY name)",
    "correlated_scalar_inequality": "SELECT k, (SELECT max(w) FROM t2 WHERE t2.k > t1.k) AS m "
    "FROM t1",
    "limit_without_order": "SELECT k FROM t1 LIMIT 3",
    "recursive_temporal_filter": "WITH RECURSIVE r(k) AS (SELECT k FROM t1 WHERE ts > now() - "
    "INTERVAL '1 hour' UNION SELECT k + 1 FROM r WHERE k < 3) SELECT k FROM r",
    "rollup_of_scalar_subquery": "SELECT (SELECT max(w) FROM t2) AS m, count(*) AS n FROM t1 "
    "GROUP BY ROLLUP (1)",
    "distinct_on_without_order": "SELECT DISTINCT ON (g) g, v FROM t1 ORDER BY g",
    "order_dependent_aggregate": "SELECT g, string_agg(g, ',') AS s FROM t1 GROUP BY g",
    "unordered_array_agg": "SELECT k, array_agg(v) AS a FROM t1 GROUP BY k",
    "mode_without_order": "SELECT k, mode(v) AS m FROM t1 GROUP BY k",
    "column_separator": "SELECT k, string_agg(g, g ORDER BY g) AS s FROM t1 GROUP BY k",
    "distinct_ordered_by_other": "SELECT string_agg(DISTINCT g, ',' ORDER BY v) AS s FROM t1",
    "fraction_out_of_range": "SELECT percentile_cont(2) WITHIN GROUP (ORDER BY v) AS p FROM t1",
    "fraction_not_constant": "SELECT percentile_disc(v) WITHIN GROUP (ORDER BY v) AS p FROM t1",
    "order_in_sum": "SELECT sum(v ORDER BY k) AS s FROM t1",
    "ordered_aggregate_over_window": "SELECT k, string_agg(g, ',' ORDER BY g) OVER "
    "(PARTITION BY k) AS s FROM t1",
    "unknown_aggregate": "SELECT g, kurtosis(v) AS ku FROM t1 GROUP BY g",
    "unknown_global_aggregate": "SELECT product(d) AS p FROM t1",
    "arbitrary_aggregate": "SELECT g, any_value(v) AS a FROM t1 GROUP BY g",
    "random": "SELECT k, random() AS r FROM t1",
    "now": "SELECT k, now() AS t FROM t1",
    "current_date_in_filter": "SELECT k FROM t1 WHERE ts > current_date",
}


@pytest.mark.parametrize("sql", REFUSED.values(), ids=REFUSED.keys())
def test_materialized_view_is_refused(sql):
    db = Database()
    db.execute(TABLES["t1"])
    db.execute(TABLES["t2"])
    with pytest.raises(SqlError, match="not supported") as error:
        db.execute(f"CREATE MATERIALIZED VIEW v AS {sql}")
    assert error.value.sqlstate == "0A000"
    assert db.catalog.find("v") is None


def test_volatile_function_is_refused_through_a_plain_view():
    db = Database()
    db.execute(TABLES["t1"])
    db.execute("CREATE VIEW stamped AS SELECT k, now() AS t FROM t1")
    with pytest.raises(SqlError, match="not supported") as error:
        db.execute("CREATE MATERIALIZED VIEW v AS SELECT k FROM stamped")
    assert error.value.sqlstate == "0A000"
