"""Every call the server makes into the engine, in one place: running a statement, a fast read
of a prepared query, learning a query's columns without running it, the catalog.

A statement a client prepares becomes an ``EngineStatement`` once: its parsed form and its
parameters' types. Each execution passes the parameters' values (decoded from the wire by
params.decode). A read the engine's fast path takes (tidal.engine.reads: a simple read of one
relation) runs its compiled plan over the relation's snapshot with the values as arguments:
on the event loop when the plan and snapshot are ready (``read_now``), on the executor when
reading would wait for the database (``read``). Every other statement is run with the values
bound as typed literal nodes into a copy of it (``execute``, on the executor: it blocks).
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
from sqlglot import exp

from tidal.catalog import Catalog, types
from tidal.catalog.users import Users
from tidal.engine import Database
from tidal.engine.reads import MISS
from tidal.shell.pgwire import params
from tidal.shell.pgwire import pg_types as pg

__all__ = ["MISS", "EngineStatement", "catalog", "users"]


def catalog(db: Database) -> Catalog:
    """What exists: for parameter types, the catalog emulation and the pg_catalog rows."""
    return db.catalog


def users(db: Database) -> Users:
    """The users and their password verifiers, for authentication."""
    return db.catalog.users


class EngineStatement:
    """One prepared statement as the engine runs it. ``fast_reads``: whether a query may take
    the engine's fast path (statements inside DECLARE and COPY do not)."""

    def __init__(
        self,
        db: Database,
        text: str,
        statement: exp.Expression,
        param_oids: list[int],
        fast_reads: bool = True,
    ) -> None:
        self.db = db
        self.text = text
        self.statement = statement
        self.param_oids = param_oids
        self._fast = fast_reads and isinstance(statement, exp.Query)
        self._types = tuple(pg.SQL_TYPES.get(oid, "VARCHAR") for oid in param_oids)

    def read_now(self, values: list) -> pa.Table | object | None:
        """The rows of this query with parameter ``values`` if they are ready, ``MISS`` if
        reading them would wait for the database, None if the fast path does not take it."""
        arguments = self._arguments(values)
        if arguments is None:
            return None
        return self.db.reads.execute_prepared(
            self.text, self.statement, self._types, arguments, wait=False
        )

    def read(self, values: list) -> pa.Table | None:
        """``read_now``, waiting for the database where needed (call it on a thread)."""
        arguments = self._arguments(values)
        if arguments is None:
            return None
        return self.db.reads.execute_prepared(self.text, self.statement, self._types, arguments)

    def execute(self, values: list, vet: Callable[[exp.Expression], None] | None = None):
        """Run the statement with ``values`` bound into a copy of it (call it on a thread):
        a table, a ``Status``, a ``Subscription``, or None. ``vet`` sees the bound statement
        first and may refuse it."""
        bound = self.bind(values)
        if vet is not None:
            vet(bound)
        return self.db.execute_statement(bound)

    def bind(self, values: list) -> exp.Expression:
        """A copy of the statement with each ``$n`` the n-th value as a typed literal."""
        if self.param_oids:
            return params.bind(self.statement, self.param_oids, values)
        return self.statement.copy()  # the engine may change what it is given

    def columns(self) -> pa.Schema:
        """The columns the query returns, learnt by binding it (call it on a thread)."""
        bound = params.bind_nulls(self.statement, self.param_oids)
        columns = self.db.execute_statement(exp.Describe(this=bound))
        names = columns.column("column_name").to_pylist()
        kinds = columns.column("column_type").to_pylist()
        return pa.schema([pa.field(n, _arrow_type(t)) for n, t in zip(names, kinds)])

    def _arguments(self, values: list) -> list | None:
        """The values as the fast path's Python arguments; None where it does not go."""
        if not self._fast:
            return None
        arguments = [_python_value(oid, v) for oid, v in zip(self.param_oids, values)]
        if any(a is _UNTAKEN for a in arguments):
            return None  # binding reports a bad value, or handles a type not taken here
        return arguments


def _arrow_type(name: str) -> pa.DataType:
    try:
        return types.to_arrow(name)
    except types.TypeError_:
        return pa.string()


_UNTAKEN = object()
_INTEGER_BITS = {pg.INT2: 16, pg.INT4: 32, pg.INT8: 64}
_TEXT = {pg.TEXT, pg.VARCHAR, pg.BPCHAR, pg.NAME}
_BOOLEANS = {"t": True, "true": True, "y": True, "yes": True, "on": True, "1": True}
_BOOLEANS |= {"f": False, "false": False, "n": False, "no": False, "off": False, "0": False}


def _python_value(oid: int, value: str | bytes | None):
    """A decoded parameter as the Python value the engine takes, as params.literal reads it
    (_UNTAKEN: a type or a spelling left to params.bind)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return _UNTAKEN
    if oid in _TEXT:
        return value
    try:
        if oid in _INTEGER_BITS:
            number = int(value.strip())
            limit = 1 << (_INTEGER_BITS[oid] - 1)
            return number if -limit <= number < limit else _UNTAKEN
        if oid == pg.FLOAT8:
            return float(value.strip())
    except ValueError:
        return _UNTAKEN
    if oid == pg.BOOL:
        return _BOOLEANS.get(value.strip().lower(), _UNTAKEN)
    return _UNTAKEN
