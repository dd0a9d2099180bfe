"""``COPY (...) TO STDOUT``: a query's rows, or a subscription's changes without end.

Rows go out in PostgreSQL's COPY formats: ``text`` (the default: tab-separated, ``\\N`` for
NULL, backslash escapes), ``csv`` and ``binary``. A subscription's rows carry Materialize's
columns first (see subscription_feed.py).

    >>> fmt = CopyFormat()
    >>> fmt.rows(pa.table({"a": [1, None], "b": ["x\\ty", "z"]}), Context())
    [b'1\\tx\\\\ty\\n', b'\\\\N\\tz\\n']
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pyarrow as pa

from tidal.catalog.sqlstate import CONFIGURATION_LIMIT_EXCEEDED
from tidal.engine.subscriptions import Subscription
from tidal.shell.pgwire import codec
from tidal.shell.pgwire.encoders import encode_column
from tidal.shell.pgwire.error_responses import ServerError
from tidal.shell.pgwire.pg_types import Context
from tidal.shell.pgwire.results import Output
from tidal.shell.pgwire.subscription_feed import (
    WAIT_SLICE,
    Waiter,
    subscription_rows,
    subscription_schema,
)
from tidal.sql.cursor_statements import CopyToStdout

_TEXT_ESCAPES = {
    ord("\\"): "\\\\",
    ord("\t"): "\\t",
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\b"): "\\b",
    ord("\f"): "\\f",
    ord("\v"): "\\v",
}
BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
BINARY_TRAILER = struct.pack("!h", -1)


@dataclass(frozen=True)
class CopyFormat:
    kind: str = "text"  # text, csv or binary
    header: bool = False
    delimiter: str = "\t"
    null: str = "\\N"

    @property
    def binary(self) -> bool:
        return self.kind == "binary"

    @staticmethod
    def of(statement: CopyToStdout | None) -> CopyFormat:
        """The format a parsed ``COPY ... TO STDOUT`` asks for (None: bare SUBSCRIBE, text);
        the dialect has checked the options' names and values."""
        if statement is None:
            return CopyFormat()
        kind = statement.option("format") or "text"
        csv = kind == "csv"
        header = (statement.option("header") or "false") in ("true", "on", "1")
        delimiter = statement.option("delimiter")
        null = statement.option("null")
        return CopyFormat(
            kind,
            header,
            delimiter if delimiter is not None else ("," if csv else "\t"),
            null if null is not None else ("" if csv else "\\N"),
        )

    def rows(self, table: pa.Table, ctx: Context) -> list[bytes]:
        """Each row of ``table`` as one CopyData payload."""
        binary = self.binary
        columns = [encode_column(c, int(binary), ctx) for c in table.columns]
        if binary:
            return [_binary_row(values) for values in zip(*columns)]
        quote = self._csv_value if self.kind == "csv" else self._text_value
        end = "\n"
        return [
            (self.delimiter.join(quote(v) for v in values) + end).encode("utf-8")
            for values in zip(*columns)
        ]

    def _text_value(self, value: bytes | None) -> str:
        if value is None:
            return self.null
        return value.decode("utf-8").translate(_TEXT_ESCAPES)

    def _csv_value(self, value: bytes | None) -> str:
        return self.null if value is None else self._csv_text(value.decode("utf-8"))

    def _csv_text(self, text: str) -> str:
        if text == self.null or any(c in text for c in (self.delimiter, '"', "\n", "\r")):
            return '"' + text.replace('"', '""') + '"'
        return text


def _binary_row(values: tuple[bytes | None, ...]) -> bytes:
    parts = [struct.pack("!h", len(values))]
    for value in values:
        parts.append(
            b"\xff\xff\xff\xff" if value is None else struct.pack("!i", len(value)) + value
        )
    return b"".join(parts)


class CopyOut:
    """The messages of one COPY TO STDOUT: ``start()``, ``rows(...)`` as often as needed,
    ``end()``. One row per CopyData, as PostgreSQL sends them; the binary header rides with the
    first payload."""

    def __init__(self, fmt: CopyFormat, names: list[str]) -> None:
        self.fmt = fmt
        self.names = names
        self.count = 0
        self._prefix = BINARY_HEADER if fmt.binary else b""

    def start(self) -> bytes:
        start = codec.copy_out_response(len(self.names), self.fmt.binary)
        if self.fmt.kind == "csv" and self.fmt.header:
            header = self.fmt.delimiter.join(self.fmt._csv_text(n) for n in self.names) + "\n"
            start += codec.copy_data(header.encode("utf-8"))
        return start

    def rows(self, table: pa.Table, ctx: Context) -> bytes:
        payloads = self.fmt.rows(table, ctx)
        self.count += len(payloads)
        if payloads and self._prefix:
            payloads[0], self._prefix = self._prefix + payloads[0], b""
        return b"".join(codec.copy_data(p) for p in payloads)

    def end(self) -> bytes:
        trailer = self._prefix + BINARY_TRAILER if self.fmt.binary else b""
        return (codec.copy_data(trailer) if trailer else b"") + codec.copy_done()


async def copy_table(out: Output, table: pa.Table, fmt: CopyFormat, ctx: Context) -> str:
    """Send a query's rows as one COPY; returns its command tag."""
    copy = CopyOut(fmt, table.column_names)
    out.copy_out(copy.start())
    for batch in table.to_batches(max_chunksize=4096):
        out.send(copy.rows(pa.Table.from_batches([batch], table.schema), ctx))
        await out.flush()
    out.copy_out_done(copy.end())
    return f"COPY {copy.count}"


async def copy_subscription(
    out: Output, subscription: Subscription, fmt: CopyFormat, ctx: Context, wait: Waiter
) -> str:
    """Stream a subscription until it ends, the client cancels, or the client leaves.
    Each batch is drained before the next is taken: a slow client slows the reading, and the
    subscription's bounded buffer then holds back the sources."""
    copy = CopyOut(fmt, subscription_schema(subscription).names)
    out.copy_out(copy.start())
    await out.flush()
    try:
        updates = await wait(subscription, 0)
        while True:
            for update in updates:
                out.send(copy.rows(subscription_rows(subscription, update), ctx))
            if updates:
                await out.flush()
            elif subscription.closed:
                break
            out.check_interrupted()
            updates = await wait(subscription, WAIT_SLICE)
    finally:
        subscription.close()
    if subscription.error:
        raise ServerError(subscription.error, subscription.sqlstate or CONFIGURATION_LIMIT_EXCEEDED)
    out.copy_out_done(copy.end())
    return f"COPY {copy.count}"
