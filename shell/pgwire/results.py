"""What running one statement gives a session (rows with their command tag, or just a tag), and
what a statement that streams (COPY) writes to as it goes.

The router answers ``LATER`` for a statement that cannot be answered at once: the protocol then
asks the driver to run it, and waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

LATER = object()  # run_now's answer for a statement that must wait


@dataclass
class Rows:
    """A result set: ``table`` (its columns are the RowDescription) and the CommandComplete tag
    sent after the last row (None: ``SELECT <rows sent>``)."""

    table: pa.Table
    tag: str | None = None
    binary: bool = False  # rows of a BINARY cursor go out in binary even in a simple query


Outcome = Rows | str | None  # rows, a command tag, or None for an empty query


def single_column(
    name: str, values: list, kind: pa.DataType | None = None, tag: str | None = None
) -> Rows:
    return Rows(pa.table({name: pa.array(values, kind or pa.string())}), tag)


class Output(Protocol):
    """Where a statement that streams its result (COPY) writes while it runs."""

    def copy_out(self, start: bytes) -> None:
        """Send CopyOutResponse (``start``): the session is in COPY OUT until copy_out_done."""

    def send(self, data: bytes) -> None:
        """Send CopyData messages."""

    def copy_out_done(self, end: bytes) -> None:
        """Send CopyDone (``end``): the COPY is over."""

    async def flush(self) -> None:
        """Write what is buffered, and wait while the client does not read."""

    def check_interrupted(self) -> None:
        """Raise if the client left, or asked to cancel the running statement."""
