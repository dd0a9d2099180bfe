"""Source ``postgres-cdc``: a PostgreSQL table followed by logical replication (pgoutput).

``CREATE TABLE t (id BIGINT PRIMARY KEY, ...) WITH (connector = 'postgres-cdc', hostname = ...,
port = ..., username = ..., password = ..., "database.name" = ..., "schema.name" = ...,
"table.name" = ..., "slot.name" = ...)``, in RisingWave's spelling.

The first poll takes a consistent snapshot: the replication slot is created with an exported
snapshot, the table is read in that snapshot (one tick), and replication starts at the slot's
consistent point, so that every change after the snapshot arrives exactly once. Then each poll
delivers the transactions committed since, whole: a transaction's inserts, updates (also of
the key), deletes and TRUNCATE apply in one tick, as upserts and deletes by key (``changes =
UPSERT``). The position is the end LSN of the last transaction delivered.

The stream cannot be read again at will, so the reader is ``logged``: the tick log keeps its
rows, and the slot's confirmed position advances (``acknowledge``) only once they are durable.
After a crash, replication restarts from the slot; transactions up to the recovered position
are skipped, so none is applied twice and none is lost.

The pgoutput messages are decoded here (protocol version 1, text values); the values are
turned into Arrow columns by tidal.engine.connectors.postgres_types.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import pyarrow as pa

from tidal.catalog.objects import Source, Table
from tidal.engine.connectors.base import (
    DELETE_ROW,
    OP,
    TRUNCATE,
    UPSERT,
    UPSERT_ROW,
    ConnectorError,
    SourceReader,
    canonical_options,
    check_known,
    flag,
    required,
)
from tidal.engine.connectors.postgres_connection import close_quietly, connect, driver, quote
from tidal.engine.connectors.postgres_types import (
    COLUMNS_QUERY,
    SESSION_OPTIONS,
    check_columns,
    decode,
)

OPTIONS = {
    "connector",
    "hostname",
    "port",
    "username",
    "password",
    "database.name",
    "schema.name",
    "table.name",
    "slot.name",
    "publication.name",
    "publication.create.enable",
}
SNAPSHOT_FETCH_ROWS = 50_000


def open_postgres_cdc(relation: Source | Table, _base_dir) -> SourceReader:
    what = f"{relation.kind} {relation.name} (connector 'postgres-cdc')"
    if not isinstance(relation, Table) or not relation.primary_key:
        raise ConnectorError(
            f"{what}: changes are applied by primary key: declare it with CREATE TABLE "
            f"{relation.name} (..., PRIMARY KEY (...)) WITH (connector = 'postgres-cdc', ...)"
        )
    options = canonical_options(what, relation.options)
    check_known(what, options, OPTIONS)
    return PostgresCdcReader(relation, Upstream.from_options(what, options))


@dataclass(frozen=True)
class Upstream:
    """Where the table is, and the slot and publication that follow it."""

    what: str
    dsn: dict
    schema: str
    table: str
    slot: str
    publication: str
    create_publication: bool
    publication_given: bool

    @classmethod
    def from_options(cls, what: str, options: dict[str, str]) -> Upstream:
        database = required(what, options, "database.name", "the database holding the table")
        table = required(what, options, "table.name", "the table to follow")
        port = options.get("port", "5432")
        if not port.isdigit():
            raise ConnectorError(f"{what}: port = '{port}' must be a number")
        dsn = {
            "host": required(what, options, "hostname", "the PostgreSQL server's host"),
            "port": int(port),
            "user": required(what, options, "username", "a user with the REPLICATION attribute"),
            "password": options.get("password", ""),
            "dbname": database,
            "options": SESSION_OPTIONS,  # values as decode reads them
        }
        slot = options.get("slot.name") or f"tidal_{database}_{table}".lower()
        return cls(
            what,
            dsn,
            options.get("schema.name", "public"),
            table,
            slot,
            options.get("publication.name") or f"{slot}_publication",
            flag(what, options, "publication.create.enable", True),
            "publication.name" in options,
        )

    def connect(self, replication: bool = False):
        return connect(self.what, replication, **self.dsn)

    @property
    def qualified(self) -> str:
        return f"{quote(self.schema)}.{quote(self.table)}"


@dataclass
class _Transaction:
    end_lsn: int = 0
    ops: list[int] = field(default_factory=list)
    rows: list[list[str | None]] = field(default_factory=list)


class PostgresCdcReader(SourceReader):
    changes = UPSERT
    logged = True
    bounded = False

    def __init__(self, table: Table, upstream: Upstream) -> None:
        self.name = table.name
        self.upstream = upstream
        self.columns = [c.name for c in table.columns]
        self.types = [c.type for c in table.columns]
        self.schema = pa.schema([pa.field(c.name, c.arrow_type) for c in table.columns])
        self.key = list(table.primary_key)
        self.errors: list[str] = []
        self.lsn = 0  # the end LSN of the last transaction delivered
        self.started = False  # the snapshot was taken (or the position restored)
        self.acknowledged = 0
        self._stream = None  # the replication connection and cursor, while streaming
        self._relation_id: int | None = None
        self._positions: list[int] = []  # where each declared column is in the stream's rows
        self._open: _Transaction | None = None  # a transaction whose commit has not come yet
        self._ready: list[_Transaction] = []  # committed ones not delivered yet

    # --- checks at CREATE -------------------------------------------------------------------------

    def validate(self) -> None:
        """The table exists upstream with the declared columns and the same primary key."""
        connection = self.upstream.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT to_regclass(%s)", (self.upstream.qualified,))
                if cursor.fetchone()[0] is None:
                    raise ConnectorError(
                        f"{self.upstream.what}: table {self.upstream.schema}."
                        f"{self.upstream.table} does not exist in database "
                        f"{self.upstream.dsn['dbname']}"
                    )
                cursor.execute(COLUMNS_QUERY, (self.upstream.qualified,))
                found = cursor.fetchall()
                check_columns(self.upstream.what, found, self._declared())
                cursor.execute(
                    "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
                    "i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass "
                    "AND i.indisprimary",
                    (self.upstream.qualified,),
                )
                upstream_key = sorted(r[0] for r in cursor.fetchall())
        finally:
            connection.close()
        if upstream_key != sorted(self.key):
            raise ConnectorError(
                f"{self.upstream.what}: the primary key ({', '.join(self.key)}) must be the "
                f"upstream table's ({', '.join(upstream_key) or 'none'}): deletes and updates "
                "name their rows by it"
            )

    def _declared(self):
        from tidal.catalog.objects import Column

        return [Column(n, t) for n, t in zip(self.columns, self.types, strict=True)]

    # --- SourceReader ---------------------------------------------------------------------------

    def poll(self, max_rows: int, drain: bool = False) -> pa.Table | None:
        if not self.started:
            snapshot = self._snapshot()
            self.started = True
            return snapshot
        if self._stream is None:
            self._start_streaming()
        try:
            self._read(max_rows)
        except ConnectorError:
            self._disconnect()
            raise
        except driver().Error as error:  # the connection broke: start again from the slot
            self._disconnect()
            raise ConnectorError(f"{self.upstream.what}: replication stopped: {error}") from None
        if not self._ready:
            return None
        done, self._ready = self._ready, []
        self.lsn = done[-1].end_lsn
        ops = [op for t in done for op in t.ops]
        rows = [row for t in done for row in t.rows]
        return self._table(ops, rows)

    def snapshot(self) -> dict:
        return {"lsn": self.lsn, "started": self.started}

    def restore(self, state: dict) -> None:
        self._disconnect()
        self._open, self._ready = None, []
        self.lsn, self.started = state["lsn"], state["started"]

    def acknowledge(self, position: dict) -> None:
        self.acknowledged = max(self.acknowledged, position["lsn"])
        if self._stream is not None:
            try:
                self._stream[1].send_feedback(flush_lsn=self.acknowledged)
            except driver().Error as error:
                raise ConnectorError(f"{self.upstream.what}: {error}") from None

    def close(self) -> None:
        self._disconnect()

    def discard(self) -> None:
        """DROP TABLE: the slot (which keeps WAL on the server) goes, and the publication if
        tidal made it under its default name."""
        self._disconnect()
        connection = self.upstream.connect()
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                    "WHERE slot_name = %s",
                    (self.upstream.slot,),
                )
                if self.upstream.create_publication and not self.upstream.publication_given:
                    cursor.execute(f"DROP PUBLICATION IF EXISTS {quote(self.upstream.publication)}")
        finally:
            connection.close()

    # --- the snapshot -----------------------------------------------------------------------------

    def _snapshot(self) -> pa.Table:
        """Create the slot with an exported snapshot, read the table in it, and keep the
        replication connection to stream from the slot's consistent point."""
        self._ensure_publication()
        stream = self.upstream.connect(replication=True)
        try:
            cursor = stream.cursor()
            cursor.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                f"WHERE slot_name = '{self.upstream.slot}'"
            )
            cursor.execute(
                f"CREATE_REPLICATION_SLOT {quote(self.upstream.slot)} LOGICAL pgoutput "
                "EXPORT_SNAPSHOT"
            )
            _, consistent_point, snapshot_name, _ = cursor.fetchone()
            ops, rows = self._read_snapshot(snapshot_name)
        except BaseException:
            close_quietly(stream)
            raise
        self.lsn = _lsn(consistent_point)
        self._stream = (stream, cursor)
        self._start(cursor)
        return self._table(ops, rows)

    def _ensure_publication(self) -> None:
        connection = self.upstream.connect()
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                publication = quote(self.upstream.publication)
                cursor.execute(
                    "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = %s), EXISTS "
                    "(SELECT 1 FROM pg_publication_tables WHERE pubname = %s AND schemaname = "
                    "%s AND tablename = %s)",
                    (
                        self.upstream.publication,
                        self.upstream.publication,
                        self.upstream.schema,
                        self.upstream.table,
                    ),
                )
                exists, publishes = cursor.fetchone()
                if publishes:
                    return
                if not self.upstream.create_publication:
                    raise ConnectorError(
                        f"{self.upstream.what}: publication {self.upstream.publication} "
                        f"{'does not publish ' + self.upstream.qualified if exists else 'does not exist'}"
                        " (publication.create.enable = 'false')"
                    )
                # A publication outlives a table dropped and created again, without it.
                verb = (
                    "ALTER PUBLICATION {} ADD TABLE"
                    if exists
                    else "CREATE PUBLICATION {} FOR TABLE"
                )
                cursor.execute(f"{verb.format(publication)} {self.upstream.qualified}")
        finally:
            connection.close()

    def _read_snapshot(self, snapshot_name: str) -> tuple[list[int], list[list[str | None]]]:
        connection = self.upstream.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cursor.execute("SET TRANSACTION SNAPSHOT %s", (snapshot_name,))
            select = ", ".join(f"{quote(c)}::text" for c in self.columns)
            rows: list[list[str | None]] = []
            with connection.cursor(name="tidal_snapshot") as cursor:
                cursor.itersize = SNAPSHOT_FETCH_ROWS
                cursor.execute(f"SELECT {select} FROM {self.upstream.qualified}")
                for row in cursor:
                    rows.append(list(row))
            connection.rollback()
        finally:
            connection.close()
        return [UPSERT_ROW] * len(rows), rows

    # --- the stream -------------------------------------------------------------------------------

    def _start_streaming(self) -> None:
        stream = self.upstream.connect(replication=True)
        cursor = stream.cursor()
        self._stream = (stream, cursor)
        try:
            self._start(cursor)
        except driver().Error as error:
            self._disconnect()
            raise ConnectorError(
                f"{self.upstream.what}: cannot follow slot {self.upstream.slot}: {error}"
            ) from None

    def _start(self, cursor) -> None:
        cursor.start_replication(
            slot_name=self.upstream.slot,
            decode=False,
            start_lsn=self.lsn,
            options={"proto_version": "1", "publication_names": self.upstream.publication},
        )

    def _read(self, max_rows: int) -> None:
        """Decode the messages waiting now; stop at a commit once ``max_rows`` rows are
        ready (a transaction is never split)."""
        cursor = self._stream[1]
        ready_rows = sum(len(t.ops) for t in self._ready)
        while ready_rows < max_rows:
            message = cursor.read_message()
            if message is None:
                return
            committed = self._decode(bytes(message.payload))
            if committed is not None and committed.end_lsn > self.lsn:
                self._ready.append(committed)
                ready_rows += len(committed.ops)

    def _decode(self, data: bytes) -> _Transaction | None:
        """Take one pgoutput message; returns the transaction it commits, if it is a COMMIT."""
        kind = data[:1]
        if kind == b"B":
            self._open = _Transaction()
        elif kind == b"C":
            done, self._open = self._open, None
            (done.end_lsn,) = struct.unpack_from("!Q", data, 10)
            return done
        elif kind == b"R":
            self._relation(data)
        elif kind in (b"I", b"U", b"D"):
            (relation_id,) = struct.unpack_from("!I", data, 1)
            if relation_id == self._relation_id:
                self._change(kind, data)
        elif kind == b"T":
            count, _ = struct.unpack_from("!IB", data, 1)
            ids = struct.unpack_from(f"!{count}I", data, 6)
            if self._relation_id in ids:
                self._open.ops.append(TRUNCATE)
                self._open.rows.append([None] * len(self.columns))
        return None  # origin, type and message records carry nothing to apply

    def _relation(self, data: bytes) -> None:
        (relation_id,) = struct.unpack_from("!I", data, 1)
        offset = 5
        namespace, offset = _cstring(data, offset)
        name, offset = _cstring(data, offset)
        if (namespace, name) != (self.upstream.schema, self.upstream.table):
            return
        offset += 1  # replica identity
        (count,) = struct.unpack_from("!H", data, offset)
        offset += 2
        names = []
        for _ in range(count):
            offset += 1  # flags
            column, offset = _cstring(data, offset)
            offset += 8  # type oid, type modifier
            names.append(column)
        missing = [c for c in self.columns if c not in names]
        if missing:
            raise ConnectorError(
                f"{self.upstream.what}: column {missing[0]} is no longer in "
                f"{self.upstream.schema}.{self.upstream.table} upstream"
            )
        self._relation_id = relation_id
        self._positions = [names.index(c) for c in self.columns]

    def _change(self, kind: bytes, data: bytes) -> None:
        offset = 5
        old = None
        if kind in (b"U", b"D") and data[offset : offset + 1] in (b"K", b"O"):
            old, offset = _tuple(data, offset + 1)
        if kind == b"D":
            self._append(DELETE_ROW, old)
            return
        offset += 1  # 'N'
        new, offset = _tuple(data, offset)
        if kind == b"U" and old is not None and self._key_of(old) != self._key_of(new):
            self._append(DELETE_ROW, old)  # the key changed: the old row goes
        if _UNCHANGED in new:
            new = self._with_unchanged(new, old)
        self._append(UPSERT_ROW, new)

    def _with_unchanged(self, new: list, old: list | None) -> list:
        """A TOASTed value an UPDATE did not change is not sent; the old row has it only
        under REPLICA IDENTITY FULL."""
        if old is None or _UNCHANGED in old:
            raise ConnectorError(
                f"{self.upstream.what}: an UPDATE left out a large (TOASTed) value it did not "
                f"change; run ALTER TABLE {self.upstream.qualified} REPLICA IDENTITY FULL "
                "upstream so that updates carry whole rows"
            )
        return [o if n is _UNCHANGED else n for n, o in zip(new, old, strict=True)]

    def _key_of(self, values: list) -> tuple:
        return tuple(values[self._positions[self.columns.index(k)]] for k in self.key)

    def _append(self, op: int, values: list) -> None:
        self._open.ops.append(op)
        self._open.rows.append([values[p] for p in self._positions])

    def _table(self, ops: list[int], rows: list[list[str | None]]) -> pa.Table:
        columns = {}
        for i, (name, sql_type) in enumerate(zip(self.columns, self.types, strict=True)):
            values = [row[i] for row in rows]
            try:
                columns[name] = decode(values, sql_type)
            except (ValueError, pa.ArrowInvalid) as error:
                raise ConnectorError(
                    f"{self.upstream.what}: column {name}: a value does not fit {sql_type}: {error}"
                ) from None
        columns[OP] = pa.array(ops, pa.int8())
        return pa.table(columns)

    def _disconnect(self) -> None:
        if self._stream is not None:
            close_quietly(self._stream[0])
            self._stream = None
        self._open = None


_UNCHANGED = object()  # a TOASTed value an UPDATE did not send


def _tuple(data: bytes, offset: int) -> tuple[list, int]:
    (count,) = struct.unpack_from("!H", data, offset)
    offset += 2
    values: list = []
    for _ in range(count):
        kind = data[offset : offset + 1]
        offset += 1
        if kind == b"n":
            values.append(None)
        elif kind == b"u":
            values.append(_UNCHANGED)
        else:
            (length,) = struct.unpack_from("!I", data, offset)
            offset += 4
            values.append(data[offset : offset + length].decode())
            offset += length
    return values, offset


def _cstring(data: bytes, offset: int) -> tuple[str, int]:
    end = data.index(b"\0", offset)
    return data[offset:end].decode(), end + 1


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)
