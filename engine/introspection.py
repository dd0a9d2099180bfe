"""SHOW, DESCRIBE and EXPLAIN: what exists, what a query returns, and how a view is computed.

    SHOW TABLES | SOURCES | VIEWS | MATERIALIZED VIEWS | SINKS | WATERMARKS
    DESCRIBE name | DESCRIBE <query>
    EXPLAIN name | EXPLAIN <query> | EXPLAIN CREATE MATERIALIZED VIEW ...

Each answers with a table of rows; nothing here changes anything.
"""

from __future__ import annotations

import pyarrow as pa
from sqlglot import exp

from tidal.catalog import Catalog, CatalogError
from tidal.catalog.objects import View
from tidal.engine.relations import Relations
from tidal.sql.compiler import Compiler
from tidal.sql.dialect import EmitOnWindowClose, Explain
from tidal.sql.errors import SqlError, undefined_table, unsupported
from tidal.sql.explain import explain as explain_plan
from tidal.sql.parser import parse_statement

_SHOW_KINDS = {
    "TABLES": "table",
    "SOURCES": "source",
    "VIEWS": "view",
    "MATERIALIZED VIEWS": "materialized view",
    "SINKS": "sink",
}
_WATERMARKS = pa.schema(
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


def show(show: exp.Show, catalog: Catalog, relations: Relations) -> pa.Table:
    what = " ".join(show.name.upper().split())
    if what in _SHOW_KINDS:
        names = sorted(o.name for o in catalog.objects(_SHOW_KINDS[what]))
        return pa.table({"name": pa.array(names, pa.string())})
    if what == "WATERMARKS":
        return _watermarks(catalog, relations)
    raise unsupported(
        f"SHOW {what}: tidal shows TABLES, SOURCES, VIEWS, MATERIALIZED VIEWS, SINKS, WATERMARKS"
    )


def _watermarks(catalog: Catalog, relations: Relations) -> pa.Table:
    """Per relation with a watermark: where it stands and how many rows arrived late."""
    rows = []
    for name, event_time in sorted(relations.watermarks.relations.items()):
        relation = catalog.get(name)
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
    return pa.Table.from_pylist(rows, schema=_WATERMARKS)


def describe(describe: exp.Describe, compiler: Compiler) -> pa.Table:
    target = describe.this
    if not isinstance(target, (exp.Table, exp.Column)):
        plan = compiler.query(target).plan
        return _columns_table([(f.name, f.type) for f in plan.schema])
    try:
        obj = compiler.catalog.get(target.name)
    except CatalogError as error:
        raise undefined_table(str(error)) from None
    return _columns_table([(c.name, c.type) for c in getattr(obj, "columns", ())])


def _columns_table(columns: list[tuple[str, str]]) -> pa.Table:
    return pa.table(
        {
            "column_name": pa.array([c[0] for c in columns], pa.string()),
            "column_type": pa.array([c[1] for c in columns], pa.string()),
        }
    )


def explain(statement: Explain, compiler: Compiler, relations: Relations) -> pa.Table:
    target = statement.this
    if isinstance(target, exp.Column) and not target.table:
        obj = compiler.catalog.find(target.name)
        if obj is None:
            raise undefined_table(f"relation {target.name!r} does not exist")
        if isinstance(obj, View) and obj.materialized:
            plan = relations.views[obj.name.lower()].plan
        elif isinstance(obj, View):
            plan = compiler.query(parse_statement(obj.definition), ad_hoc=False).plan
        else:
            raise SqlError(
                f"EXPLAIN {target.name}: {obj.kind}s have no plan; explain a view or a query"
            )
    elif isinstance(target, exp.Create) and (target.args.get("kind") or "").upper() == "VIEW":
        plan = compiler.query(target.expression, ad_hoc=False).plan
    elif isinstance(target, (exp.Select, exp.SetOperation, exp.Subquery, EmitOnWindowClose)):
        plan = compiler.query(target).plan
    else:
        raise unsupported(
            f"EXPLAIN of {target.key.upper()}: explain a query, a view, or CREATE "
            "MATERIALIZED VIEW ..."
        )
    return pa.table({"QUERY PLAN": pa.array(explain_plan(plan).split("\n"), pa.string())})
