"""Running one prepared statement for a session: the housekeeping handlers, cursors, COPY,
catalog queries, or the engine (on a thread: the engine blocks, the event loop must not).

The result is ``Rows``, a command tag, or None for an empty query. COPY and bare SUBSCRIBE
write their messages as they go and return their tag when they end.
"""

from __future__ import annotations

import asyncio
import functools

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from tidal.catalog import types
from tidal.catalog.sqlstate import (
    DUPLICATE_CURSOR,
    IN_FAILED_SQL_TRANSACTION,
    INVALID_CURSOR_NAME,
    QUERY_CANCELED,
)
from tidal.engine import Status
from tidal.engine.reads import MISS
from tidal.engine.subscriptions import Subscription
from tidal.shell.pgwire import codec, housekeeping, params, prepared
from tidal.shell.pgwire import pg_types as pg
from tidal.shell.pgwire.copy import CopyFormat, CopyOut, subscription_rows, subscription_schema
from tidal.shell.pgwire.cursors import WAIT_SLICE, ResultCursor, SubscriptionCursor, wait_in
from tidal.shell.pgwire.error_responses import ServerError
from tidal.shell.pgwire.prepared import Prepared
from tidal.shell.pgwire.reads import read, read_now
from tidal.shell.pgwire.results import Rows
from tidal.shell.pgwire.settings import Settings
from tidal.sql import ddl
from tidal.sql.dialect import Explain
from tidal.sql.errors import SqlError

# Connectors that touch no file of the server: any client may create these.
NETWORK_SAFE_CONNECTORS = {"datagen", "nexmark", "blackhole"}
INSUFFICIENT_PRIVILEGE = "42501"


LATER = object()  # run_now's answer for a statement that must wait


class ClientGone(Exception):
    """The client went away (or sent Terminate) while a statement was streaming to it."""


def conform(table: pa.Table, schema: pa.Schema | None) -> pa.Table:
    """``table`` with the column types ``schema`` promised (Describe S came first)."""
    if schema is None or table.schema == schema or table.schema.types == schema.types:
        return table
    if table.num_columns != len(schema):
        raise ServerError(
            f"the statement's result has {table.num_columns} columns where its description "
            f"said {len(schema)}: prepare it again",
            "0A000",
        )
    columns = [c if c.type == f.type else pc.cast(c, f.type) for c, f in zip(table.columns, schema)]
    return pa.Table.from_arrays(columns, names=table.column_names)


def _python_value(oid: int, value):
    """A decoded parameter as the Python value a catalog query binds."""
    if value is None or isinstance(value, bytes):
        return value
    if oid in (pg.INT2, pg.INT4, pg.INT8, pg.OID):
        return int(value)
    if oid in (pg.FLOAT4, pg.FLOAT8):
        return float(value)
    if oid == pg.BOOL:
        return value in ("t", "true", "1", "on", "yes", "y")
    return value


class Runner:
    """The statement-running half of a session (the protocol half is session.Session)."""

    def __init__(self, server, client) -> None:
        self.server = server
        self.db = server.db
        self.client = client
        self.user = client.user
        self.pid = client.pid
        self.ending = False  # the client sent Terminate, closed, or sent garbage
        self.settings = Settings()
        self._context = (-1, pg.Context())
        self.status = codec.IDLE
        self.cursors: dict[str, ResultCursor | SubscriptionCursor] = {}
        self._cursors_in_block: set[str] = set()
        self.cancel_requested = False
        self.catalog_queries = server.catalog_queries(self.db.catalog, self.user)

    # --- helpers --------------------------------------------------------------------------------

    def context(self) -> pg.Context:
        """How values print for this session (kept until a setting changes)."""
        version, context = self._context
        if version != self.settings.version:
            digits = self.settings.get("extra_float_digits") or "1"
            context = pg.Context(self.settings.get("TimeZone") or "UTC", int(digits))
            self._context = self.settings.version, context
        return context

    def prepare(self, text: str, declared: tuple[int, ...] = ()) -> Prepared:
        return prepared.prepare(text, self.db.catalog, self.catalog_queries, declared)

    async def blocking(self, function, *args):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.server.executor, functools.partial(function, *args))

    def check_interrupted(self) -> None:
        """Raise if the client left, or asked to cancel the running statement."""
        if self.ending:
            raise ClientGone()
        if self.cancel_requested:
            self.cancel_requested = False
            raise ServerError("canceling statement due to user request", QUERY_CANCELED)

    async def wait(self, subscription: Subscription, timeout: float):
        return await wait_in(self.server.waits, subscription, timeout)

    # --- running --------------------------------------------------------------------------------

    def run_now(self, statement: Prepared, values: list):
        """Run ``statement`` with parameter ``values`` if that needs no waiting: Rows, a tag,
        or None (empty); LATER if it does (then ``run`` runs it)."""
        self.cancel_requested = False
        if self.status == codec.FAILED and not (
            statement.kind == prepared.HOUSEKEEPING
            and housekeeping.ends_failed_transaction(statement.text)
        ):
            raise ServerError(
                "current transaction is aborted, commands ignored until end of transaction block",
                IN_FAILED_SQL_TRANSACTION,
            )
        kind = statement.kind
        if kind == prepared.EMPTY:
            return None
        if kind == prepared.HOUSEKEEPING:
            handler, match = statement.handler
            return handler.run(self, match)
        if kind == prepared.QUOTE:
            numbers = params.quoted_parameters(statement.statement)
            quoted = [params.quote_literal(values[n - 1]) for n in numbers]
            arrays = [pa.array([q], pa.string()) for q in quoted]
            return Rows(pa.Table.from_arrays(arrays, names=["quote_literal"] * len(arrays)))
        rows = read_now(self.db, statement, values)
        return LATER if rows is None or rows is MISS else Rows(rows)

    async def run(self, statement: Prepared, values: list):
        """Run ``statement`` with parameter ``values``: Rows, a tag, or None (empty)."""
        outcome = self.run_now(statement, values)
        if outcome is not LATER:
            return outcome
        kind = statement.kind
        if kind == prepared.CATALOG:
            python = [_python_value(o, v) for o, v in zip(statement.param_oids, values)]
            table = await self.blocking(self.catalog_queries.run, statement.text, python)
            return Rows(table)
        if kind == prepared.FETCH:
            return await self._fetch(statement.fetch)
        if read_now(self.db, statement, values) is MISS:  # a fast read, once it may wait
            rows = await self.blocking(read, self.db, statement, values)
            if rows is not None:
                return Rows(rows)
        bound = self._bound(statement, values)
        if kind == prepared.DECLARE:
            return await self._declare(statement.declare, bound)
        if kind in (prepared.COPY, prepared.SUBSCRIBE):
            return await self._copy(bound, statement.copy or CopyFormat())
        self._check_connectors(bound)
        result = await self.blocking(self.db.execute_statement, bound)
        return self._outcome(bound, result)

    def _check_connectors(self, statement: exp.Expression) -> None:
        """Sources and sinks that read or write the server's files are for the --init script
        (or a server started with --allow-file-connectors), not for any client."""
        if self.server.config.allow_file_connectors or not isinstance(statement, exp.Create):
            return
        if (statement.args.get("kind") or "").upper() not in ("SOURCE", "SINK"):
            return
        try:
            connector = dict(ddl.options(statement)).get("connector", "")
        except SqlError:
            return  # the engine reports the bad option
        if connector.lower() not in NETWORK_SAFE_CONNECTORS:
            raise ServerError(
                f"connector {connector!r} reads or writes the server's files, which clients "
                "may not do: create it in the --init script, or start tidal serve with "
                "--allow-file-connectors",
                INSUFFICIENT_PRIVILEGE,
            )

    def _bound(self, statement: Prepared, values: list) -> exp.Expression:
        if statement.param_oids:
            return params.bind(statement.statement, statement.param_oids, values)
        return statement.statement.copy()  # the engine may change what it is given

    def _outcome(self, statement: exp.Expression, result):
        if isinstance(result, pa.Table):
            tag = "SHOW" if isinstance(statement, exp.Show) else None
            return Rows(result, "EXPLAIN" if isinstance(statement, Explain) else tag)
        if isinstance(result, Subscription):
            result.close()
            raise ServerError("SUBSCRIBE runs as COPY (SUBSCRIBE ...) TO STDOUT", "0A000")
        if isinstance(result, Status):
            return result.tag
        return str(result) if result is not None else statement.key.upper()

    async def describe_statement(self, statement: Prepared) -> pa.Schema | None:
        """The columns ``statement`` will return, learnt without running it where possible."""
        if statement.kind == prepared.FETCH:
            cursor = self.cursors.get(statement.fetch.cursor)
            return cursor.schema if cursor is not None else None
        if statement.describable:
            bound = params.bind_nulls(statement.statement, statement.param_oids)
            columns = await self.blocking(self.db.execute_statement, exp.Describe(this=bound))
            names = columns.column("column_name").to_pylist()
            kinds = columns.column("column_type").to_pylist()
            return pa.schema([pa.field(n, _arrow_type(t)) for n, t in zip(names, kinds)])
        outcome = await self.run(statement, [None] * len(statement.param_oids))
        return outcome.table.schema if isinstance(outcome, Rows) else None

    # --- cursors --------------------------------------------------------------------------------

    async def _declare(self, declare: prepared.Declare, statement: exp.Expression) -> str:
        if declare.cursor in self.cursors:
            raise ServerError(f'cursor "{declare.cursor}" already exists', DUPLICATE_CURSOR)
        result = await self.blocking(self.db.execute_statement, statement)
        if isinstance(result, Subscription):
            cursor = SubscriptionCursor(result, self.wait, declare.hold, declare.binary)
        else:
            cursor = ResultCursor(result, declare.hold, declare.binary)
        self.cursors[declare.cursor] = cursor
        if self.status != codec.IDLE:
            self._cursors_in_block.add(declare.cursor)
        return "DECLARE CURSOR"

    async def _fetch(self, fetch: prepared.Fetch) -> Rows | str:
        cursor = self.cursors.get(fetch.cursor)
        if cursor is None:
            raise ServerError(f'cursor "{fetch.cursor}" does not exist', INVALID_CURSOR_NAME)
        rows = await cursor.fetch(fetch.count, fetch.timeout, self.check_interrupted)
        if fetch.move:
            return f"MOVE {rows.num_rows}"
        return Rows(rows, f"FETCH {rows.num_rows}", cursor.binary)

    def close_cursor(self, name: str | None) -> None:
        if name is not None and name not in self.cursors:
            raise ServerError(f'cursor "{name}" does not exist', INVALID_CURSOR_NAME)
        for key in [name] if name is not None else list(self.cursors):
            self.cursors.pop(key).close()
            self._cursors_in_block.discard(key)

    def end_transaction(self) -> None:
        """COMMIT or ROLLBACK: cursors declared in the block without HOLD close."""
        self.status = codec.IDLE
        for name in list(self._cursors_in_block):
            cursor = self.cursors.get(name)
            if cursor is not None and not cursor.hold:
                self.cursors.pop(name).close()
        self._cursors_in_block.clear()

    def close_all(self) -> None:
        for cursor in self.cursors.values():
            cursor.close()
        self.cursors.clear()

    # --- COPY -----------------------------------------------------------------------------------

    async def _copy(self, statement: exp.Expression, fmt: CopyFormat) -> str:
        result = await self.blocking(self.db.execute_statement, statement)
        if isinstance(result, Subscription):
            return await self._copy_subscription(result, fmt)
        out = CopyOut(fmt, result.column_names)
        self.send(out.start())
        for batch in result.to_batches(max_chunksize=4096):
            self.send(out.rows(pa.Table.from_batches([batch], result.schema), self.context()))
            await self.flush()
        self.send(out.end())
        return f"COPY {out.count}"

    async def _copy_subscription(self, subscription: Subscription, fmt: CopyFormat) -> str:
        """Stream a subscription until it ends, the client cancels, or the client leaves.
        Each batch is drained before the next is taken: a slow client slows the reading,
        and the subscription's bounded buffer then holds back the sources."""
        out = CopyOut(fmt, subscription_schema(subscription).names)
        self.send(out.start())
        await self.flush()
        try:
            updates = await self.wait(subscription, 0)
            while True:
                for update in updates:
                    self.send(out.rows(subscription_rows(subscription, update), self.context()))
                if updates:
                    await self.flush()
                elif subscription.closed:
                    break
                self.check_interrupted()
                updates = await self.wait(subscription, WAIT_SLICE)
        finally:
            subscription.close()
        if subscription.error:
            raise ServerError(subscription.error, subscription.sqlstate or "53400")
        self.send(out.end())
        return f"COPY {out.count}"


def _arrow_type(name: str) -> pa.DataType:
    try:
        return types.to_arrow(name)
    except types.TypeError_:
        return pa.string()
