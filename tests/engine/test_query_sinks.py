"""Sinks of a query (CREATE SINK s AS SELECT ...) and of a plain view keep only operator state;
the blackhole sink discards what it is given."""

from __future__ import annotations

import json

import pytest

from tidal.engine import Database, DataError


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_windowed_query_sink_writes_each_closed_window_once(tmp_path):
    db = Database(base_dir=tmp_path)
    db.execute("CREATE TABLE b (k INT, ts TIMESTAMP, WATERMARK FOR ts AS ts)")
    db.execute("INSERT INTO b VALUES (1, '2024-01-01 00:00:01')")  # before the sink: backfilled
    db.execute(
        "CREATE SINK s AS SELECT k, window_end, count(*) AS n FROM TUMBLE(b, ts, "
        "INTERVAL '10' SECOND) GROUP BY k, window_end EMIT ON WINDOW CLOSE "
        "WITH (connector = 'file', path = 'out.jsonl', format = 'jsonl')"
    )
    db.execute("INSERT INTO b VALUES (1, '2024-01-01 00:00:04'), (2, '2024-01-01 00:00:12')")
    db.execute("INSERT INTO b VALUES (1, '2024-01-01 00:00:25')")
    db.close()
    assert lines(tmp_path / "out.jsonl") == [
        {"op": "+I", "k": 1, "window_end": "2024-01-01 00:00:10", "n": 2},
        {"op": "+I", "k": 2, "window_end": "2024-01-01 00:00:20", "n": 1},
    ]


def test_a_sink_of_a_plain_view_follows_the_view(tmp_path):
    db = Database(base_dir=tmp_path)
    db.execute("CREATE TABLE t (k INT, v INT)")
    db.execute("CREATE VIEW pv AS SELECT k, sum(v) AS total FROM t GROUP BY k")
    db.execute(
        "CREATE SINK s FROM pv WITH (connector = 'file', path = 'o.jsonl', format = 'jsonl')"
    )
    db.execute("CREATE MATERIALIZED VIEW fragile AS SELECT 10 / (v - 3) AS x FROM t")
    db.execute("INSERT INTO t VALUES (1, 5)")
    with pytest.raises(DataError):  # a failing tick writes nothing
        db.execute("INSERT INTO t VALUES (1, 3)")
    db.execute("INSERT INTO t VALUES (1, 2)")
    db.close()
    assert [(r["op"], r["total"]) for r in lines(tmp_path / "o.jsonl")] == [
        ("+I", 5),
        ("-U", 5),
        ("+U", 7),
    ]


def test_the_blackhole_sink_counts_and_keeps_nothing():
    db = Database()
    db.execute("CREATE TABLE t (k INT)")
    db.execute(
        "CREATE SINK s AS SELECT k + 1 AS j FROM t WHERE k > 0 WITH (connector = 'blackhole')"
    )
    db.execute("INSERT INTO t VALUES (1), (2), (-3)")
    assert db.relations.sinks["s"].writer.rows == 2
    with pytest.raises(Exception, match="does not apply"):
        db.execute("CREATE SINK s2 AS SELECT * FROM t WITH (connector = 'blackhole', path = 'x')")
