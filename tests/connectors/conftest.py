"""Fixtures of the connector tests: a real PostgreSQL server, started once per session."""

from __future__ import annotations

import itertools
import time

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
    # A Database the test left open still streams from its slot: end that first.
    postgres_server.execute(
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
        "WHERE database = %s AND active",
        (name,),
    )
    deadline = time.monotonic() + 10
    while slots := postgres_server.execute(
        "SELECT slot_name FROM pg_replication_slots WHERE database = %s AND NOT active", (name,)
    ):
        for (slot,) in slots:
            postgres_server.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
        assert time.monotonic() < deadline
    postgres_server.execute(f"DROP DATABASE {name} WITH (FORCE)")
