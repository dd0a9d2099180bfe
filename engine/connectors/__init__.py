"""Connectors: where sources get their rows and where sinks put their changes.

``open_source`` and ``open_sink`` pick the connector named by the ``connector`` option and check
the rest of the options at once; docs/connectors.md lists every connector and option. Adding a
connector is one module with an ``open_*`` function and one entry in the tables below.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import pyarrow as pa

from tidal.catalog.objects import Sink, Source, Table
from tidal.engine.connectors.base import (
    OP,
    TRUNCATE,
    UPSERT,
    ConnectorError,
    SinkWriter,
    SourceReader,
)
from tidal.engine.connectors.blackhole import open_blackhole
from tidal.engine.connectors.datagen import open_datagen
from tidal.engine.connectors.file_sink import open_file_sink
from tidal.engine.connectors.file_source import open_file_source
from tidal.engine.connectors.nexmark import open_nexmark
from tidal.engine.connectors.postgres_cdc import open_postgres_cdc
from tidal.engine.connectors.postgres_sink import open_postgres_sink

__all__ = [
    "OP",
    "PUSHED_CONNECTORS",
    "TRUNCATE",
    "UPSERT",
    "ConnectorError",
    "SinkWriter",
    "SourceReader",
    "open_sink",
    "open_source",
]

# Connectors of tables whose rows are pushed in through the DML path (a webhook's requests),
# so no reader polls them.
PUSHED_CONNECTORS = frozenset({"webhook"})

SOURCE_CONNECTORS: dict[str, Callable[[Source | Table, pathlib.Path], SourceReader]] = {
    "datagen": open_datagen,
    "file": open_file_source,
    "nexmark": open_nexmark,
    "postgres-cdc": open_postgres_cdc,
}
SINK_CONNECTORS: dict[str, Callable[[Sink, pa.Schema, list[str], pathlib.Path], SinkWriter]] = {
    "blackhole": open_blackhole,
    "file": open_file_sink,
    "postgres": open_postgres_sink,
}


def open_source(source: Source | Table, base_dir: pathlib.Path) -> SourceReader:
    """A reader for ``source`` (or a table fed by a connector); relative paths in its options
    resolve against ``base_dir``."""
    opener = _connector(
        f"{source.kind} {source.name}", source.option("connector"), SOURCE_CONNECTORS
    )
    return opener(source, pathlib.Path(base_dir))


def open_sink(
    sink: Sink, schema: pa.Schema, key_columns: list[str], base_dir: pathlib.Path
) -> SinkWriter:
    """A writer for ``sink``, which receives changes of ``schema`` keyed by ``key_columns``.

    ``key_columns`` is the unique key of the view the sink reads (empty if it has none): it
    pairs retractions with insertions into updates, and is required by upsert mode.
    """
    opener = _connector(f"sink {sink.name}", sink.option("connector"), SINK_CONNECTORS)
    return opener(sink, schema, list(key_columns), pathlib.Path(base_dir))


def _connector(what: str, name: str | None, table: dict[str, Callable]) -> Callable:
    valid = ", ".join(f"'{n}'" for n in sorted(table))
    if not name:
        raise ConnectorError(f"{what}: option 'connector' is required; one of: {valid}")
    opener = table.get(name.lower())
    if opener is None:
        raise ConnectorError(f"{what}: connector '{name}' is not supported; use one of: {valid}")
    return opener
