"""Queries on the engine's fast path (tidal.engine.reads): a prepared statement is bound once,
and each execution runs its compiled plan over the relation's snapshot with the parameters'
values, instead of binding literals into a copy of the statement and running it afresh.

A read whose plan and snapshot are ready runs on the event loop: it takes no lock and costs
about as much as encoding its rows. One that would wait for the database (the first execution
of a statement, the first read after a tick) runs on the executor. A statement the fast path
does not take (not a simple read of one relation) returns None: the runner then runs it as
before, and reports any error the usual way.
"""

from __future__ import annotations

import pyarrow as pa
from sqlglot import exp

from tidal.shell.pgwire import pg_types as pg
from tidal.shell.pgwire.prepared import ENGINE, Prepared


def read_now(db, statement: Prepared, values: list) -> pa.Table | object | None:
    """The rows of query ``statement`` with parameter ``values`` if they are ready, ``MISS``
    if reading them would wait for the database, or None (not a read the fast path takes)."""
    call = _call(statement, values)
    return None if call is None else db.reads.execute_prepared(*call, wait=False)


def read(db, statement: Prepared, values: list) -> pa.Table | None:
    """``read_now``, waiting for the database where needed (call it on a thread)."""
    call = _call(statement, values)
    return None if call is None else db.reads.execute_prepared(*call)


def _call(statement: Prepared, values: list) -> tuple | None:
    if statement.kind != ENGINE or not isinstance(statement.statement, exp.Query):
        return None
    arguments = [_python_value(oid, v) for oid, v in zip(statement.param_oids, values)]
    if any(a is _UNTAKEN for a in arguments):
        return None  # binding reports a bad value, or handles a type not taken here
    types = tuple(pg.SQL_TYPES.get(oid, "VARCHAR") for oid in statement.param_oids)
    return statement.text, statement.statement, types, arguments


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
