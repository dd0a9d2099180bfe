"""Splitting a script into statements and parsing one statement, with error positions.

Statements are split on the tokenizer's semicolons, so a ``;`` inside a string or a comment
does not end a statement.

>>> [s.text for s in split_statements("SELECT ';' AS x; SELECT 2")]
["SELECT ';' AS x", 'SELECT 2']
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from tidal.sql.dialect import Tidal
from tidal.sql.errors import SqlError

DIALECT = Tidal


@dataclass(frozen=True)
class Statement:
    """One statement's text and where it starts in the script (1-based line, 0-based offset)."""
    text: str
    line: int
    offset: int


def split_statements(script: str) -> list[Statement]:
    try:
        tokens = Tidal().tokenize(script)
    except TokenError as error:
        raise SqlError(f"syntax error: {error}", line=_line_of(script, len(script)), column=1) from None
    statements: list[Statement] = []
    start = None
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if start is not None:
                statements.append(_statement(script, start, token.start))
            start = None
        elif start is None:
            start = token.start
    if start is not None:
        statements.append(_statement(script, start, len(script)))
    return [s for s in statements if s.text]


def _statement(script: str, start: int, end: int) -> Statement:
    text = script[start:end].strip()
    lead = len(script[start:end]) - len(script[start:end].lstrip())
    return Statement(text, _line_of(script, start + lead), start + lead)


def _line_of(script: str, offset: int) -> int:
    return script.count("\n", 0, offset) + 1


def parse_statement(text: str) -> exp.Expression:
    """Parse one statement; a syntax error names the line and column in ``text``."""
    try:
        expressions = sqlglot.parse(text, read=DIALECT)
    except ParseError as error:
        detail = error.errors[0] if error.errors else {}
        description = detail.get("description", str(error))
        near = detail.get("highlight")
        message = f"syntax error: {description}" + (f" near {near!r}" if near else "")
        raise SqlError(message, line=detail.get("line"), column=detail.get("col")) from None
    except TokenError as error:
        raise SqlError(f"syntax error: {error}", line=1, column=1) from None
    expressions = [e for e in expressions if e is not None]
    if len(expressions) != 1:
        raise SqlError(f"expected one statement, got {len(expressions)}")
    return expressions[0]
