"""Views over keyed tables equal DuckDB's after every upsert, update and delete.

tidal follows PostgreSQL's key rules and DuckDB enforces the same key, so both must accept or
refuse each statement alike, and then hold the same rows. One difference is allowed: an ON
CONFLICT DO UPDATE (or INSERT OR REPLACE) that meets one key twice is PostgreSQL's 21000 in
tidal, where DuckDB keeps the first row; DuckDB's change is then rolled back. And an UPDATE that
moves keys is checked at the end of the statement in tidal, as the SQL standard says, where
DuckDB checks row by row (``SET a = a + 1`` over a = 1, 2 fails or not by the rows' order); the
reference then applies it as a delete and an insert of the updated rows. Every view whose plan
has a unique key (tidal.sql.changes.unique_key) must also hold each key once.
"""

from __future__ import annotations

import duckdb
import pytest
import sqlglot
from hypothesis import given
from hypothesis import strategies as st
from sqlglot import exp

from tidal.catalog.sqlstate import TidalError
from tidal.sql.changes import unique_key

from .harness import Session
from .keys import KEYED_TABLES, KEYED_VIEWS, keyed_scenarios
from .profiles import PROFILE


@pytest.mark.parametrize("view", list(KEYED_VIEWS))
@PROFILE
@given(data=st.data())
def test_view_over_keyed_tables_equals_duckdb(view, data):
    statements, view_at = data.draw(keyed_scenarios(), label="scenario")
    session = Session(())
    try:
        for ddl in KEYED_TABLES.values():
            session.both(ddl)
        session.tables = tuple(KEYED_TABLES)
        for position, statement in enumerate([*statements, None]):
            if position == view_at:
                session.create_view(view, KEYED_VIEWS[view], True, approx=False)
                session.check(f"after creating the view at tick {position}")
            if statement is not None:
                _apply(session, statement)
                session.check(f"after tick {position + 1}: {statement}")
            if position >= view_at:
                _check_unique_key(session, view)
    finally:
        session.close()


def _apply(session: Session, statement: str) -> None:
    """Run ``statement`` on both; they must agree on whether it fails (but for 21000)."""
    try:
        session.db.execute(statement)
        refused = None
    except TidalError as error:
        refused = error
    reference = session.reference.connection
    reference.execute("BEGIN")
    try:
        for one in _as_postgresql_runs_it(statement):
            reference.execute(one)
    except duckdb.Error as error:
        reference.execute("ROLLBACK")
        if refused is None and isinstance(error, duckdb.ConstraintException):
            _update_at_statement_end(reference, statement)
            return
        assert refused is not None, f"DuckDB refused {statement!r} ({error}); tidal ran it"
        return
    reference.execute("ROLLBACK" if refused is not None else "COMMIT")
    assert refused is None or refused.sqlstate == "21000", (
        f"tidal refused {statement!r} ({refused.sqlstate}: {refused}); DuckDB ran it"
    )


def _as_postgresql_runs_it(statement: str) -> list[str]:
    """``INSERT ... ON CONFLICT DO UPDATE`` of several rows as one statement per row:
    PostgreSQL proposes the rows in turn, each seeing what the ones before did (a row whose
    WHERE failed left the existing row for a later one to update), where DuckDB keeps the
    first row of a key in silence. (A row affected twice is 21000 in tidal, and not compared.)"""
    insert = sqlglot.parse_one(statement, dialect="duckdb")
    values = insert.expression if isinstance(insert, exp.Insert) else None
    conflict = insert.args.get("conflict") if isinstance(insert, exp.Insert) else None
    if (
        not isinstance(values, exp.Values)
        or conflict is None
        or not conflict.args.get("expressions")
    ):
        return [statement]
    runs = []
    for row in values.expressions:
        one = insert.copy()
        one.set("expression", exp.Values(expressions=[row.copy()]))
        runs.append(one.sql(dialect="duckdb"))
    return runs


def _update_at_statement_end(reference, statement: str) -> None:
    """Apply ``UPDATE t SET ... WHERE ...`` to DuckDB with its keys checked once, at the end:
    the updated rows are computed, deleted and inserted again. It must then succeed."""
    update = sqlglot.parse_one(statement, dialect="duckdb")
    assert isinstance(update, exp.Update), f"DuckDB refused {statement!r}; tidal ran it"
    table = update.this.name
    where = update.args.get("where")
    condition = where.this.sql("duckdb") if where else "true"
    assigned = {e.this.name.lower(): e.expression.sql("duckdb") for e in update.expressions}
    names = [row[0] for row in reference.execute(f"DESCRIBE {table}").fetchall()]
    values = ", ".join(f'{assigned.get(n.lower(), n)} AS "{n}"' for n in names)
    reference.execute("BEGIN")
    reference.execute(f"CREATE TEMP TABLE moved AS SELECT {values} FROM {table} WHERE {condition}")
    reference.execute(f"DELETE FROM {table} WHERE {condition}")
    reference.execute(f"INSERT INTO {table} SELECT * FROM moved")
    reference.execute("DROP TABLE moved")
    reference.execute("COMMIT")


def _check_unique_key(session: Session, view: str) -> None:
    key = unique_key(session.db.view_plan(view))
    rows = session.db.read(view)
    if key and rows.num_rows:
        keys = (
            rows.select(key).group_by(rows.select(key).column_names).aggregate([([], "count_all")])
        )
        assert keys.num_rows == rows.num_rows, f"view {view}: its key {key} repeats: {rows}"
