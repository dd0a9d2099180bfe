"""Set-returning functions in FROM: ``FROM generate_series(1, 3) AS g(i)``, ``unnest(...) WITH
ORDINALITY``, ``range(...)``, and calls over the rows before them, ``FROM t, unnest(t.a)``.

A call in FROM is the list of values it returns (as in the select list, tidal.sql.set_returning)
turned into rows by an Unnest node: over a one-row relation with no columns when it stands
alone (a constant relation, like VALUES), over the FROM items to its left when it is joined to
them (lateral, as PostgreSQL makes a call reading their columns; stateless either way). Columns
are named as in PostgreSQL: the function's name, or the table alias when no column aliases are
given; WITH ORDINALITY appends ``ordinality`` (BIGINT, counting from 1).

>>> from tidal.sql.parser import parse_statement
>>> node = parse_statement("SELECT * FROM unnest(ARRAY[5, 6]) WITH ORDINALITY AS u(x, n)")
>>> call = from_function(node.args["from_"].this)
>>> call.name, call.alias, call.columns, call.ordinality
('unnest', 'u', ('x', 'n'), True)
>>> column_names(call)
['x', 'n']
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from tidal.catalog.objects import Function
from tidal.sql import set_returning
from tidal.sql.dialect import WindowFunction
from tidal.sql.errors import SqlError, unsupported
from tidal.sql.plan import Field, Plan, Project, Unnest, ref
from tidal.sql.scope import Frame, ScopeColumn


@dataclass(frozen=True)
class FromFunction:
    """A set-returning call in FROM, with the alias and options written around it."""

    call: exp.Expression
    name: str
    ordinality: bool
    alias: str | None
    columns: tuple[str, ...]  # the alias's column list (WITH ORDINALITY's name included)

    def reads_columns(self) -> bool:
        return self.call.find(exp.Column) is not None


def from_function(node: exp.Expression) -> FromFunction | None:
    """The set-returning call a FROM item is (None if it is not one)."""
    alias = node.args.get("alias")
    ordinality = bool(node.args.get("ordinality"))
    if isinstance(node, exp.Lateral):
        inner = node.this
        if isinstance(inner, exp.Unnest):
            alias = alias or inner.args.get("alias")
            node = inner
        elif isinstance(inner, exp.Func):
            return _function(inner, alias, ordinality, ())
        else:
            return None
    if isinstance(node, exp.Unnest):
        offset = node.args.get("offset")
        extra = (offset.name,) if isinstance(offset, exp.Identifier) else ()
        return _function(node, alias, ordinality or bool(offset), extra)
    if (
        isinstance(node, exp.Table)
        and isinstance(node.this, exp.Func)
        and not isinstance(node.this, WindowFunction)
    ):
        return _function(node.this, alias, ordinality, ())
    return None


def _function(call, alias, ordinality: bool, extra: tuple[str, ...]) -> FromFunction:
    if isinstance(call, exp.Unnest):
        name = "unnest"
    elif isinstance(call, exp.Anonymous):
        name = call.name.lower()
    else:
        name = set_returning.name_of(call) or call.sql_name().lower()
    columns = tuple(c.name for c in alias.columns) if alias is not None else ()
    return FromFunction(
        call, name, ordinality, alias.name if alias is not None else None, columns + extra
    )


def column_names(function: FromFunction, returned: tuple[str, ...] = ()) -> list[str]:
    """PostgreSQL's names: the function's (the alias's for a bare alias), or the columns it
    is declared to return, then ``ordinality``; the alias's column list renames them in
    order."""
    names = list(returned) or [
        function.alias if function.alias and not function.columns else function.name
    ]
    if function.ordinality:
        names.append("ordinality")
    if len(function.columns) > len(names):
        raise SqlError(
            f"table {function.alias!r} has {len(names)} columns available but "
            f"{len(function.columns)} columns specified"
        )
    names[: len(function.columns)] = function.columns
    return names


def _list_of(call: exp.Expression) -> exp.Expression:
    """The DuckDB list of the values ``call`` returns."""
    if isinstance(call, exp.Unnest):
        if len(call.expressions) != 1:
            raise unsupported(
                "unnest() of several arrays in FROM: unnest each array in its own select-list "
                "call (SELECT unnest(a), unnest(b)), which pairs them the same way"
            )
        return call.expressions[0].copy()
    if isinstance(call, exp.Anonymous) and call.name.lower() == "range":
        return exp.Anonymous(this="range", expressions=[a.copy() for a in call.expressions])
    if set_returning.name_of(call):
        return set_returning.list_of(call)
    raise unsupported(f"table function {call.sql()[:60]} in FROM")


def unnest_rows(
    binder, function: FromFunction, frame: Frame, keep_unmatched: bool = False
) -> tuple[Plan, list[ScopeColumn]]:
    """``frame``'s plan with each row repeated once per value ``function`` returns for it, the
    values (and ordinality) appended; ``keep_unmatched`` keeps a row whose call returns no
    value, once, with NULLs (LEFT JOIN LATERAL ... ON true)."""
    at = Frame(frame.plan, frame.scope, frame.ctes, subqueries_allowed=False)
    declared = _python_table_function(binder.catalog, function.call)
    values = binder.expression(
        function.call.copy() if declared is not None else _list_of(function.call), at
    )
    (list_type,) = binder.infer.infer([values], frame.plan.schema)
    if not list_type.endswith("[]"):
        raise SqlError(f"{function.call.sql()[:60]} in FROM does not return a list of values")
    length = exp.Anonymous(this="array_length", expressions=[values.copy()])
    lists = [values]
    if function.ordinality:
        lists.append(exp.GenerateSeries(start=exp.Literal.number(1), end=length.copy()))
    if keep_unmatched:  # one element when the call returns none, none otherwise
        empty = exp.EQ(this=exp.func("COALESCE", length, exp.Literal.number(0)), expression=_n(0))
        guard = exp.Case(ifs=[exp.If(this=empty, true=_n(1))], default=_n(0))
        lists.append(exp.GenerateSeries(start=_n(1), end=guard))
    list_types = binder.infer.infer(lists, frame.plan.schema)
    width = len(frame.plan.schema)
    listed = Project(
        frame.plan,
        tuple(ref(i) for i in range(width)) + tuple(lists),
        frame.plan.schema + tuple(Field(f"__list{i}", t) for i, t in enumerate(list_types)),
    )
    if declared is not None:  # its rows are structs: one column per declared field
        names = column_names(function, tuple(c.name for c in declared.columns))
        value_types = [c.type for c in declared.columns] + [t[:-2] for t in list_types[1:]]
    else:
        names = column_names(function)
        value_types = [t[:-2] for t in list_types]
    fields = tuple(Field(n, t) for n, t in zip(names, value_types))
    unnest = Unnest(
        listed,
        tuple(range(width, width + len(lists))),
        listed.schema + tuple(Field(f"__value{i}", t[:-2]) for i, t in enumerate(list_types)),
    )
    first = width + len(lists)
    values_out: tuple[exp.Expression, ...] = tuple(ref(first + i) for i in range(len(fields)))
    if declared is not None:
        values_out = tuple(
            exp.Anonymous(
                this="struct_extract", expressions=[ref(first), exp.Literal.string(c.name)]
            )
            for c in declared.columns
        ) + ((ref(first + 1),) if function.ordinality else ())
    plan = Project(
        unnest, tuple(ref(i) for i in range(width)) + values_out, frame.plan.schema + fields
    )
    table = (function.alias or function.name).lower()
    return plan, [ScopeColumn(f.name, f.type, (table,)) for f in fields]


def _python_table_function(catalog, call: exp.Expression) -> Function | None:
    """The Python table function (``RETURNS TABLE``) ``call`` calls, if it is one."""
    if not isinstance(call, exp.Anonymous):
        return None
    found = catalog.find(call.name)
    if isinstance(found, Function) and found.role == "table":
        return found
    return None


def _n(value: int) -> exp.Literal:
    return exp.Literal.number(value)
