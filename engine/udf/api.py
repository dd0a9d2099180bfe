"""Python functions registered from Python: ``Database.create_function`` and ``@udf``.

In the manner of DuckDB's ``create_function``: the SQL types come from the arguments, or else
from the function's annotations (``int`` BIGINT, ``float`` DOUBLE, ``str`` VARCHAR, ``bool``
BOOLEAN, ``bytes`` BLOB, ``datetime.date`` DATE, ``datetime.datetime`` TIMESTAMP,
``decimal.Decimal`` DECIMAL(38, 9)); the options are those of ``CREATE FUNCTION ... WITH (...)``
(tidal.sql.python_functions.OPTIONS), plus ``volatile``.

>>> @udf(on_error="null")
... def half(x: int) -> float:
...     return x / 2
>>> f = definition(half)
>>> f.name, [p.type for p in f.parameters], f.returns, f.options
('half', ['BIGINT'], 'DOUBLE', (('on_error', 'null'),))
"""

from __future__ import annotations

import datetime
import decimal
import inspect
import typing
from collections.abc import Callable, Sequence

from tidal.catalog import types
from tidal.catalog.objects import Column, Function
from tidal.catalog.sqlstate import INVALID_FUNCTION_DEFINITION, TidalError
from tidal.sql.python_functions import check_options

_ANNOTATIONS: dict[object, str] = {
    int: "BIGINT",
    float: "DOUBLE",
    str: "VARCHAR",
    bool: "BOOLEAN",
    bytes: "BLOB",
    datetime.date: "DATE",
    datetime.datetime: "TIMESTAMP",
    decimal.Decimal: "DECIMAL(38, 9)",
}
_SIGNATURE = "__tidal_function__"


class FunctionSignatureError(TidalError):
    sqlstate = INVALID_FUNCTION_DEFINITION


def udf(
    function: Callable | None = None,
    *,
    name: str | None = None,
    parameters: Sequence[str] | None = None,
    returns: str | None = None,
    volatile: bool = False,
    **options: object,
):
    """Mark ``function`` as a SQL function (``@udf`` or ``@udf(returns="DOUBLE", ...)``), for
    ``Database.create_function(function)``; the function itself is unchanged."""

    def mark(f: Callable) -> Callable:
        setattr(f, _SIGNATURE, (name, parameters, returns, volatile, options))
        return f

    return mark(function) if function is not None else mark


def definition(
    function: Callable,
    name: str | None = None,
    parameters: Sequence[str] | None = None,
    returns: str | None = None,
    volatile: bool = False,
    **options: object,
) -> Function:
    """The catalog object of ``function`` as a SQL function; what ``@udf`` gave fills in what
    the arguments leave out."""
    marked = getattr(function, _SIGNATURE, None)
    if marked is not None:
        name = name or marked[0]
        parameters = parameters if parameters is not None else marked[1]
        returns = returns or marked[2]
        volatile = volatile or marked[3]
        options = {**marked[4], **options}
    name = name or function.__name__
    hints = _hints(function)
    names = list(inspect.signature(function).parameters)
    if parameters is None:
        parameters = [_from_annotation(hints.get(p), f"parameter {p} of {name}") for p in names]
    if returns is None:
        returns = _from_annotation(hints.get("return"), f"the return type of {name}")
    text_options = {k: str(v) for k, v in options.items() if v is not None}
    check_options(text_options, name)
    columns = tuple(
        Column(p, types.normalize(t))
        for p, t in zip(names or [f"a{i}" for i in range(len(parameters))], parameters)
    )
    if not columns:
        raise FunctionSignatureError(f"Python function {name} takes no argument: give it one")
    if len(columns) != len(parameters):
        raise FunctionSignatureError(
            f"{name} takes {len(names)} parameters, but {len(parameters)} types were given"
        )
    return Function(
        name,
        columns,
        types.normalize(returns),
        "",
        language="python",
        options=tuple(text_options.items()),
        volatile=volatile,
    )


def _hints(function: Callable) -> dict:
    try:
        return typing.get_type_hints(function)
    except Exception:  # noqa: BLE001 (annotations that do not resolve: as if absent)
        return {}


def _from_annotation(annotation: object, what: str) -> str:
    found = _ANNOTATIONS.get(annotation)
    if found is None:
        raise FunctionSignatureError(
            f"{what}: {'no annotation' if annotation is None else repr(annotation)} gives no SQL "
            "type: annotate it (int, float, str, ...) or give the types, e.g. "
            "create_function('f', f, ['BIGINT'], 'DOUBLE')"
        )
    return found
