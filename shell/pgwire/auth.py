"""Authentication: trust, cleartext password (over TLS only) and SCRAM-SHA-256.

SCRAM is done here with the standard library: the ``scramp`` package refuses libpq's empty
SCRAM user name, and the server side is small.

Users and their verifiers live in the catalog (``CREATE USER ... WITH PASSWORD``, see
tidal.catalog.users). An unknown user goes through the same SCRAM exchange against a made-up
verifier, so that a client cannot tell unknown users from wrong passwords.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Awaitable, Callable

from tidal.catalog.sqlstate import INVALID_AUTHORIZATION_SPECIFICATION, INVALID_PASSWORD
from tidal.catalog.users import ScramSecret, Users, check_password, parse_verifier
from tidal.shell.pgwire import codec
from tidal.shell.pgwire.error_responses import ServerError

TRUST, PASSWORD, SCRAM = "trust", "password", "scram-sha-256"
METHODS = (TRUST, SCRAM, PASSWORD)
MECHANISM = "SCRAM-SHA-256"

Send = Callable[[bytes], Awaitable[None]]
Receive = Callable[[], Awaitable[bytes]]  # the body of the client's next 'p' message


def _failed(user: str) -> ServerError:
    return ServerError(f'password authentication failed for user "{user}"', INVALID_PASSWORD)


async def authenticate(
    method: str, user: str, users: Users, tls: bool, send: Send, receive: Receive
) -> None:
    """Run the exchange for ``method``; returns when ``user`` is in, raises ServerError
    (28P01, 28000) when not. AuthenticationOk is the caller's to send."""
    if method == TRUST:
        return
    if method == PASSWORD:
        return await _cleartext(user, users, tls, send, receive)
    if method == SCRAM:
        return await _scram(user, users, send, receive)
    raise ServerError(
        f"unknown authentication method {method!r}", INVALID_AUTHORIZATION_SPECIFICATION
    )


async def _cleartext(user: str, users: Users, tls: bool, send: Send, receive: Receive) -> None:
    if not tls:  # the server refuses to start so; this guards against a mistake
        raise ServerError(
            "cleartext passwords are only accepted over TLS", INVALID_AUTHORIZATION_SPECIFICATION
        )
    await send(codec.authentication_cleartext())
    password = codec.parse_password(await receive())
    known = users.get(user)
    if known is None or not check_password(known.verifier, password):
        raise _failed(user)


def _secret(user: str, users: Users) -> ScramSecret:
    known = users.get(user)
    if known is not None and known.verifier:
        return parse_verifier(known.verifier)
    return ScramSecret(os.urandom(16), 4096, os.urandom(32), os.urandom(32))


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


async def _scram(user: str, users: Users, send: Send, receive: Receive) -> None:
    exchange = ScramExchange(_secret(user, users))
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
        server_final = exchange.client_final(codec.decode_text(await receive()))
    except ScramError:
        raise _failed(user) from None
    await send(codec.authentication_sasl_final(server_final.encode()))
