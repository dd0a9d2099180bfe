"""The Kafka source against a real broker (Tansu): formats, positions, replay, upserts, bad
messages, options."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from tests.connectors.kafka_broker import Kafka, KafkaBroker
from tidal.catalog.objects import Column, Source, Table
from tidal.engine.connectors import ConnectorError, kafka_common, open_source
from tidal.engine.connectors.base import DELETE_ROW, OP, UPSERT, UPSERT_ROW
from tidal.engine.database import Database
from tidal.sql.errors import SqlError

pytest.importorskip("confluent_kafka")

COLUMNS = (
    Column("id", "INTEGER"),
    Column("ts", "TIMESTAMP"),
    Column("amount", "DECIMAL(10,2)"),
    Column("name", "VARCHAR"),
)


def reader_of(kafka, topic, columns=COLUMNS, fmt="json", **options):
    options = {
        "connector": "kafka",
        "topic": topic,
        "properties.bootstrap.server": kafka.bootstrap,
        "format": fmt,
        **options,
    }
    reader = open_source(Source("s", tuple(columns), options=tuple(options.items())), ".")
    reader.validate()  # as CREATE SOURCE does
    return reader


def read(reader, count: int, timeout: float = 15.0) -> list[dict]:
    """Poll until ``count`` rows came (or fail after ``timeout``), then check nothing more."""
    rows, deadline = [], time.monotonic() + timeout
    while len(rows) < count:
        assert time.monotonic() < deadline, f"got {len(rows)} rows of {count}: {rows}"
        table = reader.poll(1000)
        if table is None:
            time.sleep(0.02)
        else:
            assert table.schema.names[: len(reader.schema)] == reader.schema.names
            rows += table.to_pylist()
    time.sleep(0.3)
    extra = reader.poll(1000)
    assert extra is None, extra.to_pylist()
    return rows


def event(i: int) -> str:
    return json.dumps(
        {"id": i, "ts": f"2026-01-01 10:00:{i:02d}", "amount": i * 1.5, "name": f"n{i}"}
    )


def test_json_messages_of_every_partition_are_read_with_their_types(kafka):
    topic = kafka.topic(partitions=3)
    for p in range(3):
        kafka.produce(topic, [event(i) for i in range(p * 10, p * 10 + 5)], partition=p)
    reader = reader_of(kafka, topic)
    rows = read(reader, 15)
    assert sorted(r["id"] for r in rows) == [i + 10 * p for p in range(3) for i in range(5)]
    assert rows[0] == {
        "id": 0,
        "ts": dt.datetime(2026, 1, 1, 10, 0, 0),
        "amount": Decimal("0.00"),
        "name": "n0",
    }
    # partition by partition, each in offset order, as replay gives them
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert reader.snapshot()["offsets"] == {"0": 5, "1": 5, "2": 5}
    assert reader.errors == [] and reader.bounded is False
    reader.close()


def test_csv_messages_go_by_position(kafka):
    topic = kafka.topic()
    kafka.produce(topic, ['1,2026-01-01 10:00:00,2.5,"a, b"', "2,,,\r\n", '3,,1,""', "4,\n5,,"])
    reader = reader_of(kafka, topic, fmt="csv")
    rows = read(reader, 3)
    assert rows == [
        {"id": 1, "ts": dt.datetime(2026, 1, 1, 10), "amount": Decimal("2.50"), "name": "a, b"},
        {"id": 2, "ts": None, "amount": None, "name": None},
        {"id": 3, "ts": None, "amount": Decimal("1.00"), "name": ""},
    ]
    assert [e.split(": ")[0] for e in reader.errors] == [f"{topic}/0@3"]
    assert "one record on one line" in reader.errors[0]


def test_bad_messages_are_reported_by_offset_and_the_others_come_through(kafka):
    topic = kafka.topic()
    values = [event(0), "not json", event(2), '{"id": "x"}', None, event(5), "{}{}", "   "]
    values += [json.dumps({"id": 8, "amount": 1e30}), '{\n"id": 9\n}']
    kafka.produce(topic, values)
    reader = reader_of(kafka, topic)
    assert [r["id"] for r in read(reader, 4)] == [0, 2, 5, 9]
    where = [e.split(":")[0] for e in reader.errors]
    assert where == [f"{topic}/0@{o}" for o in (4, 7, 1, 3, 6, 8)]  # empty ones first
    assert "no value" in reader.errors[0]
    assert reader.snapshot()["offsets"] == {"0": 10}


def test_restore_resumes_after_the_snapshot_without_gaps_or_repeats(kafka):
    topic = kafka.topic(partitions=2)
    kafka.produce(topic, [event(i) for i in range(3)], partition=0)
    kafka.produce(topic, [event(i) for i in range(10, 12)], partition=1)
    reader = reader_of(kafka, topic)
    first = read(reader, 5)
    saved = reader.snapshot()
    kafka.produce(topic, [event(3)], partition=0)
    assert [r["id"] for r in read(reader, 1)] == [3]
    reader.close()
    kafka.produce(topic, [event(12)], partition=1)
    again = reader_of(kafka, topic)
    again.restore(saved)
    assert sorted(r["id"] for r in read(again, 2)) == [3, 12]
    assert len(first) == 5


def test_replay_reads_exactly_the_logged_range_again(kafka):
    topic = kafka.topic(partitions=2)
    kafka.produce(topic, [event(i) for i in range(4)], partition=0)
    kafka.produce(topic, [event(i) for i in range(10, 13)], partition=1)
    reader = reader_of(kafka, topic)
    start = reader.snapshot()
    polled = read(reader, 7)
    logged = reader.snapshot()
    kafka.produce(topic, [event(4)], partition=0)  # after the logged position: not replayed
    again = reader_of(kafka, topic)
    again.restore(start)
    assert again.replay(logged).to_pylist() == polled
    assert again.snapshot() == logged
    assert [r["id"] for r in read(again, 1)] == [4]
    assert again.replay(again.snapshot()) is None
    with pytest.raises(ConnectorError, match="already at offset"):
        again.replay(logged)


def test_latest_starts_at_the_end_of_each_partition(kafka):
    topic = kafka.topic(partitions=2)
    kafka.produce(topic, [event(i) for i in range(5)], partition=0)
    reader = reader_of(kafka, topic, **{"scan.startup.mode": "latest"})
    assert reader.snapshot()["offsets"] == {"0": 5, "1": 0}
    kafka.produce(topic, [event(7)], partition=1)
    kafka.produce(topic, [event(5)], partition=0)
    assert sorted(r["id"] for r in read(reader, 2)) == [5, 7]


def test_a_checkpoint_taken_before_latest_was_resolved_replays_from_where_reading_started(kafka):
    topic = kafka.topic()
    kafka.produce(topic, [event(i) for i in range(3)])
    checkpoint = {"offsets": {}}  # taken while the brokers were away: nothing resolved yet
    reader = reader_of(kafka, topic, **{"scan.startup.mode": "latest"})
    assert reader.snapshot() == {"offsets": {"0": 3}, "started": {"0": 3}}
    kafka.produce(topic, [event(3), event(4)])
    polled = read(reader, 2)
    logged = reader.snapshot()
    kafka.produce(topic, [event(5)])  # 'latest' now would start after it
    again = reader_of(kafka, topic, **{"scan.startup.mode": "latest"})
    again.restore(checkpoint)
    assert again.replay(logged).to_pylist() == polled
    assert [r["id"] for r in read(again, 1)] == [5]


def test_the_partitions_option_reads_only_those(kafka):
    topic = kafka.topic(partitions=3)
    for p in range(3):
        kafka.produce(topic, [event(p)], partition=p)
    reader = reader_of(kafka, topic, partitions="0,2")
    assert sorted(r["id"] for r in read(reader, 2)) == [0, 2]
    with pytest.raises(ConnectorError, match="has no partition 5"):
        reader_of(kafka, topic, partitions="0,5")


def upsert_reader(kafka, topic, key=("id",)):
    options = {
        "connector": "kafka",
        "topic": topic,
        "properties.bootstrap.server": kafka.bootstrap,
        "format": "upsert-json",
    }
    columns = tuple(Column(c.name, c.type, c.name not in key) for c in COLUMNS)
    table = Table("t", columns, options=tuple(options.items()), primary_key=key)
    reader = open_source(table, ".")
    reader.validate()
    return reader


def test_upsert_messages_carry_an_op_and_a_tombstone_deletes(kafka):
    topic = kafka.topic()
    kafka.produce(
        topic,
        [json.dumps({"amount": 1, "name": "a"}), json.dumps({"amount": 2}), None, "bad", "{}"],
        keys=['{"id": 1}', "2", "1", "3", None],
    )
    reader = upsert_reader(kafka, topic)
    assert reader.changes == UPSERT
    rows = read(reader, 3)
    assert [(r["id"], r["amount"], r["name"], r[OP]) for r in rows] == [
        (1, Decimal("1.00"), "a", UPSERT_ROW),
        (2, Decimal("2.00"), None, UPSERT_ROW),
        (1, None, None, DELETE_ROW),
    ]
    assert [e.split(": ")[0] for e in reader.errors] == [f"{topic}/0@4", f"{topic}/0@3"]
    assert "no key" in reader.errors[0] and "value" in reader.errors[1]


def test_upsert_keys_of_several_columns_are_json_objects(kafka):
    topic = kafka.topic()
    kafka.produce(
        topic,
        [json.dumps({"amount": 5}), json.dumps({"amount": 6})],
        keys=['{"id": 1, "name": "x"}', "1"],
    )
    reader = upsert_reader(kafka, topic, key=("id", "name"))
    rows = read(reader, 1)
    assert [(r["id"], r["name"], r["amount"]) for r in rows] == [(1, "x", Decimal("5.00"))]
    assert "must be a JSON object with id, name" in reader.errors[0]


def test_option_mistakes_are_clear_errors(kafka):
    topic = kafka.topic()
    with pytest.raises(ConnectorError, match="option 'topic' is required"):
        reader_of(kafka, None)
    with pytest.raises(ConnectorError, match="brokers have no topic 'nope'"):
        reader_of(kafka, "nope")
    with pytest.raises(ConnectorError, match="format = 'avro' is not supported"):
        reader_of(kafka, topic, fmt="avro")
    with pytest.raises(ConnectorError, match="scan.startup.mode = 'middle'"):
        reader_of(kafka, topic, **{"scan.startup.mode": "middle"})
    with pytest.raises(ConnectorError, match="'delimiter' does not apply"):
        reader_of(kafka, topic, delimiter=";")
    with pytest.raises(ConnectorError, match="needs a table with a key"):
        reader_of(kafka, topic, fmt="upsert-json")
    with pytest.raises(ConnectorError, match="No such configuration property"):
        reader_of(kafka, topic, **{"properties.no.such.thing": "1"})
    with pytest.raises(ConnectorError, match="properties.bootstrap.server' is required"):
        open_source(
            Source(
                "s", COLUMNS, options=(("connector", "kafka"), ("topic", topic), ("format", "json"))
            ),
            ".",
        )


# -- through the engine ------------------------------------------------------------------------


def create_source(db, kafka, topic, fmt="FORMAT PLAIN ENCODE JSON", options=""):
    db.execute(
        f"CREATE SOURCE events (id INTEGER, ts TIMESTAMP, amount DECIMAL(10,2), name VARCHAR) "
        f"WITH (connector = 'kafka', topic = '{topic}', "
        f"'properties.bootstrap.server' = '{kafka.bootstrap}'{options}) {fmt}"
    )


def wait_for(db, name: str, expected: list[dict], key, timeout: float = 20.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        db.tick()
        rows = sorted(db.read(name).to_pylist(), key=key)
        if rows == expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


SUMS = "SELECT name, count(*) AS n, sum(amount) AS total FROM events GROUP BY name"


def expected_sums(values: list[str]) -> list[dict]:
    """The view over the produced messages, as DuckDB computes it."""
    events = pa.Table.from_pylist([json.loads(v) for v in values])  # noqa: F841 (DuckDB reads it)
    query = SUMS.replace("sum(amount)", "sum(amount::DECIMAL(10,2))")
    return sorted(duckdb.sql(query).to_arrow_table().to_pylist(), key=lambda r: r["name"])


def test_a_view_over_json_messages_equals_duckdb_over_them(kafka):
    topic = kafka.topic(partitions=2)
    values = [
        json.dumps({"id": i, "ts": "2026-01-01 10:00:00", "amount": i * 0.25, "name": f"u{i % 3}"})
        for i in range(40)
    ]
    kafka.produce(topic, values[:20], partition=0)
    kafka.produce(topic, values[20:], partition=1)
    db = Database()
    create_source(db, kafka, topic)
    db.execute(f"CREATE MATERIALIZED VIEW sums AS {SUMS}")
    expected = expected_sums(values)
    assert wait_for(db, "sums", expected, key=lambda r: r["name"]) == expected
    db.close()


def test_a_view_over_csv_messages(kafka):
    topic = kafka.topic()
    kafka.produce(topic, ["1,,1.5,a", "2,,2.5,a", "3,,4,b", "oops,,,", "4,,1,b"])
    db = Database()
    create_source(db, kafka, topic, fmt="FORMAT PLAIN ENCODE CSV")
    db.execute(f"CREATE MATERIALIZED VIEW sums AS {SUMS}")
    expected = [
        {"name": "a", "n": 2, "total": Decimal("4.00")},
        {"name": "b", "n": 2, "total": Decimal("5.00")},
    ]
    assert wait_for(db, "sums", expected, key=lambda r: r["name"]) == expected
    assert [e.split(": ")[1] for e in db.take_source_errors()] == [f"{topic}/0@3"]
    db.close()


def test_a_restart_on_the_data_directory_resumes_without_gaps_or_repeats(kafka, tmp_path):
    topic = kafka.topic(partitions=2)
    first = [event(i) for i in range(10)]
    kafka.produce(topic, first[:5], partition=0)
    kafka.produce(topic, first[5:], partition=1)
    db = Database(tmp_path / "data")
    create_source(db, kafka, topic)
    db.execute("CREATE MATERIALIZED VIEW ids AS SELECT id, count(*) AS n FROM events GROUP BY id")
    expected = [{"id": i, "n": 1} for i in range(10)]
    assert wait_for(db, "ids", expected, key=lambda r: r["id"]) == expected
    db.close()
    kafka.produce(topic, [event(10), event(11)], partition=1)  # while tidal is down
    db = Database(tmp_path / "data")
    expected += [{"id": 10, "n": 1}, {"id": 11, "n": 1}]
    assert wait_for(db, "ids", expected, key=lambda r: r["id"]) == expected
    db.close()


def test_a_table_fed_by_upsert_messages_keeps_the_last_row_per_key(kafka):
    topic = kafka.topic(partitions=2)
    kafka.produce(
        topic,
        [json.dumps({"amount": 1, "name": "a"}), json.dumps({"amount": 2, "name": "b"}), None],
        keys=["1", "2", "1"],
        partition=0,
    )
    kafka.produce(
        topic,
        [json.dumps({"amount": 3, "name": "c"}), json.dumps({"amount": 4, "name": "d"})],
        keys=['{"id": 3}', '{"id": 3}'],
        partition=1,
    )
    db = Database()
    db.execute(
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, amount DECIMAL(10,2), name VARCHAR) "
        f"WITH (connector = 'kafka', topic = '{topic}', "
        f"'properties.bootstrap.server' = '{kafka.bootstrap}') FORMAT UPSERT ENCODE JSON"
    )
    db.execute("CREATE MATERIALIZED VIEW total AS SELECT sum(amount) AS total FROM accounts")
    expected = [
        {"id": 2, "amount": Decimal("2.00"), "name": "b"},
        {"id": 3, "amount": Decimal("4.00"), "name": "d"},
    ]
    assert wait_for(db, "accounts", expected, key=lambda r: r["id"]) == expected
    assert db.read("total").to_pylist() == [{"total": Decimal("6.00")}]
    kafka.produce(topic, [None], keys=["3"], partition=1)
    expected = expected[:1]
    assert wait_for(db, "accounts", expected, key=lambda r: r["id"]) == expected
    db.close()


# -- watermarks per partition --------------------------------------------------------------------


def at(second: int) -> str:
    return json.dumps({"id": second, "ts": f"2026-01-01 10:00:{second:02d}"})


def micros_at(second: int) -> int:
    return int(dt.datetime(2026, 1, 1, 10, 0, second, tzinfo=dt.UTC).timestamp() * 1_000_000)


def test_the_watermark_is_the_slowest_partitions_and_skips_idle_ones(kafka):
    topic = kafka.topic(partitions=2)
    clock = [1000.0]
    db = Database(clock=lambda: clock[0])
    db.execute(
        "CREATE SOURCE events (id INTEGER, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' "
        f"SECOND) WITH (connector = 'kafka', topic = '{topic}', format = 'json', "
        f"'properties.bootstrap.server' = '{kafka.bootstrap}', watermark_idle_timeout = '5 s')"
    )
    event_time = db.watermarks.relations["events"]

    def watermark_after(ticks: int = 20) -> int | None:
        for _ in range(ticks):
            db.tick()
            time.sleep(0.02)
        return event_time.watermark

    kafka.produce(topic, [at(10)], partition=0)
    assert watermark_after() is None  # partition 1 has said nothing yet, and is not idle
    kafka.produce(topic, [at(3)], partition=1)
    assert watermark_after() == micros_at(3) - 1_000_000
    kafka.produce(topic, [at(20)], partition=0)
    assert watermark_after() == micros_at(3) - 1_000_000  # partition 1 lags: it holds back
    clock[0] += 6  # partition 1 idle for longer than 5 s; partition 0 speaks again
    kafka.produce(topic, [at(21)], partition=0)
    assert watermark_after() == micros_at(21) - 1_000_000
    kafka.produce(topic, [at(4)], partition=1)  # back: late rows, and it holds back again
    clock[0] += 1
    kafka.produce(topic, [at(22)], partition=0)
    assert watermark_after() == micros_at(21) - 1_000_000
    assert event_time.late_rows == 1
    db.close()


def test_brokers_going_away_are_reported_once_not_at_every_poll():
    broker = KafkaBroker()
    try:
        kafka = Kafka(broker.bootstrap)
        topic = kafka.topic()
        kafka.produce(topic, [event(1)])
        reader = reader_of(kafka, topic)
        assert [r["id"] for r in read(reader, 1)] == [1]
    finally:
        broker.stop()
    for _ in range(40):
        assert reader.poll(100) is None
        time.sleep(0.05)
    assert 1 <= len(reader.errors) <= 2, reader.errors  # each kind once: down, refused
    assert all("Connection refused" in e or "brokers are down" in e for e in reader.errors)
    assert reader.snapshot()["offsets"] == {"0": 1}
    reader.close()


CRASHING_READER = """
import os, sys, time
from tidal.engine.database import Database
from tidal.sql.errors import SqlError
db = Database(sys.argv[1], checkpoint_interval=3600)
db.execute(sys.argv[2])
db.execute("CREATE MATERIALIZED VIEW ids AS SELECT id, count(*) AS n FROM events GROUP BY id")
deadline = time.monotonic() + 20
while db.read("ids").num_rows < 6 and time.monotonic() < deadline:
    db.tick()
    time.sleep(0.02)
os._exit(0 if db.read("ids").num_rows == 6 else 1)  # as kill -9: no checkpoint, nothing closed
"""


def test_recovery_after_a_crash_reads_the_logged_ticks_again_from_kafka(kafka, tmp_path):
    topic = kafka.topic(partitions=2)
    kafka.produce(topic, [event(i) for i in range(3)], partition=0)
    kafka.produce(topic, [event(i) for i in range(3, 6)], partition=1)
    create = (
        "CREATE SOURCE events (id INTEGER, ts TIMESTAMP, amount DECIMAL(10,2), name VARCHAR) "
        f"WITH (connector = 'kafka', topic = '{topic}', format = 'json', "
        f"'properties.bootstrap.server' = '{kafka.bootstrap}')"
    )
    data = tmp_path / "data"
    subprocess.run(
        [sys.executable, "-c", CRASHING_READER, str(data), create], check=True, timeout=60
    )
    kafka.produce(topic, [event(6)], partition=0)  # while tidal is down
    db = Database(data)  # recovery: the logged ticks' messages are read again by offset
    expected = [{"id": i, "n": 1} for i in range(7)]
    assert wait_for(db, "ids", expected, key=lambda r: r["id"]) == expected
    db.close()


def test_format_upsert_takes_json_only_and_a_key():
    db = Database()
    with pytest.raises(SqlError, match="tidal reads FORMAT UPSERT ENCODE JSON"):
        db.execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY) WITH (connector = 'kafka', topic = 't', "
            "'properties.bootstrap.server' = '127.0.0.1:9') FORMAT UPSERT ENCODE CSV"
        )
    with pytest.raises(SqlError, match="needs a table with a key"):
        db.execute(
            "CREATE SOURCE s (id INTEGER) WITH (connector = 'kafka', topic = 't', "
            "'properties.bootstrap.server' = '127.0.0.1:9') FORMAT UPSERT ENCODE JSON"
        )


def test_a_source_whose_brokers_are_away_at_a_restart_says_so_and_waits(monkeypatch):
    """Recovery opens the reader without looking the topic up; its polls find out."""
    monkeypatch.setattr(kafka_common, "METADATA_TIMEOUT", 1.0)
    options = {
        "connector": "kafka",
        "topic": "t",
        "properties.bootstrap.server": "127.0.0.1:9",  # nothing listens there
        "format": "json",
    }
    reader = open_source(Source("s", COLUMNS, options=tuple(options.items())), ".")
    with pytest.raises(ConnectorError, match="cannot reach the Kafka brokers in 1 s"):
        reader.poll(10)
    started = time.monotonic()
    assert reader.poll(10) is None  # the next tries wait: ticks are not held up meanwhile
    assert time.monotonic() - started < 0.5
    reader.close()
