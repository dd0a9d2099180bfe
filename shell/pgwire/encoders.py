"""Arrow columns and rows encoded for the wire, with the encoders of types.py: each column's
encoder is chosen once per result, not once per value.

    >>> encode_column(pa.array([1, None]), 0, Context())
    [b'1', None]
    >>> encode_column(pa.array([1e15, 0.1, float("nan")]), 0, Context())
    [b'1e+15', b'0.1', b'NaN']
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from tidal.shell.pgwire.pg_types import Context, pg_type


def encode_column(
    column: pa.Array | pa.ChunkedArray, binary: int, ctx: Context
) -> list[bytes | None]:
    """Every value of ``column`` encoded (``binary``: 1 for binary format), None for NULL."""
    if isinstance(column, pa.ChunkedArray):
        chunks = column.num_chunks
        if chunks == 1:
            column = column.chunk(0)
        else:
            column = column.combine_chunks() if chunks else pa.array([], column.type)
    return column_encoder(column.type, binary == 1)(column, ctx)


def column_encoder(arrow_type: pa.DataType, binary: bool) -> Callable[[pa.Array, Context], list]:
    """The function that encodes an array of ``arrow_type``, each value or None for NULL."""
    if pa.types.is_dictionary(arrow_type):
        values = column_encoder(arrow_type.value_type, binary)
        return lambda array, ctx: values(array.dictionary_decode(), ctx)
    kind = pg_type(arrow_type)
    encode, prepare = (kind.binary if binary else kind.text), kind.prepare

    def column(array: pa.Array, ctx: Context) -> list[bytes | None]:
        if not array.null_count:
            return [encode(v, ctx) for v in prepare(array)]
        return [None if v is None else encode(v, ctx) for v in prepare(array)]

    return column


class RowEncoder:
    """Encodes the rows of tables with one schema in given formats (1: binary, per column).
    Each column's encoder is chosen once, so a result of a row or two costs little more than
    its values; a session keeps the last one for the next result."""

    def __init__(self, schema: pa.Schema, formats: list[int]) -> None:
        self.schema = schema
        self.formats = formats
        self._columns = [column_encoder(f.type, code == 1) for f, code in zip(schema, formats)]

    def fits(self, schema: pa.Schema, formats: list[int]) -> bool:
        return formats == self.formats and schema == self.schema

    def rows(self, table: pa.Table, ctx: Context) -> list[tuple[bytes | None, ...]]:
        if not self._columns:
            return [()] * table.num_rows
        rows = []
        for batch in table.to_batches():
            columns = [encode(batch.column(i), ctx) for i, encode in enumerate(self._columns)]
            rows.extend(zip(*columns))
        return rows
