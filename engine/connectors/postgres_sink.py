"""Sink ``postgres``: a view's changes applied to a PostgreSQL table, each tick exactly once.

``CREATE SINK s FROM v WITH (connector = 'postgres', url = 'postgresql://user:pw@host:port/db',
table = 'schema.table', type = 'upsert' | 'append-only', primary_key = 'a,b')``.

The writer ``stages``: a tick's changes are kept until the tick is durable, then ``publish``
applies them in one PostgreSQL transaction: COPY into a temporary staging table, the deleted
keys deleted, the new rows inserted with ``INSERT ... ON CONFLICT (key) DO UPDATE``, and the
progress row ``(sink, run, tick)`` of ``tidal_sink_progress`` advanced, all committed together
(Materialize's and Flink's pattern). A tick replayed after a crash whose number the progress row
already holds was applied before and is skipped. ``run`` is drawn when the sink is created and
kept in checkpoints: a database without a data directory starts a new run at every start, and
writes everything again.

In ``upsert`` mode a key with only a retraction in a tick is deleted; a key with an insertion
is upserted. ``append-only`` inserts every insertion, and a retraction is an error (or dropped
with ``force_append_only = 'true'``, as in RisingWave).
"""

from __future__ import annotations

import urllib.parse

import pyarrow as pa
import pyarrow.compute as pc

from tidal.catalog import types
from tidal.catalog.objects import Column, Sink
from tidal.engine.connectors.base import (
    ConnectorError,
    StagingWriter,
    canonical_options,
    check_known,
    choice,
    flag,
    required,
    sink_key,
)
from tidal.engine.connectors.postgres_connection import (
    close_quietly,
    connect,
    driver,
    qualified,
    quote,
)
from tidal.engine.connectors.postgres_types import (
    COLUMNS_QUERY,
    COPY_OPTIONS,
    check_columns,
    encode_copy,
)
from tidal.engine.zset import WEIGHT, expand

OPTIONS = {
    "connector",
    "url",
    "table",
    "type",
    "primary_key",
    "force_append_only",
    "progress_table",
}
TYPES = {"upsert": "upsert", "append-only": "append-only", "append_only": "append-only"}
_STAGE = "tidal_stage"
_DELETE = "__tidal_delete"


def open_postgres_sink(sink: Sink, schema: pa.Schema, key_columns: list[str], _base_dir):
    what = f"sink {sink.name} (connector 'postgres')"
    options = canonical_options(what, sink.options)
    check_known(what, options, OPTIONS)
    url = required(what, options, "url", "postgresql://user:password@host:port/database")
    if urllib.parse.urlsplit(url).scheme not in ("postgresql", "postgres"):
        raise ConnectorError(f"{what}: url must start with postgresql://")
    table = required(what, options, "table", "the table to write, schema.table or table")
    mode = choice(what, options, "type", TYPES)
    key = sink_key(what, options, schema, key_columns, mode, sink.source or "the query")
    return PostgresSinkWriter(
        what,
        sink.name,
        url,
        table,
        schema,
        mode,
        key,
        flag(what, options, "force_append_only", False),
        options.get("progress_table", "tidal_sink_progress"),
    )


class PostgresSinkWriter(StagingWriter):
    def __init__(
        self, what, name, url, table, schema, mode, key, force_append_only, progress_table
    ) -> None:
        super().__init__(what, mode, force_append_only)
        self.name, self.url, self.schema, self.key = name, url, schema, key
        self.table = qualified(table)
        self.progress_table = qualified(progress_table)
        self._connection = None

    # --- SinkWriter -------------------------------------------------------------------------------

    def validate(self) -> None:
        """The target table exists with the view's columns (and a unique key on the sink's
        key in upsert mode); the progress table is created if missing."""
        connection = self._connect()
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", (self.table,))
            if cursor.fetchone()[0] is None:
                raise ConnectorError(
                    f"{self.what}: table {self.table} does not exist; create "
                    "it with the view's columns first"
                )
            cursor.execute(COLUMNS_QUERY, (self.table,))
            found = cursor.fetchall()
        connection.rollback()
        written = [Column(f.name, types.from_arrow(f.type)) for f in self.schema]
        check_columns(self.what, found, written, writing=True)
        self._ensure_progress_table()

    def publish(self) -> None:
        while self.staged:
            tick, changes = self.staged[0]
            try:
                self._apply(tick, changes)
            except driver().Error as error:
                self._drop_connection()
                raise ConnectorError(
                    f"{self.what}: tick {tick} could not be written (kept for the next try): "
                    f"{str(error).strip()}"
                ) from None
            self.staged.pop(0)

    def close(self) -> None:
        self._drop_connection()

    # --- one tick, one transaction ----------------------------------------------------------------

    def _apply(self, tick: int, changes: pa.Table) -> None:
        connection = self._connect()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT run, tick FROM {self.progress_table} WHERE sink = %s FOR UPDATE",
                (self.name,),
            )
            found = cursor.fetchone()
            if found is not None and found[0] == self.run and found[1] >= tick:
                connection.rollback()  # published before a crash: not again
                return
            if self.mode == "append-only":
                self._copy(cursor, self.table, expand(changes))
            else:
                self._upsert(cursor, changes)
            cursor.execute(
                f"INSERT INTO {self.progress_table} (sink, run, tick) VALUES (%s, %s, %s) "
                "ON CONFLICT (sink) DO UPDATE SET run = EXCLUDED.run, tick = EXCLUDED.tick",
                (self.name, self.run, tick),
            )
        connection.commit()

    def _upsert(self, cursor, changes: pa.Table) -> None:
        inserted = changes.filter(pc.greater(changes.column(WEIGHT), 0))
        deleted = changes.filter(pc.less(changes.column(WEIGHT), 0)).select(self.key)
        # A key retracted and inserted in one tick is an update: the upsert does it.
        deleted = deleted.join(inserted.select(self.key), self.key, join_type="left anti")
        rows = pa.concat_tables(
            [
                inserted.drop_columns([WEIGHT]).append_column(
                    _DELETE, pa.array([False] * inserted.num_rows, pa.bool_())
                ),
                _padded(deleted, self.schema).append_column(
                    _DELETE, pa.array([True] * deleted.num_rows, pa.bool_())
                ),
            ]
        )
        columns = ", ".join(quote(n) for n in self.schema.names)
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} AS SELECT {columns}, false AS {_DELETE} "
            f"FROM {self.table} WITH NO DATA"
        )
        cursor.execute(f"TRUNCATE {_STAGE}")
        self._copy(cursor, _STAGE, rows)
        match = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in self.key)
        cursor.execute(f"DELETE FROM {self.table} t USING {_STAGE} s WHERE s.{_DELETE} AND {match}")
        others = [n for n in self.schema.names if n not in self.key]
        keys = ", ".join(quote(k) for k in self.key)
        action = (
            "DO UPDATE SET " + ", ".join(f"{quote(n)} = EXCLUDED.{quote(n)}" for n in others)
            if others
            else "DO NOTHING"
        )
        cursor.execute(
            f"INSERT INTO {self.table} ({columns}) SELECT {columns} FROM {_STAGE} "
            f"WHERE NOT {_DELETE} ON CONFLICT ({keys}) {action}"
        )

    def _copy(self, cursor, table: str, rows: pa.Table) -> None:
        if not rows.num_rows:
            return
        columns = ", ".join(quote(n) for n in rows.column_names)
        # One chunk each: pyarrow 26's CSV writer writes garbage (NUL bytes) for a table
        # whose first chunk is empty.
        data = encode_copy(rows.combine_chunks())
        cursor.copy_expert(
            f"COPY {table} ({columns}) FROM STDIN ({COPY_OPTIONS})",
            _Reader(data),
        )

    # --- the connection ---------------------------------------------------------------------------

    def _connect(self):
        if self._connection is None or self._connection.closed:
            self._connection = connect(self.what, dsn=self.url)
        return self._connection

    def _ensure_progress_table(self) -> None:
        connection = self._connect()
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.progress_table} (sink TEXT PRIMARY KEY, "
                "run TEXT NOT NULL, tick BIGINT NOT NULL)"
            )
        connection.commit()

    def _drop_connection(self) -> None:
        close_quietly(self._connection)
        self._connection = None


class _Reader:
    """The bytes of a COPY, as the file-like object psycopg2's copy_expert reads."""

    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.offset + size
        chunk = self.data[self.offset : end]
        self.offset += len(chunk)
        return chunk

    readline = read


def _padded(keys: pa.Table, schema: pa.Schema) -> pa.Table:
    """Key columns with NULLs for the other columns of ``schema``."""
    return pa.table(
        {
            f.name: keys.column(f.name)
            if f.name in keys.column_names
            else pa.nulls(keys.num_rows, f.type)
            for f in schema
        }
    )
