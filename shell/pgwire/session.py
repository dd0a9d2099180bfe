"""One client connection after startup: the simple and extended query protocols.

The session reads frontend messages from its ``Inbox`` (filled by the connection's reader
task) and answers each in order. Statements are classified by ``prepared.prepare`` and run by
``Runner`` (runner.py); this module keeps the protocol's state: prepared statements, portals,
the transaction status byte, and the extended protocol's skip-to-Sync after an error.

Transactions: BEGIN, COMMIT and ROLLBACK are accepted and tracked (the status byte goes I, T,
and E after an error inside a block, until ROLLBACK), but every statement applies when it runs:
ROLLBACK undoes nothing. See docs/pgwire.md.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from dataclasses import dataclass, field

import pyarrow as pa

from tidal.shell.pgwire import codec, params
from tidal.shell.pgwire.errors import (
    DUPLICATE_CURSOR,
    DUPLICATE_STATEMENT,
    FEATURE_NOT_SUPPORTED,
    IDLE_SESSION_TIMEOUT,
    PROTOCOL_VIOLATION,
    SYNTAX_ERROR,
    UNDEFINED_CURSOR,
    UNDEFINED_STATEMENT,
    ServerError,
    describe,
    error_message,
    fatal_message,
)
from tidal.shell.pgwire.prepared import Prepared
from tidal.shell.pgwire.results import Rows
from tidal.shell.pgwire.runner import ClientGone, Runner, conform
from tidal.shell.pgwire.types import encode_rows, pg_type
from tidal.sql import split_statements
from tidal.sql.errors import SqlError

# Rows encoded at a time, and output buffered before it is written to the socket.
ROW_CHUNK = 4096
FLUSH_BYTES = 256 * 1024


class Inbox:
    """Messages read ahead from the client, at most ``capacity`` of them (the reader waits
    for room, so a client that floods the server is held back by TCP). ``ending``: a
    Terminate, the end of the stream or a protocol error has been read."""

    def __init__(self, capacity: int = 16) -> None:
        self.queue: asyncio.Queue = asyncio.Queue(capacity)
        self.ending = False

    async def put(self, message) -> None:
        if not self.put_now(message):
            await self.queue.put(message)

    def put_now(self, message) -> bool:
        """Put ``message`` if there is room (False: there is none, ``put`` must wait): the
        reader hands over messages without a suspension per message."""
        if message is None or isinstance(message, (codec.Terminate, codec.ProtocolError)):
            self.ending = True
        if self.queue.full():
            return False
        self.queue.put_nowait(message)
        return True

    async def get(self, timeout: float | None):
        if not self.queue.empty():  # messages read ahead go without a suspension
            return self.queue.get_nowait()
        return (
            await asyncio.wait_for(self.queue.get(), timeout) if timeout else await self.queue.get()
        )


@dataclass
class Statement:
    prepared: Prepared
    described: pa.Schema | None = None  # the row shape sent for Describe S


@dataclass
class Portal:
    prepared: Prepared
    values: list
    formats: tuple[int, ...]
    expected: pa.Schema | None = None  # what Describe S promised: results are cast to it
    rows: pa.Table | None = None
    tag: str | None = None
    position: int = 0
    ran: bool = False
    binary: bool = False


@dataclass
class Connection:
    """What a session knows of its connection and server."""

    user: str
    pid: int
    secret: int
    idle_timeout: float | None = None
    tls: bool = False
    startup: dict[str, str] = field(default_factory=dict)


class Session(Runner):
    def __init__(self, server, connection: Connection, inbox: Inbox, writer) -> None:
        super().__init__(server, connection, inbox)
        self.writer = writer
        self.out = bytearray()
        self.statements: dict[str, Statement] = {}
        self.portals: dict[str, Portal] = {}
        self.skipping = False  # after an error in extended mode, until Sync
        self._handlers = {
            codec.Query: self._query,
            codec.Parse: self._parse,
            codec.Bind: self._bind,
            codec.Describe: self._describe,
            codec.Execute: self._execute,
            codec.Close: self._close,
            codec.Sync: self._sync,
            codec.Flush: self._flush_message,
            codec.FunctionCall: self._function_call,
        }

    # --- output ----------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.out += data

    async def flush(self) -> None:
        if self.out:
            data, self.out = bytes(self.out), bytearray()
            self.writer.write(data)
        await self.writer.drain()

    async def _maybe_flush(self) -> None:
        if len(self.out) >= FLUSH_BYTES:
            await self.flush()

    # --- the loop ------------------------------------------------------------------------------

    async def serve(self) -> None:
        """Answer messages until Terminate, the end of the stream or a fatal error."""
        await self.flush()
        while True:
            try:
                message = await self.inbox.get(self.connection.idle_timeout)
            except TimeoutError:
                self.send(
                    fatal_message(
                        IDLE_SESSION_TIMEOUT, "terminating connection due to idle-session timeout"
                    )
                )
                break
            if message is None or isinstance(message, codec.Terminate):
                break
            if isinstance(message, codec.ProtocolError):
                self.send(fatal_message(message.sqlstate, message.message))
                break
            if self.skipping and not isinstance(message, codec.Sync):
                continue
            handler = self._handlers.get(type(message))
            if handler is None:  # CopyData and friends outside COPY IN, a stray password
                if isinstance(message, (codec.CopyData, codec.CopyDone, codec.CopyFail)):
                    continue
                self.send(
                    fatal_message(
                        PROTOCOL_VIOLATION, f"unexpected message {type(message).__name__}"
                    )
                )
                break
            try:
                await handler(message)
            except ClientGone:
                return
            await self._maybe_flush()
        try:
            await self.flush()
        except (ConnectionError, OSError):
            pass

    def ready(self) -> None:
        for name, value in self.settings.take_changed():
            self.send(codec.parameter_status(name, value))
        self.send(codec.ready_for_query(self.status))

    def fail(self, error: BaseException, text: str = "", offset: int = 0) -> None:
        """Report ``error`` and fail an open transaction block; a bug is also logged."""
        if describe(error)[0] == "XX000":
            traceback.print_exception(error, file=sys.stderr)
        self.send(error_message(error, text, offset))
        if self.status == codec.IN_TRANSACTION:
            self.status = codec.FAILED

    # --- simple query --------------------------------------------------------------------------

    async def _query(self, message: codec.Query) -> None:
        text = message.text
        try:
            statements = split_statements(text)
        except SqlError as error:
            statements = None
            self.fail(error, text)
        if statements == []:
            self.send(codec.empty_query_response())
        for statement in statements or []:
            try:
                prepared = self.prepare(statement.text)
                outcome = await self.run(prepared, [])
                await self._send_outcome(outcome, Portal(prepared, [], ()), 0, simple=True)
                self._send_parameter_changes()
                await self._maybe_flush()
            except ClientGone:
                raise
            except Exception as error:  # noqa: BLE001 - every error goes to the client
                self.fail(error, text, statement.offset)
                break
        self.ready()
        await self.flush()

    def _send_parameter_changes(self) -> None:
        for name, value in self.settings.take_changed():
            self.send(codec.parameter_status(name, value))

    async def _send_outcome(
        self, outcome, portal: Portal, max_rows: int, simple: bool = False
    ) -> None:
        if outcome is None:
            self.send(codec.empty_query_response())
        elif isinstance(outcome, Rows):
            portal.rows, portal.tag, portal.binary = outcome.table, outcome.tag, outcome.binary
            if simple:
                formats = (1,) if outcome.binary else ()
                self.send(self._row_description(outcome.table.schema, formats))
            await self._send_rows(portal, max_rows)
        else:
            self.send(codec.command_complete(outcome))

    async def _send_rows(self, portal: Portal, max_rows: int) -> None:
        table = portal.rows
        end = table.num_rows if max_rows <= 0 else min(table.num_rows, portal.position + max_rows)
        formats = self._formats(
            portal.formats or ((1,) if portal.binary else ()), table.num_columns
        )
        start = portal.position
        for chunk_start in range(start, end, ROW_CHUNK):
            chunk = table.slice(chunk_start, min(ROW_CHUNK, end - chunk_start))
            for values in encode_rows(chunk, formats, self.context()):
                self.send(codec.data_row(values))
            await self._maybe_flush()  # a large result goes out as it is encoded
        portal.position = end
        if end < table.num_rows:
            self.send(codec.portal_suspended())
        else:
            self.send(codec.command_complete(portal.tag or f"SELECT {end - start}"))

    def _formats(self, codes: tuple[int, ...], columns: int) -> list[int]:
        if not codes:
            return [0] * columns
        if len(codes) == 1:
            return [codes[0]] * columns
        if len(codes) != columns:
            raise ServerError(
                f"bind message has {len(codes)} result formats but query has {columns} columns",
                PROTOCOL_VIOLATION,
            )
        return list(codes)

    def _row_description(self, schema: pa.Schema, codes: tuple[int, ...]) -> bytes:
        formats = self._formats(codes, len(schema))
        fields = []
        for f, fmt in zip(schema, formats):
            kind = pg_type(f.type)
            fields.append(codec.FieldDescription(f.name, kind.oid, kind.size, fmt))
        return codec.row_description(fields)

    # --- extended query ------------------------------------------------------------------------

    async def _extended(self, step, *args) -> None:
        """Run one extended-protocol step; an error skips everything up to Sync."""
        try:
            await step(*args)
        except ClientGone:
            raise
        except Exception as error:  # noqa: BLE001 - every error goes to the client
            self.fail(error)
            self.skipping = True
            await self.flush()  # drivers that sent Flush without Sync wait for it

    async def _parse(self, message: codec.Parse) -> None:
        await self._extended(self._do_parse, message)

    async def _do_parse(self, message: codec.Parse) -> None:
        if message.name and message.name in self.statements:
            raise ServerError(
                f'prepared statement "{message.name}" already exists', DUPLICATE_STATEMENT
            )
        statements = split_statements(message.text)
        if len(statements) > 1:
            raise ServerError(
                "cannot insert multiple commands into a prepared statement", SYNTAX_ERROR
            )
        text = statements[0].text if statements else ""
        try:
            prepared = self.prepare(text, message.param_oids)
        except SqlError as error:
            offset = message.text.find(text) if text else 0
            self.fail(error, message.text, max(offset, 0))
            self.skipping = True
            await self.flush()
            return
        self.statements[message.name] = Statement(prepared)
        self.send(codec.parse_complete())

    async def _bind(self, message: codec.Bind) -> None:
        await self._extended(self._do_bind, message)

    async def _do_bind(self, message: codec.Bind) -> None:
        statement = self.statements.get(message.statement)
        if statement is None:
            raise ServerError(
                f'prepared statement "{message.statement}" does not exist', UNDEFINED_STATEMENT
            )
        oids = statement.prepared.param_oids
        if len(message.values) != len(oids):
            raise ServerError(
                f"bind message supplies {len(message.values)} parameters, but prepared "
                f'statement "{message.statement}" requires {len(oids)}',
                PROTOCOL_VIOLATION,
            )
        formats = self._formats(message.param_formats, len(oids))
        values = [params.decode(o, f == 1, v) for o, f, v in zip(oids, formats, message.values)]
        if message.portal and message.portal in self.portals:
            raise ServerError(f'portal "{message.portal}" already exists', DUPLICATE_CURSOR)
        self.portals[message.portal] = Portal(
            statement.prepared, values, message.result_formats, statement.described
        )
        self.send(codec.bind_complete())

    async def _describe(self, message: codec.Describe) -> None:
        await self._extended(self._do_describe, message)

    async def _do_describe(self, message: codec.Describe) -> None:
        if message.kind == "S":
            statement = self.statements.get(message.name)
            if statement is None:
                raise ServerError(
                    f'prepared statement "{message.name}" does not exist', UNDEFINED_STATEMENT
                )
            self.send(codec.parameter_description(statement.prepared.param_oids))
            if statement.described is None and statement.prepared.returns_rows:
                statement.described = await self.describe_statement(statement.prepared)
            if statement.described is None:
                self.send(codec.no_data())
            else:
                self.send(self._row_description(statement.described, ()))
            return
        portal = self.portals.get(message.name)
        if portal is None:
            return self._describe_cursor(message.name)
        if portal.prepared.returns_rows:
            await self._run_portal(portal)
        if portal.rows is None:
            self.send(codec.no_data())
        else:
            self.send(self._row_description(portal.rows.schema, portal.formats))

    def _describe_cursor(self, name: str) -> None:
        cursor = self.cursors.get(name)
        if cursor is None:
            raise ServerError(f'portal "{name}" does not exist', UNDEFINED_CURSOR)
        self.send(self._row_description(cursor.schema, (1,) if cursor.binary else ()))

    async def _run_portal(self, portal: Portal) -> None:
        """Run a portal's statement once: rows are kept on the portal for Execute, a command's
        tag in ``portal.tag`` (None for an empty query)."""
        if portal.ran:
            return
        portal.ran = True
        outcome = await self.run(portal.prepared, portal.values)
        if isinstance(outcome, Rows):
            table = conform(outcome.table, portal.expected)
            portal.rows, portal.tag, portal.binary = table, outcome.tag, outcome.binary
        else:
            portal.tag = outcome

    async def _execute(self, message: codec.Execute) -> None:
        await self._extended(self._do_execute, message)

    async def _do_execute(self, message: codec.Execute) -> None:
        portal = self.portals.get(message.portal)
        if portal is None:
            raise ServerError(f'portal "{message.portal}" does not exist', UNDEFINED_CURSOR)
        await self._run_portal(portal)
        if portal.rows is None:
            await self._send_outcome(portal.tag, portal, 0)
            self._send_parameter_changes()
        else:
            await self._send_rows(portal, message.max_rows)

    async def _close(self, message: codec.Close) -> None:
        if message.kind == "S":
            self.statements.pop(message.name, None)
        else:
            self.portals.pop(message.name, None)
        if not self.skipping:
            self.send(codec.close_complete())

    async def _sync(self, message: codec.Sync) -> None:
        self.skipping = False
        if self.status == codec.IDLE:
            self.portals.clear()
        self.ready()
        await self.flush()

    async def _flush_message(self, message: codec.Flush) -> None:
        await self.flush()

    async def _function_call(self, message: codec.FunctionCall) -> None:
        self.fail(ServerError("the function call protocol is not supported", FEATURE_NOT_SUPPORTED))
        self.ready()
        await self.flush()

    # --- housekeeping's view of the session ------------------------------------------------------

    def deallocate(self, name: str | None) -> None:
        if name is None:
            self.statements = {k: v for k, v in self.statements.items() if not k}
        elif self.statements.pop(name, None) is None:
            raise ServerError(f'prepared statement "{name}" does not exist', UNDEFINED_STATEMENT)

    def shutdown_message(self, code: str, message: str) -> bytes:
        """Everything buffered, then a FATAL: what the server sends a session it ends."""
        data, self.out = bytes(self.out) + fatal_message(code, message), bytearray()
        return data


__all__ = ["Connection", "Inbox", "Session"]
