"""SELECT DISTINCT ON, maintained incrementally, equals DuckDB after every tick (inserts, updates,
deletes; views created before, between and after the changes).

Every ORDER BY here decides the row up to rows that give the same output, so DuckDB's choice
among tied rows and tidal's (by the row's other columns) give the same result.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .harness import run_scenario
from .profiles import PROFILE
from .queries import q
from .schema import scenarios

DISTINCT_ON = [
    q(
        "distinct_on",
        "SELECT DISTINCT ON (g) g, k, v FROM t1 ORDER BY g, v DESC NULLS LAST, k",
    ),
    q(
        "distinct_on_expressions",  # two expressions, led by the ORDER BY in another order
        "SELECT DISTINCT ON (k % 2, b) k % 2 AS parity, b, d FROM t1 "
        "ORDER BY b, k % 2, d NULLS FIRST",
    ),
    q(
        "distinct_on_hidden_order",  # the row is picked by a column not selected
        "SELECT DISTINCT ON (g) g, v FROM t1 ORDER BY g, ts DESC, v",
    ),
    q(
        "distinct_on_grouped",
        "SELECT DISTINCT ON (g) g, k, count(*) AS n FROM t1 GROUP BY g, k "
        "ORDER BY g, count(*) DESC, k",
    ),
    q(
        "distinct_on_top_n",
        "SELECT DISTINCT ON (k) k, g, m FROM t1 ORDER BY k, m, g LIMIT 3",
    ),
    q(
        "distinct_on_join",
        "SELECT DISTINCT ON (t2.name) t2.name, t1.v, t2.w FROM t1 JOIN t2 ON t1.k = t2.k "
        "ORDER BY t2.name, t1.v DESC, t2.w",
        tables="t1 t2",
    ),
    q(
        "distinct_on_keys_only",  # nothing else selected: no ORDER BY needed
        "SELECT DISTINCT ON (g, b) g, b FROM t1",
    ),
    q(
        "distinct_on_plain_view",
        "SELECT DISTINCT ON (b) b, v, k FROM t1 WHERE k > 0 ORDER BY b, v, k",
        materialized=False,
    ),
]


@pytest.mark.parametrize("query", DISTINCT_ON, ids=[q.name for q in DISTINCT_ON])
@PROFILE
@given(data=st.data())
def test_distinct_on_view_equals_duckdb(query, data):
    scenario = data.draw(scenarios(query.tables, query.special_floats), label="scenario")
    run_scenario(query, scenario)
