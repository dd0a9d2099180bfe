"""Errors of running statements over data, in tidal's words and with PostgreSQL's SQLSTATE.

A failure inside DuckDB or an Arrow kernel comes as a message only ("Division by zero in
expression ... SET error_on_division_by_zero=false", "Could not convert string 'x' to INT32");
a ``DataError`` rewrites it (tidal.sql.duckdb_messages, the one place that reads DuckDB's
words) and takes the code it implies. Everything tidal raises itself names its code
(tidal.catalog.sqlstate).

    >>> error = DataError("Conversion Error: Could not convert string 'x' to INT32")
    >>> error.sqlstate, error.message
    ('22P02', 'invalid input syntax for type INTEGER: "x"')
    >>> DataError("a view failed: Out of Range Error: Overflow in multiplication of INT32 (9 * 9)!").message
    'a view failed: INTEGER out of range in multiplication (9 * 9)'
"""

from __future__ import annotations

from tidal.catalog.sqlstate import TidalError
from tidal.sql.duckdb_messages import data_message


class DataError(TidalError):
    """A statement failed on the data (a bad value, division by zero); nothing was changed."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        text, implied = data_message(message)
        super().__init__(text, sqlstate or implied)
