"""SQL as the shell sees it while you type: tokens (sqlglot's, as tidal's parser reads them),
their colours, and whether the text typed so far is a complete statement.

The tokenizer is tidal's own (``tidal.sql.dialect.Tidal``), so a string or comment is
highlighted exactly where the parser will see one, and ``;`` inside a string does not end the
statement. sqlglot takes a moment to import; until it has, text shows uncoloured
(``load()`` runs in the background at startup).

>>> load()
>>> [style for style, _ in highlight("SELECT 'a;' AS x, 42;") if style]
['class:sql.keyword', 'class:sql.string', 'class:sql.keyword', 'class:sql.name', 'class:sql.operator', 'class:sql.number', 'class:sql.operator']
>>> statement_complete("SELECT ';'"), statement_complete("SELECT 1; -- done")
(False, True)
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, NamedTuple

from prompt_toolkit.lexers import Lexer

if TYPE_CHECKING:
    from collections.abc import Callable

    from prompt_toolkit.document import Document
    from prompt_toolkit.formatted_text import StyleAndTextTuples

_loaded = threading.Event()
_classes: dict[str, frozenset] = {}


def load() -> None:
    """Import the tokenizer (sqlglot); idempotent, safe from any thread."""
    if _loaded.is_set():
        return
    from sqlglot.tokens import TokenType

    from tidal.sql.dialect import Tidal

    strings = {getattr(TokenType, n) for n in dir(TokenType) if n.endswith("_STRING")}
    _classes["string"] = frozenset(strings | {TokenType.STRING})
    _classes["type"] = frozenset(Tidal.Parser.TYPE_TOKENS)
    _classes["dialect"] = Tidal  # type: ignore[assignment]
    _loaded.set()


def loaded() -> bool:
    return _loaded.is_set()


class Token(NamedTuple):
    """A token: its sqlglot type name (``SELECT``, ``VAR``, ``SEMICOLON``...), text as
    written, and its span ``[start, end)`` in the text."""

    kind: str
    text: str
    start: int
    end: int
    style: str


class Tokens(NamedTuple):
    tokens: list[Token]
    unterminated: int | None  # where a string, quoted name or comment that never ends starts


def tokenize(text: str) -> Tokens:
    """Tokens of ``text`` as far as it can be read. Loads the tokenizer if need be."""
    load()
    tokenizer = _classes["dialect"]().tokenizer()  # type: ignore[operator]
    try:
        raw = tokenizer.tokenize(text)
        rest = None
    except Exception:  # noqa: BLE001 - sqlglot's TokenError: keep what was read
        raw = tokenizer.tokens
        rest = raw[-1].end + 1 if raw else 0
        while rest < len(text) and text[rest].isspace():
            rest += 1
        rest = rest if rest < len(text) else None
    tokens = []
    previous = None
    for i, token in enumerate(raw):
        following = raw[i + 1] if i + 1 < len(raw) else None
        style = _style(token, previous, following)
        span = text[token.start : token.end + 1]
        tokens.append(Token(token.token_type.name, span, token.start, token.end + 1, style))
        previous = tokens[-1]
    return Tokens(tokens, rest)


# Words tidal's statements use that sqlglot's tokenizer reads as plain names, and the name of
# the token that must come before each for it to be a keyword there ("" for anywhere).
_SOFT_KEYWORDS = {
    "SUBSCRIBE": "", "EMIT": "", "WATERMARK": "", "WATERMARKS": "", "TABLES": "SHOW",
    "SOURCES": "SHOW", "VIEWS": "", "SINKS": "SHOW", "CLOSE": "WINDOW", "TO": "SUBSCRIBE",
    "OF": "AS", "SNAPSHOT": "", "PROGRESS": "",
}  # fmt: skip
_UNITS = {"YEAR", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND", "MILLISECOND", "MICROSECOND"}
# After these, a name followed by "(" is a relation with its columns, not a function call.
_RELATION_KEYWORDS = {"TABLE", "SOURCE", "VIEW", "INTO", "SINK", "EXISTS"}


def _style(token, previous: Token | None, following) -> str:
    """The style of ``token`` (sqlglot's), given the token before (ours) and after (sqlglot's)."""
    kind, word = token.token_type.name, token.text.upper()
    before = previous.text.upper() if previous is not None else ""
    if token.token_type in _classes["string"]:
        return "class:sql.string"
    if kind == "NUMBER":
        return "class:sql.number"
    if kind == "VAR":
        if word in _SOFT_KEYWORDS and _SOFT_KEYWORDS[word] in ("", before):
            return "class:sql.keyword"
        if (
            word.rstrip("S") in _UNITS
            and previous is not None
            and previous.kind in ("STRING", "NUMBER")
        ):
            return "class:sql.keyword"
        calls = following is not None and following.token_type.name == "L_PAREN"
        return (
            "class:sql.function" if calls and before not in _RELATION_KEYWORDS else "class:sql.name"
        )
    if kind == "IDENTIFIER":
        return "class:sql.name"
    if kind in ("NULL", "TRUE", "FALSE", "INTERVAL"):
        return "class:sql.keyword"
    if token.token_type in _classes["type"] and word[:1].isalpha():
        return "class:sql.type" if _type_position(previous, following) else "class:sql.name"
    if word[:1].isalpha() or word[:1] == "_":
        return "class:sql.keyword"
    return "class:sql.operator"


def _type_position(previous: Token | None, following) -> bool:
    """Whether a type's name (``date``, ``text``) is used as a type here, not as a name:
    after ``::``, ``AS`` (in CAST), ``RETURNS`` or a column's name, or before a literal."""
    if following is not None and following.token_type in _classes["string"]:
        return True
    if previous is None:
        return False
    return (
        previous.kind in ("DCOLON", "ALIAS")
        or previous.text.upper() == "RETURNS"
        or previous.style == "class:sql.name"
    )


def highlight(text: str) -> StyleAndTextTuples:
    """``text`` as styled fragments: tokens, comments between them, an unterminated tail."""
    if not loaded():
        return [("", text)]
    tokens, rest = tokenize(text)
    fragments: StyleAndTextTuples = []
    position = 0
    for token in tokens:
        fragments += _gap(text[position : token.start])
        fragments.append((token.style, token.text))
        position = token.end
    end = len(text) if rest is None else rest
    fragments += _gap(text[position:end])
    if rest is not None:
        tail = text[rest:]
        fragments.append(("class:sql.comment" if tail[:2] == "/*" else "class:sql.string", tail))
    return fragments


def _gap(text: str) -> StyleAndTextTuples:
    """What lies between tokens: whitespace, and comments."""
    if not text:
        return []
    return [("class:sql.comment" if text.strip() else "", text)]


def statement_complete(text: str) -> bool:
    """Whether Enter should run ``text``: it ends with ``;`` outside strings and comments, is a
    backslash command, or holds nothing to run."""
    stripped = text.strip()
    if not stripped or stripped.startswith("\\"):
        return True
    tokens, rest = tokenize(text)
    if rest is not None:
        return False
    return not tokens or tokens[-1].kind == "SEMICOLON"


class SqlLexer(Lexer):
    """prompt-toolkit's view of ``highlight``: the fragments of one line at a time."""

    def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
        lines = _split_lines(highlight(document.text))
        return lambda number: lines[number] if number < len(lines) else []


def _split_lines(fragments: StyleAndTextTuples) -> list[StyleAndTextTuples]:
    lines: list[StyleAndTextTuples] = [[]]
    for style, text in fragments:
        parts = text.split("\n")
        for k, part in enumerate(parts):
            if k:
                lines.append([])
            if part:
                lines[-1].append((style, part))
    return lines
