"""Fixtures of the connector tests: a real PostgreSQL server, started once per session."""

from __future__ import annotations

import itertools

import pytest

from tests.connectors.postgres_server import PostgresServer

_names = itertools.count()


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture
def postgres(postgres_server):
    """The session's server, in a database of this test's own (dropped afterwards)."""
    name = f"t{next(_names)}"
    postgres_server.execute(f"CREATE DATABASE {name}")
    yield postgres_server.database(name)
    for (slot,) in postgres_server.execute(
        "SELECT slot_name FROM pg_replication_slots WHERE database = %s", (name,)
    ):
        postgres_server.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
    postgres_server.execute(f"DROP DATABASE {name} WITH (FORCE)")
