"""``CREATE USER``, ``ALTER USER`` and ``DROP USER`` (and their ROLE spellings), parsed.

    CREATE USER name [WITH] [PASSWORD 'secret' | PASSWORD NULL] [LOGIN | SUPERUSER | ...]
    ALTER USER name [WITH] PASSWORD 'secret'
    DROP USER [IF EXISTS] name [, ...]

sqlglot keeps these as raw commands; ``parse_role`` reads one into a ``RoleStatement``, which the
engine applies to the catalog's users. A password becomes a salted SCRAM-SHA-256 verifier
(tidal.catalog.users) here, so it is never kept as given; a password that is already a verifier
(``SCRAM-SHA-256$...``, as pg_dump writes) is kept as is. Other role options (LOGIN, SUPERUSER,
CREATEDB, ...) are accepted and ignored: tidal has no privileges, every user may do everything.

    >>> role = parse_role("CREATE", "USER alice WITH PASSWORD 'secret' LOGIN")
    >>> role.verb, role.names, role.verifier.startswith("SCRAM-SHA-256$4096:")
    ('CREATE', ('alice',), True)
    >>> parse_role("DROP", "USER IF EXISTS alice, bob")
    RoleStatement(verb='DROP', names=('alice', 'bob'), verifier=None, password_given=False, if_exists=True)
    >>> parse_role("CREATE", "TABLE t (a INT)") is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from tidal.catalog.sqlstate import INVALID_PARAMETER_VALUE
from tidal.catalog.users import parse_verifier, scram_verifier
from tidal.sql.dialect import Tidal
from tidal.sql.errors import SqlError

# Role options PostgreSQL knows; tidal accepts them and keeps none but the password.
_IGNORED_OPTIONS = {
    "LOGIN", "NOLOGIN", "SUPERUSER", "NOSUPERUSER", "CREATEDB", "NOCREATEDB", "CREATEROLE",
    "NOCREATEROLE", "INHERIT", "NOINHERIT", "REPLICATION", "NOREPLICATION", "BYPASSRLS",
    "NOBYPASSRLS",
}  # fmt: skip


@dataclass(frozen=True)
class RoleStatement:
    """``verb`` (CREATE, ALTER or DROP) of the users ``names``; for CREATE and ALTER, the
    verifier of the password given (None: PASSWORD NULL, or none given)."""

    verb: str
    names: tuple[str, ...]
    verifier: str | None = None
    password_given: bool = False
    if_exists: bool = False


def parse_role(verb: str, rest: str) -> RoleStatement | None:
    """A raw command (``verb`` CREATE/ALTER/DROP, then ``rest``) about a user; None if it is
    about something else."""
    words = rest.split(None, 1)
    verb = verb.upper()
    if verb not in ("CREATE", "ALTER", "DROP") or not words:
        return None
    if words[0].upper() not in ("USER", "ROLE"):
        return None
    tokens = _tokens(rest)[1:]  # after USER / ROLE
    if verb == "DROP":
        return _drop(tokens)
    name, tokens = _name(tokens)
    password, password_given = _options(tokens)
    verifier = _verifier(password) if password_given else None
    return RoleStatement(verb, (name,), verifier, password_given)


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
            raise SqlError(str(error), sqlstate=INVALID_PARAMETER_VALUE) from None
        return password
    if not password:
        raise SqlError(
            "empty password: give a password, or PASSWORD NULL", sqlstate=INVALID_PARAMETER_VALUE
        )
    return scram_verifier(password)


def _drop(tokens: list[Token]) -> RoleStatement:
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
    return RoleStatement("DROP", tuple(names), if_exists=if_exists)
