"""One client session's protocol after startup, without I/O: bytes in, messages answered in
order, bytes out (in the manner of h11 and asyncpg's protocol core).

``receive(data)`` frames what arrived; ``answer()`` answers pending messages in order.
Most are answered at once: Parse, Bind, Sync, Close, SET and SHOW, and Describe or Execute of a
read whose plan and snapshot are ready. A message that must wait (for the engine's thread, a
subscription, a client that does not read) becomes a job: ``answer`` returns what the job
needs done (``RunStatement``, ``LearnColumns``, ``Drain``), the protocol is WAITING, and the
driver (driver.py) does it and hands back the result with ``resume`` (or ``throw``), until the
job is over. ``data_to_send()`` is what should go to the socket now: the protocol keeps its
answers until a flush point (Sync, Flush, an error, the end of a simple query), as PostgreSQL
does, so a pipelined Bind/Execute/Sync costs one write.

State (``phase``): READY answers messages; SKIPPING (after an error in the extended protocol)
drops every message up to Sync; WAITING has a job out (COPY FROM STDIN's job takes the
client's CopyData itself, copy_in.py); COPY_OUT is a job streaming COPY data;
CLOSED is the end. The client side (``client``) is SENDING until Terminate, the end of its
stream or bytes that are no message; then nothing more is read, and what it sent before is
still answered. The transaction status byte (I, T, E) is the session's (session_state.py).

Transactions: the status byte follows BEGIN, COMMIT, ROLLBACK and errors inside a block; the
router runs the block's statements through its engine Transaction, applied at COMMIT in one tick
(tidal.engine.transactions, docs/sql.md).
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tidal.catalog.sqlstate import (
    DUPLICATE_CURSOR,
    DUPLICATE_PREPARED_STATEMENT,
    FEATURE_NOT_SUPPORTED,
    INTERNAL_ERROR,
    INVALID_CURSOR_NAME,
    INVALID_SQL_STATEMENT_NAME,
    PROTOCOL_VIOLATION,
    SYNTAX_ERROR,
)
from tidal.shell.pgwire import codec, copy_in, params
from tidal.shell.pgwire.error_responses import (
    ServerError,
    describe,
    error_message,
    fatal_message,
    incident,
)
from tidal.shell.pgwire.jobs import (
    DRAIN,
    Job,
    LearnColumns,
    ReadStatement,
    Request,
    RunStatement,
)
from tidal.shell.pgwire.portals import (
    Portal,
    RowWriter,
    conform,
    result_formats,
    row_description,
)
from tidal.shell.pgwire.results import LATER, Outcome, Rows
from tidal.shell.pgwire.session_state import ParsedStatement, SessionState, TransactionStatus
from tidal.sql import split_statements
from tidal.sql.errors import SqlError

# Rows encoded at a time, and answers buffered before they must be written.
ROW_CHUNK = 4096
FLUSH_BYTES = 256 * 1024
INLINE_READ_CHARS = 2000  # longer statements are read on a thread (about 25 ms and more)
END = None  # in ``pending``: the client closed its side of the connection

log = logging.getLogger("tidal.pgwire")


class State(enum.Enum):
    READY = "ready"
    SKIPPING = "skipping to Sync"
    WAITING = "waiting"
    COPY_OUT = "copy out"
    CLOSED = "closed"


# What the per-message path compares with, bound once: an Enum member lookup costs about
# 80 ns, and a point read passes here a dozen times.
_READY, _SKIPPING = State.READY, State.SKIPPING
_ANSWERING = (_READY, _SKIPPING)


class ClientState(enum.Enum):
    SENDING = "sending"
    DONE = "done"  # Terminate, the end of its stream, or garbage: nothing more is read


_DONE = ClientState.DONE
_IDLE = TransactionStatus.IDLE
_READY_FOR_QUERY = {status: codec.ready_for_query(status.value) for status in TransactionStatus}


@dataclass(frozen=True, slots=True)
class Refused:
    """In ``pending``: a message of type ``kind`` that could not be read (codec.BadEncoding)."""

    kind: bytes
    error: codec.BadEncoding


class StatementRunner:
    """What the protocol needs of the router (router.Router): reading a statement, and running
    it at once where it can (LATER where it cannot)."""

    def prepare(self, text: str, declared: tuple[int, ...] = ()) -> object: ...
    def run_now(self, prepared: object, values: list) -> Outcome | object: ...


class SessionProtocol:
    def __init__(self, state: SessionState, runner: StatementRunner, max_message_bytes: int):
        self.state = state
        self.runner = runner
        self.phase = State.READY
        self.client = ClientState.SENDING
        self.pending: deque = deque()  # messages read, not answered yet
        self.out = bytearray()
        self.portals: dict[str, Portal] = {}
        self._flush_due = False
        self._job: Job | None = None
        self._framer = codec.Framer(max_message_bytes)
        self._rows = RowWriter()
        # Told of every statement's end (None) or failure (its SQLSTATE): the server counts them.
        self.on_statement: Callable[[str | None], None] = lambda sqlstate: None
        # Each handler answers its message at once and returns None, or returns the job
        # that answers it.
        self._handlers: dict[type, Callable[[object], Job | None]] = {
            codec.Query: self._query,
            codec.Parse: self._parse,
            codec.Bind: self._bind,
            codec.Describe: self._describe,
            codec.Execute: self._execute,
            codec.Close: self._close,
            codec.Sync: self._sync,
            codec.Flush: self._flush,
            codec.FunctionCall: self._function_call,
        }

    # --- input -----------------------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Bytes from the client: complete messages join ``pending``."""
        if self.client is _DONE:
            return
        try:
            self._framer.feed(data)
            for kind, body in self._framer:
                try:
                    message = codec.parse_message(kind, body)
                except codec.BadEncoding as error:
                    message = Refused(kind, error)
                self.pending.append(message)
                if isinstance(message, codec.Terminate):
                    self.client = ClientState.DONE
                    break
        except codec.ProtocolError as error:
            self.pending.append(error)
            self.client = ClientState.DONE

    def receive_end(self) -> None:
        """The client closed its side (or the connection broke): what it sent before is still
        answered, then the session ends."""
        if self.client is not ClientState.DONE:
            self.client = ClientState.DONE
            self.pending.append(END)

    # --- answering -------------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """Nothing to answer and nothing running: waiting for the client."""
        return not self.pending and self._job is None and self.phase is not State.CLOSED

    def answer(self, paused: Callable[[], bool] = lambda: False) -> Request | None:
        """Answer pending messages in order while each is answered at once and ``paused()``
        (the client does not read) is false. A message that must wait becomes a job: the
        protocol is then WAITING, and this returns what the driver must do for it."""
        pending = self.pending
        while pending and self.phase in _ANSWERING:
            if paused():
                return None
            request = self._answer(pending.popleft())
            if request is not None:
                return request
        return None

    def _answer(self, message: object) -> Request | None:
        if message is END or isinstance(message, codec.Terminate):
            return self.close()
        if isinstance(message, codec.ProtocolError):
            return self.close(message.sqlstate, message.message)
        if self.phase is _SKIPPING and not isinstance(message, codec.Sync):
            return None
        if isinstance(message, Refused):
            return self._refused(message)
        handler = self._handlers.get(type(message))
        if handler is None:  # CopyData and friends outside COPY IN, a stray password
            if isinstance(message, (codec.CopyData, codec.CopyDone, codec.CopyFail)):
                return None
            name = type(message).__name__
            return self.close(PROTOCOL_VIOLATION, f"unexpected message {name}")
        job = handler(message)
        if job is None:
            return None
        self._job, self.phase = job, State.WAITING
        return self._advance(job.send, None)

    def _refused(self, message: Refused) -> None:
        """A message whose text is not UTF-8: an error, as if its statement failed."""
        if message.kind == b"Q":
            self.fail(message.error)
            self.ready()
            self._flush_due = True
        else:
            self._step_failed(message.error)

    def resume(self, result: object = None) -> Request | None:
        """The driver did what the job asked: go on with ``result``."""
        return self._advance(self._job.send, result)

    def throw(self, error: Exception) -> Request | None:
        """What the job asked failed with ``error``: the job reports it to the client."""
        return self._advance(self._job.throw, error)

    def _advance(self, step, value) -> Request | None:
        try:
            return step(value)
        except StopIteration:
            self._job = None
            if self.phase in (State.WAITING, State.COPY_OUT):
                self.phase = State.READY
            return None

    def close(self, code: str | None = None, message: str = "") -> None:
        """End the session (with FATAL ``code``): the driver closes the connection."""
        if code is not None:
            self.send(fatal_message(code, message))
        self.phase, self.client = State.CLOSED, ClientState.DONE
        self._flush_due = True

    # --- output ----------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.out += data

    def copy_out(self, start: bytes) -> None:
        """A COPY TO STDOUT begins (``start``: CopyOutResponse and any header)."""
        self.send(start)
        self.phase = State.COPY_OUT

    def copy_out_done(self, end: bytes) -> None:
        self.send(end)
        self.phase = State.WAITING

    def data_to_send(self) -> bytearray:
        """What must be written now: everything, once a flush point passed or the buffer is
        large; nothing otherwise (answers before Sync may wait, as PostgreSQL's do)."""
        if not (self._flush_due or len(self.out) >= FLUSH_BYTES):
            return bytearray()
        return self.take_output()

    def take_output(self) -> bytearray:
        """Everything buffered, written or not at a flush point."""
        self._flush_due = False
        data, self.out = self.out, bytearray()
        return data

    def ready(self) -> None:
        self._send_parameter_changes()
        self.send(_READY_FOR_QUERY[self.state.transaction])

    def fail(self, error: BaseException, text: str = "", offset: int = 0) -> None:
        """Report ``error`` (an ErrorResponse also ends COPY OUT) and fail an open
        transaction block; a bug is also logged."""
        code = describe(error)[0]
        self.on_statement(code)
        if code == INTERNAL_ERROR:
            log.error("internal error, incident %s", incident(error), exc_info=error)
        self.send(error_message(error, text, offset))
        if self.phase is State.COPY_OUT:
            self.phase = State.WAITING
        if self.state.transaction is TransactionStatus.IN_BLOCK:
            self.state.transaction = TransactionStatus.FAILED

    def _send_parameter_changes(self) -> None:
        """After a statement: the settings it changed, and its warnings."""
        for name, value in self.state.settings.take_changed():
            self.send(codec.parameter_status(name, value))
        for code, text in self.state.warnings:
            self.send(codec.notice_response(code, text))
        self.state.warnings.clear()

    def _send_tag(self, tag: str | None) -> None:
        self.on_statement(None)
        self.send(codec.empty_query_response() if tag is None else codec.command_complete(tag))

    # --- simple query ----------------------------------------------------------------------------

    def _query(self, message: codec.Query) -> Job:
        return self._simple_query(message.text)

    def _simple_query(self, text: str) -> Job:
        try:
            statements = split_statements(text)
        except SqlError as error:
            statements = None
            self.fail(error, text)
        if statements == []:
            self.send(codec.empty_query_response())
        for statement in statements or []:
            try:
                if len(statement.text) > INLINE_READ_CHARS:
                    prepared = yield ReadStatement(statement.text)
                else:
                    prepared = self.runner.prepare(statement.text)
                outcome = self.runner.run_now(prepared, [])
                if outcome is LATER:
                    outcome = yield RunStatement(prepared, [])
                if isinstance(outcome, copy_in.CopyIn):  # the client sends the rows now
                    self._flush_due = True
                    outcome = yield from copy_in.receive(outcome, self.send)
                if isinstance(outcome, Rows):
                    portal = Portal(prepared, [], ())
                    self.send(row_description(outcome.table.schema, _binary(outcome)))
                    self._keep(portal, outcome)
                    yield from self._send_rows(portal, 0)
                else:
                    self._send_tag(outcome)
                self._send_parameter_changes()
                if len(self.out) >= FLUSH_BYTES:
                    yield DRAIN
            except Exception as error:  # noqa: BLE001 - every error goes to the client
                self.fail(error, text, statement.offset)
                break
        self.ready()
        self._flush_due = True

    # --- rows ------------------------------------------------------------------------------------

    def _send_rows(self, portal: Portal, max_rows: int) -> Job:
        """Send the rows of one Execute; a large result goes out as it is encoded."""
        start, end = portal.position, portal.end_of(max_rows)
        while end - portal.position > ROW_CHUNK:
            self.send(
                self._rows.data_rows(portal, portal.position + ROW_CHUNK, self.state.context())
            )
            if len(self.out) >= FLUSH_BYTES:
                yield DRAIN
        self.send(self._rows.data_rows(portal, end, self.state.context()))
        self._complete(portal, start)

    def _complete(self, portal: Portal, start: int) -> None:
        if portal.finished:
            self.on_statement(None)
        self.send(portal.completion(start))

    def _send_rows_now(self, portal: Portal, max_rows: int) -> bool:
        """``_send_rows`` for a result of at most one chunk (False: it is longer)."""
        start, end = portal.position, portal.end_of(max_rows)
        if end - start > ROW_CHUNK:
            return False
        self.send(self._rows.data_rows(portal, end, self.state.context()))
        self._complete(portal, start)
        return True

    # --- extended query --------------------------------------------------------------------------
    # A step that can be done at once is; one that must wait becomes a job. An error in either
    # skips everything up to Sync.

    def _now(self, step, message) -> bool:
        """Run ``step(message)``: True if it was done (or failed), False if it must wait."""
        try:
            return step(message) is not False
        except Exception as error:  # noqa: BLE001 - every error goes to the client
            self._step_failed(error)
            return True

    def _later(self, steps: Job) -> Job:
        try:
            yield from steps
        except Exception as error:  # noqa: BLE001 - every error goes to the client
            self._step_failed(error)

    def _step_failed(self, error: Exception, text: str = "", offset: int = 0) -> None:
        self.fail(error, text, offset)
        self.phase = State.SKIPPING
        self._flush_due = True  # drivers that sent Flush without Sync wait for it

    def _parse(self, message: codec.Parse) -> Job | None:
        if len(message.text) > INLINE_READ_CHARS:
            return self._later(self._parse_steps(message))
        # a short statement's steps never wait: run them through at once
        self._now(lambda m: next(self._parse_steps(m), None), message)
        return None

    def _parse_steps(self, message: codec.Parse) -> Job:
        if message.name and message.name in self.state.statements:
            raise ServerError(
                f'prepared statement "{message.name}" already exists',
                DUPLICATE_PREPARED_STATEMENT,
            )
        statements = split_statements(message.text)
        if len(statements) > 1:
            raise ServerError(
                "cannot insert multiple commands into a prepared statement", SYNTAX_ERROR
            )
        text = statements[0].text if statements else ""
        try:
            if len(text) > INLINE_READ_CHARS:
                prepared = yield ReadStatement(text, message.param_oids)
            else:
                prepared = self.runner.prepare(text, message.param_oids)
        except SqlError as error:
            offset = message.text.find(text) if text else 0
            return self._step_failed(error, message.text, max(offset, 0))
        self.state.statements[message.name] = ParsedStatement(prepared)
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
        formats = result_formats(message.param_formats, len(oids))
        values = [params.decode(o, f == 1, v) for o, f, v in zip(oids, formats, message.values)]
        if message.portal and message.portal in self.portals:
            raise ServerError(f'portal "{message.portal}" already exists', DUPLICATE_CURSOR)
        self.portals[message.portal] = Portal(
            statement.prepared, values, message.result_formats, statement.described
        )
        self.send(codec.bind_complete())

    def _statement(self, name: str) -> ParsedStatement:
        statement = self.state.statements.get(name)
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

    def _describe(self, message: codec.Describe) -> Job | None:
        if not self._now(self._describe_now, message):
            return self._later(self._describe_later(message))
        return None

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

    def _describe_later(self, message: codec.Describe) -> Job:
        if message.kind == "S":
            statement = self._statement(message.name)
            statement.described = yield LearnColumns(statement.prepared)
            self._describe_statement(statement)
        else:
            portal = self._portal(message.name)
            yield from self._run_portal(portal)
            self._describe_portal(portal)

    def _describe_statement(self, statement: ParsedStatement) -> None:
        self.send(codec.parameter_description(statement.prepared.param_oids))
        if statement.described is None:
            self.send(codec.no_data())
        else:
            self.send(row_description(statement.described, ()))

    def _describe_portal(self, portal: Portal) -> None:
        if portal.rows is None:
            self.send(codec.no_data())
        else:
            self.send(row_description(portal.rows.schema, portal.formats))

    def _describe_cursor(self, name: str) -> None:
        cursor = self.state.cursors.get(name)
        if cursor is None:
            raise ServerError(f'portal "{name}" does not exist', INVALID_CURSOR_NAME)
        self.send(row_description(cursor.schema, (1,) if cursor.binary else ()))

    def _run_portal_now(self, portal: Portal) -> bool:
        """Run a portal's statement once, if that needs no waiting (False: it does): rows
        are kept on the portal for Execute, a command's tag in ``portal.tag`` (None for an
        empty query)."""
        if not portal.ran:
            outcome = self.runner.run_now(portal.prepared, portal.values)
            if outcome is LATER:
                return False
            self._keep(portal, outcome)
        return True

    def _run_portal(self, portal: Portal) -> Job:
        if not portal.ran:
            self._keep(portal, (yield RunStatement(portal.prepared, portal.values)))

    def _keep(self, portal: Portal, outcome: Outcome) -> None:
        if isinstance(outcome, copy_in.CopyIn):
            raise ServerError(
                "COPY ... FROM STDIN in the extended query protocol: send it as a simple query",
                FEATURE_NOT_SUPPORTED,
            )
        portal.ran = True
        if isinstance(outcome, Rows):
            table = conform(outcome.table, portal.expected)
            portal.rows, portal.tag, portal.binary = table, outcome.tag, outcome.binary
        else:
            portal.tag = outcome

    def _execute(self, message: codec.Execute) -> Job | None:
        if not self._now(self._execute_now, message):
            return self._later(self._execute_later(message))
        return None

    def _execute_now(self, message: codec.Execute) -> bool:
        portal = self._portal(message.portal)
        if not self._run_portal_now(portal):
            return False
        if portal.rows is not None:
            return self._send_rows_now(portal, message.max_rows)
        self._send_tag(portal.tag)
        self._send_parameter_changes()
        return True

    def _execute_later(self, message: codec.Execute) -> Job:
        portal = self._portal(message.portal)
        yield from self._run_portal(portal)
        if portal.rows is not None:
            yield from self._send_rows(portal, message.max_rows)
        else:
            self._send_tag(portal.tag)
            self._send_parameter_changes()

    def _close(self, message: codec.Close) -> None:
        if message.kind == "S":
            self.state.statements.pop(message.name, None)
        else:
            self.portals.pop(message.name, None)
        self.send(codec.close_complete())

    def _sync(self, message: codec.Sync) -> None:
        self.phase = _READY
        if self.state.transaction is _IDLE:
            self.portals.clear()
        self.ready()
        self._flush_due = True

    def _flush(self, message: codec.Flush) -> None:
        self._flush_due = True

    def _function_call(self, message: codec.FunctionCall) -> None:
        self.fail(ServerError("the function call protocol is not supported", FEATURE_NOT_SUPPORTED))
        self.ready()
        self._flush_due = True


def _binary(rows: Rows) -> tuple[int, ...]:
    """Result format codes of a simple query: rows of a BINARY cursor go out in binary."""
    return (1,) if rows.binary else ()
