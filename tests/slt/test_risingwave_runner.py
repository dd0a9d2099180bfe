"""The runner of RisingWave's sqllogictest files (tests/slt/risingwave.py): it must read
sqllogictest-rs's dialect, compare values the way RisingWave prints them, and fail what differs,
or its counts measure nothing. The scripts here are small ones written for these tests."""

from __future__ import annotations

import datetime as dt
import decimal
import doctest
import json
import pathlib
import textwrap

import pyarrow as pa
import pytest

from . import risingwave, risingwave_report, risingwave_script, risingwave_values
from .risingwave import FileRun, classify, run_file, run_one
from .risingwave_report import aggregate, markdown, summarize
from .risingwave_script import ScriptError, parse_file
from .risingwave_values import Cell, interval_text, rows_as_text, rows_match, value_text

# --- parsing ------------------------------------------------------------------------------------


def write(folder: pathlib.Path, name: str, text: str) -> pathlib.Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def test_record_kinds_and_their_expectations(tmp_path):
    path = write(
        tmp_path,
        "kinds.slt",
        """
        # a comment
        statement ok
        create table t (x int);

        statement count 2
        insert into t values (1), (2);

        statement error relation .* does not exist
        select * from nope;

        query error
        select 1/0;

        query IT? rowsort retry 3 backoff 1s
        select x, 'a', true from t;
        ----
        1 a t
        2 a t

        statement error
        select * from nope
        ----
        db error: ERROR: the whole message

        line three


        system ok
        echo hi
        ----
        hi


        let a, b
        select 1, 2;

        control substitution on

        sleep 1s

        halt

        statement ok
        never parsed;
        """,
    )
    records = parse_file(path)
    kinds = [type(r).__name__ for r in records]
    assert kinds == [
        "Statement",
        "Statement",
        "Statement",
        "Query",
        "Query",
        "Statement",
        "System",
        "Let",
        "Control",
        "Control",
        "Control",
    ]
    create, count, error, query_error, query, multiline, system, let = records[:8]
    assert (create.expect, create.sql) == ("ok", "create table t (x int);")
    assert (count.expect, count.count) == ("count", 2)
    assert error.error.text == "relation .* does not exist" and not error.error.exact
    assert query_error.error.text == "" and query_error.expected == []
    assert (query.types, query.sort, query.expected) == ("IT?", "rowsort", ["1 a t", "2 a t"])
    assert multiline.error.exact
    assert multiline.error.text == "db error: ERROR: the whole message\n\nline three"
    assert system.sql == "echo hi" and let.names == ["a", "b"] and let.sql == "select 1, 2;"
    assert [r.what for r in records[8:]] == ["substitution", "sleep", "halt"]
    assert (create.where, query.where) == ("kinds.slt:2", "kinds.slt:14")


def test_a_line_of_spaces_belongs_to_the_record_as_in_sqllogictest_rs():
    (record,) = risingwave_script.parse("statement ok\nselect 1\n   \nfrom t\n")
    assert record.sql == "select 1\n   \nfrom t"


def test_conditions_and_connections_apply_to_the_next_record_only():
    records = risingwave_script.parse(
        "onlyif can-use-recover\nskipif madsim\nconnection other\nstatement ok\nselect 1\n\n"
        "statement ok\nselect 2\n"
    )
    first, second = records
    assert (first.onlyif, first.skipif, first.connection) == (
        ["can-use-recover"],
        ["madsim"],
        "other",
    )
    assert (second.onlyif, second.skipif, second.connection) == ([], [], "default")


def test_includes_expand_relative_to_the_including_file_with_globs(tmp_path):
    write(tmp_path, "shared/a.slt.part", "statement ok\nselect 'a'\n")
    write(tmp_path, "shared/b.slt.part", "statement ok\nselect 'b'\n")
    write(tmp_path, "suite/parts/c.slt.part", "include ../../shared/b.slt.part\n")
    main = write(
        tmp_path,
        "suite/main.slt",
        "include ../shared/*.slt.part\n\ninclude ./parts/c.slt.part\n\nstatement ok\nselect 'm'\n",
    )
    records = parse_file(main, root=tmp_path)
    assert [r.sql for r in records] == ["select 'a'", "select 'b'", "select 'b'", "select 'm'"]
    assert [r.file for r in records] == [
        "shared/a.slt.part",
        "shared/b.slt.part",
        "shared/b.slt.part",
        "suite/main.slt",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "include ./missing.slt.part\n",
        "statement maybe\nselect 1\n",
        "query I sometimes\nselect 1\n----\n1\n",
        "query I retry 3\nselect 1\n----\n1\n",
        "statement ok\nselect 1\n----\n1\n",
        "frobnicate\n",
    ],
)
def test_malformed_files_are_script_errors(tmp_path, text):
    path = write(tmp_path, "bad.slt", text)
    with pytest.raises(ScriptError, match="bad.slt:1"):
        parse_file(path)


# --- values -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "NULL"),
        ("", "(empty)"),
        (True, "t"),
        (False, "f"),
        (3.0, "3"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
        (decimal.Decimal("1.500"), "1.500"),
        (dt.date(2026, 1, 2), "2026-01-02"),
        (dt.datetime(2026, 1, 2, 3, 4, 5, 330000), "2026-01-02 03:04:05.330"),
        (dt.datetime(2026, 1, 2, 3, 4, 5, 1), "2026-01-02 03:04:05.000001"),
        (dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "2026-01-02 03:04:05+00:00"),
        (dt.time(12, 0), "12:00:00"),
        ([1, None, 3], "{1,NULL,3}"),
        (["a b", "", "NULL", 'q"'], '{"a b","","NULL","q\\""}'),
        ([[1, 2], [3]], "{{1,2},{3}}"),
        ({"a": 1, "b": "x y", "c": None}, '(1,"x y",)'),
        (b"\x01\xff", "\\x01ff"),
    ],
)
def test_values_print_as_risingwave_prints_them(value, text):
    assert value_text(value) == text


def test_a_four_byte_float_prints_its_own_shortest_digits():
    table = pa.table({"r": pa.array([0.1, 2.0], pa.float32())})
    assert [row[0].text for row in rows_as_text(table)] == ["0.1", "2"]


def test_intervals_print_as_postgresql_prints_them():
    hour = 3600 * 10**9
    assert interval_text(1, 0, 0) == "1 mon"
    assert interval_text(25, 1, 0) == "2 years 1 mon 1 day"
    assert interval_text(0, 2, hour + 500_000) == "2 days 01:00:00.0005"
    assert interval_text(-14, 0, 0) == "-1 years -2 mons"


def rows(*texts: str, kinds: str = "") -> list[list[Cell]]:
    """Rows of cells from space-separated texts; ``kinds`` gives each column's kind letter
    (f float, e exact, t text; text by default)."""
    names = {"f": "float", "e": "exact", "t": "text"}
    out = []
    for text in texts:
        values = text.split()
        letters = kinds or "t" * len(values)
        out.append([Cell(v, names[k]) for v, k in zip(values, letters)])
    return out


def test_numbers_match_by_value_in_numeric_columns_only():
    assert rows_match(rows("1.500 x", kinds="et"), ["1.5 x"], "nosort")
    assert not rows_match(rows("1.501 x", kinds="et"), ["1.5 x"], "nosort")
    assert rows_match(rows("0.30000000000000004", kinds="f"), ["0.3"], "nosort")
    assert not rows_match(rows("0.3001", kinds="f"), ["0.3"], "nosort")
    assert rows_match(rows("NaN Infinity", kinds="ff"), ["NaN Infinity"], "nosort")
    assert not rows_match(rows("NaN", kinds="f"), ["0"], "nosort")
    assert not rows_match(rows("1.0", kinds="t"), ["1"], "nosort")  # text is text


def test_whitespace_is_normalized_but_words_are_not():
    assert rows_match(rows("a b"), ["  a \t b "], "nosort")
    assert not rows_match(rows("a b"), ["a b c"], "nosort")
    assert not rows_match(rows("a b"), ["ab"], "nosort")


def test_rowsort_ignores_order_nosort_does_not_and_counts_must_agree():
    actual = rows("2 b", "1 a", kinds="et")
    assert rows_match(actual, ["1 a", "2 b"], "rowsort")
    assert not rows_match(actual, ["1 a", "2 b"], "nosort")
    assert not rows_match(actual, ["1 a", "2 b", "2 b"], "rowsort")
    assert not rows_match(rows("1 a", "1 a", kinds="et"), ["1 a", "2 b"], "rowsort")
    # a number spelled another way still pairs with its own row, not a neighbour's
    assert rows_match(rows("2.0 b", "1.0 a", kinds="et"), ["1 a", "2 b"], "rowsort")


def test_valuesort_compares_all_words_sorted():
    assert rows_match(rows("2 a", "1 b"), ["1 a", "2 b"], "valuesort")
    assert not rows_match(rows("2 a", "1 c"), ["1 a", "2 b"], "valuesort")


# --- running on tidal ---------------------------------------------------------------------------


def run_text(tmp_path: pathlib.Path, *parts: str) -> list[dict]:
    """Runs a script (its parts dedented, then joined) in this process; the header, then one
    dict per record."""
    path = tmp_path / "case.slt"
    path.write_text("".join(textwrap.dedent(part).lstrip("\n") for part in parts))
    items: list[dict] = []
    run_one(path, tmp_path, items.append)
    return items


def statuses(items: list[dict]) -> list[str]:
    return [i["status"] if i["status"] != "failed" else i["kind"] for i in items[1:]]


SETUP = """
statement ok
create table t (k varchar, v int, b boolean);

statement ok
insert into t values ('a', 1, true), ('b', NULL, false), ('', 3, NULL);

"""


def test_a_correct_script_passes_with_risingwave_only_statements_as_noops(tmp_path):
    items = run_text(
        tmp_path,
        SETUP,
        """
        statement ok
        SET RW_IMPLICIT_FLUSH TO true;

        statement ok
        set streaming_parallelism = 2;

        statement ok
        flush;

        query TIT
        select k, v, b from t order by k;
        ----
        (empty) 3 NULL
        a 1 t
        b NULL f

        query R
        select avg(v) from t;
        ----
        2.0000000000000000000000000000
        """,
    )
    assert items[0] == {"records": 7}
    # tidal accepts the settings itself (tidal.sql.known_settings); FLUSH is the runner's no-op
    assert statuses(items) == ["passed", "passed", "passed", "passed", "noop", "passed", "passed"]
    assert items[5]["kind"] == "flush"


def test_a_wrong_value_fails_and_shows_both_sides(tmp_path):
    items = run_text(
        tmp_path,
        SETUP,
        "query TI rowsort\nselect k, v from t where v is not null;\n----\n(empty) 3\na 2\n",
    )
    (outcome,) = items[3:]
    assert outcome["kind"] == "wrong result"
    assert outcome["detail"] == "expected:\n(empty) 3\na 2\nactual:\n(empty) 3\na 1"


def test_a_setting_that_changes_answers_is_not_a_noop(tmp_path):
    items = run_text(tmp_path, "statement ok\nset no_such_setting to 1;\n")
    assert statuses(items) == ["42704 unrecognized configuration parameter '?'"]


def test_nosort_without_order_by_compares_a_multiset_with_order_by_in_order(tmp_path):
    query = "query I\nselect v from t where v is not null{};\n----\n3\n1\n"
    unordered = run_text(tmp_path, SETUP, query.format(""))
    ordered = run_text(tmp_path, SETUP, query.format(" order by v"))
    assert statuses(unordered)[-1] == "passed"
    assert statuses(ordered)[-1] == "wrong result"


def test_expected_errors(tmp_path):
    items = run_text(
        tmp_path,
        """
        statement error unknown relation
        select * from nope;

        statement error RisingWave's own words
        select * from nope;

        statement error
        select 1;

        query error
        select * from nope;
        """,
    )
    assert statuses(items) == ["passed", "passed", "no error", "passed"]
    assert [i["text_differs"] for i in items[1:3]] == [False, True]


def test_conditions_and_system_commands_are_skipped_and_skipif_runs(tmp_path):
    items = run_text(
        tmp_path,
        """
        onlyif can-use-recover
        statement ok
        recover;

        system ok
        rpk topic create x

        skipif madsim
        statement ok
        select * from nope;

        halt

        statement ok
        select * from nope;
        """,
    )
    assert statuses(items) == ["skipped", "skipped", "42P01 unknown relation '?'"]
    assert [i["kind"] for i in items[1:3]] == ["onlyif can-use-recover", "system"]


def test_let_and_substitution(tmp_path):
    items = run_text(
        tmp_path,
        SETUP,
        """
        control substitution on

        let name, total
        select 'k', sum(v) from t;

        query I
        select ${total} + $total;
        ----
        8

        query T
        select '${name:default}', '${nope:fallback}', '\\$total';
        ----
        k fallback $total

        query T
        select to_timestamp($__NOW__ / 1e9) > timestamptz '2020-01-01 00:00:00+00';
        ----
        t

        statement ok
        select $nope;
        """,
    )
    assert statuses(items)[2:] == ["passed", "passed", "passed", "passed", "substitution"]


class FakeEngine:
    """An engine whose statements raise what a test gives."""

    user_errors = (ValueError,)

    def __init__(self, error: Exception) -> None:
        self.error = error

    def run(self, sql: str):
        raise self.error


def test_an_internal_exception_is_a_crash_even_where_an_error_is_expected(tmp_path):
    records = risingwave_script.parse("statement error\nselect 1\n\nstatement ok\nselect 2\n")
    run = FileRun(FakeEngine(KeyError("c0")), tmp_path)
    assert [o.kind for o in run.run(records)] == ["crash: KeyError", "crash: KeyError"]
    run = FileRun(FakeEngine(ValueError("boom")), tmp_path)
    assert [o.status for o in run.run(records)] == ["passed", "failed"]


def test_classes_leave_out_names_and_arguments():
    from tidal.sql.errors import SqlError, unsupported

    errors = (SqlError,)
    assert classify(unsupported("table constraint PRIMARY KEY (id)"), errors) == (
        classify(unsupported("table constraint PRIMARY KEY (a, b)"), errors)
    )
    assert classify(unsupported("column 'x' of type INT[]"), errors) == (
        "0A000 not supported: column '?' of type INT[]"
    )
    syntax = SqlError("syntax error at or near 'changelog' (line 1, column 9)")
    assert classify(syntax, errors) == "42601 syntax error at or near 'changelog'"
    unparsed = unsupported("statement 'create table t (x int, w timestamp, watermark f'")
    sql = "create table t (x int, w timestamp, watermark for w as w) append only"
    assert classify(unparsed, errors, sql) == (
        "0A000 not supported: statement CREATE TABLE (APPEND ONLY, WATERMARK FOR)"
    )


# --- files in subprocesses, and the counts ------------------------------------------------------


def test_a_file_runs_in_a_subprocess_and_counts(tmp_path):
    path = write(
        tmp_path,
        "f.slt",
        SETUP + "statement ok\nflush\n\nquery I\nselect count(*) from t;\n----\n4\n"
        "\nsystem ok\ntrue\n",
    )
    result = run_file(path, tmp_path, timeout=120)
    assert (result.records, result.passed, result.noop, result.failed, result.skipped) == (
        5,
        2,
        1,
        1,
        1,
    )
    assert result.first_failure["kind"] == "wrong result" and not result.ok
    assert result.first_failure["where"] == "f.slt:10"


def test_a_file_over_its_time_limit_fails_with_timeout(tmp_path):
    path = write(tmp_path, "slow.slt", SETUP)
    result = run_file(path, tmp_path, timeout=0.01)
    assert result.classes == {"timeout": 1} and result.first_failure["kind"] == "timeout"


def test_a_problem_ends_the_file_and_the_rest_did_not_run():
    items = [
        {"records": 4},
        {"where": "f.slt:1", "status": "passed", "text_differs": False},
        {"where": "f.slt:3", "status": "noop", "kind": "flush"},
    ]
    result = summarize("f.slt", items, ("crash: process exited -9", "killed"))
    assert (result.passed, result.noop, result.failed, result.not_run) == (1, 1, 1, 1)
    assert result.first_failure["kind"] == "crash: process exited -9" and not result.ok
    script = summarize("g.slt", [{"records": 0, "script_error": "g.slt:1: bad"}], None)
    assert script.first_failure["kind"] == "script error" and not script.ok


def test_classes_rank_by_files_they_block_first(tmp_path):
    def failed(line: int, kind: str) -> dict:
        return {"where": f"x:{line}", "status": "failed", "kind": kind, "sql": f"sql {line}"}

    a = summarize("a.slt", [{"records": 3}, failed(1, "keys"), failed(2, "cascade")], None)
    b = summarize("b.slt", [{"records": 3}, failed(1, "keys"), failed(2, "cascade")], None)
    c = summarize("c.slt", [{"records": 2}, failed(1, "cascade"), failed(2, "cascade")], None)
    d = summarize("d.slt", [{"records": 1}, {"where": "x:1", "status": "passed"}], None)
    report = aggregate([a, b, c, d], commit="abc", timeout=9, folder="streaming")
    ranked = [
        (c["class"], c["files_blocked"], c["records"], c["example"]["where"])
        for c in report["classes"]
    ]
    # cascade's example is where it came first (c.slt:1), not a's consequence (a.slt, x:2)
    assert ranked == [("keys", 2, 2, "x:1"), ("cascade", 1, 4, "x:1")]
    assert report["classes"][1]["example"]["sql"] == "sql 1"
    assert report["summary"]["files_passed"] == 1 and report["summary"]["records"] == 9
    text = markdown(report, "before")
    assert "files passing: **1 / 4**" in text and "| 1 | `keys` | 2 | 2 |" in text
    json.dumps(report)  # it is written as JSON


@pytest.mark.parametrize(
    "module", [risingwave, risingwave_report, risingwave_script, risingwave_values]
)
def test_the_runner_modules_examples(module):
    failures, tried = doctest.testmod(module)
    assert tried > 0 or module is risingwave_report
    assert failures == 0


def test_a_halt_in_an_included_file_ends_the_whole_run(tmp_path):
    write(tmp_path, "part.slt.part", "statement ok\nselect 1\n\nhalt\n")
    path = write(
        tmp_path, "main.slt", "include ./part.slt.part\n\nstatement ok\nselect * from nope\n"
    )
    items: list[dict] = []
    run_one(path, tmp_path, items.append)
    assert items == [{"records": 1}, items[1]] and items[1]["status"] == "passed"
