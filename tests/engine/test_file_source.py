"""The file source on real files: formats, types, following files, bad records, options."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from connector_helpers import COLUMNS, drain, file_source, rows, source

from tidal.catalog.objects import Column, Source
from tidal.engine.connectors import ConnectorError, open_source

# -- file source: formats and types -------------------------------------------------------------


def test_csv_values_are_cast_to_the_declared_types(tmp_path):
    (tmp_path / "clicks.csv").write_text(
        "id,ts,amount,name\n"
        "1,2026-01-01 10:00:00,10.50,ann\n"
        '2,,,""\n'
        '3,2026-01-01T10:00:00.250,7,"x, y"\n'
    )
    reader = file_source(tmp_path, "clicks.csv", "csv")
    table = reader.poll(100)
    assert table.schema == source().arrow_schema()
    assert rows(table) == [
        {"id": 1, "ts": dt.datetime(2026, 1, 1, 10), "amount": Decimal("10.50"), "name": "ann"},
        {"id": 2, "ts": None, "amount": None, "name": ""},
        {
            "id": 3,
            "ts": dt.datetime(2026, 1, 1, 10, 0, 0, 250000),
            "amount": Decimal("7.00"),
            "name": "x, y",
        },
    ]
    assert reader.poll(100) is None and reader.bounded and reader.errors == []


def test_csv_header_matches_columns_by_name_and_ignores_extra_ones(tmp_path):
    (tmp_path / "a.csv").write_text("name,extra,id,amount,ts\nbob,zzz,5,1.5,2026-02-03 04:05:06\n")
    assert rows(file_source(tmp_path, "a.csv", "csv").poll(10)) == [
        {"id": 5, "ts": dt.datetime(2026, 2, 3, 4, 5, 6), "amount": Decimal("1.50"), "name": "bob"}
    ]


def test_csv_without_header_and_with_another_delimiter(tmp_path):
    (tmp_path / "a.csv").write_text("1\t2026-01-01 00:00:00\t3\tx\n")
    reader = file_source(tmp_path, "a.csv", "csv", header="false", delimiter="\\t")
    assert [r["id"] for r in drain(reader)] == [1]


def test_csv_header_without_a_declared_column_is_reported_once_and_the_other_files_go_on(
    tmp_path,
):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "a.csv").write_text("id,ts,name\n1,,,x\n")  # no amount: a bad header
    (folder / "b.csv").write_text("id,ts,amount,name\n2,,2,b\n")
    reader = file_source(tmp_path, "d/", "csv")
    assert [r["id"] for r in drain(reader)] == [2]
    with (folder / "b.csv").open("a") as file:
        file.write("3,,3,c\n")
    assert [r["id"] for r in drain(reader)] == [3]  # appends to the other files are read
    assert len(reader.errors) == 1  # once, not at every poll
    assert reader.errors[0].startswith("d/a.csv:1: the header has no column amount")
    assert "the other files go on" in reader.errors[0]
    (folder / "a.csv").write_text("id,ts,amount,name\n1,,1,a\n")  # fixed: read from its start
    assert [r["id"] for r in drain(reader)] == [1] and len(reader.errors) == 1


def test_a_file_that_cannot_be_opened_is_reported_and_skipped(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "a.jsonl").mkdir()  # a directory with a file's name cannot be read
    (folder / "a.jsonl" / "x").write_text("")
    (folder / "b.jsonl").write_text('{"id": 1}\n')
    reader = file_source(tmp_path, "d/", "jsonl", (Column("id", "INTEGER"),))
    assert drain(reader) == [{"id": 1}] and reader.errors == []


def test_jsonl_types_missing_fields_and_extra_fields(tmp_path):
    columns = (
        Column("id", "BIGINT"),
        Column("day", "DATE"),
        Column("at", "TIME"),
        Column("ts", "TIMESTAMP WITH TIME ZONE"),
        Column("amount", "DECIMAL(10,2)"),
        Column("tags", "VARCHAR[]"),
    )
    (tmp_path / "e.jsonl").write_text(
        '{"id": 1, "day": "2026-01-02", "at": "10:00:01.5", "ts": "2026-01-01 10:00:00",'
        ' "amount": 10.5, "tags": ["a", "b"], "ignored": {"x": 1}}\n'
        '{"id": 2}\n'
    )
    table = file_source(tmp_path, "e.jsonl", "json", columns).poll(10)
    assert table.schema == source(columns).arrow_schema()
    first, second = rows(table)
    assert first["day"] == dt.date(2026, 1, 2) and first["at"] == dt.time(10, 0, 1, 500000)
    assert first["ts"] == dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)
    assert first["amount"] == Decimal("10.50") and first["tags"] == ["a", "b"]
    assert second == {"id": 2, "day": None, "at": None, "ts": None, "amount": None, "tags": None}


def test_parquet_directory_in_name_order_split_by_max_rows(tmp_path):
    folder = tmp_path / "pq"
    folder.mkdir()
    pq.write_table(
        pa.table({"id": pa.array([3, 4, 5], pa.int64()), "name": ["c", "d", "e"]}),
        folder / "b.parquet",
    )
    pq.write_table(pa.table({"name": ["a", "b"], "id": [1, 2]}), folder / "a.parquet")
    pq.write_table(pa.table({"id": [99], "name": ["hidden"]}), folder / ".tmp.parquet")
    (folder / "notes.csv").write_text("id,name\n98,other\n")
    columns = (Column("id", "INTEGER"), Column("name", "VARCHAR"))
    reader = file_source(tmp_path, "pq/", "parquet", columns)
    first = reader.poll(4)
    assert first.schema == source(columns).arrow_schema()
    assert [r["id"] for r in rows(first)] == [1, 2, 3, 4]
    assert [r["id"] for r in drain(reader)] == [5]
    (folder / "a.parquet").rename(folder / "c.parquet")  # a file is read once, whatever its name
    assert reader.poll(10) is None and reader.errors == []
    pq.write_table(pa.table({"id": [6, 7, 8], "name": ["f", "g", "h"]}), folder / "a.parquet")
    assert [r["id"] for r in drain(reader)] == [6, 7, 8]  # a new file under an old name
    assert reader.errors == []


def test_parquet_file_not_readable_yet_is_retried(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "p.parquet").write_bytes(b"PAR1 still being written")
    columns = (Column("id", "INTEGER"),)
    reader = file_source(tmp_path, "d/", "parquet", columns)
    assert reader.poll(10) is None
    assert len(reader.errors) == 1 and reader.errors[0].startswith("d/p.parquet: cannot read")
    pq.write_table(pa.table({"id": [1, 2]}), tmp_path / "d" / "p.parquet")
    assert [r["id"] for r in drain(reader)] == [1, 2]


# -- file source: following files ---------------------------------------------------------------


def test_appended_lines_are_taken_only_once_complete(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": 1}\n{"id": 2')
    reader = file_source(tmp_path, "a.jsonl", "jsonl", (Column("id", "INTEGER"),))
    assert rows(reader.poll(10)) == [{"id": 1}]
    assert reader.poll(10) is None  # the half line waits for its newline
    with path.open("a") as f:
        f.write('2}\n{"id": 3}\n')
    assert rows(reader.poll(10)) == [{"id": 22}, {"id": 3}]


def test_new_files_in_a_directory_are_picked_up_and_others_ignored(tmp_path):
    reader = file_source(tmp_path, "in/", "csv")
    assert reader.poll(10) is None  # the directory does not exist yet: nothing yet
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "2.csv").write_text("id\n2\n")
    (tmp_path / "in" / "_SUCCESS").write_text("")
    (tmp_path / "in" / "x.jsonl").write_text('{"id": 9}\n')
    (tmp_path / "in" / ".1.csv.swp").write_text("id\n8\n")
    columns = (Column("id", "INTEGER"),)
    reader = file_source(tmp_path, "in/", "csv", columns)
    assert [r["id"] for r in drain(reader)] == [2]
    (tmp_path / "in" / "1.csv").write_text("id\n1\n")
    (tmp_path / "in" / "3.csv").write_text("id\n3\n")
    assert [r["id"] for r in drain(reader)] == [1, 3]


def test_max_rows_spans_files_and_is_never_exceeded(tmp_path):
    (tmp_path / "d").mkdir()
    for i in range(3):
        (tmp_path / "d" / f"{i}.csv").write_text("id\n" + "".join(f"{i}{j}\n" for j in range(4)))
    reader = file_source(tmp_path, "d/", "csv", (Column("id", "INTEGER"),))
    sizes = []
    while (table := reader.poll(5)) is not None:
        sizes.append(table.num_rows)
    assert sizes == [5, 5, 2]


def test_missing_single_file_is_an_error_naming_the_path(tmp_path):
    with pytest.raises(ConnectorError, match=r"nope\.csv' does not exist"):
        file_source(tmp_path, "data/nope.csv", "csv").poll(10)


def test_snapshot_and_restore_resume_without_duplicates_or_loss(tmp_path):
    (tmp_path / "d").mkdir()
    for name in ("a", "b"):
        lines = "".join(f'{{"id": {i}, "name": "{name}"}}\n' for i in range(7))
        (tmp_path / "d" / f"{name}.jsonl").write_text(lines)
    columns = (Column("id", "INTEGER"), Column("name", "VARCHAR"))
    reader = file_source(tmp_path, "d/", "jsonl", columns)
    before = rows(reader.poll(4)) + rows(reader.poll(5))
    state = json.loads(json.dumps(reader.snapshot()))
    reader.poll(100)  # read past the snapshot: the restored reader must not skip these
    resumed = file_source(tmp_path, "d/", "jsonl", columns)
    resumed.restore(state)
    after = drain(resumed, 3)
    assert [(r["name"], r["id"]) for r in before + after] == [
        (n, i) for n in "ab" for i in range(7)
    ]


def test_csv_snapshot_keeps_the_header_across_restore(tmp_path):
    (tmp_path / "a.csv").write_text("name,id\nx,1\ny,2\n")
    columns = (Column("id", "INTEGER"), Column("name", "VARCHAR"))
    reader = file_source(tmp_path, "a.csv", "csv", columns)
    reader.poll(1)
    resumed = file_source(tmp_path, "a.csv", "csv", columns)
    resumed.restore(reader.snapshot())
    assert drain(resumed) == [{"id": 2, "name": "y"}]


# -- file source: bad records ---------------------------------------------------------------------


def test_bad_csv_lines_are_skipped_and_reported_with_file_and_line(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.csv").write_text(
        "id,ts,amount,name\n1,,1,a\nnot-a-number,,2,b\n3,,3,c\n4,,4\n5,2026-13-45 99:00:00,5,e\n"
        "6,,6,f\n"
    )
    reader = file_source(tmp_path, "d/", "csv")
    assert [r["id"] for r in drain(reader)] == [1, 3, 6]
    assert [e.split(": ")[0] for e in reader.errors] == ["d/a.csv:3", "d/a.csv:5", "d/a.csv:6"]
    assert "not-a-number" in reader.errors[0] and "columns" in reader.errors[1]


def test_broken_json_lines_are_skipped_and_reported(tmp_path):
    (tmp_path / "e.jsonl").write_text('{"id": 1}\n{"id": 2,\n\n{"id": "x"}\n[1]\n{"id": 5}\n')
    reader = file_source(tmp_path, "e.jsonl", "jsonl", (Column("id", "INTEGER"),))
    assert [r["id"] for r in drain(reader)] == [1, 5]
    assert [e.split(": ")[0] for e in reader.errors] == ["e.jsonl:2", "e.jsonl:4", "e.jsonl:5"]


NUMBERS = (
    Column("d", "DOUBLE"),
    Column("r", "REAL"),
    Column("b", "BIGINT"),
    Column("m", "DECIMAL(10,2)"),
)


@pytest.mark.parametrize(
    ("fmt", "lines"),
    [
        (
            "csv",
            [
                "d,r,b,m",
                "1.5,2.5,3,4.25",
                "1e400,1,1,1",
                "1,1e39,1,1",
                "1,-1e400,1,1",
                "1,1,9223372036854775808,1",
                "1,1,1,123456789012.5",
                "inf,-Infinity,2,2",
            ],
        ),
        (
            "jsonl",
            [
                '{"d": 1.5, "r": 2.5, "b": 3, "m": 4.25}',
                '{"d": 1e400}',
                '{"r": 1e39}',
                '{"r": -1e300}',
                '{"b": 9223372036854775808}',
                '{"m": 123456789012.5}',
                '{"b": 2}',
            ],
        ),
    ],
)
def test_numbers_out_of_range_are_bad_records_not_infinity(tmp_path, fmt, lines):
    (tmp_path / f"n.{fmt}").write_text("\n".join(lines) + "\n")
    reader = file_source(tmp_path, f"n.{fmt}", fmt, NUMBERS)
    got = drain(reader)
    first = 2 if fmt == "csv" else 1
    assert got[0] == {"d": 1.5, "r": 2.5, "b": 3, "m": Decimal("4.25")}
    assert [r["b"] for r in got] == [3, 2]  # an infinity written as one is a value
    assert [e.split(": ")[0] for e in reader.errors] == [
        f"n.{fmt}:{line}" for line in range(first + 1, first + 6)
    ]
    assert "1e400 is out of range for type DOUBLE" in reader.errors[0] or fmt == "jsonl"
    assert "out of range for type REAL" in reader.errors[1]


# -- option errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "option 'connector' is required; one of: 'datagen', 'file'"),
        (
            {"connector": "kinesis"},
            "connector 'kinesis' is not supported; use one of: 'datagen', 'file'",
        ),
        ({"connector": "file", "path": "x"}, "option 'format' is required; one of: 'csv', 'jsonl'"),
        ({"connector": "file", "path": "x", "format": "avro"}, "format = 'avro' is not supported"),
        ({"connector": "file", "format": "csv"}, "option 'path' is required"),
        (
            {"connector": "file", "path": "x", "format": "jsonl", "header": "true"},
            "'header' does not apply here; valid options: connector, format, path",
        ),
        (
            {"connector": "file", "path": "x", "format": "csv", "header": "yes"},
            "header = 'yes' must be 'true' or 'false'",
        ),
        (
            {"connector": "file", "path": "x", "format": "csv", "delimiter": ";;"},
            "must be one character",
        ),
        (
            {"connector": "datagen", "fields.nope.kind": "random"},
            "'fields.nope.kind' names no column; columns: id, ts, amount, name",
        ),
        (
            {"connector": "datagen", "fields.id.kind": "counter"},
            "kind = 'counter' is not supported; use one of: 'random', 'sequence'",
        ),
        (
            {"connector": "datagen", "fields.id.kind": "sequence", "fields.id.start": "1"},
            "needs fields.id.start and fields.id.end",
        ),
        (
            {
                "connector": "datagen",
                "fields.id.kind": "sequence",
                "fields.id.start": "1",
                "fields.id.end": "9",
                "fields.id.min": "0",
            },
            "'min' does not apply here",
        ),
        (
            {"connector": "datagen", "fields.ts.kind": "sequence"},
            "'sequence' needs a number or text",
        ),
        (
            {
                "connector": "datagen",
                "fields.id.kind": "sequence",
                "fields.id.start": "0",
                "fields.id.end": "2147483648",
            },
            "start..end (0..2147483648) does not fit the type",
        ),
        ({"connector": "datagen", "fields.id.max": "1e99"}, "max = '1e99' is not an integer"),
        ({"connector": "datagen", "fields.id.max": "3000000000"}, "is outside"),
        ({"connector": "datagen", "fields.name.min": "1"}, "'min' does not apply here"),
        (
            {"connector": "datagen", "fields.ts.min": "yesterday"},
            "write e.g. '2026-01-01 10:00:00'",
        ),
        ({"connector": "datagen", "rows-per-second": "fast"}, "rows-per-second = 'fast' is not a"),
        ({"connector": "datagen", "rows-per-second": "5", "rows_per_second": "6"}, "given twice"),
        ({"connector": "datagen", "format": "csv"}, "'format' does not apply here"),
    ],
)
def test_bad_source_options_say_what_to_fix(tmp_path, options, message):
    with pytest.raises(ConnectorError) as error:
        open_source(Source("s", COLUMNS, options=tuple(options.items())), tmp_path)
    assert message in str(error.value)


def test_datagen_refuses_types_it_cannot_generate(tmp_path):
    with pytest.raises(ConnectorError, match="cannot generate; supported: integers"):
        open_source(
            Source("s", (Column("b", "BLOB"),), options=(("connector", "datagen"),)), tmp_path
        )
