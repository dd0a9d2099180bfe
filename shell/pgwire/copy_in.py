"""``COPY table FROM STDIN``: the client sends the rows (psql's ``\\copy``, psycopg's
``cursor.copy()``), as PostgreSQL's protocol has it.

The server answers the Query with CopyInResponse; the client sends CopyData messages, then
CopyDone (or CopyFail to give up); the server loads the rows in one tick and completes with
``COPY n``, after a warning (NoticeResponse) for each line it left out (tidal.engine.copy_from). Flush and Sync in between are ignored, any other message ends the COPY with a
protocol violation. This is a job of the simple query (protocol.py): it asks the driver for
each next message of the client (``ReadCopyData``) and, at CopyDone, to load the data
(``RunCopy``). Over pgwire only STDIN is allowed: ``COPY ... FROM 'file'`` would read the
server's files (42501).

    >>> job = receive(CopyIn(prepared=None, start=b"G..."), lambda data: None)
    >>> next(job) is READ_COPY_DATA
    True
    >>> job.send(codec.CopyData(b"1\\n")) is READ_COPY_DATA
    True
    >>> job.send(codec.CopyDone())
    RunCopy(prepared=None, data=b'1\\n')
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Generator
from dataclasses import dataclass

from tidal.catalog.sqlstate import PROTOCOL_VIOLATION, QUERY_CANCELED, WARNING
from tidal.shell.pgwire import codec
from tidal.shell.pgwire.error_responses import ServerError


@dataclass(frozen=True)
class CopyIn:
    """A COPY FROM STDIN ready to take the client's rows: ``start`` is its CopyInResponse."""

    prepared: object
    start: bytes


@dataclass(frozen=True, slots=True)
class ReadCopyData:
    """Resume with the client's next message (CopyData, CopyDone, CopyFail or another)."""


READ_COPY_DATA = ReadCopyData()


@dataclass(frozen=True, slots=True)
class RunCopy:
    """Load ``data`` into the table of ``prepared`` (router.Router.copy_in); resume with the
    command tag and the lines left out."""

    prepared: object
    data: bytes


def copy_in_response(columns: int) -> bytes:
    """CopyInResponse for text rows of ``columns`` columns."""
    return codec.message(b"G", struct.pack(f"!bh{columns}h", 0, columns, *([0] * columns)))


def receive(copy: CopyIn, send: Callable[[bytes], None]) -> Generator[object, object, str]:
    """The client's rows, then the load: returns the COPY's command tag."""
    send(copy.start)
    parts: list[bytes] = []
    while True:
        message = yield READ_COPY_DATA
        if isinstance(message, codec.CopyData):
            parts.append(message.data)
        elif isinstance(message, codec.CopyDone):
            break
        elif isinstance(message, codec.CopyFail):
            raise ServerError(f"COPY from stdin failed: {message.message}", QUERY_CANCELED)
        elif not isinstance(message, (codec.Flush, codec.Sync)):
            raise ServerError(
                f"unexpected message {type(message).__name__} during COPY FROM STDIN",
                PROTOCOL_VIOLATION,
            )
    tag, left_out = yield RunCopy(copy.prepared, b"".join(parts))
    for line in left_out:  # bad rows are left out, as the file source does: said as warnings
        send(codec.notice_response(WARNING, line))
    return tag
