"""Schema changes keep every view equal to DuckDB: CREATE OR REPLACE VIEW in the middle of a
stream of inserts, updates and deletes, with views reading the replaced one.

A chain over t1: ``m`` (materialized, grouped), ``pv`` (plain, over m) and ``top`` (materialized,
over pv). At drawn ticks ``m`` and ``pv`` are replaced by other queries of the same columns; the
reference replaces its views the same way, and every view is compared after every tick.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tidal.sql.lower import quote, to_sql
from tidal.sql.parser import parse_statement

from .harness import Session
from .profiles import PROFILE
from .schema import changes, inserts

M = [
    "SELECT g, sum(v) AS s, count(*) AS n FROM t1 GROUP BY g",
    "SELECT g, sum(v * 2) AS s, count(k) AS n FROM t1 WHERE k > 0 GROUP BY g",
    "SELECT g, CAST(max(v) AS HUGEINT) AS s, count(DISTINCT k) AS n FROM t1 GROUP BY g",
]
PV = [
    "SELECT g, s, n FROM m WHERE n > 0",
    "SELECT g, s, n FROM m WHERE s > 1",
    "SELECT upper(g) AS g, s, n + 1 AS n FROM m",
]
TOP = "SELECT count(*) AS groups, sum(s) AS total, max(n) AS most FROM pv"


def replace(session: Session, name: str, sql: str) -> None:
    """``CREATE OR REPLACE`` on both sides, and the harness's record of the view."""
    view = next(v for v in session.views if v.name == name)
    kind = "MATERIALIZED VIEW" if view.materialized else "VIEW"
    session.db.execute(f"CREATE OR REPLACE {kind} {name} AS {sql}")
    session.reference.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
    view.sql = sql
    for other in session.views:  # the materialized views downstream were compiled again
        plans = [session.db.compiler.query(parse_statement(other.sql), ad_hoc=False).plan]
        if other.materialized:
            plans.append(session.db.view_plan(other.name))
        other.lowered = list(dict.fromkeys(to_sql(p, lambda s: quote(s.relation)) for p in plans))


@PROFILE
@given(data=st.data())
def test_replaced_views_equal_duckdb_after_every_tick(data):
    statements = [data.draw(inserts("t1"))] + data.draw(
        st.lists(changes("t1"), min_size=2, max_size=7), label="changes"
    )
    views_at = data.draw(st.integers(0, len(statements)), label="views_at")
    replacements = data.draw(
        st.lists(
            st.tuples(
                st.integers(views_at, len(statements)),
                st.sampled_from([("m", q) for q in M] + [("pv", q) for q in PV]),
            ),
            min_size=1,
            max_size=3,
        ),
        label="replacements",
    )
    session = Session(("t1",))
    try:
        for position, statement in enumerate([*statements, None]):
            if position == views_at:
                session.create_view("m", M[0], True, approx=False)
                session.create_view("pv", PV[0], False, approx=False)
                session.create_view("top", TOP, True, approx=False)
                session.check(f"after creating the views at tick {position}")
            for at, (name, sql) in replacements:
                if at == position:
                    replace(session, name, sql)
                    session.check(f"after replacing {name} at tick {position}: {sql}")
            if statement is not None:
                session.both(statement)
                session.check(f"after tick {position + 1}: {statement}")
    finally:
        session.close()
