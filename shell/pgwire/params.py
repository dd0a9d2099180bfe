"""Statement parameters on the wire: their type OIDs, and their values decoded to text.

A parameter's SQL type is inferred by tidal.sql.parameters; here it becomes the OID a client
sees in ParameterDescription, and a client's declared OID becomes the SQL type the engine runs
it as (``declared_types``). Values arrive in text or binary form and are decoded to text (bytes for bytea), which
tidal.sql.parameters reads as PostgreSQL's input functions do: no value is ever pasted into SQL
text.

    >>> declared_types([pg.INT4, 0, pg.UNKNOWN])
    ['INTEGER', None, None]
    >>> oids([pg.INT4, 0, 0], ["INTEGER", "DATE", None])
    [23, 1082, 25]
    >>> decode(pg.INT8, True, (42).to_bytes(8, "big"))
    '42'
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Sequence

from sqlglot import exp

from tidal.catalog import types
from tidal.catalog.sqlstate import (
    FEATURE_NOT_SUPPORTED,
    INVALID_BINARY_REPRESENTATION,
    INVALID_TEXT_REPRESENTATION,
)
from tidal.shell.pgwire import pg_types as pg
from tidal.shell.pgwire.codec import decode_text
from tidal.shell.pgwire.error_responses import ServerError
from tidal.sql.parameters import number

_TEXTUAL = {pg.TEXT, pg.VARCHAR, pg.BPCHAR, pg.NAME, pg.CHAR, pg.UNKNOWN, pg.JSON}
_UNDECLARED = (0, pg.UNKNOWN)


# --- types -------------------------------------------------------------------------------------


def declared_types(declared: Sequence[int]) -> list[str | None]:
    """The SQL type of each declared OID (None: undeclared, for tidal.sql.parameters to infer)."""
    return [None if oid in _UNDECLARED else pg.SQL_TYPES.get(oid, "VARCHAR") for oid in declared]


def oids(declared: Sequence[int], inferred: Sequence[str | None]) -> list[int]:
    """The OID each parameter is described with: as declared, else the inferred type's, else
    text."""
    return [
        declared[i]
        if i < len(declared) and declared[i] not in _UNDECLARED
        else oid_of(sql_type)
        if sql_type is not None
        else pg.TEXT
        for i, sql_type in enumerate(inferred)
    ]


def oid_of(type_name: str) -> int:
    """The OID of a SQL type (in tidal's spelling); text for one PostgreSQL has no OID for."""
    try:
        name = types.normalize(type_name)
    except types.TypeError_:
        return pg.TEXT
    if name.startswith("DECIMAL"):
        return pg.NUMERIC
    if name.endswith("[]"):
        return pg.ARRAY_OF.get(oid_of(name[:-2]), pg.TEXT)
    return pg.OIDS_OF_SQL.get(name, pg.TEXT)


# --- values ------------------------------------------------------------------------------------


def decode(oid: int, binary: bool, raw: bytes | None) -> str | bytes | None:
    """A parameter value as text (bytes for bytea), from the client's text or binary form."""
    if raw is None:
        return None
    if oid == pg.BYTEA:
        return raw if binary else _bytea_from_text(decode_text(raw))
    if not binary:
        return decode_text(raw)
    try:
        return _from_binary(oid, raw)
    except (struct.error, ValueError, IndexError):
        raise ServerError(
            f"incorrect binary data format in a parameter of type oid {oid}",
            INVALID_BINARY_REPRESENTATION,
        ) from None


def _bytea_from_text(text: str) -> bytes:
    if text.startswith("\\x"):
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            raise ServerError(
                f"invalid input syntax for type bytea: {text!r}", INVALID_TEXT_REPRESENTATION
            )
    return text.encode("utf-8")


def _from_binary(oid: int, raw: bytes) -> str:
    if oid in _TEXTUAL:
        return decode_text(raw)
    if oid == pg.JSONB:
        if raw[:1] != b"\x01":
            raise ValueError("unknown jsonb version")
        return decode_text(raw[1:])
    if oid == pg.BOOL:
        (value,) = struct.unpack("!?", raw)
        return "t" if value else "f"
    fixed = {pg.INT2: "!h", pg.INT4: "!i", pg.INT8: "!q", pg.OID: "!I"}
    if oid in fixed:
        return str(struct.unpack(fixed[oid], raw)[0])
    if oid in (pg.FLOAT4, pg.FLOAT8):
        (value,) = struct.unpack("!f" if oid == pg.FLOAT4 else "!d", raw)
        return repr(value)
    if oid == pg.NUMERIC:
        return pg.numeric_text(pg.numeric_from_binary(raw))
    return _temporal_from_binary(oid, raw)


def _temporal_from_binary(oid: int, raw: bytes) -> str:
    if oid == pg.DATE:
        (days,) = struct.unpack("!i", raw)
        return pg.date_text(days if abs(days) == pg.INT32_MAX else days + pg.PG_EPOCH_DAYS)
    if oid == pg.TIME:
        return pg.time_text(struct.unpack("!q", raw)[0])
    if oid in (pg.TIMESTAMP, pg.TIMESTAMPTZ):
        (micros,) = struct.unpack("!q", raw)
        if micros in (pg.INT64_MAX, pg.INT64_MIN):
            return "infinity" if micros > 0 else "-infinity"
        offset = 0 if oid == pg.TIMESTAMPTZ else None
        return pg.timestamp_text(micros + pg.PG_EPOCH_MICROS, offset)
    if oid == pg.INTERVAL:
        micros, days, months = struct.unpack("!qii", raw)
        return f"{months} months {days} days {micros} microseconds"
    if oid == pg.UUID:
        return str(uuid.UUID(bytes=raw))
    raise ServerError(
        f"binary format for parameters of type oid {oid} is not supported: send it as text",
        FEATURE_NOT_SUPPORTED,
    )


def quote_literal(value: str | bytes | None) -> str | None:
    """PostgreSQL's ``quote_literal``: the value as a SQL string literal.

    >>> print(quote_literal("it's"))
    'it''s'
    """
    if value is None:
        return None
    text = value if isinstance(value, str) else "\\x" + value.hex()
    quoted = "'" + text.replace("'", "''").replace("\\", "\\\\") + "'"
    return "E" + quoted if "\\" in text else quoted


def quoted_parameters(statement: exp.Expression | None) -> list[int] | None:
    """For ``SELECT quote_literal($1::type::text), ...`` (asyncpg's way of inlining COPY
    arguments), the parameter number of each item; None for any other statement."""
    if not isinstance(statement, exp.Select) or not statement.expressions:
        return None
    if any(v for k, v in statement.args.items() if k != "expressions"):
        return None
    numbers = []
    for item in statement.expressions:
        if not (isinstance(item, exp.Anonymous) and item.name.lower() == "quote_literal"):
            return None
        inner = item.expressions[0] if len(item.expressions) == 1 else None
        while isinstance(inner, exp.Cast):
            inner = inner.this
        if not isinstance(inner, exp.Parameter) or number(inner) is None:
            return None
        numbers.append(number(inner))
    return numbers
