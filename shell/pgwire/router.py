"""From a statement to who runs it: the housekeeping handlers, the session's cursors, COPY, the
catalog emulation, or the engine.

Inside a transaction block every engine statement runs through the block's Transaction
(tidal.engine.transactions): on a thread, since it must see the block's own changes; a COMMIT
that has changes to apply runs on a thread too, then the housekeeping handler closes the block.

``prepare`` reads a statement once (simple queries and Parse alike): the dialect parses it, and
its node type says where it goes (``Route``); its parameters' types are inferred then.
``run_now`` answers what needs no waiting (housekeeping, a fast read whose plan and snapshot
are ready); ``run`` answers the rest, on the server's threads where the work blocks (the
engine, the catalog's DuckDB, a subscription's next changes).

    >>> from tidal.engine import Database
    >>> from tidal.shell.pgwire.session_state import Client, SessionState
    >>> router = Router(SessionState(Client("me", 1, 2)), Services(Database(), None, None))
    >>> router.prepare("FETCH 10 c WITH (timeout = '1s')").route
    <Route.FETCH: 'fetch'>
    >>> router.prepare("SET extra_float_digits = 3").route
    <Route.HOUSEKEEPING: 'housekeeping'>
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field

import pyarrow as pa
from sqlglot import exp

from tidal.catalog.sqlstate import (
    FEATURE_NOT_SUPPORTED,
    IN_FAILED_SQL_TRANSACTION,
    INSUFFICIENT_PRIVILEGE,
    SYNTAX_ERROR,
)
from tidal.engine import Database, Status
from tidal.engine.cancellation import STATEMENT_TIMEOUT, Cancellation, QueryCanceled
from tidal.engine.subscriptions import Subscription
from tidal.shell.pgwire import engine_calls, housekeeping, params
from tidal.shell.pgwire import pg_types as pg
from tidal.shell.pgwire.catalog.queries import CatalogQueries
from tidal.shell.pgwire.copy import CopyFormat, copy_subscription, copy_table
from tidal.shell.pgwire.copy_in import CopyIn, copy_in_response
from tidal.shell.pgwire.cursors import ResultCursor, SubscriptionCursor
from tidal.shell.pgwire.engine_calls import MISS, EngineStatement
from tidal.shell.pgwire.error_responses import ServerError
from tidal.shell.pgwire.results import LATER, Outcome, Output, Rows
from tidal.shell.pgwire.session_state import SessionState, TransactionStatus
from tidal.shell.pgwire.subscription_feed import wait_in
from tidal.sql import ddl, roles
from tidal.sql.cursor_statements import CopyFrom, CopyToStdout, DeclareCursor, FetchCursor
from tidal.sql.dialect import EmitOnWindowClose, Explain
from tidal.sql.errors import SqlError
from tidal.sql.parser import parse_statement
from tidal.sql.python_functions import is_python_function
from tidal.sql.subscribe import Subscribe

LIMITS_CLASS = "54"  # SQLSTATE class of a statement past a limit (program_limit_exceeded)

# Connectors that touch no file of the server: any client may create these.
NETWORK_SAFE_CONNECTORS = {"datagen", "nexmark", "blackhole"}
# Connectors that reach other servers (or listen for them): superusers only, as they make the
# server connect where the statement says.
OUTSIDE_CONNECTORS = {"postgres-cdc", "postgres", "kafka", "webhook"}


class Route(enum.Enum):
    EMPTY = "empty"
    HOUSEKEEPING = "housekeeping"  # housekeeping.py answers it from the session's state
    DECLARE = "declare"
    FETCH = "fetch"
    COPY = "copy"  # COPY ... TO STDOUT, and a bare SUBSCRIBE (streamed the same way)
    COPY_IN = "copy in"  # COPY ... FROM STDIN: the client sends the rows (copy_in.py)
    CATALOG = "catalog"  # a pg_catalog query: the catalog emulation answers it
    QUOTE = "quote"  # asyncpg's quote_literal($1::type::text) for COPY arguments
    ENGINE = "engine"


# Bound once for run_now, the path of every point read (an Enum member lookup costs ~80 ns).
_ENGINE, _FAILED, _IDLE = Route.ENGINE, TransactionStatus.FAILED, TransactionStatus.IDLE


@dataclass
class Prepared:
    """A statement ready to run: where it goes, its parsed ``node``, the ``statement`` the
    engine runs (for DECLARE and COPY, the one inside) and its parameter types."""

    text: str
    route: Route
    node: exp.Expression | None = None
    statement: exp.Expression | None = None
    param_oids: list[int] = field(default_factory=list)
    handler: housekeeping.Handler | None = None
    engine: EngineStatement | None = None

    @property
    def returns_rows(self) -> bool:
        if self.route is Route.HOUSEKEEPING:
            return self.handler.returns_rows
        if self.route is Route.FETCH:
            return not self.node.move
        if self.route in (Route.CATALOG, Route.QUOTE):
            return True
        return self.route is Route.ENGINE and is_query(self.statement)

    @property
    def describable(self) -> bool:
        """A query the binder can describe without running it."""
        return self.route is Route.ENGINE and isinstance(
            self.statement, (exp.Query, exp.Values, EmitOnWindowClose)
        )


def is_query(statement: exp.Expression | None) -> bool:
    return isinstance(
        statement, (exp.Query, exp.Values, EmitOnWindowClose, exp.Show, exp.Describe, Explain)
    )


@dataclass(frozen=True)
class Services:
    """What the server lends every session: its database, and the threads blocking work runs
    on (``executor`` for statements, ``waits`` for subscriptions: one per connection;
    ``queries`` for queries, if apart: then clients running long queries on every thread of
    it still leave threads for DML and DDL)."""

    db: Database
    executor: Executor | None
    waits: Executor | None
    allow_file_connectors: bool = False  # may clients create file sources and sinks?
    queries: Executor | None = None
    allow_python_functions: bool = False  # may superusers create LANGUAGE python functions?


class Router:
    """Runs one session's statements (the protocol half is protocol.SessionProtocol)."""

    def __init__(self, state: SessionState, services: Services) -> None:
        self.state = state
        self.services = services
        self.db = services.db
        self.catalog_queries = CatalogQueries(engine_calls.catalog(self.db), state.user)

    # --- reading a statement ---------------------------------------------------------------------

    def prepare(self, text: str, declared: tuple[int, ...] = ()) -> Prepared:
        """Read one statement (no trailing semicolon) and infer its parameters' types."""
        text = text.strip().rstrip(";").strip()
        if not text:
            return Prepared(text, Route.EMPTY)
        try:
            node = parse_statement(text)
        except SqlError as error:
            # PostgreSQL the dialect does not read; not a statement past tidal's limits
            if not error.sqlstate.startswith(LIMITS_CLASS) and self.catalog_queries.handles(text):
                return self._catalog_query(text, declared)
            raise
        if isinstance(node, FetchCursor):
            return Prepared(text, Route.FETCH, node)
        if isinstance(node, CopyFrom):
            if node.args.get("file") is not None:
                raise ServerError(
                    "COPY ... FROM a file reads the server's files, which clients may not do: "
                    "send the rows with COPY ... FROM STDIN (psql's \\copy)",
                    INSUFFICIENT_PRIVILEGE,
                )
            return Prepared(text, Route.COPY_IN, node)
        if isinstance(node, (DeclareCursor, CopyToStdout, Subscribe)):
            return self._wrapped(text, node, declared)
        handler = housekeeping.find(node)
        if handler is not None:
            return Prepared(text, Route.HOUSEKEEPING, node, handler=handler)
        if self.catalog_queries.handles(text):
            return self._catalog_query(text, declared)
        engine = EngineStatement(self.db, node, declared)
        if params.quoted_parameters(node) is not None:
            return Prepared(text, Route.QUOTE, node, node, engine.param_oids)
        return Prepared(text, Route.ENGINE, node, node, engine.param_oids, engine=engine)

    async def prepare_later(self, text: str, declared: tuple[int, ...] = ()) -> Prepared:
        """``prepare`` on a thread: for a long statement."""
        return await self._blocking(self.prepare, text, declared)

    def _wrapped(self, text: str, node: exp.Expression, declared: tuple[int, ...]) -> Prepared:
        """DECLARE and COPY run the statement inside them (a bare SUBSCRIBE is streamed as
        COPY does it)."""
        if isinstance(node, Subscribe):
            route, inner = Route.COPY, node
        elif isinstance(node, DeclareCursor):
            route, inner = Route.DECLARE, node.expression
        else:
            route, inner = Route.COPY, node.query
        if not isinstance(inner, Subscribe) and not is_query(inner):
            what = "DECLARE ... CURSOR FOR" if route is Route.DECLARE else "COPY (...) TO STDOUT"
            raise ServerError(f"{what} takes a query or SUBSCRIBE", SYNTAX_ERROR)
        engine = EngineStatement(self.db, inner, declared)
        return Prepared(text, route, node, inner, engine.param_oids, engine=engine)

    def _catalog_query(self, text: str, declared: tuple[int, ...]) -> Prepared:
        count = max(len(declared), self.catalog_queries.parameter_count(text))
        oids = [declared[i] if i < len(declared) else 0 for i in range(count)]
        oids = [pg.TEXT if oid in (0, pg.UNKNOWN) else oid for oid in oids]
        return Prepared(text, Route.CATALOG, param_oids=oids)

    # --- running it ------------------------------------------------------------------------------

    def run_now(self, prepared: Prepared, values: list) -> Outcome | object:
        """Run ``prepared`` with parameter ``values`` if that needs no waiting: Rows, a tag,
        or None (empty); LATER if it does (then ``run`` runs it)."""
        self.state.cancel_requested = None
        route = prepared.route
        if self.state.transaction is _FAILED and not (
            route is Route.HOUSEKEEPING and housekeeping.ends_failed_transaction(prepared.node)
        ):
            raise ServerError(
                "current transaction is aborted, commands ignored until end of transaction block",
                IN_FAILED_SQL_TRANSACTION,
            )
        if route is _ENGINE:
            if self.state.transaction is not _IDLE:
                return LATER  # it reads through the block
            rows = prepared.engine.run_now(values)
            return LATER if rows is MISS else Rows(rows)
        if route is Route.HOUSEKEEPING:
            block = self.state.block
            if (
                isinstance(prepared.node, exp.Commit)
                and self.state.transaction is TransactionStatus.IN_BLOCK  # not a failed one
                and block is not None
                and block.changed
            ):
                return LATER  # the changes are applied on a thread
            return self._housekeeping(prepared)
        if route is Route.EMPTY:
            return None
        if route is Route.COPY_IN:
            columns = engine_calls.copy_columns(self.db, prepared.node)
            return CopyIn(prepared, copy_in_response(columns))
        if route is Route.QUOTE:
            numbers = params.quoted_parameters(prepared.statement)
            quoted = [params.quote_literal(values[n - 1]) for n in numbers]
            arrays = [pa.array([q], pa.string()) for q in quoted]
            return Rows(pa.Table.from_arrays(arrays, names=["quote_literal"] * len(arrays)))
        return LATER

    async def run(self, prepared: Prepared, values: list, out: Output | None = None) -> Outcome:
        """Run ``prepared`` with parameter ``values``: Rows, a tag, or None (empty). COPY
        writes to ``out`` as it goes."""
        outcome = self.run_now(prepared, values)
        if outcome is not LATER:
            return outcome
        with self._cancellable():
            return await self._run_later(prepared, values, out)

    async def _run_later(self, prepared: Prepared, values: list, out: Output | None) -> Outcome:
        route, engine = prepared.route, prepared.engine
        if route is Route.HOUSEKEEPING:
            return await self._commit(prepared)
        if route is Route.CATALOG:
            arguments = [_catalog_value(o, v) for o, v in zip(prepared.param_oids, values)]
            return Rows(await self._querying(self.catalog_queries.run, prepared.text, arguments))
        if route is Route.FETCH:
            return await self._fetch(prepared.node, out)
        if route is Route.DECLARE:
            return await self._declare(prepared.node, engine, values)
        if route is Route.COPY:
            return await self._copy(prepared.node, engine, values, out)
        on = self._querying if is_query(prepared.statement) else self._blocking
        result = await on(engine.run, values, self._vet, self.state.block)
        return self._outcome(prepared.statement, result)

    def _housekeeping(self, prepared: Prepared) -> Outcome:
        """A housekeeping statement; a block it opens gets its Transaction."""
        answer = prepared.handler.run(self.state, prepared.node)
        if self.state.transaction is not _IDLE and self.state.block is None:
            self.state.block = self.db.transaction()
        return answer

    async def _commit(self, prepared: Prepared) -> Outcome:
        """COMMIT of a block with changes: applied in one tick, or (40001, a view that cannot
        take them) none are and the block is over all the same."""
        try:
            await self._blocking(self.state.block.commit)
        except BaseException:
            self.state.end_transaction()
            raise
        return self._housekeeping(prepared)

    async def describe(self, prepared: Prepared) -> pa.Schema | None:
        """The columns ``prepared`` will return, learnt without running it where possible."""
        if prepared.route is Route.FETCH:
            cursor = self.state.cursors.get(prepared.node.cursor)
            return cursor.schema if cursor is not None else None
        if prepared.describable:
            return await self._blocking(prepared.engine.columns)
        outcome = await self.run(prepared, [None] * len(prepared.param_oids))
        return outcome.table.schema if isinstance(outcome, Rows) else None

    def close(self) -> None:
        """The session ended: its cursors close (and their subscriptions end)."""
        self.state.cursors.close(None)

    def _outcome(self, statement: exp.Expression, result) -> Outcome:
        if isinstance(result, pa.Table):
            tag = "SHOW" if isinstance(statement, exp.Show) else None
            return Rows(result, "EXPLAIN" if isinstance(statement, Explain) else tag)
        if isinstance(result, Subscription):
            result.close()
            raise ServerError(
                "SUBSCRIBE runs as COPY (SUBSCRIBE ...) TO STDOUT", FEATURE_NOT_SUPPORTED
            )
        if isinstance(result, Status):
            return result.tag
        return str(result) if result is not None else statement.key.upper()

    def _vet(self, statement: exp.Expression) -> None:
        """Refuse what this session's user may not do (file connectors, managing users)."""
        self._check_connectors(statement)
        self._check_python_functions(statement)
        role = roles.role_of(statement)
        if role is not None:
            roles.authorize(role, self.state.user, engine_calls.users(self.db))

    def _check_python_functions(self, statement: exp.Expression) -> None:
        """A Python function runs any code on the server: only a server started with
        --allow-python-functions creates them, and only for a superuser (RisingWave keeps
        embedded Python functions off by default for the same reason)."""
        if not is_python_function(statement):
            return
        if not self.services.allow_python_functions:
            raise ServerError(
                "LANGUAGE python runs code on the server, which clients may not do: create the "
                "function in the --init script, or start tidal serve with "
                "--allow-python-functions (then superusers may create them)",
                INSUFFICIENT_PRIVILEGE,
            )
        if not roles.acts_as_superuser(self.state.user, engine_calls.users(self.db)):
            raise ServerError(
                f"only a superuser may create a Python function; {self.state.user!r} is not one",
                INSUFFICIENT_PRIVILEGE,
            )

    def _check_connectors(self, statement: exp.Expression) -> None:
        """Sources, sinks and tables that read or write the server's files are for the --init
        script (or a server started with --allow-file-connectors), not for any client; those
        that reach other servers are for superusers."""
        if not isinstance(statement, exp.Create):
            return
        if (statement.args.get("kind") or "").upper() not in ("SOURCE", "SINK", "TABLE"):
            return
        try:
            connector = dict(ddl.options(statement)).get("connector", "").lower()
        except SqlError:
            return  # the engine reports the bad option
        if not connector or connector in NETWORK_SAFE_CONNECTORS:
            return
        if connector in OUTSIDE_CONNECTORS:
            if not roles.acts_as_superuser(self.state.user, engine_calls.users(self.db)):
                raise ServerError(
                    f"connector {connector!r} connects to other servers: only a superuser may "
                    f"create it; {self.state.user!r} is not one",
                    INSUFFICIENT_PRIVILEGE,
                )
            return
        if not self.services.allow_file_connectors:
            raise ServerError(
                f"connector {connector!r} reads or writes the server's files, which clients "
                "may not do: create it in the --init script, or start tidal serve with "
                "--allow-file-connectors",
                INSUFFICIENT_PRIVILEGE,
            )

    async def copy_in(self, prepared: Prepared, data: bytes) -> tuple[str, tuple[str, ...]]:
        """Load the rows the client sent for COPY FROM STDIN (copy_in.py)."""
        with self._cancellable():
            return await self._blocking(
                engine_calls.copy_rows, self.db, prepared.node, data, self.state.block
            )

    # --- cursors and COPY ------------------------------------------------------------------------

    async def _declare(self, node: DeclareCursor, engine: EngineStatement, values: list) -> str:
        cursors = self.state.cursors
        cursors.check_free(node.cursor)
        result = await self._querying(engine.run, values, None, self.state.block)
        if isinstance(result, Subscription):
            cursor = SubscriptionCursor(result, self._wait, node.hold, node.binary)
        else:
            cursor = ResultCursor(result, node.hold, node.binary)
        cursors.add(node.cursor, cursor, self.state.transaction is not TransactionStatus.IDLE)
        return "DECLARE CURSOR"

    async def _fetch(self, node: FetchCursor, out: Output) -> Rows | str:
        cursor = self.state.cursors.find(node.cursor)
        rows = await cursor.fetch(node.count, node.timeout, out.check_interrupted)
        if node.move:
            return f"MOVE {rows.num_rows}"
        return Rows(rows, f"FETCH {rows.num_rows}", cursor.binary)

    async def _copy(self, node, engine: EngineStatement, values: list, out: Output) -> str:
        fmt = CopyFormat.of(node if isinstance(node, CopyToStdout) else None)
        result = await self._querying(engine.run, values, None, self.state.block)
        context = self.state.context()
        if isinstance(result, Subscription):
            return await copy_subscription(out, result, fmt, context, self._wait)
        return await copy_table(out, result, fmt, context)

    # --- threads ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _cancellable(self) -> Iterator[None]:
        """A statement that runs on threads gets a switch a CancelRequest or its
        ``statement_timeout`` turns (tidal.engine.cancellation)."""
        state = self.state
        state.running = Cancellation()
        if state.cancel_requested is not None:  # asked while it was on its way
            state.running.cancel(state.cancel_requested)
        timeout = state.settings.statement_timeout
        timer = None
        if timeout is not None:
            timer = asyncio.get_running_loop().call_later(timeout, state.cancel, STATEMENT_TIMEOUT)
        try:
            yield
        finally:
            if timer is not None:
                timer.cancel()
            state.running = None

    async def _blocking(self, function, *args):
        """``function(*args)`` on a thread, as the running statement (a cancel stops it)."""
        return await self._on(self.services.executor, functools.partial(function, *args))

    async def _querying(self, function, *args):
        """``_blocking`` for a query: on the query threads, if the server keeps them apart."""
        executor = self.services.queries or self.services.executor
        return await self._on(executor, functools.partial(function, *args))

    async def _on(self, executor: Executor | None, call):
        state = self.state
        if state.running is None or executor is None:
            return await asyncio.get_running_loop().run_in_executor(executor, call)
        queued = executor.submit(_in_scope, state.running, call)
        state.queued = queued  # a cancel while it waits for a thread: it never starts
        try:
            return await asyncio.wrap_future(queued)
        except asyncio.CancelledError:
            if queued.cancelled() and state.cancel_requested is not None:
                raise QueryCanceled(state.cancel_requested) from None
            raise
        finally:
            state.queued = None

    async def _wait(self, subscription: Subscription, timeout: float):
        return await wait_in(self.services.waits, subscription, timeout)


def _in_scope(running: Cancellation, call):
    with running.scope():
        return call()


def _catalog_value(oid: int, value):
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
