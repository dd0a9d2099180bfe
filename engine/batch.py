"""The batch backend: a plan lowered to DuckDB SQL, run over Arrow tables.

It answers ad hoc queries over the current contents of tables and views, computes the
per-key results of the keyed-recompute operators, and runs ``tidal run --batch``. Its DuckDB
connection is locked: no file access, no settings, whatever SQL reaches it. A plan's statement
parameters reach DuckDB as a prepared statement's values, never as text.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence

import duckdb
import pyarrow as pa

from tidal.catalog import types
from tidal.catalog.sqlstate import DATA_EXCEPTION, TidalError
from tidal.engine.cancellation import interrupting
from tidal.engine.zset import WEIGHT, expand, with_weight
from tidal.sql.duckdb_messages import data_message
from tidal.sql.lower import lower, parameter_numbers, quote, to_sql
from tidal.sql.plan import Field, Plan, Scan
from tidal.sql.typeinfer import AD_HOC, connect_locked

# Types whose Arrow form DuckDB reads back as another type (HUGEINT arrives as DECIMAL(38,0)).
_RECAST = ("HUGEINT", "UUID", "JSON")


class BatchError(TidalError):
    """DuckDB failed while running a query over the data (e.g. division by zero)."""

    sqlstate = DATA_EXCEPTION


class BatchBackend:
    """DuckDB for the engine's own work: one connection, one query at a time. ``ad_hoc``:
    for clients' queries instead, each on a connection of its own to a DuckDB instance of
    its own (tidal.sql.typeinfer.AD_HOC), so that many run at once and none holds up the
    engine's work."""

    def __init__(self, ad_hoc: bool = False) -> None:
        self.ad_hoc = ad_hoc
        self._connection = None if ad_hoc else connect_locked()
        self._lock = threading.Lock()
        self._names = itertools.count()

    def query(
        self, sql: str, tables: dict[str, pa.Table], parameters: dict[str, object] | None = None
    ) -> pa.Table:
        """Run ``sql`` with each Arrow table registered under its name, and ``$n`` in it bound
        to ``parameters[str(n)]``. A cancel of the statement running it interrupts it."""
        if self.ad_hoc:
            connection = connect_locked(AD_HOC)
            try:
                return _run(connection, sql, tables, parameters)
            finally:
                connection.close()
        with self._lock:
            return _run(self._connection, sql, tables, parameters)

    def run(
        self, plan: Plan, relations: dict[str, pa.Table], arguments: Sequence[object] = ()
    ) -> pa.Table:
        """The result of ``plan``, its scans reading ``relations`` (plain tables by name), its
        parameter ``$n`` (``tidal.sql.plan.parameter``) bound to ``arguments[n - 1]``."""
        registered: dict[str, pa.Table] = {}

        def scan_sql(scan: Scan) -> str:
            name = f"__rel{next(self._names)}"
            registered[name] = relations[scan.relation.lower()]
            return _recast(scan, quote(name))

        sql = to_sql(plan, scan_sql)
        numbers = parameter_numbers(plan)
        if numbers and numbers[-1] > len(arguments):
            raise BatchError(f"parameter ${numbers[-1]} has no value")
        return self.query(sql, registered, {str(n): arguments[n - 1] for n in numbers})

    def compute(self, node: Plan):
        """A function from the node's inputs (Z-sets, positive weights) to its output Z-set."""
        children = node.children()
        placeholders = tuple(
            Scan(
                f"__input{i}",
                "input",
                tuple(Field(f"c{j}", f.type) for j, f in enumerate(child.schema)),
            )
            for i, child in enumerate(children)
        )
        local = node.with_children(placeholders)
        sql = lower(local, lambda scan: _recast(scan, quote(scan.relation)))

        def run(inputs: list[pa.Table]) -> pa.Table:
            tables = {f"__input{i}": expand(t) for i, t in enumerate(inputs)}
            result = self.query(sql, tables)
            names = [f"c{i}" for i in range(len(node.schema))]
            return with_weight(result.select(list(range(len(names)))).rename_columns(names))

        return run


def _run(connection, sql: str, tables: dict[str, pa.Table], parameters) -> pa.Table:
    for name, table in tables.items():
        connection.register(name, table)
    try:
        with interrupting(connection):
            return connection.sql(sql, params=parameters or None).to_arrow_table()
    except duckdb.Error as error:
        raise BatchError(*data_message(str(error).split("\n")[0])) from None
    finally:
        for name in tables:
            connection.unregister(name)


def _recast(scan: Scan, table_sql: str) -> str:
    """The scanned table with columns of lossy Arrow types cast back to their SQL type."""
    if not any(f.type in _RECAST for f in scan.schema):
        return table_sql
    items = ", ".join(
        f"CAST({quote(f.name)} AS {f.type}) AS {quote(f.name)}"
        if f.type in _RECAST
        else quote(f.name)
        for f in scan.schema
    )
    return f"(SELECT {items} FROM {table_sql})"


def plain_rows(contents: pa.Table, fields: tuple[Field, ...]) -> pa.Table:
    """A consolidated Z-set as a plain table with the relation's column names."""
    rows = expand(contents) if WEIGHT in contents.column_names else contents
    schema = pa.schema([pa.field(f.name, types.to_arrow(f.type)) for f in fields])
    return (
        pa.Table.from_arrays(rows.columns, schema=schema)
        if rows.num_columns
        else schema.empty_table()
    )
