"""GROUPING SETS, ROLLUP, CUBE and grouping(), maintained incrementally, equal DuckDB after every
tick (inserts, updates, deletes; views created before, between and after the changes).

Kept apart from the corpus (queries.py) but run by the same harness. Rows of a rollup are
identified by (grouping(...), keys), so ORDER BY ... LIMIT over those is deterministic.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .harness import run_scenario
from .profiles import PROFILE
from .queries import Helper, q
from .schema import scenarios

GROUPING = [
    q(
        "rollup",
        "SELECT g, k, count(*) AS n, sum(v) AS s, min(m) AS mn, grouping(g, k) AS gk "
        "FROM t1 GROUP BY ROLLUP(g, k)",
    ),
    q(
        "cube",
        "SELECT g, b, count(DISTINCT k) AS nk, max(d) AS mx, bool_or(v > 1) AS big, "
        "grouping(b) AS gb, count(v) FILTER (WHERE k > 1) AS nf FROM t1 GROUP BY CUBE(g, b)",
    ),
    q(
        "grouping_sets_mixed",  # a plain key crossed with sets, an expression key, HAVING
        "SELECT g, v % 2 AS parity, count(*) AS n, grouping(g, v % 2) AS gp FROM t1 "
        "GROUP BY g, GROUPING SETS ((v % 2), (), (k)) "
        "HAVING count(*) > 1 OR grouping(v % 2) = 1",
    ),
    q(
        "having_key_beside_aggregate",  # typed over the groups (it failed in DuckDB's typing)
        "SELECT g, k, count(*) AS n FROM t1 GROUP BY g, ROLLUP(k) HAVING k < count(*) OR g IS NULL",
    ),
    q(
        "grand_totals",  # an empty set gives its row over no input too; repeats are kept
        "SELECT g, count(*) AS n, sum(v) AS s, sum(m) AS sm FROM t1 "
        "GROUP BY GROUPING SETS ((), (g), (), (g))",
    ),
    q(
        "rollup_no_aggregates",
        "SELECT k, g FROM t1 GROUP BY ROLLUP(k, g)",
    ),
    q(
        "rollup_top_n",
        "SELECT g, k, sum(v) AS s FROM t1 GROUP BY ROLLUP(g, k) "
        "ORDER BY grouping(g, k) DESC, s DESC NULLS LAST, g, k LIMIT 4",
    ),
    q(
        "rollup_ordered_aggregates",
        "SELECT g, string_agg(CAST(v AS VARCHAR), ',' ORDER BY v DESC, k) AS sv, "
        "var_pop(v) AS vp, percentile_disc(0.5) WITHIN GROUP (ORDER BY k) AS pk "
        "FROM t1 GROUP BY ROLLUP(g)",
        approx=True,
    ),
    q(
        "cube_of_join",
        "SELECT t2.name, t1.b, count(*) AS n, sum(t2.w) AS sw FROM t1 JOIN t2 ON t1.k = t2.k "
        "GROUP BY CUBE(t2.name, t1.b)",
        tables="t1 t2",
    ),
    q(
        "rollup_window",
        "SELECT g, count(*) AS n, rank() OVER (PARTITION BY grouping(g) ORDER BY g) AS r "
        "FROM t1 GROUP BY ROLLUP(g)",
    ),
    q(
        "rollup_of_view",
        "SELECT g, sum(s) AS total, grouping(g) AS gg FROM base GROUP BY ROLLUP(g)",
        helpers=(Helper("base", "SELECT g, k, sum(v) AS s FROM t1 GROUP BY g, k"),),
    ),
    q(
        "rollup_plain_view",
        "SELECT k, g, count(*) AS n FROM t1 WHERE v > 0 GROUP BY ROLLUP(k), CUBE(g)",
        materialized=False,
    ),
]

# Scalar subqueries in HAVING and in a grouped select list, joined onto the groups.
GROUPED_SUBQUERIES = [
    q(
        "having_correlated_scalar",
        "SELECT g, sum(v) AS s FROM t1 GROUP BY g "
        "HAVING sum(v) > (SELECT min(x) FROM t3 WHERE t3.g = t1.g)",
        tables="t1 t3",
    ),
    q(
        "having_uncorrelated_scalar",
        "SELECT k, count(*) AS n FROM t1 GROUP BY k HAVING count(*) * 2 >= (SELECT count(*) FROM t2)",
        tables="t1 t2",
    ),
    q(
        "grouped_select_correlated_scalars",  # one per key and one on both keys
        "SELECT g, k, count(*) AS n, (SELECT sum(x) FROM t3 WHERE t3.g = t1.g) AS sx, "
        "(SELECT count(*) FROM t3 WHERE t3.g = t1.g AND t3.k = t1.k) + count(*) AS c "
        "FROM t1 GROUP BY g, k",
        tables="t1 t3",
    ),
    q(
        "rollup_correlated_scalars",  # the key is NULL in the total's row
        "SELECT g, count(*) AS n, (SELECT count(*) FROM t3 WHERE t3.g = t1.g) AS c FROM t1 "
        "GROUP BY ROLLUP(g) HAVING (SELECT max(x) FROM t3 WHERE t3.g = t1.g) > 0 "
        "OR grouping(g) = 1",
        tables="t1 t3",
    ),
]
GROUPING += GROUPED_SUBQUERIES


@pytest.mark.parametrize("query", GROUPING, ids=[q.name for q in GROUPING])
@PROFILE
@given(data=st.data())
def test_grouping_view_equals_duckdb(query, data):
    scenario = data.draw(scenarios(query.tables, query.special_floats), label="scenario")
    run_scenario(query, scenario)
