"""The file sink after a crash or a failed write: no partial line stays in its file, so a line
written next never runs on from half of one (with or without durability's restore)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from test_file_sink import TICK_1, TICK_2, sink

from tidal.engine.connectors import ConnectorError

# What a kill -9 in the middle of a tick's write leaves: the start of a record.
PARTIAL = {
    "jsonl": b'{"op":"+I","id":9,"name":"ha',
    "csv": b'+I,9,,,"a field with a line break\nand no end',
}


def written_once(tmp_path, fmt: str) -> bytes:
    """The file of a sink that wrote TICK_1 and TICK_2 with nothing in between."""
    writer = sink(tmp_path, f"once.{fmt}", fmt)
    writer.write(TICK_1, 1)
    writer.write(TICK_2, 2)
    writer.close()
    return (tmp_path / f"once.{fmt}").read_bytes()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_partial_last_line_left_by_a_crash_is_cut_when_the_sink_opens_again(tmp_path, fmt):
    # Regression: the sink opened again without durability's restore appended after the
    # half line, so it ran on into the next tick's first line.
    writer = sink(tmp_path, f"out.{fmt}", fmt)
    writer.write(TICK_1, 1)
    del writer  # a crash: no close
    with open(tmp_path / f"out.{fmt}", "ab") as file:
        file.write(PARTIAL[fmt])
    again = sink(tmp_path, f"out.{fmt}", fmt)
    again.write(TICK_2, 2)
    again.close()
    assert (tmp_path / f"out.{fmt}").read_bytes() == written_once(tmp_path, fmt)


def test_a_csv_header_cut_by_a_crash_is_written_again_whole(tmp_path):
    (tmp_path / "out.csv").write_bytes(b"op,id,t")
    writer = sink(tmp_path, "out.csv", "csv")
    writer.write(TICK_1, 1)
    writer.write(TICK_2, 2)
    writer.close()
    assert (tmp_path / "out.csv").read_bytes() == written_once(tmp_path, "csv")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_file_ending_in_a_line_the_sink_did_not_write_is_refused_and_kept(tmp_path, fmt):
    (tmp_path / f"notes.{fmt}").write_bytes(b"my own notes\nwithout a last line break")
    with pytest.raises(ConnectorError, match="bytes after its last line end that the sink did"):
        sink(tmp_path, f"notes.{fmt}", fmt)
    assert (tmp_path / f"notes.{fmt}").read_bytes().endswith(b"without a last line break")


def test_a_failed_write_is_cut_back_so_no_partial_line_stays(tmp_path, monkeypatch):
    # A full disk: the system takes half of the tick's bytes, then refuses the rest.
    writer = sink(tmp_path, "out.jsonl", "jsonl")
    writer.write(TICK_1, 1)
    before = (tmp_path / "out.jsonl").read_bytes()
    write, calls = os.write, []

    def disk_full(fd: int, data) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            return write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(OSError, match="No space left"):
        writer.write(TICK_2, 2)
    monkeypatch.undo()
    assert len(calls) == 2
    assert (tmp_path / "out.jsonl").read_bytes() == before
    writer.write(TICK_2, 2)
    writer.close()
    assert (tmp_path / "out.jsonl").read_bytes() == written_once(tmp_path, "jsonl")


_WRITER = textwrap.dedent(
    """
    import sys
    import pyarrow as pa
    from tidal.catalog.objects import Sink
    from tidal.engine.connectors import open_sink
    schema = pa.schema([("id", pa.int64()), ("name", pa.string())])
    options = (("connector", "file"), ("path", sys.argv[1]), ("format", "jsonl"))
    writer = open_sink(Sink("out", "v", options), schema, ["id"], ".")
    n = 100_000
    for tick in range(1, 10_000):
        ids = pa.array(range(tick * n, (tick + 1) * n), pa.int64())
        names = pa.array(["x" * (tick % 50)] * n)
        weights = pa.array([1] * n, pa.int64())
        writer.write(pa.table({"id": ids, "name": names, "__weight": weights}), tick)
    """
)


def test_kill_9_while_writing_leaves_whole_lines_once_the_sink_opens_again(tmp_path):
    path = tmp_path / "out.jsonl"
    for threshold in (2 << 20, 9 << 20, 21 << 20):  # kill at a few moments of the writes
        child = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)])
        deadline = time.monotonic() + 60
        while (not path.exists() or path.stat().st_size < threshold) and child.poll() is None:
            assert time.monotonic() < deadline, "the writer wrote too little"
            time.sleep(0.001)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
        writer = sink(tmp_path, "out.jsonl", "jsonl")  # opened again, as after a restart
        writer.write(TICK_1, 1)
        writer.close()
        text = path.read_bytes()
        assert text.endswith(b"\n")
        records = [json.loads(line) for line in text.splitlines()]  # each line whole
        assert records[-2:] == [json.loads(line) for line in written_lines(tmp_path)]


def written_lines(tmp_path) -> list[bytes]:
    writer = sink(tmp_path, "alone.jsonl", "jsonl")
    writer.write(TICK_1, 1)
    writer.close()
    lines = (tmp_path / "alone.jsonl").read_bytes().splitlines()
    (tmp_path / "alone.jsonl").unlink()
    return lines
