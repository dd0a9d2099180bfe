"""``CREATE FUNCTION ... LANGUAGE python``: the catalog object of a Python function.

    CREATE FUNCTION score(amount DOUBLE, tags VARCHAR) RETURNS DOUBLE LANGUAGE python
        WITH (vectorized = 'arrow', on_error = 'dead_letter', dead_letter_table = 'bad_scores')
        AS $$
    import pyarrow.compute as pc
    def score(amount, tags):
        return pc.multiply(amount, 2)
    $$;

The body is Python source defining a function of the function's name (run by
tidal.engine.udf). ``RETURNS TABLE (col type, ...)`` makes a table function (a generator of rows:
tuples, or dicts by column name), ``VOLATILE`` one whose result may differ between calls. The
options (``OPTIONS`` below) are checked here, so a misspelt one is an error, not ignored.

>>> from tidal.sql.parser import parse_statement
>>> f = python_function(parse_statement(
...     "CREATE FUNCTION f(x BIGINT) RETURNS BIGINT LANGUAGE python WITH (batch_size = 100) "
...     "AS $$def f(x): return x$$"))
>>> f.name, f.parameters[0].type, f.returns, f.options
('f', 'BIGINT', 'BIGINT', (('batch_size', '100'),))
"""

from __future__ import annotations

import re
from dataclasses import replace

from sqlglot import exp

from tidal.catalog import types
from tidal.catalog.objects import Column, Function
from tidal.catalog.sqlstate import (
    INVALID_FUNCTION_DEFINITION,
    INVALID_PARAMETER_VALUE,
    UNDEFINED_OBJECT,
)
from tidal.sql.errors import SqlError, unsupported
from tidal.sql.intervals import duration_seconds

# option -> the values it takes (None: checked by _check below)
OPTIONS: dict[str, tuple[str, ...] | None] = {
    "vectorized": ("arrow", "pandas"),
    "on_error": ("fail", "null", "dead_letter"),
    "dead_letter_table": None,
    "batch_size": None,
    "workers": None,
    "timeout": None,
}
DEAD_LETTER_TABLE = "dead_letter_table"


def is_python_function(statement: exp.Expression) -> bool:
    """Whether ``statement`` creates a Python function (CREATE FUNCTION or AGGREGATE)."""
    if isinstance(statement, exp.Create):
        language = statement.find(exp.LanguageProperty)
        return language is not None and language.name.lower() == "python"
    if isinstance(statement, exp.Command) and statement.this.upper() == "CREATE":
        # Every CREATE AGGREGATE: tidal's only aggregates are Python's, and reading the
        # language out of the text would let a spelling (quotes, comments) slip through.
        rest = statement.expression
        text = rest.name if isinstance(rest, exp.Expression) else str(rest or "")
        return text.lstrip().upper().startswith("AGGREGATE")
    return False


def python_function(create: exp.Create) -> Function:
    """The catalog object of ``CREATE FUNCTION ... LANGUAGE python`` (its source not yet run)."""
    udf = create.this
    name = udf.this.name
    parameters = tuple(
        Column(p.name, declared_type(p.args.get("kind"), f"parameter {p.name} of {name}"))
        for p in udf.expressions
    )
    returns, columns, options, volatile = None, (), [], False
    properties = create.args.get("properties")
    for prop in properties.expressions if properties else []:
        if isinstance(prop, exp.ReturnsProperty):
            if isinstance(prop.this, exp.Schema):  # RETURNS TABLE (...)
                columns = tuple(
                    Column(c.name, declared_type(c.args.get("kind"), f"column {c.name} of {name}"))
                    for c in prop.this.expressions
                )
            else:
                returns = declared_type(prop.this, f"the return type of {name}")
        elif isinstance(prop, exp.LanguageProperty):
            continue
        elif isinstance(prop, exp.StabilityProperty):
            volatile = prop.name.upper() == "VOLATILE"
        elif type(prop) is exp.Property:
            options.append(_option(prop, name))
        else:
            raise unsupported(f"{prop.sql()} in CREATE FUNCTION {name}")
    if returns is None and not columns:
        raise SqlError(f"CREATE FUNCTION {name} needs RETURNS type (or RETURNS TABLE (...))")
    if not parameters:
        raise SqlError(
            f"Python function {name} takes no argument: give it at least one (the rows it is "
            "called for are those of its arguments)",
            sqlstate=INVALID_FUNCTION_DEFINITION,
        )
    body = create.expression
    if not isinstance(body, (exp.Heredoc, exp.Literal)) or not body.name.strip():
        raise SqlError(
            f"the body of {name}: write AS $$ ...Python source defining {name}... $$",
            sqlstate=INVALID_FUNCTION_DEFINITION,
        )
    check_options(dict(options), name)
    if columns and dict(options).get("vectorized"):
        raise unsupported(
            f"vectorized table function {name}: a table function yields rows per input row "
            "(leave out vectorized)"
        )
    if columns:  # a table function returns its rows as a list of structs, unnested
        fields = ", ".join(f"{types.field_sql(c.name)} {c.type}" for c in columns)
        returns = f"STRUCT({fields})[]"
    return Function(
        name,
        parameters,
        returns,
        body.name,
        language="python",
        role="table" if columns else "scalar",
        columns=columns,
        options=tuple(options),
        volatile=volatile,
    )


def _option(prop: exp.Property, name: str) -> tuple[str, str]:
    key = (prop.name if isinstance(prop.this, exp.Literal) else prop.this.sql()).lower()
    if key not in OPTIONS:
        raise SqlError(
            f"CREATE FUNCTION {name}: unknown option {key!r}; the options are {', '.join(OPTIONS)}",
            sqlstate=INVALID_PARAMETER_VALUE,
        )
    value = prop.args.get("value")
    text = value.name if isinstance(value, (exp.Literal, exp.Identifier, exp.Var)) else value.sql()
    return key, text


def check_options(options: dict[str, str], name: str) -> None:
    for key, allowed in OPTIONS.items():
        value = options.get(key)
        if value is not None and allowed is not None and value.lower() not in allowed:
            raise SqlError(
                f"{key} = {value!r} for {name}: use one of {', '.join(map(repr, allowed))}",
                sqlstate=INVALID_PARAMETER_VALUE,
            )
    for key in ("batch_size", "workers"):
        value = options.get(key)
        if value is not None and (not value.isdigit() or int(value) < (key == "batch_size")):
            raise SqlError(
                f"{key} = {value!r} for {name}: a whole number"
                + (" of at least 1" if key == "batch_size" else ""),
                sqlstate=INVALID_PARAMETER_VALUE,
            )
    if "timeout" in options:
        duration_seconds(options["timeout"], f"timeout of {name}")
    dead_letters = options.get("on_error", "").lower() == "dead_letter"
    if dead_letters != (DEAD_LETTER_TABLE in options):
        raise SqlError(
            f"{name}: on_error = 'dead_letter' goes with dead_letter_table = 'name' (the table "
            "that keeps the failing rows), and the table only with it",
            sqlstate=INVALID_PARAMETER_VALUE,
        )


def declared_type(node: exp.Expression | None, what: str) -> str:
    """The canonical name of a type written in a function's declaration (``what`` says
    where, in errors)."""
    if node is None:
        raise SqlError(f"{what} needs a type")
    try:
        return types.normalize(node.sql(dialect="duckdb"))
    except types.TypeError_ as error:
        raise SqlError(f"{what}: {error}", sqlstate=UNDEFINED_OBJECT) from None


# --- aggregates -------------------------------------------------------------------------------


def python_aggregate(statement: exp.Command) -> Function:
    """``CREATE AGGREGATE f(params) RETURNS type LANGUAGE python AS $$ ... $$`` (RisingWave's
    spelling): the source defines ``create_state()``, ``accumulate(state, *args) -> state``,
    ``finish(state) -> value``, and optionally ``retract(state, *args) -> state`` and
    ``merge(state, state) -> state``."""
    from tidal.sql.parser import parse_statement

    rest = statement.expression
    text = rest.name if isinstance(rest, exp.Expression) else str(rest or "")
    create = parse_statement("CREATE FUNCTION " + text.strip()[len("AGGREGATE") :])
    if not isinstance(create, exp.Create):
        raise SqlError(
            "CREATE AGGREGATE name(param type, ...) RETURNS type LANGUAGE python AS $$...$$"
        )
    function = python_function(create)
    if not function.parameters:
        raise SqlError(
            f"aggregate {function.name} takes no argument: give it at least one (count(*) "
            "counts rows)",
            sqlstate=INVALID_FUNCTION_DEFINITION,
        )
    if function.columns or function.options or function.volatile:
        raise unsupported(
            f"aggregate {function.name} with RETURNS TABLE, VOLATILE or WITH (...) options"
        )
    return replace(function, role="aggregate")


AGGREGATE_PREFIX = "tidal_python_aggregate_"  # the runtime names of Python aggregates


_RUNTIME_NAME = re.compile(r"\btidal_python_(?:aggregate_)?\d+_(\w+)", re.IGNORECASE)


def shown_names(text: str) -> str:
    """``text`` (SQL of a bound plan) with Python functions' runtime names shown as the names
    they were created with (lower case).

    >>> shown_names("TIDAL_PYTHON_3_SCORE(x) + tidal_python_aggregate_4_total(y)")
    'score(x) + total(y)'
    """
    return _RUNTIME_NAME.sub(lambda m: m.group(1).lower(), text)


def is_python_aggregate(name: str) -> bool:
    """Whether a call of ``name`` in a bound plan is one of a Python aggregate."""
    return name.startswith(AGGREGATE_PREFIX)


def aggregate_list_sql(
    runtime_name: str, arguments: list[exp.Expression], condition: exp.Expression | None
) -> exp.Expression:
    """A Python aggregate call as DuckDB computes it: the aggregate's runtime function (a
    scalar) over the list of the group's argument rows (those with no NULL argument, and that
    meet the call's FILTER, as SQL's aggregates skip NULLs), in the order of their values, so
    the list does not depend on the order rows arrived in."""
    if len(arguments) == 1:
        item: exp.Expression = arguments[0].copy()
    else:
        item = exp.Anonymous(
            this="struct_pack",
            expressions=[
                exp.PropertyEQ(this=exp.to_identifier(f"a{i}"), expression=a.copy())
                for i, a in enumerate(arguments)
            ],
        )
    conditions = [exp.Not(this=exp.Is(this=a.copy(), expression=exp.Null())) for a in arguments]
    if condition is not None:
        conditions.append(exp.paren(condition.copy()))
    ordered = exp.Order(this=item, expressions=[exp.Ordered(this=item.copy())])
    listed = exp.Filter(
        this=exp.ArrayAgg(this=ordered), expression=exp.Where(this=exp.and_(*conditions))
    )
    return exp.Anonymous(this=runtime_name, expressions=[listed])


def aggregate_list_type(function: Function) -> str:
    """The type of the list ``aggregate_call`` hands the runtime function."""
    if len(function.parameters) == 1:
        return f"{function.parameters[0].type}[]"
    fields = ", ".join(f"a{i} {p.type}" for i, p in enumerate(function.parameters))
    return f"STRUCT({fields})[]"
