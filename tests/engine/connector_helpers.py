"""Helpers shared by the connector tests: catalog sources over files, and draining readers."""

from __future__ import annotations

import pyarrow as pa

from tidal.catalog.objects import Column, Source
from tidal.engine.connectors import open_source

COLUMNS = (
    Column("id", "INTEGER"),
    Column("ts", "TIMESTAMP"),
    Column("amount", "DECIMAL(10,2)"),
    Column("name", "VARCHAR"),
)


def source(columns=COLUMNS, **options: str) -> Source:
    return Source("s", tuple(columns), options=tuple(options.items()))


def file_source(tmp_path, path: str, fmt: str, columns=COLUMNS, **options: str):
    return open_source(
        source(columns, connector="file", path=path, format=fmt, **options), tmp_path
    )


def rows(table: pa.Table | None) -> list[dict]:
    return [] if table is None else table.to_pylist()


def drain(reader, max_rows: int = 1000) -> list[dict]:
    out = []
    while (table := reader.poll(max_rows)) is not None:
        out += rows(table)
    return out
