"""The transport of one client connection: an asyncio Protocol, so that a request is answered
in the callback that receives its bytes, with no task switch and no queue between them.

Until the session starts, arriving bytes are kept for the startup exchange, which reads them
with ``read_exactly`` (server.py). Then each arrival goes straight to the session's driver
(driver.py), which answers at once what it can and runs the rest as a task. Reading pauses
while the session has enough unanswered messages (the client is held back by TCP); writing is
plain ``transport.write``, and ``drain`` waits while the client is not reading what it is sent.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from tidal.shell.pgwire.codec import ProtocolError


class ClientConnection(asyncio.Protocol):
    """One client's socket. ``on_connect`` runs the startup exchange as a task (the server
    tracks it), then hands the connection to a session with ``start_session``."""

    def __init__(self, on_connect: Callable, max_startup_bytes: int) -> None:
        self._on_connect = on_connect
        self._max_buffered = 2 * max_startup_bytes
        self.transport: asyncio.Transport | None = None
        self.session = None
        self.closed = False
        self._buffer = bytearray()  # bytes for the startup exchange
        self._arrived: asyncio.Future | None = None
        self._writable: asyncio.Future | None = None  # set while the client does not read
        self._reading_paused = False
        self.tls = False

    # --- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._on_connect(self)

    def data_received(self, data: bytes) -> None:
        if self.session is not None:
            self.session.received(data)
            return
        self._buffer += data
        if len(self._buffer) > self._max_buffered:
            self.pause_reading()  # more than startup needs: the rest waits for the session
        self._wake()

    def eof_received(self) -> bool:
        if self.session is None:
            return False  # close: connection_lost follows, and the startup exchange ends
        self.session.input_ended()
        return not self.tls  # keep the socket open for the answers (TLS cannot half-close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.closed = True
        self._wake()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        if self.session is not None:
            self.session.input_ended()

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)
        if self.session is not None:
            self.session.writable()

    # --- for the startup exchange ---------------------------------------------------------------

    async def read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if self.closed or self._reading_paused:
                raise asyncio.IncompleteReadError(bytes(self._buffer), size)
            self._arrived = asyncio.get_running_loop().create_future()
            await self._arrived
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def start_tls(self, context: ssl.SSLContext) -> None:
        if self._buffer:  # bytes sent in the clear after SSLRequest would pose as encrypted
            raise ProtocolError("received unencrypted data after SSL request")
        loop = asyncio.get_running_loop()
        self.transport = await loop.start_tls(self.transport, self, context, server_side=True)
        self.tls = True

    def start_session(self, session) -> None:
        """From now on arriving bytes go to ``session``, starting with any already here."""
        self.session = session
        early, self._buffer = bytes(self._buffer), bytearray()
        self.resume_reading()
        if early:
            session.received(early)
        if self.closed:  # the client left during the greeting
            session.input_ended()

    # --- both -----------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if not self.closed and not self.transport.is_closing():
            self.transport.write(data)

    @property
    def write_paused(self) -> bool:
        return self._writable is not None

    async def drain(self) -> None:
        """Wait while the client is not reading; raise if it has gone."""
        if self._writable is not None:
            await self._writable
        if self.closed:
            raise ConnectionResetError("the client closed the connection")

    def pause_reading(self) -> None:
        if not self._reading_paused and not self.closed:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._reading_paused and not self.closed:
            self._reading_paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _wake(self) -> None:
        arrived, self._arrived = self._arrived, None
        if arrived is not None and not arrived.done():
            arrived.set_result(None)
