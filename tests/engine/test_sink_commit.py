"""Sinks commit with a checkpoint: after a crash, a writer opened again on the same path and
restored to the committed state, then given the ticks after the checkpoint again, leaves the
output exactly as writing each tick once would have (nothing twice, nothing lost)."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
from decimal import Decimal

import pyarrow as pa
import pytest

from tidal.catalog.objects import Sink
from tidal.engine.connectors import ConnectorError, open_sink

SCHEMA = pa.schema(
    [("id", pa.int32()), ("ts", pa.timestamp("us")), ("amount", pa.decimal128(10, 2))]
)
TS = dt.datetime(2026, 1, 1, 10)


def tick(n: int) -> pa.Table:
    """Tick n's changes: row n inserted, row n - 1 updated (retracted and inserted again)."""
    rows = [(n, TS + dt.timedelta(seconds=n), Decimal(n), 1)]
    if n > 1:
        rows += [(n - 1, TS, Decimal(n - 1), -1), (n - 1, TS, Decimal(n), 1)]
    schema = SCHEMA.append(pa.field("__weight", pa.int64()))
    return pa.Table.from_arrays(
        [pa.array(list(c), f.type) for c, f in zip(zip(*rows), schema)], schema=schema
    )


def open_writer(base: pathlib.Path, path: str, fmt: str, mode: str = "changelog"):
    options = (("connector", "file"), ("path", path), ("format", fmt), ("mode", mode))
    return open_sink(Sink("out", "v", options), SCHEMA, ["id"], base)


def output(path: pathlib.Path) -> dict[str, bytes]:
    """Every file of a sink's output by name (a directory's parts, or the one file)."""
    if path.is_dir():
        return {p.name: p.read_bytes() for p in sorted(path.iterdir())}
    return {path.name: path.read_bytes()}


CASES = [("jsonl", "changelog"), ("csv", "changelog"), ("csv", "upsert"), ("parquet", "changelog")]


@pytest.mark.parametrize(("fmt", "mode"), CASES)
@pytest.mark.parametrize(("committed", "crashed"), [(0, 3), (2, 2), (2, 5), (4, 6)])
def test_restore_after_a_crash_then_replay_writes_each_tick_once(
    tmp_path, fmt, mode, committed, crashed
):
    suffix = "" if fmt == "parquet" else f".{fmt}"
    once = open_writer(tmp_path, f"once{suffix}", fmt, mode)
    for n in range(1, 7):
        once.write(tick(n), n)
    once.close()

    name = f"crashed{suffix}"
    writer = open_writer(tmp_path, name, fmt, mode)
    for n in range(1, committed + 1):
        writer.write(tick(n), n)
    state = json.loads(json.dumps(writer.commit()))
    for n in range(committed + 1, crashed + 1):
        writer.write(tick(n), n)
    del writer  # a crash: no close, no commit
    if fmt == "parquet":  # a part that was being written when the process died
        (tmp_path / name / f".part-{crashed + 1:010d}.parquet.tmp").write_bytes(b"PAR1 torn")
    else:  # half of a line that was being written
        with open(tmp_path / name, "ab") as file:
            file.write(b'{"op":"+I","id":9' if fmt == "jsonl" else b"+I,9,2026-01")

    again = open_writer(tmp_path, name, fmt, mode)  # as the replayed CREATE SINK opens it
    again.restore(state)
    assert again.commit() == state  # a checkpoint right after recovery keeps the same state
    for n in range(committed + 1, 7):
        again.write(tick(n), n)
    again.close()
    expected = output(tmp_path / f"once{suffix}")
    assert output(tmp_path / name) == {n.replace("once", "crashed"): b for n, b in expected.items()}


def test_restore_of_a_csv_sink_keeps_one_header(tmp_path):
    writer = open_writer(tmp_path, "out.csv", "csv")
    state = writer.commit()
    writer.write(tick(1), 1)
    del writer
    again = open_writer(tmp_path, "out.csv", "csv")
    again.restore(state)
    again.write(tick(1), 1)
    again.close()
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines == ["op,id,ts,amount", "+I,1,2026-01-01 10:00:01,1.00"]


def test_restore_refuses_a_file_shorter_than_what_was_committed(tmp_path):
    writer = open_writer(tmp_path, "out.jsonl", "jsonl")
    writer.write(tick(1), 1)
    state = writer.commit()
    writer.close()
    (tmp_path / "out.jsonl").write_bytes(b"")
    again = open_writer(tmp_path, "out.jsonl", "jsonl")
    with pytest.raises(
        ConnectorError, match=r"out\.jsonl has 0 bytes, fewer than the \d+ committed"
    ):
        again.restore(state)


def test_restore_of_a_parquet_sink_with_nothing_committed_removes_every_part(tmp_path):
    writer = open_writer(tmp_path, "parts", "parquet")
    state = writer.commit()
    writer.write(tick(1), 1)
    writer.write(tick(2), 2)
    again = open_writer(tmp_path, "parts", "parquet")
    again.restore(state)
    assert list((tmp_path / "parts").iterdir()) == []
    assert again.commit() == {"tick": None}


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names fsynced files by /proc")
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_commit_fsyncs_the_output_and_the_directories_that_gained_entries(
    tmp_path, monkeypatch, fmt
):
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(descriptor):
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    path = "new/out.jsonl" if fmt == "jsonl" else "new/parts"
    writer = open_writer(tmp_path, path, fmt)
    writer.write(tick(1), 1)
    written = list(synced)
    writer.commit()
    out, new = str(tmp_path / path), str(tmp_path / "new")
    if fmt == "jsonl":
        assert written == []  # a write flushes; only a commit fsyncs
        assert sorted(synced) == sorted([out, new, str(tmp_path)])
    else:  # the part before its rename, then the directories at the commit
        assert written == [out + "/.part-0000000001.parquet.tmp"]
        assert sorted(synced[1:]) == sorted([out, new, str(tmp_path)])
    synced.clear()
    writer.write(tick(2), 2)
    writer.commit()
    assert synced[-1] == out  # the file, or the directory the new part was renamed into


def test_blackhole_sink_counts_again_from_the_committed_count():
    writer = open_sink(Sink("out", "v", (("connector", "blackhole"),)), SCHEMA, [], pathlib.Path())
    writer.write(tick(1), 1)
    state = writer.commit()
    writer.write(tick(2), 2)
    writer.restore(state)
    writer.write(tick(2), 2)
    assert writer.commit() == {"rows": 4}
