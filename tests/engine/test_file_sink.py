"""The file sink: change kinds in JSON lines, CSV and Parquet, upsert mode, restore."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tidal.catalog.objects import Sink
from tidal.engine.connectors import ConnectorError, open_sink

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
