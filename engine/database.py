"""The Database: the one entry point every front door uses.

    >>> db = Database()
    >>> db.execute("CREATE TABLE t (k VARCHAR, v INTEGER)")
    CREATE TABLE
    >>> _ = db.execute("CREATE MATERIALIZED VIEW s AS SELECT k, sum(v) AS total FROM t GROUP BY k")
    >>> _ = db.execute("INSERT INTO t VALUES ('a', 1), ('a', 2), ('b', 5)")
    >>> db.execute("SELECT * FROM s ORDER BY k").to_pylist()
    [{'k': 'a', 'total': Decimal('3')}, {'k': 'b', 'total': Decimal('5')}]

A facade over the engine's parts, which it builds and wires together:

- the compiler (tidal.sql.compiler): statements to plans;
- the relation registry (tidal.engine.relations): what runs for each table, source, view, sink;
- the tick loop (tidal.engine.ticks): how time advances, and the lock that serializes changes;
- reads (tidal.engine.reads): snapshots per tick, plans that run without DuckDB;
- prepared statements (tidal.engine.prepared_statements): compiled once, run with arguments;
- subscriptions (tidal.engine.subscriptions): every tick's changes to those who follow them;
- statements (tidal.engine.statements): one handler per kind of statement;
- durability (tidal.engine.durability), with a data directory: the log, checkpoints, recovery;
- the webhook listener (tidal.engine.connectors.webhook), once a table has connector 'webhook'.

``Database("DIR")`` (or ``path="DIR"``) keeps everything in the data directory DIR and opens
it where it was left, after a clean stop or a crash; ``Database()`` keeps everything in memory.

A statement that fails changes nothing: if a view cannot process a tick (say, a division by zero
in its expression), the tick's changes are undone and every view is rebuilt from its inputs.
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Callable, Sequence

import pyarrow as pa
from sqlglot import exp

from tidal.catalog import Catalog
from tidal.catalog.objects import Table
from tidal.catalog.sqlstate import (
    ADMIN_SHUTDOWN,
    INVALID_PARAMETER_VALUE,
    OBJECT_NOT_IN_PREREQUISITE_STATE,
    UNDEFINED_TABLE,
    TidalError,
)
from tidal.engine.batch import BatchBackend
from tidal.engine.connectors import ConnectorError
from tidal.engine.connectors.webhook import WebhookListener, is_webhook_table, webhook_options
from tidal.engine.copy_from import copied_columns
from tidal.engine.durability.data_dir import DataDir
from tidal.engine.durability.durability import (
    DEFAULT_CHECKPOINT_INTERVAL,
    DEFAULT_CHECKPOINT_LOG_BYTES,
    Durability,
)
from tidal.engine.memory import MemoryBudget, parse_size
from tidal.engine.prepared_statements import PreparedStatement
from tidal.engine.reads import Reads
from tidal.engine.relations import Relations
from tidal.engine.statements import Result, Statements, Status
from tidal.engine.stats import DatabaseStats, database_stats
from tidal.engine.subscriptions import Feeds, Subscription
from tidal.engine.system_relations import SystemRelations
from tidal.engine.telemetry import Telemetry
from tidal.engine.ticks import DEFAULT_BATCH_ROWS, TickLoop
from tidal.engine.transactions import Session, TableChanges, Transaction
from tidal.engine.udf.api import definition
from tidal.engine.watermarks import Watermarks
from tidal.sql.compiler import Compiler
from tidal.sql.cursor_statements import CopyFrom
from tidal.sql.dml import Change, table_conflict
from tidal.sql.errors import SqlError, resource_error
from tidal.sql.parser import parse_statement, split_statements
from tidal.sql.plan import Plan


class Database:
    def __init__(
        self,
        path: str | pathlib.Path | None = None,
        base_dir: str | pathlib.Path | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        batch_mode: bool = False,
        clock: Callable[[], float] = time.time,
        checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL,
        checkpoint_log_bytes: int = DEFAULT_CHECKPOINT_LOG_BYTES,
        memory_limit: int | str | None = None,
        webhook_host: str = "127.0.0.1",
        webhook_port: int = 0,
    ) -> None:
        """``path``: the data directory (created if missing); None: in memory only.
        ``checkpoint_interval`` (seconds) and ``checkpoint_log_bytes``: how often a durable
        database checkpoints (docs/durability.md).

        ``base_dir``: where relative connector paths resolve (default: the working directory).

        ``batch_mode``: maintain nothing; a materialized view is computed by DuckDB, from its
        plan over the current contents, whenever it is read (``tidal run --batch``).

        ``clock``: seconds since the epoch: ``now()`` in temporal filters, and how long a
        source has been idle (``watermark_idle_timeout``).

        ``memory_limit``: the memory budget, in bytes or as text (``"512MB"``, ``"2GB"``);
        default half of the machine's memory (tidal.engine.memory).

        ``webhook_host``, ``webhook_port``: where the HTTP listener of webhook tables
        (``WITH (connector = 'webhook')``) listens once the first one exists (port 0: a free
        one; ``webhook_address`` tells which).
        """
        self.catalog = Catalog()
        self.compiler = Compiler(self.catalog)
        if isinstance(memory_limit, str):
            memory_limit = parse_size(memory_limit)
        memory = MemoryBudget(memory_limit, batch_mode)
        self.backend = BatchBackend(memory_limit=memory.duckdb_limit)
        self.watermarks = Watermarks(clock)
        self.relations = Relations(
            self.catalog,
            self.backend,
            self.watermarks,
            pathlib.Path(base_dir or "."),
            batch_mode,
            compute=self.query,
        )
        self.telemetry = Telemetry(clock)  # counters: tidal_* relations, /metrics
        self.tick_loop = TickLoop(
            self.relations, self.watermarks, batch_rows, memory, self.telemetry
        )
        self.system_relations = SystemRelations(
            self.catalog, self.relations, self.telemetry, memory
        )
        self.reads = Reads(self.tick_loop, self.relations, self.system_relations.rows)
        self.feeds = Feeds()  # subscriptions and the history they resume from
        self.table_changes = TableChanges()  # what a transaction's COMMIT checks
        self.tick_loop.on_tick += [
            lambda tick, _: self.reads.refresh(tick),
            self.feeds.publish,
            self.table_changes.record,
        ]
        self._statements = Statements(
            self.compiler, self.relations, self.tick_loop, self.reads, self.feeds
        )
        self.session = Session(self._statements, self.transaction)  # execute's, with BEGIN
        self.durability: Durability | None = None
        self.webhooks = WebhookListener(
            self.catalog.find, self.push_rows, webhook_host, webhook_port
        )
        self.relations.accept_pushed = self._accept_webhook_table
        self._serving_webhooks = False  # not while recovery re-runs the log
        if path is not None:
            if batch_mode:
                raise ValueError("batch mode keeps nothing: it takes no data directory")
            self._open(DataDir(path), checkpoint_interval, checkpoint_log_bytes)
        self._serving_webhooks = True
        if any(is_webhook_table(t) for t in self.catalog.objects("table")):
            try:
                self._start_webhooks()
            except TidalError:
                self.close()
                raise

    def _open(self, data_dir: DataDir, interval: float, log_bytes: int) -> None:
        durability = Durability(
            data_dir,
            self.catalog,
            self.relations,
            self.tick_loop,
            self.watermarks,
            self.feeds,
            interval,
            log_bytes,
        )
        try:
            durability.recover(lambda text: self.execute_statement(parse_statement(text)))
        except BaseException:
            data_dir.close()
            raise
        self.durability = durability
        self.tick_loop.on_tick.append(durability.after_tick)
        self._statements.catalog_changed = durability.catalog_changed
        self._statements.checkpoint = durability.checkpoint

    def _accept_webhook_table(self, table: Table) -> None:
        """A webhook table is being created: check its options, and listen for its rows."""
        try:
            webhook_options(table)
        except ConnectorError as error:
            raise SqlError(str(error), sqlstate=INVALID_PARAMETER_VALUE) from None
        if self._serving_webhooks:
            self._start_webhooks()

    def _start_webhooks(self) -> None:
        try:
            self.webhooks.start()
        except OSError as error:
            raise ConnectorError(
                f"cannot listen for webhooks on {self.webhooks.host}:{self.webhooks.port}: "
                f"{error.strerror or error}; choose another webhook port"
            ) from None

    @property
    def webhook_address(self) -> tuple[str, int] | None:
        """Where webhook tables take their rows (``POST http://host:port/webhook/<table>``),
        or None until a webhook table exists."""
        return self.webhooks.address

    def push_rows(self, table: Table, rows: pa.Table) -> int:
        """Insert ``rows`` (the table's columns), which its connector pushed (a webhook
        request), into ``table`` in one tick, all or nothing, as INSERT does: keys, NOT NULL and
        the memory budget are enforced and, with a data directory, it returns once durable.
        SQL may not change a table fed by a connector; this is its connector's way in. Returns
        how many rows were inserted."""
        with self.tick_loop.exclusive():
            if self.webhooks.closed:
                raise TidalError("the database is closing", ADMIN_SHUTDOWN)
            current = self.catalog.find(table.name)
            if not is_webhook_table(current):  # dropped meanwhile
                raise TidalError(f"table {table.name!r} does not exist", UNDEFINED_TABLE)
            if current is not table:  # altered meanwhile
                raise TidalError(
                    f"table {table.name!r} changed while the rows were read: send them again",
                    OBJECT_NOT_IN_PREREQUISITE_STATE,
                )
            change = Change(table, "INSERT", None, table_conflict(table))
            tag = self._statements.apply_rows(change, rows)
        return int(tag.split()[-1])

    @property
    def holds_catalog(self) -> bool:
        """Whether the data directory holds a catalog (DDL): ``--init`` runs only when not."""
        return self.durability is not None and self.durability.holds_catalog()

    @property
    def ticks(self) -> int:
        """How many ticks have completed."""
        return self.tick_loop.ticks

    # --- statements -------------------------------------------------------------------------------

    def execute(self, sql: str) -> Result | None:
        """Run one or more statements; returns the last one's result.

        A query returns a ``pyarrow.Table``; other statements return a ``Status``.
        """
        result = None
        for statement in split_statements(sql):
            try:
                result = self.execute_statement(parse_statement(statement.text))
            except SqlError as error:
                if error.line is not None:  # from the statement's line to the script's
                    error.line += statement.line - 1
                raise
        return result

    def execute_statement(self, statement: exp.Expression) -> Result:
        """Run one parsed statement (tidal.sql.parser) in the Database's session: BEGIN opens
        a transaction block that COMMIT applies (tidal.engine.transactions). Running out of
        memory or stack is an error of the statement (53200, 54001), not of Python."""
        try:
            return self.session.run(statement)
        except (MemoryError, RecursionError) as error:
            raise resource_error(error) from error

    def transaction(self) -> Transaction:
        """A new transaction: the DML handed to it applies at its ``commit()``, in one tick
        (tidal.engine.transactions). The pgwire server opens one per transaction block."""
        return Transaction(self.reads, self.relations, self.tick_loop, self.table_changes)

    def prepare(
        self, statement: str | exp.Expression, parameter_types: Sequence[str | None] = ()
    ) -> PreparedStatement:
        """One statement (text, or parsed) compiled to run many times, with ``$n`` of SQL type
        ``parameter_types[n - 1]`` (None: unknown, taken as text); see
        tidal.engine.prepared_statements.

            >>> db = Database()
            >>> db.prepare("SELECT $1 + 1 AS n", ["BIGINT"]).run([41]).to_pylist()
            [{'n': 42}]
        """
        if isinstance(statement, str):
            statement = parse_statement(statement)
        return PreparedStatement(self._statements, self.reads, statement, parameter_types)

    def copy_columns(self, statement: CopyFrom) -> int:
        """How many columns a ``COPY ... FROM STDIN`` reads (its table and columns checked)."""
        with self.tick_loop.exclusive():
            table = self._statements.copy_target(statement)
            return len(copied_columns(table, statement))

    def copy_rows(
        self,
        statement: CopyFrom,
        data: bytes,
        where: str = "STDIN",
        transaction: Transaction | None = None,
    ) -> Status:
        """Load ``data`` (the rows a client sent for ``COPY ... FROM STDIN``) in one tick, or
        into ``transaction``."""
        with self.tick_loop.exclusive():
            return self._statements.copy_rows(statement, data, where, transaction)

    # --- reading ----------------------------------------------------------------------------------

    def query(self, plan: Plan) -> pa.Table:
        """Run an ad hoc query plan over the current contents (after bounded inputs are read)."""
        return self.reads.query(plan)

    def catch_up(self) -> None:
        """Read every bounded input to its end (files present now, finite datagen), and what
        unbounded sources have produced by now."""
        with self.tick_loop.exclusive():
            self.tick_loop.catch_up()

    def read(self, name: str) -> pa.Table:
        """A materialized view's (or table's, or source's) rows at the latest completed tick."""
        with self.tick_loop.exclusive():
            self.tick_loop.catch_up()
            return self.relations.contents(name)

    def subscribe(self, name: str, **options) -> Subscription:
        """A materialized view's (table's, source's) rows at the latest tick, then every later
        tick's changes. ``options``: snapshot, progress, as_of, buffer_rows, stall_timeout (see
        tidal.engine.subscriptions.Feeds.subscribe and docs/subscriptions.md)."""
        return self._statements.subscribe(name, **options)

    def create_function(
        self,
        function: str | Callable,
        implementation: Callable | None = None,
        parameters: Sequence[str] | None = None,
        returns: str | None = None,
        **options: object,
    ) -> None:
        """Make a Python callable a SQL function, as DuckDB's ``create_function``:
        ``create_function("f", f, ["BIGINT"], "DOUBLE", vectorized="arrow")``, or
        ``create_function(f)`` with the types from its annotations or ``@udf``
        (tidal.engine.udf.api). It lives as long as this Database: it is not in the data
        directory's catalog, so a program registers it again before using it after a restart.

        >>> db = Database()
        >>> db.create_function("twice", lambda x: 2 * x, ["BIGINT"], "BIGINT")
        >>> db.execute("SELECT twice(21) AS x").to_pylist()
        [{'x': 42}]
        """
        if isinstance(function, str):
            if implementation is None:
                raise TypeError("create_function(name, function, ...): the function is missing")
            name, callable_ = function, implementation
        else:
            name, callable_ = None, function
        created = definition(callable_, name, parameters, returns, **options)
        with self.tick_loop.exclusive():
            self.relations.create_python_function(created, callable_)

    def view_plan(self, name: str) -> Plan:
        """The plan a materialized view runs."""
        return self.relations.views[name.lower()].plan

    # --- time -------------------------------------------------------------------------------------

    def tick(self) -> bool:
        """Poll every source once and run a tick if there is anything to do (TickLoop.tick)."""
        return self.tick_loop.tick()

    def apply_changes(self, table: str, changes: pa.Table) -> None:
        """Apply changes (a table's columns plus ``__weight``) to a table in one tick."""
        self.tick_loop.apply_changes(table, changes)

    def take_source_errors(self) -> list[str]:
        """Problems sources met since the last call (bad lines skipped, unreadable files)."""
        return self.tick_loop.take_source_errors()

    def stats(self, held_bytes: bool = False, state_bytes: bool = False) -> DatabaseStats:
        """What each relation holds and how far its connector got (tidal.engine.stats)."""
        with self.tick_loop.exclusive():
            registry = self.relations
            return database_stats(
                self.ticks,
                registry.bases,
                registry.views,
                registry.sinks,
                self.watermarks.relations,
                held_bytes,
                state_bytes,
            )

    def forget(self) -> None:
        """Empty the data directory and go on in memory: a script that was to create the
        catalog (``--init``) failed part-way, and must not be taken for a finished one."""
        with self.tick_loop.exclusive():
            if self.durability is not None:
                durability, self.durability = self.durability, None
                self.tick_loop.journal = None
                durability.forget()

    def close(self) -> None:
        with self.tick_loop.exclusive():
            self.webhooks.close()
            if self.durability is not None:
                durability, self.durability = self.durability, None
                self.tick_loop.journal = None
                durability.close()
            self.relations.close(self.ticks)
            self.feeds.end_all("the database was closed")
