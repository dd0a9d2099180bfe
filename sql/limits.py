"""Limits on one statement's size and shape, checked on its tokens before it is parsed.

sqlglot's parser and tidal's binder, compiler and lowering all recurse over a statement, so a
statement nested deeply enough ends in ``RecursionError`` (45 nested parentheses did). Each
limit here is checked before anything recurses or grows with the statement, and fails with a
SQLSTATE of class 54 (program limit exceeded; 22021 for text that is no valid Unicode) and a
message saying the limit and what to do (docs/security-sql.md lists them):

    >>> from tidal.sql.dialect import Tidal
    >>> text = "SELECT " + "(" * 500 + "1" + ")" * 500
    >>> check_tokens(text, Tidal().tokenize(text))
    Traceback (most recent call last):
    ...
    tidal.sql.errors.SqlError: statement too complex: it nests 500 levels deep (parentheses, brackets, CASE, unary operators), past the limit of 128; split it into views or simpler expressions
    >>> text = "SELECT " + "(" * 100 + "1" + ")" * 100
    >>> check_tokens(text, Tidal().tokenize(text))

The depth counted is that of brackets, ``CASE ... END`` and chains of unary operators (``NOT
NOT x``, ``- - 1``), which is what makes sqlglot recurse (about 25 Python frames a level).
Binary chains (``a AND b AND ...``, ``UNION ALL``) are parsed in loops but make trees as deep as
they are long, which the binder then recurses over: ``check_tree`` bounds that depth after
parsing, without recursing itself. The recursion limit is raised once, to
``RECURSION_LIMIT``, so that every statement within these limits binds and compiles (the binder
takes about 7 frames per level of an ``AND`` chain; measured, a 4,000-deep chain in a thread
with an 8 MiB stack did not exhaust it).
"""

from __future__ import annotations

import sys

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from tidal.catalog.sqlstate import (
    CHARACTER_NOT_IN_REPERTOIRE,
    PROGRAM_LIMIT_EXCEEDED,
    STATEMENT_TOO_COMPLEX,
)
from tidal.sql.errors import SqlError

# The pgwire message cap (a Query message's text) and the longest statement tidal parses.
MAX_STATEMENT_LENGTH = 1 << 20
# Levels of brackets, CASE and unary operators one statement may nest.
MAX_NESTING_DEPTH = 128
# Depth of a parsed statement's tree (binary chains included); DuckDB's own
# max_expression_depth is the same.
MAX_EXPRESSION_DEPTH = 1000
# Rows of one VALUES list: each is bound and lowered cell by cell (10,000 rows take seconds).
MAX_VALUES_ROWS = 10_000
# Characters of one numeric literal (PostgreSQL's numeric holds up to 131,072 digits; tidal's
# widest exact type, DECIMAL(38), holds 38).
MAX_NUMBER_LENGTH = 1000
# Characters of a value repeat(), lpad() or rpad() may build.
MAX_STRING_LENGTH = 1 << 26
# Levels of nested types (lists of lists, STRUCTs, MAPs) of a result column: Arrow's C data
# interface gives up past 64 (a 63-deep ARRAY[...] failed in DuckDB's hand-over).
MAX_TYPE_DEPTH = 32
RECURSION_LIMIT = 20_000

if sys.getrecursionlimit() < RECURSION_LIMIT:
    sys.setrecursionlimit(RECURSION_LIMIT)

_OPENERS = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE})
_CLOSERS = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.END})
_UNARY = frozenset({TokenType.NOT, TokenType.DASH, TokenType.PLUS, TokenType.TILDE})
# Tokens after which ``-`` or ``+`` is binary (an operand ended there).
_OPERAND_ENDS = frozenset(
    {
        TokenType.NUMBER,
        TokenType.STRING,
        TokenType.VAR,
        TokenType.IDENTIFIER,
        TokenType.PARAMETER,
        TokenType.PLACEHOLDER,
        TokenType.NULL,
        TokenType.TRUE,
        TokenType.FALSE,
        TokenType.STAR,
        *_CLOSERS,
    }
)


def check_text(text: str) -> None:
    """Refuse a statement longer than ``MAX_STATEMENT_LENGTH`` or that is not valid Unicode
    text (a lone surrogate, which no client can be sent back: a table named with one broke
    every later ``SHOW TABLES``)."""
    if len(text) > MAX_STATEMENT_LENGTH:
        raise SqlError(
            f"statement too long: {len(text):,} characters, past the limit of "
            f"{MAX_STATEMENT_LENGTH:,}; load data with COPY ... FROM STDIN or from a file",
            sqlstate=PROGRAM_LIMIT_EXCEEDED,
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        line = text.count("\n", 0, error.start) + 1
        column = error.start - (text.rfind("\n", 0, error.start) + 1) + 1
        raise SqlError(
            f"invalid character U+{ord(text[error.start]):04X} (a lone surrogate): statements "
            "must be valid UTF-8 text",
            sqlstate=CHARACTER_NOT_IN_REPERTOIRE,
            line=line,
            column=column,
        ) from None


def check_tokens(text: str, tokens: list[Token]) -> None:
    """Refuse a statement nested past ``MAX_NESTING_DEPTH``, a VALUES list past
    ``MAX_VALUES_ROWS`` rows, or a numeric literal past ``MAX_NUMBER_LENGTH`` characters."""
    check_text(text)
    depth = _nesting_depth(tokens)
    if depth > MAX_NESTING_DEPTH:
        raise _too_complex(
            f"it nests {depth:,} levels deep (parentheses, brackets, CASE, unary operators)",
            MAX_NESTING_DEPTH,
            "split it into views or simpler expressions",
        )
    for token in tokens:
        if token.token_type == TokenType.NUMBER and len(token.text) > MAX_NUMBER_LENGTH:
            raise SqlError(
                f"numeric literal too long: {len(token.text):,} characters, past the limit of "
                f"{MAX_NUMBER_LENGTH:,}",
                sqlstate=PROGRAM_LIMIT_EXCEEDED,
            )
    rows = _most_values_rows(tokens)
    if rows > MAX_VALUES_ROWS:
        raise SqlError(
            f"VALUES list too long: {rows:,} rows, past the limit of {MAX_VALUES_ROWS:,}; load "
            "more rows with COPY ... FROM STDIN (or several INSERTs)",
            sqlstate=PROGRAM_LIMIT_EXCEEDED,
        )


def check_tree(statement: exp.Expression) -> None:
    """Refuse a parsed statement whose tree is deeper than ``MAX_EXPRESSION_DEPTH`` (walked
    with a stack of its own, not by recursion)."""
    stack = [(statement, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_EXPRESSION_DEPTH:
            raise _too_complex(
                f"its expressions are more than {MAX_EXPRESSION_DEPTH:,} levels deep (long "
                "chains of AND, OR, +, || or UNION count one level per operator)",
                MAX_EXPRESSION_DEPTH,
                "use IN (...) for long OR lists, or split the statement into views",
            )
        stack.extend((child, depth + 1) for child in node.iter_expressions())


def _too_complex(what: str, limit: int, advice: str) -> SqlError:
    return SqlError(
        f"statement too complex: {what}, past the limit of {limit:,}; {advice}",
        sqlstate=STATEMENT_TOO_COMPLEX,
    )


def _nesting_depth(tokens: list[Token]) -> int:
    """The deepest the parser will recurse, in levels: open brackets and CASEs, plus unary
    operators waiting for their operand at each level.

    >>> from tidal.sql.dialect import Tidal
    >>> _nesting_depth(Tidal().tokenize("SELECT -(- - 1), NOT NOT (a IS NOT NULL), f(g(x))"))
    4
    """
    pending = [0]  # unary operators waiting for an operand, per open level
    previous = None
    deepest = 0
    total = 0  # open levels plus every pending unary operator
    for token in tokens:
        kind = token.token_type
        if kind in _OPENERS:
            pending.append(0)
            total += 1
        elif kind in _CLOSERS and len(pending) > 1:
            total -= 1 + pending.pop()
            total -= pending[-1]
            pending[-1] = 0
        elif kind in _UNARY and (kind == TokenType.NOT or previous not in _OPERAND_ENDS):
            pending[-1] += 1
            total += 1
        else:
            total -= pending[-1]
            pending[-1] = 0
        deepest = max(deepest, total)
        previous = kind
    return deepest


def _most_values_rows(tokens: list[Token]) -> int:
    """The most rows of any one VALUES list: the parenthesized rows that follow a VALUES at its
    own level, separated by commas.

    >>> from tidal.sql.dialect import Tidal
    >>> _most_values_rows(Tidal().tokenize("INSERT INTO t VALUES (1, (2)), (3, 4), (5, 6)"))
    3
    """
    most = 0
    depth = 0
    counting: list[tuple[int, int]] = []  # (depth of a VALUES, rows so far), innermost last
    for token in tokens:
        kind = token.token_type
        if kind == TokenType.VALUES:
            counting.append((depth, 0))
        elif kind == TokenType.L_PAREN:
            if counting and counting[-1][0] == depth:
                counting[-1] = (depth, counting[-1][1] + 1)
                most = max(most, counting[-1][1])
            depth += 1
        elif kind == TokenType.R_PAREN:
            depth -= 1
            while counting and counting[-1][0] > depth:
                counting.pop()  # the VALUES was inside the parentheses that close here
        elif counting and counting[-1][0] == depth and kind != TokenType.COMMA:
            counting.pop()  # the VALUES list ended
    return most


def check_type_depth(column: str, type_name: str) -> None:
    """Refuse a result column whose type nests deeper than ``MAX_TYPE_DEPTH``."""
    depth = type_depth(type_name)
    if depth > MAX_TYPE_DEPTH:
        raise _too_complex(
            f"column {column!r} has a type nested {depth} levels deep",
            MAX_TYPE_DEPTH,
            "flatten the nested lists or structs",
        )


def type_depth(type_name: str) -> int:
    """How deeply a SQL type nests: each ``[]``, STRUCT(...) and MAP(...) is a level.

    >>> type_depth("INTEGER"), type_depth("INTEGER[][]"), type_depth("STRUCT(a INTEGER[], b DECIMAL(5,2))[]")
    (0, 2, 3)
    """
    widest = [0]  # the deepest element so far at each open parenthesis
    current = 0  # depth of the element being read
    i = 0
    while i < len(type_name):
        char = type_name[i]
        if char == "(":
            widest.append(0)
            current = 0
        elif char == ")" and len(widest) > 1:
            current = max(widest.pop(), current) + 1
        elif char == "," and widest:
            widest[-1] = max(widest[-1], current)
            current = 0
        elif type_name.startswith("[]", i):
            current += 1
            i += 1
        i += 1
    return max(widest[0], current)
