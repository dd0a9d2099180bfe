"""What running one statement gives a session: rows with their command tag, or just a tag."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass
class Rows:
    """A result set: ``table`` (its columns are the RowDescription) and the CommandComplete tag
    sent after the last row (None: ``SELECT <rows sent>``)."""

    table: pa.Table
    tag: str | None = None
    binary: bool = False  # rows of a BINARY cursor go out in binary even in a simple query


def one_row(**columns: tuple[object, pa.DataType]) -> Rows:
    """A single-row result: ``one_row(version=("PostgreSQL ...", pa.string()))``."""
    return Rows(pa.table({k: pa.array([v], t) for k, (v, t) in columns.items()}))


def single_column(
    name: str, values: list, kind: pa.DataType | None = None, tag: str | None = None
) -> Rows:
    return Rows(pa.table({name: pa.array(values, kind or pa.string())}), tag)
