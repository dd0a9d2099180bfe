"""``tidal serve --memory-limit``: a stream kept in full stops at the budget, the server lives on.

A real server process under a small budget (32 MB of state) with an unbounded datagen that
keeps every row: ingestion stops near the budget and the server says so once; queries and an
INSERT into a table still work over psycopg; a statement that would add more than the budget
allows fails with 53200; DROP of the stream lets ingestion resume.
"""

from __future__ import annotations

import queue
import time

import psycopg
import pytest

STREAM = """
CREATE TABLE notes (k INTEGER, note VARCHAR);
CREATE SOURCE clicks (id BIGINT, name VARCHAR) WITH (connector = 'datagen',
  'rows-per-second' = '2000000', 'fields.name.length' = '20');
"""


def said(server, starting: str, timeout: float = 60) -> str:
    """The first line the server prints that starts with ``starting`` (waits for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = server.lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            raise AssertionError("the server exited")
        if line.startswith(starting):
            return line
    raise AssertionError(f"the server never said {starting!r}")


def count(connection, name: str) -> int:
    return connection.execute(f"SELECT count(*) FROM {name}").fetchone()[0]


def test_a_stream_kept_in_full_stops_at_the_budget_and_the_server_lives_on(make_server):
    server = make_server("--memory-limit", "32MB", init=STREAM)
    paused = said(server, "tidal serve: warning: memory budget: ")
    assert "of 32 MiB held" in paused and "most by source clicks" in paused
    with psycopg.connect(server.dsn, autocommit=True) as connection:
        rows = count(connection, "clicks")
        time.sleep(0.5)
        assert count(connection, "clicks") == rows  # not read any more
        connection.execute("INSERT INTO notes VALUES (1, 'still here')")
        assert connection.execute("SELECT note FROM notes").fetchall() == [("still here",)]
        with pytest.raises(psycopg.Error) as error:
            connection.execute(
                "INSERT INTO notes SELECT g, 'padding padding' FROM generate_series(1, 2000000) "
                "AS s(g)"
            )
        assert error.value.sqlstate == "53200"
        assert count(connection, "notes") == 1
        connection.execute("DROP SOURCE clicks")
        resumed = said(server, "tidal serve: warning: memory budget: ")
        assert resumed.endswith("sources are read again")
    assert server.process.poll() is None
