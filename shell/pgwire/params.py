"""Statement parameters (``$1``, ``$2``, ...): their types, and binding values as literals.

A parameter's type is the one the client declared in Parse, else inferred from where it stands
(compared with a column, cast, a LIMIT, an INSERT's target column), else text, as PostgreSQL
infers an ``unknown``. Values are bound by replacing each ``Parameter`` node of the parsed
statement with a typed literal node, so no value is ever pasted into SQL text.

    >>> from tidal.catalog import Catalog
    >>> from tidal.sql.parser import parse_statement
    >>> statement = parse_statement("SELECT $1::int + 1, $2 LIMIT $3")
    >>> infer_types(statement, Catalog(), ())
    [23, 25, 20]
    >>> bind(statement, [23, 25, 20], ["41", "it's", "5"]).sql(dialect="tidal")
    "SELECT CAST(CAST(41 AS INT) AS INT) + 1, 'it''s' LIMIT 5"
"""

from __future__ import annotations

import math
import struct
import uuid
from decimal import Decimal, InvalidOperation

from sqlglot import exp

from tidal.catalog import Catalog, types
from tidal.catalog.sqlstate import (
    FEATURE_NOT_SUPPORTED,
    INVALID_BINARY_REPRESENTATION,
    INVALID_TEXT_REPRESENTATION,
    NUMERIC_VALUE_OUT_OF_RANGE,
    UNDEFINED_PARAMETER,
)
from tidal.shell.pgwire import pg_types as pg
from tidal.shell.pgwire.codec import ProtocolError, decode_text
from tidal.shell.pgwire.error_responses import ServerError

_INTEGERS = {pg.INT2: (-(2**15), 2**15), pg.INT4: (-(2**31), 2**31), pg.INT8: (-(2**63), 2**63)}
_TEXTUAL = {pg.TEXT, pg.VARCHAR, pg.BPCHAR, pg.NAME, pg.CHAR, pg.UNKNOWN, pg.JSON}


def parameters(statement: exp.Expression) -> list[exp.Parameter]:
    """The ``$n`` nodes of a statement."""
    return [p for p in statement.find_all(exp.Parameter) if _number(p) is not None]


def _number(node: exp.Parameter) -> int | None:
    inner = node.this
    if isinstance(inner, exp.Literal) and not inner.is_string and inner.this.isdigit():
        return int(inner.this)
    return None


def count(statement: exp.Expression | None, declared: tuple[int, ...] = ()) -> int:
    numbers = [_number(p) for p in parameters(statement)] if statement is not None else []
    return max([len(declared), *numbers])


# --- inference ---------------------------------------------------------------------------------


def infer_types(
    statement: exp.Expression | None, catalog: Catalog, declared: tuple[int, ...]
) -> list[int]:
    """The type OID of every parameter ``$1..$n``."""
    n = count(statement, declared)
    oids = [declared[i] if i < len(declared) else 0 for i in range(n)]
    oids = [0 if oid == pg.UNKNOWN else oid for oid in oids]
    if statement is not None:
        relations = _relations(statement, catalog)
        for node in parameters(statement):
            index = _number(node) - 1
            if index < n and oids[index] == 0:
                oids[index] = _context_type(node, relations) or 0
    return [oid or pg.TEXT for oid in oids]


def _relations(statement: exp.Expression, catalog: Catalog) -> dict[str, object]:
    """Relations the statement names, by alias and by name."""
    found: dict[str, object] = {}
    for table in statement.find_all(exp.Table):
        relation = catalog.find(table.name) if table.name else None
        if relation is not None and hasattr(relation, "columns"):
            found[table.name.lower()] = relation
            if table.alias:
                found[table.alias.lower()] = relation
    return found


def _context_type(node: exp.Expression, relations: dict[str, object]) -> int | None:
    parent = node.parent
    while isinstance(parent, exp.Paren):
        node, parent = parent, parent.parent
    if isinstance(parent, exp.Cast) and parent.this is node:
        return cast_oid(parent.to)
    if isinstance(parent, (exp.Limit, exp.Offset, exp.Fetch)):
        return pg.INT8
    if isinstance(parent, (exp.Like, exp.ILike, exp.DPipe)):
        return pg.TEXT
    if isinstance(parent, exp.Binary):
        other = parent.expression if parent.this is node else parent.this
        return _type_of(other, relations)
    if isinstance(parent, exp.In):
        return _type_of(parent.this, relations) if parent.this is not node else None
    if isinstance(parent, exp.Between):
        other = parent.args.get("low") if parent.this is node else parent.this
        return _type_of(other, relations)
    if isinstance(parent, (exp.Tuple, exp.Values)):
        return _insert_column_type(node, parent, relations)
    return None


def _insert_column_type(
    node: exp.Expression, row: exp.Expression, relations: dict[str, object]
) -> int | None:
    values = row if isinstance(row, exp.Values) else row.parent
    insert = values.parent if isinstance(values, exp.Values) else None
    if not isinstance(insert, exp.Insert):
        return None
    target = insert.this
    table = target.this if isinstance(target, exp.Schema) else target
    relation = relations.get(table.name.lower())
    if relation is None:
        return None
    if isinstance(target, exp.Schema):
        names = [i.name.lower() for i in target.expressions]
    else:
        names = [c.name.lower() for c in relation.columns]
    items = row.expressions
    position = next((i for i, item in enumerate(items) if item is node), None)
    if position is None or position >= len(names):
        return None
    return _column_oid(relation, names[position])


def _type_of(node: exp.Expression | None, relations: dict[str, object]) -> int | None:
    if isinstance(node, exp.Paren):
        return _type_of(node.this, relations)
    if isinstance(node, exp.Column):
        candidates = [relations.get(node.table.lower())] if node.table else list(relations.values())
        for relation in candidates:
            oid = _column_oid(relation, node.name.lower()) if relation is not None else None
            if oid is not None:
                return oid
        return None
    if isinstance(node, exp.Cast):
        return cast_oid(node.to)
    if isinstance(node, exp.Boolean):
        return pg.BOOL
    if isinstance(node, exp.Literal):
        if node.is_string:
            return pg.TEXT
        return pg.INT8 if node.this.lstrip("-").isdigit() else pg.NUMERIC
    return None


def _column_oid(relation: object, name: str) -> int | None:
    for column in relation.columns:
        if column.name.lower() == name:
            return _oid_of_sql(column.type)
    return None


# PostgreSQL's own type names, as drivers write them in casts (``$1::pg_catalog.int4``).
_PG_TYPE_NAMES = {
    "int2": pg.INT2, "int4": pg.INT4, "int8": pg.INT8, "float4": pg.FLOAT4,
    "float8": pg.FLOAT8, "text": pg.TEXT, "varchar": pg.TEXT, "bpchar": pg.TEXT, "name": pg.TEXT,
    "bool": pg.BOOL, "bytea": pg.BYTEA, "date": pg.DATE, "time": pg.TIME,
    "timestamp": pg.TIMESTAMP, "timestamptz": pg.TIMESTAMPTZ, "interval": pg.INTERVAL,
    "numeric": pg.NUMERIC, "uuid": pg.UUID, "json": pg.JSON, "jsonb": pg.JSON, "oid": pg.OID,
}  # fmt: skip


def cast_oid(to: exp.DataType) -> int:
    """The OID of a cast's target type, in tidal's spelling or PostgreSQL's."""
    kind = to.args.get("kind")
    if to.this == exp.DataType.Type.USERDEFINED and kind is not None:
        name = kind.name if isinstance(kind, exp.Dot) else kind.sql()
        return _PG_TYPE_NAMES.get(name.strip('"').lower(), pg.TEXT)
    return _oid_of_sql(to.sql(dialect="duckdb"))


def _oid_of_sql(type_name: str) -> int:
    try:
        name = types.normalize(type_name)
    except types.TypeError_:
        return _PG_TYPE_NAMES.get(type_name.lower(), pg.TEXT)
    if name.startswith("DECIMAL"):
        return pg.NUMERIC
    if name.endswith("[]"):
        return pg.ARRAY_OF.get(_oid_of_sql(name[:-2]), pg.TEXT)
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


def literal(oid: int, value: str | bytes | None) -> exp.Expression:
    """A literal node of the parameter's type holding ``value`` (already decoded)."""
    sql_type = pg.SQL_TYPES.get(oid)
    if value is None:
        return exp.cast(
            exp.Null(), _decimal_type(None) if oid == pg.NUMERIC else sql_type or "VARCHAR"
        )
    if oid == pg.BYTEA:
        escaped = "".join(f"\\x{b:02X}" for b in value)
        return exp.cast(exp.Literal.string(escaped), "BLOB")
    if oid == pg.BOOL:
        return exp.Boolean(this=_boolean(value))
    if oid in _INTEGERS or oid == pg.OID:
        return exp.cast(exp.Literal.number(_integer(oid, value)), sql_type)
    if oid in (pg.FLOAT4, pg.FLOAT8):
        return _float_literal(value, sql_type)
    if oid == pg.NUMERIC:
        number = _decimal(value)
        if not number.is_finite():
            return exp.cast(exp.Literal.string(str(number)), "DOUBLE")
        return exp.cast(exp.Literal.number(format(number, "f")), _decimal_type(number))
    if sql_type is None or oid in (pg.TEXT, pg.UNKNOWN):
        return exp.Literal.string(value)
    return exp.cast(exp.Literal.string(value), sql_type)


def _invalid(kind: str, value: str) -> ServerError:
    return ServerError(
        f"invalid input syntax for type {kind}: {value!r}", INVALID_TEXT_REPRESENTATION
    )


def _boolean(value: str) -> bool:
    text = value.strip().lower()
    if text in ("t", "true", "y", "yes", "on", "1"):
        return True
    if text in ("f", "false", "n", "no", "off", "0"):
        return False
    raise _invalid("boolean", value)


def _integer(oid: int, value: str) -> str:
    try:
        number = int(value.strip())
    except ValueError:
        raise _invalid("integer", value) from None
    low, high = _INTEGERS.get(oid, (0, 2**32))
    if not low <= number < high:
        raise ServerError(
            f"value {value!r} is out of range for its integer type", NUMERIC_VALUE_OUT_OF_RANGE
        )
    return str(number)


def _float_literal(value: str, sql_type: str) -> exp.Expression:
    try:
        number = float(value.strip())
    except ValueError:
        raise _invalid("double precision", value) from None
    if math.isfinite(number):
        return exp.cast(exp.Literal.number(repr(number)), sql_type)
    text = "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
    return exp.cast(exp.Literal.string(text), sql_type)


def _decimal(value: str) -> Decimal:
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        raise _invalid("numeric", value) from None


def _decimal_type(number: Decimal | None) -> str:
    if number is None:
        return "DECIMAL(38,10)"
    _, digits, exponent = number.as_tuple()
    scale = max(0, -exponent)
    width = max(len(digits) + max(exponent, 0), scale + 1)
    if width > 38:
        return "DOUBLE"
    return f"DECIMAL({width},{scale})"


def bind(
    statement: exp.Expression,
    oids: list[int],
    values: list[str | bytes | None],
    describing: bool = False,
) -> exp.Expression:
    """A copy of ``statement`` with each ``$n`` replaced by the n-th value as a typed literal."""
    bound = statement.copy()
    for node in parameters(bound):
        index = _number(node) - 1
        if index >= len(values):
            raise ServerError(f"there is no parameter ${index + 1}", UNDEFINED_PARAMETER)
        if isinstance(node.parent, (exp.Limit, exp.Offset, exp.Fetch)):
            node.replace(_row_count(values[index], describing))
        else:
            node.replace(literal(oids[index], values[index]))
    return bound


def _row_count(value: str | bytes | None, describing: bool) -> exp.Expression:
    """LIMIT and OFFSET take a plain number (the binder wants a constant, not a cast)."""
    if value is None:
        return exp.Literal.number(0) if describing else exp.Null()
    return exp.Literal.number(_integer(pg.INT8, value if isinstance(value, str) else ""))


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
        if not isinstance(inner, exp.Parameter) or _number(inner) is None:
            return None
        numbers.append(_number(inner))
    return numbers


def bind_nulls(statement: exp.Expression, oids: list[int]) -> exp.Expression:
    """``statement`` with each parameter a typed NULL: enough to learn its result columns."""
    return bind(statement, oids, [None] * len(oids), describing=True)


__all__ = ["ProtocolError", "bind", "bind_nulls", "decode", "infer_types", "literal"]
