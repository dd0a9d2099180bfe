"""PostgreSQL column types and values mapped to tidal's Arrow columns, both ways.

Four functions, shared by the PostgreSQL CDC source and the PostgreSQL sink:

- ``check_columns``: do the declared tidal columns exist in a PostgreSQL table, with types that
  map to the declared ones? (A ConnectorError says what to declare instead.)
- ``decode``: PostgreSQL's text output of values (``SELECT v::text``, pgoutput's text tuples) as
  an Arrow array of a tidal type. The session must print values as ``SESSION_OPTIONS`` sets.
- ``encode_copy``: an Arrow table as CSV that ``COPY t (cols) FROM STDIN (COPY_OPTIONS)``
  reads back exactly (send it as raw COPY data, e.g. psycopg2's ``copy_expert``: psql's
  ``\\copy`` would end it at a line ``\\.`` inside a quoted value).
- ``pg_type``: the PostgreSQL column type for a tidal type.

>>> decode(["{1,NULL}", None, "{}"], "INTEGER[]").to_pylist()
[[1, None], None, []]
>>> encode_copy(pa.table({"n": [1, None], "s": ["", "a\\"b"]}))
b'1,""\\n,"a""b"\\n'

Every declared type but STRUCT and MAP is mapped; every PostgreSQL type can be read into, and
written from, a VARCHAR column (its text, as PostgreSQL prints and parses it: enums, inet, money).
"""

from __future__ import annotations

import datetime
import io
import re
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from tidal.catalog.objects import Column
from tidal.catalog.sqlstate import INVALID_TEXT_REPRESENTATION
from tidal.catalog.types import interval_text, normalize, to_arrow
from tidal.engine.connectors.base import ConnectorError, cast_text

# The settings under which decode() reads PostgreSQL's text output: pass them as the
# connection's ``options`` (libpq), so that replication connections get them too.
SESSION_OPTIONS = (
    "-c DateStyle=ISO -c TimeZone=UTC -c IntervalStyle=postgres -c extra_float_digits=3 "
    "-c bytea_output=hex"
)
# What ``COPY ... FROM STDIN (COPY_OPTIONS)`` must be told to read encode_copy()'s output.
# PostgreSQL's CSV defaults are what encode_copy writes: an unquoted empty field is NULL, a
# quoted "" is ''.
COPY_OPTIONS = "FORMAT csv"
# A table's columns as check_columns takes them, in order (the parameter: 'schema.table').
COLUMNS_QUERY = (
    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
    "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
)


class ValueNotMapped(ConnectorError, ValueError):
    """A PostgreSQL value that the declared type cannot hold (NaN in a DECIMAL, 'infinity' in a
    DATE, a number too long), or a tidal value PostgreSQL cannot take."""

    sqlstate = INVALID_TEXT_REPRESENTATION


# ---------------------------------------------------------------------------------------------
# Types


# format_type()'s names (type modifiers removed) -> the tidal type that holds their values.
_FROM_PG = {
    "boolean": "BOOLEAN",
    "smallint": "SMALLINT",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "real": "FLOAT",
    "double precision": "DOUBLE",
    "numeric": "DECIMAL",  # unconstrained: any DECIMAL(p,s), each value checked as it is read
    "text": "VARCHAR",
    "character varying": "VARCHAR",
    "character": "VARCHAR",
    "bpchar": "VARCHAR",
    '"char"': "VARCHAR",
    "name": "VARCHAR",
    "citext": "VARCHAR",
    "date": "DATE",
    "time without time zone": "TIME",
    "timestamp without time zone": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMP WITH TIME ZONE",
    "interval": "INTERVAL",
    "uuid": "UUID",
    "json": "JSON",
    "jsonb": "JSON",
    "bytea": "BLOB",
    # pg_type.typname spellings, for callers that have those rather than format_type()'s
    "bool": "BOOLEAN",
    "int2": "SMALLINT",
    "int4": "INTEGER",
    "int8": "BIGINT",
    "float4": "FLOAT",
    "float8": "DOUBLE",
    "varchar": "VARCHAR",
    "time": "TIME",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMP WITH TIME ZONE",
}

_TO_PG = {
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric(20,0)",
    "HUGEINT": "numeric(38,0)",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "VARCHAR": "text",
    "BLOB": "bytea",
    "DATE": "date",
    "TIME": "time without time zone",
    "TIMESTAMP": "timestamp without time zone",
    "TIMESTAMP_S": "timestamp(0) without time zone",
    "TIMESTAMP_MS": "timestamp(3) without time zone",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
    "INTERVAL": "interval",
    "UUID": "uuid",
    "JSON": "jsonb",  # indexable and compared by value; json would keep the text as written
}

# Integer types: the range of their values, [low, high).
_INT_RANGE = {
    "TINYINT": (-(2**7), 2**7),
    "SMALLINT": (-(2**15), 2**15),
    "INTEGER": (-(2**31), 2**31),
    "BIGINT": (-(2**63), 2**63),
    "HUGEINT": (-(10**38) + 1, 10**38),
    "UTINYINT": (0, 2**8),
    "USMALLINT": (0, 2**16),
    "UINTEGER": (0, 2**32),
    "UBIGINT": (0, 2**64),
}
# Integers a float type holds exactly: below 2 ** (its mantissa bits + 1).
_FLOAT_EXACT = {"FLOAT": 2**24, "DOUBLE": 2**53}
_TIMESTAMPS = ["TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP"]  # each holds the ones before it
_DECIMAL = re.compile(r"^DECIMAL\((\d+),(\d+)\)$")


def pg_type(sql_type: str) -> str:
    """The PostgreSQL column type for a tidal type, spelled as ``format_type()`` prints it.

    JSON becomes ``jsonb``; unsigned integers the next wider signed type (UBIGINT a numeric).

    >>> pg_type("DECIMAL(10,2)"), pg_type("BIGINT[]"), pg_type("JSON"), pg_type("TIMESTAMPTZ")
    ('numeric(10,2)', 'bigint[]', 'jsonb', 'timestamp with time zone')
    """
    name = normalize(sql_type)
    if name.endswith("[]"):
        return pg_type(name.rstrip("[]")) + "[]"  # PostgreSQL arrays carry no dimension count
    decimal = _DECIMAL.match(name)
    if decimal:
        return f"numeric({decimal.group(1)},{decimal.group(2)})"
    if name not in _TO_PG:  # STRUCT, MAP; TIMESTAMP_NS (PostgreSQL keeps microseconds)
        raise ConnectorError(
            f"type {name} has no PostgreSQL counterpart in tidal: cast it to one that has "
            f"({', '.join(_TO_PG)}, DECIMAL(p,s), lists of them), or to JSON with to_json"
        )
    return _TO_PG[name]


def tidal_type(pg: str) -> str | None:
    """The tidal type whose values are exactly a PostgreSQL type's (a ``format_type()`` name),
    None if tidal maps it to none (money, point, tsvector, ranges, enums: read them as VARCHAR).

    >>> tidal_type("numeric(10,2)"), tidal_type("character varying(20)[]"), tidal_type("money")
    ('DECIMAL(10,2)', 'VARCHAR[]', None)
    """
    dims = 0
    while pg.endswith("[]"):
        pg, dims = pg[:-2], dims + 1
    modifiers = re.findall(r"\(([^)]*)\)", pg)
    base = " ".join(re.sub(r"\([^)]*\)", " ", pg).split())
    if base.startswith("interval"):  # interval day to second, interval(3)
        base = "interval"
    name = _FROM_PG.get(base)
    if name == "TIMESTAMP" and modifiers:
        name = "TIMESTAMP_S" if modifiers[0] == "0" else name
        name = "TIMESTAMP_MS" if modifiers[0] in ("1", "2", "3") else name
    if name == "DECIMAL" and modifiers:
        precision, _, scale = modifiers[0].partition(",")
        p, s = int(precision), int(scale or 0)
        name = f"DECIMAL({p},{s})" if 0 <= s <= p <= 38 else None
    return None if name is None else name + "[]" * dims


def check_columns(
    what: str, pg_columns: Sequence[tuple[str, str]], declared: Sequence[Column], *, writing=False
) -> None:
    """Check that each declared column is in PostgreSQL with a type that maps to its own.

    ``pg_columns`` are (name, ``format_type()`` of its type), as ``COLUMNS_QUERY`` gives. Reading (``writing=False``),
    every PostgreSQL value must fit the declared type (an ``integer`` fits a BIGINT); writing,
    every tidal value must fit the PostgreSQL column. VARCHAR fits every type (its text).
    PostgreSQL arrays have no fixed dimension count: ``integer[]`` fits INTEGER[] and
    INTEGER[][]. Raises ConnectorError naming the column, both types and what to declare.

    >>> check_columns("source t", [("id", "integer")], [Column("id", "BIGINT")])
    >>> check_columns("source t", [("id", "bigint")], [Column("id", "INTEGER")])
    Traceback (most recent call last):
    ...
    tidal.engine.connectors.base.ConnectorError: source t: column id is bigint in PostgreSQL, which INTEGER cannot hold: declare it BIGINT
    """
    types = dict(pg_columns)
    for column in declared:
        pg = types.get(column.name)
        if pg is None:
            present = ", ".join(name for name, _ in pg_columns) or "none"
            raise ConnectorError(
                f"{what}: column {column.name} is not in the PostgreSQL table (its columns: "
                f"{present}); declare only columns it has, with the same names"
            )
        problem = _mismatch(pg, normalize(column.type), writing)
        if problem:
            raise ConnectorError(f"{what}: column {column.name} is {pg} in PostgreSQL, {problem}")


def _mismatch(pg: str, declared: str, writing: bool) -> str | None:
    """Why ``declared`` and the PostgreSQL type ``pg`` do not map, None when they do."""
    if declared == "VARCHAR":
        return None
    natural = tidal_type(pg)
    if natural is None:
        return "a type tidal does not map: declare it VARCHAR (its text, as PostgreSQL prints it)"
    pg_element, declared_element = natural.rstrip("[]"), declared.rstrip("[]")
    if natural.endswith("[]") == declared.endswith("[]"):
        narrow, wide = (declared_element, pg_element) if writing else (pg_element, declared_element)
        if _fits(narrow, wide):
            return None
    suggestion = natural.replace("DECIMAL", "DECIMAL(p,s)") if pg_element == "DECIMAL" else natural
    if writing:
        try:
            instead = f", or make the PostgreSQL column {pg_type(declared)}"
        except ConnectorError:
            return f"declare it {suggestion} ({declared} has no PostgreSQL type)"
        return f"which cannot hold every {declared} value: declare it {suggestion}{instead}"
    return f"which {declared} cannot hold: declare it {suggestion}"


def _fits(narrow: str, wide: str) -> bool:
    """Whether every value of tidal type ``narrow`` is exactly a value of ``wide`` (``DECIMAL``
    alone stands for PostgreSQL's unconstrained numeric, whose values are checked one by one)."""
    if narrow == wide or (narrow, wide) == ("FLOAT", "DOUBLE"):
        return True
    if narrow in _TIMESTAMPS and wide in _TIMESTAMPS:
        return _TIMESTAMPS.index(narrow) <= _TIMESTAMPS.index(wide)
    if narrow == "DECIMAL":
        return _DECIMAL.match(wide) is not None
    exact = _exact(narrow)
    if exact is None:
        return False
    low, high, scale = exact
    if wide == "DECIMAL":
        return True
    if wide in _FLOAT_EXACT:
        return scale == 0 and -_FLOAT_EXACT[wide] <= low and high <= _FLOAT_EXACT[wide]
    wide_exact = _exact(wide)
    if wide_exact is None:
        return False
    wide_low, wide_high, wide_scale = wide_exact
    return wide_scale >= scale and wide_low <= low and high <= wide_high


def _exact(name: str) -> tuple[int, int, int] | None:
    """An integer or DECIMAL type as the range [low, high) of its integer part and its scale;
    None for other types."""
    if name in _INT_RANGE:
        return (*_INT_RANGE[name], 0)
    decimal = _DECIMAL.match(name)
    if decimal is None:
        return None
    precision, scale = int(decimal.group(1)), int(decimal.group(2))
    return -(10 ** (precision - scale)) + 1, 10 ** (precision - scale), scale


# ---------------------------------------------------------------------------------------------
# PostgreSQL's text -> Arrow


def decode(values: Sequence[str | None] | pa.Array, sql_type: str) -> pa.Array:
    """PostgreSQL's text output of values (under ``SESSION_OPTIONS``) as an Arrow array of the
    tidal type ``sql_type``. Raises ValueNotMapped (a ValueError) naming a value the type cannot
    hold: NaN or too many digits for a DECIMAL, 'infinity' for a DATE or TIMESTAMP.

    >>> decode(["12.50", None], "DECIMAL(10,2)").to_pylist()
    [Decimal('12.50'), None]
    >>> str(decode(["2026-01-01 10:00:00.5+05:30"], "TIMESTAMPTZ")[0])
    '2026-01-01 04:30:00.500000+00:00'
    >>> decode(["1 year 2 mons -3 days +04:05:06.5"], "INTERVAL").to_pylist()
    [MonthDayNano(months=14, days=-3, nanoseconds=14706500000000)]
    >>> decode(["NaN"], "DECIMAL(10,2)")
    Traceback (most recent call last):
    ...
    tidal.engine.connectors.postgres_types.ValueNotMapped: PostgreSQL value 'NaN' does not fit DECIMAL(10,2): The string 'NaN' is not a valid decimal128 number
    """
    text = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    name = normalize(sql_type)
    return _decode(text, name, to_arrow(name))


def _decode(text: pa.Array, name: str, arrow_type: pa.DataType) -> pa.Array:
    if name.endswith("[]"):
        if not name.endswith("[][]") and pc.all(pc.match_substring_regex(text, _FLAT)).as_py():
            return _flat_arrays(text, name[:-2], arrow_type.value_type)
        return _arrays(
            [None if v is None else _parse_array(v) for v in text.to_pylist()], name, arrow_type
        )
    if name in ("VARCHAR", "UUID", "JSON"):
        return text
    if name == "BOOLEAN":  # the output function prints t/f (pgoutput), a cast to text true/false
        spellings = pa.array(["t", "f", "true", "false"])
        if not pc.all(pc.or_kleene(pc.is_in(text, spellings), pc.is_null(text))).as_py():
            _fail(text, name, lambda v: v in spellings.to_pylist(), "a boolean prints as t or f")
        return pc.equal(pc.utf8_slice_codeunits(text, 0, 1), "t")
    if name == "BLOB":
        return pa.array([None if v is None else _bytea(v) for v in text.to_pylist()], pa.binary())
    if name == "INTERVAL":  # parsed once per distinct value: durations repeat
        encoded = text.dictionary_encode()
        parts = [_interval(v) for v in encoded.dictionary.to_pylist()]
        return pa.array(parts, pa.month_day_nano_interval()).take(encoded.indices)
    if name.startswith(("STRUCT", "MAP")):
        raise ConnectorError(f"type {name} is not mapped to a PostgreSQL type: declare it JSON")
    try:
        return cast_text(pa.chunked_array([text]), arrow_type).combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        if name == "TIMESTAMP WITH TIME ZONE":  # an offset with seconds (+00:53:28, before 1900)
            stamps = [None if v is None else _timestamptz(v) for v in text.to_pylist()]
            return pa.array(stamps, arrow_type)
        _fail(text, name, lambda v: _casts(v, arrow_type), str(error))
        raise  # _fail found no bad value: the error is not about one value


def _casts(value: str, arrow_type: pa.DataType) -> bool:
    try:
        cast_text(pa.chunked_array([pa.array([value])]), arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _fail(text: pa.Array, name: str, valid, why: str) -> None:
    """Raise ValueNotMapped for the first value of ``text`` that is not ``valid``."""
    for value in text.to_pylist():
        if value is not None and not valid(value):
            hint = ""
            if value.lower().lstrip("-") == "infinity" or value.endswith(" BC"):
                hint = "; tidal's dates and timestamps hold years 1 to 9999 only"
            raise ValueNotMapped(f"PostgreSQL value {value!r} does not fit {name}: {why}{hint}")


def _timestamptz(value: str) -> datetime.datetime:
    try:
        return datetime.datetime.fromisoformat(value).astimezone(datetime.UTC)
    except ValueError as error:
        raise ValueNotMapped(
            f"PostgreSQL value {value!r} does not fit TIMESTAMP WITH TIME ZONE: {error}; "
            "tidal's timestamps hold years 1 to 9999 only"
        ) from None


def _bytea(value: str) -> bytes:
    if not value.startswith("\\x"):
        raise ValueNotMapped(
            f"PostgreSQL value {value[:40]!r} is not bytea in hex: set bytea_output = hex"
        )
    return bytes.fromhex(value[2:])


_INTERVAL = re.compile(
    r"(?:([+-]?\d+) years? ?)?(?:([+-]?\d+) mons? ?)?(?:([+-]?\d+) days? ?)?"
    r"(?:([+-]?)(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?)?"
)


def _interval(value: str) -> tuple[int, int, int]:
    """An interval as PostgreSQL prints it (IntervalStyle = postgres) as (months, days, ns)."""
    match = _INTERVAL.fullmatch(value)
    if match is None or not value:
        raise ValueNotMapped(
            f"PostgreSQL value {value!r} is not an interval as IntervalStyle = postgres prints it"
        )
    years, months, days, sign, hours, minutes, seconds, fraction = match.groups()
    micros = (int(hours or 0) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)) * 10**6
    micros += int((fraction or "").ljust(6, "0"))
    return (
        int(years or 0) * 12 + int(months or 0),
        int(days or 0),
        (-micros if sign == "-" else micros) * 1000,
    )


_ARRAY_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{},]|[^{},"]+', re.DOTALL)
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_PG_SPACE = " \t\n\r\v\f"  # what array_in skips around an element (str.strip() skips more)


# A one-dimensional array whose elements PostgreSQL did not quote (numbers, dates, booleans,
# uuids): no quote, backslash or inner brace (array_out quotes an element holding one).
_FLAT = r'^\{[^{}"\\]*\}$'


def _flat_arrays(text: pa.Array, element: str, element_type: pa.DataType) -> pa.Array:
    """Arrays matching ``_FLAT`` split and decoded with Arrow kernels (no Python per value)."""
    inner = pc.utf8_slice_codeunits(text, 1, -1)
    no_text = pa.scalar(None, pa.string())
    parts = pc.split_pattern(pc.if_else(pc.equal(inner, ""), no_text, inner), ",")  # {} -> []
    flat = parts.values
    values = _decode(pc.if_else(pc.equal(flat, "NULL"), no_text, flat), element, element_type)
    mask = pc.is_null(text) if text.null_count else None
    return pa.ListArray.from_arrays(parts.offsets, values, mask=mask)


def _parse_array(value: str) -> list:
    """An array literal as PostgreSQL prints it, as nested lists of element texts (None for
    NULL). A lower bound other than 1 (``[0:1]={1,2}``) is dropped, as Arrow has none."""
    if value.startswith("["):
        value = value[value.index("=") + 1 :]
    stack: list[list] = [[]]
    for token in _ARRAY_TOKEN.findall(value):
        if token == "{":
            stack.append([])
        elif token == "}":
            done = stack.pop()
            stack[-1].append(done)
        elif token.startswith('"'):
            stack[-1].append(_ESCAPED.sub(r"\1", token[1:-1]))
        elif token != "," and token.strip(_PG_SPACE):
            element = token.strip(_PG_SPACE)
            stack[-1].append(None if element.upper() == "NULL" else _ESCAPED.sub(r"\1", element))
    return stack[0][0]


def _arrays(items: list, name: str, arrow_type: pa.DataType, declared: str = "") -> pa.Array:
    """Parsed array literals (nested lists of texts) as an Arrow list array of type ``name``;
    the element texts of all the rows are decoded at once."""
    declared = declared or name
    offsets, children, nulls = [0], [], []
    for item in items:
        if item is not None and not isinstance(item, list):
            raise ValueNotMapped(
                f"a PostgreSQL array has fewer dimensions than {declared}: declare "
                f"{declared[:-2]} (its element {item!r} is not an array)"
            )
        nulls.append(item is None)
        children.extend(item or ())
        offsets.append(len(children))
    element, element_type = name[:-2], arrow_type.value_type
    if element.endswith("[]"):
        values = _arrays(children, element, element_type, declared)
    elif any(isinstance(child, list) for child in children):
        raise ValueNotMapped(
            f"a PostgreSQL array has more dimensions than {declared}: declare {declared}[]"
        )
    else:
        values = _decode(pa.array(children, pa.string()), element, element_type)
    mask = pa.array(nulls, pa.bool_()) if any(nulls) else None
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, mask=mask)


# ---------------------------------------------------------------------------------------------
# Arrow -> COPY FROM STDIN (FORMAT csv)


def encode_copy(table: pa.Table) -> bytes:
    """The rows of ``table`` as CSV that ``COPY target (columns) FROM STDIN (COPY_OPTIONS)``
    reads into columns of the types ``pg_type`` gives, exactly: NULL is an unquoted empty field and
    every string is quoted, lists are array literals, bytes ``\\x`` hex, intervals as
    PostgreSQL prints them, timestamps with time zone in UTC (``+00``), floats shortest
    round-trip. Raises ValueNotMapped for text holding a NUL character (PostgreSQL refuses it).

    >>> encode_copy(pa.table({"a": [[1, None], []], "b": [b"\\x01", None]}))
    b'"{""1"",NULL}","\\\\x01"\\n"{}",\\n'
    """
    columns = [
        _copy_column(table.column(i).combine_chunks(), name)
        for i, name in enumerate(table.column_names)
    ]
    out = io.BytesIO()
    pa_csv.write_csv(
        pa.table(columns, names=[f"c{i}" for i in range(len(columns))]),
        out,
        pa_csv.WriteOptions(include_header=False),
    )
    return out.getvalue()


def _copy_column(array: pa.Array, name: str) -> pa.Array:
    """A column as what the CSV writer should write for PostgreSQL to read it exactly."""
    kind = array.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        array = _array_literals(array)
    elif pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        array = _bytea_texts(array)
    elif pa.types.is_interval(kind):  # printed once per distinct value
        encoded = array.dictionary_encode()
        texts = [interval_text(*v) for v in encoded.dictionary.to_pylist()]
        array = pa.array(texts, pa.string()).take(encoded.indices)
    elif pa.types.is_struct(kind) or pa.types.is_map(kind):
        raise ConnectorError(
            f"column {name} ({kind}) has no PostgreSQL counterpart: write it as JSON (to_json)"
        )
    elif pa.types.is_timestamp(kind) and kind.tz is not None:
        array = _utc_texts(array)
    elif pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        array = array.cast(pa.string())
    if pa.types.is_string(array.type) and pc.any(pc.match_substring(array, "\x00")).as_py():
        raise ValueNotMapped(
            f"column {name} holds text with a NUL character (\\0): PostgreSQL's text cannot"
        )
    return array


def _utc_texts(array: pa.Array) -> pa.Array:
    """Timestamps with a time zone as UTC text with ``+00`` (Arrow's own text of them looks up
    the zone per value: 15 times slower)."""
    naive = array.cast(pa.timestamp(array.type.unit)).cast(pa.string())
    return pc.binary_join_element_wise(naive, "+00", "")


def _bytea_texts(array: pa.Array) -> pa.Array:
    return pa.array(
        [None if v is None else "\\x" + v.hex() for v in array.to_pylist()], pa.string()
    )


def _array_literals(array: pa.Array) -> pa.Array:
    """Lists as PostgreSQL array literals: every element quoted (so that "NULL" and "" stay
    text), NULL unquoted, nested lists as nested braces."""
    values = array.values
    if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        elements = _array_literals(values)
    else:
        if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
            texts = _bytea_texts(values)
        elif pa.types.is_interval(values.type) or pa.types.is_timestamp(values.type):
            texts = _copy_column(values, "").cast(pa.string())
        else:
            texts = values.cast(pa.string())
        escaped = pc.replace_substring(pc.replace_substring(texts, "\\", "\\\\"), '"', '\\"')
        elements = pc.binary_join_element_wise('"', escaped, '"', "")
    elements = pc.fill_null(elements, "NULL")
    lists = type(array).from_arrays(array.offsets, elements, mask=array.is_null())
    return pc.binary_join_element_wise("{", pc.binary_join(lists, ","), "}", "")
