"""Authentication: trust, cleartext password (over TLS only) and SCRAM-SHA-256.

SCRAM is done here with the standard library: the ``scramp`` package refuses libpq's empty
SCRAM user name, and the server side is small.

Users and their verifiers live in the catalog (``CREATE USER ... WITH PASSWORD``, see
tidal.catalog.users). A name that is not a user (or has no password) goes through the same
exchange against a made-up verifier whose salt is derived from the name and a server secret
(``Users.scram_secret``): the same salt on every try and the same work as a real user's, and the
same error (28P01), so that a client cannot tell unknown users from wrong passwords.

``Authenticator`` runs the logins of one server: the proof (and a cleartext password's PBKDF2)
is checked on a thread of its own, never on the event loop, and failed logins are throttled
(``Throttle``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tidal.catalog.sqlstate import INVALID_AUTHORIZATION_SPECIFICATION, INVALID_PASSWORD
from tidal.catalog.users import ScramSecret, Users, password_matches
from tidal.shell.pgwire import codec
from tidal.shell.pgwire.error_responses import ServerError

TRUST, PASSWORD, SCRAM = "trust", "password", "scram-sha-256"
METHODS = (TRUST, SCRAM, PASSWORD)
MECHANISM = "SCRAM-SHA-256"

Send = Callable[[bytes], Awaitable[None]]
Receive = Callable[[], Awaitable[bytes]]  # the body of the client's next 'p' message


def _failed(user: str) -> ServerError:
    return ServerError(f'password authentication failed for user "{user}"', INVALID_PASSWORD)


class Authenticator:
    """The logins of one server with authentication ``method``.

    ``authenticate`` returns when the user is in and raises ServerError (28P01, 28000) when
    not; AuthenticationOk is the caller's to send.
    """

    def __init__(self, method: str, throttle: Throttle | None = None) -> None:
        self.method = method
        self.throttle = throttle or Throttle()
        # Its own threads: logins never wait behind queries, nor queries behind logins.
        self.executor = ThreadPoolExecutor(2, thread_name_prefix="tidal-auth")

    async def authenticate(
        self, user: str, address: str, users: Users, tls: bool, send: Send, receive: Receive
    ) -> None:
        """Let ``user``, connecting from ``address``, in (or not)."""
        if self.method == TRUST:
            return
        if self.method not in (PASSWORD, SCRAM):
            raise ServerError(
                f"unknown authentication method {self.method!r}",
                INVALID_AUTHORIZATION_SPECIFICATION,
            )
        await self.throttle.wait_turn(address, user)
        succeeded = None
        try:
            if self.method == PASSWORD:
                await self._cleartext(user, users, tls, send, receive)
            else:
                await self._scram(user, users, send, receive)
            succeeded = True
        except ServerError as error:
            if error.sqlstate == INVALID_PASSWORD:
                succeeded = False
            raise
        finally:
            self.throttle.ended(address, user, succeeded)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def _off_loop(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    async def _cleartext(
        self, user: str, users: Users, tls: bool, send: Send, receive: Receive
    ) -> None:
        if not tls:  # the server refuses to start so; this guards against a mistake
            raise ServerError(
                "cleartext passwords are only accepted over TLS",
                INVALID_AUTHORIZATION_SPECIFICATION,
            )
        await send(codec.authentication_cleartext())
        password = codec.parse_password(await receive())
        # An unknown user's made-up verifier costs the same PBKDF2 as a real one.
        if not await self._off_loop(password_matches, users.scram_secret(user), password):
            raise _failed(user)

    async def _scram(self, user: str, users: Users, send: Send, receive: Receive) -> None:
        exchange = ScramExchange(users.scram_secret(user))
        await send(codec.authentication_sasl([MECHANISM]))
        mechanism, first = codec.parse_sasl_initial(await receive())
        if mechanism != MECHANISM:
            raise ServerError(
                f"SASL mechanism {mechanism!r} is not supported: use {MECHANISM}",
                INVALID_AUTHORIZATION_SPECIFICATION,
            )
        try:
            server_first = exchange.client_first(codec.decode_text(first))
            await send(codec.authentication_sasl_continue(server_first.encode()))
            final = codec.decode_text(await receive())
            server_final = await self._off_loop(exchange.client_final, final)
        except ScramError:
            raise _failed(user) from None
        await send(codec.authentication_sasl_final(server_final.encode()))


@dataclass
class _Attempts:
    failures: int = 0
    running: int = 0  # attempts under way, each counted as a failure-to-be for the next turn
    last: float = 0.0  # when the last one started or failed
    next_turn: float = 0.0  # when the next attempt may be checked


class Throttle:
    """Failed logins slow down later ones with the same client address and user name.

    The first ``free`` attempts cost nothing (typos); after them, each attempt waits its turn:
    ``first_delay`` after the previous one, doubling with each failure up to ``max_delay``. An
    attempt under way counts as a failure until it ends, so opening many connections at once
    gains nothing: one (address, user) pair gets at most one password checked per ``max_delay``
    seconds, and an attempt whose turn is more than ``max_wait`` away is refused at once (28000)
    without a check. The wait is ``asyncio.sleep``: no thread, no other client waits. A success,
    or ``forget_after`` seconds without an attempt, clears the pair. Clients with another
    address or user name are not slowed at all: the address alone is not a key, so that users
    behind one address (a NAT, a shared host) do not lock each other out. At most ``max_pairs``
    pairs are remembered (the oldest is forgotten first), about 200 bytes each.

        >>> throttle = Throttle(clock=lambda: 100.0)
        >>> for _ in range(5):
        ...     throttle.ended("10.0.0.1", "alice", succeeded=False)
        >>> throttle.turn_in("10.0.0.1", "alice"), throttle.turn_in("10.0.0.2", "alice")
        (1.0, 0.0)
    """

    def __init__(
        self,
        free: int = 3,
        first_delay: float = 0.25,
        max_delay: float = 4.0,
        max_wait: float = 5.0,
        forget_after: float = 600.0,
        max_pairs: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free, self.first_delay, self.max_delay = free, first_delay, max_delay
        self.max_wait, self.forget_after, self.max_pairs = max_wait, forget_after, max_pairs
        self.clock = clock
        self._pairs: OrderedDict[tuple[str, str], _Attempts] = OrderedDict()

    def delay(self, failures: int) -> float:
        """Seconds between two attempts after ``failures`` failures."""
        if failures < self.free:
            return 0.0
        return min(self.max_delay, self.first_delay * 2 ** min(failures - self.free, 30))

    def turn_in(self, address: str, user: str) -> float:
        """Seconds until an attempt of (``address``, ``user``) may be checked."""
        attempts = self._pairs.get(self._key(address, user))
        return 0.0 if attempts is None else max(0.0, attempts.next_turn - self.clock())

    async def wait_turn(self, address: str, user: str) -> None:
        """Wait until this attempt may be checked, keeping the next turn for the one after;
        ``ended`` must follow once this returns."""
        key = self._key(address, user)
        attempts = self._current(key)
        now = self.clock()
        turn = max(now, attempts.next_turn)
        if turn - now > self.max_wait:
            raise ServerError(
                f'too many failed logins for user "{user}" from {address}: try again in '
                f"{turn - now:.0f} s",
                INVALID_AUTHORIZATION_SPECIFICATION,
            )
        attempts.running += 1  # a failure-to-be: the next turn is as if it had failed
        attempts.next_turn = turn + self.delay(attempts.failures + attempts.running)
        attempts.last = now
        self._remember(key, attempts)
        try:
            await asyncio.sleep(turn - now)
        except BaseException:
            self.ended(address, user, succeeded=None)
            raise

    def ended(self, address: str, user: str, succeeded: bool | None) -> None:
        """An attempt ended: ``succeeded``, failed (False), or neither (the client left)."""
        key = self._key(address, user)
        attempts = self._pairs.get(key) or _Attempts()
        attempts.running = max(0, attempts.running - 1)
        if succeeded:
            self._pairs.pop(key, None)
            return
        if succeeded is False:
            attempts.failures += 1
            attempts.last = self.clock()
            wait = self.delay(attempts.failures)
            attempts.next_turn = max(attempts.next_turn, attempts.last + wait)
        self._remember(key, attempts)

    def __len__(self) -> int:
        return len(self._pairs)

    @staticmethod
    def _key(address: str, user: str) -> tuple[str, str]:
        return address, user.lower()

    def _current(self, key: tuple[str, str]) -> _Attempts:
        attempts = self._pairs.get(key)
        if attempts is None or (
            not attempts.running and self.clock() - attempts.last > self.forget_after
        ):
            return _Attempts()
        return attempts

    def _remember(self, key: tuple[str, str], attempts: _Attempts) -> None:
        if not attempts.failures and not attempts.running:
            self._pairs.pop(key, None)
            return
        self._pairs[key] = attempts
        self._pairs.move_to_end(key)
        while len(self._pairs) > self.max_pairs:
            self._pairs.popitem(last=False)


class ScramError(Exception):
    """A SCRAM message that is malformed, or a proof that does not match."""


class ScramExchange:
    """The server side of SCRAM-SHA-256 (RFC 5802, 7677), without I/O.

    libpq leaves the user name in the SCRAM message empty (the startup packet carries it), and
    offers channel binding only as "y" (supported by the client, not asked of the server):
    both are accepted, as PostgreSQL does.
    """

    def __init__(self, secret: ScramSecret, server_nonce: str | None = None) -> None:
        self.secret = secret
        self.server_nonce = server_nonce or base64.b64encode(os.urandom(18)).decode()
        self.nonce = ""
        self.gs2_header = ""
        self.first_bare = ""
        self.server_first = ""

    def client_first(self, message: str) -> str:
        """Read client-first-message; returns server-first-message."""
        parts = message.split(",", 2)
        if len(parts) != 3 or parts[0] not in ("n", "y") or parts[1]:
            raise ScramError("unsupported or malformed SCRAM client-first message")
        self.gs2_header = f"{parts[0]},,"
        self.first_bare = parts[2]
        client_nonce = _attributes(self.first_bare).get("r", "")
        if not client_nonce:
            raise ScramError("SCRAM client-first message without a nonce")
        self.nonce = client_nonce + self.server_nonce
        salt = base64.b64encode(self.secret.salt).decode()
        self.server_first = f"r={self.nonce},s={salt},i={self.secret.iterations}"
        return self.server_first

    def client_final(self, message: str) -> str:
        """Check client-final-message's proof; returns server-final-message."""
        without_proof, _, proof = message.rpartition(",p=")
        attributes = _attributes(without_proof)
        binding = base64.b64encode(self.gs2_header.encode()).decode()
        if attributes.get("c") != binding or attributes.get("r") != self.nonce or not proof:
            raise ScramError("SCRAM client-final message does not match the exchange")
        auth_message = f"{self.first_bare},{self.server_first},{without_proof}".encode()
        signature = hmac.new(self.secret.stored_key, auth_message, "sha256").digest()
        try:
            client_proof = base64.b64decode(proof, validate=True)
        except ValueError:
            raise ScramError("SCRAM proof is not base64") from None
        if len(client_proof) != len(signature):
            raise ScramError("SCRAM proof has the wrong length")
        client_key = bytes(a ^ b for a, b in zip(client_proof, signature))
        if not hmac.compare_digest(hashlib.sha256(client_key).digest(), self.secret.stored_key):
            raise ScramError("SCRAM proof does not match")
        server_signature = hmac.new(self.secret.server_key, auth_message, "sha256").digest()
        return "v=" + base64.b64encode(server_signature).decode()


def _attributes(message: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in message.split(",") if "=" in part)
