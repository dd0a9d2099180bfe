"""asyncpg against a live server: it asks for binary results and prepares every statement, so
this checks ParameterDescription, inferred parameter types and binary encodings."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import io

import asyncpg
import pytest


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 30))


async def connect(server) -> asyncpg.Connection:
    return await asyncpg.connect(
        host=server.host, port=server.port, user="tester", database="tidal", timeout=5
    )


def test_fetch_with_parameters(server):
    async def go():
        conn = await connect(server)
        try:
            rows = await conn.fetch("SELECT k, total FROM totals WHERE total > $1 ORDER BY k", 1)
            one = await conn.fetchval("SELECT n FROM totals WHERE k = $1", "a")
            none = await conn.fetch("SELECT k FROM totals WHERE k = $1", "zzz")
        finally:
            await conn.close()
        return [tuple(r) for r in rows], one, none

    rows, one, none = run(go())
    assert rows == [("a", decimal.Decimal(4)), ("b", decimal.Decimal(2))]
    assert one == 2 and none == []


def test_parameter_types_are_inferred(server):
    async def go():
        conn = await connect(server)
        try:
            statement = await conn.prepare("SELECT k FROM t WHERE v = $1 AND k = $2 LIMIT $3")
            types = [t.name for t in statement.get_parameters()]
            rows = await statement.fetch(2, "b", 10)
            typed = await conn.fetchrow(
                "SELECT $1::DATE AS d, $2::TIMESTAMP AS ts, $3::DOUBLE AS f, $4::BOOLEAN AS b, "
                "$5::BLOB AS raw, $6::INTERVAL AS i",
                datetime.date(2021, 3, 4),
                datetime.datetime(2021, 3, 4, 5, 6, 7, 8),
                2.25,
                True,
                b"\x01\x02",
                datetime.timedelta(days=2, microseconds=5),
            )
        finally:
            await conn.close()
        return types, [tuple(r) for r in rows], tuple(typed)

    types, rows, typed = run(go())
    assert types == ["int4", "text", "int8"]
    assert rows == [("b",)]
    assert typed == (
        datetime.date(2021, 3, 4),
        datetime.datetime(2021, 3, 4, 5, 6, 7, 8),
        2.25,
        True,
        b"\x01\x02",
        datetime.timedelta(days=2, microseconds=5),
    )


def test_prepared_statement_runs_many_times(server):
    async def go():
        conn = await connect(server)
        try:
            statement = await conn.prepare("SELECT v * $1 FROM t WHERE k = $2 ORDER BY v")
            results = [await statement.fetch(m, "a") for m in (1, 10, 100)]
            columns = [a.name for a in statement.get_attributes()]
        finally:
            await conn.close()
        return [[r[0] for r in result] for result in results], columns

    results, columns = run(go())
    assert results == [[1, 3], [10, 30], [100, 300]]
    assert len(columns) == 1


def test_cursor_with_prefetch(server):
    async def go():
        conn = await connect(server)
        try:
            async with conn.transaction():
                cursor = conn.cursor("SELECT v FROM t ORDER BY v", prefetch=2)
                values = [r["v"] async for r in cursor]
                scroll = await conn.cursor("SELECT v FROM t ORDER BY v")
                first = await scroll.fetch(2)
                rest = await scroll.fetch(10)
        finally:
            await conn.close()
        return values, [r[0] for r in first], [r[0] for r in rest]

    assert run(go()) == ([1, 2, 3], [1, 2], [3])


def test_copy_from_query(server):
    async def go():
        conn = await connect(server)
        buffer = io.BytesIO()
        try:
            status = await conn.copy_from_query(
                "SELECT k, v FROM t WHERE v > $1 ORDER BY v", 1, output=buffer
            )
            csv = io.BytesIO()
            await conn.copy_from_query(
                "SELECT k, v FROM t ORDER BY v", output=csv, format="csv", header=True
            )
        finally:
            await conn.close()
        return status, buffer.getvalue(), csv.getvalue()

    status, data, csv = run(go())
    assert status == "COPY 2"
    assert data == b"b\t2\na\t3\n"
    assert csv == b"k,v\na,1\nb,2\na,3\n"


def test_pool(server):
    async def go():
        pool = await asyncpg.create_pool(
            host=server.host, port=server.port, user="tester", database="tidal",
            min_size=2, max_size=4, timeout=5,
        )  # fmt: skip
        try:
            counts = await asyncio.gather(
                *[pool.fetchval("SELECT count(*) FROM t WHERE v >= $1", i) for i in range(12)]
            )
            async with pool.acquire() as conn:  # released with the pool's reset queries
                await conn.execute("SET application_name = 'pooled'")
            async with pool.acquire() as conn:
                name = await conn.fetchval("SHOW application_name")
        finally:
            await pool.close()
        return counts, name

    counts, name = run(go())
    assert counts[:5] == [3, 3, 2, 1, 0]
    assert name == ""  # RESET ALL ran when the connection went back to the pool


def test_errors_map_to_exception_classes(server):
    async def go():
        conn = await connect(server)
        try:
            with pytest.raises(asyncpg.UndefinedTableError):
                await conn.fetch("SELECT * FROM nowhere WHERE x = $1", 1)
            with pytest.raises(asyncpg.DivisionByZeroError):
                await conn.fetchval("SELECT 1 / $1::INTEGER", 0)
            return await conn.fetchval("SELECT 5")
        finally:
            await conn.close()

    assert run(go()) == 5
