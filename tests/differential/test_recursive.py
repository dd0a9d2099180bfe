"""WITH RECURSIVE views equal DuckDB's after every tick of random edge inserts, updates and
deletes over a small graph (five nodes, so cycles, self-loops and duplicate edges are common),
each view created before, between or after the changes.

The views cover both semantics and both of the operator's paths: UNION over steps that only
grow with their inputs (semi-naive on insertions), UNION over an anti join or an aggregate
(recomputed), UNION ALL bounded by a depth (recomputed; multiplicities count paths).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .harness import Session
from .profiles import PROFILE

EDGES = "CREATE TABLE edges (src INTEGER, dst INTEGER, w VARCHAR)"

_REACH = (
    "WITH RECURSIVE reach(src, dst) AS (SELECT src, dst FROM edges UNION "
    "SELECT r.src, e.dst FROM reach r JOIN edges e ON r.dst = e.src) "
)

VIEWS = {
    "closure": _REACH + "SELECT * FROM reach",
    "closure_counts": _REACH + "SELECT src, count(*) AS n FROM reach GROUP BY src",
    "closure_filtered": (
        "WITH RECURSIVE reach(node) AS (SELECT dst FROM edges WHERE src = 1 UNION "
        "SELECT e.dst FROM reach r, edges e WHERE r.node = e.src AND e.w <> 'x') "
        "SELECT node FROM reach"
    ),
    "walk_depth_set": (
        "WITH RECURSIVE walk(node, depth) AS (SELECT 1, 0 UNION SELECT e.dst, w.depth + 1 "
        "FROM walk w JOIN edges e ON w.node = e.src WHERE w.depth < 5) SELECT * FROM walk"
    ),
    "paths_bag": (
        "WITH RECURSIVE walk(node, depth) AS (SELECT 1, 0 UNION ALL SELECT e.dst, w.depth + 1 "
        "FROM walk w JOIN edges e ON w.node = e.src WHERE w.depth < 4) "
        "SELECT node, depth, count(*) AS paths FROM walk GROUP BY node, depth"
    ),
    "labels_bag": (
        "WITH RECURSIVE h(node, path) AS (SELECT src, CAST(src AS VARCHAR) FROM edges "
        "WHERE w = 'a' UNION ALL SELECT e.dst, h.path || '/' || e.w FROM h JOIN edges e "
        "ON h.node = e.src WHERE length(h.path) < 7) SELECT * FROM h"
    ),
    "avoiding": (  # an anti join in the step: insertions can remove rows
        "WITH RECURSIVE reach(node) AS (SELECT 1 UNION SELECT e.dst FROM reach r JOIN edges e "
        "ON r.node = e.src WHERE e.dst NOT IN (SELECT src FROM edges WHERE w = 'x')) "
        "SELECT node FROM reach"
    ),
    "series_to_count": (  # an aggregate beside the recursive reference
        "WITH RECURSIVE t(n) AS (SELECT 0 UNION SELECT n + 1 FROM t "
        "WHERE n < (SELECT count(*) FROM edges)) SELECT n FROM t"
    ),
    "series_bag": (
        "WITH RECURSIVE t(n) AS (SELECT src FROM edges UNION ALL SELECT n + 1 FROM t "
        "WHERE n < 6) SELECT n, count(*) AS c FROM t GROUP BY n"
    ),
    "two_recursions": (
        _REACH + ", back(dst, src) AS (SELECT dst, src FROM reach WHERE src = 1 UNION "
        "SELECT b.dst, e.src FROM back b JOIN edges e ON b.src = e.dst) SELECT * FROM back"
    ),
}

_NODE = st.one_of(st.integers(1, 5), st.integers(1, 5), st.just(None)).map(
    lambda n: "NULL" if n is None else str(n)
)
_LABEL = st.sampled_from(["'a'", "'b'", "'x'", "NULL"])
_INSERT = st.lists(st.tuples(_NODE, _NODE, _LABEL), min_size=1, max_size=4).map(
    lambda rows: "INSERT INTO edges VALUES " + ", ".join(f"({a}, {b}, {w})" for a, b, w in rows)
)
_DELETE_EDGE = st.tuples(_NODE, _NODE).map(
    lambda e: f"DELETE FROM edges WHERE src = {e[0]} AND dst = {e[1]}"
)
_DELETE_FROM = _NODE.map(lambda n: f"DELETE FROM edges WHERE src = {n}")
_UPDATE = st.tuples(_NODE, _LABEL, _NODE).map(
    lambda u: f"UPDATE edges SET w = {u[1]} WHERE src = {u[0]} OR dst = {u[2]}"
)
_STATEMENT = st.one_of(_INSERT, _INSERT, _INSERT, _DELETE_EDGE, _DELETE_FROM, _UPDATE)


@st.composite
def scenarios(draw):
    statements = draw(st.lists(_STATEMENT, min_size=1, max_size=8))
    return statements, draw(st.integers(0, len(statements)))


@pytest.mark.parametrize("view", list(VIEWS))
@PROFILE
@given(data=st.data())
def test_recursive_view_equals_duckdb(view, data):
    statements, view_at = data.draw(scenarios(), label="scenario")
    session = Session(())
    try:
        session.both(EDGES)
        session.tables = ("edges",)

        def create_views() -> None:
            session.create_view(view, VIEWS[view], True, approx=False)
            session.create_view(f"{view}_plain", VIEWS[view], False, approx=False)

        session.play(statements, view_at, create_views)
    finally:
        session.close()


@pytest.mark.parametrize("view", ["closure", "walk_depth_set", "avoiding"])
def test_insertions_into_a_cycle_then_deleting_it(view):
    """A fixed scenario: a chain grows into a cycle one edge at a time (semi-naive where the
    step only grows), then the cycle is cut and the chain removed (recomputed)."""
    session = Session(())
    try:
        session.both(EDGES)
        session.tables = ("edges",)
        session.create_view(view, VIEWS[view], True, approx=False)
        for statement in [
            "INSERT INTO edges VALUES (1, 2, 'a')",
            "INSERT INTO edges VALUES (2, 3, 'a')",
            "INSERT INTO edges VALUES (3, 1, 'a'), (3, 4, 'b')",
            "INSERT INTO edges VALUES (4, 4, 'x')",
            "INSERT INTO edges VALUES (2, 3, 'a')",
            "DELETE FROM edges WHERE src = 3 AND dst = 1",
            "INSERT INTO edges VALUES (5, 1, 'x')",
            "DELETE FROM edges WHERE src = 2",
        ]:
            session.both(statement)
            session.check(f"after {statement}")
    finally:
        session.close()
