"""Lists, STRUCTs, MAPs and intervals over the wire as PostgreSQL spells them: arrays as
``{1,2}``, STRUCTs as records ``(1,a)``, MAPs as JSON objects, intervals in IntervalStyle
postgres; read by psql (text), psycopg (text and binary) and asyncpg (binary)."""

from __future__ import annotations

import asyncio
import datetime

import asyncpg
import psycopg
import pytest

SETUP = (
    (
        "CREATE TABLE IF NOT EXISTS wire_nested (id INTEGER, tags VARCHAR[], "
        "s STRUCT(a INTEGER, b VARCHAR), m MAP(VARCHAR, INTEGER), gap INTERVAL)"
    ),
    "DELETE FROM wire_nested",
    (
        "INSERT INTO wire_nested VALUES (1, ['x', 'y z', NULL], {'a': 1, 'b': 'q r'}, "
        "MAP {'k': 1}, INTERVAL '90 minutes'), (2, [], {'a': NULL, 'b': ''}, MAP {}, "
        "INTERVAL '1 year 2 months 21 days 23:59:59')"
    ),
)
QUERY = "SELECT id, tags, s, m, gap FROM wire_nested ORDER BY id"


@pytest.fixture
def conn(server):
    with psycopg.connect(server.dsn, autocommit=True, connect_timeout=5) as connection:
        for statement in SETUP:
            connection.execute(statement)
        yield connection


def test_psql_prints_postgres_text(conn, server):
    result = server.psql("-A", "-t", "-c", QUERY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        '1|{x,"y z",NULL}|(1,"q r")|{"k": 1}|01:30:00',
        '2|{}|(,"")|{}|1 year 2 mons 21 days 23:59:59',
    ]


@pytest.mark.parametrize("binary", [False, True])
def test_psycopg_reads_arrays_and_records(conn, binary):
    rows = conn.cursor(binary=binary).execute(QUERY).fetchall()
    assert [r[1] for r in rows] == [["x", "y z", None], []]
    assert [r[3] for r in rows] == [{"k": 1}, {}]
    assert rows[0][4] == datetime.timedelta(minutes=90)
    if binary:
        assert [r[2] for r in rows] == [(1, "q r"), (None, "")]
    else:  # psycopg reads a record's fields as text
        assert [r[2] for r in rows] == [("1", "q r"), (None, "")]


def test_asyncpg_reads_records_in_binary(conn, server):
    async def go():
        client = await asyncpg.connect(
            host=server.host, port=server.port, user="tester", database="tidal", ssl=False
        )
        try:
            return await client.fetch(QUERY)
        finally:
            await client.close()

    rows = asyncio.run(go())
    assert [tuple(r["s"]) for r in rows] == [(1, "q r"), (None, "")]
    assert [r["tags"] for r in rows] == [["x", "y z", None], []]
    assert rows[0]["gap"] == datetime.timedelta(minutes=90)


def test_psql_describes_nested_columns(conn, server):
    result = server.psql("-c", "\\d wire_nested")
    assert result.returncode == 0, result.stderr
    described = {
        line.split("|")[0].strip(): line.split("|")[1].strip()
        for line in result.stdout.splitlines()
        if line.count("|") >= 2
    }
    assert described["tags"] == "text[]"
    assert described["s"] == "record"
    assert described["m"] == "json"
