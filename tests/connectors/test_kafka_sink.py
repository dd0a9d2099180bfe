"""The Kafka sink against a real broker (Tansu; transactions against a real Kafka only): the
messages of append-only and upsert sinks, ticks published once across restarts, options."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pyarrow as pa
import pytest

from tests.connectors.kafka_broker import Kafka, KafkaBroker
from tidal.catalog.objects import Sink
from tidal.engine.connectors import ConnectorError, kafka_sink, open_sink
from tidal.engine.database import Database

pytest.importorskip("confluent_kafka")

SCHEMA = pa.schema([("k", pa.int64()), ("v", pa.string()), ("x", pa.float64())])


def changes(rows: list[tuple]) -> pa.Table:
    """A tick's changes: (k, v, x, weight) tuples."""
    k, v, x, w = (list(c) for c in zip(*rows))
    return pa.table(
        {"k": pa.array(k, pa.int64()), "v": v, "x": pa.array(x, pa.float64()), "__weight": w}
    )


def sink_of(kafka, topic, key=("k",), name="k1", **options):
    options = {
        "connector": "kafka",
        "topic": topic,
        "properties.bootstrap.server": kafka.bootstrap,
        "type": "upsert",
        **options,
    }
    writer = open_sink(Sink(name, "v", options=tuple(options.items())), SCHEMA, list(key), ".")
    writer.validate()
    return writer


def decoded(messages) -> list[tuple]:
    return [
        (json.loads(k) if k else None, json.loads(v) if v is not None else None)
        for _, _, k, v in messages
    ]


def test_append_only_writes_one_message_per_inserted_row(kafka):
    topic = kafka.topic()
    writer = sink_of(kafka, topic, key=(), type="append-only")
    writer.write(changes([(1, "a", 1.5, 1), (2, None, float("nan"), 2)]), 1)
    assert kafka.messages(topic) == []  # staged until published
    writer.publish()
    assert decoded(kafka.messages(topic)) == [
        (None, {"k": 1, "v": "a", "x": 1.5}),
        (None, {"k": 2, "v": None, "x": "NaN"}),
        (None, {"k": 2, "v": None, "x": "NaN"}),
    ]
    with pytest.raises(ConnectorError, match="retracted rows, which an append-only sink"):
        writer.write(changes([(1, "a", 1.5, -1)]), 2)
    writer.close()


def test_upsert_writes_the_new_row_by_key_and_a_tombstone_for_a_deleted_key(kafka):
    topic = kafka.topic(partitions=2)
    writer = sink_of(kafka, topic)
    writer.write(changes([(1, "a", 1.0, 1), (2, "b", 2.0, 1)]), 1)
    writer.write(changes([(1, "a", 1.0, -1), (1, "c", 3.0, 1), (2, "b", 2.0, -1)]), 2)
    writer.publish()
    by_key: dict[int, list] = {}
    for key, value in decoded(kafka.messages(topic)):
        by_key.setdefault(key["k"], []).append(value)
    assert by_key == {
        1: [{"k": 1, "v": "a", "x": 1.0}, {"k": 1, "v": "c", "x": 3.0}],
        2: [{"k": 2, "v": "b", "x": 2.0}, None],
    }
    writer.close()


def test_a_published_tick_is_not_published_again_after_a_restore(kafka):
    topic = kafka.topic()
    writer = sink_of(kafka, topic, name="once")
    writer.write(changes([(1, "a", 1.0, 1)]), 1)
    state = writer.commit()  # a checkpoint with tick 1 staged
    writer.publish()
    writer.write(changes([(2, "b", 2.0, 1)]), 2)
    writer.publish()
    writer.close()  # a crash after tick 2 was published
    again = sink_of(kafka, topic, name="once")
    again.restore(state)  # tick 1 staged again, tick 2 replayed
    again.write(changes([(2, "b", 2.0, 1)]), 2)
    again.write(changes([(3, "c", 3.0, 1)]), 3)
    again.publish()
    assert [key["k"] for key, _ in decoded(kafka.messages(topic))] == [1, 2, 3]
    assert again.staged == []
    again.close()


def test_without_transactions_the_progress_record_still_skips_published_ticks(kafka):
    topic = kafka.topic()
    writer = sink_of(kafka, topic, name="alo", exactly_once="false")
    writer.write(changes([(1, "a", 1.0, 1)]), 1)
    state = writer.commit()
    writer.publish()
    writer.close()
    again = sink_of(kafka, topic, name="alo", exactly_once="false")
    again.restore(state)
    again.write(changes([(2, "b", 2.0, 1)]), 2)
    again.publish()
    assert [key["k"] for key, _ in decoded(kafka.messages(topic))] == [1, 2]
    progress = [
        json.loads(v) for _, _, k, v in kafka.messages("tidal_sink_progress") if k == b"alo"
    ]
    assert [p["tick"] for p in progress] == [1, 2]


def test_another_run_publishes_its_ticks_again(kafka):
    """A database without a data directory starts over: its tick 1 is another tick 1."""
    topic = kafka.topic()
    for _ in range(2):
        writer = sink_of(kafka, topic, name="runs")
        writer.write(changes([(1, "a", 1.0, 1)]), 1)
        writer.publish()
        writer.close()
    assert len(kafka.messages(topic)) == 2


def test_option_mistakes_are_clear_errors(kafka):
    topic = kafka.topic()
    with pytest.raises(ConnectorError, match="type 'upsert' needs a key"):
        sink_of(kafka, topic, key=())
    with pytest.raises(ConnectorError, match="primary_key column z is not a column"):
        sink_of(kafka, topic, primary_key="z")
    with pytest.raises(ConnectorError, match="type = 'retract' is not supported"):
        sink_of(kafka, topic, type="retract")
    with pytest.raises(ConnectorError, match="format = 'avro' is not supported"):
        sink_of(kafka, topic, format="avro")
    with pytest.raises(ConnectorError, match="FORMAT UPSERT writes type 'upsert'"):
        sink_of(kafka, topic, format="upsert-json", type="append-only")
    with pytest.raises(ConnectorError, match="option 'type' is required"):
        sink_of(kafka, topic, type=None)
    with pytest.raises(ConnectorError, match="exactly_once = 'yes' must be 'true' or 'false'"):
        sink_of(kafka, topic, exactly_once="yes")
    with pytest.raises(ConnectorError, match="brokers have no topic 'missing'"):
        sink_of(kafka, "missing")
    with pytest.raises(ConnectorError, match='No such configuration property: "no.such"'):
        sink_of(kafka, topic, **{"properties.no.such": "1"})


def test_transactions_hide_an_aborted_tick_from_read_committed_consumers(real_kafka):
    """Only against a real Kafka (TIDAL_TEST_KAFKA): Tansu returns aborted records too."""
    from confluent_kafka import Producer

    topic = real_kafka.topic()
    writer = sink_of(real_kafka, topic, name="tx")
    writer.write(changes([(1, "a", 1.0, 1)]), 1)
    state = writer.commit()
    writer.publish()
    writer.close()
    # The writer crashed in the middle of tick 2's transaction: its messages are written,
    # the transaction neither committed nor aborted.
    crashed = Producer({"bootstrap.servers": real_kafka.bootstrap, "transactional.id": "tidal-tx"})
    crashed.init_transactions(10)
    crashed.begin_transaction()
    crashed.produce(topic, key=b'{"k":2}', value=b'{"k":2,"v":"torn","x":null}')
    crashed.flush(10)
    again = sink_of(real_kafka, topic, name="tx")
    again.restore(state)  # tick 1 published already; tick 2 replayed
    again.write(changes([(2, "b", 2.0, 1)]), 2)
    again.publish()  # its init_transactions aborts the crashed writer's transaction
    committed = decoded(real_kafka.messages(topic, committed_only=True))
    assert [(key["k"], value["v"]) for key, value in committed] == [(1, "a"), (2, "b")]
    again.close()


# -- through the engine ------------------------------------------------------------------------


def final_state(messages) -> dict:
    """What a compacted topic keeps: the last value per key, a tombstone removing it."""
    state = {}
    for key, value in decoded(messages):
        if value is None:
            state.pop(json.dumps(key, sort_keys=True), None)
        else:
            state[json.dumps(key, sort_keys=True)] = value
    return state


def run_ticks(db, done, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the sink did not get there in time"
        db.tick()
        time.sleep(0.05)


def test_an_upsert_sink_of_a_view_holds_the_view_by_key(kafka, tmp_path):
    out = kafka.topic(partitions=2)
    db = Database()
    db.execute("CREATE TABLE orders (id INTEGER, customer VARCHAR, amount INTEGER)")
    db.execute(
        "CREATE MATERIALIZED VIEW spend AS SELECT customer, sum(amount) AS total, count(*) AS n "
        "FROM orders GROUP BY customer"
    )
    db.execute(
        f"CREATE SINK spend_out FROM spend WITH (connector = 'kafka', topic = '{out}', "
        f"'properties.bootstrap.server' = '{kafka.bootstrap}') FORMAT UPSERT ENCODE JSON"
    )
    db.execute("INSERT INTO orders VALUES (1, 'ann', 10), (2, 'bob', 5), (3, 'ann', 7)")
    db.execute("DELETE FROM orders WHERE customer = 'bob'")
    db.execute("INSERT INTO orders VALUES (4, 'cid', 1)")
    expected = {json.dumps({"customer": r["customer"]}): r for r in db.read("spend").to_pylist()}
    run_ticks(db, lambda: final_state(kafka.messages(out)) == expected)
    assert len(kafka.messages(out)) == 4  # ann (one tick), bob, bob's tombstone, cid
    db.close()


def test_an_append_only_sink_through_a_restart_publishes_each_row_once(kafka, tmp_path):
    out = kafka.topic()
    sink = (
        f"CREATE SINK raw_out FROM raw WITH (connector = 'kafka', topic = '{out}', "
        f"'properties.bootstrap.server' = '{kafka.bootstrap}', type = 'append-only')"
    )
    db = Database(tmp_path / "data")
    db.execute("CREATE TABLE raw (id INTEGER, label VARCHAR) APPEND ONLY")
    db.execute(sink)
    db.execute("INSERT INTO raw VALUES (1, 'a'), (2, 'b')")
    db.execute("INSERT INTO raw VALUES (3, 'c')")
    run_ticks(db, lambda: len(kafka.messages(out)) == 3)
    db.close()
    db = Database(tmp_path / "data")
    db.execute("INSERT INTO raw VALUES (4, 'd')")
    run_ticks(db, lambda: len(kafka.messages(out)) >= 4)
    time.sleep(0.3)
    db.tick()
    assert sorted(v["id"] for _, v in decoded(kafka.messages(out))) == [1, 2, 3, 4]
    db.close()


CRASHING_WRITER = """
import os, sys
from tidal.engine.database import Database
db = Database(sys.argv[1], checkpoint_interval=3600)
db.execute("CREATE TABLE raw (id INTEGER, label VARCHAR) APPEND ONLY")
db.execute(sys.argv[2])
db.execute("INSERT INTO raw VALUES (1, 'a'), (2, 'b')")
db.execute("INSERT INTO raw VALUES (3, 'c')")
os._exit(0)  # as kill -9 after the ticks were published: no checkpoint, nothing closed
"""


def test_ticks_replayed_after_a_crash_are_not_published_again(kafka, tmp_path):
    out = kafka.topic()
    sink = (
        f"CREATE SINK raw_out FROM raw WITH (connector = 'kafka', topic = '{out}', "
        f"'properties.bootstrap.server' = '{kafka.bootstrap}', type = 'append-only')"
    )
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(data), sink], check=True, timeout=60)
    assert len(kafka.messages(out)) == 3
    db = Database(data)  # recovery replays both ticks: the sink skips them
    db.execute("INSERT INTO raw VALUES (4, 'd')")
    run_ticks(db, lambda: len(kafka.messages(out)) >= 4)
    assert sorted(v["id"] for _, v in decoded(kafka.messages(out))) == [1, 2, 3, 4]
    db.close()


def test_ticks_that_cannot_be_published_stay_staged(monkeypatch):
    monkeypatch.setattr(kafka_sink, "COMMIT_TIMEOUT", 2.0)
    broker = KafkaBroker()
    try:
        kafka = Kafka(broker.bootstrap)
        writer = sink_of(kafka, kafka.topic(), name="down")
        writer.write(changes([(1, "a", 1.0, 1)]), 1)
        writer.publish()
    finally:
        broker.stop()
    writer.write(changes([(2, "b", 2.0, 1)]), 2)
    started = time.monotonic()
    with pytest.raises(ConnectorError, match="tick 2 could not be published"):
        writer.publish()
    assert time.monotonic() - started < 10
    assert [tick for tick, _ in writer.staged] == [2]
    assert writer.commit()["staged"] == writer.staged
    started = time.monotonic()
    writer.publish()  # the next try waits a second: the tick is not held up meanwhile
    assert time.monotonic() - started < 0.5 and len(writer.staged) == 1
    writer.close()
