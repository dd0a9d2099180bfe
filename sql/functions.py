"""User-defined scalar SQL functions, expanded in place where they are called (as macros); a
call of a Python function (tidal.sql.python_functions) becomes a call of its runtime name.

    CREATE FUNCTION count_char(s VARCHAR, c VARCHAR) RETURNS BIGINT
        LANGUAGE SQL RETURN length(s) - length(replace(s, c, ''));

The body is one expression over the parameters; PostgreSQL's ``AS 'SELECT expr'`` and
``AS $$ SELECT expr $$`` spellings work too. A call becomes the body with each parameter replaced
by its argument cast to the parameter's type, and the whole cast to the return type, so the
engine and DuckDB evaluate exactly the same expression.
"""

from __future__ import annotations

from sqlglot import exp

from tidal.catalog import Catalog
from tidal.catalog.objects import Column, Function
from tidal.catalog.sqlstate import (
    DUPLICATE_FUNCTION,
    INVALID_FUNCTION_DEFINITION,
    UNDEFINED_COLUMN,
    UNDEFINED_FUNCTION,
)
from tidal.sql.errors import SqlError, unsupported
from tidal.sql.plan import Field, cast
from tidal.sql.python_functions import declared_type, python_function
from tidal.sql.typeinfer import TypeInference

_DEPTH = 16  # functions calling functions, at most this deep


def function(create: exp.Create, catalog: Catalog, infer: TypeInference) -> Function:
    """The catalog object of a CREATE FUNCTION, its body checked against its signature."""
    from tidal.sql.dialect import Tidal

    udf = create.this
    name = udf.this.name
    if name.upper() in Tidal.Parser.FUNCTIONS:
        raise SqlError(
            f"{name} is a built-in function: choose another name", sqlstate=DUPLICATE_FUNCTION
        )
    language = create.find(exp.LanguageProperty)
    if language is not None and language.name.lower() == "python":
        return python_function(create)
    if language is not None and language.name.upper() != "SQL":
        raise unsupported(f"functions in LANGUAGE {language.name}: write the body in SQL or python")
    parameters = tuple(
        Column(p.name, declared_type(p.args.get("kind"), f"parameter {p.name} of {name}"))
        for p in udf.expressions
    )
    returns = create.find(exp.ReturnsProperty)
    if returns is None or returns.this is None:
        raise SqlError(f"CREATE FUNCTION {name} needs RETURNS type")
    body = _body(create.expression, name)
    names = {p.name.lower() for p in parameters}
    for column in body.find_all(exp.Column):
        if column.table or column.name.lower() not in names:
            raise SqlError(
                f"the body of {name} reads {column.sql()!r}, which is not one of its parameters",
                sqlstate=UNDEFINED_COLUMN,
            )
    if body.find(exp.AggFunc, exp.Window, exp.Subquery, exp.Select):
        raise unsupported(f"{name}: a function body is one scalar expression")
    return_type = declared_type(returns.this, f"the return type of {name}")
    fields = tuple(Field(f"c{i}", p.type) for i, p in enumerate(parameters))
    positional = body.transform(
        lambda n: (
            exp.column(f"c{[p.name.lower() for p in parameters].index(n.name.lower())}")
            if isinstance(n, exp.Column)
            else n
        )
    )
    uses: set[str] = set()
    expanded = expand(positional, catalog, uses)
    (body_type,) = infer.infer([expanded], fields)  # type errors now, not at the first call
    if body_type != return_type and not (_numeric(body_type) and _numeric(return_type)):
        raise SqlError(
            f"the body of {name} is {body_type}, but it is declared RETURNS {return_type}: "
            "CAST the body, or change the return type",
            sqlstate=INVALID_FUNCTION_DEFINITION,
        )
    return Function(name, parameters, return_type, body.sql(dialect="duckdb"), tuple(sorted(uses)))


def _numeric(type_name: str) -> bool:
    return type_name in _NUMERIC or type_name.startswith("DECIMAL") or type_name == "NULL"


_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE")


def _body(node: exp.Expression | None, name: str) -> exp.Expression:
    from tidal.sql.parser import parse_statement

    if isinstance(node, exp.Return):
        return node.this
    if isinstance(node, (exp.Heredoc, exp.Literal)):
        select = parse_statement(node.name)
        if (
            isinstance(select, exp.Select)
            and len(select.expressions) == 1
            and not any(select.args.get(k) for k in ("from_", "where", "group", "having"))
        ):
            return select.expressions[0].unalias()
    raise unsupported(
        f"the body of {name}: write RETURN expression, or AS 'SELECT expression' (one scalar "
        "expression over the parameters)"
    )


def expand(node: exp.Expression, catalog: Catalog, referenced: set[str]) -> exp.Expression:
    """``node`` with every call of a user-defined function replaced by its body."""
    functions = {o.name.lower(): o for o in catalog.objects("function")}
    if not functions:
        return node
    return _expand(node, functions, referenced, 0)


def _expand(node, functions: dict[str, Function], referenced: set[str], depth: int):
    def visit(call: exp.Expression) -> exp.Expression:
        if not isinstance(call, exp.Anonymous) or call.name.lower() not in functions:
            return call
        function = functions[call.name.lower()]
        if depth >= _DEPTH:
            raise SqlError(f"function {function.name} calls functions more than {_DEPTH} deep")
        if len(call.expressions) != len(function.parameters):
            raise SqlError(
                f"function {function.name} takes {len(function.parameters)} arguments, "
                f"not {len(call.expressions)}",
                sqlstate=UNDEFINED_FUNCTION,
            )
        referenced.add(function.name)
        if function.language == "python":  # called, not expanded: tidal.engine.udf runs it
            # (its arguments expanded here: transform does not visit the node it returns)
            arguments = [
                _expand(a.copy(), functions, referenced, depth + 1) for a in call.expressions
            ]
            return exp.Anonymous(
                this=function.runtime_name,
                expressions=[cast(a, p.type) for p, a in zip(function.parameters, arguments)],
            )
        arguments = {
            p.name.lower(): cast(a.copy(), p.type)
            for p, a in zip(function.parameters, call.expressions)
        }
        body = exp.maybe_parse(function.body, dialect="duckdb").transform(
            lambda n: arguments[n.name.lower()].copy() if isinstance(n, exp.Column) else n
        )
        body = _expand(body, functions, referenced, depth + 1)
        return cast(exp.paren(body, copy=False), function.returns)

    return node.transform(visit)
