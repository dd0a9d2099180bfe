"""Reads on the fast path (shell/pgwire/engine_calls.py, tidal.engine.reads) over the wire:
prepared point reads and small scans give what the usual way gives, see every write at once,
follow DROP and CREATE, and see a streaming source move without polling it."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
from conftest import start_server

STREAM = """
CREATE TABLE t (k BIGINT, v INTEGER, s VARCHAR);
INSERT INTO t VALUES (1, 10, 'a'), (2, 20, 'b'), (1, 5, NULL), (3, NULL, 'c');
CREATE MATERIALIZED VIEW per_k AS
  SELECT k, count(*) AS n, sum(v) AS total, max(s) AS top FROM t GROUP BY k;
CREATE SOURCE ticks (i BIGINT) WITH (connector = 'datagen', 'rows-per-second' = '2000');
CREATE MATERIALIZED VIEW counted AS SELECT count(*) AS n FROM ticks;
"""


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("reads"), init=STREAM)
    yield running
    running.stop()


async def connect(server) -> asyncpg.Connection:
    return await asyncpg.connect(
        host=server.host, port=server.port, user="tester", database="tidal", timeout=5
    )


def test_prepared_reads_equal_the_usual_way(server):
    # "k + 0" in the select list keeps the second query of each pair off the fast path
    pairs = [
        (
            "SELECT k, n, total, top FROM per_k WHERE k = $1",
            "SELECT k + 0 AS k, n, total, top FROM per_k WHERE k = $1",
        ),
        (
            "SELECT k, n FROM per_k WHERE k BETWEEN $1 AND $2 ORDER BY k",
            "SELECT k + 0 AS k, n FROM per_k WHERE k BETWEEN $1 AND $2 ORDER BY k",
        ),
        (
            "SELECT k, top FROM per_k WHERE top <> $1 OR top IS NULL ORDER BY k DESC",
            "SELECT k + 0 AS k, top FROM per_k WHERE top <> $1 OR top IS NULL ORDER BY k DESC",
        ),
        (
            "SELECT k, total FROM per_k WHERE n >= $1 ORDER BY total DESC NULLS FIRST, k LIMIT 2",
            (
                "SELECT k + 0 AS k, total FROM per_k WHERE n >= $1 "
                "ORDER BY total DESC NULLS FIRST, k LIMIT 2"
            ),
        ),
    ]
    arguments = {0: [(1,), (2,), (4,), (None,)], 1: [(1, 2), (0, 9), (3, 1)], 2: [("b",), ("a",)]}
    arguments[3] = [(1,), (2,), (0,)]

    async def go():
        conn = await connect(server)
        try:
            found = []
            for i, (fast, usual) in enumerate(pairs):
                for args in arguments[i]:
                    mine = [tuple(r) for r in await conn.fetch(fast, *args)]
                    theirs = [tuple(r) for r in await conn.fetch(usual, *args)]
                    found.append((fast, args, mine, theirs))
            return found
        finally:
            await conn.close()

    for fast, args, mine, theirs in run(go()):
        assert mine == theirs, (fast, args)
    assert run(_one(server, "SELECT n, total FROM per_k WHERE k = $1", 1)) == [(2, 15)]


async def _one(server, sql: str, *args) -> list[tuple]:
    conn = await connect(server)
    try:
        return [tuple(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


def test_a_write_by_another_connection_is_seen_by_the_next_prepared_read(server):
    async def go():
        reader, writer = await connect(server), await connect(server)
        try:
            statement = await reader.prepare("SELECT n FROM per_k WHERE k = $1")
            seen = [await statement.fetchval(7)]
            await writer.execute("INSERT INTO t VALUES (7, 1, 'x')")
            seen.append(await statement.fetchval(7))
            await writer.execute("INSERT INTO t VALUES (7, 2, 'y')")
            seen.append(await statement.fetchval(7))
            await writer.execute("DELETE FROM t WHERE k = 7")
            seen.append(await statement.fetchval(7))
            return seen
        finally:
            await reader.close()
            await writer.close()

    assert run(go()) == [None, 1, 2, None]


def test_a_view_dropped_and_made_again_is_read_anew(server):
    async def go():
        conn = await connect(server)
        try:
            await conn.execute("CREATE MATERIALIZED VIEW doubled AS SELECT k, v * 2 AS w FROM t")
            before = await conn.fetch("SELECT w FROM doubled WHERE k = $1 ORDER BY w", 2)
            await conn.execute("DROP MATERIALIZED VIEW doubled")
            await conn.execute("CREATE MATERIALIZED VIEW doubled AS SELECT k, v * 3 AS w FROM t")
            # a new statement text: asyncpg's cached one described the old view
            after = await conn.fetch("SELECT w FROM doubled WHERE k = $1 ORDER BY w ", 2)
            await conn.execute("DROP MATERIALIZED VIEW doubled")
            return [r["w"] for r in before], [r["w"] for r in after]
        finally:
            await conn.close()

    assert run(go()) == ([40], [60])


def test_reads_follow_a_streaming_source_without_polling_it(server):
    async def go():
        conn = await connect(server)
        try:
            statement = await conn.prepare("SELECT n FROM counted WHERE n >= $1")
            counts = []
            deadline = time.monotonic() + 20
            while len(set(counts)) < 3 and time.monotonic() < deadline:
                counts.append(await statement.fetchval(0))
                await asyncio.sleep(0.05)
            return counts
        finally:
            await conn.close()

    counts = run(go())
    assert len(set(counts)) >= 3 and counts == sorted(counts)
