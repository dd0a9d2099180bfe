"""Rendering query results for people and programs: aligned tables, CSV, JSON lines.

Values print as DuckDB prints them (``2026-01-01 10:00:00``, ``12.50``, ``true``), but for
intervals, which print as PostgreSQL prints them (``01:30:00``, ``1 year 2 mons``: one function,
``tidal.catalog.types.interval_text``, makes that text here and over pgwire); in a table NULL
shows as ``NULL`` so it cannot be mistaken for an empty string.

>>> import datetime
>>> text(datetime.timedelta(days=21, seconds=86399)), text(datetime.timedelta(hours=-1))
('21 days 23:59:59', '-01:00:00')
>>> text([1, None]), text({"a": 1, "b": "x"}), text([("k", 1)])
('[1, NULL]', "{'a': 1, 'b': x}", '{k=1}')
>>> import pyarrow as pa
>>> text(pa.array([[pa.MonthDayNano([0, 1, 0])]]).to_pylist()[0])  # intervals, not a map
'[1 day]'
"""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: `tidal` must start fast
    import pyarrow as pa

NULL = "NULL"


def text(value) -> str | None:
    """A value as text, None for NULL."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, datetime.datetime):
        shown = value.isoformat(sep=" ")
        return shown.replace("+00:00", "+00")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):  # an Arrow duration: an INTERVAL to SQL
        from tidal.catalog.types import duration_parts, interval_text

        return interval_text(*duration_parts(value // datetime.timedelta(microseconds=1)))
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if hasattr(value, "months") and hasattr(value, "nanoseconds"):  # MonthDayNano, a tuple
        from tidal.catalog.types import interval_text

        return interval_text(value.months, value.days, value.nanoseconds)
    if isinstance(value, list) and value and all(type(v) is tuple for v in value):
        return "{" + ", ".join(f"{text(k)}={text(v) or NULL}" for k, v in value) + "}"  # a map
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(text(v) or NULL for v in value) + "]"
    if isinstance(value, dict):  # a struct
        return "{" + ", ".join(f"'{k}': {text(v) or NULL}" for k, v in value.items()) + "}"
    return str(value)


def rows_of(table: pa.Table) -> list[list[str | None]]:
    columns = [[text(v) for v in column.to_pylist()] for column in table.columns]
    return [list(row) for row in zip(*columns)] if columns else []


def as_table(table: pa.Table, max_rows: int | None = None, max_width: int | None = None) -> str:
    """An aligned table with a header, like psql; numbers right-aligned."""
    lines = table_lines(table, max_rows=max_rows, max_width=max_width).lines
    count = table.num_rows
    footer = f"({count} row{'s' if count != 1 else ''})"
    if max_rows is not None and count > max_rows:
        footer = f"({count} rows, first {max_rows} shown)"
    return "\n".join(plain(line) for line in lines) + "\n" + footer


# A line of output as (style, text) fragments: prompt-toolkit's formatted text, which the shell
# prints with colours; ``plain`` drops the styles. Style names: see tidal.shell.interactive.
Fragments = list[tuple[str, str]]


@dataclass(frozen=True)
class TableLines:
    lines: list[Fragments]
    hidden_columns: int  # columns left out to fit the width


def plain(fragments: Fragments) -> str:
    return "".join(text for _, text in fragments)


def table_lines(
    table: pa.Table,
    max_rows: int | None = None,
    max_width: int | None = None,
    width: int | None = None,
    types: bool = False,
) -> TableLines:
    """An aligned table's lines (header, a line of types if ``types``, rule, rows), NULL styled
    ``class:null``; cells at most ``max_width`` wide, the whole at most ``width`` (columns are
    narrowed, then the rightmost left out)."""
    import pyarrow as pa

    shown = table.slice(0, max_rows) if max_rows is not None else table
    rows = [[_one_line(v) for v in row] for row in rows_of(shown)]
    headers = [[n] for n in table.column_names]
    if types:
        headers = [[f.name, type_name(f.type)] for f in table.schema]
    widths = [
        max([len(h) for h in header] + [len(NULL if r[i] is None else r[i]) for r in rows])
        for i, header in enumerate(headers)
    ]
    if max_width is not None:
        widths = [min(w, max_width) for w in widths]
    count = len(widths)
    if width is not None:
        widths, count = _fit(widths, table.column_names, width)
    numeric = [
        pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
        for f in table.schema
    ]

    def cell(value: str | None, i: int) -> tuple[str, str]:
        text = NULL if value is None else value
        if len(text) > widths[i]:
            text = text[: widths[i] - 1] + "…"
        text = text.rjust(widths[i]) if numeric[i] else text.ljust(widths[i])
        return ("class:null" if value is None else "", text)

    def line(cells: list[tuple[str, str]]) -> Fragments:
        out: Fragments = []
        for i, fragment in enumerate(cells):
            out += [("class:rule", " | " if i else " "), fragment]
        return _rstripped(out)

    def title(text: str, i: int) -> tuple[str, str]:
        if len(text) > widths[i]:
            text = text[: widths[i] - 1] + "…"
        return ("class:header", text.center(widths[i]))

    lines = [
        line([title(h[k], i) for i, h in enumerate(headers[:count])])
        for k in range(len(headers[0]) if headers else 1)
    ]
    if types and len(lines) > 1:
        lines[1] = [(s.replace("header", "type"), t) for s, t in lines[1]]
    lines.append([("class:rule", "-" + "-+-".join("-" * w for w in widths[:count]) + "-")])
    lines += [line([cell(v, i) for i, v in enumerate(row[:count])]) for row in rows]
    return TableLines(lines, table.num_columns - count)


_MIN_WIDTH = 6  # a column narrowed to fit keeps at least this much, or its name up to:
_NAME_WIDTH = 16


def _fit(widths: list[int], names: list[str], width: int) -> tuple[list[int], int]:
    """Column widths narrowed, widest first, so that a line fits in ``width``; a column keeps
    room for its name (up to a point). If even that is too wide, how many columns from the
    left fit."""

    def total(ws: list[int]) -> int:
        return sum(ws) + 3 * len(ws) - 1

    floors = [min(w, max(_MIN_WIDTH, min(len(n), _NAME_WIDTH))) for w, n in zip(widths, names)]
    count = len(widths)
    while count > 1 and total(floors[:count]) > width:
        count -= 1
    widths, floors = widths[:count], floors[:count]
    low, high = 0, max(widths, default=0)
    while low < high:  # the widest cap that fits
        cap = (low + high + 1) // 2
        if total([max(min(w, cap), f) for w, f in zip(widths, floors)]) <= width:
            low = cap
        else:
            high = cap - 1
    return [max(min(w, low), f) for w, f in zip(widths, floors)], count


def _one_line(value: str | None) -> str | None:
    if value is None or ("\n" not in value and "\t" not in value):
        return value
    return value.replace("\n", "↵").replace("\t", " ")


def _rstripped(fragments: Fragments) -> Fragments:
    while fragments and not fragments[-1][1].rstrip():
        fragments = fragments[:-1]
    if fragments:
        style, last = fragments[-1]
        fragments = [*fragments[:-1], (style, last.rstrip())]
    return fragments


def type_name(arrow_type: pa.DataType) -> str:
    """A column's SQL type as shown under its name: ``bigint``, ``decimal(10,2)``."""
    from tidal.catalog.types import from_arrow

    try:
        return from_arrow(arrow_type).lower()
    except (KeyError, ValueError, TypeError):
        return str(arrow_type)


def line_fragments(table: pa.Table, max_rows: int | None = None) -> list[Fragments]:
    """One ``column = value`` line per field, names right-aligned, a blank line between rows
    (DuckDB's ``.mode line``, psql's ``\\x``)."""
    shown = table.slice(0, max_rows) if max_rows is not None else table
    names = table.column_names
    pad = max((len(n) for n in names), default=0)
    lines: list[Fragments] = []
    for k, row in enumerate(rows_of(shown)):
        if k:
            lines.append([])
        for name, value in zip(names, row):
            shown_value = ("class:null", NULL) if value is None else ("", value)
            lines.append([("class:header", name.rjust(pad)), ("class:rule", " = "), shown_value])
    return lines


def expanded_lines(table: pa.Table, max_rows: int | None = None) -> list[Fragments]:
    """psql's expanded display (``\\x``): per row a ``-[ RECORD n ]-`` line, then one
    ``column | value`` line per field.

    >>> import pyarrow as pa
    >>> for line in expanded_lines(pa.table({"id": [1, 2], "name": ["ann", None]})):
    ...     print(plain(line))
    -[ RECORD 1 ]-
    id   | 1
    name | ann
    -[ RECORD 2 ]-
    id   | 2
    name | NULL
    >>> print(plain(expanded_lines(pa.table({"a_rather_long_name": [1]}))[0]))
    -[ RECORD 1 ]------+--
    """
    shown = table.slice(0, max_rows) if max_rows is not None else table
    names = table.column_names
    rows = [[_one_line(v) for v in row] for row in rows_of(shown)]
    pad = max((len(n) for n in names), default=0)
    value_width = max((len(NULL if v is None else v) for row in rows for v in row), default=0)
    lines: list[Fragments] = []
    for k, row in enumerate(rows, 1):
        title = f"-[ RECORD {k} ]"
        if len(title) < pad + 1:  # psql marks where the names end, when the title does not
            title += "-" * (pad + 1 - len(title)) + "+"
        lines.append([("class:rule", title + "-" * max(1, pad + 3 + value_width - len(title)))])
        for name, value in zip(names, row):
            shown_value = ("class:null", NULL) if value is None else ("", value)
            lines.append([("class:header", name.ljust(pad)), ("class:rule", " | "), shown_value])
    return lines


def as_line(table: pa.Table) -> str:
    """Each row as ``column = value`` lines, rows separated by a blank line."""
    lines = line_fragments(table)
    return "".join(plain(line) + "\n" for line in lines)


def as_csv(table: pa.Table) -> str:
    """CSV with a header row; NULL is an empty field."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in rows_of(table):
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def as_json(table: pa.Table) -> str:
    """One JSON object per row (JSON lines); numbers stay numbers, decimals keep every digit."""
    lines = []
    for record in table.to_pylist():
        fields = ", ".join(f"{json.dumps(k)}: {_json_value(v)}" for k, v in record.items())
        lines.append("{" + fields + "}")
    return "\n".join(lines) + ("\n" if lines else "")


def _json_value(value) -> str:
    if isinstance(value, decimal.Decimal):
        return str(value) if value.is_finite() else json.dumps(str(value))
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return json.dumps(text(value))
    if isinstance(value, (bool, int, float, str)) or value is None:
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_json_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{json.dumps(str(k))}: {_json_value(v)}" for k, v in value.items())
            + "}"
        )
    return json.dumps(text(value))


FORMATS = {"table": as_table, "csv": as_csv, "json": as_json, "line": as_line}
