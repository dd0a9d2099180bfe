"""``Database.stats()``: rows of state, bytes held and consolidated, connector positions, late
rows, per relation, with values worked out by hand from the changes fed."""

from __future__ import annotations

import datetime

import pyarrow as pa
import pytest

from tidal.engine import Database

ROW_BYTES = 4 + 4 + 8  # two INTEGER columns and the int64 weight, no NULLs


def changes(k: list[int], v: list[int], weight: int) -> pa.Table:
    return pa.table(
        {
            "k": pa.array(k, pa.int32()),
            "v": pa.array(v, pa.int32()),
            "__weight": pa.array([weight] * len(k), pa.int64()),
        }
    )


@pytest.fixture
def db() -> Database:
    db = Database()
    db.execute("CREATE TABLE t (k INTEGER, v INTEGER)")
    db.execute(
        "CREATE MATERIALIZED VIEW s AS SELECT k, count(*) AS n, sum(v) AS total FROM t GROUP BY k"
    )
    db.execute("CREATE MATERIALIZED VIEW f AS SELECT k, v FROM t WHERE v > 5")
    return db


def test_kinds_and_ticks_and_nothing_measured_unless_asked(db):
    db.apply_changes("t", changes([1, 2], [10, 20], 1))
    stats = db.stats()
    assert stats.ticks == 1
    assert [(r.name, r.kind) for r in stats.relations] == [
        ("t", "table"),
        ("s", "materialized view"),
        ("f", "materialized view"),
    ]
    assert stats["T"] is stats["t"] and "s" in stats and "nope" not in stats
    assert all(r.held_bytes is None and r.state_bytes is None for r in stats.relations)
    assert stats["t"].state_rows is None and stats["f"].state_rows == 0  # a filter keeps none
    with pytest.raises(KeyError):
        stats["nope"]


def test_state_rows_of_a_group_by_after_inserts_and_deletes(db):
    db.apply_changes("t", changes([1, 1, 2, 3], [10, 5, 7, 1], 1))
    assert db.stats()["s"].state_rows == 3  # one slot per group
    db.apply_changes("t", changes([1], [5], -1))  # group 1 keeps a row
    db.apply_changes("t", changes([4, 5], [2, 2], 1))
    assert db.stats()["s"].state_rows == 5
    db.apply_changes("t", changes([3], [1], -1))
    # Group 3 has no rows left and is gone from the view, but its slot (count 0) is still
    # state: a plain GROUP BY frees slots only when a watermark closes them.
    assert db.read("s").num_rows == 4
    assert db.stats()["s"].state_rows == 5


def test_bytes_held_are_measured_before_the_state_is_consolidated(db):
    db.apply_changes("t", changes([1, 1, 2, 3], [10, 5, 7, 1], 1))
    db.apply_changes("t", changes([1], [5], -1))
    stats = db.stats(held_bytes=True, state_bytes=True)
    # The table holds both change batches as they came; consolidated, three rows remain.
    assert stats["t"].held_bytes == (4 + 1) * ROW_BYTES
    assert stats["t"].state_bytes == 3 * ROW_BYTES
    # The filter's view keeps its rows (v > 5: two inserted), its operator nothing.
    assert stats["f"].held_bytes == stats["f"].state_bytes == 2 * ROW_BYTES
    # The aggregate's accumulators are numpy arrays, held with room to grow (the memory
    # budget counts them); its snapshot is Arrow, of the groups there are.
    assert stats["s"].held_bytes > stats["s"].state_bytes > 0
    again = db.stats(held_bytes=True)  # consolidated by the first call's state_bytes
    assert again["t"].held_bytes == 3 * ROW_BYTES and again["t"].state_bytes is None


def test_a_join_holds_its_arrangements_with_their_hashes():
    db = Database()
    db.execute("CREATE TABLE a (k BIGINT)")
    db.execute("CREATE TABLE b (k BIGINT)")
    db.execute("CREATE MATERIALIZED VIEW j AS SELECT count(*) AS n FROM a JOIN b ON a.k = b.k")
    for table, keys in (("a", [1, 2, 3]), ("b", [2, 3])):
        db.apply_changes(table, pa.table({"k": keys, "__weight": [1] * len(keys)}))
    stats = db.stats(held_bytes=True)
    j = stats["j"]
    assert j.state_rows == 3 + 2 + 1  # both sides' rows, and the count's one group
    # Each arranged row: its BIGINT and weight (16 bytes) and a uint64 key hash (8). The count
    # holds the view's rows (numpy accumulators): no contents.
    join, count = (op.held_bytes() for op in db.relations.views["j"].dataflow.operators[2::2])
    assert join == (3 + 2) * (16 + 8)
    assert j.held_bytes == join + count and count > 0


def test_a_sink_of_a_query_reports_its_state_and_the_rows_written(db):
    db.execute(
        "CREATE SINK big AS SELECT k, count(*) AS n FROM t WHERE v > 5 GROUP BY k "
        "WITH (connector = 'blackhole')"
    )
    db.apply_changes("t", changes([1, 1, 2], [10, 20, 30], 1))
    db.apply_changes("t", changes([2], [30], -1))
    sink = db.stats()["big"]
    assert sink.kind == "sink" and sink.state_rows == 2
    # Changes written: +(1, 2) and +(2, 1) in the first tick, -(2, 1) in the second.
    assert sink.position == {"rows": 3}


def test_a_source_with_a_watermark_reports_late_rows_and_its_position():
    db = Database()
    db.execute(
        "CREATE SOURCE ev (k BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND) "
        "WITH (connector = 'datagen', \"number-of-rows\" = '0', retain = 'false')"
    )
    start = datetime.datetime(2024, 1, 1)
    # The first tick has no watermark yet: 10 s and 1 s are on time, and the watermark moves
    # to 8 s. In the second, 5 s is late, 12 s on time: the watermark moves to 10 s.
    for seconds in ([10, 1], [5, 12]):
        times = [start + datetime.timedelta(seconds=s) for s in seconds]
        batch = pa.table({"k": [0] * len(times), "ts": pa.array(times, pa.timestamp("us"))})
        db.apply_changes("ev", batch.append_column("__weight", pa.array([1] * len(times))))
    ev = db.stats(held_bytes=True)["ev"]
    assert ev.kind == "source" and ev.position == {"rows": 0} and ev.held_bytes == 0
    assert ev.late_rows == 1
    expected = start + datetime.timedelta(seconds=10)
    assert ev.watermark == int(expected.replace(tzinfo=datetime.UTC).timestamp() * 1_000_000)
