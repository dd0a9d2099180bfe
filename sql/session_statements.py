"""Statements about a client's session rather than its data: settings, transaction control
and the housekeeping drivers send, as PostgreSQL writes them (cursors and COPY TO STDOUT are in
tidal.sql.cursor_statements).

    SET [SESSION | LOCAL] {name {= | TO} {value [, ...] | DEFAULT} | TIME ZONE value
        | NAMES value | ROLE name | SESSION AUTHORIZATION name}
    SET TRANSACTION modes; SET SESSION CHARACTERISTICS AS TRANSACTION modes
    RESET {name | ALL | TIME ZONE | ROLE | SESSION AUTHORIZATION}
    BEGIN [WORK | TRANSACTION] [modes]; START TRANSACTION [modes]
    {COMMIT | END | ROLLBACK | ABORT} [WORK | TRANSACTION] [AND [NO] CHAIN]
    ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name; SAVEPOINT name; RELEASE [SAVEPOINT] name
    DISCARD {ALL | PLANS | SEQUENCES | TEMP | TEMPORARY}; DEALLOCATE [PREPARE] {name | ALL}
    LISTEN name; UNLISTEN {name | *}; NOTIFY name [, 'payload']
    CHECKPOINT

where modes are ``ISOLATION LEVEL {READ COMMITTED | READ UNCOMMITTED | REPEATABLE READ |
SERIALIZABLE}``, ``READ {ONLY | WRITE}`` and ``[NOT] DEFERRABLE``. BEGIN, COMMIT and ROLLBACK
are sqlglot's own nodes (``exp.Transaction``, ``exp.Commit``, ``exp.Rollback``), SHOW is the
dialect's ``exp.Show``; the rest are the nodes below. Anything else in these statements is a
syntax error (42601), or "not supported" (0A000) where PostgreSQL would accept it.

>>> from tidal.sql.parser import parse_statement
>>> parse_statement("SET search_path TO \\"$user\\", 'public'").value
'"$user", public'
>>> parse_statement("SET LOCAL TIME ZONE 'Europe/Paris'").sql(dialect="tidal")
"SET LOCAL TimeZone = 'Europe/Paris'"
>>> parse_statement("START TRANSACTION READ ONLY, ISOLATION LEVEL SERIALIZABLE").args["modes"]
['READ ONLY', 'ISOLATION LEVEL SERIALIZABLE']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.tokens import Token, TokenType

from tidal.catalog.sqlstate import SYNTAX_ERROR
from tidal.sql.errors import SqlError, unsupported

ISOLATION_LEVELS = ("READ COMMITTED", "READ UNCOMMITTED", "REPEATABLE READ", "SERIALIZABLE")


class SessionStatement(exp.Expression):
    """A statement of this module or of tidal.sql.cursor_statements (``arg_types`` per
    statement)."""

    arg_types: ClassVar[dict[str, bool]] = {}


def folded(name: exp.Identifier | None) -> str | None:
    """A name as PostgreSQL folds it: quoted as written, unquoted lower-cased."""
    if name is None:
        return None
    return name.this if name.quoted else name.this.lower()


# --- settings -----------------------------------------------------------------------------------


class SetSetting(SessionStatement):
    """``SET name = value, ...`` (``SET TIME ZONE`` and ``SET NAMES`` are this too); no
    ``expressions`` means DEFAULT. ``scope``: SESSION or LOCAL as written."""

    arg_types: ClassVar = {"this": True, "expressions": False, "scope": False}

    @property
    def value(self) -> str | None:
        """The value as PostgreSQL keeps it: items joined by ', ', quotes of strings removed;
        None for DEFAULT."""
        return ", ".join(e.name for e in self.expressions) if self.expressions else None


class SetTransaction(SessionStatement):
    """``SET TRANSACTION`` (or, with ``session``, ``SET SESSION CHARACTERISTICS AS
    TRANSACTION``) with its modes (``READ ONLY``, ...) in ``expressions``."""

    arg_types: ClassVar = {"expressions": True, "session": False}

    @property
    def modes(self) -> list[str]:
        return [e.name for e in self.expressions]


def _mode_nodes(parser) -> list[exp.Var]:
    return [exp.var(mode) for mode in _transaction_modes(parser, required=True)]


class SetRole(SessionStatement):
    """``SET ROLE name`` or ``SET SESSION AUTHORIZATION name`` (``kind``)."""

    arg_types: ClassVar = {"this": True, "kind": True}


class ResetSetting(SessionStatement):
    """``RESET name`` (TIME ZONE is TimeZone), or ``RESET ALL`` (no ``this``)."""

    arg_types: ClassVar = {"this": False}


def _parse_set(parser) -> SessionStatement:
    if parser._match_text_seq("TRANSACTION"):
        return SetTransaction(expressions=_mode_nodes(parser))
    if parser._match_text_seq("SESSION", "CHARACTERISTICS", "AS", "TRANSACTION"):
        return SetTransaction(expressions=_mode_nodes(parser), session=True)
    scope = None
    if parser._match_texts(("LOCAL",)) or (
        parser._curr
        and parser._curr.token_type == TokenType.SESSION
        and not parser._match_text_seq("SESSION", "AUTHORIZATION", advance=False)
        and parser._match(TokenType.SESSION)
    ):
        scope = exp.var(parser._prev.text.upper())
    for words, kind in (("ROLE",), "ROLE"), (("SESSION", "AUTHORIZATION"), "SESSION AUTHORIZATION"):
        if parser._match_text_seq(*words):
            return SetRole(this=_role(parser), kind=exp.var(kind))
    if parser._match_text_seq("TIME", "ZONE"):
        values = _setting_values(parser)
        local = [v.name.upper() for v in values] == ["LOCAL"]  # the server's: DEFAULT
        return SetSetting(
            this=exp.var("TimeZone"), expressions=[] if local else values, scope=scope
        )
    if parser._match_text_seq("NAMES"):
        values = _setting_values(parser)
        return SetSetting(this=exp.var("client_encoding"), expressions=values, scope=scope)
    name = _setting_name(parser)
    if not (parser._match(TokenType.EQ) or parser._match_text_seq("TO")):
        raise syntax_error(parser, "expected = or TO after the setting's name")
    return SetSetting(this=name, expressions=_setting_values(parser), scope=scope)


def _setting_name(parser) -> exp.Var:
    """A name, or a custom ``prefix.name``: as written, quotes removed."""
    parts = [identifier(parser, "a setting's name")]
    while parser._match(TokenType.DOT):
        parts.append(identifier(parser, "a setting's name"))
    return exp.var(".".join(p.this for p in parts))


def _setting_values(parser) -> list[exp.Literal]:
    """``value, ...`` or DEFAULT: a value is a quoted string (its text), a double-quoted name
    (kept with its quotes) or a run of tokens without spaces (``-1``, ``Europe/Paris``)."""
    if parser._curr and parser._curr.token_type == TokenType.DEFAULT and not _more(parser):
        parser._advance()
        return []
    values = []
    while True:
        values.append(exp.Literal.string(_setting_value(parser)))
        if not parser._match(TokenType.COMMA):
            break
    if parser._curr and parser._curr.token_type != TokenType.SEMICOLON:
        raise syntax_error(parser, "a SET value is a string, a name or a number, with no spaces")
    return values


def _more(parser) -> bool:
    return bool(parser._next) and parser._next.token_type != TokenType.SEMICOLON


def _setting_value(parser) -> str:
    first = parser._curr
    if not first or first.token_type in (TokenType.COMMA, TokenType.SEMICOLON):
        raise syntax_error(parser, "expected a value")
    parser._advance()
    if first.token_type == TokenType.STRING:
        return first.text
    if first.token_type == TokenType.IDENTIFIER:  # a double-quoted name
        return f'"{first.text}"'
    last = first
    while parser._curr and parser._curr.start == last.end + 1:  # touching: one value
        if parser._curr.token_type in (TokenType.COMMA, TokenType.SEMICOLON):
            break
        last = parser._curr
        parser._advance()
    return parser._find_sql(first, last)


def _role(parser) -> exp.Literal:
    token = parser._curr
    if not token or not (token.token_type == TokenType.STRING or is_name(token)):
        raise syntax_error(parser, "expected a role name, DEFAULT or NONE")
    parser._advance()
    return exp.Literal.string(token.text)


def _parse_reset(parser) -> ResetSetting:
    if parser._match(TokenType.ALL):
        return ResetSetting()
    if parser._match_text_seq("TIME", "ZONE"):
        return ResetSetting(this=exp.var("TimeZone"))
    if parser._match_text_seq("SESSION", "AUTHORIZATION"):
        return ResetSetting(this=exp.var("SESSION AUTHORIZATION"))
    return ResetSetting(this=_setting_name(parser))


# --- transactions -------------------------------------------------------------------------------


class StartTransaction(exp.Transaction):
    """``START TRANSACTION``: BEGIN in the standard's words."""


class Savepoint(SessionStatement):
    """``SAVEPOINT name``, or with ``release`` ``RELEASE [SAVEPOINT] name``."""

    arg_types: ClassVar = {"this": True, "release": False}


def _transaction_modes(parser, required: bool = False) -> list[str]:
    """Modes, normalised: ``ISOLATION LEVEL SERIALIZABLE``, ``READ ONLY``, ``DEFERRABLE``..."""
    modes: list[str] = []
    while parser._curr and parser._curr.token_type != TokenType.SEMICOLON:
        if modes:
            parser._match(TokenType.COMMA)
        if parser._match_text_seq("ISOLATION", "LEVEL"):
            level = next((lv for lv in ISOLATION_LEVELS if parser._match_text_seq(*lv.split())), "")
            if not level:
                raise syntax_error(
                    parser, f"expected an isolation level: {', '.join(ISOLATION_LEVELS)}"
                )
            modes.append(f"ISOLATION LEVEL {level}")
        elif parser._match_text_seq("READ", "ONLY") or parser._match_text_seq("READ", "WRITE"):
            modes.append(f"READ {parser._prev.text.upper()}")
        elif parser._match_text_seq("NOT", "DEFERRABLE"):
            modes.append("NOT DEFERRABLE")
        elif parser._match_text_seq("DEFERRABLE"):
            modes.append("DEFERRABLE")
        else:
            raise syntax_error(
                parser, "expected ISOLATION LEVEL, READ ONLY, READ WRITE or DEFERRABLE"
            )
    if required and not modes:
        raise syntax_error(parser, "expected a transaction mode")
    return modes


def _parse_begin(parser) -> exp.Transaction:
    parser._match_texts(("WORK", "TRANSACTION"))
    return exp.Transaction(modes=_transaction_modes(parser) or None)


def _parse_start(parser) -> StartTransaction:
    expect(parser, "TRANSACTION")
    return StartTransaction(modes=_transaction_modes(parser) or None)


def _parse_end_of_block(parser) -> exp.Commit | exp.Rollback:
    """COMMIT, END, ROLLBACK, ABORT; ROLLBACK TO a savepoint."""
    rollback = parser._prev.text.upper() in ("ROLLBACK", "ABORT")
    word = parser._prev.text.upper()
    parser._match_texts(("WORK", "TRANSACTION"))
    if word == "ROLLBACK" and parser._match_text_seq("TO"):
        parser._match_text_seq("SAVEPOINT")
        return exp.Rollback(savepoint=identifier(parser, "a savepoint name"))
    chain = None
    if parser._match(TokenType.AND):
        chain = not parser._match_text_seq("NO")
        expect(parser, "CHAIN")
    if rollback and chain:
        raise unsupported(f"{word} AND CHAIN: {word}, then BEGIN")
    return exp.Rollback() if rollback else exp.Commit(chain=chain)


def _parse_savepoint(parser) -> Savepoint:
    release = parser._prev.text.upper() == "RELEASE"
    if release:
        parser._match_text_seq("SAVEPOINT")
    return Savepoint(this=identifier(parser, "a savepoint name"), release=release or None)


# --- the rest of a session's housekeeping -------------------------------------------------------


class Discard(SessionStatement):
    """``DISCARD ALL | PLANS | SEQUENCES | TEMP``."""

    arg_types: ClassVar = {"this": True}


class Deallocate(SessionStatement):
    """``DEALLOCATE name`` or ``DEALLOCATE ALL`` (no ``this``)."""

    arg_types: ClassVar = {"this": False}

    @property
    def statement(self) -> str | None:
        return folded(self.this)


class Notification(SessionStatement):
    """``LISTEN``, ``UNLISTEN`` or ``NOTIFY`` (``kind``) on channel ``this`` (UNLISTEN * has
    none), with a payload ``expression`` for NOTIFY."""

    arg_types: ClassVar = {"this": False, "kind": True, "expression": False}


class Checkpoint(SessionStatement):
    """``CHECKPOINT``: write a checkpoint of a durable database now."""


def _parse_discard(parser) -> Discard:
    if not parser._match_texts(("ALL", "PLANS", "SEQUENCES", "TEMP", "TEMPORARY")):
        raise syntax_error(parser, "expected ALL, PLANS, SEQUENCES or TEMP")
    return Discard(this=exp.var(parser._prev.text.upper().replace("TEMPORARY", "TEMP")))


def _parse_deallocate(parser) -> Deallocate:
    parser._match_text_seq("PREPARE")
    if parser._match(TokenType.ALL):
        return Deallocate()
    return Deallocate(this=identifier(parser, "a prepared statement's name or ALL"))


def _parse_notification(parser) -> Notification:
    node = Notification(kind=exp.var(parser._prev.text.upper()))
    if node.text("kind") == "UNLISTEN" and parser._match(TokenType.STAR):
        return node
    node.set("this", identifier(parser, "a channel name"))
    if node.text("kind") == "NOTIFY" and parser._match(TokenType.COMMA):
        node.set("expression", parser._parse_string())
    return node


# --- shared -------------------------------------------------------------------------------------


def identifier(parser, what: str) -> exp.Identifier:
    token = parser._curr
    if not token or not is_name(token):
        raise syntax_error(parser, f"expected {what}")
    parser._advance()
    return exp.Identifier(this=token.text, quoted=token.token_type == TokenType.IDENTIFIER)


def is_name(token: Token) -> bool:
    """A double-quoted name, or a word (keywords included: a cursor may be called next)."""
    if token.token_type == TokenType.IDENTIFIER:
        return True
    text = token.text
    return (
        token.token_type != TokenType.STRING
        and (text[:1].isalpha() or text[:1] == "_")
        and (text.replace("_", "").replace("$", "").isalnum())
    )


def expect(parser, word: str) -> None:
    if not parser._match_text_seq(word):
        raise syntax_error(parser, f"expected {word}")


def expect_token(parser, kind: TokenType, text: str) -> None:
    if not parser._match(kind):
        raise syntax_error(parser, f"expected {text}")


def syntax_error(parser, message: str) -> ParseError:
    """A parse error at the current token, to raise at once (``parser.raise_error`` only
    collects it unless the parser raises immediately)."""
    try:
        parser.raise_error(message)
    except ParseError as error:
        return error
    return parser.errors.pop()


def option_error(token: Token, message: str) -> SqlError:
    column = max(1, token.col - len(token.text) + 1)
    return SqlError(message, sqlstate=SYNTAX_ERROR, line=token.line, column=column)


# --- registered in the dialect (tidal.sql.dialect) ----------------------------------------------


@dataclass(frozen=True)
class DialectTables:
    """What a module of statements adds to the dialect's class-level tables: tokenizer
    ``keywords``, ``statement_parsers`` by first token, ``word_statements`` whose first word is
    no keyword (a column may still be called so), and generator ``transforms``."""

    keywords: dict
    statement_parsers: dict
    word_statements: dict
    transforms: dict


# PostgreSQL's tokenizer keeps what follows these words as text (a command): they are words here.
_KEYWORDS = {"RESET": TokenType.VAR, "SAVEPOINT": TokenType.VAR, "RELEASE": TokenType.VAR}
_STATEMENT_PARSERS = {
    TokenType.SET: _parse_set,
    TokenType.BEGIN: _parse_begin,
    TokenType.COMMIT: _parse_end_of_block,
    TokenType.END: _parse_end_of_block,
    TokenType.ROLLBACK: _parse_end_of_block,
}
_WORD_STATEMENTS = {
    "RESET": _parse_reset,
    "START": _parse_start,
    "ABORT": _parse_end_of_block,
    "SAVEPOINT": _parse_savepoint,
    "RELEASE": _parse_savepoint,
    "DISCARD": _parse_discard,
    "DEALLOCATE": _parse_deallocate,
    "LISTEN": _parse_notification,
    "UNLISTEN": _parse_notification,
    "NOTIFY": _parse_notification,
    "CHECKPOINT": lambda parser: Checkpoint(),
}


def _set_sql(generator, node: SetSetting) -> str:
    scope = f"{node.text('scope')} " if node.args.get("scope") else ""
    values = ", ".join(generator.sql(e) for e in node.expressions) or "DEFAULT"
    return f"SET {scope}{node.name} = {values}"


def _set_transaction_sql(generator, node: SetTransaction) -> str:
    head = "SESSION CHARACTERISTICS AS TRANSACTION" if node.args.get("session") else "TRANSACTION"
    return f"SET {head} {', '.join(node.modes)}"


def _modes_sql(node: exp.Transaction) -> str:
    modes = node.args.get("modes") or []
    return f" {', '.join(modes)}" if modes else ""


def _notification_sql(generator, node: Notification) -> str:
    channel = generator.sql(node, "this") or "*"
    payload = f", {generator.sql(node, 'expression')}" if node.args.get("expression") else ""
    return f"{node.text('kind')} {channel}{payload}"


_TRANSFORMS = {
    SetSetting: _set_sql,
    SetTransaction: _set_transaction_sql,
    SetRole: lambda self, e: f"SET {e.text('kind')} {self.sql(e, 'this')}",
    ResetSetting: lambda self, e: f"RESET {e.name or 'ALL'}",
    exp.Transaction: lambda self, e: f"BEGIN{_modes_sql(e)}",
    StartTransaction: lambda self, e: f"START TRANSACTION{_modes_sql(e)}",
    Savepoint: lambda self, e: (
        f"{'RELEASE ' if e.args.get('release') else ''}SAVEPOINT " + self.sql(e, "this")
    ),
    Discard: lambda self, e: f"DISCARD {e.name}",
    Deallocate: lambda self, e: f"DEALLOCATE {self.sql(e, 'this') or 'ALL'}",
    Notification: _notification_sql,
    Checkpoint: lambda self, e: "CHECKPOINT",
}
SESSION_STATEMENTS = DialectTables(_KEYWORDS, _STATEMENT_PARSERS, _WORD_STATEMENTS, _TRANSFORMS)
