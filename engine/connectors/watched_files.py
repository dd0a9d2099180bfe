"""The files a file source watches: listing its path, and telling one file from another.

A file is followed by its identity, not its name: the device and inode it lives on, checked
against a checksum of its first bytes (``head_checksum``, up to ``HEAD_BYTES`` of what was
read). The inode alone is not enough: a file system hands the inode of a removed file to the
next file created, so a log removed and written again under its name usually keeps its inode.

>>> import tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "b.csv").write_text("id\\n1\\n"), (folder / "a.csv").write_text("id\\n")
>>> _ = (folder / ".a.csv.swp").write_text(""), (folder / "x.json").write_text("")
>>> watched = WatchedPath("s", "in/", folder, (".csv",))
>>> [(f.name, watched.display(f.name)) for f in watched.files()]
[('a.csv', 'in/a.csv'), ('b.csv', 'in/b.csv')]
>>> head_checksum(folder / "b.csv", 3) == head_checksum(folder / "a.csv", 3), head_checksum(folder / "a.csv", 9)
(True, None)
"""

from __future__ import annotations

import os
import pathlib
import zlib
from typing import NamedTuple

from tidal.engine.connectors.base import ConnectorError, names_a_directory

HEAD_BYTES = 1024  # the first bytes kept as a checksum to tell a file from a reused inode


class Listed(NamedTuple):
    """A file found in the watched path, with what ``stat`` said of it when it was listed."""

    name: str
    path: str  # not a pathlib.Path: building one per file per poll was most of a poll's time
    stat: os.stat_result

    @property
    def identity(self) -> tuple[int, int]:
        """(device, inode): the file whatever its name."""
        return (self.stat.st_dev, self.stat.st_ino)

    @property
    def signature(self) -> tuple[int, int, int, int]:
        """Identity, size and modification time: changes when the file does."""
        return (self.stat.st_dev, self.stat.st_ino, self.stat.st_size, self.stat.st_mtime_ns)


class WatchedPath:
    """One file, or the files of a directory (not recursive) with the format's suffixes,
    skipping names that start with ``.`` or ``_`` (temporary files, ``_SUCCESS`` markers)."""

    def __init__(
        self, source: str, path_option: str, path: pathlib.Path, suffixes: tuple[str, ...]
    ) -> None:
        self._source, self._path_option, self._path = source, path_option, path
        self._suffixes = suffixes

    def is_directory(self) -> bool:
        return names_a_directory(self._path_option) or self._path.is_dir()

    def exists(self) -> bool:
        return self._path.exists()

    def files(self) -> list[Listed]:
        """The files now, in name order (a directory named with '/' may not exist yet)."""
        if not self.is_directory():
            try:
                return [Listed(self._path.name, str(self._path), self._path.stat())]
            except FileNotFoundError:
                raise self.missing() from None
        if not self._path.exists():
            if names_a_directory(self._path_option):
                return []  # a directory named with a trailing '/' may be created later
            raise self.missing()
        if not self._path.is_dir():
            raise ConnectorError(
                f"source {self._source}: path '{self._path_option}' is a file, "
                "not a directory: remove the trailing '/'"
            )
        found = []
        for entry in os.scandir(self._path):
            if entry.name.startswith((".", "_")) or not entry.name.lower().endswith(self._suffixes):
                continue
            try:
                if entry.is_file():
                    found.append(Listed(entry.name, entry.path, entry.stat()))
            except FileNotFoundError:  # removed while listing
                continue
        return sorted(found)

    def find(self, name: str, device: int, inode: int) -> pathlib.Path | None:
        """The file with this identity: under ``name``, or renamed within its directory (any
        name there: a single file rotated to ``app.log.1`` is found too, for replay)."""
        path = self.file_path(name)
        if _has_identity(path, device, inode):
            return path
        folder = path.parent
        if not folder.is_dir():
            return None
        renamed = (folder / e.name for e in os.scandir(folder) if e.inode() == inode)
        return next((p for p in renamed if _has_identity(p, device, inode)), None)

    def file_path(self, name: str) -> pathlib.Path:
        """The path of a file named in a position."""
        return self._path / name if self.is_directory() else self._path

    def display(self, name: str) -> str:
        """How messages name a file: the path as the user wrote it, plus the file's name."""
        if self.is_directory():
            return self._path_option.rstrip("/" + os.sep) + "/" + name
        return self._path_option

    def missing(self) -> ConnectorError:
        return ConnectorError(
            f"source {self._source}: path '{self._path_option}' does not exist "
            f"(looked for {self._path}); end it with '/' for a directory that is created later"
        )


def _has_identity(path: pathlib.Path, device: int, inode: int) -> bool:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return False
    return (stat.st_dev, stat.st_ino) == (device, inode)


def head_checksum(path: str | pathlib.Path, size: int) -> int | None:
    """The crc32 of the file's first ``size`` bytes; None if it has fewer (or is gone)."""
    try:
        with open(path, "rb") as file:
            head = file.read(size)
    except FileNotFoundError:
        return None
    return zlib.crc32(head) if len(head) == size else None
