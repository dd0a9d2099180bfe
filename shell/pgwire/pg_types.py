"""Arrow columns as PostgreSQL values: type OIDs, and the text and binary encodings.

Text encodings match PostgreSQL's output byte for byte (``t``/``f`` for booleans, shortest
round-trip floats, ``\\x`` hex for bytea, ISO dates, ``+00`` offsets); binary encodings are
PostgreSQL's send functions. Only built-in type OIDs are used, so drivers never need to ask the
catalog what a type is.

    >>> oid_of(pa.int64()), pg_type(pa.float64()).text(1e15, Context())
    (20, b'1e+15')

encoders.py applies these to whole columns and rows.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
import struct
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa

from tidal.catalog.types import duration_parts, interval_text
from tidal.shell.pgwire.pg_records import RECORD, RECORD_ARRAY, map_json, record_codecs

# PostgreSQL's epoch (2000-01-01) from the Unix epoch, as binary dates and timestamps count.
PG_EPOCH_DAYS = 10_957
PG_EPOCH_MICROS = PG_EPOCH_DAYS * 86_400_000_000
INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)
INT32_MAX, INT32_MIN = 2**31 - 1, -(2**31)

BOOL, BYTEA, INT8, INT2, INT4, TEXT, JSON, FLOAT4, FLOAT8 = 16, 17, 20, 21, 23, 25, 114, 700, 701
VARCHAR, DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, NUMERIC, UUID = (
    1043,
    1082,
    1083,
    1114,
    1184,
    1186,
    1700,
    2950,
)
UNKNOWN, VOID, OID, NAME, BPCHAR, JSONB, CHAR = 705, 2278, 26, 19, 1042, 3802, 18

# Element type OID -> array type OID.
ARRAY_OF = {
    BOOL: 1000, BYTEA: 1001, INT2: 1005, INT4: 1007, TEXT: 1009, INT8: 1016, FLOAT4: 1021,
    FLOAT8: 1022, VARCHAR: 1015, DATE: 1182, TIME: 1183, TIMESTAMP: 1115, TIMESTAMPTZ: 1185,
    INTERVAL: 1187, NUMERIC: 1231, UUID: 2951, JSON: 199, RECORD: RECORD_ARRAY,
}  # fmt: skip

# Type OID -> tidal's SQL type, for parameters a client declares.
SQL_TYPES = {
    BOOL: "BOOLEAN", BYTEA: "BLOB", INT8: "BIGINT", INT2: "SMALLINT", INT4: "INTEGER",
    TEXT: "VARCHAR", VARCHAR: "VARCHAR", BPCHAR: "VARCHAR", NAME: "VARCHAR", CHAR: "VARCHAR",
    JSON: "JSON", JSONB: "JSON", FLOAT4: "FLOAT", FLOAT8: "DOUBLE", NUMERIC: "DECIMAL",
    DATE: "DATE", TIME: "TIME", TIMESTAMP: "TIMESTAMP", TIMESTAMPTZ: "TIMESTAMP WITH TIME ZONE",
    INTERVAL: "INTERVAL", UUID: "UUID", OID: "BIGINT",
}  # fmt: skip

# tidal's SQL type (canonical spelling) -> OID, for inferred parameter types.
OIDS_OF_SQL = {
    "BOOLEAN": BOOL, "BLOB": BYTEA, "BIGINT": INT8, "SMALLINT": INT2, "TINYINT": INT2,
    "INTEGER": INT4, "VARCHAR": TEXT, "JSON": JSON, "FLOAT": FLOAT4, "DOUBLE": FLOAT8,
    "DATE": DATE, "TIME": TIME, "TIMESTAMP": TIMESTAMP, "TIMESTAMP WITH TIME ZONE": TIMESTAMPTZ,
    "INTERVAL": INTERVAL, "UUID": UUID, "HUGEINT": NUMERIC, "UTINYINT": INT2,
    "USMALLINT": INT4, "UINTEGER": INT8, "UBIGINT": NUMERIC,
}  # fmt: skip


@dataclass(frozen=True)
class Context:
    """Session settings that change how values print."""

    timezone: str = "UTC"
    extra_float_digits: int = 1

    def zone(self) -> datetime.tzinfo | None:
        """The session's time zone, None for UTC."""
        if self.timezone.upper() in ("UTC", "ETC/UTC", "GMT", "Z", "ZULU", "UCT"):
            return None
        return zoneinfo.ZoneInfo(self.timezone)


@dataclass(frozen=True)
class PgType:
    """How one Arrow type goes over the wire: its OID, size, and its per-value encoders
    (``prepare`` turns the Arrow column into the Python values they take)."""

    oid: int
    size: int
    text: Callable[[Any, Context], bytes]
    binary: Callable[[Any, Context], bytes]
    prepare: Callable[[pa.Array], list] = lambda array: array.to_pylist()


# --- numbers ---------------------------------------------------------------------------------


def _bool_text(value: bool, _: Context) -> bytes:
    return b"t" if value else b"f"


def _bool_binary(value: bool, _: Context) -> bytes:
    return b"\x01" if value else b"\x00"


def _int_text(value: int, _: Context) -> bytes:
    return str(value).encode()


def _packer(fmt: str) -> Callable[[Any, Context], bytes]:
    pack = struct.Struct(fmt).pack
    return lambda value, _: pack(value)


def float_text(value: float, digits: int, fixed_below: int, extra_digits: int = 1) -> str:
    """PostgreSQL's float output: the shortest string that reads back as the same value
    (``digits``: that string for this float width), fixed-point for exponents in
    [-4, fixed_below), else ``1e+15`` style; ``NaN``, ``Infinity``, ``-0``.

    >>> float_text(1e15, 17, 15), float_text(123.5, 17, 15), float_text(1e-5, 17, 15)
    ('1e+15', '123.5', '1e-05')
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    if extra_digits <= 0:  # the pre-12 behaviour a client can still ask for
        precision = (15 if digits == 17 else 6) + extra_digits
        return f"{value:.{max(1, precision)}g}"
    return _shortest(Decimal(_shortest_repr(value, digits)), fixed_below)


def _shortest_repr(value: float, digits: int) -> str:
    return repr(value) if digits == 17 else str(np.float32(value))


def _shortest(number: Decimal, fixed_below: int) -> str:
    sign, digit_tuple, exponent = number.normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    e10 = exponent + len(digits) - 1
    if -4 <= e10 < fixed_below:
        if e10 < 0:
            text = "0." + "0" * (-e10 - 1) + digits
        elif len(digits) <= e10 + 1:
            text = digits + "0" * (e10 + 1 - len(digits))
        else:
            text = digits[: e10 + 1] + "." + digits[e10 + 1 :]
    else:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        text = f"{mantissa}e{'+' if e10 >= 0 else '-'}{abs(e10):02d}"
    return ("-" if sign else "") + text


def _float8_text(value: float, ctx: Context) -> bytes:
    return float_text(value, 17, 15, ctx.extra_float_digits).encode()


def _float4_text(value: float, ctx: Context) -> bytes:
    return float_text(value, 9, 6, ctx.extra_float_digits).encode()


def numeric_text(value: Decimal) -> str:
    if value.is_nan():
        return "NaN"
    return format(value, "f")


def numeric_binary(value: Decimal) -> bytes:
    """PostgreSQL's binary numeric: base-10000 digits, weight, sign, display scale.

    >>> numeric_binary(Decimal("12345.5")).hex()
    '0003000100000001000109291388'
    """
    if value.is_nan():
        return _NUMERIC_HEAD.pack(0, 0, 0xC000, 0)
    exponent = value.as_tuple().exponent
    dscale = max(0, -exponent)
    if exponent < 0:  # the digits as an integer, padded to whole groups of four fraction digits
        pad = exponent % 4
        coefficient = abs(int(value.scaleb(dscale, _WIDE))) * 10**pad
        fraction_groups = (dscale + pad) // 4
    else:
        coefficient = abs(int(value))
        fraction_groups = 0
    groups = []
    while coefficient:
        coefficient, group = divmod(coefficient, 10_000)
        groups.append(group)
    groups.reverse()
    weight = len(groups) - 1 - fraction_groups
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        weight = 0
    head = _NUMERIC_HEAD.pack(len(groups), weight, 0x4000 if value.is_signed() else 0, dscale)
    return head + struct.pack(f"!{len(groups)}H", *groups)


_NUMERIC_HEAD = struct.Struct("!hhHH")


def numeric_from_binary(raw: bytes) -> Decimal:
    """The inverse of ``numeric_binary``; ValueError on malformed input."""
    if len(raw) < 8:
        raise ValueError("invalid binary numeric")
    count, weight, sign, dscale = struct.unpack_from("!hhHH", raw)
    if sign == 0xC000:
        return Decimal("NaN")
    if count < 0 or len(raw) != 8 + 2 * count or sign not in (0, 0x4000) or dscale > 16383:
        raise ValueError("invalid binary numeric")
    groups = struct.unpack_from(f"!{count}H", raw, 8)
    if any(g > 9999 for g in groups):
        raise ValueError("invalid binary numeric digit")
    digits = "".join(f"{g:04d}" for g in groups) or "0"
    exponent = 4 * (weight + 1 - max(count, 1))
    value = Decimal(f"{'-' if sign else ''}{digits}E{exponent}")
    return (
        value.quantize(Decimal(1).scaleb(-dscale), context=_WIDE)
        if value
        else Decimal(f"0E-{dscale}")
    )


_WIDE = decimal.Context(prec=200_000, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


# --- dates and times -------------------------------------------------------------------------


def civil(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day count since 1970-01-01, proleptic Gregorian, any range."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def date_text(days: int) -> str:
    if days >= INT32_MAX:
        return "infinity"
    if days <= -INT32_MAX:
        return "-infinity"
    year, month, day = civil(days)
    if year <= 0:
        return f"{1 - year:04d}-{month:02d}-{day:02d} BC"
    return f"{year:04d}-{month:02d}-{day:02d}"


def time_text(micros: int) -> str:
    seconds, fraction = divmod(micros, 1_000_000)
    hours, rest = divmod(seconds, 3600)
    text = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return text + (f".{fraction:06d}".rstrip("0") if fraction else "")


def timestamp_text(micros: int, offset_seconds: int | None = None) -> str:
    """``2024-01-02 03:04:05.5`` (and ``+00`` style offset for timestamptz)."""
    if micros == INT64_MAX:
        return "infinity"
    if micros <= -INT64_MAX:
        return "-infinity"
    local = micros + (offset_seconds or 0) * 1_000_000
    days, in_day = divmod(local, 86_400_000_000)
    date = date_text(days)
    bc = date.endswith(" BC")
    text = f"{date.removesuffix(' BC')} {time_text(in_day)}"
    if offset_seconds is not None:
        text += _offset_text(offset_seconds)
    return text + (" BC" if bc else "")


def _offset_text(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours:02d}"
    if minutes or secs:
        text += f":{minutes:02d}"
    if secs:
        text += f":{secs:02d}"
    return text


def _timestamptz_text(micros: int, ctx: Context) -> bytes:
    zone = ctx.zone()
    offset = 0
    if zone is not None and -INT64_MAX < micros < INT64_MAX:
        try:
            moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
                microseconds=micros
            )
            offset = int(moment.astimezone(zone).utcoffset().total_seconds())
        except OverflowError:
            offset = 0
    return timestamp_text(micros, offset).encode()


def _pg_micros(micros: int) -> int:
    if micros >= INT64_MAX:
        return INT64_MAX
    if micros <= -INT64_MAX:
        return INT64_MIN
    return micros - PG_EPOCH_MICROS


def _pg_days(days: int) -> int:
    if days >= INT32_MAX:
        return INT32_MAX
    if days <= -INT32_MAX:
        return INT32_MIN
    return days - PG_EPOCH_DAYS


def _micros_of(array: pa.Array) -> list[int | None]:
    """Timestamps or times as integer microseconds (whatever their unit)."""
    unit = array.type.unit
    values = array.cast(pa.int64()).to_pylist()
    if unit == "us":
        return values
    if unit == "ns":  # infinities stay infinities
        return [
            v if v is None or abs(v) == INT64_MAX or v == INT64_MIN else v // 1000 for v in values
        ]
    scale = {"s": 1_000_000, "ms": 1000}[unit]
    return [v if v is None or abs(v) >= INT64_MAX // scale else v * scale for v in values]


def _interval_parts(array: pa.Array) -> list[tuple[int, int, int] | None]:
    """(months, days, nanoseconds) of each interval or duration."""
    if pa.types.is_duration(array.type):
        return [None if v is None else duration_parts(v) for v in _micros_of(array)]
    return [None if v is None else (v.months, v.days, v.nanoseconds) for v in array.to_pylist()]


def _interval_binary(value: tuple[int, int, int], _: Context) -> bytes:
    months, days, nanoseconds = value
    micros = abs(nanoseconds) // 1000 * (1 if nanoseconds >= 0 else -1)  # towards zero
    return struct.pack("!qii", micros, days, months)


# --- everything else -------------------------------------------------------------------------


def _utf8(value: str, _: Context) -> bytes:
    return value.encode("utf-8")


def _bytea_text(value: bytes, _: Context) -> bytes:
    return b"\\x" + value.hex().encode()


def _raw(value: bytes, _: Context) -> bytes:
    return value


def _json_text(value: Any, _: Context) -> bytes:
    return json.dumps(value, default=str, ensure_ascii=False).encode()


def _uuid_text(value: Any, _: Context) -> bytes:
    return str(uuid.UUID(bytes=value) if isinstance(value, bytes) else value).encode()


def _uuid_binary(value: Any, _: Context) -> bytes:
    return value if isinstance(value, bytes) else uuid.UUID(str(value)).bytes


def _temporal(oid: int, text: Callable, binary: Callable, prepare: Callable) -> PgType:
    return PgType(oid, 8 if oid != DATE else 4, text, binary, prepare)


_DATE = _temporal(
    DATE,
    lambda v, _: date_text(v).encode(),
    lambda v, _: struct.pack("!i", _pg_days(v)),
    lambda a: a.cast(pa.int32()).to_pylist(),
)
_TIME = _temporal(
    TIME, lambda v, _: time_text(v).encode(), lambda v, _: struct.pack("!q", v), _micros_of
)
_TIMESTAMP = _temporal(
    TIMESTAMP,
    lambda v, _: timestamp_text(v).encode(),
    lambda v, _: struct.pack("!q", _pg_micros(v)),
    _micros_of,
)
_TIMESTAMPTZ = _temporal(
    TIMESTAMPTZ, _timestamptz_text, lambda v, _: struct.pack("!q", _pg_micros(v)), _micros_of
)
_INTERVAL = PgType(
    INTERVAL, 16, lambda v, _: interval_text(*v).encode(), _interval_binary, _interval_parts
)
_NUMERIC = PgType(
    NUMERIC,
    -1,
    lambda v, _: numeric_text(v if type(v) is Decimal else Decimal(v)).encode(),
    lambda v, _: numeric_binary(v if type(v) is Decimal else Decimal(v)),
)
_TEXT = PgType(TEXT, -1, _utf8, _utf8)
_JSON_AS_TEXT = PgType(TEXT, -1, _json_text, _json_text)

_SCALARS: dict[pa.DataType, PgType] = {
    pa.bool_(): PgType(BOOL, 1, _bool_text, _bool_binary),
    pa.int8(): PgType(INT2, 2, _int_text, _packer("!h")),
    pa.int16(): PgType(INT2, 2, _int_text, _packer("!h")),
    pa.int32(): PgType(INT4, 4, _int_text, _packer("!i")),
    pa.int64(): PgType(INT8, 8, _int_text, _packer("!q")),
    pa.uint8(): PgType(INT2, 2, _int_text, _packer("!h")),
    pa.uint16(): PgType(INT4, 4, _int_text, _packer("!i")),
    pa.uint32(): PgType(INT8, 8, _int_text, _packer("!q")),
    pa.uint64(): _NUMERIC,
    pa.float16(): PgType(FLOAT4, 4, _float4_text, _packer("!f")),
    pa.float32(): PgType(FLOAT4, 4, _float4_text, _packer("!f")),
    pa.float64(): PgType(FLOAT8, 8, _float8_text, _packer("!d")),
    pa.string(): _TEXT,
    pa.large_string(): _TEXT,
    pa.string_view(): _TEXT,
    pa.binary(): PgType(BYTEA, -1, _bytea_text, _raw),
    pa.large_binary(): PgType(BYTEA, -1, _bytea_text, _raw),
    pa.binary_view(): PgType(BYTEA, -1, _bytea_text, _raw),
    pa.date32(): _DATE,
    pa.month_day_nano_interval(): _INTERVAL,
    pa.null(): _TEXT,
}


def pg_type(arrow_type: pa.DataType) -> PgType:
    """How values of ``arrow_type`` are sent; types without a PostgreSQL match go as text."""
    kind = _PG_TYPES.get(arrow_type)
    if kind is None:
        if len(_PG_TYPES) >= 1024:
            _PG_TYPES.clear()
        kind = _PG_TYPES[arrow_type] = _pg_type(arrow_type)
    return kind


_PG_TYPES: dict[pa.DataType, PgType] = {}  # pg_type's answers, chosen once per Arrow type


def _pg_type(arrow_type: pa.DataType) -> PgType:
    if arrow_type in _SCALARS:
        return _SCALARS[arrow_type]
    if pa.types.is_dictionary(arrow_type):
        return pg_type(arrow_type.value_type)
    if pa.types.is_decimal(arrow_type):
        return _NUMERIC
    if pa.types.is_timestamp(arrow_type):
        return _TIMESTAMPTZ if arrow_type.tz is not None else _TIMESTAMP
    if pa.types.is_time(arrow_type):
        return _TIME
    if pa.types.is_date64(arrow_type):
        return _temporal(
            DATE,
            _DATE.text,
            _DATE.binary,
            lambda a: a.cast(pa.date32()).cast(pa.int32()).to_pylist(),
        )
    if pa.types.is_duration(arrow_type):
        return _INTERVAL
    if getattr(arrow_type, "extension_name", None) == "arrow.uuid":
        return PgType(UUID, 16, _uuid_text, _uuid_binary, lambda a: a.storage.to_pylist())
    if pa.types.is_map(arrow_type):
        return PgType(JSON, -1, map_json, map_json)
    if pa.types.is_struct(arrow_type):
        codecs = record_codecs(arrow_type, [pg_type(f.type) for f in arrow_type])
        return PgType(RECORD, -1, *codecs)
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        element = arrow_type.value_type
        if not (pa.types.is_list(element) or pa.types.is_large_list(element)):
            return _array_type(pg_type(element))
    return _JSON_AS_TEXT


def oid_of(arrow_type: pa.DataType) -> int:
    return pg_type(arrow_type).oid


# --- arrays ----------------------------------------------------------------------------------

_NEEDS_QUOTES = set(' {}",\\\t\n\r\v\f')


def _array_element_text(text: bytes) -> bytes:
    if not text or text.upper() == b"NULL" or any(chr(c) in _NEEDS_QUOTES for c in text):
        return b'"' + text.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return text


def _array_type(element: PgType) -> PgType:
    if element.oid not in ARRAY_OF:
        return _JSON_AS_TEXT

    def prepare(array: pa.Array) -> list:
        flat = element.prepare(array.flatten())
        offsets = array.offsets.to_pylist()
        valid = array.is_valid().to_pylist()
        return [
            flat[offsets[i] - offsets[0] : offsets[i + 1] - offsets[0]] if valid[i] else None
            for i in range(len(array))
        ]

    def text(values: list, ctx: Context) -> bytes:
        items = [
            b"NULL" if v is None else _array_element_text(element.text(v, ctx)) for v in values
        ]
        return b"{" + b",".join(items) + b"}"

    def binary(values: list, ctx: Context) -> bytes:
        has_null = any(v is None for v in values)
        if not values:
            return struct.pack("!iiI", 0, 0, element.oid)
        parts = [struct.pack("!iiIii", 1, int(has_null), element.oid, len(values), 1)]
        for v in values:
            if v is None:
                parts.append(struct.pack("!i", -1))
            else:
                encoded = element.binary(v, ctx)
                parts.append(struct.pack("!i", len(encoded)) + encoded)
        return b"".join(parts)

    return PgType(ARRAY_OF[element.oid], -1, text, binary, prepare)
