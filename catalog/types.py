"""SQL types as tidal names them, and their Arrow and PostgreSQL counterparts.

A SQL type is a string in DuckDB's spelling (``BIGINT``, ``DECIMAL(10,2)``, ``TIMESTAMP``):
DuckDB's type rules are tidal's type rules, so that batch mode and the incremental engine
agree by construction (see docs/types.md).

>>> to_arrow("DECIMAL(10,2)")
Decimal128Type(decimal128(10, 2))
>>> from_arrow(to_arrow("TIMESTAMP"))
'TIMESTAMP'
>>> normalize('struct(a int, "B c" text[])'), normalize("map(text, integer)[]")
('STRUCT(a INTEGER, "B c" VARCHAR[])', 'MAP(VARCHAR, INTEGER)[]')
>>> to_arrow("STRUCT(a INTEGER, b MAP(VARCHAR, BIGINT))")
StructType(struct<a: int32, b: map<string, int64>>)
"""

from __future__ import annotations

import re

import pyarrow as pa

from tidal.catalog.sqlstate import INVALID_PARAMETER_VALUE, UNDEFINED_OBJECT, TidalError

_SIMPLE: dict[str, pa.DataType] = {
    "BOOLEAN": pa.bool_(),
    "TINYINT": pa.int8(),
    "SMALLINT": pa.int16(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "UTINYINT": pa.uint8(),
    "USMALLINT": pa.uint16(),
    "UINTEGER": pa.uint32(),
    "UBIGINT": pa.uint64(),
    "HUGEINT": pa.decimal128(38, 0),
    "FLOAT": pa.float32(),
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.string(),
    "BLOB": pa.binary(),
    "DATE": pa.date32(),
    "TIME": pa.time64("us"),
    "TIMESTAMP": pa.timestamp("us"),
    "TIMESTAMP_MS": pa.timestamp("ms"),
    "TIMESTAMP_S": pa.timestamp("s"),
    "TIMESTAMP_NS": pa.timestamp("ns"),
    "TIMESTAMP WITH TIME ZONE": pa.timestamp("us", tz="UTC"),
    "INTERVAL": pa.month_day_nano_interval(),
    "UUID": pa.string(),
    "JSON": pa.string(),
    "NULL": pa.null(),
}

# Spellings users write, mapped to the canonical name.
_ALIASES = {
    "INT": "INTEGER",
    "INT4": "INTEGER",
    "SIGNED": "INTEGER",
    "INT8": "BIGINT",
    "LONG": "BIGINT",
    "INT2": "SMALLINT",
    "SHORT": "SMALLINT",
    "INT1": "TINYINT",
    "BOOL": "BOOLEAN",
    "LOGICAL": "BOOLEAN",
    "REAL": "FLOAT",
    "FLOAT4": "FLOAT",
    "FLOAT8": "DOUBLE",
    "DOUBLE PRECISION": "DOUBLE",
    "TEXT": "VARCHAR",
    "STRING": "VARCHAR",
    "CHAR": "VARCHAR",
    "BPCHAR": "VARCHAR",
    "CHARACTER VARYING": "VARCHAR",
    "CHARACTER": "VARCHAR",
    "BYTEA": "BLOB",
    "BINARY": "BLOB",
    "VARBINARY": "BLOB",
    "DATETIME": "TIMESTAMP",
    "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP",
    "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE",
    "NUMERIC": "DECIMAL",
    "INT128": "HUGEINT",
}

_PG_OIDS = {
    "BOOLEAN": 16,
    "BLOB": 17,
    "BIGINT": 20,
    "SMALLINT": 21,
    "TINYINT": 21,
    "INTEGER": 23,
    "VARCHAR": 25,
    "JSON": 114,
    "FLOAT": 700,
    "DOUBLE": 701,
    "DATE": 1082,
    "TIME": 1083,
    "TIMESTAMP": 1114,
    "TIMESTAMP_MS": 1114,
    "TIMESTAMP_S": 1114,
    "TIMESTAMP_NS": 1114,
    "TIMESTAMP WITH TIME ZONE": 1184,
    "INTERVAL": 1186,
    "UUID": 2950,
    "UTINYINT": 21,
    "USMALLINT": 23,
    "UINTEGER": 20,
    "UBIGINT": 1700,
    "HUGEINT": 1700,
}
PG_NUMERIC_OID = 1700

_DECIMAL = re.compile(r"^DECIMAL\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$")
_PARAMETERIZED = re.compile(r"^(VARCHAR|CHAR|CHARACTER VARYING|CHARACTER|TEXT)\s*\(\s*\d+\s*\)$")
_TIMESTAMP_PRECISION = re.compile(r"^TIMESTAMP\s*\(\s*(\d)\s*\)$")


class TypeError_(TidalError, ValueError):
    """A type name tidal does not know."""

    sqlstate = UNDEFINED_OBJECT


def normalize(name: str) -> str:
    """The canonical spelling of a SQL type name.

    >>> normalize("numeric(10, 2)"), normalize("text"), normalize("timestamp(3)")
    ('DECIMAL(10,2)', 'VARCHAR', 'TIMESTAMP_MS')
    """
    nested = _nested(name.strip())
    if nested is not None:
        return nested
    upper = " ".join(name.upper().strip('"').split())
    if _PARAMETERIZED.match(upper):
        return "VARCHAR"
    upper = _ALIASES.get(upper, upper)
    precision = _TIMESTAMP_PRECISION.match(upper)
    if precision:
        digits = int(precision.group(1))
        return {0: "TIMESTAMP_S", 3: "TIMESTAMP_MS", 6: "TIMESTAMP", 9: "TIMESTAMP_NS"}.get(
            digits, "TIMESTAMP"
        )
    if upper.startswith("NUMERIC"):
        upper = "DECIMAL" + upper[len("NUMERIC") :]
    decimal = _DECIMAL.match(upper)
    if decimal:
        precision_, scale = int(decimal.group(1) or 18), int(decimal.group(2) or 0)
        if not 1 <= precision_ <= 38 or scale > precision_:
            raise TypeError_(
                f"type {name!r}: DECIMAL(p,s) takes a precision p from 1 to 38 and a scale s "
                "from 0 to p",
                INVALID_PARAMETER_VALUE,
            )
        return f"DECIMAL({precision_},{scale})"
    if upper in _SIMPLE:
        return upper
    raise TypeError_(
        f"unknown type {name!r}: use one of {', '.join(sorted(_SIMPLE))}, DECIMAL(p,s), a "
        "list type such as INTEGER[], STRUCT(a INTEGER, b VARCHAR) or MAP(VARCHAR, INTEGER)"
    )


def _nested(name: str) -> str | None:
    """The canonical spelling of a list, STRUCT or MAP type (field names keep their case, as
    DuckDB keeps them), None if ``name`` is not one."""
    if name.endswith("[]"):
        return normalize(name[:-2]) + "[]"
    head, _, rest = name.partition("(")
    kind = head.strip().upper()
    if kind not in ("STRUCT", "MAP", "TUPLE") or not rest.endswith(")"):
        return None
    parts = _split_top_level(rest[:-1])
    if kind == "TUPLE":  # DuckDB's ROW(...) value: a struct without field names, not storable
        return "TUPLE(" + ", ".join(normalize(p) for p in parts) + ")"
    if kind == "MAP":
        if len(parts) != 2:
            raise TypeError_(f"type {name!r}: a MAP has a key type and a value type")
        return f"MAP({normalize(parts[0])}, {normalize(parts[1])})"
    fields = []
    for part in parts:
        field, kind_text = _field_name(part)
        if not field or not kind_text.strip():
            raise TypeError_(f"type {name!r}: each STRUCT field is a name and a type")
        fields.append(f"{field_sql(field)} {normalize(kind_text)}")
    return "STRUCT(" + ", ".join(fields) + ")"


def _split_top_level(text: str) -> list[str]:
    """``text`` split at the commas outside parentheses and double quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def _field_name(text: str) -> tuple[str, str]:
    """A STRUCT field's name (unquoted) and the text of its type."""
    text = text.strip()
    if not text.startswith('"'):
        field, _, rest = text.partition(" ")
        return field, rest
    i, field = 1, ""
    while i < len(text):
        if text[i] == '"':
            if text[i + 1 : i + 2] != '"':
                return field, text[i + 1 :]
            i += 1
        field += text[i]
        i += 1
    raise TypeError_(f"unterminated field name in {text!r}")


# Words that DuckDB (as PostgreSQL) reserves: a STRUCT field so named is quoted.
_RESERVED = frozenset({
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both", "case",
    "cast", "check", "collate", "column", "constraint", "create", "default", "deferrable", "desc",
    "distinct", "do", "else", "end", "except", "false", "fetch", "for", "foreign", "from",
    "grant", "group", "having", "in", "initially", "intersect", "into", "lateral", "leading",
    "limit", "not", "null", "offset", "on", "only", "or", "order", "pivot", "placing", "primary",
    "qualify", "references", "returning", "select", "some", "symmetric", "table", "then", "to",
    "trailing", "true", "union", "unique", "unpivot", "using", "variadic", "when", "where",
    "window", "with",
})  # fmt: skip
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def field_sql(name: str) -> str:
    """A STRUCT field name as DuckDB spells it in a type: quoted only where it must be.

    >>> field_sql("a"), field_sql("my field"), field_sql("select")
    ('a', '"my field"', '"select"')
    """
    if _PLAIN_NAME.match(name) and name.lower() not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def to_arrow(name: str) -> pa.DataType:
    """The Arrow type that carries values of SQL type ``name``."""
    name = normalize(name)
    decimal = _DECIMAL.match(name)
    if decimal:
        return pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))
    if name.endswith("[]"):
        return pa.list_(to_arrow(name[:-2]))
    if name.startswith("MAP("):
        key, value = _split_top_level(name[4:-1])
        return pa.map_(to_arrow(key), to_arrow(value))
    if name.startswith("STRUCT("):
        return pa.struct(
            [pa.field(f, to_arrow(t)) for f, t in map(_field_name, _split_top_level(name[7:-1]))]
        )
    if name in _SIMPLE:
        return _SIMPLE[name]
    raise TypeError_(f"type {name} has no Arrow mapping in tidal yet")


def from_arrow(arrow_type: pa.DataType) -> str:
    """The SQL type name of an Arrow type (the inverse of ``to_arrow``)."""
    if pa.types.is_decimal(arrow_type):
        if arrow_type.precision == 38 and arrow_type.scale == 0:
            return "HUGEINT"
        return f"DECIMAL({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return "VARCHAR"
    if pa.types.is_large_binary(arrow_type):
        return "BLOB"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return from_arrow(arrow_type.value_type) + "[]"
    if pa.types.is_map(arrow_type):
        return f"MAP({from_arrow(arrow_type.key_type)}, {from_arrow(arrow_type.item_type)})"
    if pa.types.is_struct(arrow_type):
        fields = ", ".join(f"{field_sql(f.name)} {from_arrow(f.type)}" for f in arrow_type)
        return f"STRUCT({fields})"
    if pa.types.is_timestamp(arrow_type) and arrow_type.tz is not None:
        return "TIMESTAMP WITH TIME ZONE"
    for name, candidate in _SIMPLE.items():
        if candidate == arrow_type and name not in ("UUID", "JSON", "HUGEINT"):
            return name
    raise TypeError_(f"Arrow type {arrow_type} has no SQL type in tidal")


# Element type OID -> its array type's OID.
_PG_ARRAY_OIDS = {
    16: 1000, 17: 1001, 20: 1016, 21: 1005, 23: 1007, 25: 1009, 114: 199, 700: 1021,
    701: 1022, 1082: 1182, 1083: 1183, 1114: 1115, 1184: 1185, 1186: 1187, 1700: 1231,
    2950: 2951, 2249: 2287,
}  # fmt: skip


def pg_oid(name: str) -> int:
    """The built-in PostgreSQL type OID used to send values of this type over the wire: a list
    is an array, a STRUCT a ``record``, a MAP ``json`` (text for a list of lists).

    >>> pg_oid("INTEGER[]"), pg_oid("STRUCT(a INTEGER)"), pg_oid("MAP(VARCHAR, INTEGER)")
    (1007, 2249, 114)
    """
    name = normalize(name)
    if name.endswith("[]"):
        return _PG_ARRAY_OIDS.get(pg_oid(name[:-2]), 25)
    if name.startswith(("STRUCT(", "MAP(")):
        return 2249 if name.startswith("STRUCT(") else 114
    if name.startswith("DECIMAL"):
        return PG_NUMERIC_OID
    return _PG_OIDS.get(name, 25)


def _truncating_division(a: int, b: int) -> int:
    """Integer division towards zero, as C and PostgreSQL divide."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def duration_parts(microseconds: int) -> tuple[int, int, int]:
    """A duration (an Arrow duration, a Python timedelta) as INTERVAL parts: whole days and
    the rest, both of the duration's sign, as PostgreSQL's ``timestamp - timestamp`` gives.

    >>> interval_text(*duration_parts(-3_600_000_000)), interval_text(*duration_parts(90_000_000_000))
    ('-01:00:00', '1 day 01:00:00')
    """
    days = _truncating_division(microseconds, 86_400_000_000)
    return 0, days, (microseconds - days * 86_400_000_000) * 1000


def interval_text(months: int, days: int, nanoseconds: int) -> str:
    """An INTERVAL as PostgreSQL prints it (``IntervalStyle = postgres``); nanoseconds are
    truncated to PostgreSQL's microseconds.

    >>> interval_text(0, 0, 5_400_000_000_000), interval_text(14, 3, 3_723_000_000_000)
    ('01:30:00', '1 year 2 mons 3 days 01:02:03')
    >>> interval_text(0, 0, 0), interval_text(0, -1, 1000)
    ('00:00:00', '-1 days +00:00:00.000001')
    """
    micros = _truncating_division(nanoseconds, 1000)
    years = _truncating_division(months, 12)
    parts: list[str] = []
    before = False  # whether a negative part came before: PostgreSQL then signs the next one
    for value, unit in ((years, "year"), (months - years * 12, "mon"), (days, "day")):
        if value == 0:
            continue
        plus = "+" if before and value > 0 else ""
        parts.append(f"{plus}{value} {unit}{'' if value == 1 else 's'}")
        before = value < 0
    if not parts or micros != 0:
        hours, rest = divmod(abs(micros), 3_600_000_000)
        minutes, rest = divmod(rest, 60_000_000)
        seconds, fraction = divmod(rest, 1_000_000)
        sign = "-" if micros < 0 else ("+" if before else "")
        clock = f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"
        parts.append(clock + (f".{fraction:06d}".rstrip("0") if fraction else ""))
    return " ".join(parts)
