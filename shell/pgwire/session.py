"""One client connection after startup: the simple and extended query protocols.

The connection (connection.py) hands the session each arrival of bytes. The session cuts them
into messages and answers them in order, as far as it can at once: a point read whose plan and
snapshot are ready, Bind, Sync and the like are answered in the same callback. The first
message that must wait (for a thread, a subscription, a slow client) runs as a task, and the
messages after it wait their turn. Statements are classified by ``prepared.prepare`` and run by
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
from collections import deque
from dataclasses import dataclass, field

import pyarrow as pa

from tidal.catalog.sqlstate import (
    DUPLICATE_CURSOR,
    DUPLICATE_PREPARED_STATEMENT,
    FEATURE_NOT_SUPPORTED,
    IDLE_SESSION_TIMEOUT,
    INVALID_CURSOR_NAME,
    INVALID_SQL_STATEMENT_NAME,
    PROTOCOL_VIOLATION,
    SYNTAX_ERROR,
)
from tidal.shell.pgwire import codec, params
from tidal.shell.pgwire.encoders import RowEncoder
from tidal.shell.pgwire.error_responses import ServerError, describe, error_message, fatal_message
from tidal.shell.pgwire.pg_types import pg_type
from tidal.shell.pgwire.prepared import Prepared
from tidal.shell.pgwire.results import Rows
from tidal.shell.pgwire.runner import LATER, ClientGone, Runner, conform
from tidal.sql import split_statements
from tidal.sql.errors import SqlError

# Rows encoded at a time, and output buffered before it is written to the socket.
ROW_CHUNK = 4096
FLUSH_BYTES = 256 * 1024
# Messages read ahead of the one being answered: beyond this, reading pauses and TCP holds
# back a client that floods the server.
MAX_PENDING = 16
END = None  # in ``pending``: the client closed its side of the connection


@dataclass
class Statement:
    prepared: Prepared
    described: pa.Schema | None = None  # the row shape sent for Describe S


@dataclass(slots=True)  # one per Bind
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
class Client:
    """What a session knows of its client (from the startup exchange) and of the server."""

    user: str
    pid: int
    secret: int
    idle_timeout: float | None = None
    tls: bool = False
    startup: dict[str, str] = field(default_factory=dict)


class Session(Runner):
    def __init__(self, server, client: Client, connection) -> None:
        super().__init__(server, client)
        self.connection = connection
        self.out = bytearray()
        self.statements: dict[str, Statement] = {}
        self.portals: dict[str, Portal] = {}
        self.skipping = False  # after an error in extended mode, until Sync
        self.pending: deque = deque()  # messages read, not answered yet
        self.task: asyncio.Task | None = None  # answering a message that had to wait
        self.ended = False
        self._framer = codec.Framer(server.limits.max_message_bytes)
        self._idle: asyncio.TimerHandle | None = None
        self._encoder: RowEncoder | None = None  # the last result's, likely the next one's
        # Each handler answers its message at once and returns None, or returns a coroutine
        # that answers it, which the session runs as a task.
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

    def write_out(self) -> None:
        if self.out:
            data, self.out = self.out, bytearray()
            self.connection.write(data)

    async def flush(self) -> None:
        """Write what is buffered, and wait while the client is not reading."""
        self.write_out()
        await self.connection.drain()

    async def _maybe_flush(self) -> None:
        if len(self.out) >= FLUSH_BYTES:
            await self.flush()

    # --- the connection's calls ------------------------------------------------------------------

    def start(self) -> None:
        """Send the greeting buffered so far, and start taking the client's messages."""
        self.write_out()
        self.connection.start_session(self)
        self._await_message()

    def received(self, data: bytes) -> None:
        if self.ending:
            return  # after Terminate, the end of the stream or garbage, nothing is read
        self._stop_idle_timer()
        try:
            self._framer.feed(data)
            for kind, body in self._framer:
                message = codec.parse_message(kind, body)
                self.pending.append(message)
                if isinstance(message, codec.Terminate):
                    self.ending = True
                    break
        except codec.ProtocolError as error:
            self.pending.append(error)
            self.ending = True
        if len(self.pending) >= MAX_PENDING:
            self.connection.pause_reading()
        self._pump()

    def input_ended(self) -> None:
        """The client closed its side, or the connection broke: what it sent before is still
        answered (a statement sent before closing still runs), then the session ends."""
        if not self.ending:
            self.ending = True
            self.pending.append(END)
        self._pump()

    def writable(self) -> None:
        self._pump()

    # --- the loop ------------------------------------------------------------------------------

    def _pump(self) -> None:
        """Answer pending messages in order while each is answered at once. One that is not
        runs as a task, which pumps again when it is done. Nothing is answered while the
        client does not read what it is sent."""
        while self.pending and self.task is None and not self.ended:
            if self.connection.write_paused and not self.connection.closed:
                return  # resumed by writable()
            message = self.pending.popleft()
            if message is END or isinstance(message, codec.Terminate):
                return self.close()
            if isinstance(message, codec.ProtocolError):
                self.send(fatal_message(message.sqlstate, message.message))
                return self.close()
            if self.skipping and not isinstance(message, codec.Sync):
                continue
            handler = self._handlers.get(type(message))
            if handler is None:  # CopyData and friends outside COPY IN, a stray password
                if isinstance(message, (codec.CopyData, codec.CopyDone, codec.CopyFail)):
                    continue
                name = type(message).__name__
                self.send(fatal_message(PROTOCOL_VIOLATION, f"unexpected message {name}"))
                return self.close()
            later = handler(message)
            if later is not None:
                self.task = asyncio.get_running_loop().create_task(self._answer_later(later))
        if len(self.out) >= FLUSH_BYTES:
            self.write_out()
        if len(self.pending) < MAX_PENDING // 2:
            self.connection.resume_reading()
        self._await_message()

    async def _answer_later(self, answer) -> None:
        try:
            await answer
        except (ClientGone, ConnectionError):
            self.task = None
            return self.close()
        except Exception:  # noqa: BLE001 - a bug ends this session, not the server
            traceback.print_exc(file=sys.stderr)
            self.task = None
            return self.close()
        self.task = None
        self._pump()

    def _await_message(self) -> None:
        """With nothing to answer, start the idle timeout (if the server has one)."""
        timeout = self.client.idle_timeout
        waiting = self.task is None and not self.pending and not self.ended
        if timeout and waiting and self._idle is None:
            loop = asyncio.get_running_loop()
            self._idle = loop.call_later(timeout, self._idle_timed_out)

    def _stop_idle_timer(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _idle_timed_out(self) -> None:
        self._idle = None
        if self.task is None and not self.pending:
            message = "terminating connection due to idle-session timeout"
            self.send(fatal_message(IDLE_SESSION_TIMEOUT, message))
            self.close()

    def close(self) -> None:
        """End the session: send what is buffered, close cursors and the connection."""
        if self.ended:
            return
        self.ended = self.ending = True
        self._stop_idle_timer()
        self.write_out()
        self.close_all()
        self.server.session_ended(self)
        self.connection.close()

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

    def _query(self, message: codec.Query):
        return self._simple_query(message.text)

    async def _simple_query(self, text: str) -> None:
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
                portal = Portal(prepared, [], ())
                if isinstance(outcome, Rows):
                    formats = (1,) if outcome.binary else ()
                    self.send(self._row_description(outcome.table.schema, formats))
                    self._keep(portal, outcome)
                    await self._send_rows(portal, 0)
                else:
                    self._send_tag(outcome)
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

    def _send_tag(self, tag: str | None) -> None:
        self.send(codec.empty_query_response() if tag is None else codec.command_complete(tag))

    # --- rows ----------------------------------------------------------------------------------

    def _rows_end(self, portal: Portal, max_rows: int) -> int:
        """Where an Execute for ``max_rows`` rows (0: all) stops in the portal's rows."""
        rows = portal.rows.num_rows
        return rows if max_rows <= 0 else min(rows, portal.position + max_rows)

    async def _send_rows(self, portal: Portal, max_rows: int) -> None:
        """Send the rows of one Execute; a large result goes out as it is encoded."""
        start, end = portal.position, self._rows_end(portal, max_rows)
        while end - portal.position > ROW_CHUNK:
            self._send_chunk(portal, portal.position + ROW_CHUNK)
            await self._maybe_flush()
        self._send_chunk(portal, end)
        self._rows_sent(portal, start)

    def _send_rows_now(self, portal: Portal, max_rows: int) -> bool:
        """``_send_rows`` for a result of at most one chunk (False: it is longer)."""
        start, end = portal.position, self._rows_end(portal, max_rows)
        if end - start > ROW_CHUNK:
            return False
        self._send_chunk(portal, end)
        self._rows_sent(portal, start)
        return True

    def _send_chunk(self, portal: Portal, end: int) -> None:
        table = portal.rows
        codes = portal.formats or ((1,) if portal.binary else ())
        formats = self._formats(codes, table.num_columns)
        encoder = self._encoder
        if encoder is None or not encoder.fits(table.schema, formats):
            encoder = self._encoder = RowEncoder(table.schema, formats)
        chunk = table.slice(portal.position, end - portal.position)
        for values in encoder.rows(chunk, self.context()):
            self.send(codec.data_row(values))
        portal.position = end

    def _rows_sent(self, portal: Portal, start: int) -> None:
        if portal.position < portal.rows.num_rows:
            self.send(codec.portal_suspended())
        else:
            self.send(codec.command_complete(portal.tag or f"SELECT {portal.position - start}"))

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
    # A step that can be done at once is; one that must wait returns the coroutine that does it.
    # An error in either skips everything up to Sync.

    def _now(self, step, message) -> bool:
        """Run ``step(message)``: True if it was done (or failed), False if it must wait."""
        try:
            return step(message) is not False
        except Exception as error:  # noqa: BLE001 - every error goes to the client
            self._step_failed(error)
            return True

    async def _later(self, step, message) -> None:
        try:
            await step(message)
        except ClientGone:
            raise
        except Exception as error:  # noqa: BLE001 - every error goes to the client
            self._step_failed(error)

    def _step_failed(self, error: Exception, text: str = "", offset: int = 0) -> None:
        self.fail(error, text, offset)
        self.skipping = True
        self.write_out()  # drivers that sent Flush without Sync wait for it

    def _parse(self, message: codec.Parse) -> None:
        self._now(self._parse_now, message)

    def _parse_now(self, message: codec.Parse) -> None:
        if message.name and message.name in self.statements:
            raise ServerError(
                f'prepared statement "{message.name}" already exists', DUPLICATE_PREPARED_STATEMENT
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
            return self._step_failed(error, message.text, max(offset, 0))
        self.statements[message.name] = Statement(prepared)
        self.send(codec.parse_complete())

    def _bind(self, message: codec.Bind) -> None:
        self._now(self._bind_now, message)

    def _bind_now(self, message: codec.Bind) -> None:
        statement = self._statement(message.statement)
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

    def _statement(self, name: str) -> Statement:
        statement = self.statements.get(name)
        if statement is None:
            raise ServerError(
                f'prepared statement "{name}" does not exist', INVALID_SQL_STATEMENT_NAME
            )
        return statement

    def _portal(self, name: str) -> Portal:
        portal = self.portals.get(name)
        if portal is None:
            raise ServerError(f'portal "{name}" does not exist', INVALID_CURSOR_NAME)
        return portal

    def _describe(self, message: codec.Describe):
        if not self._now(self._describe_now, message):
            return self._later(self._describe_later, message)

    def _describe_now(self, message: codec.Describe) -> bool:
        if message.kind == "S":
            statement = self._statement(message.name)
            if statement.described is None and statement.prepared.returns_rows:
                return False  # learning its columns may need the database
            self._describe_statement(statement)
            return True
        if message.name not in self.portals:
            self._describe_cursor(message.name)
            return True
        portal = self.portals[message.name]
        if portal.prepared.returns_rows and not self._run_portal_now(portal):
            return False
        self._describe_portal(portal)
        return True

    async def _describe_later(self, message: codec.Describe) -> None:
        if message.kind == "S":
            statement = self._statement(message.name)
            statement.described = await self.describe_statement(statement.prepared)
            self._describe_statement(statement)
        else:
            portal = self._portal(message.name)
            await self._run_portal(portal)
            self._describe_portal(portal)

    def _describe_statement(self, statement: Statement) -> None:
        self.send(codec.parameter_description(statement.prepared.param_oids))
        if statement.described is None:
            self.send(codec.no_data())
        else:
            self.send(self._row_description(statement.described, ()))

    def _describe_portal(self, portal: Portal) -> None:
        if portal.rows is None:
            self.send(codec.no_data())
        else:
            self.send(self._row_description(portal.rows.schema, portal.formats))

    def _describe_cursor(self, name: str) -> None:
        cursor = self.cursors.get(name)
        if cursor is None:
            raise ServerError(f'portal "{name}" does not exist', INVALID_CURSOR_NAME)
        self.send(self._row_description(cursor.schema, (1,) if cursor.binary else ()))

    def _run_portal_now(self, portal: Portal) -> bool:
        """Run a portal's statement once, if that needs no waiting (False: it does): rows
        are kept on the portal for Execute, a command's tag in ``portal.tag`` (None for an
        empty query)."""
        if not portal.ran:
            outcome = self.run_now(portal.prepared, portal.values)
            if outcome is LATER:
                return False
            self._keep(portal, outcome)
        return True

    async def _run_portal(self, portal: Portal) -> None:
        if not portal.ran:
            self._keep(portal, await self.run(portal.prepared, portal.values))

    def _keep(self, portal: Portal, outcome) -> None:
        portal.ran = True
        if isinstance(outcome, Rows):
            table = conform(outcome.table, portal.expected)
            portal.rows, portal.tag, portal.binary = table, outcome.tag, outcome.binary
        else:
            portal.tag = outcome

    def _execute(self, message: codec.Execute):
        if not self._now(self._execute_now, message):
            return self._later(self._execute_later, message)

    def _execute_now(self, message: codec.Execute) -> bool:
        portal = self._portal(message.portal)
        if not self._run_portal_now(portal):
            return False
        if portal.rows is not None:
            return self._send_rows_now(portal, message.max_rows)
        self._send_tag(portal.tag)
        self._send_parameter_changes()
        return True

    async def _execute_later(self, message: codec.Execute) -> None:
        portal = self._portal(message.portal)
        await self._run_portal(portal)
        if portal.rows is not None:
            await self._send_rows(portal, message.max_rows)
        else:
            self._send_tag(portal.tag)
            self._send_parameter_changes()

    def _close(self, message: codec.Close) -> None:
        if message.kind == "S":
            self.statements.pop(message.name, None)
        else:
            self.portals.pop(message.name, None)
        if not self.skipping:
            self.send(codec.close_complete())

    def _sync(self, message: codec.Sync) -> None:
        self.skipping = False
        if self.status == codec.IDLE:
            self.portals.clear()
        self.ready()
        self.write_out()

    def _flush_message(self, message: codec.Flush) -> None:
        self.write_out()

    def _function_call(self, message: codec.FunctionCall) -> None:
        self.fail(ServerError("the function call protocol is not supported", FEATURE_NOT_SUPPORTED))
        self.ready()
        self.write_out()

    # --- housekeeping's view of the session ------------------------------------------------------

    def deallocate(self, name: str | None) -> None:
        if name is None:
            self.statements = {k: v for k, v in self.statements.items() if not k}
        elif self.statements.pop(name, None) is None:
            raise ServerError(
                f'prepared statement "{name}" does not exist', INVALID_SQL_STATEMENT_NAME
            )

    def shutdown_message(self, code: str, message: str) -> bytes:
        """Everything buffered, then a FATAL: what the server sends a session it ends."""
        data, self.out = bytes(self.out) + fatal_message(code, message), bytearray()
        return data


__all__ = ["Client", "Session"]
