"""Durability of a data directory: restarts after kill -9 give back exactly what was
acknowledged, and what cannot be recovered safely is refused with a clear message.

Each "process" is a real subprocess that runs statements on ``Database(DIR)`` and then kills
itself with SIGKILL (or closes cleanly), so nothing survives but the directory.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap

import pytest

from tidal.engine import Database
from tidal.engine.durability.data_dir import DurabilityError
from tidal.engine.durability.log import HEADER_BYTES, frame

_PROCESS = textwrap.dedent(
    """
    import json, os, signal, sys
    from tidal.engine import Database
    directory, statements, ending, options = json.loads(sys.argv[1])
    db = Database(directory, **options)
    results = []
    for statement in statements:
        result = db.execute(statement)
        results.append(result.to_pylist() if hasattr(result, "to_pylist") else str(result))
    print(json.dumps({"ticks": db.ticks, "results": results}, default=str), flush=True)
    if ending == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    db.close()
    """
)


def process(directory, statements, ending="kill", **options) -> dict:
    """Run ``statements`` in a new process on ``Database(directory)``, then SIGKILL it
    (``ending="kill"``) or close it cleanly; returns what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", _PROCESS, json.dumps([str(directory), statements, ending, options])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    expected = -signal.SIGKILL if ending == "kill" else 0
    assert done.returncode == expected, done.stderr
    return json.loads(done.stdout)


SCHEMA = [
    "CREATE TABLE t (k VARCHAR PRIMARY KEY, v INTEGER)",
    "CREATE MATERIALIZED VIEW s AS SELECT k, sum(v) AS total, count(*) AS n FROM t GROUP BY k",
    "CREATE MATERIALIZED VIEW m AS SELECT max(v) AS top, min(v) AS bottom FROM t",
]


def test_acknowledged_changes_survive_kill(tmp_path):
    directory = tmp_path / "db"
    process(directory, [*SCHEMA, "INSERT INTO t VALUES ('a', 1), ('b', 2)"])
    process(directory, ["UPDATE t SET v = 5 WHERE k = 'a'", "DELETE FROM t WHERE k = 'b'"])
    after = process(
        directory,
        ["INSERT INTO t VALUES ('c', 3)", "SELECT * FROM s ORDER BY k", "SELECT * FROM m"],
    )
    assert after["results"][1] == [
        {"k": "a", "total": "5", "n": 1},
        {"k": "c", "total": "3", "n": 1},
    ]
    assert after["results"][2] == [{"top": 5, "bottom": 3}]
    db = Database(directory)
    try:
        assert db.ticks == after["ticks"]
        assert db.execute("SELECT * FROM t ORDER BY k").to_pylist() == [
            {"k": "a", "v": 5},
            {"k": "c", "v": 3},
        ]
    finally:
        db.close()


def test_ddl_of_every_kind_is_rebuilt(tmp_path):
    directory = tmp_path / "db"
    process(
        directory,
        [
            "CREATE TABLE t (k VARCHAR, v INTEGER)",
            "INSERT INTO t VALUES ('a', 1)",
            "ALTER TABLE t ADD COLUMN w INTEGER DEFAULT 7",
            "CREATE MATERIALIZED VIEW doomed AS SELECT count(*) AS n FROM t",
            "DROP MATERIALIZED VIEW doomed",
            "ALTER TABLE t RENAME TO u",
            "CREATE VIEW plain AS SELECT k, v + w AS x FROM u",
            "CREATE FUNCTION twice(x INTEGER) RETURNS INTEGER AS 'SELECT x * 2'",
            "INSERT INTO u VALUES ('b', 2, 1)",
        ],
    )
    after = process(
        directory,
        ["SELECT k, twice(x) AS y FROM plain ORDER BY k", "SHOW TABLES"],
        ending="close",
    )
    assert after["results"][0] == [{"k": "a", "y": 16}, {"k": "b", "y": 6}]
    assert [row["name"] for row in after["results"][1]] == ["u"]


def test_a_checkpoint_truncates_the_log_and_replay_starts_after_it(tmp_path):
    directory = tmp_path / "db"
    process(directory, [*SCHEMA, "INSERT INTO t VALUES ('a', 1)", "CHECKPOINT"])
    segments = sorted((directory / "log").iterdir())
    assert all(path.stat().st_size == 0 for path in segments)  # ticks up to now: checkpointed
    process(directory, ["INSERT INTO t VALUES ('b', 2)"])
    assert sum(path.stat().st_size for path in (directory / "log").iterdir()) > 0
    after = process(directory, ["SELECT k, n FROM s ORDER BY k"], ending="close")
    assert after["results"][0] == [{"k": "a", "n": 1}, {"k": "b", "n": 1}]


def test_roles_survive_without_their_password(tmp_path):
    directory = tmp_path / "db"
    process(directory, ["CREATE USER alice WITH PASSWORD 'sesame-open'"])
    files = [path for path in directory.rglob("*") if path.is_file()]
    assert not any(b"sesame-open" in path.read_bytes() for path in files)
    db = Database(directory)
    try:
        assert db.catalog.users.get("alice").verifier.startswith("SCRAM-SHA-256$")
    finally:
        db.close()


def test_a_failed_statement_is_not_replayed(tmp_path):
    directory = tmp_path / "db"
    process(
        directory,
        [
            "CREATE TABLE t (a INTEGER, b INTEGER)",
            "CREATE MATERIALIZED VIEW q AS SELECT a / b AS x FROM t",
            "INSERT INTO t VALUES (4, 2)",
        ],
    )
    db = Database(directory)
    try:
        with pytest.raises(Exception, match="division by zero"):
            db.execute("INSERT INTO t VALUES (1, 0)")
        db.execute("INSERT INTO t VALUES (9, 3)")
    finally:
        db.durability.data_dir.close()  # as a crash would: no last checkpoint
    after = process(directory, ["SELECT x FROM q ORDER BY x"], ending="close")
    assert after["results"][0] == [{"x": 2}, {"x": 3}]


def test_watermarks_and_late_rows_come_back_as_they_were(tmp_path):
    directory = tmp_path / "db"
    process(
        directory,
        [
            (
                "CREATE TABLE e (id INTEGER, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' "
                "SECOND) WITH (late_table = 'late')"
            ),
            (
                "CREATE MATERIALIZED VIEW w AS SELECT window_end, count(*) AS n FROM "
                "TUMBLE(e, ts, INTERVAL '10' SECOND) GROUP BY window_end EMIT ON WINDOW CLOSE"
            ),
            "INSERT INTO e VALUES (1, TIMESTAMP '2024-01-01 00:00:05')",
            "INSERT INTO e VALUES (2, TIMESTAMP '2024-01-01 00:00:15')",
        ],
    )
    after = process(
        directory,
        [
            "INSERT INTO e VALUES (3, TIMESTAMP '2024-01-01 00:00:03')",  # late: behind 00:14
            "SELECT id FROM late",
            "SELECT n FROM w",
        ],
        ending="close",
    )
    assert after["results"][1] == [{"id": 3}]
    assert after["results"][2] == [{"n": 1}]


def test_a_torn_last_record_is_dropped(tmp_path):
    directory = tmp_path / "db"
    process(directory, [*SCHEMA, "INSERT INTO t VALUES ('a', 1)"])
    (segment,) = [p for p in (directory / "log").iterdir() if p.stat().st_size]
    with open(segment, "ab") as file:  # a crash in the middle of the next record's write
        file.write(frame(b"the next record" * 20)[:40])
    after = process(directory, ["SELECT k, n FROM s"], ending="close")
    assert after["results"][0] == [{"k": "a", "n": 1}]


def test_a_bit_flipped_record_is_refused(tmp_path):
    directory = tmp_path / "db"
    process(directory, [*SCHEMA, "INSERT INTO t VALUES ('a', 1)"])
    (segment,) = [p for p in (directory / "log").iterdir() if p.stat().st_size]
    data = bytearray(segment.read_bytes())
    data[-3] ^= 0x10
    segment.write_bytes(bytes(data))
    with pytest.raises(
        DurabilityError, match="corrupt at byte 0: the checksum of a complete record"
    ):
        Database(directory)


def test_a_replayed_tick_that_comes_out_differently_is_refused(tmp_path):
    directory = tmp_path / "db"
    process(directory, [*SCHEMA, "INSERT INTO t VALUES ('a', 1)"])
    (segment,) = [p for p in (directory / "log").iterdir() if p.stat().st_size]
    import pickle

    from tidal.engine.durability.log import LogFile, read_records

    (record,) = [pickle.loads(p) for p in read_records(segment)]
    record["check"] = (record["check"][0], record["check"][1] ^ 1)
    segment.unlink()
    log = LogFile.create(segment)
    log.append(pickle.dumps(record))
    log.close()
    with pytest.raises(DurabilityError, match="tick 1 came out differently"):
        Database(directory)


def test_one_process_per_directory(tmp_path):
    db = Database(tmp_path / "db")
    try:
        with pytest.raises(DurabilityError, match="in use by another tidal process"):
            Database(tmp_path / "db")
    finally:
        db.close()
    Database(tmp_path / "db").close()  # free again once closed


def test_a_newer_format_is_refused(tmp_path):
    Database(tmp_path / "db").close()
    (tmp_path / "db" / "FORMAT").write_text(json.dumps({"format": 99}))
    with pytest.raises(DurabilityError, match="newer tidal \\(format 99\\).*upgrade"):
        Database(tmp_path / "db")


def test_a_file_is_not_a_data_directory(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DurabilityError, match="it is a file"):
        Database(tmp_path / "file")


def test_background_checkpoints_follow_the_log_size(tmp_path):
    db = Database(tmp_path / "db", checkpoint_log_bytes=1)
    try:
        db.execute("CREATE TABLE t (v INTEGER)")
        for value in range(5):
            db.execute(f"INSERT INTO t VALUES ({value})")
        db.durability.join_writer()
        pointer = (tmp_path / "db" / "checkpoints" / "CURRENT").read_text()
        # the DDL's, then at least one in the background (one at a time, the log being "full")
        assert int(pointer.removeprefix("ckpt-")) >= 2
    finally:
        db.close()
    reopened = Database(tmp_path / "db")
    try:
        assert sorted(reopened.execute("SELECT v FROM t").column("v").to_pylist()) == list(range(5))
    finally:
        reopened.close()


def test_in_memory_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = Database()
    db.execute("CREATE TABLE t (v INTEGER)")
    db.execute("CHECKPOINT")  # nothing to write: accepted, as PostgreSQL's
    db.close()
    assert list(pathlib.Path(tmp_path).iterdir()) == []
    assert os.listdir(tmp_path) == []


def test_a_subscription_resumes_as_of_a_tick_after_a_restart(tmp_path):
    directory = tmp_path / "db"
    process(
        directory,
        [
            "CREATE TABLE t (k VARCHAR)",
            "SUBSCRIBE t",  # from here on, t's changes are kept for AS OF
            "INSERT INTO t VALUES ('a')",
            "CHECKPOINT",
            "INSERT INTO t VALUES ('b')",
            "DELETE FROM t WHERE k = 'a'",
        ],
    )
    db = Database(directory)
    try:
        updates = db.subscribe("t", as_of=1, snapshot=False).next(timeout=0)
        assert [(u.tick, u.rows.to_pylist()) for u in updates if u.rows is not None] == [
            (2, [{"k": "b", "diff": 1}]),
            (3, [{"k": "a", "diff": -1}]),
        ]
    finally:
        db.close()


@pytest.mark.parametrize(
    ("damage", "outcome"),
    [
        ("length", "refused"),  # never mistaken for a torn tail: the header has a checksum
        ("zeros", "dropped"),  # what an OS crash leaves past the last synced write
    ],
)
def test_a_damaged_header_is_refused_but_zeros_are_a_tail(tmp_path, damage, outcome):
    directory = tmp_path / "db"
    process(directory, [*SCHEMA, "INSERT INTO t VALUES ('a', 1)", "INSERT INTO t VALUES ('b', 2)"])
    (segment,) = [p for p in (directory / "log").iterdir() if p.stat().st_size]
    data = bytearray(segment.read_bytes())
    if damage == "length":
        second = HEADER_BYTES + int.from_bytes(data[:4], "little")
        data[second + 2] ^= 0x01  # the last record's length, now far past the end
    else:
        data += bytes(4096)
    segment.write_bytes(bytes(data))
    if outcome == "refused":
        with pytest.raises(DurabilityError, match="checksum of a record's header"):
            Database(directory)
        return
    after = process(directory, ["SELECT k FROM t ORDER BY k"], ending="close")
    assert after["results"][0] == [{"k": "a"}, {"k": "b"}]


def test_a_bit_flipped_checkpoint_file_is_refused(tmp_path):
    directory = tmp_path / "db"
    process(directory, [*SCHEMA, "INSERT INTO t VALUES ('a', 1)", "CHECKPOINT"])
    (folder,) = (directory / "checkpoints").glob("ckpt-*")
    arrow = max(folder.glob("*.arrow"), key=lambda path: path.stat().st_size)
    data = bytearray(arrow.read_bytes())
    data[len(data) // 2] ^= 0x04
    arrow.write_bytes(bytes(data))
    with pytest.raises(DurabilityError, match=f"checksum of {arrow.name} does not match"):
        Database(directory)
