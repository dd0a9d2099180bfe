"""``SUBSCRIBE``: a stream of a relation's changes (Materialize's statement).

    SUBSCRIBE [TO] name [WITH (SNAPSHOT [= true|false], PROGRESS [= true|false])] [AS OF tick]

``AS OF`` may come before or after ``WITH``; option names are case-insensitive; an option
without a value means true.

>>> from tidal.sql.parser import parse_statement
>>> s = parse_statement("SUBSCRIBE TO v WITH (snapshot = false, PROGRESS) AS OF 7")
>>> (s.name, s.snapshot, s.progress, s.as_of)
('v', False, True, 7)
>>> s.sql(dialect="tidal")
'SUBSCRIBE v WITH (SNAPSHOT = false, PROGRESS = true) AS OF 7'
"""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from tidal.catalog.sqlstate import INVALID_PARAMETER_VALUE
from tidal.sql.errors import SqlError, unsupported

SUBSCRIBE = "SUBSCRIBE"
OPTIONS = {"SNAPSHOT": True, "PROGRESS": False}  # each option and its default


class Subscribe(exp.Expression):
    """``SUBSCRIBE``: relation ``this`` (a table name); ``snapshot`` and ``progress`` are
    Boolean nodes, ``as_of`` a number literal or absent."""

    arg_types: ClassVar[dict[str, bool]] = {
        "this": True,
        "snapshot": False,
        "progress": False,
        "as_of": False,
    }

    @property
    def name(self) -> str:
        return self.this.name

    @property
    def snapshot(self) -> bool:
        return _flag(self, "snapshot")

    @property
    def progress(self) -> bool:
        return _flag(self, "progress")

    @property
    def as_of(self) -> int | None:
        tick = self.args.get("as_of")
        return None if tick is None else int(tick.this)


def _flag(node: Subscribe, key: str) -> bool:
    value = node.args.get(key)
    return OPTIONS[key.upper()] if value is None else bool(value.this)


def parse_subscribe(parser) -> Subscribe:
    """The rest of a SUBSCRIBE statement, after the word SUBSCRIBE."""
    curr = parser._curr
    if curr and curr.text.upper() == "TO" and parser._next and not _ends_name(parser._next):
        parser._advance()
    if parser._curr and parser._curr.token_type == TokenType.L_PAREN:
        raise unsupported(
            "SUBSCRIBE to a query: subscribe to a materialized view: CREATE MATERIALIZED VIEW "
            "v AS <query>, then SUBSCRIBE v"
        )
    table = parser._parse_table_parts() if parser._curr else None
    if table is None:
        parser.raise_error("expected the name of a materialized view or table")
    node = Subscribe(this=table)
    while parser._curr:
        if parser._match(TokenType.WITH):
            if node.args.get("snapshot") is not None:
                parser.raise_error("WITH (...) appears twice", parser._prev)
            _parse_options(parser, node)
        elif parser._match_text_seq("AS", "OF"):
            if node.args.get("as_of") is not None:
                parser.raise_error("AS OF appears twice", parser._prev)
            node.set("as_of", _parse_tick(parser))
        else:
            break
    return node


def _ends_name(token: Token) -> bool:
    """Whether ``token`` can follow the relation's name (so ``SUBSCRIBE to`` names "to")."""
    return token.token_type in (TokenType.WITH, TokenType.ALIAS, TokenType.SEMICOLON)


def _parse_options(parser, node: Subscribe) -> None:
    if not parser._match(TokenType.L_PAREN):
        parser.raise_error("expected '(' after WITH")
    values: dict[str, bool] = {}
    while True:
        token = parser._curr
        if token is None or token.token_type == TokenType.R_PAREN:
            parser.raise_error("expected an option: SNAPSHOT or PROGRESS")
        option = token.text.upper()
        if option not in OPTIONS or token.token_type == TokenType.STRING:
            raise _option_error(token, f"unknown SUBSCRIBE option {token.text!r}")
        if option in values:
            raise _option_error(token, f"SUBSCRIBE option {option} is given twice")
        parser._advance()
        values[option] = _parse_value(parser, option)
        if parser._match(TokenType.R_PAREN):
            break
        if not parser._match(TokenType.COMMA):
            parser.raise_error("expected ',' or ')' in the SUBSCRIBE options")
    for option, default in OPTIONS.items():
        node.set(option.lower(), exp.Boolean(this=values.get(option, default)))


def _parse_value(parser, option: str) -> bool:
    if not parser._match(TokenType.EQ):
        return True  # WITH (PROGRESS) means PROGRESS = true
    token = parser._curr
    text = token.text.lower() if token else ""
    if token is None or text not in ("true", "false"):
        raise _option_error(token or parser._prev, f"SUBSCRIBE option {option} takes true or false")
    parser._advance()
    return text == "true"


def _parse_tick(parser) -> exp.Literal:
    token = parser._curr
    if token is None or token.token_type != TokenType.NUMBER or not token.text.isdigit():
        parser.raise_error("AS OF takes a tick number (a non-negative integer)")
    parser._advance()
    return exp.Literal.number(int(token.text))


def _option_error(token: Token, message: str) -> SqlError:
    allowed = ", ".join(f"{o} [= true|false]" for o in OPTIONS)
    column = max(1, token.col - len(token.text) + 1)
    return SqlError(
        f"{message}: the options are {allowed}",
        sqlstate=INVALID_PARAMETER_VALUE,
        line=token.line,
        column=column,
    )


def subscribe_sql(generator, node: Subscribe) -> str:
    sql = f"{SUBSCRIBE} {generator.sql(node, 'this')}"
    sql += f" WITH (SNAPSHOT = {str(node.snapshot).lower()}, "
    sql += f"PROGRESS = {str(node.progress).lower()})"
    return sql if node.as_of is None else f"{sql} AS OF {node.as_of}"
