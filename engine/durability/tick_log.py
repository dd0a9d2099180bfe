"""The tick log: the records of the ticks since the newest checkpoint, in log segments.

One record per tick (a pickled dict: tick, tables' changes, sources' positions, watermarks,
clock, check), appended to the open segment ``log-<sequence>``. A checkpoint rotates the log
at its tick: the segment open until then is synced and closed, a new one is opened, and once
the checkpoint is complete the segments before the new one are removed. Recovery reads every
segment in order and skips the records the checkpoint already holds.
"""

from __future__ import annotations

import pathlib
import pickle
from collections.abc import Iterator

from tidal.engine.durability.log import LogFile, read_records

_PREFIX = "log-"


class TickLog:
    def __init__(self, directory: pathlib.Path) -> None:
        self.directory = directory
        self.segment: LogFile | None = None
        self.sequence = 0  # of the open segment
        self.bytes_since_rotation = 0

    def segments(self) -> list[tuple[int, pathlib.Path]]:
        found = []
        for path in self.directory.glob(f"{_PREFIX}*"):
            suffix = path.name.removeprefix(_PREFIX)
            if suffix.isdigit():
                found.append((int(suffix), path))
        return sorted(found)

    def records(self) -> Iterator[dict]:
        """Every complete record of every segment, oldest first."""
        for _, path in self.segments():
            for payload in read_records(path):
                yield pickle.loads(payload)

    def rotate(self) -> int:
        """Sync and close the open segment, open the next; returns the new one's sequence
        (the segments before it hold only ticks up to now)."""
        if self.segment is not None:
            self.segment.sync()
            self.segment.close()
        existing = self.segments()
        self.sequence = max(self.sequence, existing[-1][0] if existing else 0) + 1
        self.segment = LogFile.create(self.directory / f"{_PREFIX}{self.sequence:010d}")
        self.bytes_since_rotation = 0
        return self.sequence

    def append(self, record: dict) -> tuple[LogFile, int]:
        """Append a record (not yet durable); returns where it ends, for ``LogFile.sync``."""
        before = self.segment.written
        end = self.segment.append(pickle.dumps(record, protocol=5))
        self.bytes_since_rotation += end - before
        return self.segment, end

    def remove_before(self, sequence: int) -> None:
        for number, path in self.segments():
            if number < sequence:
                path.unlink()

    def close(self) -> None:
        if self.segment is not None:
            self.segment.sync()
            self.segment.close()
            self.segment = None
