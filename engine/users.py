"""``CREATE USER``, ``ALTER USER`` and ``DROP USER`` (and their ROLE spellings).

    CREATE USER name [WITH] [PASSWORD 'secret' | PASSWORD NULL] [LOGIN | SUPERUSER | ...]
    ALTER USER name [WITH] PASSWORD 'secret'
    DROP USER [IF EXISTS] name [, ...]

Passwords are kept as salted SCRAM-SHA-256 verifiers (tidal.catalog.users), never as given; a
password that is already a verifier (``SCRAM-SHA-256$...``, as pg_dump writes) is kept as is.
Other role options (LOGIN, SUPERUSER, CREATEDB, ...) are accepted and ignored: tidal has no
privileges, every user may do everything.

    >>> from tidal.engine import Database
    >>> db = Database()
    >>> db.execute("CREATE USER alice WITH PASSWORD 'secret'")
    CREATE ROLE
    >>> db.catalog.users.get("alice").verifier.startswith("SCRAM-SHA-256$4096:")
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from tidal.catalog.users import User, parse_verifier, scram_verifier
from tidal.sql.dialect import Tidal
from tidal.sql.errors import SqlError

if TYPE_CHECKING:
    from tidal.catalog import Catalog

# Role options PostgreSQL knows; tidal accepts them and keeps none but the password.
_IGNORED_OPTIONS = {
    "LOGIN", "NOLOGIN", "SUPERUSER", "NOSUPERUSER", "CREATEDB", "NOCREATEDB", "CREATEROLE",
    "NOCREATEROLE", "INHERIT", "NOINHERIT", "REPLICATION", "NOREPLICATION", "BYPASSRLS",
    "NOBYPASSRLS",
}  # fmt: skip


def is_user_statement(verb: str, rest: str) -> bool:
    """Whether a raw command (``verb`` CREATE/ALTER/DROP, then ``rest``) is about a user."""
    words = rest.split(None, 1)
    return (
        verb.upper() in ("CREATE", "ALTER", "DROP")
        and bool(words)
        and (words[0].upper() in ("USER", "ROLE"))
    )


def run(catalog: Catalog, verb: str, rest: str) -> str:
    """Run one user statement; returns its command tag."""
    tokens = _tokens(rest)[1:]  # after USER / ROLE
    verb = verb.upper()
    if verb == "DROP":
        return _drop(catalog, tokens)
    name, tokens = _name(tokens)
    password, has_password = _options(tokens)
    existing = catalog.users.get(name)
    if verb == "CREATE":
        if existing is not None:
            raise SqlError(f"role {name!r} already exists", sqlstate="42710")
        catalog.users.add(User(name, _verifier(password)))
        return "CREATE ROLE"
    if existing is None:
        raise SqlError(f"role {name!r} does not exist", sqlstate="42704")
    if has_password:
        catalog.users.add(User(existing.name, _verifier(password)), replace=True)
    return "ALTER ROLE"


def _tokens(text: str) -> list[Token]:
    try:
        return Tidal().tokenize(text)
    except TokenError:
        raise SqlError("syntax error: unterminated quoted string in a user statement") from None


def _name(tokens: list[Token]) -> tuple[str, list[Token]]:
    if (
        not tokens
        or tokens[0].token_type not in (TokenType.VAR, TokenType.IDENTIFIER)
        and (not tokens[0].text.isidentifier())
    ):
        raise SqlError("syntax error: expected a user name")
    token = tokens[0]
    name = token.text if token.token_type == TokenType.IDENTIFIER else token.text.lower()
    return name, tokens[1:]


def _options(tokens: list[Token]) -> tuple[str | None, bool]:
    """The password given (None: PASSWORD NULL) and whether one was given at all."""
    password, has_password = None, False
    i = 0
    if i < len(tokens) and tokens[i].text.upper() == "WITH":
        i += 1
    while i < len(tokens):
        word = tokens[i].text.upper()
        if word == "ENCRYPTED" and i + 1 < len(tokens) and tokens[i + 1].text.upper() == "PASSWORD":
            i += 1
            word = "PASSWORD"
        if word == "PASSWORD" and i + 1 < len(tokens):
            value = tokens[i + 1]
            if value.token_type == TokenType.NULL:
                password = None
            elif value.token_type == TokenType.STRING:
                password = value.text
            else:
                raise SqlError("PASSWORD takes a quoted string or NULL")
            has_password = True
            i += 2
        elif word in _IGNORED_OPTIONS:
            i += 1
        elif word == "CONNECTION" or word == "VALID":  # CONNECTION LIMIT n, VALID UNTIL '...'
            i += 3
        else:
            raise SqlError(f"syntax error at or near {tokens[i].text!r} in a user statement")
    return password, has_password


def _verifier(password: str | None) -> str | None:
    if password is None:
        return None
    if password.startswith("SCRAM-SHA-256$"):
        try:
            parse_verifier(password)
        except ValueError as error:
            raise SqlError(str(error), sqlstate="22023") from None
        return password
    if not password:
        raise SqlError("empty password: give a password, or PASSWORD NULL", sqlstate="22023")
    return scram_verifier(password)


def _drop(catalog: Catalog, tokens: list[Token]) -> str:
    if_exists = len(tokens) >= 2 and [t.text.upper() for t in tokens[:2]] == ["IF", "EXISTS"]
    tokens = tokens[2:] if if_exists else tokens
    names = []
    while tokens:
        name, tokens = _name(tokens)
        names.append(name)
        if tokens and tokens[0].token_type == TokenType.COMMA:
            tokens = tokens[1:]
        elif tokens:
            raise SqlError(f"syntax error at or near {tokens[0].text!r} in DROP USER")
    for name in names:
        if catalog.users.get(name) is None and not if_exists:
            raise SqlError(f"role {name!r} does not exist", sqlstate="42704")
    for name in names:
        catalog.users.remove(name)
    return "DROP ROLE"
