"""SQL the binder does not implement is refused by name (SQLSTATE 0A000), never dropped: a
clause or argument that sqlglot parsed and no part of the compiler consumed is an error that
names it, in queries, views and batch mode alike."""

from __future__ import annotations

import pytest

from tidal.engine import Database
from tidal.sql.errors import SqlError


@pytest.fixture(scope="module")
def db() -> Database:
    database = Database()
    database.execute("""
        CREATE TABLE a (k INTEGER, x INTEGER);
        CREATE TABLE b (k INTEGER, y INTEGER);
        INSERT INTO a VALUES (1, 10), (2, 20);
        INSERT INTO b VALUES (2, 200), (3, 300);
    """)
    return database


def refusal(db: Database, sql: str) -> str:
    """The message of the 0A000 error ``sql`` gets, as a query and as a materialized view."""
    messages = []
    for statement in (sql, f"CREATE MATERIALIZED VIEW refused AS {sql}"):
        with pytest.raises(SqlError) as caught:
            db.execute(statement)
        assert caught.value.sqlstate == "0A000", caught.value.message
        messages.append(caught.value.message)
    assert db.catalog.find("refused") is None
    return messages[0]


def test_asof_join_is_refused_as_asof_join_not_as_natural_join(db):
    message = refusal(db, "SELECT a.k FROM a ASOF JOIN b ON a.k >= b.k")
    assert message == "not supported: ASOF JOIN"
