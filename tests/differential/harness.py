"""Running a scenario against tidal and DuckDB side by side, checking every view after every tick.

For each view the check is threefold: tidal's incrementally maintained rows, DuckDB running the
view's original SQL over the accumulated tables, and DuckDB running tidal's own lowering of the
view's plan (``tidal.sql.lower.to_sql``, batch mode) must be the same multiset of rows, under
the same column names and types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from tidal.engine import Database
from tidal.sql.lower import quote, to_sql
from tidal.sql.parser import parse_statement

from .queries import Helper, Query
from .reference import Reference, assert_same_rows
from .schema import TABLES, Scenario


@dataclass
class _View:
    name: str
    sql: str
    materialized: bool
    approx: bool
    lowered: list[str]  # tidal's batch lowerings of the view's plan (bound, and as maintained)


class Session:
    """A tidal database and its DuckDB reference, holding the same tables."""

    def __init__(self, tables: tuple[str, ...]) -> None:
        self.db = Database()
        self.reference = Reference()
        self.tables = tables
        self.views: list[_View] = []
        for table in tables:
            self.both(TABLES[table])

    def both(self, sql: str) -> None:
        """Run a statement on tidal, then on DuckDB."""
        self.db.execute(sql)
        self.reference.execute(sql)

    def create_view(
        self, name: str, sql: str, materialized: bool, approx: bool, reference: str | None = None
    ) -> None:
        """The view on both sides (the reference's spelled ``reference``, if given)."""
        kind = "MATERIALIZED VIEW" if materialized else "VIEW"
        self.db.execute(f"CREATE {kind} {name} AS {sql}")
        self.reference.create_view(name, reference or sql)
        plans = [self.db.compiler.query(parse_statement(sql), ad_hoc=False).plan]
        if materialized:
            plans.append(self.db.view_plan(name))
        lowered = list(dict.fromkeys(to_sql(p, lambda scan: quote(scan.relation)) for p in plans))
        self.views.append(_View(name, sql, materialized, approx, lowered))

    def play(self, statements: list[str], views_at: int, create_views: Callable[[], None]) -> None:
        """Run ``statements`` one tick each on both sides, creating the views (``create_views``)
        before statement ``views_at`` (after the last if it is ``len(statements)``), and check
        every table and view after each step."""
        for position, statement in enumerate([*statements, None]):
            if position == views_at:
                create_views()
                self.check(f"after creating the views at tick {position}")
            if statement is not None:
                self.both(statement)
                self.check(f"after tick {position + 1}: {statement}")

    def check(self, when: str) -> None:
        """Every table and view of tidal equals DuckDB's."""
        for table in self.tables:
            expected, _ = self.reference.query(f"SELECT * FROM {table}")
            assert_same_rows(self.db.read(table), expected, False, f"table {table} {when}")
        for view in self.views:
            self.check_view(view, when)

    def check_view(self, view: _View, when: str) -> None:
        what = f"view {view.name} {when}"
        expected, expected_types = self.reference.query(f"SELECT * FROM {view.name}")
        actual = (
            self.db.read(view.name)
            if view.materialized
            else self.db.execute(f"SELECT * FROM {view.name}")
        )
        columns = self.db.catalog.get(view.name).columns
        assert [c.name for c in columns] == expected.column_names, f"{what}: column names"
        assert [c.type for c in columns] == expected_types, f"{what}: column types"
        assert actual.column_names == expected.column_names, f"{what}: result column names"
        assert_same_rows(actual, expected, view.approx, what)
        for sql in view.lowered:
            batch = self.reference.connection.sql(sql).to_arrow_table()
            assert_same_rows(batch, expected, view.approx, f"{what}, batch lowering {sql}")

    def contents(self) -> dict[str, pa.Table]:
        """Every table's and view's rows as tidal holds them now."""
        names = list(self.tables) + [v.name for v in self.views]
        return {name: self._read(name) for name in names}

    def _read(self, name: str) -> pa.Table:
        view = next((v for v in self.views if v.name == name), None)
        if view is None or view.materialized:
            return self.db.read(name)
        return self.db.execute(f"SELECT * FROM {name}")

    def close(self) -> None:
        self.db.close()
        self.reference.close()


def run_scenario(query: Query, scenario: Scenario) -> None:
    """Apply the scenario's statements one tick at a time, checking after each one."""
    session = Session(query.tables)
    try:
        statements = list(scenario.statements) + [None]
        for position, statement in enumerate(statements):
            if position == scenario.helpers_at and query.helpers:
                for helper in query.helpers:
                    _create_helper(session, helper)
                session.check(f"after creating helper views at tick {position}")
            if position == scenario.view_at:
                session.create_view("v", query.sql, query.materialized, query.approx, query.duckdb)
                session.check(f"after creating the view at tick {position}")
            if statement is not None:
                session.both(statement)
                session.check(f"after tick {position + 1}: {statement}")
    finally:
        session.close()


def _create_helper(session: Session, helper: Helper) -> None:
    session.create_view(helper.name, helper.sql, helper.materialized, approx=False)
