"""Tab completion from the live catalog, aware of where the cursor is.

- after ``FROM``, ``JOIN``, ``INTO``, ``UPDATE``, ``TABLE``, ``DESCRIBE``, ``EXPLAIN``,
  ``SUBSCRIBE`` (and a comma in a FROM list, or a window function's first argument): relations;
- after ``name.`` where ``name`` is a relation or an alias the statement gives one: its columns;
- elsewhere: the columns of the relations the statement reads (of every relation, before it
  names any), functions, keywords, relations;
- after a backslash: the shell's commands, and for ``\\d name`` relations, ``\\i file`` paths.

Words are matched by prefix, case-insensitively; keywords come back in the case you type in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from tidal.shell.interactive.lexer import Token, tokenize

if TYPE_CHECKING:
    from tidal.shell.interactive.backend import RelationInfo

KEYWORDS = """
ALL AND AS ASC BETWEEN BY CASCADE CASE CAST CLOSE CREATE CROSS CURRENT DELETE DESC DESCRIBE
DESCRIPTOR DISTINCT DROP ELSE EMIT END EXCEPT EXISTS EXPLAIN FALSE FILTER FIRST FOLLOWING FOR
FROM FULL FUNCTION GROUP HAVING IF ILIKE IN INNER INSERT INTERSECT INTERVAL INTO IS JOIN LANGUAGE
LAST LEFT LIKE LIMIT MATERIALIZED NOT NULL NULLS OFFSET ON OR ORDER OUTER OVER PARTITION
PRECEDING RANGE RETURN RETURNS RIGHT ROW ROWS SELECT SET SHOW SINK SINKS SOURCE SOURCES SUBSCRIBE
TABLE TABLES THEN TRUE TRY_CAST UNBOUNDED UNION UPDATE USING VALUES VIEW VIEWS WATERMARK
WATERMARKS WHEN WHERE WINDOW WITH
BIGINT BOOLEAN DATE DECIMAL DOUBLE FLOAT INTEGER SMALLINT TEXT TIME TIMESTAMP TIMESTAMPTZ TINYINT
VARCHAR
""".split()  # noqa: SIM905 - a list of words reads best as text

# The functions docs/sql.md lists (DuckDB's others work too, but are not offered).
FUNCTIONS = """
abs age ascii avg bool_and bool_or ceil chr coalesce concat concat_ws count cume_dist
current_date current_timestamp date_diff date_part date_trunc dayofweek dense_rank epoch exp
extract first_value floor format greatest hash initcap lag last_day last_value lead least left
length ln log10 lower lpad ltrim make_date max md5 min mod now nth_value ntile nullif
percent_rank position power printf random rank regexp_extract regexp_matches regexp_replace
repeat replace reverse right round row_number rpad rtrim sign split_part sqrt starts_with
stddev stddev_pop stddev_samp strftime strpos strptime substring sum to_char to_timestamp trim
trunc upper uuid var_pop var_samp variance
tumble hop cumulate session
""".split()  # noqa: SIM905

# After these keywords the next word names a relation.
_RELATION_BEFORE = {
    "FROM", "JOIN", "INTO", "UPDATE", "TABLE", "DESCRIBE", "EXPLAIN", "SUBSCRIBE", "VIEW",
    "SOURCE", "SINK", "TO",
}  # fmt: skip
_WINDOW_FUNCTIONS = {"TUMBLE", "HOP", "CUMULATE", "SESSION"}
_READABLE = {"table", "source", "view", "materialized view"}  # what FROM can name
# Keywords that end a FROM list: a comma after them is not between relations.
_CLAUSES = {
    "SELECT", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "ON", "USING", "SET", "VALUES",
    "WINDOW", "UNION", "EXCEPT", "INTERSECT", "RETURNING", "WITH",
}  # fmt: skip
_WORD = re.compile(r"(?:([A-Za-z_][\w$]*|\"[^\"]+\")\.)?([A-Za-z_][\w$]*)?$")


class SqlCompleter(Completer):
    def __init__(
        self,
        relations: Callable[[], list[RelationInfo]],
        commands: Callable[[], dict[str, str]] = dict,
    ) -> None:
        """``relations``: the catalog now; ``commands``: backslash commands and their help."""
        self.relations = relations
        self.commands = commands
        self._paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, event: CompleteEvent) -> Iterable[Completion]:
        before = document.text_before_cursor
        if before.lstrip().startswith("\\"):
            yield from self._command(before.lstrip(), event)
            return
        match = _WORD.search(before)
        qualifier, word = match.group(1), match.group(2) or ""
        statement, offset = _current_statement(document.text, document.cursor_position)
        tokens = tokenize(statement).tokens
        cursor = document.cursor_position - offset - len(word)
        catalog = {r.name.lower(): r for r in self._catalog() if r.kind in _READABLE}
        if qualifier is not None:
            names = _aliases(tokens).get(qualifier.strip('"').lower(), qualifier.strip('"'))
            relation = catalog.get(names.lower())
            columns = relation.columns if relation else ()
            yield from _matching(word, [(c.name, f"{c.type.lower()}") for c in columns])
            return
        if _wants_relation([t for t in tokens if t.start < cursor]):
            yield from _matching(word, [(r.name, r.kind) for r in catalog.values()])
            return
        read = {n.lower() for n in _aliases(tokens).values()} or set(catalog)  # no FROM yet
        columns = [(c.name, f"{c.type.lower()}") for n in read if n in catalog
                   for c in catalog[n].columns]  # fmt: skip
        yield from _matching(word, _unique(columns))
        if word:
            yield from _matching(word, [(f, "function") for f in FUNCTIONS])
            upper = not word.islower()
            keywords = [(k if upper else k.lower(), "keyword") for k in KEYWORDS]
            yield from _matching(word, keywords)
            yield from _matching(word, [(r.name, r.kind) for r in catalog.values()])

    def _catalog(self) -> list[RelationInfo]:
        try:
            return self.relations()
        except Exception:  # noqa: BLE001 - completion must never break typing
            return []

    def _command(self, text: str, event: CompleteEvent) -> Iterable[Completion]:
        name, space, argument = text.partition(" ")
        if not space:
            commands = self.commands()
            yield from _matching(
                name, [(c, commands[c]) for c in commands], prefix_length=len(name)
            )
            return
        if name in ("\\i", "\\o", "\\e"):
            yield from self._paths.get_completions(Document(argument.lstrip()), event)
        elif name in ("\\d", "\\watch", "\\explain", "\\dt+", "\\dm+", "\\copy"):
            word = argument.strip()
            yield from _matching(word, [(r.name, r.kind) for r in self._catalog()])
        elif name in ("\\set", "\\unset"):
            from tidal.shell.interactive.variables import SETTINGS

            yield from _matching(argument.strip(), [(v, "setting") for v in SETTINGS])
        elif name == "\\mode":
            modes = ["table", "csv", "json", "line", "changelog"]
            yield from _matching(argument.strip(), [(m, "mode") for m in modes])


def _matching(
    word: str, candidates: Iterable[tuple[str, str]], prefix_length: int | None = None
) -> Iterable[Completion]:
    lowered = word.lower()
    for text, meta in candidates:
        if text.lower().startswith(lowered) and text != word:
            start = -(len(word) if prefix_length is None else prefix_length)
            yield Completion(_quoted(text), start_position=start, display_meta=meta)


def _quoted(name: str) -> str:
    """A name as it must be typed: quoted unless it is a plain word."""
    plain = name.startswith("\\") or re.fullmatch(r"[A-Za-z_][\w$]*", name)
    return name if plain else f'"{name}"'


def _unique(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: dict[str, tuple[str, str]] = {}
    for name, meta in items:
        seen.setdefault(name.lower(), (name, meta))
    return sorted(seen.values())


def _current_statement(text: str, cursor: int) -> tuple[str, int]:
    """The statement the cursor is in (between semicolons) and where it starts."""
    start = 0
    for token in tokenize(text).tokens:
        if token.kind != "SEMICOLON":
            continue
        if token.end <= cursor:
            start = token.end
        else:
            return text[start : token.start], start
    return text[start:], start


def _wants_relation(tokens: list[Token]) -> bool:
    """Whether the word after ``tokens`` names a relation."""
    if not tokens:
        return False
    last = tokens[-1]
    if last.text.upper() in _RELATION_BEFORE and last.style == "class:sql.keyword":
        return True
    if last.kind == "L_PAREN" and len(tokens) > 1 and tokens[-2].text.upper() in _WINDOW_FUNCTIONS:
        return True
    if last.kind == "COMMA":
        depth = 0
        for token in reversed(tokens[:-1]):
            depth += {"R_PAREN": 1, "L_PAREN": -1}.get(token.kind, 0)
            if depth < 0:
                return False
            if depth == 0 and token.text.upper() in _CLAUSES:
                return False
            if depth == 0 and token.text.upper() in ("FROM", "JOIN"):
                return True
    return False


def _aliases(tokens: list[Token]) -> dict[str, str]:
    """Names the statement reads relations by (alias or own name, lower-case) -> relation:
    ``FROM orders o JOIN customers AS c``, ``FROM a, b``, ``FROM TUMBLE(bids, ...) w``."""
    names: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        after_comma = token.kind == "COMMA" and _wants_relation(tokens[: i + 1])
        if token.text.upper() not in ("FROM", "JOIN") and not after_comma:
            i += 1
            continue
        i += 1
        relation, i = _relation_at(tokens, i)
        if relation is None:
            continue
        names[relation.lower()] = relation
        if i < len(tokens) and tokens[i].kind == "ALIAS":
            i += 1
        if i < len(tokens) and tokens[i].style == "class:sql.name":
            names[tokens[i].text.strip('"').lower()] = relation
            i += 1
    return names


def _relation_at(tokens: list[Token], i: int) -> tuple[str | None, int]:
    """The relation named at ``tokens[i]`` (looking into a window function) and what follows."""
    if i >= len(tokens):
        return None, i
    if tokens[i].text.upper() in _WINDOW_FUNCTIONS and i + 1 < len(tokens):
        inner = [t for t in tokens[i + 2 : i + 4] if t.style == "class:sql.name"]
        depth, j = 0, i + 1
        while j < len(tokens):
            depth += {"L_PAREN": 1, "R_PAREN": -1}.get(tokens[j].kind, 0)
            j += 1
            if depth == 0:
                break
        return (inner[0].text.strip('"') if inner else None), j
    if tokens[i].style != "class:sql.name":
        return None, i
    name, i = tokens[i].text.strip('"'), i + 1
    while i + 1 < len(tokens) and tokens[i].kind == "DOT":  # public.t: the last part
        name, i = tokens[i + 1].text.strip('"'), i + 2
    return name, i
