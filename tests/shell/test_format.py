from __future__ import annotations

import datetime
import decimal

import pyarrow as pa

from tidal.shell.format import as_csv, as_json, as_table


def test_table_aligns_numbers_right_and_shows_null():
    table = pa.table(
        {"name": ["ann", None], "total": [decimal.Decimal("12.50"), decimal.Decimal("3.00")]}
    )
    assert as_table(table) == (
        " name | total\n------+-------\n ann  | 12.50\n NULL |  3.00\n(2 rows)"
    )


def test_values_print_as_duckdb_prints_them():
    table = pa.table({"ts": [datetime.datetime(2026, 1, 1, 10, 0)], "b": [True], "f": [0.1]})
    assert as_csv(table) == "ts,b,f\n2026-01-01 10:00:00,true,0.1\n"
    assert as_json(table) == '{"ts": "2026-01-01 10:00:00", "b": true, "f": 0.1}\n'


def test_long_results_are_truncated_with_a_note():
    table = pa.table({"x": list(range(30))})
    shown = as_table(table, max_rows=5)
    assert shown.endswith("(30 rows, first 5 shown)")
    assert shown.count("\n") == 2 + 5
