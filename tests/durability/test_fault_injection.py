"""Crashes at the dangerous points, and a damaged last log record: recovery is right or refuses.

Each case runs the pipeline (tests.durability.pipeline) in a process that SIGKILLs itself at a
named point (tests/durability/crash_driver.py), then recovers the data directory here and checks
it whole, as the kill -9 test does; then writes more, checkpoints, closes, and recovers and
checks once more, since some damage only shows at the next checkpoint. A damaged record must
make recovery refuse with a message that says so, never open with less than was acknowledged.
"""

from __future__ import annotations

import json
import pathlib
import struct
import subprocess
import sys

import pytest

from tidal.engine.database import Database
from tidal.engine.durability import log
from tidal.engine.durability.data_dir import DurabilityError
from tidal.engine.durability.tick_log import TickLog

from .pipeline import DDL, ClickWriter, Statements, check_recovered, recovered

DRIVER = pathlib.Path(__file__).with_name("crash_driver.py")
HEADER = log._FRAME.size  # a record's frame before its payload
STATEMENTS = 40
CHECKPOINT_EVERY = 7


def crash_at(tmp_path: pathlib.Path, point: str, hit: int) -> tuple[Statements, ClickWriter]:
    """Run the driver until it kills itself at ``point``; the statements marked with what the
    driver said was acknowledged (the first one not acknowledged: unknown; later: never sent)."""
    clicks = ClickWriter(tmp_path / "clicks.jsonl", seed=hit)
    for _ in range(300):
        clicks.append()
    statements = Statements(seed=hit)
    sent = [statements.next() for _ in range(STATEMENTS)]  # nothing acknowledged: all inserts
    spec = {
        "data_dir": str(tmp_path / "data"),
        "folder": str(tmp_path),
        "ddl": DDL,
        "statements": [s.sql for s in sent],
        "point": point,
        "hit": hit,
        "batch_rows": 40,  # the file is read over many ticks
        "checkpoint_every": CHECKPOINT_EVERY,
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    run = subprocess.run(
        [sys.executable, str(DRIVER), str(tmp_path / "spec.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == -9, f"the driver did not crash at {point}: {run.stdout}{run.stderr}"
    acked = {int(line.split()[1]) for line in run.stdout.splitlines() if line.startswith("ack ")}
    for s in sent:
        s.outcome = "acked" if s.number in acked else "failed"  # "failed": never applied
    first_unacked = next((s for s in sent if s.number not in acked), None)
    if first_unacked is not None:
        first_unacked.outcome = "unknown"
    return statements, clicks


def recover_and_check(tmp_path: pathlib.Path, statements: Statements, clicks: ClickWriter) -> None:
    db = recovered(tmp_path / "data", tmp_path)
    try:
        check_recovered(db, tmp_path, statements, clicks)
        # Still usable: more writes, a checkpoint, a clean close, and a recovery of that.
        for _ in range(3):
            statement = statements.next()
            db.execute(statement.sql)
            statement.outcome = "acked"
        db.tick()
        db.execute("CHECKPOINT")
    finally:
        db.close()
    db = recovered(tmp_path / "data", tmp_path)
    try:
        check_recovered(db, tmp_path, statements, clicks)
    finally:
        db.close()


CRASHES = [
    ("log-appended", 9),
    ("log-lost", 12),
    ("log-torn", 15),
    ("log-synced", 10),
    ("checkpoint-written", 2),
    ("checkpoint-renamed", 3),
    ("checkpoint-current", 2),
    ("sink-written", 20),
]


@pytest.mark.slow
@pytest.mark.parametrize(("point", "hit"), CRASHES, ids=[p for p, _ in CRASHES])
def test_crash_at(tmp_path, point, hit):
    statements, clicks = crash_at(tmp_path, point, hit)
    if point == "log-synced":  # durable, so recovered, though not acknowledged
        unknown = next(s for s in statements.sent if s.outcome == "unknown")
        unknown.outcome = "acked"
    recover_and_check(tmp_path, statements, clicks)


# --- damaged records ---------------------------------------------------------------------------


def last_record(data_dir: pathlib.Path) -> tuple[pathlib.Path, int, int]:
    """The newest log segment holding records, and its last record's offset and length (a
    frame starts with the payload's length, u32: tidal.engine.durability.log)."""
    for _, path in reversed(TickLog(data_dir / "log").segments()):
        data, offset, last = path.read_bytes(), 0, None
        while offset + HEADER <= len(data):
            (length,) = struct.unpack_from("<I", data, offset)
            last, offset = (offset, length), offset + HEADER + length
        if last is not None:
            return path, *last
    raise AssertionError("no log record")


def flip(path: pathlib.Path, at: int, bit: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 1 << bit
    path.write_bytes(bytes(data))


@pytest.mark.slow
def test_a_bit_flipped_in_the_last_records_payload_is_refused(tmp_path):
    crash_at(tmp_path, "log-synced", 10)  # the last record is an insert's, fsynced
    path, offset, length = last_record(tmp_path / "data")
    flip(path, offset + HEADER + length // 2, 3)
    with pytest.raises(DurabilityError, match="corrupt"):
        recovered(tmp_path / "data", tmp_path)


@pytest.mark.slow
def test_a_bit_flipped_in_the_last_records_length_is_refused(tmp_path):
    # A length grown by a flip once read as a torn tail: the record, fsynced and acknowledged,
    # was dropped without a word. The header's own checksum tells the two apart.
    crash_at(tmp_path, "log-synced", 10)
    path, offset, _ = last_record(tmp_path / "data")
    flip(path, offset + 2, 7)  # the length's third byte: 8 MiB longer than the file
    with pytest.raises(DurabilityError, match="corrupt"):
        recovered(tmp_path / "data", tmp_path)


def test_a_bit_flipped_in_a_checkpoint_file_is_refused(tmp_path):
    db = Database(tmp_path / "data")
    db.execute("CREATE TABLE t (k BIGINT, v BIGINT)")
    db.execute("INSERT INTO t SELECT i, i * 10 FROM generate_series(1, 1000) AS s(i)")
    db.close()
    folder = next((tmp_path / "data" / "checkpoints").glob("ckpt-*"))
    arrow = max(folder.glob("*.arrow"), key=lambda p: p.stat().st_size)
    flip(arrow, arrow.stat().st_size // 2, 4)  # once read as data: a sum came back wrong
    with pytest.raises(DurabilityError, match="checkpoint .* is corrupt"):
        Database(tmp_path / "data")
