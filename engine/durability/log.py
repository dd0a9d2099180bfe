"""The log: an append-only file of framed, checksummed records, one per tick.

Each record is ``length (u32) | crc32 of the payload (u32) | crc32 of those 8 bytes (u32) |
payload``, written with one ``write`` call. ``sync`` makes everything written so far durable (fsync); callers that must not
acknowledge before their record is durable call it after releasing the engine's lock, so that
one fsync covers the records of every client that wrote meanwhile (group commit).

Reading stops at a torn tail: a record cut short by a crash in the middle of its write (its
frame or payload runs past the end of the file) was never synced, so never acknowledged, and is
dropped (as are zero bytes to the end, what an operating system crash can leave past the last
synced write). A complete header or record whose checksum does not match is corruption, not a
crash: reading refuses with the file and offset rather than guess what was lost. The header has
its own checksum so that a flipped length is never mistaken for a torn tail.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "log-000000000001"
    >>> log = LogFile.create(path)
    >>> _ = log.append(b"one"), log.append(b"two")
    >>> log.sync(); log.close()
    >>> with open(path, "ab") as f: _ = f.write(frame(b"a longer record")[:20])
    >>> [payload for payload in read_records(path)]
    [b'one', b'two']
"""

from __future__ import annotations

import os
import pathlib
import struct
import threading
import zlib
from collections.abc import Iterator

from tidal.engine.durability.data_dir import DurabilityError, fsync_directory

_FRAME = struct.Struct("<III")
_LENGTH_AND_CRC = struct.Struct("<II")
HEADER_BYTES = _FRAME.size


def frame(payload: bytes) -> bytes:
    """A record as written: header (length, payload checksum, header checksum), payload."""
    head = _LENGTH_AND_CRC.pack(len(payload), zlib.crc32(payload))
    return head + zlib.crc32(head).to_bytes(4, "little") + payload


class LogFile:
    """One segment of the log, open for appending."""

    def __init__(self, path: pathlib.Path, fd: int) -> None:
        self.path = path
        self._fd = fd
        self.written = os.lseek(fd, 0, os.SEEK_END)  # bytes in the file (appended so far)
        self.synced = self.written
        self._sync_lock = threading.Lock()

    @classmethod
    def create(cls, path: pathlib.Path) -> LogFile:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fsync_directory(path.parent)  # the new file's name is durable before any record in it
        return cls(path, fd)

    def append(self, payload: bytes) -> int:
        """Write one record (not yet durable); returns the file's size after it."""
        record = frame(payload)
        written = os.write(self._fd, record)
        if written != len(record):  # a short write to a regular file: the disk is full
            os.ftruncate(self._fd, self.written)
            raise DurabilityError(f"cannot write the log {self.path}: the disk is full")
        self.written += written
        return self.written

    def sync(self, through: int | None = None) -> None:
        """Make the records written so far durable (at least through byte ``through``)."""
        target = self.written if through is None else through
        if self.synced >= target:
            return
        with self._sync_lock:
            if self.synced >= target:  # another caller's fsync covered this record
                return
            end = self.written
            os.fsync(self._fd)
            self.synced = end

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_records(path: pathlib.Path) -> Iterator[bytes]:
    """The payloads of a segment's complete records, in order; a torn tail ends the reading
    and is cut off the file (so that nothing is ever appended after it)."""
    data = path.read_bytes()
    offset = 0
    while offset < len(data):
        if offset + _FRAME.size > len(data):
            break
        length, crc, header_crc = _FRAME.unpack_from(data, offset)
        if zlib.crc32(data[offset : offset + 8]) != header_crc:
            if data.count(0, offset) == len(data) - offset:
                break  # never written: zeros an operating system crash left past the last sync
            raise _corrupt(path, offset, "a record's header")
        start, end = offset + _FRAME.size, offset + _FRAME.size + length
        if end > len(data):
            break  # torn: the crash came in the middle of this record's write
        payload = data[start:end]
        if zlib.crc32(payload) != crc:
            raise _corrupt(path, offset, "a complete record")
        yield payload
        offset = end
    if offset < len(data):
        os.truncate(path, offset)


def _corrupt(path: pathlib.Path, offset: int, what: str) -> DurabilityError:
    return DurabilityError(
        f"log {path.name} is corrupt at byte {offset}: the checksum of {what} does not match "
        "(not a torn write). The data directory cannot be recovered safely past this point; "
        "restore it from a backup"
    )
