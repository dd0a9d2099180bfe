"""Connections to PostgreSQL for the CDC source and the sink, through psycopg2.

psycopg2 rather than psycopg 3: only psycopg2 speaks the replication protocol that logical
decoding streams over. It is an optional dependency (``pip install 'tidal[postgres]'``).

>>> quote('a"b')
'"a""b"'
>>> qualified("sales.orders")
'"sales"."orders"'
"""

from __future__ import annotations

import contextlib
from types import ModuleType

from tidal.engine.connectors.base import ConnectorError


def driver() -> ModuleType:
    """The psycopg2 module, or a ConnectorError saying how to install it."""
    try:
        import psycopg2
        import psycopg2.extras
    except ImportError:
        raise ConnectorError(
            "the PostgreSQL connectors need psycopg2: pip install 'tidal[postgres]'"
        ) from None
    return psycopg2


def connect(what: str, replication: bool = False, **params):
    """A connection (a logical replication one with ``replication``), or a ConnectorError
    naming ``what`` and why."""
    psycopg2 = driver()
    factory = psycopg2.extras.LogicalReplicationConnection if replication else None
    try:
        return psycopg2.connect(connection_factory=factory, connect_timeout=10, **params)
    except psycopg2.Error as error:
        raise ConnectorError(
            f"{what}: cannot connect to PostgreSQL: {str(error).strip()}"
        ) from None


def close_quietly(connection) -> None:
    """Close a connection that may be broken already (nothing is left to release then)."""
    if connection is not None:
        with contextlib.suppress(driver().Error):
            connection.close()


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualified(name: str) -> str:
    """``schema.table`` or ``table``, quoted part by part."""
    return ".".join(quote(part) for part in name.split("."))
