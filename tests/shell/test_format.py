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


def test_table_lines_show_types_and_style_null_apart_from_the_string_null():
    from tidal.shell.format import plain, table_lines

    table = pa.table({"n": pa.array([1, None], pa.int64()), "s": ["NULL", "x"]})
    lines = table_lines(table, types=True).lines
    assert [plain(line) for line in lines] == [
        "   n    |    s",
        " bigint | varchar",
        "--------+---------",
        "      1 | NULL",
        "   NULL | x",
    ]
    assert ("class:null", "  NULL") in lines[4] and ("", "NULL") in lines[3]


def test_table_lines_narrow_columns_then_drop_them_to_fit_a_width():
    from tidal.shell.format import plain, table_lines

    table = pa.table({"id": [1], "text": ["x" * 50], "more": ["y" * 50]})
    fitted = table_lines(table, width=40)
    assert all(len(plain(line)) <= 40 for line in fitted.lines) and fitted.hidden_columns == 0
    assert plain(fitted.lines[2]).endswith("…")
    narrow = table_lines(pa.table({f"column_{i}": [i] for i in range(10)}), width=30)
    assert narrow.hidden_columns == 8 and all(len(plain(x)) <= 30 for x in narrow.lines)


def test_line_mode_puts_one_field_per_line():
    from tidal.shell.format import as_line

    table = pa.table({"id": [1, 2], "customer": ["ann", None]})
    assert as_line(table) == ("      id = 1\ncustomer = ann\n\n      id = 2\ncustomer = NULL\n")


def test_intervals_print_as_postgresql_prints_them():
    intervals = pa.array(
        [(0, 0, 5_400_000_000_000), (14, 3, 3_723_000_000_000), (0, -1, 1000)],
        pa.month_day_nano_interval(),
    )
    assert as_csv(pa.table({"i": intervals})) == (
        "i\n01:30:00\n1 year 2 mons 3 days 01:02:03\n-1 days +00:00:00.000001\n"
    )
