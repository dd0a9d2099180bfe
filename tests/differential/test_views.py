"""Every query of the corpus, maintained incrementally, equals DuckDB after every tick.

One test per query (a failure names it); hypothesis draws the changes (inserts with repeated
rows, updates, deletes, one statement per tick) and when the views are created.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .harness import run_scenario
from .profiles import PROFILE
from .queries import QUERIES as CORPUS
from .queries import Query
from .queries_from import FROM_FUNCTIONS, LATERAL_SUBQUERIES
from .schema import scenarios

QUERIES = CORPUS + FROM_FUNCTIONS + LATERAL_SUBQUERIES


def _is_slow(query: Query) -> bool:
    """Views on views, three-table joins and decorrelated subqueries build the most operators."""
    return (
        bool(query.helpers)
        or len(query.tables) > 2
        or query.name.startswith(("scalar_", "not_in", "not_exists"))
    )


@pytest.mark.parametrize(
    "query",
    [pytest.param(q, marks=pytest.mark.slow) if _is_slow(q) else q for q in QUERIES],
    ids=[q.name for q in QUERIES],
)
@PROFILE
@given(data=st.data())
def test_view_equals_duckdb(query, data):
    scenario = data.draw(scenarios(query.tables, query.special_floats), label="scenario")
    run_scenario(query, scenario)


def test_corpus_names_are_unique():
    names = [q.name for q in QUERIES]
    assert len(names) == len(set(names))
