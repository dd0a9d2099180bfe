"""DuckDB's error messages in tidal's words, with the SQLSTATE PostgreSQL gives the error.

DuckDB types tidal's expressions and computes over the data, so its errors are the ones a user
meets: an unknown function, arguments of the wrong types, a division by zero, a value that does
not convert. Its messages name its internals (``STRING_LITERAL``, ``INT32``, the positional
columns ``c0``) and advise settings tidal refuses (``SET error_on_division_by_zero``); this
module is the one place that rewrites them.

>>> binding_message('Catalog Error: Scalar Function with name lowr does not exist!\\n'
...                 'Did you mean "lower"?')
("function lowr(...) does not exist; did you mean 'lower'?", '42883')
>>> data_message("Invalid Input Error: Division by zero in expression (1 // c0). Use TRY(...)")
('division by zero', '22012')
>>> data_message("Conversion Error: Could not convert string 'x' to INT32 when casting from "
...              "source column c1")
('invalid input syntax for type INTEGER: "x"', '22P02')
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable

from tidal.catalog.sqlstate import (
    DATA_EXCEPTION,
    DATATYPE_MISMATCH,
    DIVISION_BY_ZERO,
    INVALID_DATETIME_FORMAT,
    INVALID_TEXT_REPRESENTATION,
    NUMERIC_VALUE_OUT_OF_RANGE,
    OUT_OF_MEMORY,
    PROGRAM_LIMIT_EXCEEDED,
    STATEMENT_TOO_COMPLEX,
    SYNTAX_ERROR,
    UNDEFINED_FUNCTION,
)

# DuckDB's physical type names, as SQL names.
_PHYSICAL = {
    "INT8": "TINYINT",
    "INT16": "SMALLINT",
    "INT32": "INTEGER",
    "INT64": "BIGINT",
    "INT128": "HUGEINT",
    "UINT8": "UTINYINT",
    "UINT16": "USMALLINT",
    "UINT32": "UINTEGER",
    "UINT64": "UBIGINT",
    "UINT128": "UHUGEINT",
}
_PREFIX = re.compile(r"\b[A-Z][A-Za-z ]{0,60}? Error: ")


def sql_types(text: str) -> str:
    """``text`` with DuckDB's internal type names as SQL type names, and its positional
    columns (``c0``, the plan's) as ``column #0``."""
    text = re.sub(r"\bSTRING_LITERAL\b", "VARCHAR", text)
    text = re.sub(r"\b([A-Z]+)_LITERAL\b", r"\1", text)
    text = re.sub(r"\b(U?INT(?:8|16|32|64|128))\b", lambda m: _PHYSICAL[m.group(1)], text)
    return re.sub(r'"?\bc(\d+)\b"?', r"column #\1", text)


# --- errors of binding: unknown functions, argument types -------------------------------------


def binding_message(text: str) -> tuple[str, str]:
    """A DuckDB binder or catalog error (its whole text) as tidal's message and SQLSTATE."""
    first, *rest = text.split("\n")
    first = _PREFIX.sub("", first, count=1)
    for pattern, rewrite in _BINDING:
        found = re.search(pattern, first)
        if found:
            return rewrite(found, rest)
    message = sql_types(first.rstrip("!"))
    if "does not exist" in message or "not found" in message.lower():
        return message, UNDEFINED_FUNCTION
    if "cast" in message.lower() or message.startswith("Cannot"):
        return f"type mismatch: {_lowered(message)}", DATATYPE_MISMATCH
    return message, SYNTAX_ERROR


def _unknown_function(found: re.Match, rest: list[str]) -> tuple[str, str]:
    """DuckDB suggests its nearest function whatever the distance: tidal only a close one."""
    name = found.group(1)
    suggested = re.findall(r'Did you mean "([^"]+)"', "\n".join(rest))
    close = difflib.get_close_matches(name.lower(), suggested, n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"function {name}(...) does not exist{hint}", UNDEFINED_FUNCTION


def _no_match(found: re.Match, rest: list[str]) -> tuple[str, str]:
    """No version of the function takes these argument types (DuckDB lists the versions)."""
    name, arguments = found.group(1), sql_types(found.group(2))
    if not name.replace("_", "").isalnum():  # an operator: the operands' types mismatch
        message = f"type mismatch: operator {name} does not take ({arguments})"
        return f"{message}: add explicit type casts", DATATYPE_MISMATCH
    versions = [_signature(line) for line in rest if line.startswith("\t") and "(" in line]
    takes = f"; {name} takes {' or '.join(versions)}" if 0 < len(versions) <= 3 else ""
    return (
        f"function {name}({arguments}) does not exist{takes}: add explicit type casts",
        UNDEFINED_FUNCTION,
    )


def _ambiguous(found: re.Match, rest: list[str]) -> tuple[str, str]:
    name, arguments = found.group(1), sql_types(found.group(2))
    what = f"operator {name}" if not name.replace("_", "").isalnum() else f"function {name}"
    message = f"type mismatch: {what} has several versions that could take ({arguments})"
    return f"{message}: add explicit type casts", DATATYPE_MISMATCH


def _compare(found: re.Match, rest: list[str]) -> tuple[str, str]:
    left, right = sql_types(found.group(1)), sql_types(found.group(2))
    return (
        f"type mismatch: cannot compare {left} with {right}: add an explicit CAST",
        DATATYPE_MISMATCH,
    )


def _signature(line: str) -> str:
    """``upper(string VARCHAR) -> VARCHAR`` as ``(VARCHAR)``: the argument types."""
    inside = line.strip().split("(", 1)[1].rsplit(")", 1)[0].split(")")[0]
    types = [
        re.sub(r'^(?:"[^"]*"|\w+) ', "", argument.strip())
        for argument in inside.split(",")
        if argument.strip() not in ("", "/")
    ]
    return f"({', '.join(types)})"


_BINDING: tuple[tuple[str, Callable[[re.Match, list[str]], tuple[str, str]]], ...] = (
    (r"(?:Scalar|Aggregate|Table) Function with name (\S+) does not exist", _unknown_function),
    (r"No function matches the given name and argument types '([^(']+)\((.*)\)'", _no_match),
    (
        r'Could not choose a best candidate function for the function call "([^(]+)\((.*)\)"',
        _ambiguous,
    ),
    (r"Cannot compare values of type (\S+) and type (\S+)", _compare),
)


def _lowered(message: str) -> str:
    return message[:1].lower() + message[1:] if message[1:2].islower() else message


# --- errors on the data: division by zero, overflow, conversions -------------------------------


def _division(found: re.Match) -> tuple[str, str]:
    return "division by zero", DIVISION_BY_ZERO


def _overflow(found: re.Match) -> tuple[str, str]:
    operation, type_name, operands = found.group(1, 2, 3)
    return (
        f"{sql_types(type_name)} out of range in {operation} ({sql_types(operands)})",
        NUMERIC_VALUE_OUT_OF_RANGE,
    )


def _range(found: re.Match) -> tuple[str, str]:
    value, type_name = found.group(2), sql_types(found.group(3) or "its type")
    return f"value {value} is out of range for type {type_name}", NUMERIC_VALUE_OUT_OF_RANGE


def _bad_time(found: re.Match) -> tuple[str, str]:
    type_name, text, expected = found.group(1, 2, 3)
    return (
        f'invalid input syntax for type {type_name.upper()}: "{text}" (expected {expected})',
        INVALID_DATETIME_FORMAT,
    )


def _not_convertible(found: re.Match) -> tuple[str, str]:
    text, type_name = found.group(1), sql_types(found.group(2))
    return f'invalid input syntax for type {type_name}: "{text}"', INVALID_TEXT_REPRESENTATION


_OUT_OF_MEMORY = (
    "out of memory: the query needs more than its share of the memory budget; make it smaller "
    "or raise --memory-limit"
)


def _out_of_memory(found: re.Match) -> tuple[str, str]:
    return _OUT_OF_MEMORY, OUT_OF_MEMORY


def _python(found: re.Match) -> tuple[str, str]:
    """A Python function failed inside DuckDB (tidal.engine.udf.registry says which, on what)."""
    text = found.group(1)
    return (text if text.startswith("function ") else f"a Python function failed: {text}"), (
        DATA_EXCEPTION
    )


# A pattern each, matched anywhere in a message (a message may quote DuckDB's after its own
# words, after DuckDB's "... Error: " and up to its "when casting from source column c1"), and
# what replaces the text it matched.
_DATA: tuple[tuple[str, Callable[[re.Match], tuple[str, str]]], ...] = (
    # first: the error text of a Python function is the user's, never rewritten
    (r"Python exception occurred while executing the UDF: (?:FunctionFailed: )?((?s:.*))", _python),
    (r"(?i:division|divide) by zero.*", _division),
    (r"Overflow in (\w+) of (\w+) \((.*?)\)!?", _overflow),
    (r"Type (\w+) with value (\S+) can't be cast because the value is out of range", _range),
    (r"Could not convert string '(.*)' to (\w+)", _not_convertible),
    (r"invalid (\w+) field format: \"(.*?)\", expected format is \((.*)\)", _bad_time),
    (r"(?:could not allocate|failed to \w+ data) block of size .*", _out_of_memory),
)
# Bounded repetitions: an unbounded ``\w[\w ]*`` tried at every position of a message holding
# a 300,000-character value took minutes (quadratic).
_DUCKDB_ERROR = r"(?:\b\w[\w ]{0,60} Error: )?"
_CASTING = r"(?: for the destination type (\w+))?(?: when casting from source column \S+)?"
# The codes of messages no pattern rewrote (tidal's own words included: a rewritten message
# wrapped in another keeps its code).
_DATA_SQLSTATES = (
    (r"past the limit of", PROGRAM_LIMIT_EXCEEDED),  # tidal.sql.typeinfer's bounded functions
    (
        r"with recursive \S+: more than \d+ (?:iterations|rows)",
        STATEMENT_TOO_COMPLEX,
    ),  # sql.recursive
    (r"overflow|out of range", NUMERIC_VALUE_OUT_OF_RANGE),
    (r"out of memory", OUT_OF_MEMORY),
    (r"invalid input syntax for type (?:date|time|timestamp)", INVALID_DATETIME_FORMAT),
    (r"conversion error|invalid input", INVALID_TEXT_REPRESENTATION),
)


def data_message(message: str) -> tuple[str, str]:
    """A failure on the data, in tidal's words (DuckDB's or Arrow's text rewritten wherever it
    appears in ``message``), and its SQLSTATE."""
    for pattern, rewrite in _DATA:
        found = re.search(_DUCKDB_ERROR + pattern + _CASTING, message)
        if found:
            text, sqlstate = rewrite(found)
            return message[: found.start()] + text + message[found.end() :], sqlstate
    lowered = message.lower()
    sqlstate = next(
        (code for pattern, code in _DATA_SQLSTATES if re.search(pattern, lowered)), DATA_EXCEPTION
    )
    text = _PREFIX.sub("", message).replace(" when casting from source column", " in")
    return sql_types(text), sqlstate
