"""Stopping a statement: a CancelRequest, ``statement_timeout`` and SIGTERM end a query that would
run for hours, it changes nothing, and while it runs it holds up no other client.

The endless query is a three-way cross join of a 20,000-row source (8e12 combinations): it
runs on DuckDB until interrupted.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import asyncpg
import psycopg
import pytest
from conftest import DEMO, RunningServer, start_server

INIT = (
    DEMO
    + """
CREATE SOURCE big (id BIGINT) WITH (connector = 'datagen', "fields.id.kind" = 'sequence',
    "fields.id.start" = '1', "fields.id.end" = '20000');
"""
)
ENDLESS = "SELECT count(*) FROM big a, big b, big c WHERE a.id + b.id + c.id = 7"
WAIT = 30  # seconds any step here may take at most


def started(tmp_path) -> RunningServer:
    """A server whose source ``big`` is read in full (the ticker reads it after start)."""
    running = start_server(tmp_path, init=INIT)
    deadline = time.monotonic() + WAIT
    with psycopg.connect(running.dsn, autocommit=True, connect_timeout=10) as connection:
        while connection.execute("SELECT count(*) FROM big").fetchone() != (20000,):
            assert time.monotonic() < deadline, "the source was not read"
            time.sleep(0.05)
    return running


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = started(tmp_path_factory.mktemp("cancel"))
    yield running
    running.stop()


class Endless:
    """The endless query running on a connection of its own, in a thread."""

    def __init__(self, dsn: str, query: str = ENDLESS) -> None:
        self.connection = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, args=(query,), daemon=True)
        self.thread.start()
        time.sleep(0.5)  # the server has it

    def _run(self, query: str) -> None:
        try:
            self.connection.execute(query)
        except psycopg.Error as error:
            self.error = error

    def cancel(self) -> psycopg.Error:
        self.connection.cancel()
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the cancelled query still runs"
        return self.error


def test_a_cancel_request_stops_a_running_query(server):
    endless = Endless(server.dsn)
    error = endless.cancel()
    assert isinstance(error, psycopg.errors.QueryCanceled)
    assert "canceling statement due to user request" in str(error)
    assert endless.connection.execute("SELECT 1").fetchone() == (1,)  # the session goes on
    endless.connection.close()


def test_a_running_query_holds_up_no_other_client(server):
    endless = Endless(server.dsn)
    try:
        with psycopg.connect(server.dsn, autocommit=True, connect_timeout=10) as other:
            other.execute("SET statement_timeout = '20s'")  # a regression fails, never hangs
            for _ in range(20):
                assert other.execute("SELECT total FROM totals WHERE k = 'b'").fetchone()
            other.execute("INSERT INTO t VALUES ('iso', 10)")
            assert other.execute("SELECT total FROM totals WHERE k = 'iso'").fetchone() == (10,)
            assert other.execute("SELECT count(*) FROM big").fetchone() == (20000,)
            other.execute("DELETE FROM t WHERE k = 'iso'")
        assert endless.thread.is_alive()  # all of that happened while it ran
    finally:
        endless.cancel()


def test_statement_timeout_stops_a_query(server):
    with psycopg.connect(server.dsn, autocommit=True, connect_timeout=10) as connection:
        connection.execute("SET statement_timeout = 500")  # milliseconds, as in PostgreSQL
        assert connection.execute("SHOW statement_timeout").fetchone() == ("500ms",)
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
            connection.execute(ENDLESS)
        assert time.monotonic() - started < WAIT
        connection.execute("SET statement_timeout = '2min'")
        assert connection.execute("SHOW statement_timeout").fetchone() == ("2min",)
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="time setting"):
            connection.execute("SET statement_timeout = 'soon'")
        connection.execute("RESET statement_timeout")
        assert connection.execute("SELECT count(*) FROM t").fetchone()[0] >= 3


def test_statement_timeout_from_the_startup_options(server):
    result = server.psql(
        "-c", ENDLESS, env={"PGOPTIONS": "-c statement_timeout=300ms"}, timeout=WAIT
    )
    assert result.returncode == 1
    assert "canceling statement due to statement timeout" in result.stderr


def test_a_cancelled_insert_changes_nothing(server):
    with psycopg.connect(server.dsn, autocommit=True, connect_timeout=10) as connection:
        before = connection.execute("SELECT count(*) FROM t").fetchone()
        connection.execute("SET statement_timeout = '300ms'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            connection.execute(
                "INSERT INTO t SELECT 'x', 1 FROM big a, big b WHERE a.id * b.id = -1"
            )
        connection.execute("RESET statement_timeout")
        assert connection.execute("SELECT count(*) FROM t").fetchone() == before


def test_asyncpg_timeouts_cancel_on_the_server(server):
    """asyncpg's ``timeout=`` sends a CancelRequest; the connection stays usable."""

    async def run() -> None:
        connection = await asyncpg.connect(
            host=server.host, port=server.port, user="tester", database="tidal", timeout=10
        )
        try:
            with pytest.raises(asyncio.TimeoutError):
                await connection.fetchval(ENDLESS, timeout=0.5)
            assert await connection.fetchval("SELECT count(*) FROM big", timeout=WAIT) == 20000
        finally:
            await connection.close()

    asyncio.run(asyncio.wait_for(run(), 2 * WAIT))


def test_sigterm_ends_the_server_while_a_query_runs(tmp_path):
    running = started(tmp_path)
    endless = Endless(running.dsn)
    running.process.send_signal(signal.SIGTERM)
    running.process.wait(WAIT)  # raises if it does not exit
    endless.thread.join(WAIT)
    assert isinstance(endless.error, psycopg.errors.AdminShutdown)
