"""Users who may log in to ``tidal serve``, each with a salted SCRAM-SHA-256 verifier.

The password itself is never kept: only PostgreSQL's verifier format,
``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` (RFC 5802/7677), from which a
server can check a SCRAM proof or a cleartext password but cannot recover the password. A
verifier given as is (``PASSWORD 'SCRAM-SHA-256$...'``) may ask for at most ``MAX_ITERATIONS``:
a cleartext login computes that many rounds of PBKDF2 (30 million took 8.4 s).

A name that is not a user still gets a verifier's salt and iteration count (``scram_secret``),
derived from the name and a random ``secret`` of the Users, so that a client cannot tell unknown
names from known ones by their salts (the same on every try, as a real user's).

    >>> users = Users()
    >>> users.add(User("alice", scram_verifier("secret")))
    >>> check_password(users.get("ALICE").verifier, "secret"), check_password(
    ...     users.get("alice").verifier, "wrong")
    (True, False)
    >>> users.scram_secret("nobody").salt == users.scram_secret("NOBODY").salt
    True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import unicodedata
from dataclasses import dataclass

ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)
MAX_ITERATIONS = 100_000  # in a verifier given as is; 60 ms of PBKDF2 here (4096: 5 ms)
SALT_BYTES = 16
SECRET_BYTES = 32


@dataclass(frozen=True)
class User:
    name: str  # as written; looked up case-insensitively, as unquoted role names are
    verifier: str | None = None  # None: the user cannot log in with a password
    superuser: bool = False  # may create, alter and drop users (tidal.sql.roles.authorize)
    kind = "user"


@dataclass(frozen=True)
class ScramSecret:
    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes


def _normalize(password: str) -> bytes:
    # SASLprep, close enough for real passwords: NFKC with non-ASCII spaces as spaces.
    mapped = "".join(" " if unicodedata.category(c) == "Zs" else c for c in password)
    return unicodedata.normalize("NFKC", mapped).encode("utf-8")


def _keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha256", _normalize(password), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    return hashlib.sha256(client_key).digest(), server_key


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier of ``password`` with a fresh random salt."""
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    stored_key, server_key = _keys(password, salt, iterations)

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def parse_verifier(verifier: str, max_iterations: int | None = None) -> ScramSecret:
    """The parts of a verifier; ValueError if it is not one, or (given ``max_iterations``) if it
    asks for more iterations than that."""
    try:
        method, rest = verifier.split("$", 1)
        head, keys = rest.split("$", 1)
        iterations, salt = head.split(":", 1)
        stored_key, server_key = keys.split(":", 1)
        if method != "SCRAM-SHA-256":
            raise ValueError(method)
        if int(iterations) < 1:
            raise ValueError(f"{iterations} iterations")
        if max_iterations is not None and int(iterations) > max_iterations:
            raise ValueError(
                f"{int(iterations):,} iterations is more than the {max_iterations:,} accepted"
            )
        return ScramSecret(
            base64.b64decode(salt, validate=True),
            int(iterations),
            base64.b64decode(stored_key, validate=True),
            base64.b64decode(server_key, validate=True),
        )
    except (ValueError, TypeError) as error:
        raise ValueError(f"not a SCRAM-SHA-256 verifier: {error}") from None


def check_password(verifier: str | None, password: str) -> bool:
    """Whether ``password`` matches ``verifier`` (a cleartext login, over TLS only)."""
    return bool(verifier) and password_matches(parse_verifier(verifier), password)


def password_matches(secret: ScramSecret, password: str) -> bool:
    """Whether ``password`` gives ``secret``'s StoredKey: its iterations of PBKDF2, so call it
    off the event loop."""
    stored_key, _ = _keys(password, secret.salt, secret.iterations)
    return hmac.compare_digest(stored_key, secret.stored_key)


class Users:
    """Users by case-insensitive name, and the secret that derives unknown names' salts (random
    per Users; a data directory keeps it, see tidal.engine.durability.engine_state)."""

    def __init__(self) -> None:
        self._users: dict[str, User] = {}
        self.secret = os.urandom(SECRET_BYTES)

    def scram_secret(self, name: str) -> ScramSecret:
        """What a SCRAM exchange or a cleartext check of ``name`` runs against: its verifier,
        or for a name without one (unknown, or PASSWORD NULL) one that no password matches,
        with a salt derived from the name (stable, as a real user's) and the usual iterations."""
        user = self.get(name)
        if user is not None and user.verifier:
            return parse_verifier(user.verifier)
        derived = hmac.new(self.secret, name.lower().encode(), "sha256").digest()
        return ScramSecret(derived[:SALT_BYTES], ITERATIONS, os.urandom(32), os.urandom(32))

    def superusers(self) -> set[str]:
        """The superusers' names, lowercased."""
        return {key for key, user in list(self._users.items()) if user.superuser}

    def has_superuser(self) -> bool:
        return bool(self.superusers())

    def add(self, user: User, replace: bool = False) -> None:
        key = user.name.lower()
        if key in self._users and not replace:
            raise ValueError(f"role {user.name!r} already exists")
        self._users[key] = user

    def get(self, name: str) -> User | None:
        return self._users.get(name.lower())

    def remove(self, name: str) -> bool:
        return self._users.pop(name.lower(), None) is not None

    def names(self) -> list[str]:
        return sorted(u.name for u in self._users.values())

    def __len__(self) -> int:
        return len(self._users)
