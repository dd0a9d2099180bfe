"""pg8000 against a live server: it sends parameters untyped (as text) and reads text results,
so booleans must be 't'/'f' and parameter types must be inferred from the statement."""

from __future__ import annotations

import datetime
import decimal

import pg8000.dbapi
import pg8000.native
import pytest


@pytest.fixture
def native(server):
    connection = pg8000.native.Connection(
        "tester", host=server.host, port=server.port, database="tidal", timeout=10
    )
    yield connection
    connection.close()


def test_query_and_types(native):
    rows = native.run(
        "SELECT true AS t, false AS f, 1.5::DOUBLE AS d, 7::BIGINT AS i, 'x' AS s, "
        "DATE '2024-03-01' AS day, NULL::INTEGER AS n, 2.50::DECIMAL(5,2) AS num"
    )
    assert rows == [[True, False, 1.5, 7, "x", datetime.date(2024, 3, 1), None,
                     decimal.Decimal("2.50")]]  # fmt: skip
    assert [c["name"] for c in native.columns] == ["t", "f", "d", "i", "s", "day", "n", "num"]


def test_named_parameters(native):
    rows = native.run("SELECT k, total FROM totals WHERE k = :k OR total > :low ORDER BY k",
                      k="b", low=3)  # fmt: skip
    assert rows == [["a", decimal.Decimal(4)], ["b", decimal.Decimal(2)]]


def test_dbapi_insert_and_read_back(server):
    connection = pg8000.dbapi.connect(
        "tester", host=server.host, port=server.port, database="tidal", timeout=10
    )
    try:
        cursor = connection.cursor()
        cursor.execute("INSERT INTO events VALUES (%s, %s)", (501, "from pg8000"))
        assert cursor.rowcount == 1
        connection.commit()
        cursor.execute("SELECT name FROM named WHERE id = %s", (501,))
        assert [list(row) for row in cursor.fetchall()] == [["from pg8000"]]
    finally:
        connection.close()


def test_error_then_more_queries(native):
    with pytest.raises(pg8000.native.DatabaseError) as caught:
        native.run("SELECT * FROM nowhere")
    assert caught.value.args[0]["C"] == "42P01"
    assert native.run("SELECT 1") == [[1]]
