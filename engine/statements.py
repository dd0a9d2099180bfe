"""Running each kind of statement against a Database: one handler per statement node."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
from sqlglot import exp

from tidal.catalog import CatalogError, types
from tidal.catalog.objects import Column, Sink, Table, View
from tidal.engine import users
from tidal.engine.zset import WEIGHT
from tidal.sql import ddl, functions
from tidal.sql.dialect import EmitOnWindowClose, Explain, Tidal
from tidal.sql.errors import SqlError, undefined_table, unsupported
from tidal.sql.explain import explain
from tidal.sql.plan import Field, Plan, Project, ref
from tidal.sql.subscribe import Subscribe

if TYPE_CHECKING:
    from tidal.engine.database import Database


def run(db: Database, statement: exp.Expression):
    from tidal.engine.database import Status

    handler = _HANDLERS.get(type(statement))
    if handler is None and isinstance(statement, (exp.Condition, exp.Alias, exp.Paren, exp.Tuple)):
        # e.g. "SELEC x" parses as the expression "SELEC AS x": not a statement at all
        first = statement.sql(dialect=Tidal).split()[0] if statement.sql() else ""
        raise SqlError(f"syntax error at or near {first!r}: not a statement", line=1, column=1)
    if handler is None:
        raise unsupported(f"statement {statement.sql(dialect=Tidal)[:60]!r}")
    result = handler(db, statement)
    return Status(result) if isinstance(result, str) else result


# --- queries -----------------------------------------------------------------------------------


def _query(db: Database, statement: exp.Expression) -> pa.Table:
    plan = db.binder.bind_query(statement, ad_hoc=True)
    return db.query(plan)


# --- CREATE ------------------------------------------------------------------------------------


def _create(db: Database, create: exp.Create) -> str | None:
    kind = (create.args.get("kind") or "").upper()
    name = (
        create.this.this.name
        if isinstance(create.this, (exp.Schema, exp.UserDefinedFunction))
        else create.this.name
    )
    if create.args.get("exists") and name in db.catalog:
        return f"CREATE {kind}"
    if create.args.get("replace"):
        raise unsupported("CREATE OR REPLACE: DROP the object and create it again")
    existing = db.catalog.find(name)
    if existing is not None:
        raise SqlError(
            f"{existing.kind} {existing.name!r} already exists: choose another name or "
            "DROP it first",
            sqlstate="42P07",
        )
    if kind == "TABLE":
        if create.expression is not None:
            raise unsupported(
                "CREATE TABLE ... AS SELECT: create the table, then INSERT INTO ... SELECT"
            )
        db.create_table(ddl.table(create))
        return "CREATE TABLE"
    if kind == "SOURCE":
        db.create_source(ddl.source(create))
        return "CREATE SOURCE"
    if kind == "SINK":
        _create_sink(db, ddl.sink(create))
        return "CREATE SINK"
    if kind == "FUNCTION":
        db.catalog.add(functions.function(create, db.catalog, db.binder.infer))
        return "CREATE FUNCTION"
    if kind == "VIEW":
        materialized = create.find(exp.MaterializedProperty) is not None
        view, plan = _bind_view(db, create, name, materialized)
        if materialized:
            db.create_materialized_view(view, plan)
            return "CREATE MATERIALIZED VIEW"
        db.create_view(view)
        return "CREATE VIEW"
    raise unsupported(f"CREATE {kind}")


def _create_sink(db: Database, sink: Sink) -> None:
    from tidal.sql.parser import parse_statement

    relation = db.catalog.find(sink.source) if sink.source else None
    if isinstance(relation, View) and not relation.materialized:  # a plain view: its query
        sink = dataclasses.replace(sink, query=relation.definition)
    if not sink.query:
        try:
            return db.create_sink(sink)
        except CatalogError as error:
            raise undefined_table(str(error)) from None
    plan = db.binder.bind_query(parse_statement(sink.query), ad_hoc=False)
    inputs = tuple(sorted(db.binder.referenced | ({relation.name} if relation else set())))
    db.create_sink(dataclasses.replace(sink, source="", inputs=inputs), plan)


def _bind_view(
    db: Database, create: exp.Create, name: str, materialized: bool
) -> tuple[View, Plan]:
    if name in db.catalog:
        db.catalog.add(View(name, ()))  # raises the "already exists" error
    query = create.expression
    plan = db.binder.bind_query(query, ad_hoc=False)
    names = [f.name for f in plan.schema]
    for column in names:
        if names.count(column) > 1:
            raise SqlError(
                f"column {column!r} appears more than once in view {name!r}: give the "
                "columns distinct names with AS",
                sqlstate="42701",
            )
        if column == "?column?":
            raise SqlError(
                f"a column of view {name!r} has no name: give each expression a name with AS",
                sqlstate="42601",
            )
    columns = tuple(Column(f.name, f.type) for f in plan.schema)
    for column in columns:
        try:
            types.to_arrow(column.type)
            if column.type.endswith("[]"):
                raise types.TypeError_(column.type)
        except types.TypeError_:
            raise unsupported(
                f"column {column.name!r} of view {name!r} has type {column.type}, "
                "which tidal cannot store yet"
            ) from None
    inputs = tuple(sorted(db.binder.referenced))
    view = View(
        name, columns, definition=query.sql(dialect=Tidal), materialized=materialized, inputs=inputs
    )
    return view, plan


# --- DML ---------------------------------------------------------------------------------------


def _target_table(
    db: Database, node: exp.Expression, statement: exp.Expression | None = None
) -> Table:
    if statement is not None and statement.args.get("returning"):
        raise unsupported(f"{statement.key.upper()} ... RETURNING: query the table afterwards")
    table = node.this if isinstance(node, exp.Schema) else node
    try:
        target = db.catalog.get(table.name)
    except CatalogError as error:
        raise undefined_table(str(error)) from None
    if not isinstance(target, Table):
        raise SqlError(
            f"cannot change {target.kind} {target.name!r}: only tables accept INSERT, "
            "UPDATE and DELETE",
            sqlstate="42809",
        )
    return target


def _insert(db: Database, insert: exp.Insert) -> str:
    target = _target_table(db, insert.this, insert)
    names = [c.name for c in target.columns]
    if isinstance(insert.this, exp.Schema):
        listed = [i.name for i in insert.this.expressions]
        for column in listed:
            if column.lower() not in [n.lower() for n in names]:
                raise SqlError(
                    f"column {column!r} of table {target.name!r} does not exist", sqlstate="42703"
                )
    else:
        listed = names
    query = insert.expression
    if isinstance(query, exp.Values):
        column_types = {c.name.lower(): c.type for c in target.columns}
        query = _coerced_values(query, [column_types[n.lower()] for n in listed])
    source = db.binder.bind_query(query, ad_hoc=True)
    if len(source.schema) != len(listed):
        raise SqlError(
            f"INSERT has {len(source.schema)} expressions but {len(listed)} target columns",
            sqlstate="42601",
        )
    position = {n.lower(): i for i, n in enumerate(listed)}
    exprs = []
    for column in target.columns:
        index = position.get(column.name.lower())
        value = ref(index) if index is not None else exp.Null()
        exprs.append(exp.cast(value, column.type, dialect="duckdb"))
    plan = Project(source, tuple(exprs), tuple(Field(c.name, c.type) for c in target.columns))
    rows = db.query(plan)
    _apply(db, target, rows, 1)
    return f"INSERT 0 {rows.num_rows}"


def _coerced_values(values: exp.Values, types: list[str]) -> exp.Values:
    """INSERT's VALUES with each value cast to its target column's type, as PostgreSQL coerces
    them, so that rows may mix ``'2026-01-01'`` and ``DATE '2026-01-02'`` in one column."""
    values = values.copy()
    for row in values.expressions:
        items = row.expressions if isinstance(row, exp.Tuple) else [row]
        for item, type_name in zip(items, types):
            item.replace(exp.cast(item.copy(), type_name, dialect="duckdb"))
    return values


def _append_only(target: Table, statement: str) -> None:
    if target.watermark is not None:
        raise SqlError(
            f"cannot {statement} table {target.name!r}: a table with a watermark is an event "
            "stream and accepts INSERT only",
            sqlstate="0A000",
        )


def _delete(db: Database, delete: exp.Delete) -> str:
    target = _target_table(db, delete.this, delete)
    _append_only(target, "DELETE from")
    select = exp.select("*").from_(delete.this.copy())
    if delete.args.get("where") is not None:
        select.set("where", delete.args["where"].copy())
    if delete.args.get("using"):
        raise unsupported("DELETE ... USING: use WHERE ... IN (SELECT ...)")
    rows = db.query(db.binder.bind_query(select, ad_hoc=True))
    _apply(db, target, rows, -1)
    return f"DELETE {rows.num_rows}"


def _update(db: Database, update: exp.Update) -> str:
    target = _target_table(db, update.this, update)
    _append_only(target, "UPDATE")
    assignments = {}
    for assignment in update.expressions:
        column = assignment.this.name.lower()
        if column not in [c.name.lower() for c in target.columns]:
            raise SqlError(
                f"column {assignment.this.name!r} of table {target.name!r} does not exist",
                sqlstate="42703",
            )
        assignments[column] = assignment.expression
    items = [exp.column(c.name, quoted=True) for c in target.columns]
    for c in target.columns:
        value = assignments.get(c.name.lower(), exp.column(c.name, quoted=True))
        items.append(exp.cast(value.copy(), c.type, dialect="duckdb"))
    select = exp.select(*items).from_(update.this.copy())
    if update.args.get("where") is not None:
        select.set("where", update.args["where"].copy())
    if update.args.get("from_"):
        raise unsupported("UPDATE ... FROM: use a subquery in SET or WHERE")
    rows = db.query(db.binder.bind_query(select, ad_hoc=True))
    width = len(target.columns)
    old = rows.select(list(range(width))).rename_columns([c.name for c in target.columns])
    new = rows.select(list(range(width, 2 * width))).rename_columns(
        [c.name for c in target.columns]
    )
    _check_not_null(target, new)
    changes = pa.concat_tables([_weighted(old, -1), _weighted(new, 1)])
    db.apply_changes(target.name, changes)
    return f"UPDATE {rows.num_rows}"


def _weighted(rows: pa.Table, weight: int) -> pa.Table:
    return rows.append_column(WEIGHT, pa.array(np.full(rows.num_rows, weight, dtype=np.int64)))


def _check_not_null(target: Table, rows: pa.Table) -> None:
    for column, values in zip(target.columns, rows.columns):
        if not column.nullable and values.null_count:
            raise SqlError(
                f"null value in column {column.name!r} of table {target.name!r} violates "
                "its NOT NULL constraint",
                sqlstate="23502",
            )


def _apply(db: Database, target: Table, rows: pa.Table, weight: int) -> None:
    if weight > 0:
        _check_not_null(target, rows)
    if rows.num_rows:
        schema = target.arrow_schema()
        plain = pa.Table.from_arrays(
            [rows.column(i).cast(f.type) for i, f in enumerate(schema)], schema=schema
        )
        db.apply_changes(target.name, _weighted(plain, weight))


# --- DROP, SHOW, DESCRIBE, EXPLAIN ---------------------------------------------------------------

_DROP_KINDS = {
    "TABLE": ("table",),
    "SOURCE": ("source",),
    "SINK": ("sink",),
    "VIEW": ("view",),
    "MATERIALIZED VIEW": ("materialized view",),
    "FUNCTION": ("function",),
}


def _drop(db: Database, drop: exp.Drop) -> str:
    kind = (drop.args.get("kind") or "").upper()
    if kind == "VIEW" and drop.args.get("materialized"):
        kind = "MATERIALIZED VIEW"
    if kind not in _DROP_KINDS:
        raise unsupported(f"DROP {kind}")
    for table in drop.expressions or drop.args.get("tables") or []:
        obj = db.catalog.find(table.name)
        if obj is None:
            if drop.args.get("exists"):
                continue
            raise undefined_table(f"{kind.lower()} {table.name!r} does not exist")
        if obj.kind not in _DROP_KINDS[kind]:
            raise SqlError(
                f"{table.name!r} is a {obj.kind}, not a {kind.lower()}: use DROP "
                f"{obj.kind.upper()}",
                sqlstate="42809",
            )
        try:
            db.drop(table.name, bool(drop.args.get("cascade")))
        except CatalogError as error:
            raise SqlError(str(error), sqlstate="2BP01") from None
    return f"DROP {kind}"


_SHOW_KINDS = {
    "TABLES": "table",
    "SOURCES": "source",
    "VIEWS": "view",
    "MATERIALIZED VIEWS": "materialized view",
    "SINKS": "sink",
}


def _show(db: Database, show: exp.Show) -> pa.Table:
    what = " ".join(show.name.upper().split())
    if what in _SHOW_KINDS:
        names = sorted(o.name for o in db.catalog.objects(_SHOW_KINDS[what]))
        return pa.table({"name": pa.array(names, pa.string())})
    if what == "WATERMARKS":
        return _watermarks(db)
    raise unsupported(
        f"SHOW {what}: tidal shows TABLES, SOURCES, VIEWS, MATERIALIZED VIEWS, SINKS, WATERMARKS"
    )


def _watermarks(db: Database) -> pa.Table:
    """Per relation with a watermark: where it stands and how many rows arrived late."""
    rows = []
    for name, event_time in sorted(db.watermarks.relations.items()):
        relation = db.catalog.get(name)
        rows.append(
            {
                "relation": relation.name,
                "column": relation.columns[event_time.column].name,
                "definition": relation.watermark.expression,
                "watermark": event_time.watermark,
                "late_rows": event_time.late_rows,
                "late_table": event_time.late_table,
                "idle": event_time.idle,
            }
        )
    schema = pa.schema(
        [
            ("relation", pa.string()),
            ("column", pa.string()),
            ("definition", pa.string()),
            ("watermark", pa.timestamp("us")),
            ("late_rows", pa.int64()),
            ("late_table", pa.string()),
            ("idle", pa.bool_()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _describe(db: Database, describe: exp.Describe) -> pa.Table:
    target = describe.this
    if not isinstance(target, (exp.Table, exp.Column)):
        plan = db.binder.bind_query(target, ad_hoc=True)
        return _columns_table([(f.name, f.type) for f in plan.schema])
    try:
        obj = db.catalog.get(target.name)
    except CatalogError as error:
        raise undefined_table(str(error)) from None
    if not hasattr(obj, "columns"):
        return pa.table(
            {"column_name": pa.array([], pa.string()), "column_type": pa.array([], pa.string())}
        )
    return _columns_table([(c.name, c.type) for c in obj.columns])


def _columns_table(columns: list[tuple[str, str]]) -> pa.Table:
    return pa.table(
        {
            "column_name": pa.array([c[0] for c in columns], pa.string()),
            "column_type": pa.array([c[1] for c in columns], pa.string()),
        }
    )


def _explain(db: Database, statement: Explain) -> pa.Table:
    target = statement.this
    if isinstance(target, exp.Column) and not target.table:
        name = target.name.lower()
        obj = db.catalog.find(name)
        if obj is None:
            raise undefined_table(f"relation {target.name!r} does not exist")
        if isinstance(obj, View) and obj.materialized:
            text = explain(db.view_plan(name))
        elif isinstance(obj, View):
            from tidal.sql.parser import parse_statement

            text = explain(db.binder.bind_query(parse_statement(obj.definition), ad_hoc=False))
        else:
            raise SqlError(
                f"EXPLAIN {target.name}: {obj.kind}s have no plan; explain a view or a query"
            )
    elif isinstance(target, exp.Create) and (target.args.get("kind") or "").upper() == "VIEW":
        from tidal.sql import rules

        text = explain(rules.optimize(db.binder.bind_query(target.expression, ad_hoc=False)))
    elif isinstance(target, (exp.Select, exp.SetOperation, exp.Subquery, EmitOnWindowClose)):
        text = explain(db.binder.bind_query(target, ad_hoc=True))
    else:
        raise unsupported(
            f"EXPLAIN of {target.key.upper()}: explain a query, a view, or CREATE "
            "MATERIALIZED VIEW ..."
        )
    return pa.table({"QUERY PLAN": pa.array(text.split("\n"), pa.string())})


def _subscribe(db: Database, statement: Subscribe):
    """``SUBSCRIBE``: a Subscription (tidal.engine.subscriptions) the caller reads from."""
    return db.subscribe(
        statement.name,
        snapshot=statement.snapshot,
        progress=statement.progress,
        as_of=statement.as_of,
    )


def _command(db: Database, command: exp.Command) -> str:
    """Statements sqlglot keeps as raw commands; tidal runs CREATE/ALTER/DROP USER (or ROLE)."""
    rest = command.expression
    rest = rest.name if isinstance(rest, exp.Expression) else str(rest or "")
    if users.is_user_statement(command.this, rest):
        return users.run(db.catalog, command.this, rest)
    raise unsupported(f"statement {command.sql(dialect=Tidal)[:60]!r}")


_HANDLERS = {
    exp.Select: _query,
    exp.Union: _query,
    exp.Intersect: _query,
    exp.Except: _query,
    exp.Subquery: _query,
    exp.Values: _query,
    EmitOnWindowClose: _query,
    exp.Create: _create,
    exp.Insert: _insert,
    exp.Delete: _delete,
    exp.Update: _update,
    exp.Drop: _drop,
    exp.Show: _show,
    exp.Describe: _describe,
    Explain: _explain,
    Subscribe: _subscribe,
    exp.Command: _command,
}
