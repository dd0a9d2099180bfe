"""Rendering query results for people and programs: aligned tables, CSV, JSON lines.

Values print as DuckDB prints them (``2026-01-01 10:00:00``, ``12.50``, ``true``); in a table
NULL shows as ``NULL`` so it cannot be mistaken for an empty string.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
import math

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
    if isinstance(value, datetime.timedelta):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(text(v) or NULL for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {text(v) or NULL}" for k, v in value.items()) + "}"
    if hasattr(value, "months") and hasattr(value, "nanoseconds"):  # MonthDayNano
        return _interval(value)
    return str(value)


def _interval(value) -> str:
    parts = []
    if value.months:
        parts.append(f"{value.months} months")
    if value.days:
        parts.append(f"{value.days} days")
    if value.nanoseconds or not parts:
        parts.append(str(datetime.timedelta(microseconds=value.nanoseconds // 1000)))
    return " ".join(parts)


def rows_of(table: pa.Table) -> list[list[str | None]]:
    columns = [[text(v) for v in column.to_pylist()] for column in table.columns]
    return [list(row) for row in zip(*columns)] if columns else []


def as_table(table: pa.Table, max_rows: int | None = None, max_width: int | None = None) -> str:
    """An aligned table with a header, like psql; numbers right-aligned."""
    names = table.column_names
    shown = table.slice(0, max_rows) if max_rows is not None else table
    rows = [[NULL if v is None else v for v in row] for row in rows_of(shown)]
    numeric = [
        pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
        for f in table.schema
    ]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
    if max_width is not None:
        widths = [min(w, max_width) for w in widths]

    def cell(value: str, i: int) -> str:
        if len(value) > widths[i]:
            value = value[: widths[i] - 1] + "…"
        return value.rjust(widths[i]) if numeric[i] else value.ljust(widths[i])

    lines = [
        " " + " | ".join(n.center(widths[i]) for i, n in enumerate(names)),
        "-" + "-+-".join("-" * w for w in widths) + "-",
    ]
    lines += [" " + " | ".join(cell(v, i) for i, v in enumerate(row)) for row in rows]
    count = table.num_rows
    footer = f"({count} row{'s' if count != 1 else ''})"
    if max_rows is not None and count > max_rows:
        footer = f"({count} rows, first {max_rows} shown)"
    lines.append(footer)
    return "\n".join(line.rstrip() for line in lines)


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


FORMATS = {"table": as_table, "csv": as_csv, "json": as_json}
