"""Portals: a bound statement and its result, sent in pieces as Execute asks (a row limit,
then PortalSuspended, then the rest), with the row shape its RowDescription promised.

    >>> portal = Portal(None, [], (), rows=pa.table({"n": [1, 2, 3]}))
    >>> writer = RowWriter()
    >>> portal.end_of(2), writer.data_rows(portal, 2, Context()).count(b"D"), portal.completion(0)
    (2, 2, b's\\x00\\x00\\x00\\x04')
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from tidal.catalog.sqlstate import FEATURE_NOT_SUPPORTED, PROTOCOL_VIOLATION
from tidal.shell.pgwire import codec
from tidal.shell.pgwire.encoders import RowEncoder
from tidal.shell.pgwire.error_responses import ServerError
from tidal.shell.pgwire.pg_types import Context, pg_type


@dataclass(slots=True)  # one per Bind
class Portal:
    prepared: object
    values: list
    formats: tuple[int, ...]
    expected: pa.Schema | None = None  # what Describe S promised: results are cast to it
    rows: pa.Table | None = None
    tag: str | None = None
    position: int = 0
    ran: bool = False
    binary: bool = False

    def end_of(self, max_rows: int) -> int:
        """Where an Execute for ``max_rows`` rows (0: all) stops in the rows."""
        rows = self.rows.num_rows
        return rows if max_rows <= 0 else min(rows, self.position + max_rows)

    @property
    def finished(self) -> bool:
        """Whether every row has been sent."""
        return self.position >= self.rows.num_rows

    def completion(self, start: int) -> bytes:
        """After an Execute's rows (from ``start``): PortalSuspended if rows are left, else
        CommandComplete."""
        if not self.finished:
            return codec.portal_suspended()
        return codec.command_complete(self.tag or f"SELECT {self.position - start}")


class RowWriter:
    """DataRow messages for portals' rows. The last result's encoder is kept: the next result
    likely has the same shape (a prepared statement run again)."""

    def __init__(self) -> None:
        self._encoder: RowEncoder | None = None

    def data_rows(self, portal: Portal, end: int, context: Context) -> bytes:
        """The portal's rows up to ``end``, as DataRow messages; the portal moves on to it."""
        table = portal.rows
        codes = portal.formats or ((1,) if portal.binary else ())
        formats = result_formats(codes, table.num_columns)
        encoder = self._encoder
        if encoder is None or not encoder.fits(table.schema, formats):
            encoder = self._encoder = RowEncoder(table.schema, formats)
        chunk = table.slice(portal.position, end - portal.position)
        portal.position = end
        return b"".join(codec.data_row(values) for values in encoder.rows(chunk, context))


def result_formats(codes: tuple[int, ...], columns: int) -> list[int]:
    """Bind's result format codes for each column (none: text; one: for all)."""
    if not codes:
        return [0] * columns
    if len(codes) == 1:
        return [codes[0]] * columns
    if len(codes) != columns:
        raise ServerError(
            f"bind message has {len(codes)} result formats but query has {columns} columns",
            PROTOCOL_VIOLATION,
        )
    return list(codes)


def row_description(schema: pa.Schema, codes: tuple[int, ...]) -> bytes:
    formats = result_formats(codes, len(schema))
    fields = []
    for f, fmt in zip(schema, formats):
        kind = pg_type(f.type)
        fields.append(codec.FieldDescription(f.name, kind.oid, kind.size, fmt))
    return codec.row_description(fields)


def conform(table: pa.Table, schema: pa.Schema | None) -> pa.Table:
    """``table`` with the column types ``schema`` promised (Describe S came first)."""
    if schema is None or table.schema == schema or table.schema.types == schema.types:
        return table
    if table.num_columns != len(schema):
        raise ServerError(
            f"the statement's result has {table.num_columns} columns where its description "
            f"said {len(schema)}: prepare it again",
            FEATURE_NOT_SUPPORTED,
        )
    columns = [c if c.type == f.type else pc.cast(c, f.type) for c, f in zip(table.columns, schema)]
    return pa.Table.from_arrays(columns, names=table.column_names)
