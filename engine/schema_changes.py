"""Changing what exists: CREATE OR REPLACE VIEW and the ALTER statements.

A change is checked whole before anything moves, and applied all or nothing. Views that read a
changed relation must keep meaning what they meant: a change that would alter the columns they
read is refused (2BP01) naming them, as is a change under a sink (it has written rows already).
Materialized views downstream of a replaced view are recompiled from their definitions and
backfilled again, so each holds what its query answers over the new definition.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pyarrow as pa
from sqlglot import exp

from tidal.catalog import Catalog
from tidal.catalog.objects import Sink, Table, View
from tidal.catalog.sqlstate import (
    DEPENDENT_OBJECTS_STILL_EXIST,
    DUPLICATE_COLUMN,
    DUPLICATE_TABLE,
    INVALID_OBJECT_DEFINITION,
    NOT_NULL_VIOLATION,
    WRONG_OBJECT_TYPE,
)
from tidal.engine.relations import Relations
from tidal.engine.subscriptions import Feeds
from tidal.engine.zset import WEIGHT
from tidal.sql import ddl
from tidal.sql.compiler import Compiler
from tidal.sql.errors import SqlError, undefined_column, undefined_table, unsupported
from tidal.sql.parser import parse_statement
from tidal.sql.plan import Plan

# ALTER MATERIALIZED VIEW | SOURCE | SINK [IF EXISTS] name RENAME TO name: sqlglot keeps these
# as raw commands (ALTER TABLE and ALTER VIEW it parses).
_NAME = r'("(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
_RENAME_COMMAND = re.compile(
    rf"(?is)^\s*(MATERIALIZED\s+VIEW|SOURCE|SINK)\s+(IF\s+EXISTS\s+)?{_NAME}\s+RENAME\s+TO\s+"
    rf"{_NAME}\s*;?\s*$"
)


class SchemaChanges:
    """CREATE OR REPLACE VIEW and ALTER, over the catalog and the relation registry (hold the
    engine's lock)."""

    def __init__(
        self,
        compiler: Compiler,
        relations: Relations,
        feeds: Feeds,
        query: Callable[[str], pa.Table],
    ) -> None:
        self.compiler = compiler
        self.catalog: Catalog = compiler.catalog
        self.relations = relations
        self.feeds = feeds
        self.query = query  # runs an ad hoc query (a DEFAULT's value)

    # --- CREATE OR REPLACE VIEW ---------------------------------------------------------------------

    def replace_view(self, create: exp.Create, old: View, materialized: bool) -> str:
        """Replace view ``old`` by ``create``'s query (same kind, no cycle, and the same
        columns while others read it); the view and what reads it are backfilled anew."""
        kind = "MATERIALIZED VIEW" if materialized else "VIEW"
        if old.materialized != materialized:
            raise SqlError(
                f"{old.name!r} is a {old.kind}: use CREATE OR REPLACE {old.kind.upper()}",
                sqlstate=WRONG_OBJECT_TYPE,
            )
        view, plan = self.compiler.view(create, old.name, materialized)
        downstream = self.downstream(old.name)
        reads_itself = [n for n in view.inputs if n.lower() in _names([old, *downstream])]
        if reads_itself:
            raise SqlError(
                f"view {old.name!r} cannot read {reads_itself[0]!r}, which reads {old.name!r}",
                sqlstate=INVALID_OBJECT_DEFINITION,
            )
        if downstream and _shape(view) != _shape(old):
            raise _dependents_error(
                f"cannot change the columns of {old.kind} {old.name!r}", downstream
            )
        _refuse_sinks(old, downstream)
        self._install([view], downstream, {old.name.lower(): plan})
        return f"CREATE {kind}"

    # --- ALTER ----------------------------------------------------------------------------------------

    def alter(self, statement: exp.Alter) -> str:
        """ALTER TABLE | VIEW: one action (ADD COLUMN, DROP COLUMN, RENAME COLUMN, RENAME TO)."""
        kind = (statement.args.get("kind") or "").upper()
        for arg in ("options", "cluster", "not_valid", "check", "cascade", "iceberg"):
            if statement.args.get(arg):
                raise unsupported(f"ALTER {kind} with {arg.upper().replace('_', ' ')}")
        actions = statement.args.get("actions") or []
        if len(actions) != 1:
            raise unsupported("several actions in one ALTER: write one ALTER per change")
        obj = self._altered(kind, statement.this.name, bool(statement.args.get("exists")))
        if obj is None:
            return f"ALTER {kind}"
        action = actions[0]
        if isinstance(action, exp.AlterRename):
            return self.rename(obj, kind, action.this.name)
        if (
            not isinstance(obj, Table)
            or not isinstance(action, (exp.ColumnDef, exp.Drop, exp.RenameColumn))
            or (
                isinstance(action, exp.Drop) and (action.args.get("kind") or "").upper() != "COLUMN"
            )
        ):
            raise unsupported(f"ALTER {kind} ... {action.sql(dialect='tidal')[:60]}")
        _check_alterable(obj, self.relations)
        if isinstance(action, exp.ColumnDef):
            self._add_column(obj, action)
        elif isinstance(action, exp.Drop):
            self._drop_column(obj, action)
        else:
            self._rename_column(obj, action)
        return "ALTER TABLE"

    def alter_command(self, rest: str) -> str | None:
        """``ALTER MATERIALIZED VIEW | SOURCE | SINK ... RENAME TO``, which sqlglot keeps as a
        command's text ``rest``; None for other commands."""
        match = _RENAME_COMMAND.match(rest)
        if match is None:
            return None
        kind = " ".join(match.group(1).upper().split())
        obj = self._altered(kind, _unquoted(match.group(3)), bool(match.group(2)))
        return self.rename(obj, kind, _unquoted(match.group(4))) if obj else f"ALTER {kind}"

    def _altered(self, kind: str, name: str, if_exists: bool) -> Table | View | Sink | None:
        obj = self.catalog.find(name)
        if obj is None:
            if if_exists:
                return None
            raise undefined_table(f"{kind.lower()} {name!r} does not exist")
        if obj.kind.upper() != kind:
            raise SqlError(
                f"{obj.name!r} is a {obj.kind}, not a {kind.lower()}: use ALTER {obj.kind.upper()}",
                sqlstate=WRONG_OBJECT_TYPE,
            )
        return obj

    def rename(self, obj: Table | View | Sink, kind: str, new_name: str) -> str:
        """RENAME TO: refused while others read the object (their definitions name it)."""
        if new_name in self.catalog:
            raise SqlError(f"relation {new_name!r} already exists", sqlstate=DUPLICATE_TABLE)
        readers = self.catalog.dependents(obj.name)
        if readers:
            raise _dependents_error(f"cannot rename {obj.kind} {obj.name!r}", readers)
        if not isinstance(obj, (View, Sink)):
            _check_alterable(obj, self.relations)
        renamed = dataclasses.replace(obj, name=new_name)
        if isinstance(obj, Table) and obj.primary_key:  # the key's index keeps its name
            renamed = dataclasses.replace(renamed, key_constraint=obj.constraint)
        self.catalog.remove(obj.name)
        self.catalog.add(renamed)
        self.relations.rename(obj.name, renamed)
        self.feeds.end(obj.name.lower(), f"relation {obj.name} was renamed to {new_name}")
        return f"ALTER {kind}"

    def _add_column(self, table: Table, action: exp.ColumnDef) -> None:
        column, default = ddl.added_column(action)
        if column.name.lower() in _lower_names(table):
            if action.args.get("exists"):
                return
            raise SqlError(
                f"column {column.name!r} of table {table.name!r} already exists",
                sqlstate=DUPLICATE_COLUMN,
            )
        rows = self.relations.changes_of(table.name.lower())
        count = rows.num_rows
        if default is None:
            if not column.nullable and count:
                raise SqlError(
                    f"column {column.name!r} of table {table.name!r} contains null values: give "
                    "it a DEFAULT",
                    sqlstate=NOT_NULL_VIOLATION,
                )
            values = pa.nulls(count, column.arrow_type)
        else:
            value = self.query(f"SELECT CAST({column.default} AS {column.type})").column(0)[0]
            if not column.nullable and not value.is_valid:
                raise SqlError(
                    f"column {column.name!r} of table {table.name!r} cannot default to NULL: "
                    "it is NOT NULL",
                    sqlstate=NOT_NULL_VIOLATION,
                )
            values = pa.array([value.as_py()] * count, column.arrow_type)
        width = len(table.columns)
        rows = rows.add_column(width, f"c{width}", values)
        self._reshape(dataclasses.replace(table, columns=(*table.columns, column)), rows, None)

    def _drop_column(self, table: Table, action: exp.Drop) -> None:
        if action.args.get("cascade"):
            raise unsupported("DROP COLUMN ... CASCADE: drop the views that use it first")
        name = action.args["tables"][0].name
        position = _position(table, name)
        if position is None:
            if action.args.get("exists"):
                return
            raise undefined_column(f"column {name!r} of table {table.name!r} does not exist")
        if name.lower() in (k.lower() for k in table.primary_key):
            raise SqlError(
                f"cannot drop column {name!r}: it is in the primary key of table {table.name!r}",
                sqlstate=DEPENDENT_OBJECTS_STILL_EXIST,
            )
        if len(table.columns) == 1:
            raise unsupported(f"dropping the only column of table {table.name!r}")
        rows = self.relations.changes_of(table.name.lower()).remove_column(position)
        rows = rows.rename_columns([*(f"c{i}" for i in range(rows.num_columns - 1)), WEIGHT])
        columns = tuple(c for i, c in enumerate(table.columns) if i != position)
        self._reshape(dataclasses.replace(table, columns=columns), rows, ("drop", name))

    def _rename_column(self, table: Table, action: exp.RenameColumn) -> None:
        old, new = action.this.name, action.args["to"].name
        position = _position(table, old)
        if position is None:
            if action.args.get("exists"):
                return
            raise undefined_column(f"column {old!r} of table {table.name!r} does not exist")
        if new.lower() in _lower_names(table):
            raise SqlError(
                f"column {new!r} of table {table.name!r} already exists", sqlstate=DUPLICATE_COLUMN
            )
        columns = list(table.columns)
        columns[position] = dataclasses.replace(columns[position], name=new)
        key = tuple(new if k.lower() == old.lower() else k for k in table.primary_key)
        renamed = dataclasses.replace(table, columns=tuple(columns), primary_key=key)
        rows = self.relations.changes_of(table.name.lower())
        self._reshape(renamed, rows, ("rename", old))

    def _reshape(self, table: Table, rows: pa.Table, change: tuple[str, str] | None) -> None:
        """Give the table its new columns and ``rows``, and rebuild what reads it; refused
        while a sink reads it, or a view uses the column ``change`` (verb, column) changes
        (by name or ``*``)."""
        downstream = self.downstream(table.name)
        _refuse_sinks(table, downstream)
        if change is not None:
            verb, column = change
            users = [v for v in self.catalog.dependents(table.name) if _uses(v, column.lower())]
            if users:
                raise _dependents_error(
                    f"cannot {verb} column {column!r} of table {table.name!r}", users
                )
        old = self.relations.reshape_table(table, rows)
        try:
            self._install([table], downstream, {})
        except BaseException:
            self.relations.put_back(old)
            raise
        self.feeds.end(table.name.lower(), f"table {table.name} was altered")

    # --- shared ------------------------------------------------------------------------------------

    def downstream(self, name: str) -> list[View | Sink]:
        """What reads ``name``, directly or through others, in creation order."""
        found: set[str] = set()
        pending = [name]
        while pending:
            for obj in self.catalog.dependents(pending.pop()):
                if obj.name.lower() not in found:
                    found.add(obj.name.lower())
                    pending.append(obj.name)
        return [o for o in self.catalog.objects() if o.name.lower() in found]

    def _install(
        self, changed: list, downstream: list[View | Sink], plans: dict[str, Plan]
    ) -> None:
        """Put the ``changed`` catalog objects in place (with ``plans`` for materialized views
        among them) and rebuild the materialized views of ``downstream``: compiled and
        backfilled anew. On an error everything is as it was."""
        before = {o.name.lower(): self.catalog.find(o.name) for o in changed}
        try:
            for obj in changed:
                self.catalog.add(obj, replace=True)
            rebuilt = []
            for obj in [*changed, *downstream]:
                if isinstance(obj, View) and obj.materialized:
                    plan = plans.get(obj.name.lower()) or self._recompiled(obj)
                    rebuilt.append((obj, plan))
                elif isinstance(obj, View):  # a plain view: still the same columns?
                    self._recompiled(obj)
            self.relations.rebuild_views(rebuilt)
        except BaseException:
            for key, obj in before.items():
                if obj is None:
                    self.catalog.remove(key)
                else:
                    self.catalog.add(obj, replace=True)
            raise
        for view, _ in rebuilt:
            self.feeds.end(view.name.lower(), f"relation {view.name} was redefined")

    def _recompiled(self, view: View) -> Plan:
        """A view's plan compiled again from its definition (with the same columns)."""
        try:
            compiled = self.compiler.query(parse_statement(view.definition), ad_hoc=False)
        except SqlError as error:
            raise _dependents_error(f"a view that reads it would fail ({error})", [view]) from None
        if [(f.name, f.type) for f in compiled.plan.schema] != _shape(view):
            raise _dependents_error("the columns of a view that reads it would change", [view])
        return compiled.plan


def _check_alterable(relation: Table, relations: Relations) -> None:
    """Event time keeps a relation's name and column positions: such relations stay as
    created."""
    late_of = [
        name
        for name, event_time in relations.watermarks.relations.items()
        if (event_time.late_table or "").lower() == relation.name.lower()
    ]
    if getattr(relation, "watermark", None) is not None or late_of:
        raise unsupported(
            f"ALTER of {relation.kind} {relation.name!r}, which has a watermark or keeps late "
            "rows: drop it and create it again"
        )


def _position(table: Table, name: str) -> int | None:
    names = _lower_names(table)
    return names.index(name.lower()) if name.lower() in names else None


def _lower_names(table: Table) -> list[str]:
    return [c.name.lower() for c in table.columns]


def _uses(view, column: str) -> bool:
    """Whether a view's definition names ``column`` (of any relation) or reads ``*``."""
    if not isinstance(view, View):
        return True
    tree = parse_statement(view.definition)
    return any(isinstance(n, exp.Star) for n in tree.walk()) or any(
        c.name.lower() == column for c in tree.find_all(exp.Column)
    )


def _unquoted(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def _names(objects: list) -> set[str]:
    return {o.name.lower() for o in objects}


def _shape(view: View) -> list[tuple[str, str]]:
    return [(c.name, c.type) for c in view.columns]


def _refuse_sinks(changed, downstream: list) -> None:
    sinks = [o for o in downstream if isinstance(o, Sink)]
    if sinks:
        raise _dependents_error(
            f"cannot change {changed.kind} {changed.name!r} under a sink, which has written "
            "its rows already",
            sinks,
        )


def _dependents_error(what: str, dependents: list) -> SqlError:
    names = ", ".join(f"{o.kind} {o.name}" for o in dependents)
    return SqlError(
        f"{what}: {names} depend(s) on it; drop those first (DROP ... CASCADE)",
        sqlstate=DEPENDENT_OBJECTS_STILL_EXIST,
    )
