"""The asyncio side of one session: it feeds the protocol (protocol.py) the bytes the connection
(connection.py) receives, writes what the protocol answers, and runs as a task what a message
must wait for.

Everything happens in the callback that received the bytes, unless a message must wait: then
one task carries out what the protocol asks (running a statement through the router, or
waiting for the client to read), hands it the results, and resumes answering when the job is
over. Reading pauses while 16 messages wait unanswered (TCP then holds the client back), and
nothing is answered while the client does not read what it was sent.
"""

from __future__ import annotations

import asyncio
import sys
import traceback

from tidal.catalog.sqlstate import IDLE_SESSION_TIMEOUT, QUERY_CANCELED
from tidal.shell.pgwire import codec
from tidal.shell.pgwire.copy_in import ReadCopyData, RunCopy
from tidal.shell.pgwire.error_responses import ServerError, fatal_message
from tidal.shell.pgwire.jobs import Drain, LearnColumns, ReadStatement, Request, RunStatement
from tidal.shell.pgwire.protocol import END, ClientState, SessionProtocol, State
from tidal.shell.pgwire.router import Router, Services
from tidal.shell.pgwire.session_state import SessionState

# Messages read ahead of the one being answered: beyond this, reading pauses and TCP holds
# back a client that floods the server.
MAX_PENDING = 16


class ClientGone(Exception):
    """The client went away (or sent Terminate) while a statement was streaming to it."""


class SessionDriver:
    """One session on the event loop; the server keeps them by backend pid."""

    def __init__(self, server, state: SessionState, connection, services: Services) -> None:
        self.server = server
        self.state = state
        self.connection = connection
        self.router = Router(state, services)
        self.protocol = SessionProtocol(state, self.router, server.limits.max_message_bytes)
        self.protocol.on_statement = services.db.telemetry.statement_ran
        self.task: asyncio.Task | None = None  # carrying out what a waiting message needs
        self.ended = False  # the connection is closed and the server has forgotten the session
        self._idle: asyncio.TimerHandle | None = None
        self._arrival: asyncio.Future | None = None  # a job waits for the client's next message

    @property
    def pid(self) -> int:
        return self.state.pid

    def send(self, data: bytes) -> None:
        """Queue bytes: the greeting before the session starts, COPY data while it streams."""
        self.protocol.send(data)

    # --- the connection's calls ------------------------------------------------------------------

    def start(self) -> None:
        """Send the greeting buffered so far, and start taking the client's messages."""
        self._write(self.protocol.take_output())
        self.connection.start_session(self)
        self._await_message()

    def received(self, data: bytes) -> None:
        self._stop_idle_timer()
        self.protocol.receive(data)
        self._arrived()
        if len(self.protocol.pending) >= MAX_PENDING:
            self.connection.pause_reading()
        self._pump()

    def input_ended(self) -> None:
        """The client closed its side, or the connection broke: what it sent before is still
        answered (a statement sent before closing still runs), then the session ends."""
        self.protocol.receive_end()
        self._arrived()
        self._pump()

    def writable(self) -> None:
        self._pump()

    # --- the loop --------------------------------------------------------------------------------

    def _pump(self) -> None:
        """Answer pending messages in order while each is answered at once; one that must wait
        becomes a task, which pumps again when it is done. Nothing is answered while the
        client does not read what it is sent."""
        protocol = self.protocol
        if self.task is None:
            request = protocol.answer(self._write_paused)  # resumed by writable()
            if request is not None:
                self.task = asyncio.get_running_loop().create_task(self._carry_out(request))
        if protocol.phase is State.CLOSED:
            return self.close()
        self._write(protocol.data_to_send())
        if len(protocol.pending) < MAX_PENDING // 2:
            self.connection.resume_reading()
        self._await_message()

    def _write_paused(self) -> bool:
        connection = self.connection
        return connection.write_paused and not connection.closed

    async def _carry_out(self, request: Request | None) -> None:
        """Do what the protocol asks, hand it the results, until its job is over."""
        try:
            while request is not None:
                try:
                    result = await self._perform(request)
                except (ClientGone, ConnectionError):
                    raise
                except Exception as error:  # noqa: BLE001 - the protocol reports it
                    if self.server.stopping:  # cancelled by the shutdown: FATAL 57P01 follows
                        self.task = None
                        return
                    request = self.protocol.throw(error)
                else:
                    request = self.protocol.resume(result)
        except (ClientGone, ConnectionError):
            self.task = None
            return self.close()
        except Exception:  # noqa: BLE001 - a bug ends this session, not the server
            traceback.print_exc(file=sys.stderr)
            self.task = None
            return self.close()
        self.task = None
        self._pump()

    async def _perform(self, request: Request) -> object:
        if isinstance(request, RunStatement):
            return await self.router.run(request.prepared, request.values, self)
        if isinstance(request, ReadStatement):
            return await self.router.prepare_later(request.text, request.declared)
        if isinstance(request, LearnColumns):
            return await self.router.describe(request.prepared)
        if isinstance(request, Drain):
            return await self.flush()
        if isinstance(request, ReadCopyData):
            return await self._next_message()
        if isinstance(request, RunCopy):
            return await self.router.copy_in(request.prepared, request.data)
        raise TypeError(f"unknown request {request!r}")

    async def _next_message(self) -> object:
        """The client's next message, for a job that reads them (COPY FROM STDIN)."""
        protocol = self.protocol
        while not protocol.pending:
            self._write(protocol.take_output())  # CopyInResponse first: the client waits for it
            self.connection.resume_reading()
            self._arrival = asyncio.get_running_loop().create_future()
            await self._arrival
        message = protocol.pending.popleft()
        if message is END or isinstance(message, codec.Terminate):
            raise ClientGone()
        return message

    def _arrived(self) -> None:
        if self._arrival is not None and not self._arrival.done():
            self._arrival.set_result(None)

    # --- what a streaming statement writes to (results.Output) ------------------------------------

    def copy_out(self, start: bytes) -> None:
        self.protocol.copy_out(start)

    def copy_out_done(self, end: bytes) -> None:
        self.protocol.copy_out_done(end)

    async def flush(self) -> None:
        """Write what is buffered, and wait while the client is not reading."""
        self._write(self.protocol.take_output())
        await self.connection.drain()

    def check_interrupted(self) -> None:
        """Raise if the client left, or asked to cancel the running statement."""
        if self.protocol.client is ClientState.DONE:
            raise ClientGone()
        reason = self.state.cancel_requested
        if reason is not None:
            self.state.cancel_requested = None
            raise ServerError(reason, QUERY_CANCELED)

    # --- timers and the end ----------------------------------------------------------------------

    def _await_message(self) -> None:
        """With nothing to answer, start the idle timeout (if the server has one)."""
        timeout = self.state.client.idle_timeout
        if timeout and self.task is None and self.protocol.idle and self._idle is None:
            loop = asyncio.get_running_loop()
            self._idle = loop.call_later(timeout, self._idle_timed_out)

    def _stop_idle_timer(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _idle_timed_out(self) -> None:
        self._idle = None
        if self.task is None and self.protocol.idle:
            message = "terminating connection due to idle-session timeout"
            self.protocol.close(IDLE_SESSION_TIMEOUT, message)
            self.close()

    def close(self) -> None:
        """End the session: send what is buffered, close cursors and the connection."""
        if self.ended:
            return
        self.ended = True
        self.protocol.close()
        self._stop_idle_timer()
        self._write(self.protocol.take_output())
        self.router.close()
        self.server.session_ended(self)
        self.connection.close()

    def shutdown_message(self, code: str, message: str) -> bytes:
        """Everything buffered, then a FATAL: what the server sends a session it ends."""
        return bytes(self.protocol.take_output()) + fatal_message(code, message)

    def _write(self, data: bytes) -> None:
        if data:
            self.connection.write(data)
