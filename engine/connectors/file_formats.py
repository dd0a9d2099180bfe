"""CSV and JSON lines text parsed into Arrow tables of declared columns, bad lines found and left out.

A chunk of whole lines is parsed at once by pyarrow (vectorized); only a chunk that fails is
split in halves (``parse_lines``) until each bad line is isolated and reported. Values are cast
to the declared types by ``conform``; a number out of its column's range fails as a bad value
(pyarrow alone reads ``1e400`` as infinity). Used by the file source and by COPY FROM.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from tidal.engine.connectors.base import ConnectorError, cast_text

# What pyarrow raises for text that does not parse or does not fit a column's type.
BAD_DATA = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)

Parse = Callable[[bytes], pa.Table]


def parse_lines(
    parse: Parse, lines: list[bytes], first_line: int, report: Callable[[int, str], None]
) -> list[pa.Table]:
    """Parse lines in halves until each bad line is isolated, reported and left out."""
    text = b"\n".join(lines) + b"\n"
    if not text.strip():
        return []
    try:
        return [parse(text)]
    except BAD_DATA as error:
        if len(lines) == 1:
            report(first_line, problem(error))
            return []
    middle = len(lines) // 2
    return parse_lines(parse, lines[:middle], first_line, report) + parse_lines(
        parse, lines[middle:], first_line + middle, report
    )


def problem(error: Exception) -> str:
    """pyarrow's message without its position inside the chunk (the caller knows the line)."""
    return re.sub(r"\s*in row \d+$", "", str(error).strip())


def csv_parser(schema: pa.Schema, delimiter: str, null: str, what: str) -> Parse:
    """A parser of CSV lines (no header) into ``schema``'s columns by position, as the file
    source parses them, with ``null`` (unquoted) for NULL: for COPY FROM."""
    read_types = {f.name: read_type(f, "csv", what) for f in schema}
    return functools.partial(
        parse_csv,
        column_names=schema.names,
        delimiter=delimiter,
        read_types=read_types,
        schema=schema,
        null=null,
    )


def parse_csv(
    chunk: bytes,
    column_names: list[str],
    delimiter: str,
    read_types: dict[str, pa.DataType],
    schema: pa.Schema,
    null: str = "",
) -> pa.Table:
    def read(types: dict[str, pa.DataType]) -> pa.Table:
        return pa_csv.read_csv(
            io.BytesIO(chunk),
            read_options=pa_csv.ReadOptions(column_names=column_names, block_size=len(chunk) + 1),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=False),
            convert_options=pa_csv.ConvertOptions(
                column_types=types,
                include_columns=schema.names,
                null_values=[null],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                true_values=["true", "True", "TRUE", "t", "1"],
                false_values=["false", "False", "FALSE", "f", "0"],
            ),
        )

    table = read(read_types)
    # pyarrow reads a number too large for a double (1e400) as infinity: only a value written
    # as an infinity may be one, so the rare chunk holding an infinity is read again as text.
    infinite = [
        n for n in schema.names if pa.types.is_floating(read_types[n]) and _any_inf(table[n])
    ]
    if infinite:
        text = read({**read_types, **dict.fromkeys(infinite, pa.string())})
        for name in infinite:
            written = pc.match_substring_regex(text[name], _INFINITY, ignore_case=True)
            _refuse_overflow(name, table[name], written, schema.field(name).type, text[name])
    return conform(table, schema)


def parse_jsonl(chunk: bytes, read_types: dict[str, pa.DataType], schema: pa.Schema) -> pa.Table:
    table = pa_json.read_json(
        io.BytesIO(chunk),
        read_options=pa_json.ReadOptions(block_size=len(chunk) + 1),
        parse_options=pa_json.ParseOptions(
            explicit_schema=pa.schema(list(read_types.items())),
            unexpected_field_behavior="ignore",
            newlines_in_values=False,
        ),
    )
    return conform(table, schema)


# Types the readers cannot produce directly are read as text and converted after.
_UNSUPPORTED = {
    "csv": lambda t: pa.types.is_nested(t) or pa.types.is_interval(t),
    "jsonl": lambda t: pa.types.is_interval(t) or pa.types.is_map(t),
    "parquet": lambda t: False,
}
_AS_TEXT = {
    "csv": lambda t: pa.types.is_timestamp(t) and t.tz is not None,
    "jsonl": lambda t: pa.types.is_date(t) or pa.types.is_time(t) or pa.types.is_binary(t),
    "parquet": lambda t: False,
}


def read_type(field: pa.Field, fmt: str, source: str) -> pa.DataType:
    if _UNSUPPORTED[fmt](field.type):
        raise ConnectorError(
            f"source {source}: column {field.name} of type {field.type} cannot "
            f"be read from {fmt}; use format 'parquet' (or 'jsonl' for lists)"
        )
    if _AS_TEXT[fmt](field.type):
        return pa.string()
    if pa.types.is_floating(field.type) and fmt != "parquet":
        return pa.float64()  # a REAL too large is then caught when cast, not read as infinity
    return field.type


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The declared columns, in order, cast to the declared types (raises ArrowInvalid, also
    for a number too large for a REAL that would become infinity)."""
    columns = []
    for field in schema:
        column = table.column(field.name)
        cast = cast_text(column, field.type)
        if pa.types.is_floating(column.type) and column.type != field.type and _any_inf(cast):
            _refuse_overflow(field.name, cast, pc.is_inf(column), field.type, column)
        columns.append(cast)
    return pa.Table.from_arrays(columns, schema=schema)


_INFINITY = r"^\s*[+-]?inf(inity)?\s*$"  # the spellings pyarrow reads as infinity
_FLOAT_NAMES = {pa.float16(): "REAL", pa.float32(): "REAL", pa.float64(): "DOUBLE"}


def _any_inf(column: pa.ChunkedArray) -> bool:
    return bool(pc.any(pc.is_inf(column)).as_py())


def _refuse_overflow(
    name: str,
    values: pa.ChunkedArray,
    was_infinite: pa.ChunkedArray,
    target: pa.DataType,
    shown: pa.ChunkedArray,
) -> None:
    """Raise ArrowInvalid if a value became infinite that was not an infinity before.

    >>> values = pa.chunked_array([[1.0, float("inf")]])
    >>> _refuse_overflow("x", values, pa.chunked_array([[False, True]]), pa.float64(), values)
    >>> _refuse_overflow("x", values, pa.chunked_array([[False, False]]), pa.float32(), values)
    Traceback (most recent call last):
    pyarrow.lib.ArrowInvalid: column x: inf is out of range for type REAL
    """
    overflowed = pc.and_(pc.is_inf(values), pc.invert(pc.fill_null(was_infinite, False)))
    if pc.any(overflowed).as_py():
        value = shown.filter(overflowed)[0].as_py()
        raise pa.ArrowInvalid(
            f"column {name}: {value} is out of range for type {_FLOAT_NAMES.get(target, target)}"
        )
