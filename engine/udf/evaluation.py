"""Python function calls inside the expression evaluator (tidal.engine.expressions).

A call is a kernel of its own: its arguments evaluated over the batch, then the function over
them (tidal.engine.udf.registry), its failures settled as its ``on_error`` says. In an
expression DuckDB evaluates, the calls made on every row are made first, by the engine, as
columns (so their failures are per batch row, and DuckDB does not call Python per chunk of
its own); a call in a branch DuckDB may skip for a row (CASE, COALESCE, AND, OR) is left to
DuckDB, which calls the same function registered under the same name.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
from sqlglot import exp

from tidal.catalog import types
from tidal.engine.kernels import broadcast
from tidal.engine.udf import registry
from tidal.sql.plan import Field

_CONDITIONAL = (exp.Case, exp.If, exp.Coalesce, exp.And, exp.Or, exp.Nullif)


def python_call(function: registry.PythonFunction, node: exp.Anonymous, compiler) -> Callable:
    """A kernel ``(batch, values)`` calling ``function`` over the arguments of call ``node``,
    compiled by ``compiler`` (tidal.engine.expressions)."""
    # The arguments come cast to the parameters' types: a cast that changes nothing, or
    # widens, is a kernel (compile_as), not a call of DuckDB.
    arguments = []
    for argument in node.expressions:
        sql_type = compiler.type_of(argument)
        inner = argument.this if isinstance(argument, exp.Cast) else argument
        arguments.append((compiler.compile_as(inner, sql_type), types.to_arrow(sql_type)))

    def run(batch: pa.Table, values) -> pa.Array:
        rows = batch.num_rows
        arrays = [broadcast(a(batch, values), rows, t) for a, t in arguments]
        arrays = [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in arrays]
        result, failures = function.call(arrays)
        function.settle(arrays, failures)
        return result

    return run


def with_calls_first(node: exp.Expression, compiler) -> Callable:
    """A kernel for ``node`` that makes the calls on every row first, appends their values as
    columns, and hands the rest to DuckDB: ``compiler`` (tidal.engine.expressions) compiles
    the calls, and a compiler of its kind over the widened batch the rest."""
    width = len(compiler.fields)
    rest = node.copy()  # the calls replaced by columns c{width}, c{width + 1}, ...
    calls = calls_on_every_row(rest)
    first = [compiler.compile(c) for c in calls]
    added = tuple(Field(f"call{i}", compiler.type_of(c)) for i, c in enumerate(calls))
    arrow_types = [types.to_arrow(f.type) for f in added]
    for i, call in enumerate(calls):
        call.replace(exp.column(f"c{width + i}", quoted=True))
    after = type(compiler)(compiler.fields + added).fallback(rest)

    def run(batch: pa.Table, values) -> pa.Array:
        rows = batch.num_rows
        for i, (call, arrow_type) in enumerate(zip(first, arrow_types)):
            batch = batch.append_column(
                f"c{width + i}", broadcast(call(batch, values), rows, arrow_type)
            )
        return after(batch, values)

    return run


def calls_on_every_row(root: exp.Expression) -> list[exp.Expression]:
    """The Python function calls in ``root`` made for every row: not inside a branch DuckDB may
    skip, nor inside another such call."""
    return [n for n in root.find_all(exp.Anonymous) if _on_every_row(n, root)]


def _on_every_row(call: exp.Expression, root: exp.Expression) -> bool:
    if registry.called(call) is None:
        return False
    node = call.parent
    while node is not None and node is not root.parent:
        if isinstance(node, _CONDITIONAL) or registry.called(node) is not None:
            return False
        node = node.parent
    return True


def calls_volatile(*expressions: exp.Expression) -> bool:
    """Whether any of ``expressions`` calls a VOLATILE Python function (whose projection or
    filter then remembers what it emitted: tidal.engine.operators)."""
    return any(
        (function := registry.called(n)) is not None and function.definition.volatile
        for e in expressions
        for n in e.walk()
    )
