"""psycopg 3 against a live server: text and binary results, prepared statements, server-side
cursors, COPY, streaming, transactions and errors."""

from __future__ import annotations

import datetime
import decimal

import psycopg
import pytest
from psycopg import errors, pq

ALL_TYPES = """
SELECT 1::SMALLINT AS i2, 2::INTEGER AS i4, 3::BIGINT AS i8, 1.5::REAL AS f4,
       0.1::DOUBLE AS f8, 12.50::DECIMAL(10,2) AS num, 'héllo' AS txt, true AS b,
       '\\x00\\xff'::BLOB AS bytes, DATE '2024-02-29' AS d, TIME '13:14:15.5' AS tm,
       TIMESTAMP '2024-01-02 03:04:05.123456' AS ts,
       TIMESTAMPTZ '2024-01-02 03:04:05+00' AS tstz,
       INTERVAL '1 year 2 months 3 days 04:05:06' AS iv, NULL::INTEGER AS nothing,
       12345678901234567890::HUGEINT AS huge
"""

EXPECTED = (
    1,
    2,
    3,
    1.5,
    0.1,
    decimal.Decimal("12.50"),
    "héllo",
    True,
    b"\x00\xff",
    datetime.date(2024, 2, 29),
    datetime.time(13, 14, 15, 500000),
    datetime.datetime(2024, 1, 2, 3, 4, 5, 123456),
    datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    decimal.Decimal(12345678901234567890),
)


@pytest.fixture
def conn(server):
    with psycopg.connect(server.dsn, autocommit=True, connect_timeout=5) as connection:
        yield connection


@pytest.mark.parametrize("binary", [False, True])
def test_every_type_in_text_and_binary(conn, binary):
    cursor = conn.cursor(binary=binary)
    row = cursor.execute(ALL_TYPES).fetchone()
    names = [c.name for c in cursor.description]
    values = dict(zip(names, row))
    for name, expected in zip(
        ["i2", "i4", "i8", "f4", "f8", "num", "txt", "b", "bytes", "d", "tm", "ts", "tstz"],
        EXPECTED,
    ):
        assert values[name] == expected, name
    assert values["nothing"] is None and values["huge"] == EXPECTED[-1]
    assert values["iv"] == datetime.timedelta(days=365 + 60 + 3, hours=4, minutes=5, seconds=6)
    formats = {c.name: cursor.pgresult.fformat(i) for i, c in enumerate(cursor.description)}
    assert set(formats.values()) == {pq.Format.BINARY if binary else pq.Format.TEXT}


def test_text_encodings_match_postgres(conn):
    conn.adapters.register_loader("interval", psycopg.types.string.TextLoader)
    conn.adapters.register_loader("float8", psycopg.types.string.TextLoader)
    conn.adapters.register_loader("float4", psycopg.types.string.TextLoader)
    conn.adapters.register_loader("bool", psycopg.types.string.TextLoader)
    conn.adapters.register_loader("bytea", psycopg.types.string.TextLoader)
    row = conn.execute(
        "SELECT INTERVAL '1 year 2 months 3 days 04:05:06' AS a, 1e15::DOUBLE AS b, "
        "1000000::REAL AS c, 'NaN'::DOUBLE AS d, '-Infinity'::DOUBLE AS e, false AS f, "
        "'\\xab'::BLOB AS g, -0.0::DOUBLE AS h, 123.456::DOUBLE AS i"
    ).fetchone()
    assert row == (
        "1 year 2 mons 3 days 04:05:06",
        "1e+15",
        "1e+06",
        "NaN",
        "-Infinity",
        "f",
        "\\xab",
        "-0",
        "123.456",
    )


def test_parameters_of_every_kind(conn):
    row = conn.execute(
        "SELECT %s::INTEGER + 1 AS a, %s AS b, %s::DATE AS c, %s::DECIMAL(10,3) AS d, "
        "%s::BOOLEAN AS e, %s::BLOB AS f, %s::TIMESTAMP AS g",
        (41, "it's; DROP TABLE t --", datetime.date(2020, 5, 6), decimal.Decimal("1.5"), False,
         b"\x00'\\", datetime.datetime(2020, 1, 2, 3, 4, 5)),
    ).fetchone()  # fmt: skip
    assert row == (
        42,
        "it's; DROP TABLE t --",
        datetime.date(2020, 5, 6),
        decimal.Decimal("1.500"),
        False,
        b"\x00'\\",
        datetime.datetime(2020, 1, 2, 3, 4, 5),
    )
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] >= 3  # t is still there


def test_binary_parameters(conn):
    cursor = conn.cursor(binary=True)
    row = cursor.execute(
        "SELECT %b::BIGINT * 2 AS a, %b::DOUBLE / 2 AS b, %b AS c, %b::DATE AS d",
        (21, 3.0, "x", datetime.date(1999, 12, 31)),
    ).fetchone()
    assert row == (42, 1.5, "x", datetime.date(1999, 12, 31))


def test_prepared_statement_is_reused(conn):
    for k, total in (("a", 4), ("b", 2), ("a", 4)):
        row = conn.execute("SELECT total FROM totals WHERE k = %s", (k,), prepare=True).fetchone()
        assert row == (total,)
    # psycopg names the prepared statement after it ran `prepare_threshold` times
    names = conn.execute("SELECT 1").fetchone()
    assert names == (1,)


def test_named_cursor_fetches_in_pieces(server):
    with psycopg.connect(server.dsn, connect_timeout=5) as connection:
        with connection.cursor(name="pieces") as cursor:
            cursor.execute("SELECT k, v FROM t WHERE v >= %s ORDER BY v", (1,))
            assert cursor.fetchmany(2) == [("a", 1), ("b", 2)]
            assert cursor.fetchall() == [("a", 3)]
        assert connection.info.transaction_status == pq.TransactionStatus.INTRANS
        connection.commit()
        assert connection.info.transaction_status == pq.TransactionStatus.IDLE


def test_copy_out_and_stream(conn):
    with conn.cursor().copy("COPY (SELECT k, v FROM t ORDER BY v) TO STDOUT") as copy:
        rows = list(copy.rows())
    assert rows == [("a", "1"), ("b", "2"), ("a", "3")]
    with conn.cursor().copy(
        "COPY (SELECT k, v FROM t ORDER BY v) TO STDOUT (FORMAT csv, HEADER)"
    ) as copy:
        data = b"".join(bytes(chunk) for chunk in copy)
    assert data == b"k,v\na,1\nb,2\na,3\n"
    streamed = list(conn.cursor().stream("SELECT v FROM t ORDER BY v"))
    assert streamed == [(1,), (2,), (3,)]


def test_binary_copy(conn):
    cursor = conn.cursor()
    with cursor.copy("COPY (SELECT k, v FROM t ORDER BY v) TO STDOUT (FORMAT binary)") as copy:
        copy.set_types(["text", "int4"])
        assert list(copy.rows()) == [("a", 1), ("b", 2), ("a", 3)]


def test_dml_command_tags(conn):
    cursor = conn.cursor()
    cursor.execute("CREATE TABLE tags (x INTEGER)")
    assert cursor.statusmessage == "CREATE TABLE"
    cursor.executemany("INSERT INTO tags VALUES (%s)", [(1,), (2,), (3,)])
    cursor.execute("INSERT INTO tags SELECT x + 10 FROM tags")
    assert cursor.statusmessage == "INSERT 0 3" and cursor.rowcount == 3
    cursor.execute("SELECT * FROM tags")
    assert cursor.statusmessage == "SELECT 6" and cursor.rowcount == 6
    cursor.execute("DROP TABLE tags")
    assert cursor.statusmessage == "DROP TABLE"


def test_errors_carry_sqlstate(conn):
    with pytest.raises(errors.UndefinedTable):
        conn.execute("SELECT * FROM nowhere")
    with pytest.raises(errors.SyntaxError) as caught:
        conn.execute("SELECT FROM WHERE")
    assert caught.value.diag.sqlstate == "42601"
    with pytest.raises(errors.DivisionByZero):
        conn.execute("SELECT 1 / 0")
    assert conn.execute("SELECT 2").fetchone() == (2,)  # the connection goes on


def test_failed_transaction_until_rollback(server):
    with psycopg.connect(server.dsn, connect_timeout=5) as connection:
        connection.execute("SELECT 1")
        with pytest.raises(errors.UndefinedTable):
            connection.execute("SELECT * FROM nowhere")
        assert connection.info.transaction_status == pq.TransactionStatus.INERROR
        with pytest.raises(errors.InFailedSqlTransaction):
            connection.execute("SELECT 1")
        connection.rollback()
        assert connection.execute("SELECT 3").fetchone() == (3,)


def test_rollback_undoes(server):
    with psycopg.connect(server.dsn, connect_timeout=5) as connection:
        connection.execute("INSERT INTO events VALUES (77, 'dropped')")
        connection.rollback()
        rows = connection.execute("SELECT name FROM events WHERE id = 77").fetchall()
        connection.rollback()
    assert rows == []


def test_session_settings(conn):
    assert conn.info.parameter_status("server_encoding") == "UTF8"
    assert conn.info.parameter_status("DateStyle") == "ISO, MDY"
    conn.execute("SET TimeZone = 'Asia/Kolkata'")
    assert conn.info.parameter_status("TimeZone") == "Asia/Kolkata"
    assert conn.execute("SHOW timezone").fetchone() == ("Asia/Kolkata",)
    conn.adapters.register_loader("timestamptz", psycopg.types.string.TextLoader)
    text = conn.execute("SELECT TIMESTAMPTZ '2024-01-01 00:00:00+00'").fetchone()[0]
    assert text == "2024-01-01 05:30:00+05:30"
    conn.execute("RESET ALL")
    assert conn.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
    with pytest.raises(errors.UndefinedObject):
        conn.execute("SET no_such_setting = 1")
    with pytest.raises(errors.FeatureNotSupported):
        conn.execute("SET DateStyle = 'German'")


def test_engine_settings_over_pgwire(conn):
    """Another engine's settings: tidal's behaviour is accepted and shown, others refused."""
    conn.execute("SET integer_division = on")
    conn.execute("SET RW_IMPLICIT_FLUSH TO true")
    conn.execute("SET streaming_parallelism = 4")
    assert conn.execute("SHOW integer_division").fetchone() == ("true",)
    assert conn.execute("SHOW default_null_order").fetchone() == (
        "nulls_last_on_asc_first_on_desc",
    )
    assert conn.execute("SHOW streaming_parallelism").fetchone() == ("4",)
    with pytest.raises(errors.FeatureNotSupported, match="integer_division = 'true'"):
        conn.execute("SET integer_division = false")
    conn.execute("SET client_encoding = 'UTF8'")  # the client's own settings work as before
    conn.execute("SET application_name = 'tests'")
    assert conn.info.parameter_status("application_name") == "tests"


def test_empty_query(conn):
    cursor = conn.cursor()
    cursor.execute("")
    assert cursor.pgresult.status == pq.ExecStatus.EMPTY_QUERY
    cursor.execute("-- just a comment")
    assert cursor.pgresult.status == pq.ExecStatus.EMPTY_QUERY
