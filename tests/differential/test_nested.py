"""Views over tables with list, STRUCT and MAP columns equal DuckDB's after every insert,
update and delete, the view created before, between or after the changes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .harness import Session
from .nested import NESTED_TABLES, NESTED_VIEWS, nested_scenarios
from .profiles import PROFILE


@pytest.mark.parametrize("view", list(NESTED_VIEWS))
@PROFILE
@given(data=st.data())
def test_view_over_nested_columns_equals_duckdb(view, data):
    statements, view_at = data.draw(nested_scenarios(), label="scenario")
    materialized = data.draw(st.booleans(), label="materialized")
    session = Session(())
    try:
        for ddl in NESTED_TABLES.values():
            session.both(ddl)
        session.tables = tuple(NESTED_TABLES)
        session.play(
            statements,
            view_at,
            lambda: session.create_view(view, NESTED_VIEWS[view], materialized, approx=False),
        )
    finally:
        session.close()
