"""The sqllogictest runner itself: it must fail on wrong results, wrong types, wrong errors and
internal errors, or the scripts prove nothing."""

from __future__ import annotations

import datetime as dt
import pathlib
from decimal import Decimal

import pyarrow as pa
import pytest

from .runner import DuckDBEngine, TidalBatchEngine, TidalEngine, run_file
from .script import ScriptError, parse
from .values import expected_rows, format_value, type_fits


def run(tmp_path: pathlib.Path, text: str, engine=TidalEngine):
    script = tmp_path / "case.slt"
    script.write_text(text)
    return run_file(script, engine, tmp_path)


def problems(report) -> list[str]:
    return [f.problem for f in report.failures]


SETUP = (
    "statement ok\nCREATE TABLE t (k VARCHAR, v INTEGER)\n\n"
    "statement ok\nINSERT INTO t VALUES ('a', 1), ('b', NULL), ('c', 3)\n\n"
)


def test_a_correct_script_passes(tmp_path):
    report = run(
        tmp_path,
        SETUP + "query TI nosort\nSELECT k, v FROM t ORDER BY k\n----\n"
        "a\t1\nb\tNULL\nc\t3\n\nquery R rowsort\nSELECT avg(v) FROM t\n----\n2.000\n",
    )
    assert report.failures == [] and report.ran == 4


def test_a_wrong_value_fails_and_shows_both_sides(tmp_path):
    report = run(
        tmp_path,
        SETUP + "query TI nosort\nSELECT k, v FROM t ORDER BY k\n----\na\t1\nb\tNULL\nc\t4\n",
    )
    (failure,) = report.failures
    assert failure.line == 7 and failure.problem == "wrong result"
    assert failure.expected.endswith("c\t4") and failure.actual.endswith("c\t3")
    assert "case.slt:7" in str(failure) and "SELECT k, v FROM t" in str(failure)


def test_rowsort_ignores_order_but_nosort_does_not(tmp_path):
    body = "query T {}\nSELECT k FROM t ORDER BY k DESC\n----\na\nb\nc\n"
    assert run(tmp_path, SETUP + body.format("rowsort")).failures == []
    assert problems(run(tmp_path, SETUP + body.format("nosort"))) == ["wrong result"]


def test_nosort_with_several_rows_needs_order_by(tmp_path):
    report = run(tmp_path, SETUP + "query T nosort\nSELECT k FROM t\n----\na\nb\nc\n")
    assert "needs ORDER BY" in problems(report)[0]


def test_a_column_type_that_does_not_fit_the_letter_fails(tmp_path):
    report = run(tmp_path, SETUP + "query I nosort\nSELECT avg(v) FROM t\n----\n2\n")
    assert "does not fit 'I'" in problems(report)[0]


def test_the_wrong_number_of_columns_fails(tmp_path):
    report = run(tmp_path, SETUP + "query T nosort\nSELECT k, v FROM t WHERE v = 1\n----\na 1\n")
    assert "returns 2 columns" in problems(report)[0]


def test_statement_error_checks_sqlstate_and_message(tmp_path):
    base = SETUP + "statement error {}\nSELECT nope FROM t\n"
    assert run(tmp_path, base.format("42703 column 'nope' does not exist")).failures == []
    assert problems(run(tmp_path, base.format("42P01"))) == ["wrong SQLSTATE"]
    assert problems(run(tmp_path, base.format("something else"))) == ["wrong error message"]
    assert run(tmp_path, base.format(r"column '\w+' does not")).failures == []


def test_statement_error_fails_when_the_statement_succeeds(tmp_path):
    report = run(tmp_path, SETUP + "statement error\nSELECT 1\n")
    assert problems(report) == ["statement succeeded but an error was expected"]


def test_statement_count_checks_the_row_count(tmp_path):
    assert run(tmp_path, SETUP + "statement count 2\nDELETE FROM t WHERE v > 0\n").failures == []
    assert problems(run(tmp_path, SETUP + "statement count 3\nDELETE FROM t WHERE v > 0\n")) == [
        "wrong row count"
    ]


def test_incremental_control_also_checks_a_materialized_view(tmp_path):
    text = (
        SETUP + "control incremental on\n\nquery TI nosort\n"
        "SELECT k, v * 2 AS d FROM t ORDER BY k\n----\na\t2\nb\tNULL\nc\t6\n"
    )
    assert run(tmp_path, text).failures == []
    bad = text.replace("SELECT k, v * 2 AS d", "SELECT k, v * 2")
    assert "as a materialized view" in problems(run(tmp_path, bad))[0]


def test_halt_stops_the_script(tmp_path):
    report = run(tmp_path, SETUP + "halt\n\nstatement ok\nSELECT nope\n")
    assert report.failures == [] and report.ran == 2


def test_the_duckdb_oracle_skips_tidal_only_and_error_records(tmp_path):
    text = (
        SETUP + "onlyif tidal\nquery T nosort\nSHOW TABLES\n----\nt\n\n"
        "statement error 42703\nSELECT nope FROM t\n\n"
        "query I nosort\nSELECT sum(v) FROM t\n----\n4\n"
    )
    report = run(tmp_path, text, DuckDBEngine)
    assert (report.ran, report.skipped, report.failures) == (3, 2, [])


def test_skipif_and_unknown_records_are_script_errors():
    with pytest.raises(ScriptError, match="known_failures"):
        parse("skipif tidal\nstatement ok\nSELECT 1\n")
    with pytest.raises(ScriptError, match="unknown record"):
        parse("statment ok\nSELECT 1\n")
    with pytest.raises(ScriptError, match="----"):
        parse("query I\nSELECT 1\n")


WINDOWED = (
    "statement ok\n"
    "CREATE TABLE e (k VARCHAR, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)\n"
    "---- duckdb\nCREATE TABLE e (k VARCHAR, ts TIMESTAMP)\n\n"
    "statement count 2\n"
    "INSERT INTO e VALUES ('a', '2026-01-01 00:00:03'), ('b', '2026-01-01 00:00:12')\n\n"
    "query TI rowsort\nSELECT window_start, count(*) AS n\n"
    "FROM TUMBLE(e, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end\n"
    "---- duckdb\nSELECT time_bucket(INTERVAL '{width}' SECOND, ts, TIMESTAMP '1970-01-01') "
    "AS window_start,\n  count(*) AS n FROM e GROUP BY window_start\n"
    "----\n2026-01-01 00:00:00\t1\n2026-01-01 00:00:10\t1\n"
)


@pytest.mark.parametrize("engine", [TidalEngine, TidalBatchEngine, DuckDBEngine])
def test_a_duckdb_section_is_what_the_oracle_runs_instead(tmp_path, engine):
    report = run(tmp_path, WINDOWED.format(width=10), engine)
    assert (report.ran, report.skipped, report.failures) == (3, 0, [])


def test_the_oracle_checks_the_expectation_against_the_duckdb_section(tmp_path):
    text = WINDOWED.format(width=4)  # 4 s buckets: 00:00:12 holds the second row, not 00:00:10
    assert run(tmp_path, text, TidalEngine).failures == []
    (failure,) = run(tmp_path, text, DuckDBEngine).failures
    assert failure.problem == "wrong result" and "time_bucket" in failure.sql
    assert failure.line == 9


def test_a_duckdb_section_only_where_the_oracle_runs_the_record():
    section = "---- duckdb\nSELECT 1\n"
    with pytest.raises(ScriptError, match="onlyif tidal"):
        parse("onlyif tidal\nstatement ok\nSELECT 2\n" + section)
    with pytest.raises(ScriptError, match="statement error"):
        parse("statement error\nSELECT 2\n" + section)
    with pytest.raises(ScriptError, match="before the '----' line"):
        parse("query I\nSELECT 2\n----\n2\n" + section)
    with pytest.raises(ScriptError, match="no SQL"):
        parse("query I\nSELECT 2\n---- duckdb\n----\n2\n")
    (record,) = parse("query I\nSELECT 2\n" + section + "----\n2\n")
    assert (record.sql, record.duckdb_sql, record.expected) == ("SELECT 2", "SELECT 1", ["2"])


@pytest.mark.parametrize(
    "value, letter, text",
    [
        (None, "T", "NULL"),
        ("", "T", "(empty)"),
        (True, "T", "true"),
        (7, "I", "7"),
        (
            Decimal(170141183460469231731687303715884105727),
            "I",
            "170141183460469231731687303715884105727",
        ),
        (2.5, "R", "2.500"),
        (-0.0001, "R", "0.000"),
        (2.0 / 3, "R", "0.667"),
        (Decimal("10.25"), "R", "10.250"),
        (float("nan"), "R", "nan"),
        (dt.datetime(2026, 1, 1, 10, 0, 0, 250000), "T", "2026-01-01 10:00:00.25"),
        (dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC), "T", "2026-01-01 10:00:00+00"),
        (dt.date(2026, 1, 1), "T", "2026-01-01"),
        (dt.time(10, 5), "T", "10:05:00"),
        ([1, None], "T", "[1, NULL]"),
        ({"a": 1, "b": "x"}, "T", "{'a': 1, 'b': x}"),
    ],
)
def test_values_are_formatted_as_documented(value, letter, text):
    assert format_value(value, letter) == text


def test_intervals_are_formatted_as_duckdb_prints_them():
    values = pa.array([pa.MonthDayNano([14, 3, 14706 * 10**9]), pa.MonthDayNano([0, 0, 0])])
    assert [format_value(v, "T") for v in values.to_pylist()] == [
        "1 year 2 months 3 days 04:05:06",
        "00:00:00",
    ]


def test_type_letters():
    assert type_fits("I", pa.int64()) and type_fits("I", pa.decimal128(38, 0))
    assert not type_fits("I", pa.float64()) and not type_fits("T", pa.int32())
    assert type_fits("R", pa.decimal128(10, 2)) and type_fits("T", pa.timestamp("us"))


def test_expected_rows_split_on_tabs_spaces_or_one_value_per_line():
    assert expected_rows(["a b\t1"], 2, 1) == [["a b", "1"]]
    assert expected_rows(["a  1"], 2, 1) == [["a", "1"]]
    assert expected_rows(["a", "1", "b", "2"], 2, 2) == [["a", "1"], ["b", "2"]]
    assert expected_rows(["hello world"], 1, 1) == [["hello world"]]


class _Broken(TidalEngine):
    """An engine with a bug: every statement raises an internal exception."""

    def run(self, sql: str):
        raise KeyError("c7")


def test_an_internal_exception_does_not_pass_for_an_expected_error(tmp_path):
    report = run(tmp_path, "statement error\nSELECT 1\n", _Broken)
    assert problems(report) == ["internal error instead of a user-facing one"]
    assert "KeyError" in report.failures[0].actual


def test_onlyif_incremental_records_are_skipped_in_batch_mode(tmp_path):
    text = (
        SETUP + "onlyif incremental\nstatement error\nSELECT 1\n\n"
        "onlyif tidal\nquery T nosort\nSHOW TABLES\n----\nt\n"
    )
    assert problems(run(tmp_path, text, TidalEngine)) == [
        "statement succeeded but an error was expected"
    ]
    report = run(tmp_path, text, TidalBatchEngine)
    assert (report.ran, report.skipped, report.failures) == (3, 1, [])
