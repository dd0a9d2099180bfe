"""Schema changes keep every view equal to DuckDB: CREATE OR REPLACE VIEW and ALTER TABLE in
the middle of a stream of inserts, updates and deletes, with views reading what changes.

A chain over t1: ``m`` (materialized, grouped), ``pv`` (plain, over m) and ``top`` (materialized,
over pv). At drawn ticks ``m`` and ``pv`` are replaced by other queries of the same columns; the
reference replaces its views the same way, and every view is compared after every tick.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidal.sql.errors import SqlError
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


ADDED = "ALTER TABLE t2 ADD COLUMN extra INTEGER DEFAULT 3"
OVER_ADDED = "SELECT extra, count(*) AS n, sum(w) AS s FROM t2 GROUP BY extra"
GROUPED = "SELECT name, sum(w) AS s, count(*) AS n FROM t2 GROUP BY name"
BY_KEY = "SELECT k, name FROM t2 WHERE k > 1"


def _after_adding(statement: str) -> str:
    """A change written for t2's first columns, for the table with ``extra`` added."""
    return statement.replace("INSERT INTO t2 VALUES", "INSERT INTO t2 (k, name, w) VALUES")


@PROFILE
@given(data=st.data())
def test_added_column_keeps_views_equal_to_duckdb(data):
    """ADD COLUMN with a DEFAULT under views that existed before it, a view over the new
    column after it, updates of the new column, and refused DROP/RENAME COLUMN of a column a
    view uses, in the middle of a stream of changes."""
    statements = [data.draw(inserts("t2"))] + data.draw(
        st.lists(
            st.one_of(changes("t2"), st.sampled_from(["UPDATE t2 SET extra = extra + 1"])),
            min_size=2,
            max_size=7,
        ),
        label="changes",
    )
    views_at = data.draw(st.integers(0, len(statements)), label="views_at")
    added_at = data.draw(st.integers(0, len(statements)), label="added_at")
    session = Session(("t2",))
    added = False
    try:
        for position, statement in enumerate([*statements, None]):
            if position == views_at:
                session.create_view("grouped", GROUPED, True, approx=False)
                session.create_view("by_key", BY_KEY, False, approx=False)
                session.check(f"after creating the views at tick {position}")
            if position == added_at:
                session.both(ADDED)
                added = True
                session.create_view("over_added", OVER_ADDED, True, approx=False)
                session.check(f"after adding the column at tick {position}")
                for refused in ("DROP COLUMN name", "RENAME COLUMN w TO weight"):
                    if position >= views_at:
                        with pytest.raises(SqlError) as error:
                            session.db.execute(f"ALTER TABLE t2 {refused}")
                        assert error.value.sqlstate == "2BP01"
                session.check(f"after refused changes at tick {position}")
            if statement is None or ("extra" in statement and not added):
                continue
            session.both(_after_adding(statement) if added else statement)
            session.check(f"after tick {position + 1}: {statement}")
    finally:
        session.close()
