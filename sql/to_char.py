"""PostgreSQL's ``to_char(timestamp, format)``: its template patterns, translated to DuckDB.

A pattern DuckDB's ``strftime`` prints the same way becomes that specifier (``HH24`` is
``%H``, ``FMDD`` is ``%-d``); a pattern it does not print becomes a small expression (``D``,
PostgreSQL's day of the week from Sunday = 1, is ``dayofweek(x) + 1``; ``Month`` is the name
blank-padded to 9 characters); the pieces are joined with ``||``, so a NULL value gives NULL.
Text that is no pattern is copied, ``"quoted text"`` as written. A pattern with no translation
(``TZ``, ``TH``, ``FMMS``, ...) is refused by name, never printed as text: sqlglot's own mapping
lacks ``HH`` and printed ``to_char(ts, 'HH:MI')`` as ``'HH:45'``.

    >>> from sqlglot import exp
    >>> to_char([exp.column("ts"), exp.Literal.string("HH:MI FMDD")]).sql("duckdb")
    "STRFTIME(ts, '%I:%M %-d')"
    >>> to_char([exp.column("ts"), exp.Literal.string('Dy "at" D')]).sql("duckdb")
    "STRFTIME(ts, '%a at ') || CAST(DAYOFWEEK(ts) + 1 AS TEXT)"
    >>> to_char([exp.column("ts"), exp.Literal.string("DDTH")])
    Traceback (most recent call last):
    ...
    tidal.sql.errors.SqlError: not supported: the to_char pattern 'TH' (an ordinal suffix): DuckDB has no translation of it
"""

from __future__ import annotations

import functools

import sqlglot
from sqlglot import exp

from tidal.sql.errors import unsupported

# pattern -> (as written, with FM); a '%' text is a strftime specifier, other text an expression
# over x (DuckDB SQL), None: no translation. Case matters, as in PostgreSQL.
_PADDED_NAME = "rpad(strftime(x, '{spec}'), 9, ' ')"
_NUMBERS: dict[str, tuple[str | None, str | None]] = {
    "HH": ("%I", "%-I"),
    "HH12": ("%I", "%-I"),
    "HH24": ("%H", "%-H"),
    "MI": ("%M", "%-M"),
    "SS": ("%S", "%-S"),
    "MS": ("%g", None),
    "US": ("%f", None),
    "FF1": ("substr(strftime(x, '%f'), 1, 1)", None),
    "FF2": ("substr(strftime(x, '%f'), 1, 2)", None),
    "FF3": ("%g", None),
    "FF4": ("substr(strftime(x, '%f'), 1, 4)", None),
    "FF5": ("substr(strftime(x, '%f'), 1, 5)", None),
    "FF6": ("%f", None),
    "SSSS": ("CAST(hour(x) * 3600 + minute(x) * 60 + second(x) AS VARCHAR)",) * 2,
    "SSSSS": ("CAST(hour(x) * 3600 + minute(x) * 60 + second(x) AS VARCHAR)",) * 2,
    "YYYY": ("%Y", "CAST(year(x) AS VARCHAR)"),
    "YYY": ("right(strftime(x, '%Y'), 3)", None),
    "YY": ("%y", "%-y"),
    "Y": ("right(strftime(x, '%Y'), 1)",) * 2,
    "IYYY": ("%G", "CAST(isoyear(x) AS VARCHAR)"),
    "IYY": ("right(strftime(x, '%G'), 3)", None),
    "IY": ("right(strftime(x, '%G'), 2)", None),
    "I": ("right(strftime(x, '%G'), 1)",) * 2,
    "IW": ("%V", "CAST(week(x) AS VARCHAR)"),
    "ID": ("%u", "%u"),
    "MM": ("%m", "%-m"),
    "DD": ("%d", "%-d"),
    "DDD": ("%j", "%-j"),
    "D": ("CAST(dayofweek(x) + 1 AS VARCHAR)",) * 2,
    "W": ("CAST((day(x) - 1) // 7 + 1 AS VARCHAR)",) * 2,
    "WW": (
        "lpad(CAST((dayofyear(x) - 1) // 7 + 1 AS VARCHAR), 2, '0')",
        "CAST((dayofyear(x) - 1) // 7 + 1 AS VARCHAR)",
    ),
    "CC": ("lpad(CAST(century(x) AS VARCHAR), 2, '0')", "CAST(century(x) AS VARCHAR)"),
    "Q": ("CAST(quarter(x) AS VARCHAR)",) * 2,
    "J": ("CAST(CAST(julian(CAST(x AS DATE)) AS BIGINT) AS VARCHAR)",) * 2,
}
# Each is also spelled in lower case, with the same meaning.
_NUMBERS.update({name.lower(): value for name, value in list(_NUMBERS.items())})

_ROMAN = "['I', 'II', 'III', 'IV', 'V', 'VI', 'VII', 'VIII', 'IX', 'X', 'XI', 'XII']"
# Words: (as written, with FM or TM); their case is the pattern's case.
_WORDS: dict[str, tuple[str, str]] = {
    "AM": ("%p", "%p"),
    "PM": ("%p", "%p"),
    "A.M.": ("replace(replace(strftime(x, '%p'), 'AM', 'A.M.'), 'PM', 'P.M.')",) * 2,
    "P.M.": ("replace(replace(strftime(x, '%p'), 'AM', 'A.M.'), 'PM', 'P.M.')",) * 2,
    "AD": ("CASE WHEN year(x) > 0 THEN 'AD' WHEN year(x) <= 0 THEN 'BC' END",) * 2,
    "BC": ("CASE WHEN year(x) > 0 THEN 'AD' WHEN year(x) <= 0 THEN 'BC' END",) * 2,
    "A.D.": ("CASE WHEN year(x) > 0 THEN 'A.D.' WHEN year(x) <= 0 THEN 'B.C.' END",) * 2,
    "B.C.": ("CASE WHEN year(x) > 0 THEN 'A.D.' WHEN year(x) <= 0 THEN 'B.C.' END",) * 2,
    "MONTH": (f"upper({_PADDED_NAME.format(spec='%B')})", "upper(strftime(x, '%B'))"),
    "Month": (_PADDED_NAME.format(spec="%B"), "%B"),
    "month": (f"lower({_PADDED_NAME.format(spec='%B')})", "lower(strftime(x, '%B'))"),
    "MON": ("upper(strftime(x, '%b'))",) * 2,
    "Mon": ("%b", "%b"),
    "mon": ("lower(strftime(x, '%b'))",) * 2,
    "DAY": (f"upper({_PADDED_NAME.format(spec='%A')})", "upper(strftime(x, '%A'))"),
    "Day": (_PADDED_NAME.format(spec="%A"), "%A"),
    "day": (f"lower({_PADDED_NAME.format(spec='%A')})", "lower(strftime(x, '%A'))"),
    "DY": ("upper(strftime(x, '%a'))",) * 2,
    "Dy": ("%a", "%a"),
    "dy": ("lower(strftime(x, '%a'))",) * 2,
    "RM": (f"rpad({_ROMAN}[month(x)], 4, ' ')", f"{_ROMAN}[month(x)]"),
    "rm": (f"lower(rpad({_ROMAN}[month(x)], 4, ' '))", f"lower({_ROMAN}[month(x)])"),
}


def _lower(sql: str) -> str:
    return f"lower(strftime(x, '{sql}'))" if sql.startswith("%") else f"lower({sql})"


for _word in ("AM", "PM", "A.M.", "P.M.", "AD", "BC", "A.D.", "B.C."):
    _WORDS[_word.lower()] = (_lower(_WORDS[_word][0]), _lower(_WORDS[_word][1]))

# Patterns PostgreSQL knows that have no translation here, with what they are.
_REFUSED = {
    "TZ": "a time zone's abbreviation",
    "tz": "a time zone's abbreviation",
    "TZH": "a time zone's hours",
    "tzh": "a time zone's hours",
    "TZM": "a time zone's minutes",
    "tzm": "a time zone's minutes",
    "OF": "a time zone's offset",
    "of": "a time zone's offset",
    "IDDD": "the day of the ISO year",
    "iddd": "the day of the ISO year",
    "Y,YYY": "the year with a comma",
    "y,yyy": "the year with a comma",
}
_PATTERNS = sorted({*_NUMBERS, *_WORDS, *_REFUSED, "FX", "fx"}, key=len, reverse=True)
_PREFIXES = ("FM", "fm", "TM", "tm")
_SUFFIXES = {"TH": "an ordinal suffix", "th": "an ordinal suffix", "SP": "spell mode"}


def to_char(args: list[exp.Expression]) -> exp.Expression:
    """``to_char(value, format)`` with a constant PostgreSQL format, as DuckDB expressions."""
    if len(args) != 2:
        raise unsupported("to_char with other than a value and a format")
    value, form = args
    if not (isinstance(form, exp.Literal) and form.is_string):
        raise unsupported("to_char with a format that is not a constant string")
    pieces: list[exp.Expression] = []
    spec = ""
    for part in _parts(form.this):
        if isinstance(part, str):
            spec += part
            continue
        if spec:
            pieces.append(_strftime(value, spec))
            spec = ""
        pieces.append(_bound(part, value))
    if spec or not pieces:
        pieces.append(_strftime(value, spec))
    return functools.reduce(lambda a, b: exp.DPipe(this=a, expression=b, safe=True), pieces)


def _parts(form: str) -> list[str | exp.Expression]:
    """The format as strftime text (literal text escaped) and expressions over ``x``."""
    parts: list[str | exp.Expression] = []
    at = 0
    while at < len(form):
        if form[at] == '"':
            text, at = _quoted(form, at + 1)
            parts.append(text.replace("%", "%%"))
            continue
        if form.startswith('\\"', at):
            parts.append('"')
            at += 2
            continue
        prefix = next((p for p in _PREFIXES if form.startswith(p, at)), "")
        pattern = next((p for p in _PATTERNS if form.startswith(p, at + len(prefix))), None)
        if pattern is None:  # FM alone, or text: copied
            parts.append(form[at].replace("%", "%%"))
            at += 1
            continue
        at += len(prefix) + len(pattern)
        suffix = next((s for s in _SUFFIXES if form.startswith(s, at)), None)
        if suffix:
            raise _refused(suffix, _SUFFIXES[suffix])
        parts.append(_translated(pattern, prefix.upper()))
    return parts


def _quoted(form: str, at: int) -> tuple[str, int]:
    """The text of a double-quoted part starting at ``at`` (a backslash escapes the next
    character) and where the part ends."""
    text = []
    while at < len(form) and form[at] != '"':
        if form[at] == "\\" and at + 1 < len(form):
            at += 1
        text.append(form[at])
        at += 1
    return "".join(text), at + 1


def _translated(pattern: str, prefix: str) -> str | exp.Expression:
    if pattern in ("FX", "fx"):  # exact matching when parsing; nothing when printing
        return ""
    if pattern in _REFUSED:
        raise _refused(pattern, _REFUSED[pattern])
    if pattern in _WORDS:
        plain, short = _WORDS[pattern]
        chosen = short if prefix else plain
    else:
        if prefix == "TM":  # translation: names only, and tidal's names are English anyway
            prefix = ""
        plain, filled = _NUMBERS[pattern]
        chosen = filled if prefix == "FM" else plain
        if chosen is None:
            raise _refused(f"FM{pattern}", "fill mode of a fraction of a second")
    return chosen if chosen.startswith("%") else _expression(chosen)


@functools.cache
def _expression(sql: str) -> exp.Expression:
    """A template as a tree that tidal's dialect prints back as it is (a view keeps its
    definition as text): strftime stays strftime, not sqlglot's TO_CHAR of its format."""
    return sqlglot.parse_one(sql, read="duckdb").transform(
        lambda node: (
            _strftime(node.this, node.text("format")) if isinstance(node, exp.TimeToStr) else node
        )
    )


def _bound(template: exp.Expression, value: exp.Expression) -> exp.Expression:
    """The template with ``x`` replaced by the value."""
    return template.transform(
        lambda node: value.copy() if isinstance(node, exp.Column) and node.name == "x" else node
    )


def _strftime(value: exp.Expression, spec: str) -> exp.Expression:
    return exp.Anonymous(this="strftime", expressions=[value.copy(), exp.Literal.string(spec)])


def _refused(pattern: str, what: str):
    return unsupported(f"the to_char pattern {pattern!r} ({what}): DuckDB has no translation of it")
