"""``CREATE USER``, ``ALTER USER`` and ``DROP USER`` (and their ROLE spellings): parsed, who
may run them, and what they do to the catalog's users.

    CREATE USER name [WITH] [PASSWORD 'secret' | PASSWORD NULL] [SUPERUSER | NOSUPERUSER] [...]
    ALTER USER name [WITH] [PASSWORD 'secret' | PASSWORD NULL] [SUPERUSER | NOSUPERUSER]
    DROP USER [IF EXISTS] name [, ...]

sqlglot keeps these as raw commands; ``parse_role`` reads one into a ``RoleStatement`` and
``apply_role`` applies it to the users. A password becomes a salted SCRAM-SHA-256 verifier
(tidal.catalog.users) here, so it is never kept as given; a password that is already a verifier
(``SCRAM-SHA-256$...``, as pg_dump writes) is kept as is, if it asks for at most
``MAX_ITERATIONS``. Other role options (LOGIN, CREATEDB, ...) are accepted and ignored.

Privileges, as PostgreSQL's for roles (``authorize``, for a client's session; the --init script
and the shell run as the server's owner): only a superuser may create or drop users, alter
another user or change SUPERUSER; every user may change its own password. The first user made
is a superuser unless it says NOSUPERUSER; while no superuser exists (no users yet, or a data
directory from before superusers), any user may manage users, as there is nobody else to ask.

    >>> role = parse_role("CREATE", "USER alice WITH PASSWORD 'secret' LOGIN")
    >>> role.verb, role.names, role.verifier.startswith("SCRAM-SHA-256$4096:")
    ('CREATE', ('alice',), True)
    >>> parse_role("DROP", "USER IF EXISTS alice, bob")
    RoleStatement(verb='DROP', names=('alice', 'bob'), verifier=None, password_given=False, superuser=None, if_exists=True)
    >>> parse_role("CREATE", "TABLE t (a INT)") is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from tidal.catalog.sqlstate import (
    DUPLICATE_OBJECT,
    INSUFFICIENT_PRIVILEGE,
    INVALID_PARAMETER_VALUE,
    OBJECT_NOT_IN_PREREQUISITE_STATE,
    UNDEFINED_OBJECT,
)
from tidal.catalog.users import MAX_ITERATIONS, User, Users, parse_verifier, scram_verifier
from tidal.sql.dialect import Tidal
from tidal.sql.errors import SqlError

# Role options PostgreSQL knows; tidal accepts them and keeps none but the password and SUPERUSER.
_IGNORED_OPTIONS = {
    "LOGIN", "NOLOGIN", "CREATEDB", "NOCREATEDB", "CREATEROLE", "NOCREATEROLE", "INHERIT",
    "NOINHERIT", "REPLICATION", "NOREPLICATION", "BYPASSRLS", "NOBYPASSRLS",
}  # fmt: skip
_SUPERUSER_OPTIONS = {"SUPERUSER": True, "NOSUPERUSER": False}


@dataclass(frozen=True)
class RoleStatement:
    """``verb`` (CREATE, ALTER or DROP) of the users ``names``; for CREATE and ALTER, the
    verifier of the password given (None: PASSWORD NULL, or none given) and SUPERUSER or
    NOSUPERUSER (None: neither given)."""

    verb: str
    names: tuple[str, ...]
    verifier: str | None = None
    password_given: bool = False
    superuser: bool | None = None
    if_exists: bool = False


def role_of(statement: exp.Expression) -> RoleStatement | None:
    """The role statement ``statement`` is (sqlglot keeps them as raw commands), or None."""
    if not isinstance(statement, exp.Command):
        return None
    rest = statement.expression
    rest = rest.name if isinstance(rest, exp.Expression) else str(rest or "")
    return parse_role(statement.this, rest)


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
    password, password_given, superuser = _options(tokens)
    verifier = _verifier(password) if password_given else None
    return RoleStatement(verb, (name,), verifier, password_given, superuser)


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


def _options(tokens: list[Token]) -> tuple[str | None, bool, bool | None]:
    """The password given (None: PASSWORD NULL), whether one was given at all, and SUPERUSER
    (True), NOSUPERUSER (False) or neither (None)."""
    password, has_password, superuser = None, False, None
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
        elif word in _SUPERUSER_OPTIONS:
            superuser = _SUPERUSER_OPTIONS[word]
            i += 1
        elif word in _IGNORED_OPTIONS:
            i += 1
        elif word == "CONNECTION" or word == "VALID":  # CONNECTION LIMIT n, VALID UNTIL '...'
            i += 3
        else:
            raise SqlError(f"syntax error at or near {tokens[i].text!r} in a user statement")
    return password, has_password, superuser


def _verifier(password: str | None) -> str | None:
    if password is None:
        return None
    if password.startswith("SCRAM-SHA-256$"):
        try:
            parse_verifier(password, max_iterations=MAX_ITERATIONS)
        except ValueError as error:
            raise SqlError(
                f"{error}: give the password itself, or a verifier of at most "
                f"{MAX_ITERATIONS:,} iterations",
                sqlstate=INVALID_PARAMETER_VALUE,
            ) from None
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


def acts_as_superuser(name: str, users: Users) -> bool:
    """Whether a session of user ``name`` may manage users: a superuser's, or any while no
    superuser exists."""
    superusers = users.superusers()
    return not superusers or name.lower() in superusers


def authorize(role: RoleStatement, acting: str, users: Users) -> None:
    """Raise 42501 unless the session user ``acting`` may run ``role`` (see the module's
    docstring); a name that is not a user (only trust auth lets one in) is not a superuser."""
    if acts_as_superuser(acting, users):
        return
    user = users.get(acting)
    target = role.names[0]
    if role.verb in ("CREATE", "DROP"):
        action, reason = f'{role.verb.lower()} user "{target}"', f"{role.verb.lower()} users"
    elif user is None or users.get(target) is not user:
        action, reason = f'alter user "{target}"', "alter another user"
    elif role.superuser is not None:
        action, reason = f'change SUPERUSER of "{target}"', "change SUPERUSER"
    else:
        return  # a user changing its own password
    raise SqlError(
        f"permission denied to {action}: only a superuser may {reason} (connect as one; a "
        "user may change its own password)",
        sqlstate=INSUFFICIENT_PRIVILEGE,
    )


def apply_role(role: RoleStatement, users: Users) -> None:
    """Create, alter or drop the users ``role`` names (its privileges already checked)."""
    missing = [name for name in role.names if users.get(name) is None]
    if role.verb == "CREATE" and not missing:
        raise SqlError(f"role {role.names[0]!r} already exists", sqlstate=DUPLICATE_OBJECT)
    if role.verb != "CREATE" and missing and not role.if_exists:
        raise SqlError(f"role {missing[0]!r} does not exist", sqlstate=UNDEFINED_OBJECT)
    if role.verb == "DROP":
        kept = [u for u in map(users.get, users.names()) if u.name.lower() not in _keys(role)]
        _keep_a_superuser(users, kept, "drop")
        for name in role.names:
            users.remove(name)
    elif role.verb == "CREATE":
        first = not len(users)  # the bootstrap user: a superuser unless it says otherwise
        superuser = first if role.superuser is None else role.superuser
        users.add(User(role.names[0], role.verifier, superuser))
    else:
        _alter(role, users)


def _alter(role: RoleStatement, users: Users) -> None:
    existing = users.get(role.names[0])
    verifier = role.verifier if role.password_given else existing.verifier
    superuser = existing.superuser if role.superuser is None else role.superuser
    changed = User(existing.name, verifier, superuser)
    others = [u for u in map(users.get, users.names()) if u is not existing]
    _keep_a_superuser(users, [*others, changed], "demote")
    users.add(changed, replace=True)


def _keys(role: RoleStatement) -> set[str]:
    return {name.lower() for name in role.names}


def _keep_a_superuser(users: Users, after: list[User], verb: str) -> None:
    """Refuse a change that would leave users but no superuser to manage them."""
    if users.has_superuser() and after and not any(u.superuser for u in after):
        raise SqlError(
            f"cannot {verb} the last superuser while other users exist: make another user "
            "SUPERUSER first (ALTER USER name SUPERUSER)",
            sqlstate=OBJECT_NOT_IN_PREREQUISITE_STATE,
        )
