"""SHOW, DESCRIBE and EXPLAIN: what exists, what a query returns, and how a view is computed.

    SHOW TABLES | SOURCES | VIEWS | MATERIALIZED VIEWS | SINKS | WATERMARKS
    DESCRIBE name | DESCRIBE <query>
    EXPLAIN name | EXPLAIN <query> | EXPLAIN CREATE MATERIALIZED VIEW ...
    EXPLAIN ANALYZE name | EXPLAIN ANALYZE <query> | EXPLAIN (ANALYZE, FORMAT TREE) ...

Each answers with a table of rows; nothing here changes anything. EXPLAIN ANALYZE of a
materialized view or a sink of a query reads its running dataflow's counters
(``Dataflow.operator_stats``); of a query, it runs the query once as a new view's backfill
would, over its inputs' current contents, and reports that run.
"""

from __future__ import annotations

import time

import pyarrow as pa
from sqlglot import exp

from tidal.catalog import Catalog, CatalogError
from tidal.catalog.objects import Sink, View
from tidal.catalog.sqlstate import WRONG_OBJECT_TYPE
from tidal.engine.dataflow import Dataflow
from tidal.engine.operator_stats import OperatorStats, rate, tree_prefixes
from tidal.engine.relations import Relations
from tidal.sql.compiler import Compiler
from tidal.sql.dialect import EmitOnWindowClose, Explain
from tidal.sql.errors import SqlError, undefined_table, unsupported
from tidal.sql.explain import describe as describe_node
from tidal.sql.explain import explain as explain_plan
from tidal.sql.parser import parse_statement
from tidal.sql.plan import Emit, Plan

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


_QUERIES = (exp.Select, exp.SetOperation, exp.Subquery, EmitOnWindowClose)


def explain(statement: Explain, compiler: Compiler, relations: Relations) -> pa.Table:
    if statement.analyze:
        return _plan_lines(explain_analyze(statement, compiler, relations))
    if statement.format != "TEXT":
        raise unsupported(
            f"EXPLAIN (FORMAT {statement.format}) without ANALYZE: the tree shows each "
            f"operator's rates; write EXPLAIN (ANALYZE, FORMAT {statement.format}) ..."
        )
    target = statement.this
    if isinstance(target, exp.Column) and not target.table:
        obj = compiler.catalog.find(target.name)
        if obj is None:
            raise undefined_table(f"relation {target.name!r} does not exist")
        if isinstance(obj, View) and obj.materialized:
            plan = relations.views[obj.name.lower()].plan
        elif isinstance(obj, View):
            plan = compiler.query(parse_statement(obj.definition), ad_hoc=False).plan
        elif isinstance(obj, Sink) and obj.query:
            plan = relations.sinks[obj.name.lower()].plan
        else:
            raise SqlError(
                f"EXPLAIN {target.name}: {obj.kind}s have no plan; explain a view or a query"
            )
    elif isinstance(target, exp.Create) and (target.args.get("kind") or "").upper() == "VIEW":
        plan = compiler.query(target.expression, ad_hoc=False).plan
    elif isinstance(target, _QUERIES):
        plan = compiler.query(target).plan
    else:
        raise unsupported(
            f"EXPLAIN of {target.key.upper()}: explain a query, a view, or CREATE "
            "MATERIALIZED VIEW ..."
        )
    return _plan_lines(explain_plan(plan).split("\n"))


def _plan_lines(lines: list[str]) -> pa.Table:
    return pa.table({"QUERY PLAN": pa.array(lines, pa.string())})


def explain_analyze(statement: Explain, compiler: Compiler, relations: Relations) -> list[str]:
    """The plan with each operator's numbers (FORMAT TEXT), or the operators as a tree with
    their rates since the dataflow was built (FORMAT TREE)."""
    dataflow, ran_now = _analyzed(statement.this, compiler, relations)
    stats = dataflow.operator_stats()
    nodes = [dataflow.nodes[index] for index, _ in dataflow.plan_order()]
    seconds = time.monotonic() - dataflow.created
    over = (
        f"in one run over the inputs' current contents ({seconds:.3f} s)"
        if ran_now
        else f"over {seconds:.1f} s since the dataflow was built"
    )
    if statement.format == "TREE":
        return _tree(stats, nodes, seconds, over)
    by_node: dict[int, list[OperatorStats]] = {}
    for node, operator in zip(nodes, stats):
        by_node.setdefault(id(node), []).append(operator)

    def numbers(node: Plan) -> list[str]:
        # A node computed by two operators (a temporal filter's plain conditions, UNION's
        # union all and distinct): the first is the node's output, the other is named below.
        found = by_node.get(id(node), [])
        if not found and isinstance(node, Emit):  # the windowed aggregate below emits instead
            return ["(no operator of its own: the aggregate below emits each closed window)"]
        return [o.actual() for o in found[:1]] + [
            f"-- and {o.operator} {o.actual()}" for o in found[1:]
        ]

    total = sum(operator.seconds for operator in stats)
    footer = f"Operators: {len(stats)}, time in them {total * 1e3:.3f} ms, {over}"
    return [*explain_plan(dataflow.plan, numbers).split("\n"), footer]


def _tree(stats: list[OperatorStats], nodes: list[Plan], seconds: float, over: str) -> list[str]:
    lines = [f"Rows per second, {over}"]
    for prefix, operator, node in zip(tree_prefixes([o.depth for o in stats]), stats, nodes):
        text = f"{prefix}{operator.operator}  in {rate(operator.rows_in, seconds)}, out "
        text += rate(operator.rows_out, seconds)
        if operator.state_rows is not None:
            text += f", state {operator.state_rows} rows"
        lines.append(f"{text}  ({describe_node(node)})")
    return lines


def _analyzed(
    target: exp.Expression, compiler: Compiler, relations: Relations
) -> tuple[Dataflow, bool]:
    """The dataflow EXPLAIN ANALYZE reports: a materialized view's or a query sink's, running;
    or a query's, run once now (then True)."""
    if isinstance(target, _QUERIES):
        plan = compiler.query(target, ad_hoc=False).plan
        try:
            return relations.run_once(plan, "EXPLAIN ANALYZE"), True
        except SqlError as error:
            raise SqlError(
                f"EXPLAIN ANALYZE runs a query as a materialized view would, and this one "
                f"cannot be: {error.message}; EXPLAIN ANALYZE takes a materialized view, a "
                "sink of a query, or a query a materialized view could hold",
                sqlstate=error.sqlstate,
            ) from None
    if not isinstance(target, exp.Column) or target.table:
        raise unsupported(
            f"EXPLAIN ANALYZE of {target.key.upper()}: it takes the name of a materialized "
            "view or of a sink of a query, or a query"
        )
    obj = compiler.catalog.find(target.name)
    if obj is None:
        raise undefined_table(f"relation {target.name!r} does not exist")
    entry = None
    if isinstance(obj, View) and obj.materialized:
        entry = relations.views[obj.name.lower()]
    elif isinstance(obj, Sink) and obj.query:
        entry = relations.sinks[obj.name.lower()]
    if entry is None:
        raise SqlError(
            f"EXPLAIN ANALYZE {obj.name}: {_no_dataflow(obj)}", sqlstate=WRONG_OBJECT_TYPE
        )
    if entry.dataflow is None:
        raise unsupported(
            f"EXPLAIN ANALYZE {obj.name} in batch mode: views keep no dataflow there, each "
            "read computes them afresh"
        )
    return entry.dataflow, False


def _no_dataflow(obj) -> str:
    """Why a relation has no dataflow to report on, and what to name instead."""
    if isinstance(obj, View):
        return (
            "a view that is not materialized runs no dataflow; EXPLAIN ANALYZE its query, "
            "or a materialized view"
        )
    if isinstance(obj, Sink):
        return f"the sink writes {obj.source}'s changes as they are; EXPLAIN ANALYZE {obj.source}"
    return f"a {obj.kind} runs no dataflow; EXPLAIN ANALYZE a materialized view or a sink"
