"""PostgreSQL values <-> Arrow (engine/connectors/postgres_types.py), against a real PostgreSQL:
values written by PostgreSQL and read back as its text are decoded; Arrow values encoded for
COPY are read by PostgreSQL and checked there (psycopg2's own typed values, or SQL comparisons).
"""

from __future__ import annotations

import datetime
import decimal
import io
import itertools
import json
import math
import re
import struct
import uuid

import psycopg2
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidal.catalog.objects import Column
from tidal.catalog.types import from_arrow, to_arrow
from tidal.engine.connectors.base import ConnectorError
from tidal.engine.connectors.postgres_types import (
    COLUMNS_QUERY,
    COPY_OPTIONS,
    SESSION_OPTIONS,
    ValueNotMapped,
    check_columns,
    decode,
    encode_copy,
    pg_type,
    tidal_type,
)

UTC = datetime.UTC
_tables = itertools.count()


@pytest.fixture(scope="module")
def pg(postgres_server):
    """A connection (autocommit, ``SESSION_OPTIONS``) to a database of this module's own."""
    postgres_server.execute("CREATE DATABASE types_tests")
    connection = psycopg2.connect(
        postgres_server.database("types_tests").dsn, options=SESSION_OPTIONS, connect_timeout=10
    )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '20s'")
    yield connection
    connection.close()
    postgres_server.execute("DROP DATABASE types_tests WITH (FORCE)")


def query(pg, sql: str, params=()) -> list[tuple]:
    with pg.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def texts_of(pg, pg_column_type: str, values: list) -> list[str | None]:
    """``values`` (SQL literals' text, or Python values psycopg2 adapts) stored in a column of
    ``pg_column_type``, read back as PostgreSQL's text of them."""
    table = f"t{next(_tables)}"
    query(pg, f"CREATE TABLE {table} (i int, v {pg_column_type})")
    for i, value in enumerate(values):
        query(pg, f"INSERT INTO {table} VALUES (%s, %s::{pg_column_type})", (i, value))
    return [text for (text,) in query(pg, f"SELECT v::text FROM {table} ORDER BY i")]


def copied(pg, table: pa.Table, types: list[str] | None = None) -> str:
    """``table`` COPYed through ``encode_copy`` into a new PostgreSQL table with columns of
    ``pg_type`` of each column's SQL type (or ``types``), plus a row number ``i``."""
    name = f"t{next(_tables)}"
    types = types or [pg_type(from_arrow(f.type)) for f in table.schema]
    columns = ", ".join(f"{f} {t}" for f, t in zip(table.column_names, types, strict=True))
    query(pg, f"CREATE TABLE {name} (i bigint, {columns})")
    numbered = table.add_column(0, "i", pa.array(range(table.num_rows), pa.int64()))
    with pg.cursor() as cursor:
        cursor.copy_expert(
            f"COPY {name} (i, {', '.join(table.column_names)}) FROM STDIN ({COPY_OPTIONS})",
            io.BytesIO(encode_copy(numbered)),
        )
    return name


def same(a: list, b: list) -> bool:
    """Lists equal, NaN equal to NaN and -0.0 told apart from 0.0."""
    return len(a) == len(b) and all(map(_same_value, a, b))


def _same_value(x, y) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return (math.isnan(x) and math.isnan(y)) or (
            x == y and math.copysign(1, x) == math.copysign(1, y)
        )
    if isinstance(x, list) and isinstance(y, list):
        return same(x, y)
    return x == y and type(x) is type(y)


# ---------------------------------------------------------------------------------------------
# decode: PostgreSQL's text of values -> Arrow

D = decimal.Decimal
STRINGS = ["", 'a"b', "back\\slash", "new\nline\r\n", "ünïcödé ✓ 🎉", "NULL", "\\.", " pad ", "{}"]

DECODED = [
    ("boolean", "BOOLEAN", ["true", "false", None], [True, False, None]),
    ("smallint", "SMALLINT", ["-32768", "32767", None], [-32768, 32767, None]),
    ("integer", "INTEGER", ["-2147483648", "2147483647"], [-(2**31), 2**31 - 1]),
    ("bigint", "BIGINT", [str(-(2**63)), str(2**63 - 1), "0"], [-(2**63), 2**63 - 1, 0]),
    ("integer", "BIGINT", ["7"], [7]),
    ("double precision", "DOUBLE",
     ["0.1", "-0", "1e308", "5e-324", "NaN", "Infinity", "-Infinity", "1.7976931348623157e308"],
     [0.1, -0.0, 1e308, 5e-324, math.nan, math.inf, -math.inf, 1.7976931348623157e308]),
    ("real", "FLOAT", ["0.5", "NaN", "-Infinity", "3.4028235e38"],
     [0.5, math.nan, -math.inf, 3.4028234663852886e38]),
    ("numeric(10,2)", "DECIMAL(10,2)", ["12.5", "-99999999.99", "0", None],
     [D("12.50"), D("-99999999.99"), D("0.00"), None]),
    ("numeric", "DECIMAL(38,10)", ["1.5", "-1234567890123456789.0123456789"],
     [D("1.5000000000"), D("-1234567890123456789.0123456789")]),
    ("numeric(5,0)", "BIGINT", ["-99999"], [-99999]),
    ("text", "VARCHAR", [*STRINGS, None], [*STRINGS, None]),
    ("character varying(20)", "VARCHAR", ["abc"], ["abc"]),
    ("character(3)", "VARCHAR", ["ab"], ["ab"]),  # ::text drops the padding
    ("date", "DATE", ["2026-01-01", "0001-01-01", "9999-12-31"],
     [datetime.date(2026, 1, 1), datetime.date(1, 1, 1), datetime.date(9999, 12, 31)]),
    ("time", "TIME", ["00:00:00", "23:59:59.999999", "12:34:56.5"],
     [datetime.time(0), datetime.time(23, 59, 59, 999999), datetime.time(12, 34, 56, 500000)]),
    ("timestamp", "TIMESTAMP", ["2026-01-01 10:00:00.123456", "0001-01-01 00:00:00"],
     [datetime.datetime(2026, 1, 1, 10, 0, 0, 123456), datetime.datetime(1, 1, 1)]),
    ("timestamp with time zone", "TIMESTAMP WITH TIME ZONE",
     ["2026-01-01 10:00:00.123+00", "2026-01-01 10:00:00+05:30", "1900-01-01 00:00:00+00"],
     [datetime.datetime(2026, 1, 1, 10, 0, 0, 123000, UTC),
      datetime.datetime(2026, 1, 1, 4, 30, tzinfo=UTC), datetime.datetime(1900, 1, 1, tzinfo=UTC)]),
    ("interval", "INTERVAL",
     ["1 year 2 months 3 days 04:05:06.789", "-1 days +02:00:00", "0", "-1 mons", "100 hours",
      "-00:00:00.000001", "1 mon -1 days -00:00:01", "-178000000 years"],
     [(14, 3, 14706789000000), (0, -1, 7200 * 10**9), (0, 0, 0), (-1, 0, 0),
      (0, 0, 360000 * 10**9), (0, 0, -1000), (1, -1, -(10**9)), (-178000000 * 12, 0, 0)]),
    ("uuid", "UUID", ["A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"], ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]),
    ("jsonb", "JSON", ['{"b": 1, "a": [1, "x\\"y"]}'], ['{"a": [1, "x\\"y"], "b": 1}']),
    ("json", "JSON", ['{"b":1,  "a":2}'], ['{"b":1,  "a":2}']),
    ("bytea", "BLOB", ["\\x", "\\x00ff10", None], [b"", b"\x00\xff\x10", None]),
    ("integer[]", "INTEGER[]", ["{1,2,NULL}", "{}", None, "[0:1]={5,6}"],
     [[1, 2, None], [], None, [5, 6]]),
    ("integer[]", "INTEGER[][]", ["{{1,2},{3,NULL}}", "{}"], [[[1, 2], [3, None]], []]),
    ("text[]", "VARCHAR[]", [[*STRINGS, None, "a,b"]], [[*STRINGS, None, "a,b"]]),
    ("numeric(6,2)[]", "DECIMAL(6,2)[]", ["{1.5,-2}"], [[D("1.50"), D("-2.00")]]),
    ("double precision[]", "DOUBLE[]", ["{NaN,-Infinity,0.1}"], [[math.nan, -math.inf, 0.1]]),
    ("timestamp with time zone[]", "TIMESTAMPTZ[]", ["{2026-01-01 10:00:00+01,NULL}"],
     [[datetime.datetime(2026, 1, 1, 9, tzinfo=UTC), None]]),
    ("bytea[]", "BLOB[]", ["{\"\\\\x01\",NULL,\"\\\\x\"}"], [[b"\x01", None, b""]]),
    ("boolean[]", "BOOLEAN[]", ["{t,f,NULL}"], [[True, False, None]]),
    ("date[]", "DATE[]", ["{2026-01-01}"], [[datetime.date(2026, 1, 1)]]),
    ("interval[]", "INTERVAL[]", ["{1 day,-00:00:01}"], [[(0, 1, 0), (0, 0, -(10**9))]]),
    ("jsonb[]", "JSON[]", ["{\"{\\\"a\\\": 1}\",NULL}"], [['{"a": 1}', None]]),
    ("uuid[]", "UUID[]", ["{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"],
     [["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]]),
]  # fmt: skip


def _plain(values: list) -> list:
    """MonthDayNano values as tuples, to compare with the expected ones."""
    return [
        _plain(v) if isinstance(v, list) else tuple(v) if isinstance(v, pa.MonthDayNano) else v
        for v in values
    ]


@pytest.mark.parametrize(("pg_column_type", "sql_type", "values", "expected"), DECODED)
def test_decode_reads_postgres_text(pg, pg_column_type, sql_type, values, expected):
    texts = texts_of(pg, pg_column_type, values)
    decoded = decode(texts, sql_type)
    assert decoded.type == to_arrow(sql_type)
    assert same(_plain(decoded.to_pylist()), expected), texts
    check_columns("source s", [("v", pg_column_type)], [Column("v", sql_type)])


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "America/St_Johns", "Europe/Amsterdam"])
def test_decode_timestamptz_printed_in_any_zone(pg, zone):
    """A session in another zone prints offsets (+05:30, -03:30, +00:19:32 in 1900): the same
    instants come out."""
    instants = ["2026-07-01 10:00:00.5+00", "1900-01-01 00:00:00+00", "1969-12-31 23:59:59+00"]
    query(pg, f"SET TimeZone = '{zone}'")
    try:
        texts = texts_of(pg, "timestamptz", instants)
    finally:
        query(pg, "SET TimeZone = 'UTC'")
    assert texts != texts_of(pg, "timestamptz", instants)
    expected = [datetime.datetime.fromisoformat(i) for i in instants]
    assert decode(texts, "TIMESTAMPTZ").to_pylist() == expected


@pytest.mark.parametrize(
    ("pg_column_type", "sql_type", "value", "complaint"),
    [
        ("numeric", "DECIMAL(10,2)", "NaN", "'NaN' does not fit DECIMAL(10,2)"),
        ("numeric", "DECIMAL(10,2)", "Infinity", "'Infinity' does not fit DECIMAL(10,2)"),
        ("numeric", "DECIMAL(10,2)", "123456789.5", "'123456789.5' does not fit DECIMAL(10,2)"),
        ("numeric", "DECIMAL(10,2)", "1.005", "'1.005' does not fit DECIMAL(10,2)"),
        ("date", "DATE", "infinity", "'infinity' does not fit DATE"),
        ("date", "DATE", "0044-03-15 BC", "years 1 to 9999"),
        ("timestamp", "TIMESTAMP", "-infinity", "'-infinity' does not fit TIMESTAMP"),
        ("timestamptz", "TIMESTAMPTZ", "infinity", "'infinity' does not fit TIMESTAMP WITH"),
        ("bigint", "INTEGER", "2147483648", "'2147483648' does not fit INTEGER"),
        ("integer[]", "INTEGER[]", "{{1},{2}}", "declare INTEGER[][]"),
        ("integer[]", "INTEGER[][]", "{1,2}", "declare INTEGER[]"),
        ("time", "TIME", "24:00:00", "'24:00:00' does not fit TIME"),
    ],
)
def test_decode_refuses_values_the_type_cannot_hold(pg, pg_column_type, sql_type, value, complaint):
    texts = texts_of(pg, pg_column_type, [value])
    with pytest.raises(ValueNotMapped, match=re.escape(complaint)):
        decode(texts, sql_type)


FAST = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FAST
@given(st.lists(st.integers(-(2**63), 2**63 - 1) | st.none(), max_size=30))
def test_decode_bigints(pg, values):
    texts = texts_of(pg, "bigint", [None if v is None else str(v) for v in values])
    assert decode(texts, "BIGINT").to_pylist() == values


@FAST
@given(st.lists(st.floats() | st.none(), max_size=30))
def test_decode_doubles(pg, values):
    texts = texts_of(pg, "double precision", values)
    assert same(decode(texts, "DOUBLE").to_pylist(), values)


@FAST
@given(
    st.lists(
        st.decimals(min_value=-(10**8) + 1, max_value=10**8 - 1, places=4) | st.none(), max_size=30
    )
)
def test_decode_numerics(pg, values):
    texts = texts_of(pg, "numeric(12,4)", values)
    assert decode(texts, "DECIMAL(12,4)").to_pylist() == values


TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"))


@FAST
@given(st.lists(TEXT | st.none(), max_size=20))
def test_decode_texts_and_text_arrays(pg, values):
    assert decode(texts_of(pg, "text", values), "VARCHAR").to_pylist() == values
    assert decode(texts_of(pg, "text[]", [values]), "VARCHAR[]").to_pylist() == [values]


# ---------------------------------------------------------------------------------------------
# encode_copy: Arrow -> COPY FROM STDIN, checked by PostgreSQL


def typed_rows(pg, table: str, columns: str = "*") -> list[tuple]:
    return query(pg, f"SELECT {columns} FROM {table} ORDER BY i")


def test_encode_copy_every_type_reads_back_exactly(pg):
    arrow = pa.table({
        "b": pa.array([True, False, None]),
        "i2": pa.array([-(2**15), 0, None], pa.int16()),
        "i8": pa.array([-(2**63), 2**63 - 1, None], pa.int64()),
        "f4": pa.array([0.1, math.nan, -math.inf], pa.float32()),
        "f8": pa.array([0.1, 5e-324, None]),
        "d": pa.array([D("-99999999.99"), D("0.01"), None], pa.decimal128(10, 2)),
        "s": pa.array(["", None, 'q"u\\o\nte,\r\n\\.']),
        "bl": pa.array([b"", b"\x00\xff\n\"", None]),
        "dt": pa.array([datetime.date(1, 1, 1), datetime.date(9999, 12, 31), None]),
        "t": pa.array([datetime.time(23, 59, 59, 999999), None, datetime.time(0)]),
        "ts": pa.array([datetime.datetime(1, 1, 1), None, datetime.datetime(2026, 1, 1, 0, 0, 0, 1)]),
        "tz": pa.array([datetime.datetime(1969, 12, 31, 23, 59, 59, 999999, UTC), None,
                        datetime.datetime(2026, 1, 1, 10, tzinfo=UTC)], pa.timestamp("us", "UTC")),
        "iv": pa.array([(14, -3, 4_000_000_001_000), None, (0, 0, -1000)],
                       pa.month_day_nano_interval()),
        "u": pa.array(["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", None, str(uuid.UUID(int=0))]),
        "j": pa.array(['{"a": [1, "x\\"y"]}', None, '""']),
    })  # fmt: skip
    types = [pg_type(t) for t in ["BOOLEAN", "SMALLINT", "BIGINT", "FLOAT", "DOUBLE",
             "DECIMAL(10,2)", "VARCHAR", "BLOB", "DATE", "TIME", "TIMESTAMP", "TIMESTAMPTZ",
             "INTERVAL", "UUID", "JSON"]]  # fmt: skip
    name = copied(pg, arrow, types)
    rows = typed_rows(pg, name, ", ".join(arrow.column_names))
    expected = arrow.to_pylist()
    for row, want in zip(rows, expected, strict=True):
        got = dict(zip(arrow.column_names, row, strict=True))
        got["bl"] = None if got["bl"] is None else bytes(got["bl"])
        got["f4"] = struct.unpack("f", struct.pack("f", got["f4"]))[0]  # psycopg2 reads float8
        got["j"] = None if got["j"] is None else json.dumps(got["j"], separators=(", ", ": "))
        del got["iv"], want["iv"]  # psycopg2 reads an interval as a timedelta (months lost)
        assert [k for k in want if not same([got[k]], [want[k]])] == [], (got, want)
    # intervals keep their months, days and microseconds apart (a month is not 30 days here)
    assert typed_rows(
        pg,
        name,
        "extract(month from iv), extract(day from iv), "
        "extract(microseconds from iv), extract(hour from iv)",
    ) == [(2, -3, 40_000_001, 1), (None, None, None, None), (0, 0, -1, 0)]
    assert query(pg, f"SELECT iv::text FROM {name} ORDER BY i") == [
        ("1 year 2 mons -3 days +01:06:40.000001",),
        (None,),
        ("-00:00:00.000001",),
    ]
    # float4 values are float4 in PostgreSQL, exactly: compared as float4 there
    assert query(pg, f"SELECT f4 = 0.1::real FROM {name} WHERE i = 0") == [(True,)]
    # the text of each value, decoded, is the Arrow value again
    for column in arrow.column_names:
        if column == "j":
            continue  # jsonb prints its own spacing
        texts = [t for (t,) in typed_rows(pg, name, f"{column}::text")]
        sql_type = {"u": "UUID", "iv": "INTERVAL"}.get(column)
        decoded = decode(texts, sql_type or from_arrow(arrow.schema.field(column).type))
        assert same(_plain(decoded.to_pylist()), _plain(arrow.column(column).to_pylist())), column


def test_encode_copy_lists_as_arrays(pg):
    arrow = pa.table({
        "a": pa.array([[1, None, 3], [], None], pa.list_(pa.int64())),
        "s": pa.array([[*STRINGS, None], [], [None]], pa.list_(pa.string())),
        "m": pa.array([[[1, 2], [3, 4]], [], None], pa.list_(pa.list_(pa.int32()))),
        "d": pa.array([[D("1.50")], [None], None], pa.list_(pa.decimal128(6, 2))),
        "f": pa.array([[0.1, math.nan, -math.inf], None, []], pa.list_(pa.float64())),
        "tz": pa.array([[datetime.datetime(2026, 1, 1, tzinfo=UTC)], None, [None]],
                       pa.list_(pa.timestamp("us", "UTC"))),
        "bl": pa.array([[b"\x01\\", None], None, []], pa.list_(pa.binary())),
        "bo": pa.array([[True, False], None, [None]], pa.list_(pa.bool_())),
    })  # fmt: skip
    name = copied(pg, arrow)
    rows = typed_rows(pg, name, ", ".join(arrow.column_names))
    for row, want in zip(rows, arrow.to_pylist(), strict=True):
        got = dict(zip(arrow.column_names, row, strict=True))
        if got["bl"] is not None:
            got["bl"] = [None if b is None else bytes(b) for b in got["bl"]]
        assert [k for k in want if not same([got[k]], [want[k]])] == [], (got, want)
    assert query(pg, f"SELECT array_ndims(m), s[10] IS NULL, s[6] FROM {name} WHERE i = 0") == [
        (2, True, "NULL")
    ]


@FAST
@given(
    st.lists(
        st.tuples(
            st.integers(-(2**63), 2**63 - 1) | st.none(),
            TEXT | st.none(),
            st.decimals(min_value=-(10**9), max_value=10**9, places=2) | st.none(),
            st.datetimes(timezones=st.just(UTC)) | st.none(),
            st.floats() | st.none(),
        ),
        max_size=30,
    )
)
def test_encode_copy_round_trips(pg, rows):
    columns = list(zip(*rows, strict=True)) or [[]] * 5
    arrow = pa.table({
        "n": pa.array(columns[0], pa.int64()),
        "s": pa.array(columns[1], pa.string()),
        "d": pa.array(columns[2], pa.decimal128(12, 2)),
        "tz": pa.array(columns[3], pa.timestamp("us", "UTC")),
        "f": pa.array(columns[4], pa.float64()),
    })  # fmt: skip
    name = copied(pg, arrow)
    got = typed_rows(pg, name, "n, s, d, tz, f")
    assert len(got) == len(rows)
    for row, want in zip(got, rows, strict=True):
        assert same(list(row), [*want[:3], want[3] and want[3].astimezone(UTC), want[4]])


def test_encode_copy_refuses_nul_and_structs():
    with pytest.raises(ValueNotMapped, match="column s holds text with a NUL"):
        encode_copy(pa.table({"s": ["a\x00b"]}))
    with pytest.raises(ConnectorError, match="column r .* has no PostgreSQL counterpart"):
        encode_copy(pa.table({"r": [{"a": 1}]}))


# ---------------------------------------------------------------------------------------------
# Types: pg_type and check_columns

TIDAL_TYPES = [
    "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER",
    "UBIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL(10,2)", "DECIMAL(38,0)", "VARCHAR", "BLOB",
    "DATE", "TIME", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP WITH TIME ZONE",
    "INTERVAL", "UUID", "JSON", "BIGINT[]", "VARCHAR[][]", "DECIMAL(6,3)[]",
]  # fmt: skip


def test_pg_type_is_spelled_as_format_type_prints_it(pg):
    """A table made with pg_type() of every tidal type: PostgreSQL's own format_type() of its
    columns is pg_type() again, and check_columns accepts them both ways."""
    columns = [Column(f"c{i}", t) for i, t in enumerate(TIDAL_TYPES)]
    query(pg, f"CREATE TABLE every ({', '.join(f'{c.name} {pg_type(c.type)}' for c in columns)})")
    query(pg, "ALTER TABLE every ADD COLUMN dropped integer")
    query(pg, "ALTER TABLE every DROP COLUMN dropped")  # still in pg_attribute, as dropped
    printed = query(pg, COLUMNS_QUERY, ("public.every",))
    assert [t for _, t in printed] == [pg_type(c.type) for c in columns]
    check_columns("sink s", printed, columns, writing=True)
    readable = [c for c in columns if not c.type.startswith(("U", "TINY"))]
    check_columns("source s", printed, readable)


def test_tidal_type_of_format_type_names():
    assert tidal_type("timestamp(3) with time zone") == "TIMESTAMP WITH TIME ZONE"
    assert tidal_type("time(0) without time zone[]") == "TIME[]"
    assert tidal_type("interval day to second") == "INTERVAL"
    assert tidal_type("numeric(40,2)") is None  # beyond DECIMAL's 38 digits
    assert tidal_type("numeric") == "DECIMAL"


@pytest.mark.parametrize(
    ("pg_column_type", "declared", "writing", "message"),
    [
        ("bigint", "INTEGER", False, "column v is bigint in PostgreSQL, which INTEGER cannot hold: declare it BIGINT"),
        ("numeric(12,2)", "DECIMAL(10,2)", False, "declare it DECIMAL(12,2)"),
        ("numeric(10,2)", "DECIMAL(10,1)", False, "declare it DECIMAL(10,2)"),
        ("numeric(40,2)", "DECIMAL(38,2)", False, "a type tidal does not map: declare it VARCHAR"),
        ("money", "DECIMAL(10,2)", False, "money in PostgreSQL, a type tidal does not map: declare it VARCHAR"),
        ("point", "DOUBLE[]", False, "a type tidal does not map"),
        ("tsvector", "VARCHAR[]", False, "a type tidal does not map"),
        ("int4range", "INTEGER[]", False, "a type tidal does not map"),
        ("integer[]", "INTEGER", False, "declare it INTEGER[]"),
        ("integer", "INTEGER[]", False, "declare it INTEGER"),
        ("timestamp without time zone", "TIMESTAMP WITH TIME ZONE", False, "declare it TIMESTAMP"),
        ("timestamp with time zone", "TIMESTAMP", False, "declare it TIMESTAMP WITH TIME ZONE"),
        ("jsonb", "STRUCT(a INTEGER)", False, "declare it JSON"),
        ("double precision", "DECIMAL(10,2)", False, "declare it DOUBLE"),
        ("numeric", "DOUBLE", False, "declare it DECIMAL(p,s)"),
        ("integer", "BIGINT", True, "cannot hold every BIGINT value: declare it INTEGER, or make the PostgreSQL column bigint"),
        ("real", "DOUBLE", True, "make the PostgreSQL column double precision"),
        ("jsonb", "MAP(VARCHAR, INTEGER)", True, "declare it JSON (MAP(VARCHAR, INTEGER) has no PostgreSQL type"),
    ],
)  # fmt: skip
def test_check_columns_says_what_to_declare(pg_column_type, declared, writing, message):
    with pytest.raises(ConnectorError, match=re.escape(message)) as raised:
        check_columns("source s", [("v", pg_column_type)], [Column("v", declared)], writing=writing)
    assert str(raised.value).startswith("source s: column v is ")


def test_check_columns_accepts_what_fits():
    fits = [
        ("integer", "BIGINT"), ("smallint", "DOUBLE"), ("integer", "DECIMAL(10,0)"),
        ("numeric(10,2)", "DECIMAL(12,3)"), ("numeric", "DECIMAL(20,5)"), ("real", "DOUBLE"),
        ("integer[]", "BIGINT[][]"), ("character varying(20)", "VARCHAR"), ("mood", "VARCHAR"),
        ("money", "VARCHAR"), ("integer[]", "VARCHAR"), ("jsonb", "JSON"), ("json", "JSON"),
        ("uuid", "UUID"), ("bytea", "BLOB"), ("interval(3)", "INTERVAL"),
    ]  # fmt: skip
    for pg_column_type, declared in fits:
        check_columns("source s", [("v", pg_column_type)], [Column("v", declared)])
    check_columns("sink s", [("v", "bigint")], [Column("v", "INTEGER")], writing=True)
    check_columns("sink s", [("v", "numeric")], [Column("v", "DECIMAL(10,2)")], writing=True)


def test_check_columns_names_a_missing_column():
    with pytest.raises(
        ConnectorError,
        match=r"column amount is not in the PostgreSQL table \(its columns: id, name\)",
    ):
        check_columns(
            "source s", [("id", "integer"), ("name", "text")], [Column("amount", "DOUBLE")]
        )


def test_enum_read_as_varchar(pg):
    query(pg, "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
    texts = texts_of(pg, "mood", ["ok", None, "happy"])
    assert decode(texts, "VARCHAR").to_pylist() == ["ok", None, "happy"]
    name = copied(pg, pa.table({"m": ["sad", None]}), ["mood"])
    assert query(pg, f"SELECT m = 'sad'::mood, m IS NULL FROM {name} ORDER BY i") == [
        (True, False),
        (None, True),
    ]


def test_session_options_apply(pg):
    assert query(pg, "SELECT current_setting('DateStyle'), current_setting('IntervalStyle'), "
                 "current_setting('bytea_output'), current_setting('TimeZone')") == [
        ("ISO, MDY", "postgres", "hex", "UTC")
    ]  # fmt: skip


@FAST
@given(st.lists(st.datetimes() | st.none(), max_size=20))
def test_decode_timestamps(pg, values):
    assert decode(texts_of(pg, "timestamp", values), "TIMESTAMP").to_pylist() == values
    zoned = [v and v.replace(tzinfo=UTC) for v in values]
    query(pg, "SET TimeZone = 'America/Caracas'")  # -04:27:44 before 1912, -04:30 in 2010
    try:
        texts = texts_of(pg, "timestamptz", zoned)
    finally:
        query(pg, "SET TimeZone = 'UTC'")
    assert decode(texts, "TIMESTAMPTZ").to_pylist() == zoned


INTERVALS = st.tuples(
    st.integers(-(10**6), 10**6), st.integers(-(10**6), 10**6), st.integers(-(10**15), 10**15)
).map(lambda parts: (parts[0], parts[1], parts[2] * 1000))


@FAST
@given(st.lists(st.lists(INTERVALS | st.none(), max_size=4) | st.none(), max_size=10))
def test_intervals_and_arrays_round_trip(pg, values):
    """Interval lists written with encode_copy, PostgreSQL's text of them decoded: the same."""
    arrow = pa.table({"v": pa.array(values, pa.list_(pa.month_day_nano_interval()))})
    name = copied(pg, arrow)
    texts = [t for (t,) in typed_rows(pg, name, "v::text")]
    assert _plain(decode(texts, "INTERVAL[]").to_pylist()) == _plain(arrow["v"].to_pylist())


def test_encode_copy_one_column_nulls_are_empty_lines(pg):
    """A NULL in a one-column table is an empty line, which COPY reads as NULL, and '' stays
    the empty string."""
    query(pg, "CREATE TABLE one_column (v text)")
    with pg.cursor() as cursor:
        data = encode_copy(pa.table({"v": ["a", None, "", None]}))
        cursor.copy_expert(f"COPY one_column FROM STDIN ({COPY_OPTIONS})", io.BytesIO(data))
    assert data == b'"a"\n\n""\n\n'
    assert query(pg, "SELECT v FROM one_column") == [("a",), (None,), ("",), (None,)]


@FAST
@given(st.lists(st.decimals(min_value=-(10**28) + 1, max_value=10**28 - 1, places=10), max_size=20))
def test_encode_copy_wide_decimals_exact(pg, values):
    """DECIMAL(38,10) values compared as numeric in PostgreSQL: all 38 digits arrive."""
    arrow = pa.table({"d": pa.array(values, pa.decimal128(38, 10))})
    name = copied(pg, arrow)
    assert [d for (d,) in typed_rows(pg, name, "d")] == values
    texts = [t for (t,) in typed_rows(pg, name, "d::text")]
    assert decode(texts, "DECIMAL(38,10)").to_pylist() == values
