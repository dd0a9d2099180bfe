"""The asyncio server: accept connections, run startup (TLS, protocol version, auth) under a
timeout, then hand each connection to a session (driver.py). Limits protect the server: startup packet
and message sizes, a startup/auth timeout, an idle timeout, a maximum number of connections.
Whatever a client sends, the worst it gets is FATAL and a closed connection; the server and the
other clients carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import ssl
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tidal.catalog.sqlstate import (
    ADMIN_SHUTDOWN,
    INVALID_AUTHORIZATION_SPECIFICATION,
    PROTOCOL_VIOLATION,
    TOO_MANY_CONNECTIONS,
)
from tidal.engine import Database
from tidal.engine.cancellation import SHUTDOWN
from tidal.shell.pgwire import auth, codec, engine_calls
from tidal.shell.pgwire.connection import ClientConnection
from tidal.shell.pgwire.driver import SessionDriver
from tidal.shell.pgwire.error_responses import ServerError, describe, fatal_message
from tidal.shell.pgwire.router import Services
from tidal.shell.pgwire.session_state import Client, SessionState
from tidal.shell.pgwire.settings import REPORTED
from tidal.sql import roles

DATABASE = "tidal"
SHUTDOWN_GRACE_SECONDS = 5.0  # for cancelled statements to stop before sessions are closed


@dataclass(frozen=True)
class Limits:
    max_connections: int = 100
    max_message_bytes: int = 1 << 20
    max_startup_bytes: int = 10 * 1024
    startup_timeout: float = 10.0
    idle_timeout: float | None = None  # seconds a session may sit idle; None: forever


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 5433
    auth: str = auth.TRUST
    tls_cert: str | None = None
    tls_key: str | None = None
    limits: Limits = Limits()
    allow_file_connectors: bool = False  # may clients create file sources and sinks?
    allow_python_functions: bool = False  # may superusers create LANGUAGE python functions?

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls_cert:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.tls_cert, self.tls_key)
        return context


class Server:
    """A pgwire server in front of one Database."""

    def __init__(self, db: Database, config: ServerConfig) -> None:
        if config.auth == auth.PASSWORD and not config.tls_cert:
            raise ValueError("--auth password sends passwords in the clear: it needs --tls-cert")
        if config.auth not in auth.METHODS:
            raise ValueError(f"unknown --auth {config.auth!r}: one of {', '.join(auth.METHODS)}")
        self.db = db
        self.config = config
        self.limits = config.limits
        self.ssl = config.ssl_context()
        self.authenticator = auth.Authenticator(config.auth)
        self.executor = ThreadPoolExecutor(4, thread_name_prefix="tidal-sql")
        self.queries = ThreadPoolExecutor(4, thread_name_prefix="tidal-sql-query")
        # Subscription waits block a thread each (in slices): one per possible connection.
        self.waits = ThreadPoolExecutor(
            self.limits.max_connections + 4, thread_name_prefix="tidal-wait"
        )
        self.services = Services(
            db,
            self.executor,
            self.waits,
            config.allow_file_connectors,
            self.queries,
            config.allow_python_functions,
        )
        self.sessions: dict[int, SessionDriver] = {}
        self.stopping = False  # shutdown() has begun
        self._tasks: set[asyncio.Task] = set()
        self._server: asyncio.base_events.Server | None = None
        self._next_pid = secrets.randbelow(1 << 20) + 1000

    async def start(self) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: ClientConnection(self._connected, self.limits.max_startup_bytes),
            self.config.host,
            self.config.port,
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    async def shutdown(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop accepting, cancel running statements (they change nothing) and give them
        ``grace`` seconds to stop, end every session with FATAL 57P01."""
        self.stopping = True
        if self._server is not None:
            self._server.close()
        sessions = list(self.sessions.values())
        running = {s.task for s in sessions if s.task is not None}
        for session in sessions:
            session.state.cancel(SHUTDOWN)
        if running:
            await asyncio.wait(running, timeout=grace)
        tasks = self._tasks | {s.task for s in sessions if s.task is not None}
        for session in sessions:
            with contextlib.suppress(Exception):
                message = "terminating connection due to administrator command"
                session.connection.write(session.shutdown_message(ADMIN_SHUTDOWN, message))
                session.close()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.queries.shutdown(wait=False, cancel_futures=True)
        self.authenticator.close()
        self.waits.shutdown(wait=False, cancel_futures=True)

    # --- connections -----------------------------------------------------------------------------

    def _connected(self, connection: ClientConnection) -> None:
        task = asyncio.get_running_loop().create_task(self._start(connection))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start(self, connection: ClientConnection) -> None:
        """Startup (TLS, protocol version, auth) under a timeout, then the session."""
        started = None
        try:
            started = await asyncio.wait_for(self._startup(connection), self.limits.startup_timeout)
        except TimeoutError:
            message = "startup or authentication timed out"
            connection.write(fatal_message(PROTOCOL_VIOLATION, message))
        except (codec.ProtocolError, ServerError) as error:
            connection.write(fatal_message(*describe(error)))
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client left, or the server is shutting down
        except Exception as error:  # noqa: BLE001 - a bug must not take the server down
            print(f"tidal serve: connection failed: {describe(error)[1]}", file=sys.stderr)
        if started is None:
            connection.close()
            return
        client, settings = started
        state = SessionState(client)
        for key, value in settings.items():
            with contextlib.suppress(ServerError):
                state.settings.set(key, value, at_startup=True)
        state.settings.changed.clear()
        session = SessionDriver(self, state, connection, self.services)
        self._greet(session)
        self.sessions[client.pid] = session
        self.db.telemetry.connection_opened()
        session.start()

    def session_ended(self, session: SessionDriver) -> None:
        if self.sessions.pop(session.pid, None) is not None:
            self.db.telemetry.connection_closed()

    async def _startup(self, connection: ClientConnection) -> tuple[Client, dict] | None:
        tls = False
        while True:
            header = await connection.read_exactly(4)
            size = codec.startup_length(header, self.limits.max_startup_bytes)
            message = codec.parse_startup(await connection.read_exactly(size))
            if isinstance(message, codec.SSLRequest) and self.ssl is not None and not tls:
                connection.write(b"S")
                await connection.start_tls(self.ssl)
                tls = True
            elif isinstance(message, (codec.SSLRequest, codec.GSSENCRequest)):
                connection.write(b"N")
            elif isinstance(message, codec.CancelRequest):
                self._cancel(message)
                return None
            else:
                return await self._login(message, connection, tls)

    async def _login(self, startup: codec.Startup, connection: ClientConnection, tls: bool):
        params = startup.params
        unsupported = sorted(k for k in params if k.startswith("_pq_."))
        if startup.minor > 0 or unsupported:
            connection.write(codec.negotiate_protocol_version(0, unsupported))
        user = params.get("user")
        if not user:
            raise ServerError(
                "no PostgreSQL user name specified in startup packet",
                INVALID_AUTHORIZATION_SPECIFICATION,
            )
        if len(self.sessions) >= self.limits.max_connections:
            raise ServerError("sorry, too many clients already", TOO_MANY_CONNECTIONS)
        if self.config.auth == auth.PASSWORD and not tls:
            raise ServerError(
                "this server takes passwords over TLS only: connect with sslmode=require",
                INVALID_AUTHORIZATION_SPECIFICATION,
            )

        async def send(data: bytes) -> None:
            connection.write(data)
            await connection.drain()

        async def receive() -> bytes:
            kind = await connection.read_exactly(1)
            header = await connection.read_exactly(4)
            body = await connection.read_exactly(
                codec.startup_length(header, self.limits.max_startup_bytes)
            )
            if kind != b"p":
                raise codec.ProtocolError(f"expected a password message, got type {kind!r}")
            return body

        users = engine_calls.users(self.db)
        peer = connection.transport.get_extra_info("peername")
        address = str(peer[0]) if peer else "local"
        await self.authenticator.authenticate(user, address, users, tls, send, receive)
        pid = self._next_pid
        self._next_pid += 1
        client = Client(
            user, pid, secrets.randbits(31), self.limits.idle_timeout, tls, dict(params)
        )
        settings = {k: v for k, v in params.items() if k not in _NOT_SETTINGS}
        for option in _options(params.get("options", "")):
            settings.update([option])
        settings["session_authorization"] = user
        settings["is_superuser"] = "on" if roles.acts_as_superuser(user, users) else "off"
        return client, settings

    def _greet(self, session: SessionDriver) -> None:
        settings = session.state.settings
        session.send(codec.authentication_ok())
        for name in REPORTED:
            session.send(codec.parameter_status(name, settings.get(name) or ""))
        session.send(codec.backend_key_data(session.pid, session.state.client.secret))
        session.send(codec.ready_for_query(session.state.transaction.value))

    def _cancel(self, request: codec.CancelRequest) -> None:
        session = self.sessions.get(request.pid)
        if session is not None and session.state.client.secret == request.secret:
            session.state.cancel()


# Startup parameters that are not settings.
_NOT_SETTINGS = {"user", "database", "options", "replication", "client_encoding"}


def _options(options: str) -> list[tuple[str, str]]:
    """``-c name=value`` pairs from the startup ``options`` parameter."""
    words = options.replace("--", "-c ").split()
    pairs = []
    for i, word in enumerate(words):
        if word == "-c" and i + 1 < len(words) and "=" in words[i + 1]:
            name, value = words[i + 1].split("=", 1)
            pairs.append((name, value))
        elif word.startswith("-c") and "=" in word[2:]:
            name, value = word[2:].split("=", 1)
            pairs.append((name, value))
    return pairs
