"""Formatting values and rows the way ``.slt`` expected results spell them (see runner.py)."""

from __future__ import annotations

import datetime as dt
import decimal
import math

import pyarrow as pa


def type_fits(letter: str, arrow_type: pa.DataType) -> bool:
    """Whether a column of ``arrow_type`` may be declared with ``letter`` (I, R or T)."""
    is_decimal = pa.types.is_decimal(arrow_type)
    integer = pa.types.is_integer(arrow_type) or (is_decimal and arrow_type.scale == 0)
    real = pa.types.is_floating(arrow_type) or is_decimal
    if letter == "I":
        return integer or pa.types.is_null(arrow_type)
    if letter == "R":
        return real or pa.types.is_null(arrow_type)
    return not (integer or real)


def format_value(value, letter: str) -> str:
    """``value`` (a Python value from Arrow) as the script writes it."""
    if value is None:
        return "NULL"
    if letter == "R":
        return _real(value)
    if letter == "I":
        return str(int(value))
    return _text(value)


def _real(value) -> str:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    number = decimal.Decimal(str(value)) if isinstance(value, float) else decimal.Decimal(value)
    text = f"{number.quantize(decimal.Decimal('0.001'), rounding=decimal.ROUND_HALF_EVEN):f}"
    return "0.000" if text == "-0.000" else text


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value else "(empty)"
    if isinstance(value, dt.datetime):
        return _timestamp(value)
    if isinstance(value, (dt.date, dt.time)):
        return _time(value) if isinstance(value, dt.time) else value.isoformat()
    if isinstance(value, pa.MonthDayNano) or type(value).__name__ == "MonthDayNano":
        return _interval(value.months, value.days, value.nanoseconds)
    if isinstance(value, list):
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"'{k}': {_nested(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)


def _nested(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    return _text(value)


def _time(value: dt.time) -> str:
    text = value.strftime("%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text


def _timestamp(value: dt.datetime) -> str:
    suffix = ""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
        suffix = "+00"
    return f"{value.date().isoformat()} {_time(value.time())}{suffix}"


def _interval(months: int, days: int, nanoseconds: int) -> str:
    """DuckDB's rendering: ``1 year 2 months 3 days 04:05:06``, ``00:00:00`` when zero."""
    parts = []
    years, months = divmod(months, 12) if months >= 0 else (-(-months // 12), -(-months % 12))
    for amount, unit in ((years, "year"), (months, "month"), (days, "day")):
        if amount:
            parts.append(f"{amount} {unit}{'s' if abs(amount) != 1 else ''}")
    if nanoseconds or not parts:
        sign = "-" if nanoseconds < 0 else ""
        micros = abs(nanoseconds) // 1000
        seconds, micro = divmod(micros, 1_000_000)
        hours, rest = divmod(seconds, 3600)
        text = f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
        parts.append(text + (f".{micro:06d}".rstrip("0") if micro else ""))
    return " ".join(parts)


def format_rows(table: pa.Table, types: str) -> list[list[str]]:
    """The table's rows as text, one list of values per row."""
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return [
        [format_value(col[r], types[c]) for c, col in enumerate(columns)]
        for r in range(table.num_rows)
    ]


def expected_rows(lines: list[str], width: int, row_count: int) -> list[list[str]]:
    """The expected lines of a query as rows of ``width`` values (see the module docstring)."""
    if width == 1:
        return [[line] for line in lines]
    if (
        len(lines) == row_count * width
        and len(lines) != row_count
        and all("\t" not in line for line in lines)
    ):
        return [lines[i : i + width] for i in range(0, len(lines), width)]
    return [line.split("\t") if "\t" in line else line.split() for line in lines]


def sorted_rows(rows: list[list[str]], mode: str) -> list[list[str]]:
    if mode == "rowsort":
        return sorted(rows)
    if mode == "valuesort":
        return [[v] for v in sorted(v for row in rows for v in row)]
    return rows


def render(rows: list[list[str]]) -> str:
    return "\n".join("\t".join(row) for row in rows) or "(no rows)"
