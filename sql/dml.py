"""INSERT, UPDATE and DELETE as plans: which table changes, and a plan of the rows that change.

An INSERT's rows are its query's, cast to the target columns' types (columns it does not list
are NULL); a DELETE's are the target's rows that its WHERE selects; an UPDATE's are those rows
twice over, as they are and as SET makes them (the old columns, then the new ones). The engine
runs the plan and applies the rows with weight +1 (INSERT), -1 (DELETE), or -1 for the old and
+1 for the new (UPDATE).

An INSERT into a table with a primary key also says what a row whose key the table holds does
(``Conflict``): PostgreSQL's error, ``ON CONFLICT DO NOTHING`` (and DuckDB's ``INSERT OR
IGNORE``), ``ON CONFLICT (k) DO UPDATE SET ... [WHERE ...]`` (and ``INSERT OR REPLACE``), or,
without a clause, the table's own rule (RisingWave's ``ON CONFLICT OVERWRITE | IGNORE | DO
UPDATE IF NOT NULL``). The engine resolves conflicts and checks the key (tidal.engine.
primary_keys).

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

import sqlglot
from sqlglot import exp

from tidal.catalog import Catalog, CatalogError, Table
from tidal.catalog.objects import CONFLICT_IGNORE
from tidal.catalog.sqlstate import (
    AMBIGUOUS_COLUMN,
    DATATYPE_MISMATCH,
    FEATURE_NOT_SUPPORTED,
    INVALID_COLUMN_REFERENCE,
    SYNTAX_ERROR,
    UNDEFINED_COLUMN,
    UNDEFINED_OBJECT,
    WRONG_OBJECT_TYPE,
)
from tidal.sql.dialect import Tidal
from tidal.sql.errors import SqlError, grouping_error, undefined_table, unsupported
from tidal.sql.plan import Field, Join, Plan, Project, Scan, cast, ref

Bind = Callable[[exp.Expression], Plan]  # an ad hoc query's plan (the compiler's)


# What an INSERT does with a row whose key the table holds, besides the table's own rules
# (tidal.catalog.objects.CONFLICT_*): PostgreSQL's ON CONFLICT DO NOTHING and DO UPDATE.
DO_NOTHING = "do nothing"
DO_UPDATE = "do update"

# The relation an ON CONFLICT DO UPDATE's plan reads: each conflict as the existing row's
# columns, then the proposed (``excluded``) row's.
CONFLICTS = "__conflicts"


@dataclass(frozen=True)
class Conflict:
    """What an INSERT does with a row whose primary key the table holds: ``action`` is
    CONFLICT_ERROR (PostgreSQL's 23505), DO_NOTHING, DO_UPDATE, or a table's rule.

    For DO_UPDATE, ``update`` reads CONFLICTS and gives the updated row's columns and then
    whether to update (the WHERE); None: the proposed row replaces the existing one
    (``INSERT OR REPLACE``). ``sets_key``: SET assigns a key column."""

    action: str
    update: Plan | None = None
    sets_key: bool = False


@dataclass(frozen=True)
class Change:
    """The rows a DML statement changes in ``table``: ``kind`` is INSERT, UPDATE or DELETE (the
    command tag's verb), ``plan`` computes the rows (for UPDATE: old columns, then new).
    ``conflict``: for an INSERT into a table with a primary key, what a row whose key exists
    does."""

    table: Table
    kind: str
    plan: Plan
    conflict: Conflict | None = None


# The parts of each statement that tidal reads; anything else sqlglot parsed is refused.
_UNDERSTOOD = {
    exp.Insert: {"this", "expression", "conflict", "alternative", "with_"},
    exp.Update: {"this", "expressions", "where"},
    exp.Delete: {"this", "where"},
}


_CLAUSES = {"default": "DEFAULT VALUES (list the values)"}


def plan_change(statement: exp.Expression, catalog: Catalog, bind: Bind) -> Change:
    _refuse_unread(statement)
    if isinstance(statement, exp.Insert):
        return _insert(statement, catalog, bind)
    if isinstance(statement, exp.Delete):
        return _delete(statement, catalog, bind)
    if isinstance(statement, exp.Update):
        return _update(statement, catalog, bind)
    raise unsupported(f"{statement.key.upper()} as a change to a table")


def _refuse_unread(statement: exp.Expression) -> None:
    """A clause tidal does not read is an error naming it, never dropped in silence."""
    if statement.args.get("returning"):
        raise unsupported(f"{statement.key.upper()} ... RETURNING: query the table afterwards")
    understood = _UNDERSTOOD.get(type(statement), set())
    for name, value in statement.args.items():
        if name not in understood and value not in (None, False, [], ""):
            clause = (
                value.sql(dialect=Tidal)
                if isinstance(value, exp.Expression)
                else _CLAUSES.get(name, name.upper().replace("_", " "))
            )
            raise unsupported(f"{statement.key.upper()} ... {clause}")


def _target(catalog: Catalog, statement: exp.Expression) -> Table:
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
    if target.connector is not None:
        raise SqlError(
            f"cannot change {target.name!r}: it is fed by connector '{target.connector}'; "
            "change the rows where they come from",
            sqlstate=WRONG_OBJECT_TYPE,
        )
    for function in catalog.objects("function"):
        if (function.option("dead_letter_table") or "").lower() == target.name.lower():
            raise SqlError(
                f"cannot change {target.name!r}: it holds the dead letters of function "
                f"{function.name}, which follow the views' input (a letter leaves when its "
                "input row is deleted or fixed)",
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
    if insert.args.get("with_"):
        query = query.copy()
        query.set("with_", insert.args["with_"].copy())
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
        value = ref(index) if index is not None else _default(column)
        exprs.append(cast(value, column.type))
    fields = tuple(Field(c.name, c.type) for c in target.columns)
    plan = Project(source, tuple(exprs), fields)
    return Change(target, "INSERT", plan, _conflict(insert, target, bind))


def _default(column) -> exp.Expression:
    """What an INSERT that omits ``column`` gives it: its DEFAULT, else NULL."""
    if column.default is None:
        return exp.Null()
    return sqlglot.parse_one(column.default, read=Tidal)


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
    if target.inserts_only:
        what = "an APPEND ONLY table" if target.append_only else "a table with a watermark"
        raise SqlError(
            f"cannot {statement} table {target.name!r}: {what} is an event stream and accepts "
            "INSERT only",
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


# --- INSERT ... ON CONFLICT -------------------------------------------------------------------

_NO_MATCHING_KEY = (
    "there is no unique or exclusion constraint matching the ON CONFLICT specification"
)


def table_conflict(target: Table) -> Conflict | None:
    """What an INSERT without a conflict clause (or a COPY) does with a row whose key the
    table holds: the table's rule; None if it has no key."""
    if not target.primary_key:
        return None
    rule = target.on_conflict
    return Conflict(DO_NOTHING if rule == CONFLICT_IGNORE else rule)


def _conflict(insert: exp.Insert, target: Table, bind: Bind) -> Conflict | None:
    """What the INSERT does with a row whose key exists: its ON CONFLICT clause, DuckDB's
    ``INSERT OR REPLACE | IGNORE``, or the table's rule. None: the table has no key."""
    clause = insert.args.get("conflict")
    alternative = (insert.args.get("alternative") or "").upper()
    if clause is not None and alternative:
        raise SqlError(f"INSERT OR {alternative} ... ON CONFLICT: write one of the two")
    if alternative and alternative not in ("REPLACE", "IGNORE"):
        raise unsupported(f"INSERT OR {alternative}: write INSERT OR REPLACE or OR IGNORE")
    if clause is not None and clause.args.get("duplicate"):
        raise unsupported("ON DUPLICATE KEY UPDATE: write ON CONFLICT (key) DO UPDATE SET ...")
    if not target.primary_key:
        # With no key nothing conflicts: PostgreSQL's DO NOTHING then inserts every row.
        ignores = alternative == "IGNORE" or (
            clause is not None
            and clause.args["action"].name.upper() == "DO NOTHING"
            and not clause.args.get("conflict_keys")
            and clause.args.get("constraint") is None
        )
        if clause is None and not alternative or ignores:
            return None
        raise SqlError(
            f"{_NO_MATCHING_KEY}: table {target.name!r} has no primary key",
            sqlstate=INVALID_COLUMN_REFERENCE,
        )
    if alternative:
        return Conflict(DO_UPDATE if alternative == "REPLACE" else DO_NOTHING)
    if clause is None:
        return table_conflict(target)
    _check_conflict_target(clause, target)
    action = clause.args["action"].name.upper()
    if action == "DO NOTHING":
        return Conflict(DO_NOTHING)
    if action == "DO UPDATE":
        if not clause.args.get("conflict_keys") and clause.args.get("constraint") is None:
            raise SqlError(
                "ON CONFLICT DO UPDATE requires inference specification or constraint name: "
                f"write ON CONFLICT ({', '.join(target.primary_key)}) DO UPDATE"
            )
        keys = {k.lower() for k in target.primary_key}
        sets_key = any(a.this.name.lower() in keys for a in clause.expressions)
        return Conflict(DO_UPDATE, _update_plan(insert, clause, target, bind), sets_key)
    raise unsupported(f"ON CONFLICT {action}")


def _check_conflict_target(clause: exp.OnConflict, target: Table) -> None:
    """``ON CONFLICT (columns)`` or ``ON CONFLICT ON CONSTRAINT name`` must name the primary
    key (without a target, the primary key is meant)."""
    if clause.args.get("index_predicate") is not None:
        raise unsupported("ON CONFLICT (...) WHERE ...: tidal's keys have no predicate")
    constraint = clause.args.get("constraint")
    if constraint is not None and constraint.name.lower() != target.constraint.lower():
        raise SqlError(
            f"constraint {constraint.name!r} for table {target.name!r} does not exist (its "
            f"primary key is {target.constraint!r})",
            sqlstate=UNDEFINED_OBJECT,
        )
    columns = []
    for item in clause.args.get("conflict_keys") or []:
        column = item.this if isinstance(item, exp.Ordered) else item
        if not isinstance(column, exp.Column) or (
            isinstance(item, exp.Ordered) and item.args.get("desc")
        ):
            raise unsupported(f"ON CONFLICT ({item.sql(dialect=Tidal)}): name key columns only")
        columns.append(column.name.lower())
    if columns and sorted(set(columns)) != sorted(k.lower() for k in target.primary_key):
        raise SqlError(
            f"{_NO_MATCHING_KEY}: the primary key of {target.name!r} is "
            f"({', '.join(target.primary_key)})",
            sqlstate=INVALID_COLUMN_REFERENCE,
        )


def _update_plan(insert: exp.Insert, clause: exp.OnConflict, target: Table, bind: Bind) -> Plan:
    """``DO UPDATE SET c = ... [WHERE ...]`` as a plan over CONFLICTS: the existing row's
    columns (the target, by its name or alias), then the proposed row's (``excluded``); it
    gives the updated row and, last, whether to update."""
    table = insert.this.this if isinstance(insert.this, exp.Schema) else insert.this
    qualifier = table.args["alias"].this if table.args.get("alias") else table.this
    names = {c.name.lower(): c for c in target.columns}
    assignments: dict[str, exp.Expression] = {}
    for assignment in clause.expressions:
        column = assignment.this
        if not isinstance(column, exp.Column):
            raise unsupported(
                f"SET {column.sql(dialect=Tidal)} = ... in ON CONFLICT DO UPDATE: assign each "
                "column on its own"
            )
        if column.name.lower() not in names:
            raise SqlError(
                f"column {column.name!r} of table {target.name!r} does not exist",
                sqlstate=UNDEFINED_COLUMN,
            )
        if column.name.lower() in assignments:
            raise SqlError(f"multiple assignments to same column {column.name!r}")
        assignments[column.name.lower()] = _qualified(assignment.expression, qualifier)
    where = clause.args.get("where")
    condition = _qualified(where.this, qualifier) if where is not None else exp.true()
    items = [
        exp.alias_(
            cast(
                assignments.get(c.name.lower(), exp.column(c.name, qualifier.copy(), quoted=True)),
                c.type,
            ),
            c.name,
            quoted=True,
        )
        for c in target.columns
    ]
    items.append(exp.alias_(condition, "__update"))
    excluded = exp.Table(
        this=table.this.copy(), alias=exp.TableAlias(this=exp.to_identifier("excluded"))
    )
    target_table = exp.Table(this=table.this.copy(), alias=exp.TableAlias(this=qualifier.copy()))
    select = exp.select(*items).from_(target_table).join(excluded)
    return _over_conflicts(bind(select), target)


def _qualified(node: exp.Expression, qualifier: exp.Identifier) -> exp.Expression:
    """An expression of DO UPDATE: its columns name the existing row (by the table's name or
    alias) or the proposed one (``excluded``); an unqualified name could be either (42702, as
    in PostgreSQL, where DuckDB reads the existing row). No subqueries, aggregates or window
    functions."""
    if node.find(exp.Subquery, exp.Select, exp.Exists):
        raise unsupported("a subquery in ON CONFLICT DO UPDATE")
    if node.find(exp.AggFunc):
        raise grouping_error("aggregate functions are not allowed in ON CONFLICT DO UPDATE")
    if node.find(exp.Window):
        raise grouping_error("window functions are not allowed in ON CONFLICT DO UPDATE")
    for column in node.find_all(exp.Column):
        if not column.table:
            raise SqlError(
                f"column reference {column.name!r} is ambiguous: in ON CONFLICT DO UPDATE, "
                f"write {qualifier.name}.{column.name} (the existing row) or "
                f"excluded.{column.name} (the proposed one)",
                sqlstate=AMBIGUOUS_COLUMN,
            )
    return node.copy()


def _over_conflicts(plan: Plan, target: Table) -> Plan:
    """The bound ``SELECT ... FROM t, t AS excluded`` with its cross join replaced by a scan of
    CONFLICTS (the same columns: existing row, then proposed row)."""
    width = len(target.columns)
    join = plan.input if isinstance(plan, Project) else None
    if not (
        isinstance(join, Join)
        and not join.left_keys
        and join.condition is None
        and isinstance(join.left, Scan)
        and isinstance(join.right, Scan)
        and len(join.schema) == 2 * width
    ):
        raise unsupported("this ON CONFLICT DO UPDATE: SET and WHERE of plain expressions only")
    if plan.schema[-1].type not in ("BOOLEAN", "NULL"):
        raise SqlError(
            f"argument of WHERE must be type boolean, not type {plan.schema[-1].type}",
            sqlstate=DATATYPE_MISMATCH,
        )
    fields = tuple(Field(f"c{i}", f.type) for i, f in enumerate(join.schema))
    return plan.with_children((Scan(CONFLICTS, "input", fields),))
