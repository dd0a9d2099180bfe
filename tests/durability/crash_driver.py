"""A process that runs the crash tests' pipeline and kills itself (SIGKILL) at a named point.

    python crash_driver.py SPEC.json

SPEC: ``data_dir``, ``folder`` (where relative paths resolve), ``ddl``, ``statements`` (SQL, run
in order), ``point`` (below), ``hit`` (the point's ``hit``-th pass is the crash), ``batch_rows``,
``checkpoint_every`` (a CHECKPOINT after every that many statements). It prints ``ack N`` once
statement N returned, so the test knows what was acknowledged; a source tick (``db.tick()``) runs
between statements.

The points wrap the engine's own functions here, in the test's process, so the engine carries no
test hooks; each names the moment just before the kill:

- ``log-appended``: a log record written, not fsynced; the OS kept it (a process crash)
- ``log-lost``: the same, and the unsynced tail of the log lost (a power cut before fsync)
- ``log-torn``: the same, and the last record cut in half (a torn write)
- ``log-synced``: a statement's record fsynced, the statement not yet acknowledged
- ``checkpoint-written``: a checkpoint's files written and fsynced, not yet renamed into place
- ``checkpoint-renamed``: renamed, CURRENT not yet naming it
- ``checkpoint-current``: CURRENT names it, the log before it not yet removed
- ``sink-written``: a sink wrote a tick's rows, before the tick is logged and committed
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import sys

from tidal.engine.connectors.file_sink import FileSink
from tidal.engine.database import Database
from tidal.engine.durability import checkpoints, state_files
from tidal.engine.durability.log import LogFile
from tidal.engine.durability.tick_log import TickLog


def crash() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class Point:
    """Counts passes at the wrapped function; the ``hit``-th pass crashes."""

    def __init__(self, hit: int) -> None:
        self.hit, self.passes = hit, 0

    def reached(self) -> bool:
        self.passes += 1
        return self.passes == self.hit


def install(point: str, hit: int) -> None:
    at = Point(hit)
    if point in ("log-appended", "log-lost", "log-torn"):
        append = LogFile.append

        def appended(self, payload: bytes) -> int:
            before = self.written
            end = append(self, payload)
            if at.reached():
                if point == "log-lost":
                    os.truncate(self.path, self.synced)
                elif point == "log-torn":
                    os.truncate(self.path, before + (end - before) // 2)
                crash()
            return end

        LogFile.append = appended
    elif point == "log-synced":
        sync = LogFile.sync

        def synced(self, through: int | None = None) -> None:
            sync(self, through)
            if through is not None and at.reached():  # a statement's (not a rotation's)
                crash()

        LogFile.sync = synced
    elif point == "checkpoint-written":
        write = state_files.write

        def written(frozen, folder: pathlib.Path) -> None:
            write(frozen, folder)
            if at.reached():
                crash()

        state_files.write = written
    elif point == "checkpoint-renamed":
        write_durably = checkpoints.write_durably

        def pointer(path: pathlib.Path, data: bytes) -> None:
            if at.reached():
                crash()
            write_durably(path, data)

        checkpoints.write_durably = pointer
    elif point == "checkpoint-current":
        remove_before = TickLog.remove_before

        def removing(self, sequence: int) -> None:
            if at.reached():
                crash()
            remove_before(self, sequence)

        TickLog.remove_before = removing
    elif point == "sink-written":
        write = FileSink.write

        def sink_wrote(self, changes, tick: int) -> None:
            write(self, changes, tick)
            if changes.num_rows and at.reached():
                crash()

        FileSink.write = sink_wrote
    else:
        raise SystemExit(f"crash_driver: unknown point {point!r}")


def main(spec_path: str) -> int:
    spec = json.loads(pathlib.Path(spec_path).read_text())
    db = Database(spec["data_dir"], base_dir=spec["folder"], batch_rows=spec["batch_rows"])
    if not db.holds_catalog:
        db.execute(spec["ddl"])
    install(spec["point"], spec["hit"])
    for number, sql in enumerate(spec["statements"]):
        db.tick()
        db.execute(sql)
        print(f"ack {number}", flush=True)
        if (number + 1) % spec["checkpoint_every"] == 0:
            db.execute("CHECKPOINT")
    print("done", flush=True)
    os._exit(0)  # no clean close: what is on disk now is what a crash would leave


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
