"""Errors the compiler raises: each says what is wrong and what to do about it."""

from __future__ import annotations

from tidal.catalog.sqlstate import (
    FEATURE_NOT_SUPPORTED,
    GROUPING_ERROR,
    OUT_OF_MEMORY,
    STATEMENT_TOO_COMPLEX,
    SYNTAX_ERROR,
    UNDEFINED_COLUMN,
    UNDEFINED_TABLE,
    TidalError,
)


class SqlError(TidalError):
    """A statement tidal cannot run. ``sqlstate`` is the PostgreSQL error code a client sees.

    ``line`` and ``column`` (1-based) locate a parse error in the text that was given.
    """

    sqlstate = SYNTAX_ERROR

    def __init__(
        self,
        message: str,
        *,
        sqlstate: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message, sqlstate)
        self.line = line
        self.column = column

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.message} (line {self.line}, column {self.column})"
        return self.message


def unsupported(what: str) -> SqlError:
    """An error for SQL that tidal understands but does not (yet) maintain incrementally."""
    return SqlError(f"not supported: {what}", sqlstate=FEATURE_NOT_SUPPORTED)


def undefined_column(message: str) -> SqlError:
    return SqlError(message, sqlstate=UNDEFINED_COLUMN)


def undefined_table(message: str) -> SqlError:
    return SqlError(message, sqlstate=UNDEFINED_TABLE)


def grouping_error(message: str) -> SqlError:
    return SqlError(message, sqlstate=GROUPING_ERROR)


def resource_error(error: MemoryError | RecursionError) -> SqlError:
    """The error a client sees when a statement ran out of memory (``MemoryError``, pyarrow's
    ``ArrowMemoryError`` and numpy's array allocation errors derive from it) or of stack.

    >>> resource_error(MemoryError()).sqlstate, resource_error(RecursionError()).sqlstate
    ('53200', '54001')
    """
    if isinstance(error, RecursionError):
        return SqlError(
            "statement too complex: nested too deeply to run; split it into views or simpler "
            "expressions",
            sqlstate=STATEMENT_TOO_COMPLEX,
        )
    detail = f" ({error})" if str(error) else ""
    return SqlError(
        f"out of memory{detail}: the statement needed more memory than is free; make it read "
        "less (a narrower filter, fewer joined rows) or give the server more memory",
        sqlstate=OUT_OF_MEMORY,
    )
