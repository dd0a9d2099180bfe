"""ASOF joins, maintained incrementally, equal DuckDB's ASOF JOIN after every tick.

Where right rows tie on the keys and the time, DuckDB picks any of them, so these queries read
only what every tied row agrees on (the keys, the time, aggregates of them); which row tidal
picks (the least by the other columns, in both modes) is tested in tests/sql/test_asof_joins.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .harness import run_scenario
from .profiles import PROFILE
from .queries import q
from .schema import scenarios

ASOF_JOINS = [
    q(
        "asof_ge",
        "SELECT t1.k, t1.v, t3.x FROM t1 ASOF JOIN t3 ON t1.k = t3.k AND t1.v >= t3.x",
        tables="t1 t3",
    ),
    q(
        "asof_left_gt",
        "SELECT t1.k, t1.v, t3.k AS k3, t3.x FROM t1 ASOF LEFT JOIN t3 "
        "ON t1.k = t3.k AND t1.v > t3.x",
        tables="t1 t3",
    ),
    q(
        "asof_left_le_flipped",
        "SELECT t1.g, t1.v, t3.x FROM t1 ASOF LEFT JOIN t3 ON t3.g = t1.g AND t3.x >= t1.v",
        tables="t1 t3",
    ),
    q(
        "asof_lt_without_keys",
        "SELECT t1.v, t2.w FROM t1 ASOF JOIN t2 ON t1.v < t2.w",
        tables="t1 t2",
    ),
    q(
        "asof_timestamps",
        "SELECT a.k, a.ts, b.ts AS prev FROM t1 a ASOF LEFT JOIN t1 b ON a.k = b.k AND a.ts > b.ts",
    ),
    q(
        "asof_aggregated",
        "SELECT t1.k, count(*) AS n, count(t3.x) AS matched, sum(t3.x) AS sx "
        "FROM t1 ASOF LEFT JOIN t3 ON t1.k = t3.k AND t1.v >= t3.x GROUP BY t1.k",
        tables="t1 t3",
    ),
    q(
        "asof_expressions_and_casts",
        "SELECT t1.k, t1.d, t2.w FROM t1 ASOF LEFT JOIN t2 ON t1.k + 1 = t2.k AND t1.d >= t2.w",
        tables="t1 t2",
    ),
    q(
        "asof_special_floats",
        "SELECT a.g, a.d, b.d AS bd FROM t1 a ASOF LEFT JOIN t1 b ON a.g = b.g AND a.d >= b.d",
        special_floats=True,
    ),
    q(
        "asof_using",
        "SELECT k, g, v FROM t1 ASOF JOIN t3 USING (k, g)",
        tables="t1 t3",
    ),
    q(
        "asof_subquery_right",
        "SELECT t1.k, t1.v, s.x FROM t1 ASOF LEFT JOIN (SELECT k, x FROM t3 WHERE x > 0) s "
        "ON t1.k = s.k AND t1.v <= s.x",
        tables="t1 t3",
    ),
    q(
        "asof_plain_view",
        "SELECT t1.k, t1.v, t3.x FROM t1 ASOF JOIN t3 ON t1.k = t3.k AND t1.v < t3.x",
        tables="t1 t3",
        materialized=False,
    ),
]


@pytest.mark.parametrize("query", ASOF_JOINS, ids=[q.name for q in ASOF_JOINS])
@PROFILE
@given(data=st.data())
def test_asof_join_equals_duckdb(query, data):
    scenario = data.draw(scenarios(query.tables, query.special_floats), label="scenario")
    run_scenario(query, scenario)
