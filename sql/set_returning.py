"""Set-returning functions in a select list: ``SELECT x, generate_series(1, x) FROM t``.

Each such call (generate_series, unnest, regexp_split_to_table, generate_subscripts) is the
list of values it returns (``generate_series(1, x)`` is DuckDB's list ``GENERATE_SERIES(1,
x)``), and an ``Unnest`` plan node turns each input row into one row per element, the calls of
one select list in step (the shorter lists padded with NULL, as in PostgreSQL 10 and DuckDB).
The calls are evaluated after aggregates and window functions, before DISTINCT, ORDER BY and
LIMIT. A call anywhere else (WHERE, GROUP BY, inside CASE or an aggregate, nested in another
call's arguments) is refused by name, as PostgreSQL refuses most of those places.

>>> from tidal.sql.parser import parse_statement
>>> call = parse_statement("SELECT generate_series(1, 3)").expressions[0]
>>> output_name(call), list_of(call).sql(dialect="duckdb")
('generate_series', 'GENERATE_SERIES(1, 3)')
"""

from __future__ import annotations

import functools

from sqlglot import exp

from tidal.sql.errors import SqlError, unsupported
from tidal.sql.plan import Field, Plan, Project, Unnest, ref, unique
from tidal.sql.scope import Frame, Scope, ScopeColumn
from tidal.sql.typeinfer import TypeInference, connect_locked

# PostgreSQL's set-returning functions that tidal spells as DuckDB lists, by name.
_AS_LISTS = {
    "regexp_split_to_table": lambda args: exp.Anonymous(
        this="string_split_regex", expressions=args
    ),
    "generate_subscripts": lambda args: exp.GenerateSeries(
        start=exp.Literal.number(1), end=exp.Anonymous(this="array_length", expressions=args)
    ),
}
# Where PostgreSQL refuses a set-returning function (tidal refuses it in more places).
_NOT_INSIDE = (exp.AggFunc, exp.Window, exp.Case, exp.If, exp.Coalesce)


def name_of(node: exp.Expression) -> str | None:
    """The name of the set-returning function ``node`` calls; None if it calls none."""
    if isinstance(node, exp.ExplodingGenerateSeries):
        return "generate_series"
    if isinstance(node, (exp.Explode, exp.Unnest)):
        return "unnest"
    if isinstance(node, exp.Anonymous) and node.name.lower() in _duckdb_set_returning():
        return node.name.lower()
    return None


def output_name(node: exp.Expression) -> str | None:
    """The column name PostgreSQL gives a select list item that is such a call."""
    return name_of(node)


def contains(node: exp.Expression) -> bool:
    return any(name_of(n) for n in node.find_all(exp.Func))


def list_of(call: exp.Expression) -> exp.Expression:
    """The DuckDB list of the values ``call`` returns."""
    name = name_of(call)
    if isinstance(call, exp.ExplodingGenerateSeries):
        return exp.GenerateSeries(**{k: v.copy() for k, v in call.args.items() if v is not None})
    if isinstance(call, exp.Explode) and not call.expressions:
        return call.this.copy()
    arguments = [a.copy() for a in call.expressions]
    if name in _AS_LISTS and (name != "generate_subscripts" or len(arguments) == 2):
        return _AS_LISTS[name](arguments)
    raise unsupported(f"the set-returning function {call.sql()[:60]}")


def refuse(node: exp.Expression) -> None:
    """A set-returning function in ``node`` (not a select list item) is an error."""
    for call in node.find_all(exp.Func):
        if name_of(call):
            raise unsupported(
                f"set-returning function {name_of(call)}() outside the select list "
                "(it may appear only there, not inside CASE, an aggregate or a window function)"
            )


def refuse_below(plan: Plan) -> None:
    """A set-returning call that binding put into ``plan`` (a GROUP BY key, an aggregate's
    argument) is an error: only the Unnest above it may compute one."""
    for node in plan.walk():
        for expression in getattr(node, "exprs", ()) + (getattr(node, "predicate", None),):
            if expression is not None:
                refuse(expression)


def check_placement(item: exp.Expression) -> None:
    """Set-returning calls in a select list item may not be inside a CASE, COALESCE, an
    aggregate or window function, or another set-returning call."""
    for call in item.find_all(exp.Func):
        name = name_of(call)
        if not name:
            continue
        parent = call.parent
        while parent is not None:
            if isinstance(parent, _NOT_INSIDE) or name_of(parent):
                if isinstance(parent, exp.If) and isinstance(parent.parent, exp.Case):
                    parent = parent.parent
                what = name_of(parent) or parent.key.upper()
                raise unsupported(f"set-returning function {name}() inside {what}")
            parent = parent.parent


def expand(
    items: list[exp.Expression], frame: Frame, infer: TypeInference
) -> tuple[list[exp.Expression], Frame]:
    """The select list with each set-returning call read from an Unnest node's new columns."""
    calls = unique([c for e in items for c in e.find_all(exp.Func) if name_of(c)])
    lists = [list_of(c) for c in calls]
    list_types = infer.infer(lists, frame.plan.schema)
    element_types = []
    for call, list_type in zip(calls, list_types):
        if not list_type.endswith("[]"):
            raise SqlError(f"{call.sql()[:60]} does not return a list of values")
        element_types.append(list_type[:-2])
    width = len(frame.plan.schema)
    listed = Project(
        frame.plan,
        tuple(ref(i) for i in range(width)) + tuple(lists),
        frame.plan.schema + tuple(Field(f"__list{i}", t) for i, t in enumerate(list_types)),
    )
    fields = tuple(Field(name_of(c) or "", t) for c, t in zip(calls, element_types))
    plan = Unnest(listed, tuple(range(width, width + len(lists))), listed.schema + fields)
    position = {c: width + len(lists) + i for i, c in enumerate(calls)}
    columns = frame.scope.columns + [
        ScopeColumn(f.name, f.type, (), hidden=True)
        for f in plan.schema[len(frame.scope.columns) :]
    ]
    new_frame = Frame(plan, Scope(columns, frame.scope.outer), frame.ctes)
    for attr in ("aggregate_rewrite", "pre_aggregate_order"):
        if hasattr(frame, attr):
            setattr(new_frame, attr, getattr(frame, attr))

    def replace(node: exp.Expression) -> exp.Expression:
        return ref(position[node]) if node in position else node

    return [e.transform(replace) for e in items], new_frame


@functools.cache
def _duckdb_set_returning() -> frozenset[str]:
    """The functions that return rows, not a value, in a DuckDB select list: ``unnest`` and
    the macros built on it (regexp_split_to_table, generate_subscripts, ...)."""
    rows = connect_locked().sql(
        "SELECT DISTINCT lower(function_name) FROM duckdb_functions() "
        "WHERE function_type = 'macro' AND macro_definition ILIKE '%unnest(%'"
    )
    return frozenset({"unnest", *(name for (name,) in rows.fetchall())})
