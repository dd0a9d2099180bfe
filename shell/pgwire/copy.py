"""``COPY (...) TO STDOUT``: a query's rows, or a subscription's changes without end.

Rows go out in PostgreSQL's COPY formats: ``text`` (the default: tab-separated, ``\\N`` for
NULL, backslash escapes), ``csv`` and ``binary``. A subscription's rows carry Materialize's
columns first: ``mz_timestamp`` (the tick), ``mz_progressed`` (only WITH (PROGRESS)),
``mz_diff`` (+1 or -1), then the relation's columns.

    >>> fmt = CopyFormat.parse("")
    >>> fmt.rows(pa.table({"a": [1, None], "b": ["x\\ty", "z"]}), Context())
    [b'1\\tx\\\\ty\\n', b'\\\\N\\tz\\n']
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tidal.catalog.sqlstate import FEATURE_NOT_SUPPORTED, INVALID_PARAMETER_VALUE, SYNTAX_ERROR
from tidal.engine.subscriptions import Subscription, Update
from tidal.shell.pgwire import codec
from tidal.shell.pgwire.encoders import encode_column
from tidal.shell.pgwire.error_responses import ServerError
from tidal.shell.pgwire.pg_types import Context

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
_OPTION = re.compile(r"\s*(\w+)(?:\s+('(?:[^']|'')*'|\w+))?\s*(?:,|$)")


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
    def parse(options: str) -> CopyFormat:
        """COPY's options: ``(FORMAT csv, HEADER true, DELIMITER ',', NULL '')``, or the old
        spelling ``WITH CSV HEADER`` / ``BINARY``."""
        text = options.strip()
        if text.upper().startswith("WITH"):
            text = text[4:].strip()
        if text.startswith("(") and text.endswith(")"):
            return CopyFormat._options(text[1:-1])
        words = text.upper().split()
        kind = "csv" if "CSV" in words else "binary" if "BINARY" in words else "text"
        extra = set(words) - {"CSV", "BINARY", "HEADER"}
        if extra:
            raise ServerError(f"COPY option {min(extra)} is not supported", SYNTAX_ERROR)
        return CopyFormat._make(kind, "HEADER" in words, None, None)

    @staticmethod
    def _options(text: str) -> CopyFormat:
        values: dict[str, str] = {}
        position = 0
        while position < len(text.strip()):
            option = _OPTION.match(text, position)
            if option is None or option.end() == position:
                raise ServerError(f"syntax error in COPY options ({text})", SYNTAX_ERROR)
            raw = option.group(2) or "true"
            values[option.group(1).lower()] = (
                raw[1:-1].replace("''", "'") if raw.startswith("'") else raw.lower()
            )
            position = option.end()
        unknown = set(values) - {"format", "header", "delimiter", "null"}
        if unknown:
            raise ServerError(f"COPY option {min(unknown)} is not supported", FEATURE_NOT_SUPPORTED)
        kind = values.get("format", "text")
        header = values.get("header", "false") in ("true", "on", "1")
        return CopyFormat._make(kind, header, values.get("delimiter"), values.get("null"))

    @staticmethod
    def _make(kind: str, header: bool, delimiter: str | None, null: str | None) -> CopyFormat:
        if kind not in ("text", "csv", "binary"):
            raise ServerError(f'COPY format "{kind}" not recognized', INVALID_PARAMETER_VALUE)
        csv = kind == "csv"
        delimiter = delimiter if delimiter is not None else ("," if csv else "\t")
        if len(delimiter) != 1:
            raise ServerError(
                "COPY delimiter must be a single one-byte character", INVALID_PARAMETER_VALUE
            )
        null = null if null is not None else ("" if csv else "\\N")
        return CopyFormat(kind, header, delimiter, null)

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


def subscription_schema(subscription: Subscription) -> pa.Schema:
    """The columns a subscription's rows go out with (Materialize's layout)."""
    fields = [pa.field("mz_timestamp", pa.int64())]
    if subscription.progress:
        fields.append(pa.field("mz_progressed", pa.bool_()))
    fields.append(pa.field("mz_diff", pa.int64()))
    return pa.schema(fields + list(subscription.schema)[:-1])


def subscription_rows(subscription: Subscription, update: Update) -> pa.Table:
    """One update as rows in ``subscription_schema`` (a progress update is one row whose
    ``mz_progressed`` is true and whose other columns are NULL)."""
    schema = subscription_schema(subscription)
    if update.rows is None:
        arrays = [pa.array([update.tick], pa.int64()), pa.array([True])]
        arrays += [pa.nulls(1, f.type) for f in list(schema)[2:]]
        return pa.Table.from_arrays(arrays, schema=schema)
    rows = update.rows
    n = rows.num_rows
    arrays = [pa.array(np.full(n, update.tick, dtype=np.int64))]
    if subscription.progress:
        arrays.append(pa.array(np.zeros(n, dtype=bool)))
    arrays.append(rows.column(rows.num_columns - 1))
    arrays += rows.columns[:-1]
    return pa.Table.from_arrays(arrays, schema=schema)


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
