"""What the shell talks to: a Backend runs statements and describes the catalog.

``EmbeddedBackend`` is tidal in this process (a Database, and a Ticker keeping its sources
flowing); ``RemoteBackend`` (tidal.shell.interactive.remote) is a running ``tidal serve``
reached over the PostgreSQL protocol. The shell knows only this interface.

Importing the engine (pyarrow, DuckDB, sqlglot) takes about a second, so the embedded backend
loads it on a background thread while the prompt is already up; the first statement waits.
"""

from __future__ import annotations

import pathlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True)
class RelationInfo:
    """A catalog object as ``\\d`` and completion show it."""

    name: str
    kind: str  # table, source, view, materialized view, sink, function
    columns: tuple[ColumnInfo, ...] = ()
    definition: str = ""  # a view's query, a sink's query or source, a function's body
    details: tuple[tuple[str, str], ...] = ()  # options, watermark, ...


class Subscription(Protocol):
    """A relation's changes (see tidal.engine.subscriptions): ``next`` gives updates whose
    ``rows`` hold the columns plus ``diff`` (+1 / -1)."""

    name: str
    schema: pa.Schema
    error: str | None

    def next(self, timeout: float | None = None) -> list: ...

    def close(self) -> None: ...


class Backend(Protocol):
    description: str  # shown at startup: "embedded, in memory", "postgres://..."
    lists_functions: bool  # whether relations() includes the functions (\\df)

    def load(self) -> None:
        """Get ready to run statements (may take a moment); called on a background thread."""

    def ready(self) -> bool:
        """Whether ``load`` has finished."""

    def execute(self, text: str) -> pa.Table | Subscription | object:
        """Run one statement: a query's rows, a Subscription, or a status (printed as is)."""

    def cancel(self) -> None:
        """Ask the running statement to stop (Ctrl-C), from another thread."""

    def subscribe(self, name: str) -> Subscription: ...

    def key_columns(self, name: str) -> list[str]:
        """Columns that identify a row of ``name``, if known: changelog mode pairs a row's
        retraction and insertion in one tick as an update (-U, +U) by these."""

    def relations(self) -> list[RelationInfo]: ...

    def warnings(self) -> list[str]:
        """Problems met in the background since the last call (a source skipping bad lines)."""

    def ticks(self) -> int | None:
        """How many ticks have run (shown while a statement is running), None if unknown."""

    def conninfo(self) -> str:
        """A sentence saying what the shell is connected to (``\\conninfo``)."""

    def sizes(self, names: list[str]) -> dict[str, tuple[int | None, int | None]]:
        """Per relation: its rows, and the bytes it holds (None where unknown)."""

    def copy_in(self, sql: str, data: bytes, where: str) -> object:
        """``COPY ... FROM STDIN`` (``sql``) with ``data``, read from ``where``: its status."""

    def copy_out(self, sql: str, write: Callable[[bytes], None]) -> int:
        """``COPY ... TO STDOUT`` (``sql``), its output handed to ``write``: the row count."""

    def close(self) -> None: ...


class EmbeddedBackend:
    """A Database in this process, in memory; ``base_dir`` is where relative paths resolve."""

    lists_functions = True

    def __init__(
        self,
        data_dir: str | pathlib.Path | None = None,
        tick_interval: float = 0.05,
        memory_limit: str | None = None,
    ):
        """``data_dir``: the Database's data directory (None: in memory); relative paths in
        statements resolve from it (else from the working directory). ``memory_limit``: the
        Database's memory budget (None: its default)."""
        self.data_dir = data_dir
        self.memory_limit = memory_limit
        self.base_dir = pathlib.Path(data_dir or ".")
        self.tick_interval = tick_interval
        kept = f"data directory {data_dir}" if data_dir else "in memory"
        self.description = f"embedded, {kept}, paths relative to {self.base_dir.resolve()}"
        self._db = None
        self._ticker = None
        self._loading = threading.Lock()
        self._running = None  # the switch of the statement running, for Ctrl-C

    def load(self) -> None:
        with self._loading:
            if self._db is not None:
                return
            from tidal.engine import Database
            from tidal.engine.ticker import Ticker

            db = Database(self.data_dir, base_dir=self.base_dir, memory_limit=self.memory_limit)
            self._ticker = Ticker(db, interval=self.tick_interval).start()
            self._db = db

    def ready(self) -> bool:
        return self._db is not None

    @property
    def db(self):
        if self._db is None:
            self.load()
        return self._db

    def execute(self, text: str):
        db = self.db  # loaded first: the engine is imported by one thread
        from tidal.engine.cancellation import Cancellation
        from tidal.sql import parse_statement

        self._running = Cancellation()
        with self._running.scope():
            return db.execute_statement(parse_statement(text))

    def cancel(self) -> None:
        if self._running is not None:
            self._running.cancel()

    def subscribe(self, name: str):
        return self.db.subscribe(name)

    def key_columns(self, name: str) -> list[str]:
        from tidal.sql.changes import unique_key

        relation = self.db.catalog.find(name)
        if getattr(relation, "kind", "") == "table":
            return list(relation.primary_key)
        if relation is None or getattr(relation, "kind", "") != "materialized view":
            return []
        return [relation.columns[i].name for i in unique_key(self.db.view_plan(name))]

    def relations(self) -> list[RelationInfo]:
        if self._db is None:
            return []
        for _ in range(3):  # the catalog may change under us (a statement on another thread)
            try:
                return [_info(obj) for obj in self._db.catalog.objects()]
            except RuntimeError:
                continue
        return []

    def warnings(self) -> list[str]:
        return self._db.take_source_errors() if self._db is not None else []

    def ticks(self) -> int | None:
        return self._db.ticks if self._db is not None else None

    def conninfo(self) -> str:
        where = (
            f"on the data directory {pathlib.Path(self.data_dir).resolve()} (kept across restarts)"
            if self.data_dir
            else "in memory (nothing is kept when the shell exits)"
        )
        return (
            f"You are connected to an embedded tidal {where}; relative paths resolve from "
            f"{self.base_dir.resolve()}."
        )

    def sizes(self, names: list[str]) -> dict[str, tuple[int | None, int | None]]:
        """Rows counted by a query; bytes from ``Database.stats(state_bytes=True)``: the
        relation's rows and its operators' state, consolidated, in Arrow bytes."""
        stats = self.db.stats(state_bytes=True)
        sizes = {}
        for name in names:
            rows = self.db.execute(f"SELECT count(*) AS n FROM {_quoted(name)}").column(0)[0]
            held = stats[name].state_bytes if name in stats else None
            sizes[name] = (rows.as_py(), held)
        return sizes

    def copy_in(self, sql: str, data: bytes, where: str) -> object:
        from tidal.sql import parse_statement

        return self.db.copy_rows(parse_statement(sql), data, where)

    def copy_out(self, sql: str, write: Callable[[bytes], None]) -> int:
        from tidal.shell.interactive.client_copy import copy_out

        return copy_out(self.db, sql, write)

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
        if self._db is not None:
            self._db.close()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _info(obj) -> RelationInfo:
    """A catalog object (tidal.catalog.objects) as RelationInfo."""
    kind = obj.kind
    # a function's are its parameters (a table function's result columns are not its inputs)
    fields = obj.parameters if kind == "function" else getattr(obj, "columns", ())
    columns = tuple(ColumnInfo(c.name, c.type, c.nullable) for c in fields)
    details = [(k, v) for k, v in getattr(obj, "options", ())]
    watermark = getattr(obj, "watermark", None)
    if watermark is not None:
        details.append(("watermark", f"FOR {watermark.column} AS {watermark.expression}"))
    definition = getattr(obj, "definition", "") or getattr(obj, "query", "")
    if kind == "sink" and not definition:
        definition = f"FROM {obj.source}"
    if kind == "function":
        details += [("returns", obj.returns), ("language", obj.language), ("role", obj.role)]
        definition = obj.body
    return RelationInfo(obj.name, kind, columns, definition, tuple(details))
