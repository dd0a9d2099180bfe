"""COPY table FROM a file or from the client: PostgreSQL's text or CSV rows, read into a table's
columns with the file source's rule for bad rows.

Formats are PostgreSQL's. ``text`` (the default): fields split on a tab (``DELIMITER``),
``\\N`` for NULL (``NULL``), backslash escapes (``\\t``, ``\\n``, ``\\\\``, octal, ``\\x``).
``csv``: the file source's reader (tidal.engine.connectors.file_source): ``,`` between fields,
an unquoted empty field is NULL, a quoted one the empty string. ``HEADER`` skips the first line;
a line ``\\.`` ends the data. As in the file source, a line that does not parse or does not fit
its column types is left out and reported as ``where:line: problem``; the other rows load.

    >>> from tidal.catalog.objects import Column, Table
    >>> from tidal.sql.parser import parse_statement
    >>> t = Table("t", (Column("a", "INTEGER"), Column("b", "VARCHAR")))
    >>> node = parse_statement("COPY t FROM STDIN")
    >>> rows, skipped = read_rows(b"1\\tx\\\\ty\\n\\\\N\\t\\\\N\\noops\\tz\\n", t, node, "STDIN")
    >>> rows.to_pylist(), [line.split(": ")[0] for line in skipped]
    ([{'a': 1, 'b': 'x\\ty'}, {'a': None, 'b': None}], ['STDIN:3'])
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from tidal.catalog.objects import Column, Table
from tidal.catalog.sqlstate import DUPLICATE_COLUMN
from tidal.engine.connectors.base import cast_text
from tidal.engine.connectors.file_formats import csv_parser, parse_lines
from tidal.sql.cursor_statements import CopyFrom
from tidal.sql.errors import SqlError, undefined_column

_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.DOTALL)
_TRUE = {"t", "true", "y", "yes", "on", "1"}
_FALSE = {"f", "false", "n", "no", "off", "0"}


def copied_columns(table: Table, node: CopyFrom) -> list[Column]:
    """The table's columns COPY reads, in the order of the data (42703, 42701 if wrong)."""
    names = node.column_names or [c.name for c in table.columns]
    by_name = {c.name.lower(): c for c in table.columns}
    for name in names:
        if name.lower() not in by_name:
            raise undefined_column(f"column {name!r} of table {table.name!r} does not exist")
        if [n.lower() for n in names].count(name.lower()) > 1:
            raise SqlError(f"column {name!r} specified more than once", sqlstate=DUPLICATE_COLUMN)
    return [by_name[n.lower()] for n in names]


def read_rows(data: bytes, table: Table, node: CopyFrom, where: str) -> tuple[pa.Table, list[str]]:
    """The rows of ``data`` as the copied columns, typed, and the bad lines left out."""
    columns = copied_columns(table, node)
    schema = pa.schema([pa.field(c.name, c.arrow_type) for c in columns])
    csv = (node.option("format") or "text") == "csv"
    delimiter = node.option("delimiter") or ("," if csv else "\t")
    null = node.option("null")
    null = ("" if csv else "\\N") if null is None else null
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if b"\\." in lines:  # the end-of-data marker
        lines = lines[: lines.index(b"\\.")]
    first = 1
    if (node.option("header") or "false").lower() in ("true", "on", "1", "match") and lines:
        lines, first = lines[1:], 2
    parse = (
        csv_parser(schema, delimiter, null, where) if csv else _text_parser(schema, delimiter, null)
    )
    skipped: list[str] = []
    tables = parse_lines(
        parse, lines, first, lambda n, problem: skipped.append(f"{where}:{n}: {problem}")
    )
    rows = pa.concat_tables(tables) if tables else schema.empty_table()
    return rows, skipped


def _text_parser(schema: pa.Schema, delimiter: str, null: str):
    def parse(chunk: bytes) -> pa.Table:
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as error:
            raise pa.ArrowInvalid(f"invalid UTF-8: {error}") from None
        fields = [_fields(line, delimiter) for line in text.split("\n")[:-1]]
        for row in fields:
            if len(row) != len(schema):
                raise pa.ArrowInvalid(f"expected {len(schema)} fields, found {len(row)}")
        columns = []
        for i, field in enumerate(schema):
            values = [None if row[i] == null else _unescaped(row[i]) for row in fields]
            columns.append(_typed(values, field.type))
        return pa.Table.from_arrays(columns, schema=schema)

    return parse


def _fields(line: str, delimiter: str) -> list[str]:
    """A line's fields as written (escapes kept), split on delimiters that are not escaped."""
    if "\\" not in line:
        return line.split(delimiter)
    fields, current, at = [], [], 0
    while at < len(line):
        char = line[at]
        if char == "\\" and at + 1 < len(line):
            current.append(line[at : at + 2])
            at += 2
            continue
        if char == delimiter:
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
        at += 1
    fields.append("".join(current))
    return fields


def _unescaped(value: str) -> str:
    if "\\" not in value:
        return value

    def replace(match: re.Match) -> str:
        octal, hexa, other = match.groups()
        if octal:
            return chr(int(octal, 8))
        if hexa:
            return chr(int(hexa, 16))
        return _ESCAPES.get(other, other)

    return _ESCAPE.sub(replace, value)


def _typed(values: list[str | None], target: pa.DataType) -> pa.ChunkedArray:
    """Text values cast to ``target`` (raises ArrowInvalid on one that does not fit)."""
    if pa.types.is_boolean(target):
        lowered = [None if v is None else v.strip().lower() for v in values]
        bad = [v for v in lowered if v is not None and v not in _TRUE | _FALSE]
        if bad:
            raise pa.ArrowInvalid(f"invalid input syntax for type boolean: {bad[0]!r}")
        return pa.chunked_array([pa.array([None if v is None else v in _TRUE for v in lowered])])
    text = pa.chunked_array([pa.array(values, pa.string())])
    if pa.types.is_integer(target) or pa.types.is_decimal(target):
        text = pc.utf8_trim_whitespace(text)
    return cast_text(text, target)
