"""DuckDB as the expression evaluator's fallback: an expression the kernels do not compute
(tidal.engine.expressions) is evaluated by DuckDB over each batch, one call per batch, with the
statement parameters it reads passed as a prepared statement's values, never as text.

>>> import pyarrow as pa
>>> from tidal.engine.arguments import argument_reader
>>> run = over_batches("upper(\\"c0\\") || CAST($1 AS VARCHAR)", "VARCHAR", {0: "VARCHAR"},
...                    {1: argument_reader(1, pa.string())})
>>> run(pa.table({"c0": ["a", None]}), ["'; DROP"]).to_pylist()
["A'; DROP", None]
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import duckdb
import pyarrow as pa

from tidal.engine.arguments import Arguments
from tidal.sql.typeinfer import connect_locked

_CONNECTION: duckdb.DuckDBPyConnection | None = None
_LOCK = threading.Lock()  # one connection, its registered batch: one caller at a time


def over_batches(
    sql: str,
    result_type: str,
    columns: dict[int, str],
    parameters: dict[int, Callable[[Arguments], object]],
) -> Callable[[pa.Table, Arguments], pa.ChunkedArray]:
    """A function ``(batch, arguments)`` giving the values of DuckDB expression ``sql`` as
    ``result_type``: ``sql`` reads columns ``c{i}`` of SQL type ``columns[i]`` and parameters
    ``$n`` whose value ``parameters[n]`` reads from the arguments. A failure raises
    ``duckdb.Error``."""
    positions = sorted(columns)
    projection = (
        ", ".join(f'CAST("c{i}" AS {columns[i]}) AS "c{i}"' for i in positions) or "1 AS __unit"
    )
    query = f"SELECT CAST({sql} AS {result_type}) AS v FROM (SELECT {projection} FROM batch) AS t"

    def run(batch: pa.Table, arguments: Arguments) -> pa.ChunkedArray:
        global _CONNECTION
        projected = (
            batch.select([f"c{i}" for i in positions])
            if positions
            else pa.table({"__unit": pa.nulls(batch.num_rows, pa.int8())})
        )
        values = {str(number): read(arguments) for number, read in parameters.items()}
        with _LOCK:
            if _CONNECTION is None:
                _CONNECTION = connect_locked()
            _CONNECTION.register("batch", projected)
            try:
                result = _CONNECTION.sql(query, params=values or None).to_arrow_table()
            finally:
                _CONNECTION.unregister("batch")
        return result.column(0)

    return run
