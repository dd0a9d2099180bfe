"""The shell on a running ``tidal serve``: ``tidal --connect postgres://host:port/``.

A Backend (see backend.py) over the PostgreSQL protocol, through psycopg 3. Statements go as
they are typed; rows come back as Arrow tables typed from the columns' PostgreSQL types, so
they show exactly as the embedded shell shows them. ``SUBSCRIBE`` becomes a cursor
(``DECLARE c CURSOR FOR SUBSCRIBE ...``) read with ``FETCH ALL c WITH (timeout = ...)``, as
docs/pgwire.md describes. The catalog (for ``\\d`` and completion) is read from
``information_schema`` and ``SHOW``, on a second connection so that completing a name never
waits for a running statement.
"""

from __future__ import annotations

import getpass
import itertools
import os
import threading
from typing import TYPE_CHECKING, NamedTuple

from tidal.shell.interactive.backend import ColumnInfo, RelationInfo
from tidal.shell.interactive.lexer import tokenize

if TYPE_CHECKING:
    import pyarrow as pa

# PostgreSQL type (OID, as information_schema names it) -> tidal's SQL type.
_OIDS = {
    16: "BOOLEAN", 17: "BLOB", 20: "BIGINT", 21: "SMALLINT", 23: "INTEGER", 25: "VARCHAR",
    700: "FLOAT", 701: "DOUBLE", 1043: "VARCHAR", 1082: "DATE", 1083: "TIME",
    1114: "TIMESTAMP", 1184: "TIMESTAMP WITH TIME ZONE", 1186: "INTERVAL",
}  # fmt: skip
_NAMES = {
    "boolean": "BOOLEAN", "bytea": "BLOB", "bigint": "BIGINT", "smallint": "SMALLINT",
    "integer": "INTEGER", "text": "VARCHAR", "character varying": "VARCHAR", "real": "FLOAT",
    "double precision": "DOUBLE", "date": "DATE", "time without time zone": "TIME",
    "timestamp without time zone": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMP WITH TIME ZONE", "interval": "INTERVAL",
}  # fmt: skip
_KINDS = (
    ("table", "SHOW TABLES"),
    ("source", "SHOW SOURCES"),
    ("view", "SHOW VIEWS"),
    ("materialized view", "SHOW MATERIALIZED VIEWS"),
    ("sink", "SHOW SINKS"),
)
_COLUMNS = (
    "SELECT table_name, column_name, data_type, numeric_precision, numeric_scale, is_nullable "
    "FROM information_schema.columns WHERE table_schema = 'public' "
    "ORDER BY table_name, ordinal_position"
)
_cursor_names = (f"tidal_shell_{n}" for n in itertools.count(1))


class Update(NamedTuple):
    """A tick's changes, as tidal.engine.subscriptions.Update has them (without importing the
    engine, which a remote shell never needs)."""

    tick: int
    rows: pa.Table | None
    progress: bool = False


class RemoteBackend:
    lists_functions = False  # the server has no SHOW FUNCTIONS to read them with

    def __init__(self, url: str) -> None:
        self.url = url
        self.description = f"connected to {url}"
        self._connection = None
        self._catalog_connection = None
        self._loading = threading.Lock()
        self._catalog_lock = threading.Lock()
        self._relations: list[RelationInfo] | None = None

    # --- connecting ------------------------------------------------------------------------------

    def load(self) -> None:
        with self._loading:
            if self._connection is not None:
                return
            self._connection = self._connect()
            self._catalog_connection = self._connect()

    def _connect(self):
        try:
            import psycopg
        except ImportError:
            raise _error("tidal --connect needs psycopg: pip install 'tidal[connect]'") from None
        try:
            return psycopg.connect(self.url, autocommit=True)
        except psycopg.Error as error:
            raise _error(f"cannot connect to {self.url}: {error}") from None

    def ready(self) -> bool:
        return self._connection is not None

    def close(self) -> None:
        for connection in (self._connection, self._catalog_connection):
            if connection is not None:
                connection.close()

    # --- statements ------------------------------------------------------------------------------

    def execute(self, text: str):
        self.load()
        if _first_word(text) == "SUBSCRIBE":
            return RemoteSubscription(self, text)
        self._relations = None  # the statement may change the catalog
        cursor = self._run(self._connection, text)
        if cursor.description is None:
            return cursor.statusmessage
        return _table(cursor.description, cursor.fetchall())

    def _run(self, connection, text: str):
        import psycopg

        cursor = connection.cursor()
        try:
            cursor.execute(text.encode())  # bytes: no placeholders are looked for in the text
        except psycopg.Error as error:
            raise _statement_error(error, text) from None
        return cursor

    def cancel(self) -> None:
        """A CancelRequest for the statement running on the connection."""
        if self._connection is not None:
            self._connection.cancel()

    def subscribe(self, name: str):
        return self.execute(f"SUBSCRIBE {name}")

    def key_columns(self, name: str) -> list[str]:
        return []  # not told over the wire: changes show as inserts and deletes

    def warnings(self) -> list[str]:
        return []  # the server's sources report on the server

    def ticks(self) -> int | None:
        return None

    def conninfo(self) -> str:
        from urllib.parse import urlsplit

        url = urlsplit(self.url)
        user = url.username or os.environ.get("PGUSER") or getpass.getuser()
        database = url.path.lstrip("/") or user
        return (
            f'You are connected to database "{database}" as user "{user}" on host '
            f'"{url.hostname or "localhost"}" at port "{url.port or 5432}" (tidal serve, '
            f"{self.url})."
        )

    def copy_in(self, sql: str, data: bytes, where: str) -> object:
        """The COPY protocol: the data in CopyData messages (psycopg's ``cursor.copy``)."""
        import psycopg

        self.load()
        cursor = self._connection.cursor()
        try:
            with cursor.copy(sql.encode()) as copy:
                copy.write(data)
        except psycopg.Error as error:
            raise _statement_error(error, sql) from None
        return cursor.statusmessage

    def copy_out(self, sql: str, write) -> int:
        import psycopg

        self.load()
        cursor = self._connection.cursor()
        try:
            with cursor.copy(sql.encode()) as copy:
                for data in copy:
                    write(bytes(data))
        except psycopg.Error as error:
            raise _statement_error(error, sql) from None
        return cursor.rowcount

    def sizes(self, names: list[str]) -> dict[str, tuple[int | None, int | None]]:
        """Rows counted on the server; bytes are not told over the wire (None)."""
        sizes = {}
        for name in names:
            quoted = '"' + name.replace('"', '""') + '"'
            (rows,) = self._run(self._connection, f"SELECT count(*) FROM {quoted}").fetchone()
            sizes[name] = (rows, None)
        return sizes

    # --- the catalog -----------------------------------------------------------------------------

    def relations(self) -> list[RelationInfo]:
        if self._catalog_connection is None:
            return []
        relations = self._relations
        if relations is None:
            with self._catalog_lock:
                relations = self._relations = self._read_catalog()
        return relations

    def _read_catalog(self) -> list[RelationInfo]:
        connection = self._catalog_connection
        columns: dict[str, list[ColumnInfo]] = {}
        for table, column, data_type, precision, scale, nullable in self._run(
            connection, _COLUMNS
        ).fetchall():
            info = ColumnInfo(column, _sql_type(data_type, precision, scale), nullable == "YES")
            columns.setdefault(table.lower(), []).append(info)
        relations = []
        for kind, show in _KINDS:
            for (name,) in self._run(connection, show).fetchall():
                found = tuple(columns.get(name.lower(), ()))
                relations.append(RelationInfo(name, kind, found, self._definition(name, kind)))
        return relations

    def _definition(self, name: str, kind: str) -> str:
        if "view" not in kind:
            return ""
        quoted = name.replace("'", "''")
        rows = self._run(
            self._catalog_connection, f"SELECT pg_get_viewdef('{quoted}'::regclass)"
        ).fetchall()
        return (rows[0][0] or "").rstrip(";") if rows else ""

    def schema_of(self, name: str) -> list[ColumnInfo]:
        return next((r.columns for r in self.relations() if r.name.lower() == name.lower()), [])


class RemoteSubscription:
    """``SUBSCRIBE ...`` read through a cursor: each ``next`` is one FETCH."""

    def __init__(self, backend: RemoteBackend, text: str) -> None:
        self.backend = backend
        self.cursor_name = next(_cursor_names)
        tokens = [t for t in tokenize(text).tokens if t.kind != "SEMICOLON"]
        named = [t for t in tokens[1:] if t.text.upper() != "TO"]
        self.name = named[0].text.strip('"') if named else ""
        self.error: str | None = None
        self.closed = False
        backend._run(backend._connection, f"DECLARE {self.cursor_name} CURSOR FOR {text}")
        self._waiting = self._fetch(0.0)  # the snapshot, and the columns' types
        self.schema = self._schema

    def next(self, timeout: float | None = None) -> list:
        if self._waiting:
            updates, self._waiting = self._waiting, []
            return updates
        if self.closed:
            return []
        try:
            return self._fetch(timeout)
        except Exception as error:  # noqa: BLE001 - the relation was dropped, the server left
            self.error = getattr(error, "message", str(error))
            self.closed = True
            return []

    def _fetch(self, timeout: float | None) -> list:
        wait = "" if timeout is None else f" WITH (timeout = '{int(timeout * 1000)}ms')"
        cursor = self.backend._run(self.backend._connection, f"FETCH ALL {self.cursor_name}{wait}")
        names = [c.name for c in cursor.description]
        self._schema = self._arrow_schema(cursor.description)
        rows = [dict(zip(names, row)) for row in cursor.fetchall()]
        updates = []
        for tick, group in itertools.groupby(rows, key=lambda r: r["mz_timestamp"]):
            records = [
                {**{n: r[n] for n in self._schema.names if n != "diff"}, "diff": r["mz_diff"]}
                for r in group
                if not r.get("mz_progressed")
            ]
            updates.append(Update(tick, _records_table(records, self._schema)))
        return updates

    def _arrow_schema(self, description) -> pa.Schema:
        import pyarrow as pa

        from tidal.catalog.types import to_arrow

        known = {c.name.lower(): c.type for c in self.backend.schema_of(self.name)}
        fields = []
        for column in description:
            if column.name.startswith("mz_"):
                continue
            sql = known.get(column.name.lower()) or _OIDS.get(column.type_code, "VARCHAR")
            fields.append(pa.field(column.name, to_arrow(sql)))
        return pa.schema([*fields, pa.field("diff", pa.int64())])

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.backend._run(self.backend._connection, f"CLOSE {self.cursor_name}")
            except Exception:  # noqa: BLE001, S110 - already gone with its relation
                pass


def _first_word(text: str) -> str:
    tokens = tokenize(text).tokens
    return tokens[0].text.upper() if tokens else ""


def _sql_type(data_type: str, precision: int | None, scale: int | None) -> str:
    if data_type == "numeric":
        return f"DECIMAL({precision or 38},{scale or 0})"
    return _NAMES.get(data_type, "VARCHAR")


def _table(description, rows: list[tuple]) -> pa.Table:
    """Rows from the wire as an Arrow table, typed from the columns' PostgreSQL types."""
    import pyarrow as pa

    from tidal.catalog.types import to_arrow

    columns = list(zip(*rows)) if rows else [()] * len(description)
    arrays = []
    for column, values in zip(description, columns):
        sql = _OIDS.get(column.type_code)
        arrays.append(_array(list(values), to_arrow(sql) if sql else None))
    names = [c.name for c in description]
    return pa.Table.from_arrays(arrays, names=names)


def _records_table(records: list[dict], schema: pa.Schema) -> pa.Table:
    import pyarrow as pa

    arrays = [_array([r[f.name] for r in records], f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema) if records else schema.empty_table()


def _array(values: list, arrow_type):
    """An Arrow array of ``values``: of ``arrow_type`` if they fit it, else as inferred (a
    numeric's precision comes from its values), else as text."""
    import pyarrow as pa

    for attempt in (arrow_type, None):
        try:
            return pa.array(values, type=attempt)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            continue
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def _statement_error(error, text: str):
    """A psycopg error as the SqlError the shell shows (with a caret where the server says)."""
    from tidal.catalog.sqlstate import CONNECTION_FAILURE

    diagnostics = getattr(error, "diag", None)
    message = (diagnostics.message_primary if diagnostics else None) or str(error).strip()
    position = diagnostics.statement_position if diagnostics else None
    line = column = None
    if position and position.isdigit() and int(position) <= len(text):
        offset = int(position) - 1
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return _error(message, getattr(error, "sqlstate", None) or CONNECTION_FAILURE, line, column)


def _error(message: str, sqlstate: str | None = None, line=None, column=None):
    """A SqlError to show; without a code, the server could not be reached (08001)."""
    # imported here, not at the top: the prompt comes up before the engine's imports are done
    from tidal.catalog.sqlstate import SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION
    from tidal.sql import SqlError

    code = sqlstate or SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION
    return SqlError(message, sqlstate=code, line=line, column=column)
