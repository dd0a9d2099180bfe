"""tidal's query results as RisingWave prints them, and comparing them with expected lines.

RisingWave's runner (sqllogictest-rs over the simple query protocol) receives every value as the
server's text and compares text: each row's values joined by a space, each line trimmed with
runs of whitespace made one space. tidal's results are Arrow columns, so they are first printed
the way RisingWave (PostgreSQL) prints them:

- NULL ``NULL``, the empty string ``(empty)``, booleans ``t`` / ``f``;
- floats in the shortest form that reads back (``1.5``, ``3``, ``1e+21``), ``NaN``,
  ``Infinity``, ``-Infinity``; decimals as they are;
- dates ``2026-01-01``, times ``10:00:00``, timestamps ``2026-01-01 10:00:00.500`` (a fraction
  of 3 or 6 digits), timestamps with time zone in UTC with ``+00:00``; intervals PostgreSQL's way
  (``1 year 2 mons 3 days 04:05:06``, ``00:00:00``);
- arrays ``{1,2,NULL}``, structs ``(1,a)``, bytes ``\\x0102``.

Then a row matches an expected line when the normalized texts are equal, or else when both split
into the same number of whitespace-separated words and each pair of words is equal, or, in a
numeric column, equal as numbers: integers and decimals exactly (``1.5`` is ``1.50``), floats
within a relative 1e-9 or an absolute 1e-12 (sums and averages over floats may differ in the
last bits with the order of additions), NaN equal to NaN. So a decimal printed with another scale, or an average that
RisingWave computes as a 28-digit decimal and tidal as a double, still matches; a different
value does not.

    >>> import pyarrow as pa
    >>> table = pa.table({"k": ["a", ""], "x": [1.0, None], "b": [True, False]})
    >>> [render_row(row) for row in rows_as_text(table)]
    ['a 1 t', '(empty) NULL f']
    >>> rows_match(rows_as_text(table), ["(empty)  NULL f", "a 1.000 t"], "rowsort")
    True
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

FLOAT_TOLERANCE = 1e-9
_ARRAY_SPECIAL = re.compile(r'[\s{},"\\]')
_RECORD_SPECIAL = re.compile(r'[\s(),"\\]')


@dataclass(frozen=True, slots=True)
class Cell:
    """One value as RisingWave prints it, and how its column compares (see ``words_match``)."""

    text: str
    kind: str  # "float", "exact" (integers, decimals) or "text"


def column_kind(arrow_type: pa.DataType) -> str:
    """How a column's values compare: ``float``, ``exact`` (integers, decimals) or ``text``."""
    if pa.types.is_floating(arrow_type):
        return "float"
    if pa.types.is_integer(arrow_type) or pa.types.is_decimal(arrow_type):
        return "exact"
    return "text"


def rows_as_text(table: pa.Table) -> list[list[Cell]]:
    """The table's rows, each value printed as RisingWave prints it."""
    columns = []
    for column, field in zip(table.columns, table.schema):
        kind = column_kind(field.type)
        single = pa.types.is_float32(field.type)
        columns.append([Cell(value_text(v, single), kind) for v in column.to_pylist()])
    return [list(row) for row in zip(*columns)] if columns else [[] for _ in range(table.num_rows)]


def value_text(value, single: bool = False) -> str:
    """One value as RisingWave's text (``single``: a 4-byte float, printed as such)."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return value if value else "(empty)"
    return _text(value, single)


def _text(value, single: bool = False) -> str:
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        return _float(value, single)
    if isinstance(value, decimal.Decimal):
        return _decimal(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return f"{value.date().isoformat()} {_clock(value)}"
        utc = value.astimezone(dt.UTC)
        return f"{utc.date().isoformat()} {_clock(utc)}+00:00"
    if isinstance(value, dt.time):
        return _clock(value)
    if type(value).__name__ == "MonthDayNano":
        return interval_text(value.months, value.days, value.nanoseconds)
    if isinstance(value, list):
        return _array(value)
    if isinstance(value, dict):
        return "(" + ",".join(_quoted(v, _RECORD_SPECIAL, "") for v in value.values()) + ")"
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _clock(value: dt.time | dt.datetime) -> str:
    """``10:00:00``, with a fraction of 3 or 6 digits when there is one (``10:00:00.330``),
    as RisingWave prints times and timestamps."""
    text = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    micros = value.microsecond
    if micros and micros % 1000 == 0:
        return f"{text}.{micros // 1000:03d}"
    return f"{text}.{micros:06d}" if micros else text


def _float(value: float, single: bool) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = str(np.float32(value)) if single else repr(value)
    return text.removesuffix(".0")


def _decimal(value: decimal.Decimal) -> str:
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:f}"


def _array(values: list) -> str:
    return "{" + ",".join(_quoted(v, _ARRAY_SPECIAL, "NULL") for v in values) + "}"


def _quoted(value, special: re.Pattern, null: str) -> str:
    """An element of an array or a field of a struct, quoted as PostgreSQL quotes them."""
    if value is None:
        return null
    if isinstance(value, list):
        return _array(value)
    text = value if isinstance(value, str) else _text(value)
    if text == "" or special.search(text) or (null and text.upper() == "NULL"):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def interval_text(months: int, days: int, nanoseconds: int) -> str:
    """PostgreSQL's interval output (``IntervalStyle = postgres``).

    >>> interval_text(14, 3, 4 * 3600 * 10**9 + 5 * 10**9)
    '1 year 2 mons 3 days 04:00:05'
    >>> interval_text(0, -1, 0), interval_text(0, 0, -90 * 60 * 10**9), interval_text(0, 0, 0)
    ('-1 days', '-01:30:00', '00:00:00')
    """
    years, months = int(months / 12), months - int(months / 12) * 12
    parts = []
    for amount, unit, plural in ((years, "year", "years"), (months, "mon", "mons")):
        if amount:
            parts.append(f"{amount} {unit if amount == 1 else plural}")
    if days:
        parts.append(f"{days} {'day' if days == 1 else 'days'}")
    if nanoseconds or not parts:
        sign = "-" if nanoseconds < 0 else ""
        micros = abs(nanoseconds) // 1000
        seconds, fraction = divmod(micros, 1_000_000)
        text = f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        parts.append(text + (f".{fraction:06d}".rstrip("0") if fraction else ""))
    return " ".join(parts)


# --- comparing ----------------------------------------------------------------------------------


def normalize(line: str) -> str:
    """A line trimmed, with runs of whitespace made one space (sqllogictest-rs's normalizer)."""
    return " ".join(line.split())


def render_row(row: list[Cell]) -> str:
    return normalize(" ".join(cell.text for cell in row))


def row_matches(row: list[Cell], line: str) -> bool:
    """Whether a row of tidal's matches an expected line (see the module's docstring)."""
    if render_row(row) == normalize(line):
        return True
    actual = [(word, cell.kind) for cell in row for word in cell.text.split()]
    expected = line.split()
    return len(actual) == len(expected) and all(
        words_match(word, kind, other) for (word, kind), other in zip(actual, expected)
    )


def words_match(actual: str, kind: str, expected: str) -> bool:
    """Whether one word of tidal's matches one expected word, in a column of ``kind``."""
    if actual == expected:
        return True
    if kind == "text":
        return False
    a, e = _number(actual), _number(expected)
    if a is None or e is None:
        return False
    if a.is_nan() or e.is_nan():
        return a.is_nan() and e.is_nan()
    if kind == "exact" or a.is_infinite() or e.is_infinite():
        return a == e
    return math.isclose(float(a), float(e), rel_tol=FLOAT_TOLERANCE, abs_tol=1e-12)


def _number(word: str) -> decimal.Decimal | None:
    spelled = {"Infinity": "Inf", "-Infinity": "-Inf", "inf": "Inf", "-inf": "-Inf"}
    try:
        return decimal.Decimal(spelled.get(word, word))
    except decimal.InvalidOperation:
        return None


def rows_match(rows: list[list[Cell]], expected: list[str], sort: str) -> bool:
    """Whether tidal's rows match the expected lines: in order (``nosort``), as a multiset of
    rows (``rowsort``), or as a multiset of words (``valuesort``)."""
    if sort == "valuesort":
        return sorted(w for row in rows for w in render_row(row).split()) == sorted(
            w for line in expected for w in line.split()
        )
    if len(rows) != len(expected):
        return False
    if sort == "nosort":
        return all(row_matches(row, line) for row, line in zip(rows, expected))
    return _multiset_match(rows, expected)


def _multiset_match(rows: list[list[Cell]], expected: list[str]) -> bool:
    """Pairs every expected line with a distinct row: equal texts first, then rows that match
    word by word (a number in another spelling)."""
    left: dict[str, int] = {}
    for line in expected:
        left[normalize(line)] = left.get(normalize(line), 0) + 1
    unmatched_rows = []
    for row in rows:
        text = render_row(row)
        if left.get(text, 0) > 0:
            left[text] -= 1
        else:
            unmatched_rows.append(row)
    unmatched_lines = [line for line, n in left.items() for _ in range(n)]
    for line in unmatched_lines:
        at = next((i for i, row in enumerate(unmatched_rows) if row_matches(row, line)), None)
        if at is None:
            return False
        unmatched_rows.pop(at)
    return True
