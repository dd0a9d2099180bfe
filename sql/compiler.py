"""The compiler's one entry: a parsed statement and the catalog give a plan ready to run.

Every road from SQL to a plan goes through ``Compiler``: materialized views and sinks (with
plain views inlined where they are read), EXPLAIN, ad hoc queries, and the rows an INSERT,
UPDATE or DELETE changes (tidal.sql.dml). ``query`` binds (tidal.sql.binder) and then runs the
rewrite rules (tidal.sql.rules), so what EXPLAIN shows is what runs.

    >>> from tidal.catalog import Catalog, Column, Table
    >>> from tidal.sql.parser import parse_statement
    >>> catalog = Catalog()
    >>> catalog.add(Table("t", (Column("k", "VARCHAR"), Column("v", "INTEGER"))))
    >>> compiled = Compiler(catalog).query(parse_statement("SELECT k FROM t WHERE v > 1"))
    >>> compiled.plan.names, compiled.referenced
    (['k'], ('t',))
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from tidal.catalog import Catalog, types
from tidal.catalog.objects import Column, Function, View
from tidal.catalog.sqlstate import DUPLICATE_COLUMN, SYNTAX_ERROR, TOO_MANY_COLUMNS
from tidal.sql import clauses, dml, functions
from tidal.sql.binder import Binder
from tidal.sql.dialect import Tidal
from tidal.sql.errors import SqlError, unsupported
from tidal.sql.limits import check_type_depth
from tidal.sql.plan import Plan
from tidal.sql.rules import optimize
from tidal.sql.typeinfer import TypeInference


@dataclass(frozen=True)
class CompiledQuery:
    """A query's plan, and the catalog objects it reads (what a view built on it depends on)."""

    plan: Plan
    referenced: tuple[str, ...]


class Compiler:
    """Compiles statements against ``catalog``. Not thread-safe: one statement at a time."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.infer = TypeInference()
        self._binder = Binder(catalog, self.infer)

    def query(self, query: exp.Expression, *, ad_hoc: bool = True) -> CompiledQuery:
        """The plan of a SELECT, set operation or VALUES. ``ad_hoc`` keeps ORDER BY and LIMIT
        as Sort and Limit; in a view, ORDER BY ... LIMIT becomes a TopN and ORDER BY alone is
        dropped."""
        clauses.check(query, type(self._binder))
        _check_column_count(len(query.expressions) if isinstance(query, exp.Select) else 0)
        plan = self._binder.bind_query(query, ad_hoc=ad_hoc)
        _check_column_count(len(plan.schema))  # SELECT * expanded
        for field in plan.schema:
            check_type_depth(field.name, field.type)
        referenced = tuple(sorted(self._binder.referenced))
        return CompiledQuery(optimize(plan, self.infer), referenced)

    def view(self, create: exp.Create, name: str, materialized: bool) -> tuple[View, Plan]:
        """The catalog object of ``CREATE [MATERIALIZED] VIEW name AS query`` and its plan."""
        query = create.expression
        compiled = self.query(query, ad_hoc=False)
        if materialized:
            self.catalog.refuse_maintaining(compiled.referenced, f"materialized view {name!r}")
        columns = tuple(Column(f.name, f.type) for f in compiled.plan.schema)
        _check_view_columns(name, columns)
        view = View(
            name,
            columns,
            definition=query.sql(dialect=Tidal),
            materialized=materialized,
            inputs=compiled.referenced,
        )
        return view, compiled.plan

    def change(self, statement: exp.Insert | exp.Update | exp.Delete) -> dml.Change:
        """What an INSERT, UPDATE or DELETE changes (tidal.sql.dml)."""
        return dml.plan_change(statement, self.catalog, lambda q: self.query(q).plan)

    def function(self, create: exp.Create) -> Function:
        """The catalog object of a CREATE FUNCTION, its body checked against its signature."""
        return functions.function(create, self.catalog, self.infer)


def _check_view_columns(name: str, columns: tuple[Column, ...]) -> None:
    """Every column of a view has a name of its own and a type tidal can store."""
    names = [c.name for c in columns]
    for column in columns:
        if names.count(column.name) > 1:
            raise SqlError(
                f"column {column.name!r} appears more than once in view {name!r}: give the "
                "columns distinct names with AS",
                sqlstate=DUPLICATE_COLUMN,
            )
        if column.name == "?column?":
            raise SqlError(
                f"a column of view {name!r} has no name: give each expression a name with AS",
                sqlstate=SYNTAX_ERROR,
            )
        try:
            types.to_arrow(column.type)
            storable = True
        except types.TypeError_:
            storable = False
        if not storable:
            raise unsupported(
                f"column {column.name!r} of view {name!r} has type {column.type}, "
                "which tidal cannot store yet"
            )


# PostgreSQL's limit: a row description counts its columns in 16 bits, and its planner stops at
# this many target list entries.
MAX_COLUMNS = 1664


def _check_column_count(count: int) -> None:
    """Refuse a select list past ``MAX_COLUMNS`` before binding it would take long."""
    if count > MAX_COLUMNS:
        raise SqlError(
            f"target lists can have at most {MAX_COLUMNS} entries (this one has {count:,})",
            sqlstate=TOO_MANY_COLUMNS,
        )
