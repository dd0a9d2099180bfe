"""Limits a client cannot push the server past: each refused with a 54000-class SQLSTATE
before anything sized by it is built, the server answering others meanwhile."""

from __future__ import annotations

import asyncio
import threading
import time

import asyncpg
import psycopg
import pytest

HUGE_PARAMETERS = ["SELECT $2147483647", "SELECT $300000000 FROM pg_catalog.pg_class"]


@pytest.mark.parametrize("query", HUGE_PARAMETERS)
def test_a_huge_parameter_number_is_refused_in_a_simple_query(server, query):
    with psycopg.connect(server.dsn, autocommit=True, connect_timeout=10) as connection:
        with pytest.raises(psycopg.errors.ProgramLimitExceeded, match="at most 65,535"):
            connection.execute(query.encode())  # bytes: sent as written, no placeholders
        assert connection.execute("SELECT 1 AS one").fetchone() == (1,)


@pytest.mark.parametrize("query", HUGE_PARAMETERS)
def test_a_huge_parameter_number_is_refused_at_parse(server, query):
    async def parse() -> None:
        connection = await asyncpg.connect(
            host=server.host, port=server.port, user="tester", database="tidal", timeout=10
        )
        try:
            with pytest.raises(asyncpg.exceptions.ProgramLimitExceededError):
                await connection.prepare(query)
            assert await connection.fetchval("SELECT 2") == 2
        finally:
            await connection.close()

    asyncio.run(asyncio.wait_for(parse(), 30))


@pytest.mark.parametrize("columns", [1664, 1665, 50_000])
def test_a_select_list_is_limited_as_postgresql_limits_it(server, columns):
    query = "SELECT " + ", ".join(f"{i} AS c{i}" for i in range(columns))
    with psycopg.connect(server.dsn, autocommit=True, connect_timeout=10) as connection:
        if columns <= 1664:
            assert len(connection.execute(query.encode()).fetchone()) == columns
            return
        with pytest.raises(psycopg.errors.TooManyColumns, match="at most 1664 entries"):
            connection.execute(query.encode())
        assert connection.execute("SELECT 1 AS one").fetchone() == (1,)


def test_select_star_past_the_limit_is_refused(server):
    wide = ", ".join(f"{i} AS c{i}" for i in range(900))
    query = f"SELECT * FROM (SELECT {wide}) AS a, (SELECT {wide}) AS b"
    with (
        psycopg.connect(server.dsn, autocommit=True, connect_timeout=10) as connection,
        pytest.raises(psycopg.errors.TooManyColumns, match="this one has 1,800"),
    ):
        connection.execute(query.encode())


@pytest.mark.parametrize("protocol", ["simple", "extended"])
def test_a_long_statement_is_read_off_the_event_loop(server, protocol):
    """A 400 KB statement takes seconds to parse and type: meanwhile other clients are
    answered (it is read on a thread, not on the loop that serves everyone)."""
    long = "SELECT count(*) AS n FROM t WHERE v IN (" + ", ".join(map(str, range(60_000))) + ")"
    took: dict[str, float] = {}

    def run_long() -> None:
        with psycopg.connect(server.dsn, autocommit=True, connect_timeout=10) as connection:
            sql = long.encode() if protocol == "simple" else long
            started = time.monotonic()
            connection.execute(sql, prepare=protocol == "extended")
            took["long"] = time.monotonic() - started

    with psycopg.connect(server.dsn, autocommit=True, connect_timeout=10) as other:
        thread = threading.Thread(target=run_long)
        thread.start()
        time.sleep(0.3)  # the server is reading it
        slowest = 0.0
        for _ in range(10):
            started = time.monotonic()
            assert other.execute("SELECT 1 AS one").fetchone() == (1,)
            slowest = max(slowest, time.monotonic() - started)
        thread.join(120)
    # read on the loop, the first read waited for nearly all of it (seconds)
    assert slowest < took["long"] / 4


@pytest.mark.parametrize(
    "nested",
    [
        ("SELECT " + "ARRAY[" * 40 + "1" + "]" * 40, psycopg.errors.StatementTooComplex),
        ("SELECT " + "(" * 500 + "1" + ")" * 500, psycopg.errors.StatementTooComplex),
        # not tidal's SQL, so also read as a catalog query: in linear time there too
        ("SELECT " + "ARRAY[" * 30 + "1" + "]" * 29, psycopg.errors.SyntaxError),
    ],
)
def test_deep_nesting_is_refused_at_once_and_the_session_goes_on(server, nested):
    statement, error = nested
    with psycopg.connect(server.dsn, autocommit=True, connect_timeout=10) as connection:
        with pytest.raises(error):
            connection.execute(statement.encode())
        assert connection.execute("SELECT 1 AS one").fetchone() == (1,)
