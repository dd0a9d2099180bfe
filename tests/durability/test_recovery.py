"""Recovery and checkpoints in one process: regressions found by the crash tests."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from tidal.engine.connectors.file_source import FileSource
from tidal.engine.database import Database
from tidal.engine.durability import checkpoints


def test_recovery_polls_no_source_while_it_reruns_the_ddl(tmp_path, monkeypatch):
    # Regression: re-running CREATE MATERIALIZED VIEW at recovery caught up on the sources, so
    # a followed file was read again from its first line (no watermark yet: late rows on
    # time), and a parquet sink created next wrote that as parts of early ticks, replacing
    # the parts it had written then (found by test_kill9).
    (tmp_path / "clicks.jsonl").write_text('{"id": 1}\n{"id": 2}\n')
    db = Database(tmp_path / "data", base_dir=tmp_path)
    db.execute(
        "CREATE SOURCE clicks (id BIGINT) "
        "WITH (connector = 'file', path = 'clicks.jsonl', format = 'jsonl')"
    )
    db.execute("CREATE MATERIALIZED VIEW n AS SELECT count(*) AS n FROM clicks")
    assert db.execute("SELECT n FROM n").to_pylist() == [{"n": 2}]
    db.close()

    polled = []
    poll = FileSource.poll
    monkeypatch.setattr(
        FileSource, "poll", lambda self, *a, **k: polled.append(1) or poll(self, *a, **k)
    )
    db = Database(tmp_path / "data", base_dir=tmp_path)
    try:
        assert polled == []
        db.reads.poll_first = False
        assert db.execute("SELECT n FROM n").to_pylist() == [{"n": 2}]
    finally:
        db.close()


def test_a_checkpoint_after_a_crash_between_rename_and_pointer(tmp_path, monkeypatch):
    # Regression: the crash left ckpt-N complete but CURRENT naming ckpt-N-1; every later
    # checkpoint was numbered N again and failed to rename onto it (XX000 "Directory not
    # empty"), so the log was never truncated again (found by test_kill9).
    db = Database(tmp_path / "data")
    db.execute("CREATE TABLE t (k BIGINT)")
    db.execute("INSERT INTO t VALUES (1)")

    def crash(*_):
        raise OSError("crashed before the pointer's swap")

    monkeypatch.setattr(checkpoints, "write_durably", crash)
    with pytest.raises(OSError):
        db.execute("CHECKPOINT")
    monkeypatch.undo()
    db.execute("INSERT INTO t VALUES (2)")
    db.execute("CHECKPOINT")
    folders = sorted(p.name for p in (tmp_path / "data" / "checkpoints").glob("ckpt-*"))
    assert folders == [(tmp_path / "data" / "checkpoints" / "CURRENT").read_text()]
    db.close()
    db = Database(tmp_path / "data")
    try:
        assert db.execute("SELECT k FROM t ORDER BY k").to_pylist() == [{"k": 1}, {"k": 2}]
    finally:
        db.close()


def test_a_parquet_sink_keeps_its_first_part(tmp_path):
    # Regression: CREATE SINK wrote the view's rows as the part of the last completed tick N,
    # and the next tick wrote its changes under the same number N (ticks passed the sinks the
    # number of the tick before), replacing the first part: its rows were lost from the sink
    # (found by test_kill9).
    db = Database(base_dir=tmp_path)
    db.execute("CREATE TABLE t (k BIGINT)")
    db.execute("CREATE MATERIALIZED VIEW v AS SELECT k FROM t")
    db.execute("INSERT INTO t VALUES (1)")
    db.execute("CREATE SINK s FROM v WITH (connector = 'file', path = 'out/', format = 'parquet')")
    db.execute("INSERT INTO t VALUES (2)")
    parts = sorted((tmp_path / "out").glob("part-*.parquet"))
    written = [pq.read_table(p).column("k").to_pylist() for p in parts]
    db.close()
    assert written == [[1], [2]]
