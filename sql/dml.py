"""INSERT, UPDATE and DELETE as plans: which table changes, and a plan of the rows that change.

An INSERT's rows are its query's, cast to the target columns' types (columns it does not list
are NULL); a DELETE's are the target's rows that its WHERE selects; an UPDATE's are those rows
twice over, as they are and as SET makes them (the old columns, then the new ones). The engine
runs the plan and applies the rows with weight +1 (INSERT), -1 (DELETE), or -1 for the old and
+1 for the new (UPDATE).

    >>> from tidal.catalog import Catalog, Column, Table
    >>> from tidal.sql.compiler import Compiler
    >>> from tidal.sql.parser import parse_statement
    >>> catalog = Catalog()
    >>> catalog.add(Table("t", (Column("k", "VARCHAR"), Column("v", "INTEGER"))))
    >>> change = Compiler(catalog).change(parse_statement("UPDATE t SET v = v + 1 WHERE k = 'a'"))
    >>> change.kind, change.plan.names
    ('UPDATE', ['k', 'v', 'k', 'v'])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from tidal.catalog import Catalog, CatalogError, Table
from tidal.catalog.sqlstate import (
    FEATURE_NOT_SUPPORTED,
    SYNTAX_ERROR,
    UNDEFINED_COLUMN,
    WRONG_OBJECT_TYPE,
)
from tidal.sql.errors import SqlError, undefined_table, unsupported
from tidal.sql.plan import Field, Plan, Project, cast, ref

Bind = Callable[[exp.Expression], Plan]  # an ad hoc query's plan (the compiler's)


@dataclass(frozen=True)
class Change:
    """The rows a DML statement changes in ``table``: ``kind`` is INSERT, UPDATE or DELETE (the
    command tag's verb), ``plan`` computes the rows (for UPDATE: old columns, then new)."""

    table: Table
    kind: str
    plan: Plan


def plan_change(statement: exp.Expression, catalog: Catalog, bind: Bind) -> Change:
    if isinstance(statement, exp.Insert):
        return _insert(statement, catalog, bind)
    if isinstance(statement, exp.Delete):
        return _delete(statement, catalog, bind)
    if isinstance(statement, exp.Update):
        return _update(statement, catalog, bind)
    raise unsupported(f"{statement.key.upper()} as a change to a table")


def _target(catalog: Catalog, statement: exp.Expression) -> Table:
    if statement.args.get("returning"):
        raise unsupported(f"{statement.key.upper()} ... RETURNING: query the table afterwards")
    node = statement.this
    table = node.this if isinstance(node, exp.Schema) else node
    try:
        target = catalog.get(table.name)
    except CatalogError as error:
        raise undefined_table(str(error)) from None
    if not isinstance(target, Table):
        raise SqlError(
            f"cannot change {target.kind} {target.name!r}: only tables accept INSERT, "
            "UPDATE and DELETE",
            sqlstate=WRONG_OBJECT_TYPE,
        )
    return target


def _insert(insert: exp.Insert, catalog: Catalog, bind: Bind) -> Change:
    target = _target(catalog, insert)
    names = [c.name for c in target.columns]
    if isinstance(insert.this, exp.Schema):
        listed = [i.name for i in insert.this.expressions]
        for column in listed:
            if column.lower() not in [n.lower() for n in names]:
                raise SqlError(
                    f"column {column!r} of table {target.name!r} does not exist",
                    sqlstate=UNDEFINED_COLUMN,
                )
    else:
        listed = names
    query = insert.expression
    if isinstance(query, exp.Values):
        column_types = {c.name.lower(): c.type for c in target.columns}
        query = _coerced_values(query, [column_types[n.lower()] for n in listed])
    source = bind(query)
    if len(source.schema) != len(listed):
        raise SqlError(
            f"INSERT has {len(source.schema)} expressions but {len(listed)} target columns",
            sqlstate=SYNTAX_ERROR,
        )
    position = {n.lower(): i for i, n in enumerate(listed)}
    exprs = []
    for column in target.columns:
        index = position.get(column.name.lower())
        value = ref(index) if index is not None else exp.Null()
        exprs.append(cast(value, column.type))
    fields = tuple(Field(c.name, c.type) for c in target.columns)
    return Change(target, "INSERT", Project(source, tuple(exprs), fields))


def _coerced_values(values: exp.Values, types: list[str]) -> exp.Values:
    """INSERT's VALUES with each value cast to its target column's type, as PostgreSQL coerces
    them, so that rows may mix ``'2026-01-01'`` and ``DATE '2026-01-02'`` in one column."""
    values = values.copy()
    for row in values.expressions:
        items = row.expressions if isinstance(row, exp.Tuple) else [row]
        for item, type_name in zip(items, types):
            item.replace(cast(item.copy(), type_name))
    return values


def _append_only(target: Table, statement: str) -> None:
    if target.watermark is not None:
        raise SqlError(
            f"cannot {statement} table {target.name!r}: a table with a watermark is an event "
            "stream and accepts INSERT only",
            sqlstate=FEATURE_NOT_SUPPORTED,
        )


def _delete(delete: exp.Delete, catalog: Catalog, bind: Bind) -> Change:
    target = _target(catalog, delete)
    _append_only(target, "DELETE from")
    if delete.args.get("using"):
        raise unsupported("DELETE ... USING: use WHERE ... IN (SELECT ...)")
    select = exp.select("*").from_(delete.this.copy())
    if delete.args.get("where") is not None:
        select.set("where", delete.args["where"].copy())
    return Change(target, "DELETE", bind(select))


def _update(update: exp.Update, catalog: Catalog, bind: Bind) -> Change:
    target = _target(catalog, update)
    _append_only(target, "UPDATE")
    if update.args.get("from_"):
        raise unsupported("UPDATE ... FROM: use a subquery in SET or WHERE")
    assignments = {}
    for assignment in update.expressions:
        column = assignment.this.name.lower()
        if column not in [c.name.lower() for c in target.columns]:
            raise SqlError(
                f"column {assignment.this.name!r} of table {target.name!r} does not exist",
                sqlstate=UNDEFINED_COLUMN,
            )
        assignments[column] = assignment.expression
    items = [exp.column(c.name, quoted=True) for c in target.columns]
    for c in target.columns:
        value = assignments.get(c.name.lower(), exp.column(c.name, quoted=True))
        new_value = cast(value.copy(), c.type)
        items.append(exp.alias_(new_value, c.name, quoted=True))
    select = exp.select(*items).from_(update.this.copy())
    if update.args.get("where") is not None:
        select.set("where", update.args["where"].copy())
    return Change(target, "UPDATE", bind(select))
