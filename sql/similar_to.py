"""``SIMILAR TO`` as PostgreSQL means it: its pattern translated to a regular expression.

DuckDB reads a SIMILAR TO pattern as a regular expression (``'abc' SIMILAR TO '(a|b)%'`` is
false there), PostgreSQL as SQL's pattern language, where ``%`` and ``_`` are LIKE's wildcards
and ``|``, ``*``, ``+``, ``?``, ``{m,n}``, ``()`` and ``[...]`` are a regular expression's.
The binder rewrites ``x SIMILAR TO p [ESCAPE e]`` into a regular expression match with the
pattern PostgreSQL's ``similar_to_escape`` makes of ``p``, anchored at both ends, so the
incremental engine and the DuckDB lowering both answer PostgreSQL's answer.

>>> similar_to_regex("(a|b)%")
'(?s)^(?:(?:a|b).*)$'
>>> similar_to_regex("a.b_c\\\\%", escape="\\\\")
'(?s)^(?:a\\\\.b.c\\\\%)$'
"""

from __future__ import annotations

from sqlglot import exp

from tidal.catalog.sqlstate import (
    FEATURE_NOT_SUPPORTED,
    INVALID_ESCAPE_SEQUENCE,
    INVALID_USE_OF_ESCAPE_CHARACTER,
)
from tidal.sql.errors import SqlError


def similar_to_regex(pattern: str, escape: str | None = "\\") -> str:
    """The regular expression (RE2, as DuckDB and Arrow read it) that matches what ``pattern``
    matches under SIMILAR TO with escape character ``escape`` (None or '' for none).

    ``(?s)`` lets ``.`` match a newline, as it does in PostgreSQL's regular expressions.
    """
    if escape is not None and len(escape) > 1:
        raise SqlError(
            f"invalid escape string {escape!r}: it must be empty or one character",
            sqlstate=INVALID_ESCAPE_SEQUENCE,
        )
    escape = escape or None
    out: list[str] = []
    after_escape = False
    in_class = False
    class_start = 0  # where the members of the open bracket expression start in ``out``
    quotes = 0
    for char in pattern:
        if after_escape:
            if char == '"' and not in_class:  # SUBSTRING's part separator; no effect on a match
                if quotes >= 2:
                    raise SqlError(
                        "SQL regular expression may not contain more than two "
                        "escape-double-quote separators",
                        sqlstate=INVALID_USE_OF_ESCAPE_CHARACTER,
                    )
                out.append("){1,1}?(" if quotes == 0 else "){1,1}(?:")
                quotes += 1
            else:
                out.append("\\" + char)
            after_escape = False
        elif char == escape:
            after_escape = True
        elif in_class:
            out.append("\\\\" if char == "\\" else char)
            # A ']' right after '[' or '[^' is a member, as in a regular expression.
            if char == "]" and out[class_start:] not in (["]"], ["^", "]"]):
                in_class = False
        elif char == "[":
            out.append(char)
            in_class, class_start = True, len(out)
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        elif char == "(":
            out.append("(?:")
        elif char in "\\.^$":
            out.append("\\" + char)
        else:
            out.append(char)
    return "(?s)^(?:" + "".join(out) + ")$"


def rewrite(node: exp.Expression) -> exp.Expression:
    """``node`` with every SIMILAR TO a match of the translated pattern (a NULL pattern or
    escape gives NULL, as in PostgreSQL). The pattern must be a constant."""
    if not node.find(exp.SimilarTo):
        return node

    def visit(n: exp.Expression) -> exp.Expression:
        if isinstance(n, exp.Escape) and isinstance(n.this, exp.SimilarTo):
            return _match(n.this, n.expression)
        if isinstance(n, exp.SimilarTo):
            return _match(n, None)
        return n

    return node.transform(visit)


def _match(node: exp.SimilarTo, escape: exp.Expression | None) -> exp.Expression:
    pattern = node.expression
    if isinstance(pattern, exp.Null) or isinstance(escape, exp.Null):
        return exp.cast(exp.null(), "BOOLEAN")
    constant = isinstance(pattern, exp.Literal) and pattern.is_string
    if not constant or (escape is not None and not _is_text(escape)):
        raise SqlError(
            "not supported: SIMILAR TO with a pattern or escape that is not a string "
            f"constant ({node.sql()[:60]})",
            sqlstate=FEATURE_NOT_SUPPORTED,
        )
    regex = similar_to_regex(pattern.this, escape.this if escape is not None else "\\")
    return exp.RegexpLike(this=node.this, expression=exp.Literal.string(regex))


def _is_text(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and node.is_string
