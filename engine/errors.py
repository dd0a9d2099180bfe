"""Errors of running statements over data, and their SQLSTATE read from DuckDB's and Arrow's words.

A failure inside DuckDB or an Arrow kernel comes as a message only ("Division by zero", "Overflow
in multiplication", "Could not convert string 'x' to INT32"); ``data_sqlstate`` is the one place
that reads a code from such a message. Everything tidal raises itself names its code
(tidal.catalog.sqlstate).

    >>> DataError("Conversion Error: Could not convert string 'x' to INT32").sqlstate
    '22P02'
    >>> data_sqlstate("Out of Range Error: Overflow in multiplication of INT32")
    '22003'
"""

from __future__ import annotations

from tidal.catalog.sqlstate import (
    DATA_EXCEPTION,
    DIVISION_BY_ZERO,
    INVALID_TEXT_REPRESENTATION,
    NUMERIC_VALUE_OUT_OF_RANGE,
    TidalError,
)

_MESSAGE_SQLSTATES = (
    ("division by zero", DIVISION_BY_ZERO),
    ("divide by zero", DIVISION_BY_ZERO),
    ("overflow", NUMERIC_VALUE_OUT_OF_RANGE),
    ("out of range", NUMERIC_VALUE_OUT_OF_RANGE),
    ("could not convert", INVALID_TEXT_REPRESENTATION),
    ("conversion error", INVALID_TEXT_REPRESENTATION),
    ("invalid input", INVALID_TEXT_REPRESENTATION),
)


def data_sqlstate(message: str) -> str:
    """The SQLSTATE of a failure on the data, from the words DuckDB or Arrow reported it in."""
    lowered = message.lower()
    return next((code for text, code in _MESSAGE_SQLSTATES if text in lowered), DATA_EXCEPTION)


class DataError(TidalError):
    """A statement failed on the data (a bad value, division by zero); nothing was changed."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message, sqlstate or data_sqlstate(message))
