"""Name resolution: which input column a SQL column reference means."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlglot import exp

from tidal.catalog.sqlstate import AMBIGUOUS_COLUMN, UNDEFINED_TABLE
from tidal.sql.errors import SqlError, undefined_column

if TYPE_CHECKING:
    from tidal.sql.plan import Plan


@dataclass(frozen=True)
class ScopeColumn:
    """A column visible to expressions: qualified by ``tables`` (the aliases that reach it)."""

    name: str
    type: str
    tables: tuple[str, ...] = ()
    hidden: bool = False  # helper columns the binder adds; never expanded by ``*``
    # A side's column that ``JOIN ... USING`` merged: ``a.k`` and ``a.*`` reach it, a bare
    # ``k`` and ``*`` mean the merged column instead.
    qualified_only: bool = False


@dataclass
class Scope:
    """The columns of the plan being bound (in its output order) and the enclosing scope."""

    columns: list[ScopeColumn] = field(default_factory=list)
    outer: Scope | None = None

    def resolve(self, column: exp.Column) -> int | None:
        """The position ``column`` names here (None if nothing); an error if it is ambiguous.
        A three-part name ``t.s.a`` names no column (it may be a field of one, nested.py)."""
        if column.args.get("db"):
            return None
        name = column.name.lower()
        table = column.table.lower() if column.table else None
        matches = [
            i
            for i, c in enumerate(self.columns)
            if c.name.lower() == name
            and (table in c.tables if table is not None else not c.qualified_only)
        ]
        if len(matches) > 1:
            visible = [i for i in matches if not self.columns[i].hidden]
            if len(visible) == 1:
                return visible[0]
            raise SqlError(
                f"column reference {column.sql()!r} is ambiguous: qualify it with a table "
                "name or alias",
                sqlstate=AMBIGUOUS_COLUMN,
            )
        return matches[0] if matches else None

    def knows_table(self, table: str) -> bool:
        return any(table.lower() in c.tables for c in self.columns)

    def missing(self, column: exp.Column) -> SqlError:
        import difflib

        if (
            column.table
            and not self.knows_table(column.table)
            and not (self.outer and self.outer.knows_table(column.table))
        ):
            return SqlError(
                f"missing FROM-clause entry for table {column.table!r}", sqlstate=UNDEFINED_TABLE
            )
        names = sorted({c.name for c in self.columns if not c.hidden})
        close = difflib.get_close_matches(column.name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; available: {', '.join(names)}"
        return undefined_column(f"column {column.sql()!r} does not exist{hint}")

    def star(self, table: str | None = None) -> list[int]:
        """The positions ``*`` or ``table.*`` expands to."""
        positions = [
            i
            for i, c in enumerate(self.columns)
            if not c.hidden
            and (table.lower() in c.tables if table is not None else not c.qualified_only)
        ]
        if table is not None and not positions:
            raise SqlError(
                f"missing FROM-clause entry for table {table!r}", sqlstate=UNDEFINED_TABLE
            )
        return positions

    def display(self, index: int) -> str:
        return self.columns[index].name

    def concat(self, other: Scope) -> Scope:
        return Scope(self.columns + other.columns, self.outer)

    def requalified(self, alias: str) -> Scope:
        """The same columns, reachable only as ``alias.name`` (a subquery or view in FROM)."""
        return Scope(
            [
                ScopeColumn(c.name, c.type, (alias.lower(),), c.hidden, c.qualified_only)
                for c in self.columns
            ],
            self.outer,
        )


class PositionalColumn(exp.Column):
    """A column reference already resolved to position ``c<index>`` of the plan being bound."""

    @classmethod
    def at(cls, index: int) -> PositionalColumn:
        return cls(this=exp.to_identifier(f"c{index}", quoted=True))

    @property
    def position(self) -> int:
        return int(self.name[1:])


@dataclass
class Frame:
    """The plan built so far for one SELECT, and the scope its expressions are bound in."""

    plan: Plan
    scope: Scope
    ctes: dict[str, tuple[Plan, Scope]] = field(default_factory=dict)
    subqueries_allowed: bool = True

    def append(self, plan: Plan, columns: list[ScopeColumn]) -> None:
        self.plan = plan
        self.scope = Scope(self.scope.columns + columns, self.scope.outer)
