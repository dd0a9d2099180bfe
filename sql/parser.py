"""Splitting a script into statements and parsing one statement, with error positions.

Statements are split on the tokenizer's semicolons, so a ``;`` inside a string or a comment
does not end a statement.

>>> [s.text for s in split_statements("SELECT ';' AS x; SELECT 2")]
["SELECT ';' AS x", 'SELECT 2']
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from tidal.catalog.sqlstate import STATEMENT_TOO_COMPLEX
from tidal.sql.cursor_statements import CopyToStdout, DeclareCursor
from tidal.sql.dialect import EmitOnWindowClose, Explain, Tidal
from tidal.sql.errors import SqlError
from tidal.sql.limits import check_text, check_tokens, check_tree
from tidal.sql.statement_shapes import check_complete

DIALECT = Tidal

# sqlglot logs a warning for statements it keeps as raw commands; tidal reports those itself.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Statement:
    """One statement's text and where it starts in the script (1-based line, 0-based offset)."""

    text: str
    line: int
    offset: int


def split_statements(script: str) -> list[Statement]:
    try:
        tokens = Tidal().tokenize(script)
    except TokenError:
        raise _unreadable(script) from None
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
    """Parse one statement; a syntax error names the line and column in ``text``. A statement
    past a limit of tidal.sql.limits is refused before it is parsed."""
    original = text
    check_text(text)
    try:
        tokens = Tidal().tokenize(text)
    except TokenError:
        raise _unreadable(text) from None
    check_tokens(text, tokens)
    _check_list_items(text, tokens)
    text, emit_on_window_close = _without_emit_clause(text, tokens)
    try:
        expressions = sqlglot.parse(text, read=DIALECT)
    except ParseError as error:
        raise _syntax_error(error, text) from None
    except TokenError:
        raise _unreadable(text) from None
    except RecursionError:  # the checks above are meant to keep this from happening
        raise SqlError(
            "statement too complex: nested too deeply to parse; split it into views or "
            "simpler expressions",
            sqlstate=STATEMENT_TOO_COMPLEX,
        ) from None
    expressions = [e for e in expressions if e is not None]
    if len(expressions) != 1:
        raise SqlError(f"expected one statement, got {len(expressions)}")
    statement = expressions[0]
    check_tree(statement)
    check_complete(statement)
    if emit_on_window_close:
        statement = _with_emit_clause(statement)
    statement.meta["sql"] = original  # DDL is kept as written (tidal.engine.durability)
    return statement


_EMIT_CLAUSE = ("EMIT", "ON", "WINDOW", "CLOSE")


def _without_emit_clause(text: str, tokens: list[Token]) -> tuple[str, bool]:
    """``text`` with ``EMIT ON WINDOW CLOSE`` blanked out (so positions stay), and whether it
    was there."""
    words = [t.text.upper() for t in tokens]
    for i in range(len(tokens) - len(_EMIT_CLAUSE) + 1):
        if tuple(words[i : i + len(_EMIT_CLAUSE)]) == _EMIT_CLAUSE:
            start, end = tokens[i].start, tokens[i + len(_EMIT_CLAUSE) - 1].end + 1
            return text[:start] + " " * (end - start) + text[end:], True
    return text, False


def _with_emit_clause(statement: exp.Expression) -> exp.Expression:
    if isinstance(statement, (Explain, CopyToStdout, DeclareCursor)):  # around a query
        key = "expression" if isinstance(statement, DeclareCursor) else "this"
        statement.set(key, _with_emit_clause(statement.args[key]))
        return statement
    if isinstance(statement, exp.Create) and isinstance(statement.expression, exp.Query):
        statement.set("expression", EmitOnWindowClose(this=statement.expression))
        return statement
    if isinstance(statement, exp.Query):
        return EmitOnWindowClose(this=statement)
    raise SqlError("EMIT ON WINDOW CLOSE belongs at the end of a view's query")


# A list item that is missing: ``f(a, , b)``, ``f(a,)``, ``(, a)``. sqlglot drops the empty
# item without a word (``HOP(clicks, , ...)`` then failed deep in the binder).
_EMPTY_ITEM = {
    (TokenType.COMMA, TokenType.COMMA),
    (TokenType.COMMA, TokenType.R_PAREN),
    (TokenType.COMMA, TokenType.R_BRACKET),
    (TokenType.L_PAREN, TokenType.COMMA),
    (TokenType.L_BRACKET, TokenType.COMMA),
}


def _check_list_items(text: str, tokens: list[Token]) -> None:
    for before, after in itertools.pairwise(tokens):
        if (before.token_type, after.token_type) in _EMPTY_ITEM:
            line = _line_of(text, after.start)
            column = after.start - (text.rfind("\n", 0, after.start) + 1) + 1
            raise SqlError(
                f"syntax error at or near {after.text!r}: a list item or argument is missing",
                line=line,
                column=column,
            )


def _syntax_error(error: ParseError, text: str) -> SqlError:
    """PostgreSQL's wording (``syntax error at or near 'x'``) with sqlglot's hint made readable;
    the column is where the token shown starts (sqlglot reports where it ends)."""
    detail = error.errors[0] if error.errors else {}
    near = detail.get("highlight") or ""
    line, column = detail.get("line"), detail.get("col")
    hint, missing = _hint(detail.get("description", ""))
    if missing and near and text.rstrip().endswith(near):
        where = f"at end of input (after {near!r})"
    else:
        where = f"at or near {near!r}" if near else "at end of input"
    if column is not None and near and "\n" not in near:
        column = max(1, column - len(near) + 1)
    return SqlError(f"syntax error {where}{': ' + hint if hint else ''}", line=line, column=column)


def _hint(description: str) -> tuple[str, bool]:
    """A readable version of sqlglot's description, and whether it says something is missing."""
    if description.startswith("Expecting "):
        return f"expected {description[len('Expecting ') :]!r}", True
    if description.startswith("Required keyword"):
        return "the clause or expression is incomplete", True
    if description.startswith("Expected ") and " but got " in description:
        return description[: description.index(" but got ")].lower(), False
    if description.startswith("Invalid expression / Unexpected token"):
        return "", False
    return description, False


def _unreadable(text: str) -> SqlError:
    """The tokenizer gave up: say where the quote or comment that never ends starts."""
    start = _unterminated(text)
    if start is None:
        return SqlError("syntax error: the text cannot be read as SQL", line=1, column=1)
    line = _line_of(text, start)
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    what = {"'": "quoted string", '"': "quoted name", "/": "comment"}[text[start]]
    return SqlError(f"syntax error: unterminated {what}: close it", line=line, column=column)


def _unterminated(text: str) -> int | None:
    """Where an unclosed ``'...'``, ``"..."`` or ``/* ... */`` starts in ``text``, if any."""
    i = 0
    while i < len(text):
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end + 1
            continue
        closer = {"'": "'", '"': '"'}.get(text[i]) or ("*/" if text.startswith("/*", i) else None)
        if closer is None:
            i += 1
            continue
        end = text.find(closer, i + (2 if closer == "*/" else 1))
        if end < 0:
            return i
        i = end + len(closer)
    return None
