"""Connectors on real files: the file source, datagen and the file sink, and their option errors."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tidal.catalog.objects import Column, Sink, Source
from tidal.engine.connectors import ConnectorError, open_sink, open_source
from tidal.engine.connectors.datagen import open_datagen

COLUMNS = (
    Column("id", "INTEGER"),
    Column("ts", "TIMESTAMP"),
    Column("amount", "DECIMAL(10,2)"),
    Column("name", "VARCHAR"),
)


def source(columns=COLUMNS, **options: str) -> Source:
    return Source("s", tuple(columns), options=tuple(options.items()))


def file_source(tmp_path, path: str, fmt: str, columns=COLUMNS, **options: str):
    return open_source(
        source(columns, connector="file", path=path, format=fmt, **options), tmp_path
    )


def rows(table: pa.Table | None) -> list[dict]:
    return [] if table is None else table.to_pylist()


def drain(reader, max_rows: int = 1000) -> list[dict]:
    out = []
    while (table := reader.poll(max_rows)) is not None:
        out += rows(table)
    return out


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


def test_csv_header_without_a_declared_column_is_an_error(tmp_path):
    (tmp_path / "a.csv").write_text("id,ts,name\n1,,x\n")
    with pytest.raises(ConnectorError, match=r"a\.csv:1: the header has no column amount"):
        file_source(tmp_path, "a.csv", "csv").poll(10)


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
    (folder / "a.parquet").write_bytes(b"rewritten")  # read once: a finished file is not reread
    assert reader.poll(10) is None and reader.errors == []


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


# -- datagen ------------------------------------------------------------------------------------

ALL_TYPES = (
    Column("i8", "TINYINT"),
    Column("u64", "UBIGINT"),
    Column("i64", "BIGINT"),
    Column("f", "FLOAT"),
    Column("d", "DOUBLE"),
    Column("m", "DECIMAL(12,3)"),
    Column("s", "VARCHAR"),
    Column("b", "BOOLEAN"),
    Column("day", "DATE"),
    Column("ts", "TIMESTAMP_NS"),
    Column("tz", "TIMESTAMP WITH TIME ZONE"),
)


def datagen(columns=ALL_TYPES, clock=None, **options: str):
    src = source(columns, connector="datagen", **options)
    return open_datagen(src, clock=clock) if clock else open_source(src, ".")


def test_datagen_is_identical_whatever_the_poll_sizes(tmp_path):
    options = {"number-of-rows": "2000", "fields.s.null-rate": "0.2", "seed": "42"}
    small, large = datagen(**options), datagen(**options)
    by_7 = [small.poll(7, drain=True) for _ in range(286)]
    assert small.poll(7, drain=True) is None
    by_1000 = [large.poll(1000, drain=True), large.poll(1000, drain=True)]
    assert pa.concat_tables(by_7).equals(pa.concat_tables(by_1000))
    assert pa.concat_tables(by_7).schema == source(ALL_TYPES).arrow_schema()
    other_seed = datagen(**{**options, "seed": "43"}).poll(1000, drain=True)
    assert not other_seed.equals(by_1000[0])


def test_datagen_sequence_is_bounded_by_its_end():
    reader = datagen(
        (Column("id", "BIGINT"), Column("label", "VARCHAR"), Column("price", "DECIMAL(6,2)")),
        **{
            "fields.id.kind": "sequence",
            "fields.id.start": "5",
            "fields.id.end": "14",
            "fields.label.kind": "sequence",
            "fields.label.start": "0",
            "fields.label.end": "100",
            "fields.price.kind": "sequence",
            "fields.price.start": "-2",
            "fields.price.end": "9999",
        },
    )
    assert reader.bounded
    table = reader.poll(100, drain=True)
    assert table.column("id").to_pylist() == list(range(5, 15))
    assert table.column("label").to_pylist() == [str(i) for i in range(10)]
    assert table.column("price").to_pylist() == [Decimal(i) for i in range(-2, 8)]
    assert reader.poll(100, drain=True) is None


def test_datagen_number_of_rows_bounds_the_source():
    reader = datagen((Column("id", "INTEGER"),), **{"number-of-rows": "25"})
    assert [t.num_rows for t in iter(lambda: reader.poll(10, drain=True), None)] == [10, 10, 5]


def test_datagen_min_max_length_and_null_rate_are_respected():
    columns = (
        Column("n", "SMALLINT"),
        Column("x", "DOUBLE"),
        Column("m", "DECIMAL(6,2)"),
        Column("day", "DATE"),
        Column("ts", "TIMESTAMP"),
        Column("s", "VARCHAR"),
        Column("full", "TINYINT"),
    )
    table = datagen(
        columns,
        **{
            "number-of-rows": "5000",
            "fields.n.min": "-3",
            "fields.n.max": "4",
            "fields.x.min": "10",
            "fields.x.max": "11",
            "fields.m.min": "-1.50",
            "fields.m.max": "2.25",
            "fields.day.min": "2026-01-01",
            "fields.day.max": "2026-01-03",
            "fields.ts.min": "2026-01-01 10:00:00",
            "fields.ts.max": "2026-01-01 10:00:01",
            "fields.s.length": "4",
            "fields.s.null-rate": "0.25",
        },
    ).poll(5000, drain=True)
    assert set(table.column("n").to_pylist()) == set(range(-3, 5))
    assert all(10 <= x <= 11 for x in table.column("x").to_pylist())
    amounts = table.column("m").to_pylist()
    assert min(amounts) >= Decimal("-1.50") and max(amounts) <= Decimal("2.25")
    assert len(set(amounts)) > 300  # cents are drawn too, not only whole numbers
    assert set(table.column("day").to_pylist()) == {dt.date(2026, 1, d) for d in (1, 2, 3)}
    stamps = table.column("ts").to_pylist()
    assert min(stamps) >= dt.datetime(2026, 1, 1, 10) and max(stamps) <= dt.datetime(
        2026, 1, 1, 10, 0, 1
    )
    texts = table.column("s").to_pylist()
    assert 0.2 < texts.count(None) / len(texts) < 0.3
    assert {len(t) for t in texts if t is not None} == {4}
    assert all(t.isalnum() for t in texts if t is not None)
    full = table.column("full").to_pylist()
    assert min(full) == -128 and max(full) == 127 and table.column("n").null_count == 0


def test_datagen_rate_limit_counts_rows_due_since_the_first_poll():
    now = [100.0]
    reader = datagen((Column("id", "INTEGER"),), clock=lambda: now[0], **{"rows-per-second": "100"})
    assert not reader.bounded
    assert reader.poll(1000) is None  # nothing is due at the first poll
    now[0] = 100.5
    assert reader.poll(1000).num_rows == 50
    assert reader.poll(1000) is None
    now[0] = 102.0
    assert reader.poll(60).num_rows == 60  # capped by max_rows
    assert reader.poll(1000, drain=True).num_rows == 90  # unbounded: drain keeps the rate
    assert reader.snapshot() == {"rows": 200}


def test_bounded_datagen_drains_without_waiting_for_the_rate():
    now = [0.0]
    reader = datagen(
        (Column("id", "INTEGER"),),
        clock=lambda: now[0],
        **{"rows_per_second": "1", "number-of-rows": "500"},
    )
    assert reader.poll(10) is None
    assert reader.poll(1000, drain=True).num_rows == 500


def test_datagen_restore_continues_with_the_same_rows():
    options = {"number-of-rows": "600", "seed": "7"}
    whole = datagen(**options).poll(600, drain=True)
    reader = datagen(**options)
    reader.poll(250, drain=True)
    resumed = datagen(**options)
    resumed.restore(json.loads(json.dumps(reader.snapshot())))
    assert resumed.poll(1000, drain=True).equals(whole.slice(250))


# -- file sink ----------------------------------------------------------------------------------

SINK_SCHEMA = pa.schema(
    [
        ("id", pa.int32()),
        ("ts", pa.timestamp("us")),
        ("amount", pa.decimal128(10, 2)),
        ("name", pa.string()),
    ]
)


def changes(*rows: tuple) -> pa.Table:
    """A delta of (id, ts, amount, name, weight) tuples."""
    schema = SINK_SCHEMA.append(pa.field("__weight", pa.int64()))
    columns = list(zip(*rows)) or [[]] * len(schema)
    return pa.Table.from_arrays(
        [pa.array(list(c), f.type) for c, f in zip(columns, schema)], schema=schema
    )


TS = dt.datetime(2026, 1, 1, 10)
TICK_1 = changes((1, TS, Decimal("10.50"), 'say "hi"\n\\', 1), (2, None, None, None, 1))
TICK_2 = changes(
    (1, TS, Decimal("10.50"), 'say "hi"\n\\', -1),
    (1, TS.replace(microsecond=250000), Decimal("11.00"), "", 1),
    (2, None, None, None, -1),
)


def sink(tmp_path, path: str, fmt: str, keys=("id",), **options: str):
    return open_sink(
        Sink(
            "out", "v", (("connector", "file"), ("path", path), ("format", fmt), *options.items())
        ),
        SINK_SCHEMA,
        list(keys),
        tmp_path,
    )


def test_jsonl_sink_writes_changelog_rows(tmp_path):
    writer = sink(tmp_path, "out/v.jsonl", "jsonl")
    writer.write(TICK_1, 1)
    writer.write(TICK_2, 2)
    writer.close()
    lines = [json.loads(line) for line in (tmp_path / "out/v.jsonl").read_text().splitlines()]
    assert [list(line) for line in lines] == [["op", "id", "ts", "amount", "name"]] * 5
    assert [(r["op"], r["id"]) for r in lines] == [
        ("+I", 1),
        ("+I", 2),
        ("-U", 1),
        ("+U", 1),
        ("-D", 2),
    ]
    assert lines[0] == {
        "op": "+I",
        "id": 1,
        "ts": "2026-01-01 10:00:00",
        "amount": 10.5,
        "name": 'say "hi"\n\\',
    }
    assert lines[3]["ts"] == "2026-01-01 10:00:00.25" and lines[3]["name"] == ""
    assert lines[4] == {"op": "-D", "id": 2, "ts": None, "amount": None, "name": None}
    assert '"amount":10.50' in (tmp_path / "out/v.jsonl").read_text()  # exact decimal text


def test_csv_sink_writes_one_header_and_reads_back_with_the_file_source(tmp_path):
    for tick, delta in ((1, TICK_1), (2, TICK_2)):  # reopened: the header is not repeated
        writer = sink(tmp_path, "v.csv", "csv")
        writer.write(delta, tick)
        writer.close()
    text = (tmp_path / "v.csv").read_text()
    assert text.startswith("op,id,ts,amount,name\n+I,1,2026-01-01 10:00:00,10.50,")
    assert text.count("op,id") == 1
    records = list(csv.reader((tmp_path / "v.csv").open(newline="")))
    assert [r[0] for r in records] == ["op", "+I", "+I", "-U", "+U", "-D"]
    assert records[4][4] == "" and ',"",' not in text.splitlines()[2]  # "" vs NULL
    assert '+U,1,2026-01-01 10:00:00.25,11.00,""' in text


def test_parquet_sink_adds_one_file_per_tick(tmp_path):
    writer = sink(tmp_path, "pq", "parquet")
    writer.write(TICK_1, 1)
    writer.write(changes(), 2)  # an empty delta writes nothing
    writer.write(TICK_2, 3)
    assert sorted(p.name for p in (tmp_path / "pq").iterdir()) == [
        "part-0000000001.parquet",
        "part-0000000003.parquet",
    ]
    part = pq.read_table(tmp_path / "pq" / "part-0000000003.parquet")
    assert part.schema.names == ["op", "id", "ts", "amount", "name"]
    assert part.schema.field("amount").type == pa.decimal128(10, 2)
    assert part.column("op").to_pylist() == ["-U", "+U", "-D"]


def test_upsert_mode_writes_upserts_and_deletes_by_key(tmp_path):
    writer = sink(tmp_path, "u.jsonl", "jsonl", mode="upsert")
    writer.write(TICK_1, 1)
    writer.write(TICK_2, 2)
    lines = [json.loads(line) for line in (tmp_path / "u.jsonl").read_text().splitlines()]
    assert [(r["op"], r["id"], r["amount"]) for r in lines] == [
        ("upsert", 1, 10.5),
        ("upsert", 2, None),
        ("upsert", 1, 11.0),
        ("delete", 2, None),
    ]


def test_sink_restore_drops_what_was_written_after_the_snapshot(tmp_path):
    for fmt, path in (("jsonl", "r.jsonl"), ("parquet", "r")):
        writer = sink(tmp_path, path, fmt)
        writer.write(TICK_1, 1)
        state = json.loads(json.dumps(writer.snapshot()))
        writer.write(TICK_2, 2)
        writer.restore(state)
        writer.write(TICK_2, 2)
        writer.close()
        if fmt == "jsonl":
            ops = [json.loads(x)["op"] for x in (tmp_path / path).read_text().splitlines()]
        else:
            ops = pq.read_table(tmp_path / path).column("op").to_pylist()
        assert ops == ["+I", "+I", "-U", "+U", "-D"], fmt


# -- option errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "option 'connector' is required; one of: 'datagen', 'file'"),
        (
            {"connector": "kafka"},
            "connector 'kafka' is not supported; use one of: 'datagen', 'file'",
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


@pytest.mark.parametrize(
    ("options", "keys", "message"),
    [
        ({"format": "jsonl", "mode": "upsert"}, [], "has none; use mode 'changelog'"),
        ({"format": "jsonl", "mode": "merge"}, ["id"], "use one of: 'changelog', 'upsert'"),
        ({"format": "xml"}, ["id"], "use one of: 'jsonl', 'json', 'csv', 'parquet'"),
        ({"format": "parquet", "delimiter": ";"}, ["id"], "'delimiter' does not apply here"),
    ],
)
def test_bad_sink_options_say_what_to_fix(tmp_path, options, keys, message):
    options = {"connector": "file", "path": "o", **options}
    with pytest.raises(ConnectorError) as error:
        open_sink(Sink("o", "v", tuple(options.items())), SINK_SCHEMA, keys, tmp_path)
    assert message in str(error.value)


def test_sink_refuses_a_view_column_named_op(tmp_path):
    schema = pa.schema([("op", pa.string())])
    with pytest.raises(ConnectorError, match="rename that column"):
        open_sink(
            Sink("o", "v", (("connector", "file"), ("path", "o.jsonl"), ("format", "jsonl"))),
            schema,
            [],
            tmp_path,
        )
