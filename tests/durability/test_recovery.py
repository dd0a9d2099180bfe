"""Recovery in one process: what it must not do while it rebuilds the catalog."""

from __future__ import annotations

from tidal.engine.connectors.file_source import FileSource
from tidal.engine.database import Database


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
