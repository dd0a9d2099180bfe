"""Values as PostgreSQL prints and sends them (expected strings are PostgreSQL 15's output).

The pgwire modules' docstring examples run with every other module's, in tests/test_doctests.py.
"""

from __future__ import annotations

import struct
from decimal import Decimal

import pyarrow as pa
import pytest

from tidal.shell.pgwire import pg_types as types
from tidal.shell.pgwire.encoders import encode_column
from tidal.shell.pgwire.pg_types import Context


def text(values, arrow_type, ctx: Context | None = None):
    return [
        v.decode() if v is not None else None
        for v in encode_column(pa.array(values, arrow_type), 0, ctx or Context())
    ]


def test_float8_text():
    values = [1e15, 123456789012345.0, 0.1, 1 / 3, 1e-4, 1e-5, 2.0**53, -1.5, 100.0, 1e100]
    assert text(values, pa.float64()) == [
        "1e+15", "123456789012345", "0.1", "0.3333333333333333", "0.0001", "1e-05",
        "9.007199254740992e+15", "-1.5", "100", "1e+100",
    ]  # fmt: skip


def test_float4_text():
    assert text([1e6, 123456.0, 0.1, 3.14159274, -0.0], pa.float32()) == [
        "1e+06", "123456", "0.1", "3.1415927", "-0",
    ]  # fmt: skip


def test_float_text_with_extra_float_digits_zero():
    assert text([0.1, 1 / 3], pa.float64(), Context(extra_float_digits=0)) == [
        "0.1",
        "0.333333333333333",
    ]


def test_interval_text():
    micros = (4 * 3600 + 5 * 60 + 6) * 1_000_000
    values = [
        pa.scalar((-14, 3, -micros * 1000), pa.month_day_nano_interval()).as_py(),
        pa.scalar((1, 1, 1_500_000_000), pa.month_day_nano_interval()).as_py(),
        pa.scalar((0, -2, 0), pa.month_day_nano_interval()).as_py(),
    ]
    assert text(values, pa.month_day_nano_interval()) == [
        "-1 years -2 mons +3 days -04:05:06",
        "1 mon 1 day 00:00:01.5",
        "-2 days",
    ]


def test_dates_and_timestamps_text():
    days = [0, -719_163, 2_147_483_647]  # 1970-01-01, the day before 0001-01-01, infinity
    assert text(days, pa.date32()) == ["1970-01-01", "0001-12-31 BC", "infinity"]
    micros = [1_500_000, 86_399_999_999, -1]
    assert text(micros, pa.timestamp("us")) == [
        "1970-01-01 00:00:01.5",
        "1970-01-01 23:59:59.999999",
        "1969-12-31 23:59:59.999999",
    ]
    assert text([0], pa.timestamp("us", tz="UTC")) == ["1970-01-01 00:00:00+00"]
    assert text([0], pa.timestamp("us", tz="UTC"), Context("America/St_Johns")) == [
        "1969-12-31 20:30:00-03:30"
    ]


def test_arrays_text_and_binary():
    array = pa.array([[1, None, 3], []], pa.list_(pa.int64()))
    assert [v.decode() for v in encode_column(array, 0, Context())] == ["{1,NULL,3}", "{}"]
    binary = encode_column(array, 1, Context())[0]
    ndim, has_null, oid, size, lower = struct.unpack_from("!iiIii", binary)
    assert (ndim, has_null, oid, size, lower) == (1, 1, 20, 3, 1)
    assert text([["a,b", "", 'q"', "NULL"]], pa.list_(pa.string())) == ['{"a,b","","q\\"","NULL"}']


@pytest.mark.parametrize(
    "value",
    ["0", "0.00", "-1.5", "12345.6789", "1E+20", "0.000001", "99999999999999999999.99", "-0.0001"]
    + ["1234567890123456789012345678.9012345678"],  # 38 digits: more than Decimal's default 28
)
def test_numeric_binary_round_trip(value):
    number = Decimal(value)
    assert types.numeric_from_binary(types.numeric_binary(number)) == number


def test_oids_of_arrow_types():
    assert types.oid_of(pa.decimal128(38, 0)) == types.NUMERIC
    assert types.oid_of(pa.uint64()) == types.NUMERIC
    assert types.oid_of(pa.timestamp("ns", tz="UTC")) == types.TIMESTAMPTZ
    assert types.oid_of(pa.struct([("a", pa.int32())])) == 2249  # record
    assert types.oid_of(pa.map_(pa.string(), pa.int32())) == types.JSON
    assert types.oid_of(pa.list_(pa.list_(pa.int32()))) == types.TEXT
    assert types.oid_of(pa.list_(pa.float64())) == 1022
