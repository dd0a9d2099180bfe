"""Every call the server makes into the engine, in one place: preparing a statement and running
it with its parameters' values, learning a query's columns without running it, the catalog.

A statement a client prepares becomes an ``EngineStatement`` once: its parsed form, its
parameters' SQL types (declared, else inferred by tidal.sql.parameters) and their OIDs. Each
execution reads the values the client sent (text, as params.decode gives them) as PostgreSQL's
input functions do (tidal.sql.parameters.read_value) and runs the engine's prepared statement
(tidal.engine.prepared_statements) with them as arguments: on the event loop when that needs no
waiting (``run_now``: a simple read whose plan and snapshot are ready), else on the executor
(``run``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import pyarrow as pa
from sqlglot import exp

from tidal.catalog import Catalog, types
from tidal.catalog.users import Users
from tidal.engine import Database
from tidal.engine.prepared_statements import MISS, PreparedStatement
from tidal.engine.transactions import Transaction
from tidal.shell.pgwire import params
from tidal.sql.cursor_statements import CopyFrom
from tidal.sql.parameters import infer_types, read_value

__all__ = ["MISS", "EngineStatement", "catalog", "users"]

# Engine statements kept per client statement, one per distinct types its values run as (a
# NUMERIC parameter runs as its value's DECIMAL(width, scale)).
KEPT_TYPINGS = 16


def catalog(db: Database) -> Catalog:
    """What exists: for the catalog emulation and the pg_catalog rows."""
    return db.catalog


def users(db: Database) -> Users:
    """The users and their password verifiers, for authentication."""
    return db.catalog.users


def copy_columns(db: Database, statement: CopyFrom) -> int:
    """How many columns a COPY FROM STDIN reads (its table and columns checked)."""
    return db.copy_columns(statement)


def copy_rows(
    db: Database, statement: CopyFrom, data: bytes, transaction: Transaction | None = None
) -> tuple[str, tuple[str, ...]]:
    """Load the rows a client sent for COPY FROM STDIN (into ``transaction``, if given): the
    command tag, and the lines left out (tidal.engine.copy_from)."""
    status = db.copy_rows(statement, data, transaction=transaction)
    return status.tag, status.notices


class EngineStatement:
    """One client statement as the engine runs it, with its parameters' OIDs ``param_oids``
    (as declared, else inferred) for the client."""

    def __init__(self, db: Database, statement: exp.Expression, declared: tuple[int, ...]) -> None:
        self.db = db
        self.statement = statement
        self.types = infer_types(statement, db.catalog, params.declared_types(declared))
        self.param_oids = params.oids(declared, self.types)
        self._prepared: OrderedDict[tuple, PreparedStatement] = OrderedDict()

    def run_now(self, values: list) -> pa.Table | object:
        """The rows of this query with parameter ``values`` if they are ready, ``MISS`` if
        getting them would wait (then ``run`` on a thread)."""
        prepared, arguments = self._prepare(values)
        return prepared.run(arguments, wait=False)

    def run(
        self,
        values: list,
        vet: Callable[[exp.Expression], None] | None = None,
        transaction: Transaction | None = None,
    ):
        """Run the statement with ``values`` (call it on a thread), inside ``transaction`` if
        given: a table, a ``Status``, a ``Subscription``. ``vet`` sees the statement first and
        may refuse it."""
        if vet is not None:
            vet(self.statement)
        prepared, arguments = self._prepare(values)
        return prepared.run(arguments, transaction=transaction)

    def columns(self) -> pa.Schema:
        """The columns the query returns, learnt by compiling it (call it on a thread)."""
        columns = self._prepare([None] * len(self.types))[0].columns()
        return pa.schema([pa.field(name, _arrow_type(kind)) for name, kind in columns])

    def _prepare(self, values: list) -> tuple[PreparedStatement, list]:
        """The engine's statement for the types these values run as, and the values read."""
        typed = [read_value(t, v) for t, v in zip(self.types, values)]
        run_types = tuple(t for t, _ in typed)
        prepared = self._prepared.get(run_types)
        if prepared is None:
            prepared = self.db.prepare(self.statement, run_types)
            self._prepared[run_types] = prepared
            if len(self._prepared) > KEPT_TYPINGS:
                self._prepared.popitem(last=False)
        return prepared, [v for _, v in typed]


def _arrow_type(name: str) -> pa.DataType:
    try:
        return types.to_arrow(name)
    except types.TypeError_:
        return pa.string()
