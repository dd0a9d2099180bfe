"""What one client session remembers between statements: who the client is, its settings, the
transaction status and the open block's engine transaction, its prepared statements and cursors.

The protocol (protocol.py) answers messages with it, the router (router.py) runs statements
with it, and the housekeeping handlers (housekeeping.py) change it: ``SET`` the settings,
``BEGIN`` the transaction status, ``DEALLOCATE`` the prepared statements, ``CLOSE`` the cursors.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import pyarrow as pa

from tidal.catalog.sqlstate import INVALID_SQL_STATEMENT_NAME
from tidal.engine.cancellation import USER_REQUEST, Cancellation
from tidal.engine.transactions import Transaction
from tidal.shell.pgwire.cursors import Cursors
from tidal.shell.pgwire.error_responses import ServerError
from tidal.shell.pgwire.pg_types import Context
from tidal.shell.pgwire.settings import Settings


class TransactionStatus(enum.Enum):
    """The status byte of ReadyForQuery."""

    IDLE = b"I"
    IN_BLOCK = b"T"  # after BEGIN
    FAILED = b"E"  # an error inside the block: only COMMIT, ROLLBACK, ROLLBACK TO are taken


@dataclass
class Client:
    """What a session knows of its client (from the startup exchange) and of the server."""

    user: str
    pid: int
    secret: int
    idle_timeout: float | None = None
    tls: bool = False
    startup: dict[str, str] = field(default_factory=dict)


@dataclass
class ParsedStatement:
    """A statement prepared by Parse: ``prepared`` is the router's reading of it (router.Prepared),
    ``described`` the row shape sent for Describe S (results are then cast to it)."""

    prepared: object
    described: pa.Schema | None = None


@dataclass
class SessionState:
    """One session's memory; the protocol, the router and the housekeeping handlers share it."""

    client: Client
    settings: Settings = field(default_factory=Settings)
    transaction: TransactionStatus = TransactionStatus.IDLE
    block: Transaction | None = None  # the open block's snapshot and changes (not IDLE)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (SQLSTATE, text) to send
    statements: dict[str, ParsedStatement] = field(default_factory=dict)
    cursors: Cursors = field(default_factory=Cursors)
    cancel_requested: str | None = None  # why the running statement must stop (a cancel)
    running: Cancellation | None = None  # the switch of the statement running on a thread
    _context: tuple[int, Context] = field(default=(-1, Context()), init=False, repr=False)

    @property
    def user(self) -> str:
        return self.client.user

    @property
    def pid(self) -> int:
        return self.client.pid

    def context(self) -> Context:
        """How values print for this session (kept until a setting changes)."""
        version, context = self._context
        if version != self.settings.version:
            digits = self.settings.get("extra_float_digits") or "1"
            context = Context(self.settings.get("TimeZone") or "UTC", int(digits))
            self._context = self.settings.version, context
        return context

    def cancel(self, reason: str = USER_REQUEST) -> None:
        """Stop the running statement (a CancelRequest, its timeout, the server's shutdown):
        work on a thread stops at its next check, a wait for the client at once."""
        self.cancel_requested = reason
        if self.running is not None:
            self.running.cancel(reason)

    def deallocate(self, name: str | None) -> None:
        """Forget prepared statement ``name``, or (None) every named one."""
        if name is None:
            self.statements = {k: v for k, v in self.statements.items() if not k}
            return
        if self.statements.pop(name, None) is None:
            raise ServerError(
                f'prepared statement "{name}" does not exist', INVALID_SQL_STATEMENT_NAME
            )

    def end_transaction(self) -> None:
        """COMMIT or ROLLBACK: idle again, the block's changes let go (COMMIT applied them);
        cursors declared in the block without HOLD close."""
        self.transaction = TransactionStatus.IDLE
        self.block = None
        self.cursors.end_block()
