"""The data directory: where a durable database keeps its log and checkpoints.

Layout (``DIR`` is what ``--data-dir`` / ``Database(path=...)`` names)::

    DIR/FORMAT                  {"format": 1}: refused by a tidal that reads an older format
    DIR/LOCK                    locked (flock) by the one process that has the directory open
    DIR/log/log-<first tick>    log segments (tidal.engine.durability.log)
    DIR/checkpoints/CURRENT     the name of the newest complete checkpoint
    DIR/checkpoints/ckpt-<tick> one checkpoint (tidal.engine.durability.checkpoints)

The directory is created with mode 0700: its log holds every row written to a table.
"""

from __future__ import annotations

import fcntl
import json
import os
import pathlib

from tidal.catalog.sqlstate import OBJECT_NOT_IN_PREREQUISITE_STATE, TidalError

FORMAT_VERSION = 1


class DurabilityError(TidalError):
    """The data directory cannot be opened, written or recovered."""

    sqlstate = OBJECT_NOT_IN_PREREQUISITE_STATE


class DataDir:
    """An open data directory, locked against other processes until ``close``."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = pathlib.Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise DurabilityError(f"data directory {self.path}: it is a file, not a directory")
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = self._take_lock()
        try:
            self._check_format()
            self.log_dir.mkdir(exist_ok=True)
            self.checkpoint_dir.mkdir(exist_ok=True)
        except BaseException:
            self.close()
            raise

    @property
    def log_dir(self) -> pathlib.Path:
        return self.path / "log"

    @property
    def checkpoint_dir(self) -> pathlib.Path:
        return self.path / "checkpoints"

    def _take_lock(self) -> int:
        fd = os.open(self.path / "LOCK", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DurabilityError(
                f"data directory {self.path} is in use by another tidal process (pid {holder}); "
                "stop it first, or use another directory"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd

    def _check_format(self) -> None:
        marker = self.path / "FORMAT"
        if not marker.exists():
            write_durably(marker, json.dumps({"format": FORMAT_VERSION}).encode())
            return
        try:
            found = json.loads(marker.read_text())["format"]
        except (ValueError, KeyError, TypeError):
            raise DurabilityError(
                f"data directory {self.path}: FORMAT is unreadable; is this a tidal data directory?"
            ) from None
        if not isinstance(found, int) or found > FORMAT_VERSION:
            raise DurabilityError(
                f"data directory {self.path} was written by a newer tidal (format {found}); "
                f"this tidal reads format {FORMAT_VERSION}: upgrade tidal to open it"
            )

    def close(self) -> None:
        if self._lock >= 0:
            os.close(self._lock)  # closing the descriptor releases the flock
            self._lock = -1


def write_durably(path: pathlib.Path, data: bytes) -> None:
    """Write a small file so that after a crash it holds ``data`` or its earlier content:
    into a temporary file, fsynced, renamed over ``path``, the directory fsynced."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    fsync_directory(path.parent)


def fsync_directory(path: pathlib.Path) -> None:
    """Make the names in a directory (files created, renamed, removed) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
