"""The datagen source: deterministic values per row, bounds, rates and restore."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
from connector_helpers import source

from tidal.catalog.objects import Column
from tidal.engine.connectors import open_source
from tidal.engine.connectors.datagen import open_datagen

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
