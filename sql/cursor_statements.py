"""Cursors and COPY TO STDOUT: statements that hand out a query's rows (or a subscription's
changes) in pieces, or as one stream, as PostgreSQL (and Materialize, for SUBSCRIBE) write them.

    DECLARE name [BINARY] [ASENSITIVE | INSENSITIVE] [[NO] SCROLL] CURSOR
        [{WITH | WITHOUT} HOLD] FOR {query | SUBSCRIBE ...}
    {FETCH | MOVE} [NEXT | FORWARD [n | ALL] | n | ALL] [FROM | IN] name
        [WITH (timeout = '1s')]
    CLOSE {name | ALL}
    COPY {(query) | (SUBSCRIBE ...) | table} TO STDOUT
        [[WITH] (FORMAT {text | csv | binary}, HEADER [bool], DELIMITER 'c', NULL 's')
         | [WITH] {CSV | BINARY | HEADER} ...]
    COPY table [(column, ...)] FROM {'file' | STDIN} [[WITH] (FORMAT {text | csv}, ...) | ...]

Anything else in them is a syntax error (42601), or "not supported" (0A000) where PostgreSQL
would accept it (FETCH BACKWARD, COPY TO a file, COPY FROM in binary, other COPY options).

>>> from tidal.sql.parser import parse_statement
>>> fetch = parse_statement("FETCH 100 c WITH (timeout = '1s')")
>>> fetch.cursor, fetch.count, fetch.timeout, fetch.move
('c', 100, 1.0, False)
>>> parse_statement("DECLARE c BINARY CURSOR WITH HOLD FOR SUBSCRIBE v").sql(dialect="tidal")
'DECLARE c BINARY CURSOR WITH HOLD FOR SUBSCRIBE v WITH (SNAPSHOT = true, PROGRESS = false)'
"""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp
from sqlglot.tokens import TokenType

from tidal.catalog.sqlstate import INVALID_PARAMETER_VALUE, SYNTAX_ERROR
from tidal.sql.errors import SqlError, unsupported
from tidal.sql.intervals import duration_seconds
from tidal.sql.session_statements import (
    DialectTables,
    SessionStatement,
    expect,
    expect_token,
    folded,
    identifier,
    option_error,
    syntax_error,
)

COPY_FORMATS = ("text", "csv", "binary")

# --- cursors ------------------------------------------------------------------------------------


class DeclareCursor(SessionStatement):
    """``DECLARE``: cursor ``this`` over statement ``expression``."""

    arg_types: ClassVar = {"this": True, "expression": True, "binary": False, "hold": False}
    arg_types |= {"sensitivity": False, "scroll": False}

    @property
    def cursor(self) -> str:
        return folded(self.this)

    @property
    def binary(self) -> bool:
        return bool(self.args.get("binary"))

    @property
    def hold(self) -> bool:
        return bool(self.args.get("hold"))


class FetchCursor(SessionStatement):
    """``FETCH`` (or ``MOVE``, which counts rows without returning them): ``count`` rows (None:
    ALL) of cursor ``this``, waiting up to ``timeout`` seconds (None: until a row comes)."""

    arg_types: ClassVar = {"this": True, "count": False, "timeout": False, "move": False}

    @property
    def cursor(self) -> str:
        return folded(self.this)

    @property
    def count(self) -> int | None:
        count = self.args.get("count")
        return None if count is None else int(count.this)

    @property
    def timeout(self) -> float | None:
        timeout = self.args.get("timeout")
        return None if timeout is None else duration_seconds(timeout.this, "FETCH timeout")

    @property
    def move(self) -> bool:
        return bool(self.args.get("move"))


class CloseCursor(SessionStatement):
    """``CLOSE name``, or ``CLOSE ALL`` (no ``this``)."""

    arg_types: ClassVar = {"this": False}

    @property
    def cursor(self) -> str | None:
        return folded(self.this)


def _parse_declare(parser) -> DeclareCursor:
    name = identifier(parser, "a cursor name")
    binary = parser._match(TokenType.BINARY)
    sensitivity = parser._match_texts(("ASENSITIVE", "INSENSITIVE")) and parser._prev.text.upper()
    scroll = None
    if parser._match_text_seq("NO", "SCROLL"):
        scroll = False
    elif parser._match_text_seq("SCROLL"):
        scroll = True  # accepted as PostgreSQL does; FETCH still only goes forward
    expect(parser, "CURSOR")
    hold = None
    if parser._match_texts(("WITH", "WITHOUT")):
        hold = parser._prev.text.upper() == "WITH"
        expect(parser, "HOLD")
    if not parser._match(TokenType.FOR):
        raise syntax_error(parser, "expected FOR <query> after CURSOR")
    node = DeclareCursor(this=name, expression=parser._parse_statement())
    node.set("binary", binary or None)
    node.set("hold", hold)
    node.set("sensitivity", exp.var(sensitivity) if sensitivity else None)
    node.set("scroll", scroll)
    return node


_BACKWARD = ("BACKWARD", "PRIOR", "FIRST", "LAST", "ABSOLUTE", "RELATIVE")


def _parse_fetch(parser) -> FetchCursor:
    move = parser._prev.text.upper() == "MOVE"
    count: int | None = 1
    if _direction_follows(parser):
        if parser._match_texts(_BACKWARD):
            word = parser._prev.text.upper()
            raise unsupported(f"FETCH {word}: cursors only go forward (NEXT, FORWARD n, n, ALL)")
        if parser._match_text_seq("FORWARD"):
            count = _fetch_count(parser) if _direction_follows(parser) else 1
        elif not parser._match(TokenType.NEXT):
            count = _fetch_count(parser)
    parser._match_set((TokenType.FROM, TokenType.IN))
    node = FetchCursor(this=identifier(parser, "a cursor name"), move=move or None)
    node.set("count", None if count is None else exp.Literal.number(count))
    if parser._match(TokenType.WITH):
        node.set("timeout", _fetch_timeout(parser))
    return node


def _direction_follows(parser) -> bool:
    """Whether a direction (a word or a count) comes before the cursor's name: ``FETCH next``
    fetches from a cursor called next."""
    here, after = parser._curr, parser._next
    if not here or here.token_type in (TokenType.FROM, TokenType.IN):
        return False
    return bool(after) and after.token_type not in (TokenType.WITH, TokenType.SEMICOLON)


def _fetch_count(parser) -> int | None:
    if parser._match(TokenType.ALL):
        return None
    token = parser._curr
    if not token or token.token_type != TokenType.NUMBER or not token.text.isdigit():
        raise syntax_error(parser, "expected NEXT, FORWARD, ALL or a row count")
    parser._advance()
    return int(token.text)


def _fetch_timeout(parser) -> exp.Literal:
    expect_token(parser, TokenType.L_PAREN, "(")
    option = parser._curr
    if not option or option.text.lower() != "timeout":
        raise option_error(option or parser._prev, "FETCH's only option is timeout = '<interval>'")
    parser._advance()
    expect_token(parser, TokenType.EQ, "=")
    value = parser._curr
    if not value or value.token_type not in (TokenType.STRING, TokenType.NUMBER):
        raise syntax_error(parser, "FETCH's timeout is a duration, e.g. '1s' or '500ms'")
    parser._advance()
    expect_token(parser, TokenType.R_PAREN, ")")
    duration_seconds(value.text, "FETCH timeout")  # refused now, not when the FETCH runs
    return exp.Literal.string(value.text)


def _parse_close(parser) -> CloseCursor:
    if parser._match(TokenType.ALL):
        return CloseCursor()
    return CloseCursor(this=identifier(parser, "a cursor name or ALL"))


# --- COPY ---------------------------------------------------------------------------------------


class CopyToStdout(SessionStatement):
    """``COPY (statement) TO STDOUT`` (or a relation ``this``), in ``format`` (text by
    default), with a ``header`` line (csv), a ``delimiter`` and a ``null`` text."""

    arg_types: ClassVar = {"this": True, "format": False, "header": False, "delimiter": False}
    arg_types |= {"null": False}

    @property
    def query(self) -> exp.Expression:
        """The statement whose rows are copied (a relation's: ``SELECT *`` of it)."""
        if isinstance(self.this, exp.Table):
            return exp.select("*").from_(self.this.copy())
        return self.this

    def option(self, key: str) -> str | None:
        value = self.args.get(key)
        return None if value is None else value.name


class CopyFrom(CopyToStdout):
    """``COPY table [(columns)] FROM 'file' | STDIN``: rows into table ``this`` (its
    ``columns`` listed, else all), read from ``file`` (a string; none: the client sends
    them), in ``format`` text or csv, as CopyToStdout's options say."""

    arg_types: ClassVar = {**CopyToStdout.arg_types, "columns": False, "file": False}

    @property
    def column_names(self) -> list[str] | None:
        return [folded(c) for c in self.args["columns"]] if self.args.get("columns") else None


_COPY_OPTIONS = ("format", "header", "delimiter", "null")


def _parse_copy(parser) -> CopyToStdout:
    if parser._match(TokenType.L_PAREN):
        this = parser._parse_statement()
        expect_token(parser, TokenType.R_PAREN, ")")
    elif parser._next and parser._next.token_type == TokenType.L_PAREN:  # table (columns)
        this = exp.Table(this=identifier(parser, "a table name"))
    else:
        this = parser._parse_table_parts()
    if isinstance(this, exp.Table) and parser._match(TokenType.L_PAREN):
        columns = [identifier(parser, "a column name")]
        while parser._match(TokenType.COMMA):
            columns.append(identifier(parser, "a column name"))
        expect_token(parser, TokenType.R_PAREN, ")")
        if not parser._match(TokenType.FROM):
            raise unsupported("COPY table (columns) TO STDOUT: write COPY (SELECT ...) TO STDOUT")
        return _parse_copy_from(parser, CopyFrom(this=this, columns=columns))
    if parser._match(TokenType.FROM):
        if not isinstance(this, exp.Table):
            raise syntax_error(parser, "COPY (query) FROM: COPY FROM takes a table")
        return _parse_copy_from(parser, CopyFrom(this=this))
    expect(parser, "TO")
    if not parser._match_text_seq("STDOUT"):
        raise unsupported("COPY ... TO a file is not supported: use COPY ... TO STDOUT")
    parser._match(TokenType.WITH)
    if parser._match(TokenType.L_PAREN):
        options = _copy_options(parser)
    else:
        options = _copy_words(parser)
    node = CopyToStdout(this=this)
    for key, value in options.items():
        node.set(key, exp.Literal.string(value))
    return _checked_copy(node)


def _parse_copy_from(parser, node: CopyFrom) -> CopyFrom:
    if parser._curr and parser._curr.token_type == TokenType.STRING:
        node.set("file", exp.Literal.string(parser._curr.text))
        parser._advance()
    elif not parser._match_text_seq("STDIN"):
        raise syntax_error(parser, "expected a file name or STDIN after COPY ... FROM")
    parser._match(TokenType.WITH)
    options = _copy_options(parser) if parser._match(TokenType.L_PAREN) else _copy_words(parser)
    for key, value in options.items():
        node.set(key, exp.Literal.string(value))
    if (node.option("format") or "text") == "binary":
        raise unsupported("COPY ... FROM in binary format: use FORMAT text or csv")
    return _checked_copy(node)


def _copy_options(parser) -> dict[str, str]:
    """``(name [value], ...)``: a value is a string, word or number; none means true."""
    options: dict[str, str] = {}
    while True:
        name = parser._curr
        if not name or name.token_type in (TokenType.STRING, TokenType.R_PAREN):
            raise syntax_error(parser, "expected a COPY option (FORMAT, HEADER, DELIMITER, NULL)")
        if name.text.lower() not in _COPY_OPTIONS:
            raise unsupported(f"COPY option {name.text.lower()} is not supported")
        parser._advance()
        value = parser._curr
        if value and value.token_type not in (TokenType.COMMA, TokenType.R_PAREN):
            parser._advance()
            text = value.text if value.token_type == TokenType.STRING else value.text.lower()
        else:
            text = "true"
        options[name.text.lower()] = text
        if parser._match(TokenType.R_PAREN):
            return options
        expect_token(parser, TokenType.COMMA, ", or )")


def _copy_words(parser) -> dict[str, str]:
    """PostgreSQL's old spelling: ``CSV``, ``BINARY``, ``HEADER`` in any order."""
    options: dict[str, str] = {}
    while parser._curr and parser._curr.token_type != TokenType.SEMICOLON:
        word = parser._curr.text.upper()
        if word not in ("CSV", "BINARY", "HEADER"):
            raise SqlError(f"COPY option {word} is not supported", sqlstate=SYNTAX_ERROR)
        parser._advance()
        options["header" if word == "HEADER" else "format"] = word.lower()
    if options.get("header"):
        options["header"] = "true"
    return options


def _checked_copy(node: CopyToStdout) -> CopyToStdout:
    kind = node.option("format") or "text"
    if kind not in COPY_FORMATS:
        raise SqlError(f'COPY format "{kind}" not recognized', sqlstate=INVALID_PARAMETER_VALUE)
    delimiter = node.option("delimiter")
    if delimiter is not None and len(delimiter) != 1:
        raise SqlError(
            "COPY delimiter must be a single one-byte character", sqlstate=INVALID_PARAMETER_VALUE
        )
    return node


# --- registered in the dialect (tidal.sql.dialect) ----------------------------------------------

_KEYWORDS = {"DECLARE": TokenType.DECLARE}  # PostgreSQL's tokenizer makes it a command
_STATEMENT_PARSERS = {
    TokenType.DECLARE: _parse_declare,
    TokenType.FETCH: _parse_fetch,
    TokenType.COPY: _parse_copy,
}
_WORD_STATEMENTS = {"MOVE": _parse_fetch, "CLOSE": _parse_close}


def _declare_sql(generator, node: DeclareCursor) -> str:
    words = [f"DECLARE {generator.sql(node, 'this')}"]
    words += ["BINARY"] if node.binary else []
    words += [node.text("sensitivity")] if node.args.get("sensitivity") else []
    scroll = node.args.get("scroll")
    words += [] if scroll is None else ["SCROLL" if scroll else "NO SCROLL"]
    words.append("CURSOR")
    hold = node.args.get("hold")
    words += [] if hold is None else ["WITH HOLD" if hold else "WITHOUT HOLD"]
    return " ".join([*words, "FOR", generator.sql(node, "expression")])


def _fetch_sql(generator, node: FetchCursor) -> str:
    count = "ALL" if node.count is None else str(node.count)
    sql = f"{'MOVE' if node.move else 'FETCH'} {count} FROM {generator.sql(node, 'this')}"
    timeout = node.args.get("timeout")
    return f"{sql} WITH (timeout = {generator.sql(timeout)})" if timeout else sql


def _copy_sql(generator, node: CopyToStdout) -> str:
    this = generator.sql(node, "this")
    source = this if isinstance(node.this, exp.Table) else f"({this})"
    options = [
        f"{key.upper()} {generator.sql(node, key)}" for key in _COPY_OPTIONS if node.args.get(key)
    ]
    return f"COPY {source} TO STDOUT" + (f" WITH ({', '.join(options)})" if options else "")


def _copy_from_sql(generator, node: CopyFrom) -> str:
    columns = node.args.get("columns")
    listed = f" ({', '.join(generator.sql(c) for c in columns)})" if columns else ""
    source = generator.sql(node, "file") or "STDIN"
    options = [
        f"{key.upper()} {generator.sql(node, key)}" for key in _COPY_OPTIONS if node.args.get(key)
    ]
    with_options = f" WITH ({', '.join(options)})" if options else ""
    return f"COPY {generator.sql(node, 'this')}{listed} FROM {source}{with_options}"


_TRANSFORMS = {
    DeclareCursor: _declare_sql,
    CopyFrom: _copy_from_sql,
    FetchCursor: _fetch_sql,
    CloseCursor: lambda self, e: f"CLOSE {self.sql(e, 'this') or 'ALL'}",
    CopyToStdout: _copy_sql,
}
CURSOR_STATEMENTS = DialectTables(_KEYWORDS, _STATEMENT_PARSERS, _WORD_STATEMENTS, _TRANSFORMS)
